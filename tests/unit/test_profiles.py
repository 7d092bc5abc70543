"""Profiles: any text round-trips through save/load as valid TOML, a failed write leaves the
old file readable, and profile settings become a grant and SilentAuth keyword arguments
without importing ``_auth`` (issue 7, behaviour 16). No sockets, no sleeps."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from requests_silentauth import _profiles
from requests_silentauth._grants import ClientCredentials, JsonLogin, PasswordGrant
from requests_silentauth._placement import BasicToken, Bearer, Header, Query
from requests_silentauth._store import FileStore, KeyringStore, MemoryStore

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Any text a str can hold and UTF-8 can encode: every code point but the surrogates, astral
#: characters and control characters included.
any_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
#: Mostly the characters that need care in TOML, so each example is likely to hold some.
tricky = st.text(
    st.sampled_from(['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\u0085", "\u2028",
                     "\U0001f600", "\U0010ffff", ".", "[", "]", "=", "#", "'", " ", "a"]),
    max_size=12,
)  # fmt: skip
texts = any_text | tricky
#: A profile's settings: any subset of the fields, strings or (for origins) lists of strings.
profile_settings = st.fixed_dictionaries(
    {},
    optional={
        **{key: texts for key in _profiles.FIELDS if key not in ("origins", "client_secret")},
        "origins": st.lists(texts, min_size=1, max_size=3),
        "store": texts.filter(lambda t: t != "memory"),  # refused (issue 9)
        "client_secret": st.just(_profiles.STORED),  # the only value it may hold
    },
)


# -- save/load round trip ---------------------------------------------------------------------


#: tmp_path is shared by the examples: each one starts by removing the file.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=texts, values=profile_settings)
@example(name="work", values={"url": "https://x.test/\U0001f600", "scope": 'a\x00b"c\\d'})
@example(name="a.b [c]", values={"username": "\n\r\t\x7f"})
@example(name="", values={"url": ""})
def test_any_text_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, values: dict[str, Any]
) -> None:
    # The property is about text, not durability: no fsync, so the examples run in
    # milliseconds on any disk.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    path = tmp_path / "profiles.toml"
    path.unlink(missing_ok=True)
    _profiles.save("other", {"url": "https://other.test/t", "username": "bob"}, path)
    _profiles.save(name, values, path)
    tomllib.loads(path.read_text(encoding="utf-8"))  # valid TOML for any other reader too
    assert _profiles.load(name, path) == values
    if name != "other":
        assert _profiles.load("other", path) == {"url": "https://other.test/t", "username": "bob"}


@settings(max_examples=300, deadline=None)
@given(key=texts, value=texts)
def test_any_text_is_a_toml_string_and_key(key: str, value: str) -> None:
    # The writer alone, without files: many more examples for the same time.
    line = f"{_profiles._toml_string(key, 'key')} = {_profiles._toml_string(value, 'value')}"
    assert tomllib.loads(line) == {key: value}


def test_astral_characters_are_written_as_valid_toml(tmp_path: Path) -> None:
    # json.dumps wrote "\ud83d\ude00" (a surrogate pair), which TOML forbids: every profile in
    # the file became unreadable.
    path = tmp_path / "profiles.toml"
    _profiles.save("work", {"url": "https://x.test/t", "username": "al\U0001f600ce"}, path)
    _profiles.save("second", {"url": "https://y.test/t"}, path)
    assert _profiles.load("work", path)["username"] == "al\U0001f600ce"


def test_a_surrogate_is_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    _profiles.save("work", {"url": "https://x.test/t"}, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="surrogate"):
        _profiles.save("odd", {"url": "https://x.test/\ud800"}, path)
    with pytest.raises(ValueError, match="surrogate"):
        _profiles.save("\udfff", {"url": "https://x.test/t"}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["profiles.toml"]  # no temp file left


def test_values_that_are_not_text_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    _profiles.save("work", {"url": "https://x.test/t"}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="scope"):
        _profiles.save("odd", {"url": "https://x.test/t", "scope": 5}, path)
    assert path.read_bytes() == before


def test_a_write_failing_half_way_leaves_the_old_file_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "profiles.toml"
    _profiles.save("work", {"url": "https://x.test/t", "username": "alice"}, path)

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        _profiles.save("second", {"url": "https://y.test/t"}, path)
    monkeypatch.undo()
    assert _profiles.load_all(path) == {"work": {"url": "https://x.test/t", "username": "alice"}}
    assert [p.name for p in tmp_path.iterdir()] == ["profiles.toml"]  # the temp file is gone


def test_a_write_failing_mid_file_leaves_the_old_file_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "profiles.toml"
    _profiles.save("work", {"url": "https://x.test/t"}, path)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def __enter__(self) -> HalfWriter:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, text: str) -> int:
            self.fh.write(text[: len(text) // 2])
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="Input/output"):
        _profiles.save("second", {"url": "https://y.test/t"}, path)
    monkeypatch.undo()
    assert _profiles.load_all(path) == {"work": {"url": "https://x.test/t"}}
    assert [p.name for p in tmp_path.iterdir()] == ["profiles.toml"]


def test_save_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "profiles.toml"
    assert _profiles.save("work", {"url": "https://x.test/t"}, path) == path
    assert _profiles.load("work", path) == {"url": "https://x.test/t"}


def test_unknown_fields_and_empty_values_are_not_saved(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    _profiles.save("w", {"url": "u", "password": "pw-XYZ", "scope": None, "origins": []}, path)
    assert _profiles.load("w", path) == {"url": "u"}
    assert "pw-XYZ" not in path.read_text(encoding="utf-8")


def test_an_unreadable_file_is_a_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text("[profiles.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read profiles"):
        _profiles.load_all(path)
    for text in (b"\xff\xfe[profiles]\n", b"profiles = 5\n"):  # not UTF-8; not a table
        path.write_bytes(text)
        with pytest.raises(ValueError, match="cannot read profiles"):
            _profiles.load_all(path)
        with pytest.raises(ValueError, match="cannot read profiles"):
            _profiles.save("work", {"url": "https://x.test/t"}, path)
        assert path.read_bytes() == text  # an odd file is never overwritten
    with pytest.raises(ValueError, match="no profile 'x'"):
        _profiles.load("x", tmp_path / "missing.toml")


# -- settings to a grant and SilentAuth keyword arguments ---------------------------------------


def test_arguments_for_each_grant() -> None:
    grant, kwargs = _profiles.arguments(
        {"url": "https://x.test/t", "username": "alice", "client_id": "c", "scope": "s"}
    )
    assert isinstance(grant, PasswordGrant)
    assert (grant.endpoint, grant.client_id, grant.scope) == ("https://x.test/t", "c", "s")
    assert kwargs == {"username": "alice"}

    grant, kwargs = _profiles.arguments(
        {"grant": "client_credentials", "url": "https://x.test/t", "client_id": "svc"}
    )
    assert isinstance(grant, ClientCredentials) and grant.client_id == "svc"
    assert kwargs == {"username": None}

    grant, _ = _profiles.arguments({"grant": "json", "url": "https://x.test/login"})
    assert isinstance(grant, JsonLogin)


def test_arguments_parse_origins_placement_and_store_and_apply_overrides() -> None:
    memory = MemoryStore()
    grant, kwargs = _profiles.arguments(
        {
            "url": "https://x.test/t",
            "username": "alice",
            "origins": ["https://api.x.test"],
            "placement": "header:X-Token",
            "store": "keyring:svc",
        },
        store=memory,
        username="bob",
        prompt=False,
    )
    assert isinstance(grant, PasswordGrant)
    assert kwargs["origins"] == ["https://api.x.test"]
    assert isinstance(kwargs["placement"], Header) and kwargs["placement"].name == "X-Token"
    assert kwargs["store"] is memory  # the override wins over the profile's store
    assert kwargs["username"] == "bob" and kwargs["prompt"] is False


@pytest.mark.parametrize(
    "settings_",
    [{}, {"url": ""}, {"url": "https://x.test/t", "grant": "magic"}, {"url": 5}],
    ids=["no-url", "empty-url", "unknown-grant", "url-not-text"],
)
def test_arguments_refuse_unusable_settings(settings_: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _profiles.arguments(settings_)


def test_parse_placement_and_store() -> None:
    assert isinstance(_profiles.parse_placement("bearer"), Bearer)
    assert isinstance(_profiles.parse_placement("basic"), BasicToken)
    query = _profiles.parse_placement("query:tok")
    assert isinstance(query, Query) and query.name == "tok"
    for bad in ("bearer:x", "header", "query:", "cookie:x"):
        with pytest.raises(ValueError, match="placement"):
            _profiles.parse_placement(bad)
    assert isinstance(_profiles.parse_store("memory"), MemoryStore)
    assert isinstance(_profiles.parse_store("keyring"), KeyringStore)
    assert isinstance(_profiles.parse_store("file:/tmp/x.json"), FileStore)
    for bad in ("file", "memory:x", "vault"):
        with pytest.raises(ValueError, match="store"):
            _profiles.parse_store(bad)


def test_profiles_does_not_import_the_auth_module() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(_profiles))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "_auth" not in imported


# -- the CLI builds the auth itself and reads the store through a Vault ---------------------------


def test_cli_status_reads_the_token_and_secret_of_the_auths_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from requests_silentauth import _cli
    from requests_silentauth._auth import SilentAuth
    from requests_silentauth._token import Token
    from requests_silentauth._vault import Vault

    monkeypatch.setenv("SILENTAUTH_CONFIG", str(tmp_path / "profiles.toml"))
    store_path = tmp_path / "store.json"
    _profiles.save(
        "work",
        {
            "url": "https://login.x.test/t",
            "username": "al\U0001f600ce",
            "store": f"file:{store_path}",
        },
    )
    grant, kwargs = _profiles.arguments(_profiles.load("work"), prompt=False)
    vault = Vault(FileStore(store_path), SilentAuth(grant, **kwargs).account)
    assert _cli.main(["status", "--profile", "work"]) == 3  # nothing stored yet
    assert "token:     none" in capsys.readouterr().out

    token = Token("at-PLAIN", token_type="Bearer", refresh_token="rt-PLAIN", expires_at=None)
    vault.set_token(token)
    vault.set_secret("pw-PLAIN")
    assert _cli.main(["status", "--profile", "work"]) == 0
    out = capsys.readouterr().out
    assert "account:   al\U0001f600ce" in out and "endpoint:  https://login.x.test" in out
    assert f"token:     {token.fingerprint}" in out and "password:  stored" in out
    assert "refresh:   present" in out
    assert "PLAIN" not in out


def test_from_profile_builds_the_saved_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from requests_silentauth._auth import SilentAuth

    monkeypatch.setenv("SILENTAUTH_CONFIG", str(tmp_path / "profiles.toml"))
    _profiles.save("work", {"url": "https://login.x.test/t", "username": "alice"})
    auth = SilentAuth.from_profile("work", placement=Query("tok"), store=MemoryStore())
    assert isinstance(auth.grant, PasswordGrant) and auth.username == "alice"
    assert isinstance(auth.store, MemoryStore) and isinstance(auth.policy.placement, Query)
    assert auth.account.username == "alice"


# -- issue 9: what a profile refuses, relative paths, the JSON grant, a stored client secret ---


def test_a_memory_store_or_a_client_secret_is_never_saved(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    with pytest.raises(ValueError, match="--store memory keeps nothing"):
        _profiles.save("w", {"url": "https://x.test/t", "store": "memory"}, path)
    with pytest.raises(ValueError, match="never holds a client secret"):
        _profiles.save("w", {"url": "https://x.test/t", "client_secret": "s3cret-value"}, path)
    assert not path.exists()


def test_a_relative_file_store_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _profiles.absolute_store("file:creds.json") == f"file:{tmp_path / 'creds.json'}"
    assert _profiles.absolute_store("keyring:svc") == "keyring:svc"


def test_a_json_grant_reads_its_body_and_field_mapping() -> None:
    grant, _ = _profiles.arguments(
        {
            "grant": "json",
            "url": "https://x.test/login",
            "username": "alice",
            "body": '{"account": "{username}", "secret": "{password}"}',
            "token_field": "data.token",
            "refresh_url": "https://x.test/refresh",
            "refresh_body": '{"rt": "{refresh_token}"}',
        }
    )
    assert grant.body == {"account": "{username}", "secret": "{password}"}  # type: ignore[attr-defined]
    assert grant.token_field == "data.token"  # type: ignore[attr-defined]
    assert grant.refresh_body == {"rt": "{refresh_token}"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="body is not JSON"):
        _profiles.arguments({"grant": "json", "url": "https://x.test/l", "body": "{nope"})


def test_a_stored_client_secret_is_read_from_the_store() -> None:
    store = MemoryStore()
    settings = {
        "url": "https://x.test/t",
        "username": "a",
        "client_id": "c",
        "client_secret": "stored",
    }
    from requests_silentauth import CredentialsNotFound
    from requests_silentauth._vault import Vault

    with pytest.raises(CredentialsNotFound, match="client secret of 'c' is not stored"):
        _profiles.arguments(settings, store=store)
    Vault(store, _profiles.client_secret_account("https://x.test/t", "c")).set_secret("cs-1")
    grant, _ = _profiles.arguments(settings, store=store)
    assert grant.client_secret == "cs-1"  # type: ignore[attr-defined]
    assert "cs-1" not in repr(grant)
