"""Pure tests of the Token value and of token-response parsing: no I/O, ``now`` passed in."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from typing import Any

import pytest

from requests_silentauth._token import MAX_LIFETIME, Token, fingerprint, jwt_exp, lookup

ACCESS = "at-4f1c9e2a-very-secret-access"
REFRESH = "rt-77d0b3c1-very-secret-refresh"
SENT = 1_700_000_000.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(claims: Any, *, raw_payload: bytes | None = None) -> str:
    """An unsigned JWT-shaped string: header.payload.signature, base64url without padding."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(raw_payload if raw_payload is not None else json.dumps(claims).encode())
    return f"{header}.{payload}.c2lnbmF0dXJl"


def make_token(**kwargs: Any) -> Token:
    kwargs.setdefault("access_token", ACCESS)
    return Token(**kwargs)


# -- the value itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("access_token", "other"), ("refresh_token", "other"), ("expires_at", 1.0), ("scope", "x")],
)
def test_token_is_frozen(name: str, value: object) -> None:
    token = make_token(refresh_token=REFRESH, expires_at=SENT + 60)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(token, name, value)
    assert token.access_token == ACCESS
    assert token.refresh_token == REFRESH
    assert token.expires_at == SENT + 60


@pytest.mark.parametrize("bad", ["", None, 123, b"bytes"])
def test_token_needs_a_non_empty_access_token_string(bad: Any) -> None:
    with pytest.raises(ValueError, match="non-empty access_token"):
        Token(access_token=bad)


@pytest.mark.parametrize("show", [repr, str])
def test_repr_and_str_mask_both_tokens_but_show_fingerprints(show: Any) -> None:
    token = make_token(refresh_token=REFRESH, scope="read write", expires_at=SENT + 60)
    text = show(token)
    assert ACCESS not in text
    assert REFRESH not in text
    assert fingerprint(ACCESS) in text
    assert fingerprint(REFRESH) in text
    assert token.fingerprint == fingerprint(ACCESS)
    assert "read write" in text  # non-secret fields stay readable
    assert text.startswith("Token(")


def test_repr_without_refresh_token() -> None:
    text = repr(make_token())
    assert "refresh_token=None" in text
    assert ACCESS not in text


def test_fingerprint_is_short_stable_and_distinguishes() -> None:
    assert fingerprint(ACCESS) == fingerprint(ACCESS)
    assert fingerprint(ACCESS) != fingerprint(REFRESH)
    assert len(fingerprint(ACCESS)) == 8
    assert fingerprint(None) == fingerprint("") == "-"
    # Lone surrogates (possible in decoded JSON) do not break the fingerprint.
    assert len(fingerprint("\ud800abc")) == 8


# -- decisions ----------------------------------------------------------------------------------


def test_refresh_due_short_token_caps_leeway_at_half_life() -> None:
    # A 20 s token with a 30 s leeway: without the cap it would be due the moment it arrives.
    token = make_token(issued_at=1000.0, expires_at=1020.0)
    assert token.lifetime == 20.0
    assert not token.refresh_due(1000.0, leeway=30)
    assert not token.refresh_due(1009.9, leeway=30)
    assert token.refresh_due(1010.0, leeway=30)
    assert token.refresh_due(1015.0, leeway=30)


def test_refresh_due_long_token_uses_full_leeway() -> None:
    token = make_token(issued_at=1000.0, expires_at=4600.0)
    assert not token.refresh_due(4569.9, leeway=30)
    assert token.refresh_due(4570.0, leeway=30)
    assert not token.is_expired(4570.0)
    assert token.refresh_due(4600.0, leeway=30)


def test_refresh_due_without_issued_at_uses_leeway_and_without_expiry_never() -> None:
    no_issue = make_token(expires_at=1000.0)
    assert no_issue.lifetime is None
    assert not no_issue.refresh_due(969.0, leeway=30)
    assert no_issue.refresh_due(970.0, leeway=30)
    forever = make_token(issued_at=0.0)
    assert not forever.refresh_due(1e12, leeway=30)
    assert not forever.is_expired(1e12)


def test_refresh_due_zero_leeway_means_at_expiry() -> None:
    token = make_token(issued_at=0.0, expires_at=100.0)
    assert not token.refresh_due(99.999, leeway=0)
    assert token.refresh_due(100.0, leeway=0)


def test_is_expired_boundary() -> None:
    token = make_token(issued_at=0.0, expires_at=100.0)
    assert not token.is_expired(99.999)
    assert token.is_expired(100.0)
    assert token.is_expired(101.0)
    assert not make_token().is_expired(1e15)


def test_lifetime_never_negative() -> None:
    assert make_token(issued_at=100.0, expires_at=50.0).lifetime == 0.0


def test_with_refresh_fallback_rotation() -> None:
    old = make_token(access_token="old-access", refresh_token="old-refresh")
    rotated = make_token(refresh_token="new-refresh")
    assert rotated.with_refresh_fallback(old).refresh_token == "new-refresh"
    omitted = make_token()
    kept = omitted.with_refresh_fallback(old)
    assert kept.refresh_token == "old-refresh"
    assert kept.access_token == ACCESS  # only the refresh token is carried over
    assert omitted.refresh_token is None  # the original value is untouched
    assert omitted.with_refresh_fallback(None) is omitted
    assert omitted.with_refresh_fallback(make_token()).refresh_token is None


# -- store serialisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        Token(ACCESS),
        Token(ACCESS, REFRESH, "Bearer", "read write", SENT + 3600, SENT),
        Token(ACCESS, None, "mac", None, 0.0, 0.0),
        Token("\u00e9\u00ff-latin-1", refresh_token="\u4e2d\U0001f600", expires_at=1.5),
    ],
)
def test_to_dict_from_dict_round_trip(token: Token) -> None:
    data = token.to_dict()
    assert Token.from_dict(data) == token
    assert Token.from_dict(json.loads(json.dumps(data))) == token
    assert data["at"] == token.access_token
    assert None not in data.values()  # absent fields are omitted, not stored as null


def test_from_dict_accepts_numeric_strings_and_defaults_type() -> None:
    token = Token.from_dict({"at": ACCESS, "exp": "12.5", "iat": 3})
    assert token.expires_at == 12.5
    assert token.issued_at == 3.0
    assert token.token_type == "Bearer"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"rt": REFRESH},
        {"at": ""},
        {"at": 12345, "rt": REFRESH},
        {"at": ACCESS, "exp": "soon"},
        {"at": ACCESS, "rt": REFRESH, "iat": [1]},
        {"at": ACCESS, "exp": {"v": 1}},
        [ACCESS, REFRESH],
        ACCESS,
        None,
    ],
)
def test_from_dict_malformed_raises_value_error_without_secret(data: Any) -> None:
    with pytest.raises(ValueError, match="malformed") as info:
        Token.from_dict(data)
    message = str(info.value)
    assert ACCESS not in message
    assert REFRESH not in message
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_from_dict_huge_integer_expiry_is_malformed() -> None:
    with pytest.raises(ValueError, match="malformed"):
        Token.from_dict({"at": ACCESS, "exp": 10**400})


def test_from_dict_non_string_refresh_token_is_malformed() -> None:
    with pytest.raises(ValueError, match="malformed"):
        Token.from_dict({"at": ACCESS, "rt": 5})


# -- token responses ----------------------------------------------------------------------------


def test_from_response_measures_expires_in_from_sent_at() -> None:
    token = Token.from_response(
        {
            "access_token": ACCESS,
            "refresh_token": REFRESH,
            "token_type": "bearer",
            "expires_in": 3600,
            "scope": "read write",
        },
        sent_at=SENT,
    )
    assert token.access_token == ACCESS
    assert token.refresh_token == REFRESH
    assert token.token_type == "Bearer"  # normalised
    assert token.scope == "read write"
    assert token.issued_at == SENT
    assert token.expires_at == SENT + 3600
    assert token.lifetime == 3600


@pytest.mark.parametrize(
    ("raw", "lifetime"),
    [
        ("3600", 3600.0),
        (" 60 ", 60.0),
        ("1.5", 1.5),
        (59.5, 59.5),
        (1e-3, 1e-3),
        (10**12, MAX_LIFETIME),
        (10**400, MAX_LIFETIME),
        (1e300, MAX_LIFETIME),
        ("1e999", MAX_LIFETIME),
        (math.inf, MAX_LIFETIME),
    ],
)
def test_from_response_expires_in_forms(raw: Any, lifetime: float) -> None:
    token = Token.from_response({"access_token": ACCESS, "expires_in": raw}, sent_at=SENT)
    assert token.expires_at == SENT + lifetime
    assert token.lifetime == pytest.approx(lifetime, abs=1e-6)


@pytest.mark.parametrize("raw", [0, 0.0, -1, "0", "-30", -math.inf, -(10**400)])
def test_from_response_zero_or_negative_lifetime_is_no_lifetime(raw: Any) -> None:
    # Current design (_token._lifetime): zero or negative is "no lifetime", not "expired at
    # once" -- believing it would mean one token request per request. The token is used until
    # the server rejects it, unless a JWT ``exp`` says otherwise.
    token = Token.from_response({"access_token": ACCESS, "expires_in": raw}, sent_at=SENT)
    assert token.expires_at is None
    assert not token.is_expired(SENT + 1e6)
    assert not token.refresh_due(SENT + 1e6, leeway=30)
    jwt = make_jwt({"exp": 1_800_000_000})
    with_exp = Token.from_response({"access_token": jwt, "expires_in": raw}, sent_at=SENT)
    assert with_exp.expires_at == 1_800_000_000.0


@pytest.mark.parametrize(
    "raw", [True, False, math.nan, "nan", "NaN", "soon", "", "3600s", [3600], {"s": 1}]
)
def test_from_response_bad_expires_in_is_an_unknown_lifetime(
    raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 7, behaviour 17: a usable token is used; the malformed field is named, never quoted.
    payload = {"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": raw}
    token = Token.from_response(payload, sent_at=SENT)
    assert token.access_token == ACCESS
    assert token.refresh_token == REFRESH
    assert token.expires_at is None
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "'expires_in'" in warnings[0].getMessage()
    assert ACCESS not in caplog.text and REFRESH not in caplog.text
    if isinstance(raw, str) and raw:
        assert raw not in warnings[0].getMessage()


def test_from_response_bad_expires_in_falls_back_to_jwt_exp() -> None:
    access = make_jwt({"exp": 1_800_000_000})
    token = Token.from_response({"access_token": access, "expires_in": "soon"}, sent_at=SENT)
    assert token.expires_at == 1_800_000_000.0


def test_from_response_integer_beyond_float_range_is_capped() -> None:
    payload = json.loads(f'{{"access_token": "{ACCESS}", "expires_in": 1{"0" * 400}}}')
    assert payload["expires_in"] == 10**400
    token = Token.from_response(payload, sent_at=SENT)
    assert token.expires_at == SENT + MAX_LIFETIME


def test_from_response_without_expires_in_uses_jwt_exp() -> None:
    access = make_jwt({"sub": "alice", "exp": 1_800_000_000})
    token = Token.from_response({"access_token": access}, sent_at=SENT)
    assert token.expires_at == 1_800_000_000.0
    assert token.issued_at == SENT


def test_from_response_expires_in_wins_over_jwt_exp() -> None:
    access = make_jwt({"exp": 1_800_000_000})
    token = Token.from_response({"access_token": access, "expires_in": 60}, sent_at=SENT)
    assert token.expires_at == SENT + 60


@pytest.mark.parametrize("access", [ACCESS, make_jwt({"sub": "alice"}), make_jwt({"exp": "x"})])
def test_from_response_without_any_expiry(access: str) -> None:
    token = Token.from_response({"access_token": access, "expires_in": None}, sent_at=SENT)
    assert token.expires_at is None
    assert not token.refresh_due(SENT + 1e9, leeway=30)


def test_from_response_expires_in_field_disabled_falls_back_to_jwt() -> None:
    access = make_jwt({"exp": 1_800_000_000})
    token = Token.from_response(
        {"access_token": access, "expires_in": 5}, sent_at=SENT, expires_in_field=None
    )
    assert token.expires_at == 1_800_000_000.0


@pytest.mark.parametrize("token_type", ["mac", "DPoP", "N_A", "Basic"])
def test_from_response_non_bearer_type_refused(token_type: str) -> None:
    payload = {"access_token": ACCESS, "refresh_token": REFRESH, "token_type": token_type}
    with pytest.raises(ValueError, match="not supported") as info:
        Token.from_response(payload, sent_at=SENT)
    assert ACCESS not in str(info.value)
    assert REFRESH not in str(info.value)
    token = Token.from_response(payload, sent_at=SENT, require_bearer=False)
    assert token.token_type == token_type
    assert token.access_token == ACCESS


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_from_response_bearer_any_case(token_type: str) -> None:
    token = Token.from_response({"access_token": ACCESS, "token_type": token_type}, sent_at=0)
    assert token.token_type == "Bearer"


@pytest.mark.parametrize("token_type", [None, 5, "", ["Bearer"]])
def test_from_response_token_type_not_a_string(token_type: Any) -> None:
    with pytest.raises(ValueError, match="token_type"):
        Token.from_response({"access_token": ACCESS, "token_type": token_type}, sent_at=0)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"access_token": ""},
        {"access_token": None},
        {"access_token": 12345},
        {"access_token": [ACCESS]},
        {"token": ACCESS},
    ],
)
def test_from_response_without_access_token(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="access_token") as info:
        Token.from_response(payload, sent_at=0)
    assert ACCESS not in str(info.value)


@pytest.mark.parametrize("bad", [42, {"v": REFRESH}, [REFRESH], True])
def test_from_response_non_string_refresh_token_is_absent(
    bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Treated as absent (a rotation keeps the previous one; a spent one costs one login).
    token = Token.from_response({"access_token": ACCESS, "refresh_token": bad}, sent_at=0)
    assert token.access_token == ACCESS
    assert token.refresh_token is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "'refresh_token'" in warnings[0]
    assert REFRESH not in caplog.text and ACCESS not in caplog.text
    previous = Token(ACCESS, REFRESH)
    assert token.with_refresh_fallback(previous).refresh_token == REFRESH


def test_from_response_refresh_token_empty_or_disabled(caplog: pytest.LogCaptureFixture) -> None:
    empty = Token.from_response({"access_token": ACCESS, "refresh_token": ""}, sent_at=0)
    assert empty.refresh_token is None
    ignored = Token.from_response(
        {"access_token": ACCESS, "refresh_token": REFRESH}, sent_at=0, refresh_field=None
    )
    assert ignored.refresh_token is None
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


@pytest.mark.parametrize(
    ("scope", "expected", "warned"),
    [
        ("read write", "read write", False),
        (None, None, False),
        (["read", "write"], "read write", True),
        (["read", 7], None, True),
        ({"a": 1}, None, True),
        (7, None, True),
        (7.5, None, True),
    ],
)
def test_from_response_scope_forms(
    scope: Any, expected: str | None, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    token = Token.from_response({"access_token": ACCESS, "scope": scope}, sent_at=0)
    assert token.scope == expected
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if warned:
        assert len(warnings) == 1 and "'scope'" in warnings[0]
    else:
        assert warnings == []


def test_from_response_several_malformed_fields_make_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = {"access_token": ACCESS, "expires_in": "soon", "scope": 7, "refresh_token": 5}
    token = Token.from_response(payload, sent_at=SENT)
    assert (token.access_token, token.refresh_token, token.scope) == (ACCESS, None, None)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    for name in ("'expires_in'", "'scope'", "'refresh_token'"):
        assert name in warnings[0]
    assert "soon" not in warnings[0]


def test_from_response_custom_field_names_are_named(caplog: pytest.LogCaptureFixture) -> None:
    payload = {"data": {"token": ACCESS, "ttl": "later", "renew": 9}}
    token = Token.from_response(
        payload,
        sent_at=SENT,
        token_field="data.token",
        refresh_field="data.renew",
        expires_in_field="data.ttl",
        require_bearer=False,
    )
    assert token.access_token == ACCESS and token.expires_at is None
    assert "'data.ttl'" in caplog.text and "'data.renew'" in caplog.text


def test_from_response_nested_dotted_fields() -> None:
    payload = {"data": {"token": ACCESS, "refresh": REFRESH, "ttl": "120"}, "token_type": "mac"}
    token = Token.from_response(
        payload,
        sent_at=SENT,
        token_field="data.token",
        refresh_field="data.refresh",
        expires_in_field="data.ttl",
    )
    assert token.access_token == ACCESS
    assert token.refresh_token == REFRESH
    assert token.expires_at == SENT + 120
    # token_type is the RFC 6749 field of a standard answer only; a custom answer is Bearer.
    assert token.token_type == "Bearer"


def test_from_response_list_index_paths() -> None:
    payload = {"result": {"tokens": [{"value": "first-token"}, {"value": ACCESS}]}}
    token = Token.from_response(payload, sent_at=0, token_field="result.tokens.1.value")
    assert token.access_token == ACCESS
    with pytest.raises(ValueError, match=r"result\.tokens\.2\.value"):
        Token.from_response(payload, sent_at=0, token_field="result.tokens.2.value")
    with pytest.raises(ValueError, match=r"result\.tokens\.x\.value"):
        Token.from_response(payload, sent_at=0, token_field="result.tokens.x.value")


def test_from_response_dotted_path_missing_step() -> None:
    with pytest.raises(ValueError, match=r"data\.token") as info:
        Token.from_response({"data": ACCESS}, sent_at=0, token_field="data.token")
    assert ACCESS not in str(info.value)


# -- lookup -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "path", "expected"),
    [
        ({"a": {"b": 1}}, "a.b", 1),
        ({"a": [10, 20, 30]}, "a.2", 30),
        ({"a": [10, 20, 30]}, "a.3", None),
        ({"a": [10]}, "a.-1", None),
        ({"a": [10]}, "a.0.x", None),
        ({"a": {"0": "zero"}}, "a.0", "zero"),
        ({"a.b": 1}, "a.b", None),
        ({"a": None}, "a", None),
        ({"a": False}, "a", False),
        ([{"x": 1}], "0.x", 1),
        ("text", "0", None),
        ({"a": 1}, None, None),
        ({"": 5}, "", 5),
    ],
)
def test_lookup(payload: Any, path: str | None, expected: Any) -> None:
    assert lookup(payload, path) == expected


def test_lookup_non_decimal_digit_index_is_missing() -> None:
    assert lookup({"a": [1, 2, 3]}, "a.\u00b2") is None


# -- jwt_exp ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "opaque-token",
        "a.b",
        "a.b.c.d",
        "..",
        "a.!!!!.c",
        "a.\u00e9\u00e9\u00e9.c",
        make_jwt(None, raw_payload=b"not json at all"),
        make_jwt(None, raw_payload=b"\xff\xfe\x00garbage"),
        make_jwt([1, 2, 3]),
        make_jwt("exp"),
        make_jwt(1_800_000_000),
        make_jwt({}),
        make_jwt({"exp": True}),
        make_jwt({"exp": False}),
        make_jwt({"exp": "1800000000"}),
        make_jwt({"exp": None}),
        make_jwt({"exp": [1_800_000_000]}),
        make_jwt({"exp": 0}),
        make_jwt({"exp": -5}),
        make_jwt(None, raw_payload=b'{"exp": NaN}'),
        make_jwt(None, raw_payload=b'{"exp": Infinity}'),
        make_jwt(None, raw_payload=b"[" * 100_000),
        "a." + "A" * 20_000 + ".c",
    ],
)
def test_jwt_exp_junk_is_none(token: str) -> None:
    assert jwt_exp(token) is None


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"exp": 1_800_000_000}, 1_800_000_000.0),
        ({"exp": 1_800_000_000.5, "sub": "x"}, 1_800_000_000.5),
        ({"exp": 1e300}, 1e11),
        ({"exp": 10**30}, 1e11),
    ],
)
def test_jwt_exp_values(claims: dict[str, Any], expected: float) -> None:
    assert jwt_exp(make_jwt(claims)) == expected


def test_jwt_exp_padding_and_extra_segments_shape() -> None:
    # The payload segment length is not a multiple of 4 in one of these: padding is restored.
    for sub in ("a", "ab", "abc", "abcd"):
        assert jwt_exp(make_jwt({"sub": sub, "exp": 2_000_000_000})) == 2_000_000_000.0


def test_jwt_exp_integer_beyond_float_range() -> None:
    access = make_jwt(None, raw_payload=b'{"exp": 1' + b"0" * 400 + b"}")
    assert jwt_exp(access) == 1e11


# -- the exact words of a lenient answer, and of a refused one ---------------------------------


def test_one_warning_names_every_malformed_optional_field(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="requests_silentauth")
    payload = {"access_token": "a", "expires_in": "soon", "scope": [1, {}], "refresh_token": 5}
    token = Token.from_response(payload, sent_at=100.0)
    assert (token.refresh_token, token.scope, token.expires_at) == (None, None, None)
    nested = {"data": {"t": "a", "r": 5, "e": "soon"}}
    Token.from_response(
        nested,
        sent_at=100.0,
        token_field="data.t",
        refresh_field="data.r",
        expires_in_field="data.e",
    )
    assert [r.getMessage() for r in caplog.records] == [
        "the token response has a malformed optional field ('refresh_token', 'scope', "
        "'expires_in'); the token is used anyway",
        "the token response has a malformed optional field ('data.r', 'data.e'); the token is "
        "used anyway",
    ]


def test_fields_turned_off_are_not_read() -> None:
    payload = {"access_token": "a", "expires_in": "soon", "refresh_token": "r"}
    token = Token.from_response(payload, sent_at=100.0, expires_in_field=None, refresh_field=None)
    assert token.expires_at is None and token.refresh_token is None
    custom = {"t": "a", "token_type": "mac"}  # token_type is read only with access_token
    assert Token.from_response(custom, sent_at=1.0, token_field="t").token_type == "Bearer"


def test_an_unusable_token_type_is_refused_in_so_many_words() -> None:
    with pytest.raises(ValueError) as info:
        Token.from_response({"access_token": "a", "token_type": "x" * 50}, sent_at=1.0)
    assert str(info.value) == (
        f"token_type {'x' * 40!r} is not supported (only Bearer tokens can be sent)"
    )
    with pytest.raises(ValueError) as info:
        Token.from_response({"access_token": "a", "token_type": 7}, sent_at=1.0)
    assert str(info.value) == "the field 'token_type' is not a string"
    default = Token.from_response({"access_token": "a"}, sent_at=1.0)
    assert default.token_type == "Bearer"
