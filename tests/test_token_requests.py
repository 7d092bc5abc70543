"""Token requests against real loopback servers (issue 7, behaviours 5, 6, 9, 10, 15, 17).

Each test is bounded with pytest-timeout: the defects they pin used to hang."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from requests.adapters import HTTPAdapter

from requests_silentauth import (
    ClientCredentials,
    InvalidCredentials,
    JsonLogin,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    SilentAuthAdapter,
    TokenEndpointError,
)
from requests_silentauth._endpoint import TokenClient, token_request_active
from requests_silentauth._grants import Credentials, Grant
from requests_silentauth._token import Token
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER
from .rawserver import RawServer, wait_child

PUBLIC_CLIENT = "public-cli"


def _trickle(data: bytes, conn: socket.socket, srv: RawServer) -> bool:
    """Send one byte every 0.2 s; False when stopped or the peer hung up."""
    for i in range(len(data)):
        if srv.stop.wait(0.2):
            return False
        try:
            conn.sendall(data[i : i + 1])
        except OSError:
            return False
    return True


BODY = b'{"access_token": "at-trickled", "token_type": "Bearer"}'.ljust(150)


def trickle_body(conn: socket.socket, srv: RawServer) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    conn.sendall(head % len(BODY))
    if _trickle(BODY, conn, srv):  # 150 bytes: 30 s
        srv.finished.set()


def trickle_headers(conn: socket.socket, srv: RawServer) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"p" * 100
    if _trickle(head, conn, srv):
        srv.finished.set()


def broken_body(conn: socket.socket, srv: RawServer) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    )
    conn.sendall(b'{"access_token": "at-')
    srv.finished.set()  # and hang up


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    started: list[RawServer] = []

    def make(serve: Callable[[socket.socket, RawServer], None]) -> RawServer:
        srv = RawServer(serve)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.close()


@pytest.fixture
def client() -> Iterator[TokenClient]:
    with requests.Session() as s:
        s.trust_env = False
        yield TokenClient(s)


# -- 6: the token timeout is a deadline ---------------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.parametrize("serve", [trickle_body, trickle_headers], ids=["body", "headers"])
def test_a_trickling_endpoint_is_cut_off_at_the_deadline(
    raw_server: Callable[..., RawServer], client: TokenClient, serve: Any
) -> None:
    srv = raw_server(serve)
    before = set(threading.enumerate())
    start = time.monotonic()
    with pytest.raises(TokenEndpointError, match="did not answer in time") as info:
        client.post(srv.url, data={"grant_type": "client_credentials"}, timeout=1.0)
    assert time.monotonic() - start < 15
    assert info.value.retryable
    assert not srv.finished.is_set()  # cut off: the server was still sending
    if serve is trickle_body:
        # The socket was shut at the deadline, so the worker ends too (the server would
        # otherwise keep it reading for 30 s).
        for worker in set(threading.enumerate()) - before:
            if worker.name == "silentauth-token-request":
                worker.join(10)
                assert not worker.is_alive()


@pytest.mark.timeout(20)
def test_a_grant_login_against_a_trickling_endpoint_ends_at_its_budget(
    raw_server: Callable[..., RawServer], client: TokenClient
) -> None:
    srv = raw_server(trickle_body)
    grant = PasswordGrant(srv.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with pytest.raises(TokenEndpointError, match="did not answer in time"):
        grant.login(client, Credentials(USER, lambda: PASSWORD), 1.0)
    assert not srv.finished.is_set()


@pytest.mark.timeout(20)
def test_a_silentauth_with_a_trickling_endpoint_is_bounded_by_token_timeout(
    raw_server: Callable[..., RawServer],
) -> None:
    srv = raw_server(trickle_body)
    grant = PasswordGrant(srv.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    auth = SilentAuth(
        grant, username=USER, password=PASSWORD, store=MemoryStore(), prompt=False,
        token_timeout=1.0,
    )  # fmt: skip
    with pytest.raises(TokenEndpointError, match="did not answer in time"):
        auth.get_token()
    assert not srv.finished.is_set()


# -- 5: token requests never recurse into our own auth ------------------------------------------


def _own_session_auth(grant: Grant) -> requests.Session:
    """A session whose auth is a SilentAuth that also uses it as its token session."""
    session = requests.Session()
    session.trust_env = False
    auth = SilentAuth(
        grant, username=USER, password=PASSWORD, store=MemoryStore(), prompt=False,
        token_session=session, token_timeout=5.0,
    )  # fmt: skip
    session.auth = auth
    return session


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "make_grant",
    [
        lambda srv: PasswordGrant(srv.token_url, client_id=PUBLIC_CLIENT),
        lambda srv: PasswordGrant(
            srv.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client_auth="body"
        ),
        lambda srv: PasswordGrant(srv.token_url),
    ],
    ids=["public-client", "secret-in-body", "no-client"],
)
def test_the_applications_own_session_as_token_session_does_not_recurse(
    server_factory: Callable[..., TokenServer], make_grant: Callable[[TokenServer], Grant]
) -> None:
    srv = server_factory(clients={})  # any client, public or not
    session = _own_session_auth(make_grant(srv))
    with session:
        response = session.get(srv.resource_url)
        assert response.status_code == 200
        assert srv.counts["token"] == 1
        # and after the server revokes it: refresh through the same session, no recursion
        srv.revoke_access_tokens()
        assert session.get(srv.resource_url).status_code == 200
        assert srv.counts["token:refresh_token"] == 1


@pytest.mark.timeout(20)
def test_our_adapter_mounted_on_the_token_origin_of_the_token_session_passes_it_through(
    server_factory: Callable[..., TokenServer],
) -> None:
    # The token origin is the API origin (the usual case): the token POST goes through the
    # mounted SilentAuthAdapter, which must send it as it is instead of waiting for a token.
    srv = server_factory(clients={})
    session = requests.Session()
    session.trust_env = False
    auth = SilentAuth(
        PasswordGrant(srv.token_url), username=USER, password=PASSWORD, store=MemoryStore(),
        prompt=False, token_session=session, token_timeout=5.0,
    )  # fmt: skip
    session.mount(srv.url + "/", SilentAuthAdapter(auth))
    with session:
        assert session.get(srv.resource_url).status_code == 200
        srv.revoke_access_tokens()
        assert session.get(srv.resource_url).status_code == 200
    assert srv.counts["token"] == 2
    assert srv.counts["token:refresh_token"] == 1


@pytest.mark.timeout(20)
def test_netrc_credentials_never_reach_a_token_request(
    server_factory: Callable[..., TokenServer],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv = server_factory(clients={PUBLIC_CLIENT: None})
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-pass\n")
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    session = requests.Session()  # trust_env: netrc is consulted for requests without auth
    grant = PasswordGrant(srv.token_url, client_id=PUBLIC_CLIENT, client_auth="body")
    auth = SilentAuth(
        grant, username=USER, password=PASSWORD, store=MemoryStore(), prompt=False,
        token_session=session,
    )  # fmt: skip
    with session:
        assert auth.get_token().access_token
    # With netrc's Basic credentials the server would have seen client "netrc-user".
    assert srv.counts["invalid_client"] == 0


class RecordingAdapter(HTTPAdapter):
    """Records, per request, whether it was sent as a token request."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool]] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.seen.append((request.path_url, token_request_active()))
        return super().send(request, *args, **kwargs)


@pytest.mark.timeout(20)
def test_a_token_request_istoken_work_on_the_thread_that_sends_it(server: TokenServer) -> None:
    session = requests.Session()
    session.trust_env = False
    adapter = RecordingAdapter()
    session.mount(server.url + "/", adapter)
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    auth = SilentAuth(
        grant, username=USER, password=PASSWORD, store=MemoryStore(), prompt=False,
        token_session=session,
    )  # fmt: skip
    session.auth = auth
    with session:
        assert session.get(server.resource_url).status_code == 200
    assert adapter.seen == [("/oauth/token", True), ("/api/data", False)]
    assert not token_request_active()


@pytest.mark.timeout(20)
def test_an_application_response_hook_does_not_see_token_responses(server: TokenServer) -> None:
    session = requests.Session()
    session.trust_env = False
    seen: list[str] = []
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request.path_url))
    session.hooks["response"].append(lambda r, *a, **k: r.raise_for_status())
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    auth = SilentAuth(
        grant, username=USER, password="wrong-" + PASSWORD, store=MemoryStore(), prompt=False,
        token_session=session,
    )  # fmt: skip
    with session, pytest.raises(InvalidCredentials):  # not the hook's HTTPError
        auth.get_token()
    assert seen == []


# -- 9: loopback token requests are never proxied -------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_loopback_token_requests_never_go_through_an_environment_proxy(
    server: TokenServer, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(8)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.getsockname()[1]}")
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    auth = SilentAuth(
        grant, username=USER, password=PASSWORD, store=MemoryStore(), prompt=False,
        token_timeout=3.0,
    )  # fmt: skip
    try:
        assert auth.get_token().access_token  # our own session: trust_env is on
        proxy.setblocking(False)
        with pytest.raises(BlockingIOError):
            proxy.accept()  # nobody connected to the "proxy"
    finally:
        proxy.close()
    assert server.counts["token:password"] == 1


@pytest.mark.timeout(20)
def test_a_session_proxy_is_not_used_for_loopback_token_requests(server: TokenServer) -> None:
    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(8)
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"http": f"http://127.0.0.1:{proxy.getsockname()[1]}"}
    client = TokenClient(session)
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    try:
        assert grant.login(client, Credentials(USER, lambda: PASSWORD), 3.0).access_token
        proxy.setblocking(False)
        with pytest.raises(BlockingIOError):
            proxy.accept()
    finally:
        proxy.close()
        session.close()


# -- 10: no secret is reachable from an exception -------------------------------------------------


REFRESH = "rt-refresh-secret-9c1e"


def _needles() -> list[str]:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    return [PASSWORD, CLIENT_SECRET, quote(PASSWORD), quote(CLIENT_SECRET), basic, REFRESH]


def _texts_of(obj: Any) -> list[str]:
    texts = [repr(obj)]
    with contextlib.suppress(Exception):
        texts.append(str(obj))
    if isinstance(obj, bytes):
        texts.append(obj.decode("latin-1"))
    return texts


def reachable_texts(exc: BaseException) -> list[str]:
    """Every text reachable from an exception: along ``__cause__``/``__context__``, the
    ``repr``/``str``/``args``/``vars()`` of each exception, and of each object those reference,
    one level deep (a ``PreparedRequest``'s body and headers are in its ``vars()``)."""
    texts: list[str] = []
    chain: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is seen for seen in chain):
            continue
        chain.append(item)
        todo += [item.__cause__, item.__context__]
    for item in chain:
        texts += _texts_of(item)
        referenced = list(item.args) + list(vars(item).values())
        for value in referenced:
            texts += _texts_of(value)
            inner = getattr(value, "__dict__", None)
            if isinstance(inner, dict):
                for deeper in inner.values():
                    texts += _texts_of(deeper)
            if isinstance(value, dict | list | tuple):
                for deeper in value.values() if isinstance(value, dict) else value:
                    texts += _texts_of(deeper)
    return texts


def assert_no_secret_reachable(exc: BaseException) -> None:
    texts = reachable_texts(exc)
    for needle in _needles():
        for text in texts:
            assert needle not in text, f"a secret is reachable from {type(exc).__name__}"


def test_the_walker_finds_a_secret_in_a_context_prepared_request() -> None:
    # The helper itself: what today's ``raise ... from None`` inside ``except`` left behind.
    prep = requests.Request(
        "POST", "http://127.0.0.1/t", data={"password": PASSWORD}, auth=(CLIENT_ID, CLIENT_SECRET)
    ).prepare()
    try:
        try:
            raise requests.ConnectionError("refused", request=prep)
        except requests.ConnectionError:
            raise TokenEndpointError("could not reach", retryable=True) from None
    except TokenEndpointError as caught:
        exc = caught
    with pytest.raises(AssertionError, match="reachable"):
        assert_no_secret_reachable(exc)


GRANTS: dict[str, Callable[[str], Grant]] = {
    "password": lambda base: PasswordGrant(
        base + "/oauth/token", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    ),
    "password-body": lambda base: PasswordGrant(
        base + "/oauth/token", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client_auth="body"
    ),
    "client-basic": lambda base: ClientCredentials(
        base + "/oauth/token", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    ),
    "client-body": lambda base: ClientCredentials(
        base + "/oauth/token", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client_auth="body"
    ),
    "json": lambda base: JsonLogin(
        base + "/json/login", body={"account": "{username}", "secret": "{password}"}
    ),
}


def _login(grant: Grant, client: TokenClient, budget: float = 2.0) -> BaseException:
    with pytest.raises(Exception) as info:
        grant.login(client, Credentials(USER, lambda: PASSWORD), budget)
    return info.value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", sorted(GRANTS))
def test_no_secret_is_reachable_from_any_token_endpoint_error(
    kind: str,
    server: TokenServer,
    raw_server: Callable[..., RawServer],
    client: TokenClient,
) -> None:
    make = GRANTS[kind]
    errors: dict[str, BaseException] = {}
    errors["refused-connection"] = _login(make(f"http://127.0.0.1:{_free_port()}"), client)
    errors["broken-body"] = _login(make(raw_server(broken_body).url.rsplit("/", 2)[0]), client)
    server.fail_token_requests(1, status=503, retry_after="3")
    errors["5xx"] = _login(make(server.url), client)
    server.fail_token_requests(1, status=200, body=b"<html>login</html>", content_type="text/html")
    errors["non-json"] = _login(make(server.url), client)
    server.fail_token_requests(1, status=200, body=b'{"token_type": "Bearer"}')
    errors["bad-token-response"] = _login(make(server.url), client)
    # A refusal: another password for users, the other client authentication for clients.
    server.set_password(USER, "another-password")
    if kind.startswith("client"):
        server.client_auth = "basic" if kind.endswith("body") else "body"
    errors["refused-credentials"] = _login(make(server.url), client)
    server.set_password(USER, PASSWORD)
    server.client_auth = "basic_or_body"
    server.token_delay = 1.5
    try:
        errors["timeout"] = _login(make(server.url), client, budget=0.5)
    finally:
        server.token_delay = 0.0
    for name, exc in errors.items():
        assert isinstance(exc, requests.RequestException), name
        assert_no_secret_reachable(exc)
    assert "did not answer in time" in str(errors["timeout"])
    assert "could not reach" in str(errors["refused-connection"])


@pytest.mark.timeout(30)
def test_no_secret_is_reachable_from_a_failed_refresh(
    server: TokenServer, client: TokenClient
) -> None:
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    token = Token("at-old", refresh_token=REFRESH)
    server.fail_token_requests(
        1,
        status=400,
        body=b'{"error": "invalid_scope", "error_description": "' + REFRESH.encode() + b' is odd"}',
    )
    with pytest.raises(TokenEndpointError) as info:
        grant.refresh(client, token, 2.0)
    assert_no_secret_reachable(info.value)
    assert "invalid_scope" in str(info.value)


# -- 17: lenient where it is safe, end to end -----------------------------------------------------


@pytest.mark.timeout(20)
def test_a_token_with_malformed_optional_fields_is_used(
    server: TokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="requests_silentauth")
    server.token_response_override = {
        "access_token": "at-lenient-1",
        "token_type": "Bearer",
        "expires_in": "soon",
        "scope": ["read", "write"],
        "refresh_token": 12345,
    }
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    auth = SilentAuth(grant, username=USER, password=PASSWORD, store=MemoryStore(), prompt=False)
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(server.resource_url, auth=auth).status_code == 200
    token = auth.token
    assert token is not None and token.access_token == "at-lenient-1"
    assert token.expires_at is None and token.refresh_token is None
    assert token.scope == "read write"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert all(f"'{name}'" in warnings[0] for name in ("expires_in", "scope", "refresh_token"))
    assert "soon" not in warnings[0] and "12345" not in warnings[0]


@pytest.mark.timeout(20)
def test_an_access_token_that_cannot_go_in_a_header_is_refused_on_arrival(
    server: TokenServer,
) -> None:
    server.fail_token_requests(
        1, status=200, body=b'{"access_token": "at-inject\\r\\nX-Evil: 1", "token_type": "Bearer"}'
    )
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    auth = SilentAuth(grant, username=USER, password=PASSWORD, store=MemoryStore(), prompt=False)
    with pytest.raises(TokenEndpointError, match="HTTP header") as info:
        auth.get_token()
    assert not info.value.retryable
    assert "at-inject" not in str(info.value) and "X-Evil" not in str(info.value)


# -- 15: fork safety --------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_the_session_lock_is_held_can_request_tokens(
    server: TokenServer,
) -> None:
    client = TokenClient()  # its own session, made lazily
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    credentials = Credentials(USER, lambda: PASSWORD)
    assert grant.login(client, credentials, 5.0).access_token  # a pooled connection exists
    parent_session = client.session
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with client._session_lock:
            held.set()
            release.wait(20)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = 0 if grant.login(client, credentials, 5.0).access_token else 2
            if client.session is parent_session:
                code = 3
        finally:
            os._exit(code)
    release.set()
    holder.join(5)
    assert wait_child(pid, 20) == 0, "the forked child hung or failed"
    assert client.session is parent_session  # the parent's own session is untouched
    assert server.counts["token:password"] == 2
    client.close()
