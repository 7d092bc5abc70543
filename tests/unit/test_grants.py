"""Grants against an in-memory token client: what they send, how they read answers, and that no
error they raise can reach a secret (issue 7, behaviours 10, 12, 17)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest
import requests

from requests_silentauth import (
    ClientCredentials,
    InvalidCredentials,
    JsonLogin,
    PasswordGrant,
    TokenEndpointError,
)
from requests_silentauth._endpoint import Answer, Timeout, TokenClient
from requests_silentauth._errors import WITHHELD
from requests_silentauth._grants import CallableLogin, Credentials
from requests_silentauth._token import Token

URL = "https://id.example.com/oauth/token"
PASSWORD = "pw-0b7e-secret"
SECRET = "cs-9f2d-secret"
REFRESH = "rt-44aa-secret"
ACCESS = "at-13c5-secret"
NOW = 1_700_000_000.0


class FakeClient(TokenClient):
    """Answers posts from a script, records them; never opens a socket."""

    def __init__(self, *answers: Answer) -> None:
        super().__init__(clock=lambda: NOW)
        self.answers = list(answers)
        self.posts: list[dict[str, Any]] = []

    def post(
        self,
        url: str,
        *,
        timeout: Timeout,
        data: Mapping[str, str] | None = None,
        json_body: Any = None,
        auth: tuple[str, str] | None = None,
        what: str = "credentials",
    ) -> Answer:
        self.posts.append(
            {"url": url, "timeout": timeout, "data": data, "json": json_body, "auth": auth}
        )
        return self.answers.pop(0)


def answer(status: int, payload: Any, url: str = URL) -> Answer:
    return Answer(status, payload, NOW - 1, url)


def creds(username: str | None = "alice") -> Credentials:
    return Credentials(username, lambda: PASSWORD)


def assert_no_secret(exc: BaseException) -> None:
    assert exc.__cause__ is None and exc.__context__ is None
    texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    for secret in (PASSWORD, SECRET, REFRESH, ACCESS):
        assert all(secret not in text for text in texts)


# -- what is sent -------------------------------------------------------------------------------


def test_the_budget_goes_to_the_one_request_unchanged() -> None:
    client = FakeClient(answer(200, {"access_token": ACCESS}))
    PasswordGrant(URL, client_id="cli", client_secret=SECRET).login(client, creds(), 2.5)
    assert client.posts[0]["timeout"] == 2.5


def test_client_secret_in_basic_is_form_encoded_first() -> None:
    client = FakeClient(answer(200, {"access_token": ACCESS}))
    PasswordGrant(URL, client_id="c i", client_secret="s:/").login(client, creds(), 1.0)
    assert client.posts[0]["auth"] == ("c%20i", "s%3A%2F")
    assert "client_secret" not in client.posts[0]["data"]


def test_client_secret_in_body() -> None:
    client = FakeClient(answer(200, {"access_token": ACCESS}))
    grant = ClientCredentials(URL, client_id="cli", client_secret=SECRET, client_auth="body")
    grant.login(client, creds(None), 1.0)
    assert client.posts[0]["auth"] is None
    assert client.posts[0]["data"]["client_secret"] == SECRET


# -- unusable answers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"token_type": "Bearer"},
        {"access_token": ACCESS, "token_type": "mac"},
        {"access_token": ACCESS + "\r\nX-Evil: 1"},
        {"access_token": ACCESS + "\u4e2d"},
    ],
    ids=["missing", "mac", "crlf", "non-latin-1"],
)
def test_an_unusable_token_is_a_typed_error_with_no_context(payload: dict[str, Any]) -> None:
    client = FakeClient(answer(200, payload))
    grant = PasswordGrant(URL, client_id="cli", client_secret=SECRET)
    with pytest.raises(TokenEndpointError) as info:
        grant.login(client, creds(), 1.0)
    assert not info.value.retryable and info.value.status_code == 200
    assert "id.example.com" in str(info.value)
    assert_no_secret(info.value)


def test_a_header_unsafe_token_from_a_json_login_is_refused_too() -> None:
    client = FakeClient(answer(200, {"data": {"token": ACCESS + "\n"}}))
    grant = JsonLogin(URL, token_field="data.token")
    with pytest.raises(TokenEndpointError, match="HTTP header") as info:
        grant.login(client, creds(), 1.0)
    assert_no_secret(info.value)


def test_malformed_optional_fields_are_lenient(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="requests_silentauth")
    payload = {"access_token": ACCESS, "expires_in": "soon", "scope": 7, "refresh_token": 1}
    client = FakeClient(answer(200, payload))
    token = PasswordGrant(URL).login(client, creds(), 1.0)
    assert token.access_token == ACCESS
    assert (token.expires_at, token.scope, token.refresh_token) == (None, None, None)
    assert len(caplog.records) == 1
    assert ACCESS not in caplog.text


# -- refusals never quote our secrets -------------------------------------------------------------


def test_a_password_echoed_in_a_refusal_is_blanked() -> None:
    refusal = {"error": "invalid_grant", "error_description": f"password {PASSWORD} is wrong"}
    client = FakeClient(answer(400, refusal))
    with pytest.raises(InvalidCredentials) as info:
        PasswordGrant(URL, client_id="cli", client_secret=SECRET).login(client, creds(), 1.0)
    assert "invalid_grant" in str(info.value)
    assert info.value.error_description == WITHHELD
    assert_no_secret(info.value)


def test_a_client_secret_echoed_in_a_refusal_is_blanked() -> None:
    refusal = {"error": f"bad_{SECRET}", "error_description": f"secret {SECRET}"}
    client = FakeClient(answer(401, refusal))
    grant = ClientCredentials(URL, client_id="cli", client_secret=SECRET)
    with pytest.raises(TokenEndpointError) as info:
        grant.login(client, creds(None), 1.0)
    assert_no_secret(info.value)


def test_a_refresh_token_echoed_in_a_refusal_is_blanked() -> None:
    refusal = {"error": "invalid_scope", "error_description": f"{REFRESH} has no scope"}
    client = FakeClient(answer(400, refusal))
    grant = PasswordGrant(URL, client_id="cli", client_secret=SECRET)
    with pytest.raises(TokenEndpointError) as info:
        grant.refresh(client, Token(ACCESS, REFRESH), 1.0)
    assert "invalid_scope" in str(info.value) and WITHHELD in str(info.value)
    assert_no_secret(info.value)


def test_an_introspection_refusal_never_quotes_the_token() -> None:
    refusal = {"error": "invalid_request", "error_description": f"token {ACCESS}"}
    client = FakeClient(answer(400, refusal, URL + "/introspect"))
    grant = PasswordGrant(URL, client_secret=SECRET, introspection_url=URL + "/introspect")
    with pytest.raises(TokenEndpointError) as info:
        grant.verify(client, Token(ACCESS, REFRESH), 1.0)
    assert_no_secret(info.value)


def test_a_json_login_refusal_never_quotes_the_password() -> None:
    client = FakeClient(answer(401, {"code": 401, "message": f"wrong: {PASSWORD}"}))
    with pytest.raises(InvalidCredentials) as info:
        JsonLogin(URL).login(client, creds(), 1.0)
    assert_no_secret(info.value)


def test_a_short_password_in_ordinary_server_text_is_not_looked_for() -> None:
    # "bad" in "bad account" is a coincidence, not an echo (and blanking it would tell).
    client = FakeClient(answer(401, {"code": 40101, "message": "bad account or secret"}))
    with pytest.raises(InvalidCredentials, match="bad account or secret"):
        JsonLogin(URL).login(client, Credentials("alice", lambda: "bad"), 1.0)


def test_refresh_invalid_grant_is_none() -> None:
    client = FakeClient(answer(400, {"error": "invalid_grant"}))
    assert PasswordGrant(URL).refresh(client, Token(ACCESS, REFRESH), 1.0) is None


# -- the login callable ---------------------------------------------------------------------------


def test_a_failing_login_callable_is_not_chained() -> None:
    prepared = requests.Request("POST", URL, data={"password": PASSWORD}).prepare()

    def fn(credentials: Credentials) -> str:
        raise requests.ConnectionError("refused", request=prepared)

    with pytest.raises(TokenEndpointError, match="ConnectionError") as info:
        CallableLogin(fn).login(FakeClient(), creds(), 1.0)
    assert info.value.retryable
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "result",
    [ACCESS + "\r\nX: y", {"access_token": ACCESS + "\n"}, {"token_type": "Bearer"}],
    ids=["string", "mapping", "mapping-without-token"],
)
def test_an_unusable_token_from_a_login_callable_is_a_typed_error(result: Any) -> None:
    with pytest.raises(TokenEndpointError) as info:
        CallableLogin(lambda c: result).login(FakeClient(), creds(), 1.0)
    assert not info.value.retryable
    assert_no_secret(info.value)


def test_a_login_callable_string_is_a_token_issued_now() -> None:
    token = CallableLogin(lambda c: ACCESS).login(FakeClient(), creds(), 1.0)
    assert token.access_token == ACCESS and token.issued_at == NOW


def test_a_login_callable_returning_junk_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="int"):
        CallableLogin(lambda c: 5).login(FakeClient(), creds(), 1.0)  # type: ignore[arg-type,return-value]
