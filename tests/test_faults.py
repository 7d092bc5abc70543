"""The fault matrix: a real server misbehaving. Each row asserts a typed error or a correct
recovery, a bounded time, and that nothing stored is lost."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from requests_silentauth import (
    Account,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    TokenEndpointError,
)
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER

MakeAuth = Callable[..., SilentAuth]


class Rig:
    """A logged-in session whose store holds the password and a token set."""

    def __init__(self, server: TokenServer, make_auth: MakeAuth, **kwargs: Any) -> None:
        self.server = server
        self.store = MemoryStore()
        self.account = Account(server.token_url, USER)
        self.store.set_secret(self.account, PASSWORD)
        self.auth = make_auth(server, store=self.store, password=None, **kwargs)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.auth = self.auth
        assert self.session.get(server.resource_url).status_code == 200
        token = self.store.get_token(self.account)
        assert token is not None
        self.refresh_token = token.refresh_token

    def assert_nothing_lost(self) -> None:
        assert self.store.get_secret(self.account) == PASSWORD
        token = self.store.get_token(self.account)
        assert token is not None and token.refresh_token == self.refresh_token

    def get(self, **kwargs: Any) -> requests.Response:
        return self.session.get(self.server.resource_url, **kwargs)


@pytest.fixture
def rig(server: TokenServer, make_auth: MakeAuth) -> Iterator[Rig]:
    r = Rig(server, make_auth)
    yield r
    r.session.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_token_endpoint_refusing_connections(make_auth: MakeAuth, server: TokenServer) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/oauth/token"
    auth = make_auth(grant=PasswordGrant(dead), origins=[server.url])
    start = time.monotonic()
    with pytest.raises(TokenEndpointError) as info, requests.Session() as s:
        s.get(server.resource_url, auth=auth)
    assert info.value.retryable
    assert "could not reach" in str(info.value)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("retry_after", [None, "7"])
def test_token_endpoint_server_errors(rig: Rig, status: int, retry_after: str | None) -> None:
    rig.server.revoke_access_tokens()
    rig.server.fail_token_requests(1, status=status, retry_after=retry_after)
    with pytest.raises(TokenEndpointError) as info:
        rig.get()
    assert info.value.retryable and info.value.status_code == status
    # nothing that travels with the error holds the password or the client secret
    assert info.value.response is None and info.value.request is None
    assert info.value.__cause__ is None
    assert info.value.retry_after == (7.0 if retry_after else None)
    rig.assert_nothing_lost()
    assert rig.get().status_code == 200  # recovers once the server does


def test_hanging_token_endpoint_is_bounded_by_token_timeout(
    server: TokenServer, make_auth: MakeAuth
) -> None:
    rig = Rig(server, make_auth, token_timeout=0.5)
    server.revoke_access_tokens()
    server.token_delay = 3.0
    start = time.monotonic()
    with pytest.raises(TokenEndpointError, match="did not answer in time") as info:
        rig.get()
    assert time.monotonic() - start < 2.5
    assert info.value.retryable
    server.token_delay = 0.0
    rig.assert_nothing_lost()


def test_a_users_timeout_bounds_token_requests_made_on_its_behalf(rig: Rig) -> None:
    rig.server.revoke_access_tokens()
    rig.server.token_delay = 3.0
    start = time.monotonic()
    with pytest.raises(TokenEndpointError):
        rig.get(timeout=0.4)  # the rejection path sees timeout=0.4: token_timeout=10 loses
    assert time.monotonic() - start < 2.5
    rig.server.token_delay = 0.0


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (b"<html><body>Login</body></html>", "not a JSON object"),
        (b"not json at all", "not a JSON object"),
        ({"token_type": "Bearer", "expires_in": 60}, "no string field 'access_token'"),
        ({"access_token": "at-mac", "token_type": "mac"}, "not supported"),
        ({"access_token": "at-x", "expires_in": "soon"}, "not a number of seconds"),
    ],
    ids=["html", "text", "no-access-token", "mac-token-type", "bad-expires-in"],
)
def test_unusable_token_responses(rig: Rig, override: Any, match: str) -> None:
    rig.server.revoke_access_tokens()
    rig.server.token_response_override = override
    with pytest.raises(TokenEndpointError, match=match) as info:
        rig.get()
    assert not info.value.retryable
    rig.server.token_response_override = None
    rig.assert_nothing_lost()


@pytest.mark.parametrize(
    ("expires_in", "expect_expiry"),
    [(None, False), (0, False), (-30, False), ("120", True), (10**12, True)],
    ids=["missing", "zero", "negative", "string", "absurd"],
)
def test_odd_expires_in_values_still_work(rig: Rig, expires_in: Any, expect_expiry: bool) -> None:
    rig.server.revoke_access_tokens()
    override: dict[str, Any] = {"access_token": f"at-odd-{expires_in}", "token_type": "bearer"}
    if expires_in is not None:
        override["expires_in"] = expires_in
    rig.server.token_response_override = override
    assert rig.get().status_code == 200
    rig.server.token_response_override = None
    token = rig.auth.token
    assert token is not None and token.access_token == override["access_token"]
    assert (token.expires_at is not None) is expect_expiry
    before = rig.server.counts["token"]
    for _ in range(5):  # no token request per request, whatever the server said
        assert rig.get().status_code == 200
    assert rig.server.counts["token"] == before
    assert token.refresh_token == rig.refresh_token  # omitted refresh token: the old one kept


def test_transient_failure_while_the_token_is_still_valid_keeps_using_it(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth
) -> None:
    srv = server_factory(access_lifetime=4.0)
    rig = Rig(srv, make_auth)  # leeway 30 s capped at 2 s
    time.sleep(2.1)
    srv.fail_token_requests(1, status=503)
    assert rig.get().status_code == 200  # early refresh failed: the valid token is used
    assert srv.counts["token:refresh_token"] == 1
    for _ in range(5):  # and not retried on every request meanwhile
        assert rig.get().status_code == 200
    assert srv.counts["token:refresh_token"] == 1
    time.sleep(2.0)  # expired now: the next request renews for real
    assert rig.get().status_code == 200
    assert srv.counts["token:refresh_token"] == 2
    assert srv.counts["api:rejected"] == 0


def test_clock_jump_expired_token_is_recovered_through_rejection(rig: Rig) -> None:
    # The process slept: the server considers the token expired, our clock does not.
    rig.server.expire_access_tokens()
    r = rig.get()
    assert r.status_code == 200 and [h.status_code for h in r.history] == [401]


def test_a_resource_that_rejects_forever_is_bounded(rig: Rig) -> None:
    start = time.monotonic()
    for _ in range(3):
        assert rig.session.get(rig.server.url + "/api/always-reject").status_code == 401
    assert rig.server.counts["token:refresh_token"] == 3
    assert rig.server.counts["api:rejected"] == 6
    assert time.monotonic() - start < 5


def test_client_id_is_sent_and_secret_never_logged(
    server: TokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    auth = SilentAuth(
        PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        username=USER,
        password=PASSWORD,
        store=MemoryStore(),
    )
    assert auth.get_token().access_token.startswith("at-")
    assert CLIENT_SECRET not in caplog.text
