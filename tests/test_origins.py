"""Tokens go only to the configured origins, never over plain http but to loopback.

Two TokenServers on 127.0.0.1 are two origins (different ports). Names other than loopback are
checked against the matcher without I/O: nothing here resolves a name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import requests

from requests_silentauth import (
    BasicToken,
    Bearer,
    Header,
    InsecureTransportError,
    PasswordGrant,
    Query,
    SilentAuth,
)
from requests_silentauth._origins import OriginSet, check_transport, is_loopback, origin_of
from requests_silentauth.testing import TokenServer

from .conftest import wire

MakeAuth = Callable[..., SilentAuth]
PLACEMENTS = [Bearer(), BasicToken(), Header("X-Auth-Token"), Query("access_token")]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.com/x", True),
        ("https://API.Example.com:443/x?y=1", True),
        ("https://api.example.com./x", True),
        ("https://api.example.com.evil.test/x", False),
        ("https://evil.test/?https://api.example.com", False),
        ("https://api.example.com@evil.test/", False),
        ("https://api.example.com:8443/x", False),
        ("http://api.example.com/x", False),
        ("https://sub.api.example.com/x", False),
        ("ftp://api.example.com/x", False),
        ("not a url", False),
    ],
)
def test_origin_matcher(url: str, allowed: bool) -> None:
    assert OriginSet.parse(["https://api.example.com"]).allows(url) is allowed


def test_configured_origin_with_a_path_is_an_error() -> None:
    with pytest.raises(ValueError, match="no path"):
        OriginSet.parse(["https://api.example.com/v1"])
    with pytest.raises(TypeError):
        OriginSet.parse("https://api.example.com")


def test_loopback_and_plain_http_rules() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.8.9.10") and not is_loopback("10.0.0.1")
    assert not is_loopback("localhost.evil.test")
    check_transport("http://127.0.0.1:8080/x", allow_insecure=False, what="a token")
    check_transport("https://api.example.com/x", allow_insecure=False, what="a token")
    check_transport("http://api.example.com/x", allow_insecure=True, what="a token")
    with pytest.raises(InsecureTransportError, match="allow_insecure_http"):
        check_transport("http://api.example.com/x", allow_insecure=False, what="a token")
    assert str(origin_of("https://[::1]:8443/x")) == "https://[::1]:8443"


def test_plain_http_token_url_is_refused_before_any_io(
    session: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No DNS lookup happens: the check runs before the request is sent. A lookup would fail
    # the test here, instead of asking a resolver about login.invalid.
    import socket

    def no_lookup(host: object, *args: object, **kwargs: object) -> object:
        raise AssertionError(f"tried to resolve {host!r}")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    auth = SilentAuth(
        PasswordGrant("http://login.invalid/token"),
        username="u",
        password="p",
        store=__import__("requests_silentauth").MemoryStore(),
    )
    session.auth = auth
    with pytest.raises(InsecureTransportError):
        session.get("http://login.invalid/api")


@pytest.mark.parametrize("placement", PLACEMENTS, ids=repr)
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_cross_origin_redirect_carries_no_token(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    placement: Any,
    code: int,
) -> None:
    ours, other = server_factory(), server_factory()
    auth = make_auth(ours, placement=placement)
    session.auth = auth
    target = other.url + "/public/headers"
    r = session.post(
        ours.url + f"/api/redirect?to={quote(target)}&code={code}", data=b"payload-bytes"
    )
    assert r.status_code == 200, r.text
    assert auth.token is not None
    token = auth.token.access_token
    seen = r.json()
    assert token not in repr(seen["headers"])
    assert token not in seen["query"]
    assert "x-auth-token" not in seen["headers"]
    assert "authorization" not in seen["headers"]


@pytest.mark.parametrize("placement", PLACEMENTS[:3], ids=repr)
def test_same_origin_redirect_keeps_the_token(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, placement: Any
) -> None:
    session.auth = make_auth(placement=placement)
    r = session.get(server.url + "/api/redirect?to=/api/data&code=302")
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [302]


def test_no_token_to_an_origin_that_is_not_configured(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    ours, other = server_factory(), server_factory()
    session.auth = make_auth(ours)
    seen = session.get(other.url + "/public/headers").json()
    assert "authorization" not in seen["headers"]
    assert ours.counts["token"] == 0  # not even fetched


def test_extra_origins_receive_the_token(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    login, api = server_factory(), server_factory()
    session.auth = make_auth(login, origins=[api.url])
    # /public/headers echoes what it received without checking it: the token went there
    r = session.get(api.url + "/public/headers")
    assert r.json()["headers"]["authorization"].startswith("Bearer ")
    r = session.get(login.url + "/public/headers")
    assert "authorization" not in r.json()["headers"]


def test_client_secret_never_goes_to_the_resource_server(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    seen = session.post(server.url + "/public/headers", data=b"x").json()
    assert "cli-secret" not in repr(seen)
    seen = session.get(server.echo_url).json()
    assert "cli-secret" not in repr(seen)


@pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
@pytest.mark.parametrize("placement", PLACEMENTS, ids=repr)
def test_redirect_after_a_resend_carries_no_token_to_another_origin(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    placement: Any,
    mounted: bool,
) -> None:

    ours, other = server_factory(), server_factory()
    auth = make_auth(ours, placement=placement)
    wire(session, auth, ours.url, mounted)
    session.get(ours.resource_url)
    revoked = auth.token
    ours.revoke_access_tokens()  # 401 -> renew -> resend -> 302 to the other origin
    target = quote(other.url + "/public/headers")
    r = session.get(ours.url + f"/api/redirect?to={target}&code=302")
    assert r.status_code == 200
    assert ours.counts["token:refresh_token"] == 1
    assert auth.token is not None and revoked is not None
    assert auth.token != revoked
    seen = r.json()
    # Neither the renewed token nor the revoked one (which the first hop carried) leaks.
    assert auth.token.access_token not in repr(seen)
    assert revoked.access_token not in repr(seen)
    assert "x-auth-token" not in seen["headers"] and "authorization" not in seen["headers"]


def test_query_placement_survives_a_same_origin_redirect_without_renewing(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    # requests builds the next hop from Location, so the query token cannot follow the
    # redirect: the hop is rejected and resent with the current token, no token request.
    session.auth = make_auth(placement=Query("access_token"))
    for _ in range(3):
        r = session.get(server.url + "/api/redirect?to=/api/data&code=302")
        assert r.status_code == 200
    assert server.counts["token"] == 1


@pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
@pytest.mark.parametrize("placement", PLACEMENTS[:3], ids=repr)
def test_same_origin_redirect_after_a_resend_carries_the_new_token(
    server: TokenServer,
    make_auth: MakeAuth,
    session: requests.Session,
    placement: Any,
    mounted: bool,
) -> None:
    # requests builds the next hop from the request it first sent, not from our resent copy:
    # that object must get the new token too, or the hop carries the revoked one (issue 7).

    auth = make_auth(placement=placement)
    wire(session, auth, server.url, mounted)
    session.get(server.resource_url)
    revoked = auth.token
    server.revoke_access_tokens()  # 401 -> renew -> resend -> 302 -> /api/echo
    r = session.get(server.url + "/api/redirect?to=/api/echo&code=302")
    assert r.status_code == 200, r.text
    assert r.history[-1].status_code == 302
    # One rejection (the redirect endpoint's), one renewal; the hop was not rejected.
    assert server.counts["api:rejected"] == 1
    assert server.counts["token:refresh_token"] == 1
    assert auth.token is not None and revoked is not None
    assert auth.token.access_token != revoked.access_token
    seen = r.json()["headers"]
    name = placement.name.lower()
    assert seen[name] == placement.value(auth.token.access_token)
