"""Attack review of issue 10 (renewal ahead in the background), end to end against the embedded
TokenServer. Synchronised by its ``Hold`` and by the state of threads (polled until reached,
bounded), never by timing margins.

- the background never shows a device code (issue 8), and a request that must wait is not
  handed the background's "a person is needed" failure instead of asking that person;
- a request made while the interpreter shuts down (an ``atexit`` handler) starts no renewal
  thread that nobody would wait for (3.10/3.11 let it start, then kill it at exit);
- ``on_token`` may close the auth from the background thread."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from requests_silentauth import (
    FileStore,
    MemoryStore,
    SilentAuth,
    Token,
)
from requests_silentauth.testing import TokenServer

from .test_interactive import Approver, device_auth
from .test_renew_ahead import BOUND, THREAD, renewers, run_child, seed_due

ROOT = Path(__file__).resolve().parents[1]


def device_due(idp: TokenServer) -> tuple[MemoryStore, Token]:
    """A device login, then its token stored as due (valid 20 s more by our clock), with its
    refresh token revoked at the server: the next renewal needs a person."""
    store = MemoryStore()
    first = device_auth(idp, Approver(idp), store=store)
    token = first.get_token()
    first.close()
    now = time.time()
    due = dataclasses.replace(token, issued_at=now - 3580, expires_at=now + 20)
    first._manager.vault.set_token(due)
    assert due.refresh_token
    idp.revoke(due.refresh_token)
    return store, due


def waiting_in_flight(thread: threading.Thread) -> bool:
    """Whether ``thread`` is a follower waiting in ``Flight.run`` for the flight in progress."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        caller = frame.f_back  # run.done.wait(...) called from Flight.run
        if (
            frame.f_code.co_name == "wait"
            and caller is not None
            and caller.f_code.co_name == "run"
            and caller.f_code.co_filename.endswith("_flight.py")
        ):
            return True
        frame = caller
    return False


def until(condition: Callable[[], bool]) -> bool:
    """Poll a state (not a margin): True once ``condition`` holds, False after BOUND."""
    end = time.monotonic() + BOUND
    while time.monotonic() < end:
        if condition():
            return True
        threading.Event().wait(0.005)
    return False


def test_the_background_never_shows_a_device_code(
    idp: TokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    store, due = device_due(idp)
    show = Approver(idp, "wait")  # records; a person would be asked here
    auth = device_auth(idp, show, store=store)
    idp.reset_counts()
    with caplog.at_level(logging.WARNING, logger="requests_silentauth"):
        s = requests.Session()
        s.trust_env = False
        assert s.get(idp.resource_url, auth=auth, timeout=5).status_code == 200
        auth.close()  # waits for the renewal ahead, which needed a person: it gave up
    assert show.shown == [] and idp.counts["device_authorization"] == 0
    assert idp.counts["token:refresh_token"] == 1
    assert auth.token is not None and auth.token.access_token == due.access_token  # still used
    assert [r for r in caplog.records if "ahead failed" in r.getMessage()]
    assert renewers() == []


def test_a_waiting_request_asks_the_person_the_background_could_not(idp: TokenServer) -> None:
    """The token expires while the background renewal (which may not ask anyone) is in flight
    with a dead refresh token. The request that now waits joins that flight; it must not fail
    with the background's InteractionRequired but log in with the device code itself, as it
    would have with no renewal ahead."""
    store, due = device_due(idp)
    show = Approver(idp)
    auth = device_auth(idp, show, store=store)
    s = requests.Session()
    s.trust_env = False
    hold = idp.hold_token_requests()
    outcome: list[object] = []

    def waiter() -> None:
        try:
            outcome.append(s.get(idp.resource_url, auth=auth, timeout=BOUND).status_code)
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiter)
    try:
        assert s.get(idp.resource_url, auth=auth, timeout=5).status_code == 200
        assert hold.arrived.wait(BOUND)  # the background refresh is held at the server
        token = auth.token
        assert token is not None
        auth._manager._token = dataclasses.replace(token, expires_at=time.time() - 1)
        thread.start()
        assert until(lambda: waiting_in_flight(thread)), "the request did not join the flight"
    finally:
        idp.release_token_requests()  # the refresh is answered invalid_grant
    thread.join(BOUND)
    auth.close()
    assert outcome == [200], outcome
    assert len(show.shown) == 1  # shown once, by the waiting request, not the background
    assert auth.token is not None and auth.token.access_token != due.access_token


def test_on_token_may_close_the_auth_from_the_background(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    store = MemoryStore()
    due = seed_due(make_auth, store)
    closed: list[Token] = []
    auth: SilentAuth

    def on_token(token: Token) -> None:
        auth.close()  # from the renewal thread itself: must not wait for itself
        closed.append(token)

    auth = make_auth(store=store, on_token=on_token)
    hold = server.hold_token_requests()
    try:
        assert session.get(server.resource_url, auth=auth).status_code == 200
        assert hold.arrived.wait(BOUND)
        (worker,) = renewers()
    finally:
        server.release_token_requests()
    worker.join(BOUND)
    assert not worker.is_alive() and len(closed) == 1
    assert closed[0].access_token != due.access_token
    auth.close()
    auth.close()  # twice: nothing to wait for
    assert renewers() == []
    # still usable after close(): the token session opens again
    assert session.get(server.resource_url, auth=auth).status_code == 200


def exiting_child(srv: TokenServer, path: Path, mode: str) -> subprocess.Popen[str]:
    return run_child(srv, path, 10.0, mode)


@pytest.mark.slow
def test_a_request_at_interpreter_shutdown_starts_no_renewal_thread(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    tmp_path: Path,
) -> None:
    """An ``atexit`` handler runs after Python joined the non-daemon threads: a renewal thread
    started there is never waited for, and dies at exit with its token request in flight (the
    server rotates the refresh token; the store keeps the spent one). The token is valid:
    use it, and renew nothing."""
    srv = server_factory(reuse_detection=True)
    path = tmp_path / "tokens.json"
    seed_due(lambda **kw: make_auth(srv, **kw), FileStore(path))
    srv.reset_counts()
    hold = srv.hold_token_requests()  # a thread, if started, stays alive while we look
    child = exiting_child(srv, path, "atexit")
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
    finally:
        hold.drop()  # a held refresh is answered 503: nothing spent
    _out, err = child.communicate(timeout=BOUND)
    assert child.returncode == 0, err
    assert line == f"status 200 {THREAD} 0", line
    assert srv.counts["token"] == 0


@pytest.mark.slow
def test_a_worker_thread_outliving_the_main_thread_still_renews_ahead(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    tmp_path: Path,
) -> None:
    """The other side of the one above: a non-daemon thread still running while Python exits
    is waited for, and so is the renewal thread it starts; that renewal is stored."""
    srv = server_factory(reuse_detection=True)
    path = tmp_path / "tokens.json"
    due = seed_due(lambda **kw: make_auth(srv, **kw), FileStore(path))
    srv.reset_counts()
    hold = srv.hold_token_requests()
    child = exiting_child(srv, path, "worker")
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
    finally:
        hold.release()
    _out, err = child.communicate(timeout=BOUND)
    assert child.returncode == 0, err
    assert line == f"status 200 {THREAD} 1", line
    token = make_auth(srv, store=FileStore(path))._manager.vault.get_token()
    assert token is not None and token.refresh_token != due.refresh_token  # rotated, stored
    assert srv.counts["token:refresh_token"] == 1 and srv.counts["reuse_detected"] == 0


class Captured:
    """A ``spawn`` that keeps the renewal ahead instead of starting it: the test runs it when
    it chooses (the thread was started, and had not yet begun, when something else happened)."""

    def __init__(self) -> None:
        self.work: list[Callable[[], None]] = []

    def __call__(self, work: Callable[[], None]) -> Captured:
        self.work.append(work)
        return self

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        return None


def test_a_renewal_ahead_that_starts_after_a_logout_does_not_log_in_again(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    """The request saw a due token and started the renewal ahead; before its thread ran, the
    application logged out. The background must not log in again on its own (there is no
    token left to renew ahead); the next request that needs one decides."""
    store = MemoryStore()
    seed_due(make_auth, store)
    auth = make_auth(store=store)
    spawn = Captured()
    auth._manager._spawn = spawn
    assert session.get(server.resource_url, auth=auth).status_code == 200
    assert len(spawn.work) == 1
    auth.logout()
    server.reset_counts()
    spawn.work[0]()  # the thread runs now
    assert server.counts["token"] == 0
    assert auth.token is None and auth._manager.vault.get_token() is None


class FailingWrites(MemoryStore):
    """A store whose token writes fail once ``failing`` is set (a full disk, a locked keyring)."""

    failing = False

    def set(self, account: Any, name: str, value: str) -> None:
        if self.failing and name == "token":
            raise OSError("disk full")
        super().set(account, name, value)


def test_a_background_renewal_whose_store_write_fails_keeps_the_new_token_in_memory(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The rotated refresh token cannot be stored: the new token is used from memory, and the
    next renewal refreshes with the new refresh token, never the spent one in the store."""
    srv = server_factory(reuse_detection=True)
    store = FailingWrites()
    due = seed_due(lambda **kw: make_auth(srv, **kw), store)
    auth = make_auth(srv, store=store)
    store.failing = True
    srv.reset_counts()
    with caplog.at_level(logging.WARNING, logger="requests_silentauth"):
        assert session.get(srv.resource_url, auth=auth).status_code == 200
        auth.close()  # the renewal ahead has landed
    first = auth.token
    assert first is not None and first.refresh_token != due.refresh_token
    assert "could not save the renewed token (OSError)" in caplog.text
    assert auth._manager.vault.get_token() == due  # the store still holds the spent one
    # due again (by our clock): the next renewal ahead starts from the token in memory
    now = time.time()
    auth._manager._token = dataclasses.replace(first, issued_at=now - 3580, expires_at=now + 20)
    assert session.get(srv.resource_url, auth=auth).status_code == 200
    auth.close()
    second = auth.token
    assert second is not None and second.access_token != first.access_token
    counts = srv.counts
    assert counts["token:refresh_token"] == 2 and counts["reuse_detected"] == 0
    assert counts["invalid_grant"] == 0 and counts["token:password"] == 0


def test_two_auths_sharing_a_store_renew_ahead_once(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    """Both see the same due token; one renews ahead, the other adopts what it stored (they
    meet at the store lock)."""
    store = MemoryStore()
    due = seed_due(make_auth, store)
    one, two = make_auth(store=store), make_auth(store=store)
    server.reset_counts()
    hold = server.hold_token_requests()
    try:
        assert session.get(server.resource_url, auth=one).status_code == 200
        assert hold.arrived.wait(BOUND)
        # the second auth's renewal ahead waits at the store lock held by the first
        assert session.get(server.resource_url, auth=two).status_code == 200
    finally:
        server.release_token_requests()
    one.close()
    two.close()
    assert renewers() == []
    assert server.counts["token"] == 1
    assert one.token is not None and one.token.access_token != due.access_token
    assert two.token == one.token


def test_back_off_over_a_token_lifetime_then_reset_after_a_success(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing endpoint over the whole renewal window, on a fake clock: one token request per
    pause (5 s, 10 s, then the expiry caps it), many API requests in between. Once a renewal
    succeeds, the next failure pauses 5 s again (the doubling starts over)."""
    store = MemoryStore()
    due = seed_due(make_auth, store)
    auth = make_auth(store=store)
    m = auth._manager
    start = time.time()
    now = [start]
    m.clock = lambda: now[0]
    m._rungs = dataclasses.replace(m._rungs, clock=lambda: now[0])
    assert due.expires_at is not None
    server.reset_counts()
    server.fail_token_requests(1000, status=503)

    def burst(at: float) -> None:
        now[0] = start + at
        for _ in range(10):
            assert session.get(server.resource_url, auth=auth).status_code == 200
        auth.close()  # lets the renewal ahead land, if one started

    expected = [(0.0, 1), (4.9, 1), (5.0, 2), (14.9, 2), (15.0, 3)]
    with caplog.at_level(logging.DEBUG, logger="requests_silentauth"):
        for at, count in expected:
            burst(at)
            assert server.counts["token"] == count, at
        # the third pause (20 s) is capped by the expiry, 20 s after the seeding
        assert m._early_retry_at == pytest.approx(due.expires_at)
        burst(due.expires_at - start - 0.1)
        assert server.counts["token"] == 3
    warned = [r for r in caplog.records if "ahead failed" in r.getMessage()]
    assert [r.levelno for r in warned] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    # the endpoint recovers; the token expires: that request waits for the renewal
    server.fail_token_requests(0)
    now[0] = due.expires_at
    assert session.get(server.resource_url, auth=auth).status_code == 200
    assert server.counts["token"] == 4
    fresh = auth.token
    assert fresh is not None and fresh.expires_at is not None and fresh.issued_at is not None
    # due again, failing again: the first pause again, not the fourth
    server.fail_token_requests(1000, status=503)
    now[0] = fresh.expires_at - 20
    assert session.get(server.resource_url, auth=auth).status_code == 200
    auth.close()
    assert server.counts["token"] == 5
    assert m._early_retry_at == pytest.approx(now[0] + 5.0)


@pytest.mark.parametrize(
    ("retry_after", "pause"),
    [("120", None), ("-5", 5.0), ("soon", 5.0), ("99999999999999999999", None), ("1", 5.0)],
)
def test_retry_after_of_a_failed_background_renewal(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    retry_after: str,
    pause: float | None,
) -> None:
    """A huge, negative or garbled Retry-After: the pause is at least 5 s, never past the
    token's expiry (None: the expiry)."""
    store = MemoryStore()
    due = seed_due(make_auth, store)
    auth = make_auth(store=store)
    m = auth._manager
    frozen = time.time()
    m.clock = lambda: frozen
    server.fail_token_requests(1, status=503, retry_after=retry_after)
    assert session.get(server.resource_url, auth=auth).status_code == 200
    auth.close()
    want = due.expires_at if pause is None else frozen + pause
    assert m._early_retry_at == pytest.approx(want)
    assert auth.token == due


def test_a_background_failure_after_the_token_expired_does_not_call_it_valid(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    seed_due(make_auth, store)
    auth = make_auth(store=store)
    hold = server.hold_token_requests()
    with caplog.at_level(logging.WARNING, logger="requests_silentauth"):
        try:
            assert session.get(server.resource_url, auth=auth).status_code == 200
            assert hold.arrived.wait(BOUND)
            token = auth.token
            assert token is not None
            auth._manager._token = dataclasses.replace(token, expires_at=time.time() - 1)
        finally:
            hold.drop()  # answered 503
            server.release_token_requests()
        auth.close()
    (warned,) = [r.getMessage() for r in caplog.records if "ahead failed" in r.getMessage()]
    assert "still valid" not in warned and "retried in -" not in warned
    assert "expired meanwhile" in warned


def test_the_background_never_prompts_for_a_password_the_waiting_request_does(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A password grant with no password known and a dead refresh token: the background may not
    ask (a prompt from a thread the person is not looking at); the request whose token then
    expires asks once, and logs in."""
    from requests_silentauth import _secrets
    from requests_silentauth._secrets import Secret

    from .conftest import PASSWORD

    asked: list[str] = []

    def ask(account: object) -> Secret:
        asked.append(threading.current_thread().name)
        return Secret(PASSWORD, "prompt")

    monkeypatch.setattr(_secrets, "ask", ask)
    store = MemoryStore()
    due = seed_due(make_auth, store)
    assert due.refresh_token
    server.revoke(due.refresh_token)
    auth = make_auth(store=store, password=None, prompt=True)
    server.reset_counts()
    assert session.get(server.resource_url, auth=auth).status_code == 200
    auth.close()  # the renewal ahead ran: refresh refused, nobody to ask: it gave up
    assert asked == [] and server.counts["token:password"] == 0
    assert auth.token == due
    # the token expires: this request waits, and may ask
    auth._manager._token = dataclasses.replace(due, expires_at=time.time() - 1)
    assert session.get(server.resource_url, auth=auth).status_code == 200
    assert asked == [threading.current_thread().name]
    assert server.counts["token:password"] == 1


def test_no_thread_for_a_token_fresh_for_the_whole_run(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    auth = make_auth()
    spawned: list[object] = []
    auth._manager._spawn = spawned.append  # type: ignore[assignment]
    for _ in range(20):
        assert session.get(server.resource_url, auth=auth).status_code == 200
    auth.close()
    assert spawned == [] and renewers() == [] and server.counts["token"] == 1


@pytest.mark.slow
def test_ctrl_c_in_the_main_thread_still_stores_the_rotated_refresh_token(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    tmp_path: Path,
) -> None:
    """KeyboardInterrupt ends the main thread while the renewal ahead is held at the server;
    Python waits for the renewal (one Ctrl-C), which stores the rotated refresh token."""
    srv = server_factory(reuse_detection=True)
    path = tmp_path / "tokens.json"
    due = seed_due(lambda **kw: make_auth(srv, **kw), FileStore(path))
    srv.reset_counts()
    hold = srv.hold_token_requests()
    child = exiting_child(srv, path, "sigint")
    try:
        assert hold.arrived.wait(BOUND), "the child started no renewal"
        assert child.stderr is not None
        for line in child.stderr:  # the traceback is printed before Python waits for threads
            if line.startswith("KeyboardInterrupt"):
                break
        else:
            pytest.fail("no KeyboardInterrupt in the child")
    finally:
        hold.release()
    out, _err = child.communicate(timeout=BOUND)
    assert "status 200" in out and child.returncode != 0  # the interrupt, after the wait
    token = make_auth(srv, store=FileStore(path))._manager.vault.get_token()
    assert token is not None and token.refresh_token != due.refresh_token
    assert srv.counts["token:refresh_token"] == 1 and srv.counts["reuse_detected"] == 0


def test_a_rejected_request_joins_the_renewal_ahead_in_flight(
    server: TokenServer, make_auth: Callable[..., SilentAuth], session: requests.Session
) -> None:
    """The access token is revoked while its renewal ahead is held at the server: the 401'd
    request joins that renewal (one token request), and is resent with its token."""
    store = MemoryStore()
    due = seed_due(make_auth, store)
    auth = make_auth(store=store)
    server.reset_counts()
    hold = server.hold_token_requests()
    outcome: list[object] = []

    def rejected() -> None:
        try:
            outcome.append(session.get(server.resource_url, auth=auth, timeout=BOUND).status_code)
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=rejected)
    try:
        assert session.get(server.resource_url, auth=auth).status_code == 200
        assert hold.arrived.wait(BOUND)
        server.revoke_access_tokens()
        thread.start()
        assert until(lambda: waiting_in_flight(thread)), "the 401 did not join the renewal"
    finally:
        server.release_token_requests()
    thread.join(BOUND)
    auth.close()
    assert outcome == [200]
    assert server.counts["token"] == 1
    assert auth.token is not None and auth.token.access_token != due.access_token


def test_on_token_raising_in_the_background_loses_nothing(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nobody can catch what ``on_token`` raises in the renewal thread: it is logged by type
    (its message may quote the token), and the new token is stored and used all the same."""
    store = MemoryStore()
    due = seed_due(make_auth, store)

    def on_token(token: Token) -> None:
        raise ValueError(f"cannot save {token.access_token}")

    auth = make_auth(store=store, on_token=on_token)
    with caplog.at_level(logging.DEBUG, logger="requests_silentauth"):
        assert session.get(server.resource_url, auth=auth).status_code == 200
        auth.close()
    new = auth.token
    assert new is not None and new.access_token != due.access_token
    assert auth._manager.vault.get_token() == new
    assert "on_token raised ValueError in the background renewal" in caplog.text
    assert new.access_token not in caplog.text and str(new.refresh_token) not in caplog.text
    assert renewers() == []


@pytest.mark.slow
def test_silentauth_token_prints_the_renewed_token_not_the_one_about_to_expire(
    server_factory: Callable[..., TokenServer], tmp_path: Path
) -> None:
    """``silentauth token`` hands the token away (``curl -H "...$(silentauth token)"``, a job
    that runs for minutes): with a due token it must print the renewed one, not the one with
    seconds left while the renewal it started runs on and is stored unseen (the process waits
    for it at exit anyway, so renewing ahead saves it nothing)."""
    from requests_silentauth import PasswordGrant

    from .conftest import PASSWORD, USER

    srv = server_factory(clients={})
    path = tmp_path / "creds.json"
    env = {**os.environ, "SILENTAUTH_CONFIG": str(tmp_path / "p.toml"), "NO_PROXY": "*"}
    args = ["--url", srv.token_url, "--username", USER, "--store", f"file:{path}"]

    def cli(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "requests_silentauth", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    assert cli("login", "--password-stdin", *args, stdin=PASSWORD + "\n").returncode == 0
    vault = SilentAuth(PasswordGrant(srv.token_url), username=USER, store=FileStore(path))
    stored = vault._manager.vault.get_token()
    assert stored is not None
    now = time.time()
    due = dataclasses.replace(stored, issued_at=now - 3580, expires_at=now + 20)
    vault._manager.vault.set_token(due)
    printed = cli("token", *args)
    assert printed.returncode == 0, printed.stderr
    after = vault._manager.vault.get_token()
    assert after is not None and after.access_token != due.access_token  # it renewed
    assert printed.stdout.strip() == after.access_token  # and printed what it renewed


def test_get_token_renews_a_due_token_before_handing_it_away(
    server: TokenServer, make_auth: Callable[..., SilentAuth]
) -> None:
    """``get_token()`` hands the token to code that may keep it for minutes: a due one (seconds
    left) is renewed first, in the caller, with no thread."""
    store = MemoryStore()
    due = seed_due(make_auth, store)
    auth = make_auth(store=store)
    server.reset_counts()
    token = auth.get_token()
    assert token.access_token != due.access_token and server.counts["token"] == 1
    assert renewers() == [] and auth._manager._ahead is None
    assert auth.get_token() == token  # fresh now: no second renewal


def test_logout_with_revoke_during_the_renewal_ahead_leaves_no_live_refresh_token(
    server: TokenServer, make_auth: Callable[..., SilentAuth]
) -> None:
    """``logout(revoke=True)`` while the renewal ahead is held at the server: it revoked the
    token it saw (the old one), then waited for the renewal to land, which obtained a new pair
    (here by logging in again, the old refresh token being revoked meanwhile), and forgot it
    locally: the new refresh token stays live at the identity provider after a logout that
    asked to revoke."""
    from requests_silentauth import PasswordGrant

    from .conftest import CLIENT_ID, CLIENT_SECRET

    grant = PasswordGrant(
        server.token_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        revocation_url=server.revoke_url,
    )
    store = MemoryStore()
    seed_due(lambda **kw: make_auth(grant=grant, **kw), store)
    auth = make_auth(grant=grant, store=store)
    hold = server.hold_token_requests()
    outcome: list[object] = []
    s = requests.Session()
    s.trust_env = False
    logout = threading.Thread(target=lambda: outcome.append(auth.logout(revoke=True)))
    try:
        assert s.get(server.resource_url, auth=auth).status_code == 200
        assert hold.arrived.wait(BOUND)
        logout.start()
        assert until(lambda: waiting_in_flight(logout)), "logout did not wait for the renewal"
    finally:
        server.release_token_requests()
    logout.join(BOUND)
    auth.close()
    assert outcome == ["revoked"]
    assert auth.token is None and auth._manager.vault.get_token() is None
    now = time.time()
    with server._state.lock:
        live = [
            r
            for r in server._state.tokens.values()
            if r.kind == "refresh" and not (r.revoked or r.spent) and r.live(now)
        ]
    assert live == []
