"""Profiles: the non-secret settings of an account, saved by ``silentauth login --profile``
in a TOML file in the user's config directory. Secrets never go into this file.

This module turns settings into a grant and ``SilentAuth`` keyword arguments; it never imports
``_auth`` (``SilentAuth.from_profile`` and the CLI build the auth), so there is no import cycle
and every return type is precise (issue 7)."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._grants import ClientCredentials, Grant, JsonLogin, PasswordGrant
from ._interactive import AuthorizationCode, DeviceCode
from ._placement import BasicToken, Bearer, Header, Placement, Query
from ._store import Account, FileStore, KeyringStore, MemoryStore, Store

FIELDS = (
    "grant",
    "url",
    "username",
    "client_id",
    "scope",
    "origins",
    "placement",
    "store",
    "issuer",
    # A confidential client's secret is never written here: "stored" says it is in the store.
    "client_secret",
    # --grant json: the body and field mapping (bodies as JSON text).
    "body",
    "token_field",
    "refresh_field",
    "expires_in_field",
    "refresh_url",
    "refresh_body",
)
GRANTS = ("password", "client_credentials", "json", "device", "browser")
#: The one value ``client_secret`` may have in a profile.
STORED = "stored"
#: The user name under which a password grant's confidential client secret is stored.
CLIENT_SECRET_USER = "client:{client_id}"
HEADER = "# requests-silentauth profiles: settings only, never secrets"


def config_path() -> Path:
    override = os.environ.get("SILENTAUTH_CONFIG")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("requests-silentauth")) / "profiles.toml"


def _special(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder: a FIFO (reading it
    hung), a socket, a device (``os.replace`` over /dev/null, run as root, replaced the device
    with a regular file) (review wt-attack9). Symlinks are followed."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # missing, or unreadable: the read or the write says why
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def load_all(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or config_path()
    if _special(path):
        if os.path.realpath(path) == os.devnull:
            return {}  # SILENTAUTH_CONFIG=/dev/null: no profiles
        raise ValueError(f"cannot read profiles from {path}: it is not a regular file")
    try:
        data = _parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"cannot read profiles from {path}: {exc}") from exc
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        # Refused rather than read as "no profiles": the next save would overwrite the file.
        raise ValueError(f"cannot read profiles from {path}: 'profiles' is not a table")
    return {k: dict(v) for k, v in profiles.items() if isinstance(v, dict)}


def load(name: str, path: Path | None = None) -> dict[str, Any]:
    profiles = load_all(path)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none yet"
        from ._hints import profile_login_command

        raise ValueError(
            f"no profile {name!r} in {path or config_path()} (known: {known}); create it with "
            f"`{profile_login_command(name)} --url ... --username ...`"
        )
    return profiles[name]


def save(name: str, settings: Mapping[str, Any], path: Path | None = None) -> Path:
    """Add or replace profile ``name``; the other profiles are kept. The new text is checked
    to read back as exactly these profiles, then replaces the file in one step (a temporary
    file in the same folder and ``os.replace``), so a failed or odd write leaves the old file
    whole (issue 7, behaviour 16)."""
    # A symlinked file (a dotfiles repository) is written where it points: os.replace on the
    # link itself would turn it into a regular file (review wt-attack9).
    path = Path(os.path.realpath(path or config_path()))
    check_savable(settings)
    if _special(path):
        raise ValueError(f"refusing to write profiles to {path}: it is not a regular file")
    profiles = load_all(path)
    profiles[name] = {k: v for k, v in settings.items() if k in FIELDS and v not in (None, [])}
    wanted = {
        pname: {key: _plain(profiles[pname][key]) for key in FIELDS if key in profiles[pname]}
        for pname in profiles
    }
    text = _render(profiles)
    # A guard against a writer bug, not against the user: nothing is written unless the text
    # reads back as the very profiles meant.
    if _parse(text).get("profiles", {}) != wanted:  # pragma: no cover
        raise ValueError(f"refusing to write profiles to {path}: the text would not read back")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".profiles-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def check_savable(settings: Mapping[str, Any]) -> None:
    """Refuse what a profile must never hold or could never use (issue 9)."""
    if settings.get("store") == "memory":
        raise ValueError(
            "--store memory keeps nothing after the command ends, so a profile using it would "
            "never work; use keyring (the default) or --store file:PATH"
        )
    if settings.get("client_secret") not in (None, STORED):
        # The one field that could carry a secret: only the marker is ever written.
        raise ValueError("a profile never holds a client secret; use --client-secret-stdin")


def check_writable(path: Path | None = None) -> None:
    """Fail before a login, not after it, when the profiles file cannot be written: its folder
    is made and a temporary file tried in it. Raises ``OSError`` naming the path."""
    path = Path(os.path.realpath(path or config_path()))
    if _special(path):
        raise OSError(f"cannot write profiles to {path}: it is not a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".profiles-", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OSError(f"cannot write profiles in {path.parent}: {exc.strerror}") from None


def absolute_store(text: str) -> str:
    """``file:PATH`` with PATH made absolute (issue 9: a relative path saved in a profile would
    point elsewhere from another folder); any other store unchanged."""
    kind, _, arg = text.partition(":")
    if kind == "file" and arg:
        return "file:" + os.path.abspath(os.path.expanduser(arg))
    return text


def _parse(text: str) -> dict[str, Any]:
    # Imported here: the TOML parser costs a few milliseconds that ``import
    # requests_silentauth`` need not pay (only profile users read TOML).
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    data: dict[str, Any] = tomllib.loads(text)
    return data


def _render(profiles: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [HEADER, ""]
    for pname in sorted(profiles):
        lines.append(f"[profiles.{_toml_string(pname, 'profile name')}]")
        for key in FIELDS:
            if key in profiles[pname]:
                value = profiles[pname][key]
                lines.append(f"{key} = {_toml(value, f'{key} of profile {pname!r}')}")
        lines.append("")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """What a written value reads back as: a tuple becomes a list."""
    return list(value) if isinstance(value, tuple) else value


def _toml(value: object, what: str) -> str:
    if isinstance(value, str):
        return _toml_string(value, what)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(_toml_string(v, what) for v in value) + "]"
    raise TypeError(f"{what} must be a string or a list of strings, not {type(value).__name__}")


def _toml_string(text: str, what: str) -> str:
    """A TOML basic string (TOML 1.0, "String"): quote, backslash and the control characters
    escaped, everything else (astral characters included) written as itself. ``json.dumps``
    is not TOML: it writes astral characters as surrogate pairs, which TOML forbids."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            # A lone surrogate cannot be encoded as UTF-8 nor escaped in TOML.
            raise ValueError(
                f"{what} holds a lone surrogate (U+{code:04X}), which no file can store"
            )
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# -- settings to SilentAuth arguments -------------------------------------------------------------


def parse_placement(text: str) -> Placement:
    kind, _, arg = text.partition(":")
    if kind == "bearer" and not arg:
        return Bearer()
    if kind == "basic" and not arg:
        return BasicToken()
    if kind == "header" and arg:
        return Header(arg)
    if kind == "query" and arg:
        return Query(arg)
    raise ValueError(f"placement {text!r} is not one of bearer, basic, header:NAME, query:NAME")


def parse_store(text: str) -> Store:
    kind, _, arg = text.partition(":")
    if kind == "keyring":
        return KeyringStore(service=arg or None)
    if kind == "file" and arg:
        return FileStore(arg)
    if kind == "memory" and not arg:
        return MemoryStore()
    raise ValueError(f"store {text!r} is not one of keyring, keyring:SERVICE, file:PATH, memory")


def arguments(settings: Mapping[str, Any], **overrides: Any) -> tuple[Grant, dict[str, Any]]:
    """The grant and the ``SilentAuth`` keyword arguments for profile ``settings``; keyword
    arguments here override or add ``SilentAuth`` options. Build the auth with
    ``SilentAuth(grant, **kwargs)``."""
    grant_name = _text(settings, "grant") or "password"
    url, issuer = _text(settings, "url"), _text(settings, "issuer")
    if not url and not issuer:
        raise ValueError("the profile has no url (the login or token endpoint) or issuer")
    client_id, scope = _text(settings, "client_id"), _text(settings, "scope")
    grant: Grant
    store = overrides.get("store") or parse_store(_text(settings, "store") or "keyring")
    if grant_name == "password":
        client_secret = None
        if client_id and _text(settings, "client_secret") == STORED:
            client_secret = stored_client_secret(store, url or issuer or "", client_id)
        grant = PasswordGrant(
            url, client_id=client_id, scope=scope, client_secret=client_secret, issuer=issuer
        )
    elif grant_name == "client_credentials":
        grant = ClientCredentials(url, client_id=client_id or "", scope=scope, issuer=issuer)
    elif grant_name == "device":
        grant = DeviceCode(client_id or "", issuer=issuer, token_url=url, scope=scope)
    elif grant_name == "browser":
        grant = AuthorizationCode(client_id or "", issuer=issuer, token_url=url, scope=scope)
    elif grant_name == "json":
        if not url:
            raise ValueError("a json profile needs a url")
        grant = JsonLogin(url, **_json_mapping(settings))
    else:
        raise ValueError(f"grant {grant_name!r} is not one of {', '.join(GRANTS)}")
    kwargs: dict[str, Any] = {"username": _text(settings, "username")}
    origins = settings.get("origins")
    if origins:
        if not isinstance(origins, list | tuple) or not all(isinstance(o, str) for o in origins):
            raise ValueError("the profile's origins must be a list of strings")
        kwargs["origins"] = list(origins)
    placement = _text(settings, "placement")
    if placement:
        kwargs["placement"] = parse_placement(placement)
    if _text(settings, "store"):
        kwargs["store"] = store
    kwargs.update(overrides)
    return grant, kwargs


def client_secret_account(url: str, client_id: str) -> Account:
    """Where ``login --client-secret-stdin`` keeps a password grant's client secret."""
    return Account(url, CLIENT_SECRET_USER.format(client_id=client_id))


def stored_client_secret(store: Store, url: str, client_id: str) -> str:
    from ._errors import CredentialsNotFound
    from ._vault import Vault

    secret = Vault(store, client_secret_account(url, client_id)).get_secret()
    if secret is None:
        raise CredentialsNotFound(
            f"the client secret of {client_id!r} is not stored ({store.describe()}); store it "
            "with silentauth login --client-secret-stdin"
        )
    return secret


def _json_mapping(settings: Mapping[str, Any]) -> dict[str, Any]:
    """JsonLogin's body and field mapping from a profile (bodies are JSON text)."""
    import json

    mapping: dict[str, Any] = {}
    for key in ("body", "refresh_body"):
        text = _text(settings, key)
        if text:
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"the profile's {key} is not JSON ({exc})") from None
            if not isinstance(value, dict):
                raise ValueError(f"the profile's {key} must be a JSON object")
            mapping[key] = value
    for key in ("token_field", "refresh_field", "expires_in_field", "refresh_url"):
        text = _text(settings, key)
        if text:
            mapping[key] = text
    return mapping


def _text(settings: Mapping[str, Any], key: str) -> str | None:
    # A hand-edited file may hold any TOML type: say which field is wrong, not a TypeError
    # from deep inside a grant.
    value = settings.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"the profile's {key} must be a string, not {type(value).__name__}")
