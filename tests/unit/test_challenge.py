"""``WWW-Authenticate`` parsing against RFC 7235 §4.1 / RFC 6750 §3 examples."""

from __future__ import annotations

import pytest

from requests_silentauth._challenge import MAX_HEADER, Challenge, bearer_error, parse_challenges


def test_multiple_challenges_in_one_header() -> None:
    header = (
        'Basic realm="a", Bearer error="invalid_token", '
        'error_description="The access token expired"'
    )
    assert parse_challenges(header) == [
        Challenge("basic", {"realm": "a"}),
        Challenge(
            "bearer",
            {"error": "invalid_token", "error_description": "The access token expired"},
        ),
    ]
    assert bearer_error(header) == "invalid_token"


def test_rfc7235_example_with_escaped_quotes() -> None:
    # RFC 7235 §4.1: one header field, two challenges, a quoted-pair inside a quoted-string.
    header = 'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'
    assert parse_challenges(header) == [
        Challenge("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        Challenge("basic", {"realm": "simple"}),
    ]
    assert bearer_error(header) is None


def test_rfc6750_examples() -> None:
    assert parse_challenges('Bearer realm="example"') == [Challenge("bearer", {"realm": "example"})]
    header = (
        'Bearer realm="example", error="invalid_token", '
        'error_description="The access token expired"'
    )
    (challenge,) = parse_challenges(header)
    assert challenge.params == {
        "realm": "example",
        "error": "invalid_token",
        "error_description": "The access token expired",
    }


def test_quoted_string_with_commas_quotes_and_backslashes() -> None:
    header = (
        'Bearer realm="a, \\"b\\", c", error="invalid_token", '
        'error_description="path C:\\\\tmp, then \\"x\\""'
    )
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == "bearer"
    assert challenge.params["realm"] == 'a, "b", c'
    assert challenge.params["error"] == "invalid_token"
    assert challenge.params["error_description"] == 'path C:\\tmp, then "x"'


def test_comma_inside_quotes_does_not_start_a_new_challenge() -> None:
    header = 'Bearer error_description="x, Basic realm=y", error="insufficient_scope"'
    challenges = parse_challenges(header)
    assert [c.scheme for c in challenges] == ["bearer"]
    assert challenges[0].params["error_description"] == "x, Basic realm=y"
    assert bearer_error(header) == "insufficient_scope"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Negotiate abc==", [Challenge("negotiate", {})]),
        ("Negotiate YIIBhwYGKwYBBQUC/+a.b~c", [Challenge("negotiate", {})]),
        (
            'Negotiate abc==, Bearer error="invalid_token"',
            [Challenge("negotiate", {}), Challenge("bearer", {"error": "invalid_token"})],
        ),
        (
            'NTLM, Basic realm="x"',
            [Challenge("ntlm", {}), Challenge("basic", {"realm": "x"})],
        ),
    ],
)
def test_token68(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ('Bearer error="invalid_token"', "invalid_token"),
        ('Bearer realm="x", error="insufficient_scope", scope="admin"', "insufficient_scope"),
        ('Bearer error="invalid_request"', "invalid_request"),
        ("Bearer error=invalid_token", "invalid_token"),  # token form, not quoted
        ('Bearer error = "invalid_token"', "invalid_token"),  # BWS around "=" (RFC 7235)
        ('BEARER ERROR="invalid_token"', "invalid_token"),  # scheme and names are case-blind
        ('Basic realm="x",Bearer error="insufficient_scope"', "insufficient_scope"),
        ('Bearer realm="x"', None),
        ("Bearer", None),
        ('Basic realm="x"', None),
    ],
)
def test_bearer_error(header: str, error: str | None) -> None:
    assert bearer_error(header) == error


def test_insufficient_scope_and_invalid_token_are_told_apart() -> None:
    scope = 'Bearer realm="api", error="insufficient_scope", scope="write"'
    expired = 'Bearer realm="api", error="invalid_token"'
    assert bearer_error(scope) == "insufficient_scope"
    assert bearer_error(expired) == "invalid_token"
    assert parse_challenges(scope)[0].params["scope"] == "write"


def test_error_value_case_is_kept_and_first_duplicate_wins() -> None:
    (challenge,) = parse_challenges('Bearer Error="Invalid_Token", error="other"')
    assert challenge.params == {"error": "Invalid_Token"}


def test_only_the_first_bearer_challenge_counts() -> None:
    header = 'Bearer realm="a", Bearer error="invalid_token"'
    assert [c.scheme for c in parse_challenges(header)] == ["bearer", "bearer"]
    assert bearer_error(header) is None


@pytest.mark.parametrize("header", [None, "", ",", " , ,\t, "])
def test_empty_header(header: str | None) -> None:
    assert parse_challenges(header) == []
    assert bearer_error(header) is None


@pytest.mark.parametrize(
    "header",
    [
        "\x00\x01\x02",
        '"""',
        "==== ,,,, ====",
        '=error="invalid_token"',
        '(Bearer) error="invalid_token"',
        'Bearer error="unterminated',
        "Bearer error=",
        "Bearer \\",
        "\u00e9\u00e9 realm=\u00e9",
        'Bearer\nerror="invalid_token"\r\n',
    ],
)
def test_garbage_never_raises(header: str) -> None:
    challenges = parse_challenges(header)
    assert isinstance(challenges, list)
    for challenge in challenges:
        assert isinstance(challenge, Challenge)
        assert challenge.scheme == challenge.scheme.lower()
        assert all(name == name.lower() for name in challenge.params)
    error = bearer_error(header)
    assert error is None or isinstance(error, str)


def test_unterminated_quote_gives_no_error_value() -> None:
    assert bearer_error('Bearer error="invalid_token') is None


def test_skips_junk_before_a_challenge() -> None:
    assert bearer_error('(junk), Bearer error="invalid_token"') == "invalid_token"


def test_header_is_read_only_up_to_max_header() -> None:
    padding = 'Basic realm="' + "x" * MAX_HEADER + '"'
    assert bearer_error(padding + ', Bearer error="invalid_token"') is None
    short = 'Basic realm="pad", Bearer error="invalid_token"'
    assert bearer_error(short) == "invalid_token"


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (
            'Basic abc==, Bearer error="insufficient_scope"',
            [Challenge("basic", {}), Challenge("bearer", {"error": "insufficient_scope"})],
        ),
        (
            'Negotiate abc=, Bearer realm="x"',
            [Challenge("negotiate", {}), Challenge("bearer", {"realm": "x"})],
        ),
        ("Bearer abc, x", [Challenge("bearer", {}), Challenge("x", {})]),
        (',Bearer realm="a"', [Challenge("bearer", {"realm": "a"})]),
        ("Foo a=b,c=d, Bar", [Challenge("foo", {"a": "b", "c": "d"}), Challenge("bar", {})]),
        ("Foo a=b,\tc=d", [Challenge("foo", {"a": "b", "c": "d"})]),
    ],
)
def test_token68_and_parameter_lists_side_by_side(header: str, parsed: list[Challenge]) -> None:
    assert parse_challenges(header) == parsed
