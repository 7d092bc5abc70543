"""TokenManager with a fake clock, an in-memory grant and a fake vault: no sockets, no sleeps.
Threads only where the test is about threads, coordinated by events."""

from __future__ import annotations

import logging
import os
import select
import signal
import threading
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from requests_silentauth import (
    CredentialsNotFound,
    InvalidCredentials,
    StoreError,
    Token,
    TokenEndpointError,
    _secrets,
)
from requests_silentauth._endpoint import TokenClient
from requests_silentauth._flight import _Run
from requests_silentauth._manager import TokenManager, _reset_in_child
from requests_silentauth._secrets import Secret

from .test_flight import BOUND, CountingEvent
from .test_ladder import T0, FakeClock, FakeGrant, FakeVault

FOLLOWERS = 8


class FakeWorker:
    """A renewal ahead that has been started but runs only when the test calls ``run``."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.work = work
        self.ran = False
        self.joined: list[float | None] = []

    def run(self) -> None:
        self.ran = True
        self.work()

    def is_alive(self) -> bool:
        return not self.ran

    def join(self, timeout: float | None = None) -> None:
        self.joined.append(timeout)
        if not self.ran:
            self.run()


class Rig:
    def __init__(self, **kwargs: Any) -> None:
        self.clock = FakeClock()
        self.mono = FakeClock(50.0)
        self.grant = FakeGrant(self.clock)
        self.vault = FakeVault()
        self.seen: list[Token] = []
        self.locks = 0
        self.workers: list[FakeWorker] = []

        def on_lock() -> None:
            self.locks += 1

        self.vault.on_lock = on_lock
        options: dict[str, Any] = {
            "password": "right",
            "client": TokenClient(),
            "leeway": 30.0,
            "on_token": self.seen.append,
            "prompt": False,
            "login_backoff": 60.0,
            "clock": self.clock,
            "monotonic": self.mono,
            "token_timeout": 10.0,
            "spawn": self.spawn,
        }
        options.update(kwargs)
        self.manager = TokenManager(self.grant, vault=self.vault, **options)

    def spawn(self, work: Callable[[], None]) -> FakeWorker:
        """Renewals ahead are queued, and run when the test says (``run_ahead``)."""
        worker = FakeWorker(work)
        self.workers.append(worker)
        return worker

    def run_ahead(self) -> None:
        for worker in self.workers:
            if worker.is_alive():
                worker.run()

    def expire(self) -> None:
        token = self.manager.token
        assert token is not None and token.expires_at is not None
        self.clock.now = token.expires_at + 1


@pytest.fixture
def rig() -> Rig:
    return Rig()


# -- the per-request path and its deadline ------------------------------------------------------


def test_a_fresh_token_costs_no_lock_store_or_request(rig: Rig) -> None:
    first = rig.manager.for_request(None)
    locks, calls = rig.locks, rig.grant.calls
    for _ in range(100):
        assert rig.manager.for_request(None) is first
    assert (rig.locks, rig.grant.calls) == (locks, calls) == (1, 1)
    assert rig.seen == [first]


def test_the_token_comes_from_the_store_without_a_request(rig: Rig) -> None:
    stored = rig.grant.new_token()
    rig.vault.set_token(stored)
    assert rig.manager.for_request(None) == stored
    assert rig.grant.calls == 0 and rig.seen == []


def test_a_timeout_is_one_deadline_for_waiting_and_the_request(rig: Rig) -> None:
    rig.manager.for_request((2, 3))
    assert rig.grant.timeouts == [5.0]  # (connect, read) adds up
    rig.expire()
    rig.vault.on_lock = lambda: rig.mono.advance(4.0)  # the store lock took 4 s
    rig.manager.for_request(6.0)
    assert rig.grant.timeouts == [5.0, 2.0]
    rig.expire()
    rig.manager.for_request(None)
    assert rig.grant.timeouts[-1] == 6.0  # token_timeout, less the 4 s


def test_a_deadline_spent_waiting_sends_no_token_request(rig: Rig) -> None:
    rig.vault.on_lock = lambda: rig.mono.advance(11.0)
    with pytest.raises(TokenEndpointError, match="no time was left") as info:
        rig.manager.for_request(None)
    assert info.value.retryable and rig.grant.calls == 0


def test_a_failed_early_renewal_keeps_the_valid_token_and_pauses() -> None:
    rig = Rig(background=False)  # the waiting path (renew_ahead=False)
    first = rig.manager.for_request(None)
    assert first.expires_at is not None
    rig.clock.now = first.expires_at - 10  # due (30 s leeway), still valid
    rig.grant.fail = TokenEndpointError("503", retryable=True, status_code=503)
    assert rig.manager.for_request(None) is first
    assert rig.grant.timeouts == [10.0, 10.0]
    rig.clock.advance(4.9)
    assert rig.manager.for_request(None) is first  # not retried on every request
    assert len(rig.grant.timeouts) == 2
    rig.clock.advance(0.2)  # the 5 s pause is over
    second = rig.manager.for_request(None)
    assert second != first and rig.grant.refreshed == ["rt-1", "rt-1"]


def test_a_failed_early_renewal_waits_as_long_as_retry_after_says() -> None:
    rig = Rig(background=False)  # the waiting path (renew_ahead=False)
    first = rig.manager.for_request(None)
    assert first.expires_at is not None
    rig.clock.now = first.expires_at - 25
    rig.grant.fail = TokenEndpointError("429", retryable=True, retry_after=20.0)
    assert rig.manager.for_request(None) is first
    rig.clock.advance(19)
    assert rig.manager.for_request(None) is first
    assert len(rig.grant.timeouts) == 2
    rig.clock.advance(2)
    assert rig.manager.for_request(None) != first


def test_an_expired_token_whose_renewal_fails_raises(rig: Rig) -> None:
    rig.manager.for_request(None)
    rig.expire()
    rig.grant.fail = TokenEndpointError("down", retryable=True)
    with pytest.raises(TokenEndpointError, match="down"):
        rig.manager.for_request(None)


# -- behaviour 3: no rotated refresh token is ever lost ------------------------------------------


@pytest.mark.parametrize(
    "error",
    [StoreError("keyring locked"), RuntimeError("custom store broke"), KeyError("slot")],
    ids=["StoreError", "RuntimeError", "KeyError"],
)
def test_a_rotated_refresh_token_survives_any_store_write_error(
    rig: Rig, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    rig.manager.for_request(None)  # at-1/rt-1, saved
    rig.expire()
    rig.vault.write_error = error
    with caplog.at_level(logging.WARNING, "requests_silentauth"):
        second = rig.manager.for_request(None)  # the server rotated rt-1 to rt-2
    assert second.refresh_token == "rt-2" and rig.manager.token == second
    assert "could not save the renewed token" in caplog.text
    assert "rt-" not in caplog.text and "at-" not in caplog.text
    stored = rig.vault.get_token()
    assert stored is not None and stored.refresh_token == "rt-1"  # spent: never presented again
    rig.expire()
    rig.manager.for_request(None)  # still failing to write
    rig.vault.write_error = None
    rig.expire()
    rig.manager.after_rejection(rig.manager.for_request(None), None, "401")
    assert rig.grant.refreshed == ["rt-1", "rt-2", "rt-3", "rt-4"]
    assert rig.grant.logins == ["right"]
    stored = rig.vault.get_token()
    assert stored is not None and stored.refresh_token == "rt-5"


# -- behaviour 4: user code never runs under our locks ------------------------------------------


def test_on_token_runs_with_every_lock_free_and_may_use_the_manager(rig: Rig) -> None:
    calls: list[str] = []

    def on_token(token: Token) -> None:
        assert not rig.vault.held, "on_token ran under the store lock"
        assert not rig.manager._flight.busy, "on_token ran inside the flight"
        calls.append(token.access_token)
        if len(calls) == 1:
            assert rig.manager.verify(5.0) == token  # auth.verify() from the callback
            renewed, did = rig.manager.after_rejection(token, 5.0, "401 in the callback")
            assert did and renewed != token

    rig.manager.on_token = on_token
    thread = threading.Thread(target=rig.manager.for_request, args=(None,), daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), "deadlock: the callback waited on our own lock"
    assert calls == ["at-1", "at-2"]


def test_on_token_does_not_hear_of_a_token_adopted_from_another_process(rig: Rig) -> None:
    first = rig.manager.for_request(None)
    theirs = Token("at-theirs", "rt-theirs", expires_at=rig.clock() + 3600, issued_at=rig.clock())
    rig.vault.set_token(theirs)
    assert rig.manager.after_rejection(first, None, "401") == (theirs, False)
    assert rig.seen == [first] and rig.grant.calls == 1


# -- behaviour 7: single flight shares failures -------------------------------------------------


def test_threads_behind_a_failing_renewal_share_its_failure(rig: Rig) -> None:
    rig.manager.for_request(None)
    rig.expire()
    entered, release = threading.Event(), threading.Event()

    def hang(what: str) -> None:
        entered.set()
        assert release.wait(BOUND)
        raise TokenEndpointError("the token endpoint did not answer", retryable=True)

    rig.grant.before = hang
    results: list[BaseException | Token] = []
    guard = threading.Lock()

    def request() -> None:
        try:
            outcome: BaseException | Token = rig.manager.for_request(None)
        except BaseException as exc:
            outcome = exc
        with guard:
            results.append(outcome)

    leader = threading.Thread(target=request)
    leader.start()
    assert entered.wait(BOUND)
    run = rig.manager._flight._run
    assert run is not None
    done = run.done = CountingEvent()
    followers = [threading.Thread(target=request) for _ in range(FOLLOWERS)]
    for thread in followers:
        thread.start()
    done.until_waiting(FOLLOWERS)
    release.set()
    for thread in [leader, *followers]:
        thread.join(BOUND)
        assert not thread.is_alive()
    assert rig.grant.refreshed == ["rt-1"]  # one token request for all of them
    assert len(results) == FOLLOWERS + 1
    assert all(isinstance(r, TokenEndpointError) and r.retryable for r in results)
    assert len({id(r) for r in results}) == FOLLOWERS + 1


def test_a_follower_whose_budget_ends_gets_a_retryable_error(rig: Rig) -> None:
    rig.manager._flight._run = _Run()  # another thread is renewing and hangs
    with pytest.raises(TokenEndpointError, match="timed out waiting") as info:
        rig.manager.for_request(0)
    assert info.value.retryable and rig.grant.calls == 0


def test_a_rejection_already_renewed_by_another_thread_costs_nothing(rig: Rig) -> None:
    first = rig.manager.for_request(None)
    second, renewed = rig.manager.after_rejection(first, None, "401")
    assert renewed and second != first
    assert rig.manager.after_rejection(first, None, "401") == (second, False)  # stale
    assert rig.grant.calls == 2


# -- behaviour 13: a token expired on arrival ---------------------------------------------------


def test_a_token_expired_on_arrival_is_used_until_rejected_with_one_warning(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.grant.lifetime = 2.0
    rig.grant.before = lambda what: rig.clock.advance(3.0)  # slower than the token's life
    with caplog.at_level(logging.WARNING, "requests_silentauth"):
        first = rig.manager.for_request(None)
        for _ in range(50):
            assert rig.manager.for_request(None) is first
        assert rig.grant.calls == 1
        second, _ = rig.manager.after_rejection(first, None, "401")
        assert rig.manager.for_request(None) is second
    assert first.expires_at is None and second.expires_at is None
    assert rig.grant.calls == 2
    warnings_ = [r for r in caplog.records if "expired on arrival" in r.getMessage()]
    assert len(warnings_) == 1  # once per manager
    assert "clock" in warnings_[0].getMessage()


# -- behaviour 14: corrupt store contents -------------------------------------------------------


def test_a_corrupt_stored_token_is_one_login_not_one_per_request(rig: Rig) -> None:
    rig.vault.corrupt = True

    def stays_corrupt() -> None:
        rig.vault.corrupt = True  # a store that cannot read back even what it wrote

    for _ in range(100):
        rig.manager.for_request(None)
        stays_corrupt()
    assert rig.grant.logins == ["right"] and rig.grant.refreshed == []
    assert rig.vault.writes == 1  # the login's token overwrote the corrupt value


def test_a_corrupt_store_is_not_a_logout(rig: Rig) -> None:
    first = rig.manager.for_request(None)
    rig.vault.corrupt = True
    rig.manager.after_rejection(first, None, "401")
    assert rig.grant.refreshed == ["rt-1"] and rig.grant.logins == ["right"]


def test_a_logout_elsewhere_is_not_undone(rig: Rig) -> None:
    first = rig.manager.for_request(None)
    rig.vault.set_token(None)  # silentauth logout in another process
    rig.manager.after_rejection(first, None, "401")
    assert rig.grant.refreshed == [] and rig.grant.logins == ["right", "right"]


# -- behaviour 15: fork safety ------------------------------------------------------------------


def test_the_fork_reset_abandons_a_flight_and_frees_its_lock(rig: Rig) -> None:
    rig.manager._flight._run = _Run()  # a parent thread was renewing ...
    assert rig.manager._flight._guard.acquire(blocking=False)  # ... and held the state lock
    _reset_in_child()
    assert rig.manager.for_request(0.5).access_token == "at-1"


@pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(os, "pidfd_open"), reason="needs fork and pidfd"
)
def test_a_child_forked_during_a_renewal_can_renew(rig: Rig) -> None:
    parent = os.getpid()
    entered, release = threading.Event(), threading.Event()

    def block_in_the_parent() -> None:
        if os.getpid() == parent:
            entered.set()
            assert release.wait(BOUND)

    rig.vault.on_lock = block_in_the_parent
    leader = threading.Thread(target=rig.manager.for_request, args=(None,))
    leader.start()
    try:
        assert entered.wait(BOUND)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: only this thread exists; the parent's flight never lands
            code = 3
            try:
                code = 0 if rig.manager.for_request(1.0).access_token == "at-1" else 1
            finally:
                os._exit(code)
        fd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([fd], [], [], BOUND)
        finally:
            os.close(fd)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert ready, "the forked child hung on the parent's renewal"
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        leader.join(BOUND)


# -- secrets: the prompt runs outside every lock ------------------------------------------------


def prompting_rig(monkeypatch: pytest.MonkeyPatch, answer: Callable[[Rig], Secret | None]) -> Rig:
    rig = Rig(password=None, prompt=True)
    asked: list[bool] = []

    def ask(account: Any, read: Any = None) -> Secret | None:
        assert not rig.vault.held, "prompted under the store lock"
        assert not rig.manager._flight._guard.locked(), "prompted under the flight's lock"
        asked.append(True)
        return answer(rig)

    monkeypatch.setattr(_secrets, "ask", ask)
    rig.asked = asked  # type: ignore[attr-defined]
    return rig


def test_a_prompted_secret_logs_in_and_is_stored_after(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = prompting_rig(monkeypatch, lambda rig: Secret("right", "prompt"))
    assert rig.manager.for_request(None).access_token == "at-1"
    assert rig.grant.logins == ["right"] and rig.vault.get_secret() == "right"
    assert rig.locks == 2  # the store was taken again, and re-read, after the prompt


def test_a_login_elsewhere_during_the_prompt_is_adopted(monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = Token("at-theirs", "rt-theirs", expires_at=T0 + 3600, issued_at=T0)

    def meanwhile(rig: Rig) -> Secret:
        rig.vault.set_token(theirs)  # another process logged in while the person typed
        return Secret("typed", "prompt")

    rig = prompting_rig(monkeypatch, meanwhile)
    assert rig.manager.for_request(None) == theirs
    assert rig.grant.calls == 0 and rig.vault.get_secret() is None


def test_a_refused_prompted_secret_is_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = prompting_rig(monkeypatch, lambda rig: Secret("typo", "prompt"))
    with pytest.raises(InvalidCredentials):
        rig.manager.for_request(None)
    assert rig.vault.get_secret() is None


def test_an_empty_answer_is_credentials_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = prompting_rig(monkeypatch, lambda rig: None)
    # A MemoryStore: no `silentauth login` could help, so the hint says what can (issue 9).
    with pytest.raises(CredentialsNotFound, match="pass password="):
        rig.manager.for_request(None)
    assert rig.grant.calls == 0


# -- explicit login, logout, verify -------------------------------------------------------------


def test_an_explicit_login_tries_the_given_password_without_keeping_it() -> None:
    rig = Rig(password="wrong")
    with pytest.raises(InvalidCredentials):
        rig.manager.for_request(None)
    with pytest.raises(InvalidCredentials, match="not tried again"):
        rig.manager.for_request(None)
    with pytest.raises(InvalidCredentials):
        rig.manager.login("typo", None, remember=True)  # always tried, not remembered
    assert rig.grant.logins == ["wrong", "typo"] and rig.vault.get_secret() is None
    token = rig.manager.login("right", None, remember=True)
    assert rig.vault.get_secret() == "right" and rig.vault.get_refusal() is None
    assert rig.manager.token == token and rig.seen == [token]
    assert rig.manager._password == "wrong"  # the given password was never swapped in


def test_an_explicit_login_without_remember_stores_no_password(rig: Rig) -> None:
    rig.manager.login("right", None, remember=False)
    assert rig.vault.get_secret() is None


def test_logout_forgets_the_token_and_on_request_the_password(rig: Rig) -> None:
    rig.vault.set_secret("right")
    rig.manager.for_request(None)
    rig.manager.forget(forget_password=False)
    assert rig.manager.token is None and rig.vault.get_token() is None
    assert rig.vault.get_secret() == "right"
    rig.manager.forget(forget_password=True)
    assert rig.vault.get_secret() is None
    assert rig.manager.for_request(None).access_token == "at-2"  # a fresh login


def test_verify_logs_in_without_asking_then_asks_and_renews(rig: Rig) -> None:
    first = rig.manager.verify(None)
    assert rig.grant.timeouts == [10.0]  # the login, no verify call
    assert rig.manager.verify(None) is first
    rig.grant.valid = False
    second = rig.manager.verify(None)
    assert second != first and rig.grant.refreshed == ["rt-1"]
    rig.grant.valid = None  # the grant cannot tell: the expiry decides
    assert rig.manager.verify(None) is second


def test_an_explicit_login_prompts_outside_the_locks_too(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = prompting_rig(monkeypatch, lambda rig: Secret("right", "prompt"))
    rig.vault.set_token(Token("at-old", "rt-old", expires_at=T0 + 3600, issued_at=T0))
    token = rig.manager.login(None, None, remember=True)
    assert token.access_token == "at-1"  # a login whatever the store holds
    assert rig.grant.logins == ["right"] and rig.vault.get_secret() == "right"
    assert rig.seen == [token]


# -- Retry-After when no valid token is left ---------------------------------------------------


@pytest.mark.parametrize(("asked", "honoured"), [(20.0, 20.0), (86400.0, 60.0)])
def test_with_no_valid_token_retry_after_is_honoured_up_to_a_minute(
    asked: float, honoured: float
) -> None:
    rig = Rig()
    rig.grant.fail = TokenEndpointError("503", retryable=True, retry_after=asked)
    with pytest.raises(TokenEndpointError, match="503"):
        rig.manager.for_request(None)
    calls = len(rig.grant.timeouts)
    rig.clock.advance(honoured - 1)
    for _ in range(3):  # failed at once, without asking the identity provider again
        with pytest.raises(TokenEndpointError, match="503"):
            rig.manager.for_request(None)
        with pytest.raises(TokenEndpointError, match="503"):
            rig.manager.after_rejection(Token("at-old"), None, "status 401")
    assert len(rig.grant.timeouts) == calls
    rig.clock.advance(1)
    assert rig.manager.for_request(None).access_token == "at-1"


def test_a_failure_without_retry_after_is_not_remembered() -> None:
    rig = Rig()
    rig.grant.fail = TokenEndpointError("down", retryable=True)
    with pytest.raises(TokenEndpointError):
        rig.manager.for_request(None)
    assert rig.manager.for_request(None).access_token == "at-1"


# -- issue 10: renewing ahead in the background ---------------------------------------------------


def due(rig: Rig) -> Token:
    """A first token, and the clock moved into its renewal window (still valid)."""
    first = rig.manager.for_request(None)
    assert first.expires_at is not None
    rig.clock.now = first.expires_at - 10  # 30 s leeway
    return first


def test_a_process_that_never_renews_starts_no_thread(rig: Rig) -> None:
    for _ in range(50):
        rig.manager.for_request(None)
        rig.clock.advance(60)  # most of the hour, never into the leeway
    assert rig.workers == [] and rig.grant.calls == 1


def test_a_due_token_is_used_at_once_and_renewed_once_in_the_background(rig: Rig) -> None:
    first = due(rig)
    for _ in range(20):
        assert rig.manager.for_request(None) is first  # no request waits
    assert len(rig.workers) == 1 and rig.grant.calls == 1  # one renewal started, not yet run
    rig.run_ahead()
    assert rig.grant.refreshed == ["rt-1"]
    second = rig.manager.for_request(None)
    assert second.access_token == "at-2" and rig.seen == [first, second]
    assert len(rig.workers) == 1


def test_on_token_of_a_renewal_ahead_runs_with_every_lock_free(rig: Rig) -> None:
    due(rig)
    held: list[bool] = []
    rig.manager.on_token = lambda t: held.append(
        rig.vault.held or rig.manager._flight.busy or rig.manager._ahead_lock.locked()
    )
    rig.manager.for_request(None)
    rig.run_ahead()
    assert held == [False]


def test_an_expired_token_waits_even_while_a_renewal_ahead_is_queued(rig: Rig) -> None:
    first = due(rig)
    rig.manager.for_request(None)  # a renewal ahead is started ...
    rig.expire()  # ... but the token expires before it ran
    second = rig.manager.for_request(None)  # this request renews (and waits)
    assert second != first and rig.grant.calls == 2
    rig.run_ahead()  # the late renewal ahead finds a fresh token: no request
    assert rig.grant.calls == 2


def test_a_failing_renewal_ahead_backs_off_and_warns_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """The renewal storm: requests keep arriving while the endpoint fails; renewals are tried
    5, 10, 20 s apart, never once per request, and one warning is logged."""
    first = due(rig)
    assert first.expires_at is not None
    rig.clock.now = first.expires_at - 29
    attempts: list[float] = []
    rig.grant.before = lambda what: attempts.append(rig.clock.now)
    with caplog.at_level(logging.DEBUG, logger="requests_silentauth"):
        for _ in range(56):  # a request every 0.5 s for 28 s
            rig.grant.fail = TokenEndpointError("503", retryable=True, status_code=503)
            assert rig.manager.for_request(None) is first  # the valid token, at once
            rig.run_ahead()
            rig.clock.advance(0.5)
    start = first.expires_at - 29
    assert [round(a - start, 1) for a in attempts] == [0.0, 5.0, 15.0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "still valid" in warnings[0].getMessage()
    assert "at-1" not in caplog.text and "rt-1" not in caplog.text


def test_after_a_failing_renewal_ahead_the_expired_token_waits_and_sees_the_error(
    rig: Rig,
) -> None:
    due(rig)
    rig.grant.fail = TokenEndpointError("503", retryable=True, status_code=503)
    rig.manager.for_request(None)
    rig.run_ahead()
    rig.expire()
    rig.grant.fail = TokenEndpointError("the endpoint is down", retryable=True)
    with pytest.raises(TokenEndpointError, match="the endpoint is down"):
        rig.manager.for_request(None)


def test_a_success_resets_the_back_off(rig: Rig) -> None:
    due(rig)
    rig.grant.fail = TokenEndpointError("503", retryable=True, status_code=503)
    rig.manager.for_request(None)
    rig.run_ahead()
    assert rig.manager._ahead_failures == 1
    rig.clock.advance(5)
    rig.manager.for_request(None)
    rig.run_ahead()
    assert rig.manager._ahead_failures == 0 and rig.manager._early_retry_at == 0.0


def test_a_renewal_ahead_never_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(password=None, prompt=True)
    monkeypatch.setattr(_secrets, "ask", lambda *a: pytest.fail("prompted in the background"))
    rig.vault.set_secret("right")
    first = due(rig)
    rig.vault.delete_secret()
    rig.grant.dead_refresh_tokens.add("rt-1")  # the refresh token is dead: a login is needed
    assert rig.manager.for_request(None) is first
    rig.run_ahead()  # CredentialsNotFound, kept for the request that must wait
    assert rig.manager.token is first and rig.manager._ahead_failures == 1


def test_an_unexpected_error_in_a_renewal_ahead_is_logged_by_type_only(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    first = due(rig)
    rig.vault.write_error = RuntimeError("store said: secret-value")
    rig.grant.before = lambda what: None
    rig.vault.on_lock = lambda: (_ for _ in ()).throw(RuntimeError("secret-value"))
    with caplog.at_level(logging.DEBUG, logger="requests_silentauth"):
        assert rig.manager.for_request(None) is first
        rig.run_ahead()
    assert "RuntimeError" in caplog.text and "secret-value" not in caplog.text
    assert rig.manager.for_request(None) is first


def test_close_waits_for_the_renewal_ahead_and_leaves_no_worker(rig: Rig) -> None:
    due(rig)
    rig.manager.for_request(None)
    worker = rig.workers[0]
    rig.manager.close()
    assert worker.joined == [11.0] and worker.ran  # token_timeout + 1
    assert rig.manager._ahead is None and rig.manager.token is not None
    assert rig.manager.token.access_token == "at-2"


def test_renew_ahead_off_keeps_the_waiting_path() -> None:
    rig = Rig(background=False)
    first = due(rig)
    second = rig.manager.for_request(None)
    assert second != first and rig.workers == []


def test_the_fork_reset_forgets_the_parents_renewal_ahead(rig: Rig) -> None:
    due(rig)
    rig.manager.for_request(None)
    assert rig.manager._ahead is not None
    assert rig.manager._ahead_lock.acquire(blocking=False)  # a parent thread held it
    _reset_in_child()
    assert rig.manager._ahead is None
    rig.manager.for_request(None)  # the child starts its own
    assert len(rig.workers) == 2


def test_no_thread_at_interpreter_shutdown_keeps_the_valid_token() -> None:
    def refuse(work: Callable[[], None]) -> FakeWorker:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    rig = Rig(spawn=refuse)
    first = due(rig)
    assert rig.manager.for_request(None) is first  # no error reaches the request


def test_an_on_token_error_in_the_background_is_logged_by_type(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    due(rig)

    def boom(token: Token) -> None:
        raise ValueError(f"bad {token.access_token}")

    rig.manager.on_token = boom
    rig.manager.for_request(None)
    with caplog.at_level(logging.WARNING, logger="requests_silentauth"):
        rig.run_ahead()
    assert "ValueError" in caplog.text and "at-2" not in caplog.text
    assert rig.manager.token is not None and rig.manager.token.access_token == "at-2"


def test_close_from_the_background_renewal_itself_does_not_join_itself(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    due(rig)
    rig.manager.for_request(None)
    worker = rig.workers[0]
    rig.manager.on_token = lambda t: rig.manager.close()
    monkeypatch.setattr(threading, "current_thread", lambda: worker)  # on_token runs there
    rig.run_ahead()
    assert worker.joined == []
