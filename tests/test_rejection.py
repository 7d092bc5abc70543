"""Rejected anyway: renew and resend once, the rejected response in history, no loops."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from requests_silentauth import (
    BasicToken,
    Header,
    InvalidCredentials,
    JsonLogin,
    MemoryStore,
    Query,
    SilentAuth,
)
from requests_silentauth.testing import TokenServer

from .conftest import PASSWORD, USER

MakeAuth = Callable[..., SilentAuth]


def test_revoked_token_is_renewed_and_the_request_resent_once(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    session.get(server.resource_url)
    server.revoke_access_tokens()
    r = session.get(server.resource_url)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    rejected = r.history[0]
    assert rejected.raw.closed or rejected.raw._fp is None  # drained and closed
    assert rejected.json()["error"] == "invalid_token"  # body still readable from history
    counts = server.counts
    assert counts["token:refresh_token"] == 1
    assert counts["api:rejected"] == 1
    assert counts["api:ok"] == 2


def test_a_server_that_always_rejects_costs_one_token_request_and_one_resend(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    r = session.get(server.url + "/api/always-reject")
    assert r.status_code == 401
    assert len(r.history) == 1
    counts = server.counts
    assert counts["token:password"] == 1  # the first token
    assert counts["token:refresh_token"] == 1  # exactly one extra token request
    assert counts["api:rejected"] == 2  # the request and its one resend


def test_configured_403_triggers_recovery(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    srv = server_factory(reject_status=403)
    session.auth = make_auth(srv, reauth_on=(401, 403))
    session.get(srv.resource_url)
    srv.revoke_access_tokens()
    r = session.get(srv.resource_url)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [403]


def test_403_is_not_a_rejection_unless_configured(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    srv = server_factory(reject_status=403)
    session.auth = make_auth(srv)
    session.get(srv.resource_url)
    srv.revoke_access_tokens()
    assert session.get(srv.resource_url).status_code == 403
    assert srv.counts["token:refresh_token"] == 0


def test_error_code_in_the_body_triggers_recovery(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    def expired(response: requests.Response) -> bool:
        try:
            return bool(response.json().get("code") == 401001)
        except ValueError:
            return False

    session.auth = make_auth(is_rejected=expired)
    url = server.url + "/api/body-error"
    assert session.get(url).json() == {"code": 0, "ok": True}
    server.revoke_access_tokens()
    r = session.get(url)
    assert r.json() == {"code": 0, "ok": True}
    assert len(r.history) == 1 and r.history[0].json()["code"] == 401001
    assert server.counts["token:refresh_token"] == 1


def test_insufficient_scope_is_not_a_reason_to_refresh(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth(reauth_on=(401, 403))
    r = session.get(server.url + "/api/insufficient-scope")
    assert r.status_code == 403
    assert r.history == []
    assert server.counts["token"] == 1


def test_a_401_from_another_origin_triggers_nothing(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    ours, other = server_factory(), server_factory()
    session.auth = make_auth(ours)
    r = session.get(other.resource_url)
    assert r.status_code == 401
    assert ours.counts["token"] == 0
    assert "authorization" not in {k.lower() for k in r.request.headers}


def test_cookies_and_hooks_behave_as_for_a_normal_request(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    session.get(server.url + "/api/set-cookie")
    server.revoke_access_tokens()
    seen: list[int] = []

    def hook(r: requests.Response, **kwargs: Any) -> None:
        seen.append(r.status_code)

    r = session.get(server.echo_url, hooks={"response": hook})
    assert r.status_code == 200
    assert seen == [200], "user hooks run once, on the final response"
    assert "session=abc" in r.json()["headers"].get("cookie", "")
    assert session.cookies.get("session") == "abc"


def _carried(body: dict[str, Any], header: str | None, prefix: str) -> str:
    """The token as the echo server saw it: the header value after ``prefix`` (base64 of
    "token:" for Basic), or the ``access_token`` query parameter."""
    if header is None:
        values: list[str] = parse_qs(body["query"])["access_token"]
        (token,) = values  # exactly one, never two
        return token
    seen: str = body["headers"][header]
    assert seen.startswith(prefix), seen
    token = seen[len(prefix) :]
    if prefix == "Basic ":
        user, colon, password = base64.b64decode(token).decode().partition(":")
        assert (colon, password) == (":", "")  # "token:", an empty password
        return user
    return token


@pytest.mark.parametrize(
    ("placement", "header", "prefix"),
    [
        (BasicToken(), "authorization", "Basic "),
        (Header("X-Auth-Token"), "x-auth-token", ""),
        (Query("access_token"), None, ""),
    ],
    ids=["basic", "header", "query"],
)
def test_placements_are_accepted_and_recovered(
    server: TokenServer,
    make_auth: MakeAuth,
    session: requests.Session,
    placement: Any,
    header: str | None,
    prefix: str,
) -> None:
    auth = make_auth(placement=placement)
    session.auth = auth
    body = session.get(server.echo_url, params={"x": "1"}).json()
    first = auth.token
    assert first is not None
    assert _carried(body, header, prefix) == first.access_token  # the token itself, as placed
    assert "x=1" in body["query"]
    assert "authorization" not in body["headers"] or header == "authorization"
    server.revoke_access_tokens()
    r = session.get(server.echo_url, params={"x": "1"})
    assert r.status_code == 200 and len(r.history) == 1
    renewed = auth.token
    assert renewed is not None and renewed.access_token != first.access_token
    assert _carried(r.json(), header, prefix) == renewed.access_token  # the resend: new token
    assert "x=1" in r.json()["query"]


def test_json_login_with_nested_fields_refresh_and_verify(
    server: TokenServer, session: requests.Session
) -> None:
    grant = JsonLogin(
        server.login_url,
        body={"account": "{username}", "secret": "{password}"},
        token_field="data.token",
        refresh_field="data.refresh",
        expires_in_field="data.expires",
        refresh_url=server.json_refresh_url,
        refresh_body={"refresh": "{refresh_token}"},
        verify_url=server.verify_url,
    )
    auth = SilentAuth(
        grant, username=USER, password=PASSWORD, store=MemoryStore(), origins=[server.url]
    )
    session.auth = auth
    assert session.get(server.resource_url).status_code == 200
    server.revoke_access_tokens()
    assert session.get(server.resource_url).status_code == 200
    counts = server.counts
    assert counts["json:login"] == 1 and counts["json:refresh"] == 1
    first = auth.token
    assert auth.verify() == first
    server.revoke_access_tokens()
    assert auth.verify() != first
    assert server.counts["json:verify"] == 2


def test_json_login_refused_carries_the_server_code(
    server: TokenServer, session: requests.Session
) -> None:
    grant = JsonLogin(server.login_url, body={"account": "{username}", "secret": "{password}"})
    session.auth = SilentAuth(grant, username=USER, password="bad", store=MemoryStore())
    with pytest.raises(InvalidCredentials) as info:
        session.get(server.resource_url)
    assert info.value.error == "40101"
    assert "bad account or secret" in str(info.value)


def test_login_callable(server: TokenServer, session: requests.Session) -> None:
    calls: list[str | None] = []

    def login(credentials: Any) -> str:
        calls.append(credentials.username)
        r = requests.post(
            server.login_url,
            data=json.dumps({"account": USER, "secret": PASSWORD}),
            timeout=5,
        )
        token: str = r.json()["data"]["token"]
        return token

    session.auth = SilentAuth(login, store=MemoryStore(), origins=[server.url])
    assert session.get(server.resource_url).status_code == 200
    server.revoke_access_tokens()
    assert session.get(server.resource_url).status_code == 200
    assert len(calls) == 2


def test_two_login_callables_never_share_a_stored_token(
    server_factory: Callable[..., TokenServer], session: requests.Session
) -> None:
    a, b = server_factory(), server_factory()
    store = MemoryStore()  # one store, as the default keyring would be for both scripts

    def login_to(srv: TokenServer) -> Callable[[Any], str]:
        def login(credentials: Any) -> str:
            r = requests.post(srv.login_url, json={"account": USER, "secret": PASSWORD}, timeout=5)
            token: str = r.json()["data"]["token"]
            return token

        return login

    auth_a = SilentAuth(login_to(a), store=store, origins=[a.url])
    auth_b = SilentAuth(login_to(b), store=store, origins=[b.url])
    assert session.get(a.resource_url, auth=auth_a).status_code == 200
    assert session.get(b.resource_url, auth=auth_b).status_code == 200
    assert auth_a.token != auth_b.token
    assert b.counts["api:rejected"] == 0  # b never saw a's token
