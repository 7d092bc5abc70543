"""Property-based tests for every parser that reads data from a server.

Each parser must stay inside its contract on any input: return a value of the promised shape, or
raise ``ValueError`` (never another exception type), and never echo a secret in a message.

The inputs that once broke a contract (non-decimal digits such as "\u00b2", 400-digit JSON
integers, several trailing dots) are pinned by the regression tests at the end of this file.
"""

from __future__ import annotations

import base64
import json
import math
import re
import string
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from requests_silentauth._challenge import Challenge, bearer_error, parse_challenges
from requests_silentauth._endpoint import _retry_after
from requests_silentauth._origins import OriginSet
from requests_silentauth._token import MAX_LIFETIME, Token, jwt_exp, lookup

# -- strategies ---------------------------------------------------------------------------------

#: JSON integers: any size (beyond ~1.8e308 they cannot become a float).
ints = st.integers(min_value=-(10**400), max_value=10**400)
json_scalars = (
    st.none()
    | st.booleans()
    | ints
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: Any) -> str:
    return f"{b64url(b'{}')}.{b64url(json.dumps(claims).encode())}.sig"


#: A usable ``exp`` (a positive number of seconds since the epoch), so that the branch that
#: schedules by a JWT's ``exp`` is reached by generated examples, not only by @example.
positive_exps = st.integers(min_value=1, max_value=10**12) | st.floats(
    min_value=1e-3, max_value=1e13
)
jwt_claims = st.fixed_dictionaries(
    {},
    optional={
        "exp": json_scalars | positive_exps,
        "sub": st.text(max_size=10),
        "iat": ints,
    },
)
jwts = jwt_claims.map(_jwt) | json_values.map(_jwt)
#: Secrets are distinctive (prefixed) so that "the message does not contain the secret" cannot
#: fail by chance on a value that also occurs in a non-secret field.
access_values = st.text(min_size=6, max_size=40).map(lambda s: "AT\u00a7" + s) | jwts | json_values
refresh_values = st.text(min_size=6, max_size=40).map(lambda s: "RT\u00a7" + s) | json_values
#: ``expires_in`` may be any JSON number, far beyond the float range too.
huge_ints = st.integers(min_value=10**300, max_value=10**400) | st.integers(
    min_value=-(10**400), max_value=-(10**300)
)
expires_values = (
    st.integers(min_value=-10, max_value=10**8)
    | st.floats(min_value=-1.0, max_value=1e12)
    | st.integers(min_value=-10, max_value=10**8).map(lambda n: f" {n}")
    | json_values
    | huge_ints
    | ints.map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(str)
    | st.sampled_from(["nan", "inf", "-inf", " 60 ", "1e999", "0", "-1", "3600.5", ""])
)
token_types = st.sampled_from(["Bearer", "bearer", "BEARER", "mac", "DPoP", ""]) | json_values
_optional_fields = {
    "refresh_token": refresh_values,
    "token_type": token_types,
    "expires_in": expires_values,
    "scope": json_values,
}
#: An answer whose only lifetime is a usable JWT ``exp`` (no usable ``expires_in``).
jwt_only = st.fixed_dictionaries(
    {"access_token": positive_exps.map(lambda exp: _jwt({"exp": exp}))},
    optional={"expires_in": st.sampled_from([None, 0, -1, -(10**400)])},
)
payloads = st.tuples(
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    # Mostly answers with an access token (so the later fields are reached), some without.
    st.fixed_dictionaries(
        {"access_token": access_values, "expires_in": expires_values},
        optional={k: v for k, v in _optional_fields.items() if k != "expires_in"},
    )
    | st.fixed_dictionaries({"access_token": access_values}, optional=_optional_fields)
    | st.fixed_dictionaries({}, optional={"access_token": access_values, **_optional_fields})
    | jwt_only,
).map(lambda pair: {**pair[0], **pair[1]})

#: Text that is sometimes long (beyond MAX_HEADER) without generating megabytes of data.
long_text = st.tuples(st.text(max_size=30), st.integers(1, 1200)).map(lambda t: t[0] * t[1])
header_fragments = st.sampled_from(
    [
        "Bearer",
        "Basic",
        "Negotiate",
        " ",
        ",",
        "=",
        '"',
        "\\",
        "\t",
        "realm",
        "error",
        "invalid_token",
        "abc==",
        'realm="x"',
        'error="invalid_token"',
        "\u00e9",
        "\x00",
        ", ",
        'Bearer error="invalid_token"',
        'Bearer realm="x", error="insufficient_scope"',
        'Basic realm="a, b"',
    ]
)
header_texts = st.text() | long_text | st.lists(header_fragments, max_size=40).map("".join)

_TOKEN_CHARS = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits
rfc_tokens = st.text(alphabet=_TOKEN_CHARS, min_size=1, max_size=30)


# -- Token.from_response ------------------------------------------------------------------------


def _secrets_in(payload: dict[str, Any]) -> list[str]:
    return [
        value
        for value in (payload.get("access_token"), payload.get("refresh_token"))
        if isinstance(value, str) and len(value) >= 8
    ]


def _positive_seconds(raw: Any) -> float | None:
    """The spec for ``expires_in``: a positive number of seconds (or its decimal string),
    capped at MAX_LIFETIME. Zero or negative means "no lifetime" (the current design)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            return None
    if not isinstance(raw, int | float) or raw != raw or raw <= 0:
        return None
    return float(min(raw, MAX_LIFETIME))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads, st.floats(min_value=0, max_value=4e9))
@example({"access_token": "AT\u00a7secret-1", "expires_in": True}, 0.0)
@example({"access_token": "AT\u00a7secret-2", "token_type": "mac"}, 0.0)
@example({"access_token": "AT\u00a7secret-3", "refresh_token": 5}, 0.0)
@example({"access_token": 5, "refresh_token": "RT\u00a7secret-4"}, 0.0)
@example({"access_token": _jwt({"exp": 1e300}), "expires_in": None}, 1.0)
@example({"access_token": _jwt({"exp": 5}), "expires_in": 0}, 1.0)
@example({"access_token": "AT\u00a7secret-5", "expires_in": 10**400}, 1.0)
@example({"access_token": "AT\u00a7secret-6", "expires_in": -(10**400)}, 1.0)
def test_from_response_returns_token_or_value_error(
    payload: dict[str, Any], sent_at: float
) -> None:
    try:
        token = Token.from_response(payload, sent_at=sent_at)
    except ValueError as exc:
        event("refused" + (" (with a secret)" if _secrets_in(payload) else ""))
        text = f"{exc} {exc.args!r}"
        for secret in _secrets_in(payload):
            assert secret not in text
        return
    assert isinstance(token, Token)
    assert token.access_token == payload["access_token"]
    assert token.token_type == "Bearer"
    assert token.issued_at == sent_at
    assert token.refresh_token is None or token.refresh_token == payload.get("refresh_token")
    assert token.scope is None or isinstance(token.scope, str)
    raw = payload.get("expires_in")
    seconds = _positive_seconds(raw)
    exp = jwt_exp(token.access_token)
    if seconds is not None:
        event("accepted: lifetime from expires_in")
        assert token.expires_at == sent_at + seconds
        assert sent_at <= token.expires_at <= sent_at + MAX_LIFETIME
    elif exp is not None and exp > sent_at and (raw is None or _is_number(raw)):
        # No expires_in (or zero or less): the JWT's future exp says when to renew.
        event("accepted: lifetime from the JWT exp")
        assert token.expires_at == exp
    elif token.expires_at is not None:  # no usable expires_in: only a JWT exp may count
        event("accepted: some other lifetime")
        assert math.isfinite(token.expires_at)
        assert 0 < token.expires_at <= 1e11
        assert token.expires_at == exp
    for secret in _secrets_in(payload):
        assert secret not in repr(token)


@settings(max_examples=300, deadline=None)
@given(json_values, st.text(max_size=30), st.booleans())
def test_from_response_on_any_field_paths(payload: Any, path: str, bearer: bool) -> None:
    # Random paths into random JSON: only the contract (a Token or ValueError) is checked here;
    # a path that leads somewhere is the next test's job (random ones almost never do).
    wrapped = {"data": payload}
    try:
        token = Token.from_response(
            wrapped,
            sent_at=0.0,
            token_field="data." + path,
            refresh_field="data." + path,
            expires_in_field="data." + path,
            require_bearer=bearer,
        )
    except ValueError:
        return
    assert token.access_token == lookup(wrapped, "data." + path)


path_keys = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=6)


@st.composite
def nested_fields(draw: st.DrawFn) -> tuple[dict[str, Any], str, str, str]:
    """An answer with an access token, a refresh token and a lifetime at three dotted paths
    (through objects and list indexes, under three distinct first keys), plus junk around
    them; returns the answer and the three paths."""
    answer: dict[str, Any] = draw(st.dictionaries(path_keys, json_values, max_size=2))
    roots = draw(st.lists(path_keys, min_size=3, max_size=3, unique=True))
    leaves = (
        draw(rfc_tokens.map(lambda s: "AT-" + s)),
        draw(rfc_tokens.map(lambda s: "RT-" + s)),
        draw(st.integers(min_value=1, max_value=10**6)),
    )
    paths = []
    for root, leaf in zip(roots, leaves, strict=True):
        keys = [root, *draw(st.lists(path_keys, max_size=2))]
        node: Any = answer
        path: list[str] = []
        for key in keys[:-1]:
            inner: dict[str, Any] = {}
            if draw(st.booleans()):  # through a list: {"key": [junk..., {...}]}
                junk = draw(st.lists(json_scalars, max_size=2))
                node[key] = [*junk, inner]
                path += [key, str(len(junk))]
            else:
                node[key] = inner
                path.append(key)
            node = inner
        node[keys[-1]] = leaf
        paths.append(".".join([*path, keys[-1]]))
    return answer, paths[0], paths[1], paths[2]


@settings(max_examples=300, deadline=None)
@given(nested_fields(), st.floats(min_value=0, max_value=4e9))
@example(
    ({"data": {"token": "AT-x", "refresh": "RT-y", "expires": 60}}, "data.token",
     "data.refresh", "data.expires"),
    10.0,
)  # fmt: skip
@example(({"d": [0, {"t": "AT-x"}], "r": "RT-y", "e": 5}, "d.1.t", "r", "e"), 0.0)
def test_from_response_reads_nested_fields(
    fields: tuple[dict[str, Any], str, str, str], sent_at: float
) -> None:
    answer, token_path, refresh_path, expires_path = fields
    event(f"{max(p.count('.') for p in fields[1:]) + 1} steps deep")
    token = Token.from_response(
        answer,
        sent_at=sent_at,
        token_field=token_path,
        refresh_field=refresh_path,
        expires_in_field=expires_path,
    )
    assert token.access_token.startswith("AT-")
    assert token.access_token == lookup(answer, token_path)
    assert token.refresh_token is not None and token.refresh_token.startswith("RT-")
    assert token.refresh_token == lookup(answer, refresh_path)
    assert token.expires_at == sent_at + lookup(answer, expires_path)


# -- jwt_exp ------------------------------------------------------------------------------------


def _check_exp(value: float | None) -> None:
    assert value is None or (isinstance(value, float) and math.isfinite(value) and value > 0)


@settings(max_examples=300, deadline=None)
@given(
    st.text()
    | long_text
    | jwts
    | st.lists(st.text(max_size=12), min_size=3, max_size=3).map(".".join)
)
def test_jwt_exp_on_any_text(token: str) -> None:
    exp = jwt_exp(token)
    event("an exp" if exp is not None else "no exp")
    _check_exp(exp)


b64_junk = (
    st.text(alphabet=string.ascii_letters + string.digits + "-_=+/", max_size=60)
    | st.binary(max_size=60).map(b64url)
    | json_values.map(lambda v: b64url(json.dumps(v).encode()))
    | jwt_claims.map(lambda c: b64url(json.dumps(c).encode()))
)


@settings(max_examples=300, deadline=None)
@given(b64_junk, b64_junk, b64_junk)
def test_jwt_exp_on_dotted_base64_junk(header: str, payload: str, signature: str) -> None:
    _check_exp(jwt_exp(f"{header}.{payload}.{signature}"))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10**300) | st.floats(min_value=1e-3, max_value=1e300))
def test_jwt_exp_reads_a_positive_exp(exp: float) -> None:
    assert jwt_exp(_jwt({"exp": exp})) == float(min(exp, 1e11))


# -- WWW-Authenticate ---------------------------------------------------------------------------


def _check_challenges(challenges: list[Challenge]) -> None:
    assert isinstance(challenges, list)
    for challenge in challenges:
        assert isinstance(challenge, Challenge)
        assert challenge.scheme
        assert challenge.scheme == challenge.scheme.lower()
        assert all(isinstance(v, str) for v in challenge.params.values())
        assert all(name == name.lower() for name in challenge.params)


@settings(max_examples=300, deadline=None)
@given(header_texts)
def test_parse_challenges_never_raises(header: str) -> None:
    _check_challenges(parse_challenges(header))
    error = bearer_error(header)
    assert error is None or isinstance(error, str)


@settings(max_examples=300, deadline=None)
@given(
    rfc_tokens,
    st.text(alphabet=st.characters(blacklist_characters='"\\\r\n'), max_size=20),
    st.booleans(),
    st.sampled_from(["Bearer", "bearer", "BEARER"]),
)
def test_well_formed_bearer_error_is_read(
    error: str, realm: str, quoted: bool, scheme: str
) -> None:
    value = f'"{error}"' if quoted else error
    header = f'{scheme} realm="{realm}", error={value}'
    challenges = parse_challenges(header)
    assert challenges == [Challenge("bearer", {"realm": realm, "error": error})]
    assert bearer_error(header) == error
    # After another challenge, too.
    assert bearer_error(f'Basic realm="{realm}", {header}') == error


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=40))
def test_quoted_pairs_round_trip(description: str) -> None:
    quoted = re.sub(r'(["\\])', r"\\\1", description)
    header = f'Bearer error="invalid_token", error_description="{quoted}"'
    assert parse_challenges(header)[0].params == {
        "error": "invalid_token",
        "error_description": description,
    }


# -- lookup -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(json_values, st.text(max_size=30) | st.lists(rfc_tokens, max_size=5).map(".".join))
def test_lookup_never_raises(payload: Any, path: str) -> None:
    lookup(payload, path)


@settings(max_examples=300, deadline=None)
@given(json_scalars, st.text(alphabet=string.ascii_letters, min_size=1, max_size=5))
def test_lookup_finds_what_was_nested(value: Any, key: str) -> None:
    payload = {"outer": [{"x": 0}, {key: value}]}
    assert lookup(payload, f"outer.1.{key}") is value  # the very object (NaN included)
    assert lookup(payload, f"outer.2.{key}") is None


# -- Retry-After --------------------------------------------------------------------------------

http_dates = st.builds(
    "{}, {:02d} {} {} {:02d}:{:02d}:{:02d} {}".format,
    st.sampled_from(["Mon", "Sun", "Xyz"]),
    st.integers(0, 40),
    st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
    st.integers(-10, 100_000),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["GMT", "-0000", "+9999", "-2400", "+2359", "UT", "EST", "XYZ", ""]),
)


@settings(max_examples=300, deadline=None)
@given(st.text() | http_dates | ints.map(str) | long_text, st.floats(min_value=0, max_value=4e9))
@example("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0)
@example("99999999999999999999", 0.0)
def test_retry_after_never_raises(value: str, now: float) -> None:
    result = _retry_after(value, now)
    assert result is None or (isinstance(result, float) and 0.0 <= result <= 86400.0)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**30))
def test_retry_after_seconds(seconds: int) -> None:
    assert _retry_after(str(seconds), 0.0) == float(min(seconds, 86400))


# -- origin matching ----------------------------------------------------------------------------

API = OriginSet.parse(["https://api.example.com"])


def _expected_allowed(url: str) -> bool:
    """The spec, written independently: https, host exactly api.example.com (any case, one
    optional trailing dot), port 443 (explicit or default)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    return (
        parts.scheme.lower() == "https"
        and host.lower() in ("api.example.com", "api.example.com.")
        and port in (None, 443)
    )


#: Any text after a prefix that is, or looks like, the allowed origin: plain random text is
#: never allowed, so without these the "allowed" branch below would never be reached.
origin_prefixes = st.sampled_from(
    ["https://api.example.com", "https://api.example.com/", "https://API.example.com:443",
     "https://api.example.com.", "https://api.example.co", "http://api.example.com", ""]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text() | long_text | st.tuples(origin_prefixes, st.text(max_size=20)).map("".join))
@example("https://api.example.com/")
@example("https://api.example.com.evil.test/")
def test_origin_matching_on_any_text(url: str) -> None:
    allowed = API.allows(url)
    assert isinstance(allowed, bool)
    event("allowed" if allowed else "refused")
    if allowed:
        assert _expected_allowed(url)


_junk = st.sampled_from(["", "@", ":", "/", "\\", "?", "#", "[", "]", ".", "%2e", " ", "\u3002"])
urls = st.tuples(
    st.sampled_from(["https://", "HTTPS://", "http://", "ftp://", "//", "https:", ""]),
    st.sampled_from(["", "", "user:pw@", "api.example.com@", "@"]),
    st.sampled_from(
        [
            "api.example.com",
            "API.Example.COM",
            "api.example.com.",
            "evil.test",
            "api.example.co",
            "api.example.com.evil.test",
            "xapi.example.com",
            "api.ex\uff41mple.com",
            "[::1]",
            "",
        ]
    ),
    st.sampled_from(["", "", ":443", ":0443", ":8443", ":80", ":", ":x", ":99999", ":-1"]),
    st.sampled_from(["", "/", "/p?q=1", "?x", "#f", "/@evil.test", "\\@evil.test"]),
    st.just("") | st.lists(_junk, max_size=3).map("".join),
).map("".join)


@settings(max_examples=300, deadline=None)
@given(urls)
@example("https://API.example.COM:443/path?q=1")
@example("https://api.example.com./")
@example("https://api.example.com@evil.test/")
@example("https://evil.test/?https://api.example.com")
@example("http://api.example.com/")
@example("http://api.example.com:443/")
@example("https://api.example.com:8443/")
def test_origin_matching_agrees_with_the_spec(url: str) -> None:
    assert API.allows(url) == _expected_allowed(url)


# -- known bugs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("exp", [10**400, -(10**400)], ids=["1e400", "-1e400"])
def test_regression_jwt_exp_huge_integer(exp: int) -> None:
    access = _jwt({"exp": exp})
    assert jwt_exp(access) in (None, 1e11)
    Token.from_response({"access_token": access}, sent_at=0.0)


@pytest.mark.parametrize(
    "part", ["\u00b2", "1\u00b2", "\u2460", "9" * 5000], ids=["sup2", "1sup2", "circled1", "5000x9"]
)
def test_regression_lookup_non_decimal_digits(part: str) -> None:
    assert lookup({"a": [1, 2, 3]}, "a." + part) is None


@pytest.mark.parametrize("value", ["\u00b2", "\u00b3\u00b9", "\u2460"])
def test_regression_retry_after_non_decimal_digits(value: str) -> None:
    result = _retry_after(value, 0.0)
    assert result is None or 0.0 <= result <= 86400.0


@pytest.mark.parametrize("url", ["https://api.example.com../", "https://api.example.com.../x"])
def test_regression_origin_many_trailing_dots(url: str) -> None:
    assert not API.allows(url)
