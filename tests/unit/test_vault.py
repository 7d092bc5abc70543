"""The Vault over a plain in-memory key-value store: which account each value goes under, the
token and refusal codecs, and damaged contents (issue 7 behaviour 14): a corrupt token is a
StoreError(corrupt=True), never RecursionError/TypeError/OverflowError; an unreadable refusal
record is None."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from requests_silentauth import MemoryStore, StoreError, Token
from requests_silentauth._codecs import decode_refusal, decode_token, encode_token
from requests_silentauth._store import Account, Store
from requests_silentauth._vault import Refusal, Vault

ENDPOINT = "https://login.example.com/token"
PLAIN = Account(ENDPOINT, "alice")
ADMIN = Account(ENDPOINT, "alice", client_id="admin", scope="all")
READER = Account(ENDPOINT, "alice", client_id="reader", scope="read")
TOKEN = Token(
    "at-7c1e-secret", refresh_token="rt-2b9d-secret", scope="read", expires_at=2e9, issued_at=1e9
)
DEEP = "[" * 100_000 + "]" * 100_000


class DictKV:
    """The smallest Store: a dict and one lock; records every call."""

    def __init__(self) -> None:
        self.data: dict[tuple[Account, str], str] = {}
        self.calls: list[str] = []
        self.mutex = threading.Lock()

    def get(self, account: Account, name: str) -> str | None:
        self.calls.append("get")
        return self.data.get((account, name))

    def set(self, account: Account, name: str, value: str) -> None:
        self.calls.append("set")
        assert isinstance(value, str)
        self.data[(account, name)] = value

    def delete(self, account: Account, name: str) -> None:
        self.calls.append("delete")
        self.data.pop((account, name), None)

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        return self.mutex

    def describe(self) -> str:
        return "a dict"


def test_a_dict_with_five_methods_is_a_store() -> None:
    assert isinstance(DictKV(), Store)


def test_a_store_of_the_old_per_kind_protocol_is_refused_with_how_to_migrate() -> None:
    class OldStyle:
        def get_token(self, account: Account) -> Token | None:
            return None

        def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
            return threading.Lock()

        def describe(self) -> str:
            return "old"

    with pytest.raises(TypeError, match="get, set, delete") as info:
        Vault(OldStyle(), PLAIN)  # type: ignore[arg-type]
    assert "CHANGELOG" in str(info.value)


def test_values_go_under_the_right_account_and_name() -> None:
    kv = DictKV()
    vault = Vault(kv, ADMIN)
    vault.set_token(TOKEN)
    vault.set_secret("pw-secret")
    vault.set_refusal(Refusal("id-1", 123.5, "refused", "invalid_grant"))
    assert set(kv.data) == {(ADMIN, "token"), (PLAIN, "secret"), (PLAIN, "refused")}
    assert vault.get_token() == TOKEN
    assert vault.get_secret() == "pw-secret"
    assert vault.get_refusal() == Refusal("id-1", 123.5, "refused", "invalid_grant")
    # issue 7 behaviour 2: tokens per client and scope, the password per (endpoint, user)
    reader = Vault(kv, READER)
    assert reader.get_token() is None
    assert reader.get_secret() == "pw-secret"
    assert reader.get_refusal() is not None
    vault.set_token(None)
    vault.delete_secret()
    vault.set_refusal(None)
    assert kv.data == {}
    assert vault.describe() == "a dict"
    with vault.lock():
        assert kv.mutex.locked()
    assert not kv.mutex.locked()


def test_a_custom_lock_failing_with_oserror_is_a_store_error() -> None:
    class Broken(DictKV):
        def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
            class Failing:
                def __enter__(self) -> object:
                    raise PermissionError(13, "Permission denied")

                def __exit__(self, *exc: object) -> None:
                    return None

            return Failing()

    with pytest.raises(StoreError, match="Permission denied"), Vault(Broken(), PLAIN).lock():
        pass


def test_token_round_trip_minimal_and_full() -> None:
    for token in (TOKEN, Token("only-access")):
        assert decode_token(encode_token(token)) == token


def test_the_token_text_is_the_format_earlier_versions_wrote() -> None:
    # Stores written before issue 7 hold exactly this compact JSON: they must stay readable.
    raw = '{"at":"at-1","tt":"Bearer","rt":"rt-1","sc":"read","exp":2000000000.0,"iat":1.0}'
    assert decode_token(raw) == Token("at-1", "rt-1", "Bearer", "read", 2e9, 1.0)
    assert encode_token(decode_token(raw)) == raw


CORRUPT_TOKENS: list[tuple[str, Any]] = [
    ("deep-list", DEEP),
    ("deep-object", '{"at": "x", "exp": ' + DEEP + "}"),
    ("deep-dicts", '{"a":' * 50_000 + "1" + "}" * 50_000),
    ("not-json", '{"rt": "rt-5e1b-secret"'),
    ("empty", ""),
    ("json-list", "[1, 2]"),
    ("json-string", '"at-5e1b-secret"'),
    ("json-null", "null"),
    ("no-at", '{"rt": "rt-5e1b-secret"}'),
    ("empty-at", '{"at": ""}'),
    ("at-number", '{"at": 5}'),
    ("at-list", '{"at": ["at-5e1b-secret"]}'),
    ("at-dict", '{"at": {"v": "at-5e1b-secret"}}'),
    ("exp-dict", '{"at": "x", "exp": {"v": 1}}'),
    ("exp-list", '{"at": "x", "exp": [1]}'),
    ("exp-bool", '{"at": "x", "exp": true}'),
    ("exp-nan-string", '{"at": "x", "exp": "nan"}'),
    ("exp-inf-string", '{"at": "x", "exp": "inf"}'),
    ("exp-NaN-literal", '{"at": "x", "exp": NaN}'),
    ("exp-Infinity-literal", '{"at": "x", "exp": -Infinity}'),
    ("exp-huge-int", '{"at": "x", "exp": 1' + "0" * 400 + "}"),
    ("exp-huge-float", '{"at": "x", "exp": 1e400}'),
    ("exp-5000-digits", '{"at": "x", "exp": ' + "9" * 5000 + "}"),
    ("exp-word", '{"at": "x", "exp": "soon"}'),
    ("iat-list", '{"at": "x", "iat": []}'),
    ("rt-number", '{"at": "x", "rt": 7}'),
    ("tt-null", '{"at": "x", "tt": null}'),
    ("sc-list", '{"at": "x", "sc": ["read"]}'),
    ("not-text", b'{"at": "x"}'),
    ("not-text-dict", {"at": "x"}),
]


@pytest.mark.parametrize(("label", "raw"), CORRUPT_TOKENS, ids=[c[0] for c in CORRUPT_TOKENS])
def test_corrupt_token_is_a_corrupt_store_error(label: str, raw: Any) -> None:
    kv = DictKV()
    kv.data[(PLAIN, "token")] = raw
    with pytest.raises(StoreError) as info:
        Vault(kv, PLAIN).get_token()
    assert info.value.corrupt is True
    assert "a dict" in str(info.value)  # where it is
    assert "5e1b-secret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_corrupt_token_does_not_touch_the_secret() -> None:
    kv = DictKV()
    vault = Vault(kv, PLAIN)
    vault.set_secret("pw")
    kv.data[(PLAIN, "token")] = DEEP
    with pytest.raises(StoreError):
        vault.get_token()
    assert vault.get_secret() == "pw"
    vault.set_token(TOKEN)  # the next login replaces it
    assert vault.get_token() == TOKEN


def _read_token(kv: DictKV) -> Token | StoreError | None:
    """What the Vault makes of the entry: a token, None, or the StoreError it raised (any other
    exception propagates and fails the test)."""
    try:
        return Vault(kv, PLAIN).get_token()
    except StoreError as exc:
        return exc


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
token_like = st.dictionaries(
    st.sampled_from(["at", "rt", "tt", "sc", "exp", "iat", "other"]), json_values, max_size=7
)


@settings(max_examples=120, deadline=None)
@given(st.one_of(json_values, token_like))
def test_any_json_in_the_token_entry_is_a_token_or_a_corrupt_store_error(data: Any) -> None:
    kv = DictKV()
    kv.data[(PLAIN, "token")] = json.dumps(data)
    token = _read_token(kv)
    if isinstance(token, StoreError):
        assert token.corrupt is True
    else:
        assert isinstance(token, Token)
        assert isinstance(token.access_token, str) and token.access_token
        for when in (token.expires_at, token.issued_at):
            assert when is None or (isinstance(when, float) and when == when and abs(when) < 1e309)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_in_the_token_entry_is_a_token_or_a_corrupt_store_error(raw: str) -> None:
    kv = DictKV()
    kv.data[(PLAIN, "token")] = raw
    result = _read_token(kv)
    assert not isinstance(result, StoreError) or result.corrupt is True


def test_refusal_round_trip() -> None:
    kv = DictKV()
    vault = Vault(kv, READER)
    for refusal in (Refusal("id", 1.5, "no", None), Refusal("id2", 2e9, "m\u00e9ssage", "e")):
        vault.set_refusal(refusal)
        assert vault.get_refusal() == refusal


BAD_REFUSALS = [
    DEEP,
    "",
    "{",
    "[]",
    "null",
    '{"id": "x", "until": 1}',  # no message
    '{"id": 5, "until": 1, "message": "m"}',
    '{"id": "x", "until": "1", "message": "m"}',
    '{"id": "x", "until": true, "message": "m"}',
    '{"id": "x", "until": [1], "message": "m"}',
    '{"id": "x", "until": Infinity, "message": "m"}',  # would block every login forever
    '{"id": "x", "until": NaN, "message": "m"}',
    '{"id": "x", "until": 1' + "0" * 400 + ', "message": "m"}',
    '{"id": "x", "until": 1, "message": ["m"]}',
]


@pytest.mark.parametrize("raw", BAD_REFUSALS)
def test_an_unreadable_refusal_record_is_none(raw: str) -> None:
    kv = DictKV()
    kv.data[(PLAIN, "refused")] = raw
    assert Vault(kv, READER).get_refusal() is None
    assert decode_refusal(raw) is None


def test_a_refusal_with_an_odd_error_field_keeps_the_rest() -> None:
    raw = '{"id": "x", "until": 5, "message": "m", "error": {"deep": 1}}'
    assert decode_refusal(raw) == Refusal("x", 5.0, "m", None)


def test_a_corrupt_refusal_entry_is_none_but_an_unreachable_store_is_an_error() -> None:
    class Failing(DictKV):
        def __init__(self, corrupt: bool) -> None:
            super().__init__()
            self.corrupt = corrupt

        def get(self, account: Account, name: str) -> str | None:
            raise StoreError("part missing", corrupt=self.corrupt)

    assert Vault(Failing(corrupt=True), PLAIN).get_refusal() is None
    with pytest.raises(StoreError):
        Vault(Failing(corrupt=False), PLAIN).get_refusal()


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(["id", "until", "message", "error"]), json_values),
    )
)
def test_any_json_in_the_refusal_entry_is_a_refusal_or_none(data: Any) -> None:
    result = decode_refusal(json.dumps(data))
    assert result is None or (isinstance(result, Refusal) and result.until == result.until)


# -- the exact words: what a user reads when a store is damaged --------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (5, "the record is int, not text"),
        ("x" * 1_000_001, "the record is implausibly long"),
        ("[" * 100_000, "the record is nested too deeply"),
        ("not json", "the record is not JSON"),
        ("[1]", "the record is a JSON list, not an object"),
        ('{"at": 5}', "the token record is malformed (ValueError)"),
        ('{"at": "a", "exp": [1]}', "the token record is malformed (ValueError)"),
    ],
)
def test_why_a_token_record_is_unreadable(raw: object, message: str) -> None:
    from requests_silentauth._codecs import MAX_RECORD, decode_token

    assert MAX_RECORD == 1_000_000
    with pytest.raises(ValueError) as info:
        decode_token(raw)
    assert str(info.value) == message


def test_a_record_of_exactly_the_limit_is_read() -> None:
    from requests_silentauth._codecs import MAX_RECORD, decode_token

    raw = '{"at": "a", "pad": "' + "x" * (MAX_RECORD - 22) + '"}'
    assert len(raw) == MAX_RECORD
    assert decode_token(raw).access_token == "a"


def test_the_corrupt_store_message_and_the_compact_refusal_record() -> None:
    from requests_silentauth._codecs import Refusal, encode_refusal

    store = MemoryStore()
    account = Account("https://x.test/t", "u")
    store.set(account, "token", "[1]")
    with pytest.raises(StoreError) as info:
        Vault(store, account).get_token()
    assert str(info.value) == (
        "the token stored in memory (nothing is kept after the process ends) is corrupt (the "
        "record is a JSON list, not an object); it will be replaced by the next login, or clear "
        "it with `silentauth logout`"
    )
    assert encode_refusal(Refusal("sid", 1.0, "m")) == (
        '{"id":"sid","until":1.0,"message":"m","error":null}'
    )
    assert Vault(store, account).get_refusal() is None


def test_a_store_of_the_old_protocol_is_refused_with_the_way_to_migrate() -> None:
    class OldStore:
        def get_token(self, account: Account) -> None:
            return None

    with pytest.raises(TypeError) as info:
        Vault(OldStore(), Account("https://x.test/t", "u"))  # type: ignore[arg-type]
    assert str(info.value) == (
        "OldStore is not a Store: it lacks get, set, delete, lock, describe. A store keeps text "
        "values: get/set/delete(account, name), lock(account) and describe(); the token and "
        "refusal records are encoded above it (see the CHANGELOG for how to migrate a store "
        "written for get_token/set_token/...)"
    )
