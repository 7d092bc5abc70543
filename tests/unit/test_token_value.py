"""The Token value refuses an access token that cannot go in a header (issue 7, behaviour 12)."""

from __future__ import annotations

import pytest

from requests_silentauth._token import Token

SECRET = "at-3e1f-secret"

BAD = [
    SECRET + "\r\nX-Injected: 1",  # header injection
    SECRET + "\n",
    SECRET + "\r",
    "\x00" + SECRET,
    SECRET + "\t",
    SECRET + "\x1b[0m",
    SECRET + "\x7f",
    SECRET + "\x85",  # NEL, a C1 control
    SECRET + "\u2028",  # LINE SEPARATOR: not Latin-1
    SECRET + "\u4e2d",
    SECRET + "\U0001f600",
]


@pytest.mark.parametrize("access", BAD)
def test_a_token_that_cannot_go_in_a_header_is_refused_without_quoting_it(access: str) -> None:
    with pytest.raises(ValueError, match="cannot be sent in an HTTP header") as info:
        Token(access)
    text = f"{info.value} {info.value.args!r}"
    assert SECRET not in text
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize("access", BAD)
def test_a_stored_token_that_cannot_go_in_a_header_is_a_malformed_record(access: str) -> None:
    with pytest.raises(ValueError, match="malformed") as info:
        Token.from_dict({"at": access})
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("access", BAD)
def test_a_token_response_with_such_a_token_is_refused(access: str) -> None:
    with pytest.raises(ValueError, match="HTTP header") as info:
        Token.from_response({"access_token": access}, sent_at=0.0)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "access",
    [
        "plain-ascii",
        "a.b.c",
        "with space",  # odd, but a header carries it unharmed
        "b64+/=~",
        "latin-1 \u00e9\u00ff\u00a0",
    ],
)
def test_header_safe_tokens_are_accepted(access: str) -> None:
    assert Token(access).access_token == access


def test_the_refresh_token_is_not_checked_it_never_goes_in_a_header() -> None:
    token = Token("at", refresh_token="rt\n\u4e2d")
    assert token.refresh_token == "rt\n\u4e2d"
