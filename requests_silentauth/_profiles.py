"""Profiles: the non-secret settings of an account, saved by ``silentauth login --profile``
in a TOML file in the user's config directory. Secrets never go into this file."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FIELDS = ("grant", "url", "username", "client_id", "scope", "origins", "placement", "store")
GRANTS = ("password", "client_credentials", "json")


def config_path() -> Path:
    override = os.environ.get("SILENTAUTH_CONFIG")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("requests-silentauth")) / "profiles.toml"


def load_all(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read profiles from {path}: {exc}") from exc
    profiles = data.get("profiles", {})
    return {k: dict(v) for k, v in profiles.items() if isinstance(v, dict)}


def load(name: str, path: Path | None = None) -> dict[str, Any]:
    profiles = load_all(path)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none yet"
        raise ValueError(
            f"no profile {name!r} in {path or config_path()} (known: {known}); create it with "
            f"`silentauth login --profile {name} --url ... --username ...`"
        )
    return profiles[name]


def save(name: str, settings: Mapping[str, Any], path: Path | None = None) -> Path:
    path = path or config_path()
    profiles = load_all(path)
    profiles[name] = {k: v for k, v in settings.items() if k in FIELDS and v not in (None, [])}
    lines = ["# requests-silentauth profiles: settings only, never secrets", ""]
    for pname in sorted(profiles):
        lines.append(f"[profiles.{json.dumps(pname)}]")
        for key in FIELDS:
            if key in profiles[pname]:
                lines.append(f"{key} = {_toml(profiles[pname][key])}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".profiles-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)
    return path


def _toml(value: Any) -> str:
    # JSON strings and lists of strings are valid TOML basic strings and arrays.
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json.dumps(str(v)) for v in value) + "]"
    raise TypeError(f"profile values are strings or lists of strings, not {type(value).__name__}")


def parse_placement(text: str) -> Any:
    from ._placement import BasicToken, Bearer, Header, Query

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


def parse_store(text: str) -> Any:
    from ._store import FileStore, KeyringStore, MemoryStore

    kind, _, arg = text.partition(":")
    if kind == "keyring":
        return KeyringStore(service=arg or None)
    if kind == "file" and arg:
        return FileStore(arg)
    if kind == "memory" and not arg:
        return MemoryStore()
    raise ValueError(f"store {text!r} is not one of keyring, keyring:SERVICE, file:PATH, memory")


def build(settings: Mapping[str, Any], **overrides: Any) -> Any:
    """A SilentAuth from profile settings; keyword arguments go to SilentAuth as they are."""
    from ._auth import SilentAuth
    from ._grants import ClientCredentials, JsonLogin, PasswordGrant

    grant_name = settings.get("grant", "password")
    url = settings.get("url")
    if not url:
        raise ValueError("the profile has no url (the login or token endpoint)")
    grant: Any
    if grant_name == "password":
        grant = PasswordGrant(url, client_id=settings.get("client_id"), scope=settings.get("scope"))
    elif grant_name == "client_credentials":
        grant = ClientCredentials(
            url, client_id=settings.get("client_id") or "", scope=settings.get("scope")
        )
    elif grant_name == "json":
        grant = JsonLogin(url)
    else:
        raise ValueError(f"grant {grant_name!r} is not one of {', '.join(GRANTS)}")
    kwargs: dict[str, Any] = {}
    if settings.get("origins"):
        kwargs["origins"] = list(settings["origins"])
    if settings.get("placement"):
        kwargs["placement"] = parse_placement(settings["placement"])
    if settings.get("store"):
        kwargs["store"] = parse_store(settings["store"])
    kwargs.update(overrides)
    return SilentAuth(grant, username=settings.get("username"), **kwargs)
