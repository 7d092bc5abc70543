"""The embedded TokenServer is the ground truth for every other test, so it is tested itself.

Everything goes over real sockets with plain ``requests``: no mocks.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from requests_silentauth.testing import TokenServer

USERS = {"alice": "wonderland", "bob": "builder"}
CLIENTS: dict[str, str | None] = {"cli": "cli-secret", "pub": None, "we:ird": "p@ss:w%rd"}
PASSWORD_GRANT = {"grant_type": "password", "username": "alice", "password": "wonderland"}


@pytest.fixture
def srv() -> Iterator[TokenServer]:
    with TokenServer(users=USERS, clients=CLIENTS) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def password_login(http: requests.Session, srv: TokenServer, **extra: str) -> dict[str, Any]:
    resp = http.post(srv.token_url, data={**PASSWORD_GRANT, **extra}, auth=("cli", "cli-secret"))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def refresh(http: requests.Session, srv: TokenServer, token: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return http.post(srv.token_url, data=data, auth=("cli", "cli-secret"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_ok(http: requests.Session, srv: TokenServer, token: str) -> bool:
    resp = http.get(srv.resource_url, headers=bearer(token))
    assert resp.status_code in (200, srv.reject_status)
    return resp.status_code == 200


def jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return payload


# -- lifecycle ------------------------------------------------------------------------------------


def test_urls_lifecycle_and_idempotent_stop() -> None:
    server = TokenServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    assert server.start() is server
    assert server.start() is server  # second start is a no-op
    base = server.url
    assert base.startswith("http://127.0.0.1:")
    assert server.token_url == base + "/oauth/token"
    assert server.introspect_url == base + "/oauth/introspect"
    assert server.revoke_url == base + "/oauth/revoke"
    assert server.login_url == base + "/json/login"
    assert server.json_refresh_url == base + "/json/refresh"
    assert server.verify_url == base + "/json/verify"
    assert server.resource_url == base + "/api/data"
    assert server.echo_url == base + "/api/echo"
    assert requests.get(base + "/public/status?code=200", timeout=5).status_code == 200
    server.stop()
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/public/status?code=200", timeout=5)


def test_stop_cuts_keep_alive_connections(http: requests.Session) -> None:
    server = TokenServer().start()
    http.get(server.url + "/public/headers")
    assert server.open_connections == 1
    server.stop()
    assert server.wait_for_connections(0)


def test_keep_alive_reuses_one_connection_and_close_is_tracked(
    srv: TokenServer, http: requests.Session
) -> None:
    token = password_login(http, srv)["access_token"]
    for _ in range(5):
        assert api_ok(http, srv, token)
    assert srv.open_connections == 1
    http.close()
    assert srv.wait_for_connections(0)
    assert srv.issued_access_tokens == 1


def test_nothing_is_printed(
    srv: TokenServer, http: requests.Session, capfd: pytest.CaptureFixture[str]
) -> None:
    token = password_login(http, srv)["access_token"]
    http.get(srv.resource_url, params={"access_token": token})
    http.get(srv.url + "/nope")
    out, err = capfd.readouterr()
    assert out == err == ""


# -- /oauth/token --------------------------------------------------------------------------------


def test_password_grant_success_shape(srv: TokenServer, http: requests.Session) -> None:
    resp = http.post(
        srv.token_url, data={**PASSWORD_GRANT, "scope": "read write"}, auth=("cli", "cli-secret")
    )
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read write"
    assert body["access_token"].startswith("at-")
    assert body["refresh_token"].startswith("rt-")
    counts = srv.counts
    assert (counts["token"], counts["token:password"], counts["api"]) == (1, 1, 0)


def test_client_auth_variants(srv: TokenServer, http: requests.Session) -> None:
    in_body = {**PASSWORD_GRANT, "client_id": "cli", "client_secret": "cli-secret"}
    assert http.post(srv.token_url, data=in_body).status_code == 200
    public = {**PASSWORD_GRANT, "client_id": "pub"}
    assert http.post(srv.token_url, data=public).status_code == 200
    # RFC 6749 2.3.1: id and secret are form-urlencoded before base64.
    raw = b"we%3Aird:p%40ss%3Aw%25rd"
    header = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    assert http.post(srv.token_url, data=PASSWORD_GRANT, headers=header).status_code == 200
    for kwargs in (
        {"auth": ("cli", "wrong")},
        {"auth": ("nobody", "x")},
        {},
        {"headers": {"Authorization": "Basic !!!"}},
    ):
        resp = http.post(srv.token_url, data=PASSWORD_GRANT, **kwargs)
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="token", error="invalid_client"'
        assert resp.json()["error"] == "invalid_client"
        assert resp.json()["error_description"]
    assert srv.counts["invalid_client"] == 4


def test_no_clients_configured_means_any_client() -> None:
    with TokenServer(users=USERS) as server:
        assert requests.post(server.token_url, data=PASSWORD_GRANT, timeout=5).status_code == 200
        resp = requests.post(server.token_url, data=PASSWORD_GRANT, auth=("x", "y"), timeout=5)
        assert resp.status_code == 200


@pytest.mark.parametrize(
    ("mode", "use_basic", "expected"),
    [("basic", True, 200), ("basic", False, 401), ("body", True, 401), ("body", False, 200)],
)
def test_client_auth_modes(mode: Any, use_basic: bool, expected: int) -> None:
    with TokenServer(users=USERS, clients=CLIENTS, client_auth=mode) as server:
        if use_basic:
            resp = requests.post(
                server.token_url, data=PASSWORD_GRANT, auth=("cli", "cli-secret"), timeout=5
            )
        else:
            data = {**PASSWORD_GRANT, "client_id": "cli", "client_secret": "cli-secret"}
            resp = requests.post(server.token_url, data=data, timeout=5)
        assert resp.status_code == expected


def test_password_grant_errors(srv: TokenServer, http: requests.Session) -> None:
    auth = ("cli", "cli-secret")
    bad = http.post(srv.token_url, data={**PASSWORD_GRANT, "password": "nope"}, auth=auth)
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "invalid_grant",
        "error_description": "invalid username or password",
    }
    missing = http.post(srv.token_url, data={"grant_type": "password"}, auth=auth)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    unknown = http.post(srv.token_url, data={"grant_type": "magic"}, auth=auth)
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")
    nogrant = http.post(srv.token_url, data={"username": "alice"}, auth=auth)
    assert nogrant.json()["error"] == "invalid_request"
    twice = http.post(
        srv.token_url,
        data="grant_type=password&grant_type=password",
        auth=auth,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.json()["error"] == "invalid_request"
    assert http.get(srv.token_url).status_code == 405
    counts = srv.counts
    assert counts["invalid_grant"] == 1
    assert counts["token:password"] == 3
    assert counts["token:other"] == 3
    assert counts["token"] == 6


def test_client_credentials(srv: TokenServer, http: requests.Session) -> None:
    resp = http.post(
        srv.token_url, data={"grant_type": "client_credentials"}, auth=("cli", "cli-secret")
    )
    body = resp.json()
    assert resp.status_code == 200
    assert "refresh_token" not in body
    assert http.get(srv.resource_url, headers=bearer(body["access_token"])).json()["user"] == "cli"
    public = http.post(srv.token_url, data={"grant_type": "client_credentials", "client_id": "pub"})
    assert (public.status_code, public.json()["error"]) == (400, "unauthorized_client")
    assert srv.counts["token:client_credentials"] == 2


def test_refresh_rotation(srv: TokenServer, http: requests.Session) -> None:
    first = password_login(http, srv)
    resp = refresh(http, srv, first["refresh_token"])
    second = resp.json()
    assert resp.status_code == 200
    assert second["refresh_token"].startswith("rt-")
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    spent = refresh(http, srv, first["refresh_token"])
    assert (spent.status_code, spent.json()["error"]) == (400, "invalid_grant")
    assert refresh(http, srv, second["refresh_token"]).status_code == 200
    assert refresh(http, srv, "rt-unknown").status_code == 400
    counts = srv.counts
    assert (counts["token:refresh_token"], counts["invalid_grant"]) == (4, 2)
    assert counts["reuse_detected"] == 0
    assert api_ok(http, srv, second["access_token"])


def test_refresh_without_rotation_and_omitted_refresh(http: requests.Session) -> None:
    with TokenServer(users=USERS, clients=CLIENTS, rotate_refresh=False) as server:
        rt = password_login(http, server)["refresh_token"]
        for _ in range(2):
            assert refresh(http, server, rt).json()["refresh_token"] == rt
    with TokenServer(users=USERS, clients=CLIENTS, omit_refresh_on_refresh=True) as server:
        rt = password_login(http, server)["refresh_token"]
        for _ in range(2):
            body = refresh(http, server, rt).json()
            assert "refresh_token" not in body
            assert body["access_token"].startswith("at-")


def test_reuse_detection_revokes_the_family(http: requests.Session) -> None:
    with TokenServer(users=USERS, clients=CLIENTS, reuse_detection=True) as server:
        first = password_login(http, server)
        other_user = http.post(server.login_url, json={"account": "bob", "secret": "builder"})
        bob_token = other_user.json()["data"]["token"]
        second = refresh(http, server, first["refresh_token"]).json()
        replay = refresh(http, server, first["refresh_token"])
        assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
        assert server.counts["reuse_detected"] == 1
        assert refresh(http, server, second["refresh_token"]).status_code == 400
        assert not api_ok(http, server, second["access_token"])
        assert api_ok(http, server, bob_token)


def test_short_lifetimes_expire(http: requests.Session) -> None:
    with TokenServer(
        users=USERS, clients=CLIENTS, access_lifetime=0.3, refresh_lifetime=0.3
    ) as server:
        body = password_login(http, server)
        assert body["expires_in"] == 1  # rounded up, never 0
        assert api_ok(http, server, body["access_token"])
        time.sleep(0.35)
        assert not api_ok(http, server, body["access_token"])
        assert refresh(http, server, body["refresh_token"]).status_code == 400


def test_expires_in_modes(http: requests.Session) -> None:
    with TokenServer(users=USERS, clients=CLIENTS, expires_in_mode="omit") as server:
        body = password_login(http, server)
        assert "expires_in" not in body
        assert body["access_token"].startswith("at-")
    with TokenServer(users=USERS, clients=CLIENTS, expires_in_mode="jwt") as server:
        before = time.time()
        body = password_login(http, server)
        assert "expires_in" not in body
        payload = jwt_payload(body["access_token"])
        assert payload["sub"] == "alice"
        assert payload["jti"].startswith("at-")
        assert before + 3599 <= payload["exp"] <= time.time() + 3601
        assert api_ok(http, server, body["access_token"])
        login = http.post(server.login_url, json={"account": "alice", "secret": "wonderland"})
        assert "expires" not in login.json()["data"]
        assert jwt_payload(login.json()["data"]["token"])["sub"] == "alice"
    with pytest.raises(ValueError, match="expires_in_mode"):
        TokenServer(expires_in_mode="bogus")  # type: ignore[arg-type]


# -- introspection and revocation ----------------------------------------------------------------


def test_introspect_and_revoke_endpoints(srv: TokenServer, http: requests.Session) -> None:
    body = password_login(http, srv, scope="read")
    auth = ("cli", "cli-secret")
    info = http.post(srv.introspect_url, data={"token": body["access_token"]}, auth=auth).json()
    assert info["active"] is True
    assert (info["sub"], info["scope"]) == ("alice", "read")
    assert info["exp"] >= time.time() + 3590
    assert http.post(srv.introspect_url, data={"token": "at-x"}, auth=auth).json() == {
        "active": False
    }
    denied = http.post(srv.introspect_url, data={"token": "at-x"}, auth=("cli", "bad"))
    assert denied.status_code == 401
    assert http.post(srv.revoke_url, data={"token": body["access_token"]}).status_code == 200
    assert http.post(srv.revoke_url, data={"token": "never-issued"}).status_code == 200
    after = http.post(srv.introspect_url, data={"token": body["access_token"]}, auth=auth)
    assert after.json() == {"active": False}
    assert not api_ok(http, srv, body["access_token"])
    assert http.post(srv.revoke_url, data={"token": body["refresh_token"]}).status_code == 200
    assert refresh(http, srv, body["refresh_token"]).status_code == 400
    assert (srv.counts["introspect"], srv.counts["revoke"]) == (4, 3)


# -- JSON login API ------------------------------------------------------------------------------


def test_json_login_refresh_verify(srv: TokenServer, http: requests.Session) -> None:
    resp = http.post(srv.login_url, json={"account": "alice", "secret": "wonderland"})
    assert resp.status_code == 200
    assert resp.json()["code"] == 0
    data = resp.json()["data"]
    assert data["token"].startswith("at-")
    assert data["refresh"].startswith("rt-")
    assert data["expires"] == 3600
    bad = http.post(srv.login_url, json={"account": "alice", "secret": "x"})
    assert (bad.status_code, bad.json()) == (
        401,
        {"code": 40101, "message": "bad account or secret"},
    )
    renewed = http.post(srv.json_refresh_url, json={"refresh": data["refresh"]})
    assert renewed.status_code == 200
    assert renewed.json()["data"]["refresh"] != data["refresh"]
    spent = http.post(srv.json_refresh_url, json={"refresh": data["refresh"]})
    assert (spent.status_code, spent.json()) == (
        401,
        {"code": 40102, "message": "refresh token invalid"},
    )
    new_token = renewed.json()["data"]["token"]
    assert http.post(srv.verify_url, json={"token": new_token}).json() == {"isValid": True}
    assert http.post(srv.verify_url, json={"token": "at-nope"}).json() == {"isValid": False}
    counts = srv.counts
    assert (counts["json:login"], counts["json:refresh"], counts["json:verify"]) == (2, 2, 2)
    assert counts["json:rejected"] == 2


# -- protected resources -------------------------------------------------------------------------


def test_token_placements(srv: TokenServer, http: requests.Session) -> None:
    token = password_login(http, srv)["access_token"]
    basic = "Basic " + base64.b64encode(f"{token}:".encode()).decode()
    for kwargs in (
        {"headers": bearer(token)},
        {"headers": {"Authorization": basic}},
        {"headers": {"X-Auth-Token": token}},
        {"params": {"access_token": token}},
    ):
        resp = http.get(srv.resource_url, **kwargs)
        assert resp.json() == {"ok": True, "user": "alice", "path": "/api/data"}
    assert (srv.counts["api"], srv.counts["api:ok"]) == (4, 4)


def test_rejections_follow_rfc_6750(http: requests.Session) -> None:
    with TokenServer(users=USERS, reject_status=403) as server:
        missing = http.get(server.resource_url)
        assert missing.status_code == 403
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="api"'
        assert missing.json() == {"error": "invalid_token"}
        wrong = http.get(server.resource_url, headers=bearer("at-bogus"))
        assert wrong.status_code == 403
        assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
        server.reject_status = 401  # live setting
        assert http.get(server.resource_url).status_code == 401
        assert server.counts["api:rejected"] == 3


def test_special_api_paths(srv: TokenServer, http: requests.Session) -> None:
    token = password_login(http, srv)["access_token"]
    auth = bearer(token)
    always = http.get(srv.url + "/api/always-reject", headers=auth)
    assert always.status_code == 401
    assert 'error="invalid_token"' in always.headers["WWW-Authenticate"]
    scope = http.get(srv.url + "/api/insufficient-scope", headers=auth)
    assert scope.status_code == 403
    expected = 'Bearer error="insufficient_scope", scope="admin"'
    assert scope.headers["WWW-Authenticate"] == expected
    good = http.get(srv.url + "/api/body-error", headers=auth)
    assert (good.status_code, good.json()) == (200, {"code": 0, "ok": True})
    bad = http.get(srv.url + "/api/body-error", headers=bearer("at-old"))
    assert (bad.status_code, bad.json()) == (200, {"code": 401001, "message": "token expired"})
    cookie = http.get(srv.url + "/api/set-cookie", headers=auth)
    assert cookie.headers["Set-Cookie"] == "session=abc; Path=/"
    assert http.cookies.get("session") == "abc"
    for code in (301, 302, 303, 307, 308):
        redirect = http.get(
            srv.url + "/api/redirect",
            headers=auth,
            allow_redirects=False,
            params={"to": "/public/headers", "code": str(code)},
        )
        assert (redirect.status_code, redirect.headers["Location"]) == (code, "/public/headers")
    unauth = http.get(srv.url + "/api/redirect", params={"to": "/x"}, allow_redirects=False)
    assert unauth.status_code == 401
    assert http.get(srv.url + "/api/missing", headers=auth).status_code == 404
    counts = srv.counts
    assert counts["api:rejected"] == 3  # always-reject, body-error, redirect without token
    assert counts["api:insufficient_scope"] == 1


def test_echo_reports_exact_body_including_chunked(
    srv: TokenServer, http: requests.Session
) -> None:
    token = password_login(http, srv)["access_token"]
    payload = bytes(range(256)) * 300

    def chunks() -> Iterator[bytes]:
        yield payload[:1000]
        yield b""  # requests skips empty chunks; must not end the stream early
        yield payload[1000:]

    for body in (payload, chunks()):
        resp = http.put(
            srv.echo_url + "?a=1&b=%20",
            data=body,
            headers={
                **bearer(token),
                "Content-Type": "application/octet-stream",
                "X-Custom": "yes",
            },
        )
        echo = resp.json()
        assert base64.b64decode(echo["body_b64"]) == payload
        assert echo["method"] == "PUT"
        assert echo["content_type"] == "application/octet-stream"
        assert echo["query"] == "a=1&b=%20"
        assert echo["headers"]["x-custom"] == "yes"
        assert echo["headers"]["authorization"] == f"Bearer {token}"
    plain = http.get(srv.echo_url, headers=bearer(token)).json()
    assert (plain["content_type"], plain["body_b64"], plain["query"]) == (None, "", "")
    assert srv.open_connections == 1  # chunked bodies kept the connection in sync


# -- unprotected helpers -------------------------------------------------------------------------


def test_public_endpoints(srv: TokenServer, http: requests.Session) -> None:
    seen = http.post(srv.url + "/public/headers?q=1", data=b"hi", headers={"X-A": "b"}).json()
    assert seen["headers"]["x-a"] == "b"
    assert "authorization" not in seen["headers"]
    assert (seen["query"], base64.b64decode(seen["body_b64"])) == ("q=1", b"hi")
    redirect = http.get(
        srv.url + "/public/redirect",
        allow_redirects=False,
        params={"to": "http://elsewhere.invalid/x", "code": "307"},
    )
    assert (redirect.status_code, redirect.headers["Location"]) == (
        307,
        "http://elsewhere.invalid/x",
    )
    assert http.get(srv.url + "/public/redirect?code=307").status_code == 400
    for code in (200, 204, 304, 404, 500, 503):
        resp = http.get(srv.url + "/public/status", params={"code": str(code)})
        assert resp.status_code == code
        assert resp.content == (b"" if code in (204, 304) else b"{}")
    assert http.get(srv.url + "/elsewhere").status_code == 404
    assert http.head(srv.url + "/public/headers").status_code == 200
    assert srv.open_connections == 1  # bodiless answers did not desync keep-alive


def test_malformed_chunked_body_gets_400() -> None:
    with (
        TokenServer() as server,
        socket.create_connection(
            ("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=5
        ) as sock,
    ):
        sock.sendall(
            b"POST /public/headers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")


# -- administrative controls ---------------------------------------------------------------------


def test_server_side_revocation_and_expiry(srv: TokenServer, http: requests.Session) -> None:
    body = password_login(http, srv)
    srv.revoke_access_tokens()
    assert not api_ok(http, srv, body["access_token"])
    body = refresh(http, srv, body["refresh_token"]).json()
    assert api_ok(http, srv, body["access_token"])
    srv.expire_access_tokens()
    assert not api_ok(http, srv, body["access_token"])
    body = refresh(http, srv, body["refresh_token"]).json()
    srv.revoke(body["access_token"])
    assert not api_ok(http, srv, body["access_token"])
    srv.revoke(body["refresh_token"])
    assert refresh(http, srv, body["refresh_token"]).status_code == 400
    body = password_login(http, srv)
    srv.revoke_all()
    assert not api_ok(http, srv, body["access_token"])
    assert refresh(http, srv, body["refresh_token"]).status_code == 400


def test_set_password(srv: TokenServer, http: requests.Session) -> None:
    srv.set_password("alice", "changed")
    resp = http.post(srv.token_url, data=PASSWORD_GRANT, auth=("cli", "cli-secret"))
    assert resp.status_code == 400
    password_login(http, srv, password="changed")
    srv.set_password("carol", "c")
    password_login(http, srv, username="carol", password="c")


def test_fail_token_requests(srv: TokenServer, http: requests.Session) -> None:
    srv.fail_token_requests(2, retry_after="1")
    for _ in range(2):
        resp = http.post(srv.token_url, data=PASSWORD_GRANT, auth=("cli", "cli-secret"))
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "1"
        assert resp.json() == {"error": "temporarily_unavailable"}
    password_login(http, srv)
    assert srv.counts["token:password"] == 3
    srv.fail_token_requests(2, status=502, body=b"<html>down</html>", content_type="text/html")
    login = http.post(srv.login_url, json={"account": "alice", "secret": "wonderland"})
    assert (login.status_code, login.text, login.headers["Content-Type"]) == (
        502,
        "<html>down</html>",
        "text/html",
    )
    assert "Retry-After" not in login.headers
    assert http.post(srv.json_refresh_url, json={"refresh": "rt-x"}).status_code == 502
    assert http.post(srv.json_refresh_url, json={"refresh": "rt-x"}).status_code == 401
    counts = srv.counts
    assert (counts["faults"], counts["json:login"], counts["json:refresh"]) == (4, 1, 2)


def test_token_delay(srv: TokenServer, http: requests.Session) -> None:
    srv.token_delay = 0.2
    started = time.monotonic()
    password_login(http, srv)
    assert time.monotonic() - started >= 0.2
    srv.token_delay = 0
    started = time.monotonic()
    http.get(srv.url + "/public/headers")
    assert time.monotonic() - started < 0.2


def test_token_response_override(srv: TokenServer, http: requests.Session) -> None:
    srv.token_response_override = {"access_token": "custom", "token_type": "bearer"}
    assert password_login(http, srv) == {"access_token": "custom", "token_type": "bearer"}
    assert http.get(srv.resource_url, headers=bearer("custom")).json()["user"] == "alice"
    assert srv.issued_access_tokens == 1  # the normal token was still issued
    srv.token_response_override = b"not json"
    resp = http.post(srv.token_url, data=PASSWORD_GRANT, auth=("cli", "cli-secret"))
    assert (resp.status_code, resp.content) == (200, b"not json")
    bad = http.post(
        srv.token_url, data={**PASSWORD_GRANT, "password": "x"}, auth=("cli", "cli-secret")
    )
    assert bad.json()["error"] == "invalid_grant"  # failures are never overridden
    srv.token_response_override = None
    assert password_login(http, srv)["access_token"].startswith("at-")


def test_counts_are_snapshots(srv: TokenServer, http: requests.Session) -> None:
    snapshot = srv.counts
    http.get(srv.resource_url)
    assert snapshot["api"] == 0
    assert srv.counts["api"] == 1
    assert srv.counts["never-used-key"] == 0
    assert srv.counts.get("reuse_detected") == 0
    srv.reset_counts()
    assert srv.counts["api"] == 0


def test_concurrent_logins_are_thread_safe(srv: TokenServer) -> None:
    errors: list[int] = []

    def worker() -> None:
        with requests.Session() as session:
            for _ in range(5):
                resp = session.post(srv.token_url, data=PASSWORD_GRANT, auth=("cli", "cli-secret"))
                if resp.status_code != 200:
                    errors.append(resp.status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert srv.issued_access_tokens == 40
    assert srv.counts["token:password"] == 40
    assert srv.wait_for_connections(0)
