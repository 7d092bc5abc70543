"""Issue 10: while the token is valid, its renewal runs in the background and no request waits
for it; end to end against the embedded TokenServer, synchronised by its ``Hold`` (a token
request held at the door), never by timing margins.

The attacks: a process exiting mid-renewal must not lose the rotated refresh token; a
blackholed endpoint must not hang the exit past ``token_timeout``; ``close()`` leaves no
thread; a fork during a renewal spends no refresh token twice; a failing endpoint gets one
token request per back-off, not one per request."""

from __future__ import annotations

import dataclasses
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from requests_silentauth import FileStore, SilentAuth, Token
from requests_silentauth.testing import TokenServer

ROOT = Path(__file__).resolve().parents[1]
BOUND = 30.0  # seconds: reached only when the code under test is broken
THREAD = "silentauth-renew-ahead"


def renewers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD and t.is_alive()]


def seed_due(make_auth: Callable[..., SilentAuth], store: object) -> Token:
    """Log in, then store the token as this client will see it: due (20 s left of a 30 s
    leeway), though the server accepts it for an hour. Returns the stored token."""
    first = make_auth(store=store)
    token = first.get_token()
    first.close()
    now = time.time()
    due = dataclasses.replace(token, issued_at=now - 3580, expires_at=now + 20)
    first._manager.vault.set_token(due)
    return due


def test_no_request_waits_while_the_renewal_ahead_is_held(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    from requests_silentauth import MemoryStore

    store = MemoryStore()
    due = seed_due(make_auth, store)
    seen: list[Token] = []
    auth = make_auth(store=store, on_token=seen.append)
    server.reset_counts()
    hold = server.hold_token_requests()
    try:
        assert session.get(server.resource_url, auth=auth).status_code == 200
        assert hold.arrived.wait(BOUND)  # the renewal is at the server, and stays there
        results: list[int] = []

        def client() -> None:
            for _ in range(5):
                results.append(session.get(server.resource_url, auth=auth).status_code)

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(BOUND)
        # all 80 requests were answered while the token request was still held
        assert results == [200] * 80 and hold.waiting == 1
        assert auth.token is not None and auth.token.access_token == due.access_token
    finally:
        hold.release()
    auth.close()  # waits for the renewal
    assert renewers() == []
    counts = server.counts
    assert counts["token"] == 1 and counts["token:refresh_token"] == 1
    assert auth.token is not None and auth.token.access_token != due.access_token
    assert seen == [auth.token]


def test_an_expired_token_joins_the_renewal_ahead_in_flight(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    from requests_silentauth import MemoryStore

    store = MemoryStore()
    seed_due(make_auth, store)
    auth = make_auth(store=store)
    server.reset_counts()
    hold = server.hold_token_requests()
    waiter_status: list[int] = []
    try:
        assert session.get(server.resource_url, auth=auth).status_code == 200
        assert hold.arrived.wait(BOUND)
        token = auth.token
        assert token is not None and token.expires_at is not None
        # the token expires (by our clock) while its renewal is held: the next request waits
        auth._manager._token = dataclasses.replace(token, expires_at=time.time() - 1)
        waiter = threading.Thread(
            target=lambda: waiter_status.append(
                session.get(server.resource_url, auth=auth).status_code
            )
        )
        waiter.start()
        waiter.join(0.5)  # not a margin: it must still be waiting, however slow the machine
        assert waiter.is_alive() and waiter_status == []
    finally:
        hold.release()
    waiter.join(BOUND)
    auth.close()
    assert waiter_status == [200] and server.counts["token"] == 1  # it shared the renewal


def test_a_failing_endpoint_gets_one_token_request_per_back_off(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The renewal storm: 16 threads keep requesting while every token request fails. The
    clock is frozen so the 5 s back-off cannot run out however slow the machine is."""
    from requests_silentauth import MemoryStore

    store = MemoryStore()
    due = seed_due(make_auth, store)
    auth = make_auth(store=store)
    frozen = time.time()
    auth._manager.clock = lambda: frozen
    server.reset_counts()
    server.fail_token_requests(1000, status=503)
    results: list[int] = []

    def client() -> None:
        for _ in range(10):
            results.append(session.get(server.resource_url, auth=auth).status_code)

    with caplog.at_level(logging.DEBUG, logger="requests_silentauth"):
        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(BOUND)
        auth.close()
    assert results == [200] * 160  # the valid token, every time
    assert server.counts["token"] == 1  # one attempt, then the back-off
    warned = [r for r in caplog.records if "ahead failed" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert due.access_token not in caplog.text and str(due.refresh_token) not in caplog.text
    assert auth.token is not None and auth.token.access_token == due.access_token


def test_close_waits_for_the_renewal_ahead_and_leaves_no_thread(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    from requests_silentauth import MemoryStore

    store = MemoryStore()
    due = seed_due(make_auth, store)
    auth = make_auth(store=store)
    hold = server.hold_token_requests()
    left_after_close: list[list[threading.Thread]] = []

    def close() -> None:
        auth.close()
        left_after_close.append(renewers())

    closer = threading.Thread(target=close)
    try:
        assert session.get(server.resource_url, auth=auth).status_code == 200
        assert hold.arrived.wait(BOUND)
        closer.start()
        closer.join(1.0)  # close() must still be waiting for the held renewal
    finally:
        hold.release()
    closer.join(BOUND)
    assert left_after_close == [[]]
    assert auth.token is not None and auth.token.access_token != due.access_token
    assert auth._manager.vault.get_token() == auth.token  # stored before close() returned


def test_a_session_closing_its_adapter_closes_the_auth(
    server: TokenServer, make_auth: Callable[..., SilentAuth]
) -> None:
    from requests_silentauth import MemoryStore, SilentAuthAdapter

    store = MemoryStore()
    seed_due(make_auth, store)
    auth = make_auth(store=store)
    hold = server.hold_token_requests()
    s = requests.Session()
    s.trust_env = False
    s.mount(server.url + "/", SilentAuthAdapter(auth))
    try:
        assert s.get(server.resource_url).status_code == 200
        assert hold.arrived.wait(BOUND)
    finally:
        hold.release()
    s.close()
    assert renewers() == []


def run_child(
    server: TokenServer, store_path: Path, token_timeout: float, *extra: str
) -> subprocess.Popen[str]:
    """``tests/renew_ahead_child.py``: a script that exits while a renewal may be in flight
    (``extra``: how it exits, for the attack tests)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.renew_ahead_child",
            server.token_url,
            server.resource_url,
            str(store_path),
            str(token_timeout),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
    )


@pytest.mark.slow
def test_a_process_exiting_mid_renewal_stores_the_rotated_refresh_token(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    tmp_path: Path,
) -> None:
    srv = server_factory(reuse_detection=True)
    store = FileStore(tmp_path / "tokens.json")
    due = seed_due(lambda **kw: make_auth(srv, **kw), store)
    srv.reset_counts()
    hold = srv.hold_token_requests()
    child = run_child(srv, tmp_path / "tokens.json", 10.0)
    try:
        assert hold.arrived.wait(BOUND), "the child started no renewal"
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "status 200"  # its main thread is done
    finally:
        hold.release()  # the server issues the rotated refresh token now
    _out, err = child.communicate(timeout=BOUND)
    assert child.returncode == 0, err
    stored = FileStore(tmp_path / "tokens.json")
    again = make_auth(srv, store=stored)
    token = again._manager.vault.get_token()
    assert token is not None and token.refresh_token != due.refresh_token  # the rotated one
    assert srv.counts["token:refresh_token"] == 1
    # and it works: a refresh with the stored refresh token, no reuse detected
    again._manager.vault.set_token(dataclasses.replace(token, expires_at=time.time() - 1))
    again.get_token()
    counts = srv.counts
    assert counts["token:refresh_token"] == 2 and counts["reuse_detected"] == 0
    assert counts["invalid_grant"] == 0


@pytest.mark.slow
def test_a_blackholed_endpoint_delays_the_exit_by_token_timeout_at_most(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    tmp_path: Path,
) -> None:
    srv = server_factory(reuse_detection=True)
    store = FileStore(tmp_path / "tokens.json")
    due = seed_due(lambda **kw: make_auth(srv, **kw), store)
    hold = srv.hold_token_requests()  # never released while the child lives
    child = run_child(srv, tmp_path / "tokens.json", 1.0)
    try:
        assert hold.arrived.wait(BOUND)
        out, err = child.communicate(timeout=BOUND)  # ends after ~1 s (token_timeout)
        assert child.returncode == 0, err
        assert "status 200" in out
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        hold.drop()  # the held request is answered 503: the refresh token was never spent
    token = make_auth(srv, store=FileStore(tmp_path / "tokens.json"))._manager.vault.get_token()
    assert token is not None and token.refresh_token == due.refresh_token  # nothing lost


@pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(os, "pidfd_open"), reason="needs fork and pidfd"
)
def test_a_fork_during_a_renewal_ahead_spends_the_refresh_token_once(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    tmp_path: Path,
) -> None:
    """The parent's renewal is held at the server when the process forks. The child renews on
    its own (its copy of the parent's renewal does not exist) and meets the parent at the
    store lock: it adopts the parent's token. One refresh, no reuse detected."""
    srv = server_factory(reuse_detection=True)
    path = tmp_path / "tokens.json"
    due = seed_due(lambda **kw: make_auth(srv, **kw), FileStore(path))
    auth = make_auth(srv, store=FileStore(path))
    srv.reset_counts()
    hold = srv.hold_token_requests()
    s = requests.Session()
    s.trust_env = False
    try:
        assert s.get(srv.resource_url, auth=auth).status_code == 200
        assert hold.arrived.wait(BOUND)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: the parent's renewal thread does not exist here
            code = 3
            try:
                with requests.Session() as cs:
                    cs.trust_env = False
                    ok = cs.get(srv.resource_url, auth=auth).status_code == 200
                auth.close()  # waits for the child's own renewal ahead
                token = auth.token
                renewed = token is not None and token.access_token != due.access_token
                code = 0 if ok and renewed else 1
            finally:
                os._exit(code)
        hold.release()
        fd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([fd], [], [], BOUND)
        finally:
            os.close(fd)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert ready, "the forked child hung"
        assert os.waitstatus_to_exitcode(status) == 0, "the child did not get the new token"
    finally:
        hold.release()
        s.close()
    auth.close()
    counts = srv.counts
    assert counts["token:refresh_token"] == 1 and counts["reuse_detected"] == 0
    assert counts["token:password"] == 0
