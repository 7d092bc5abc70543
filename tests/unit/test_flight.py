"""Single flight: one renewal at a time; followers share its result and its failure, each
waiting no longer than its own deadline. Threads here are coordinated by events only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from requests_silentauth import InvalidCredentials, TokenEndpointError
from requests_silentauth._flight import Flight, _Run, fresh_copy

FOLLOWERS = 8
BOUND = 10.0  # seconds: only ever reached when the code under test is broken


class CountingEvent(threading.Event):
    """An Event that tells the test how many threads are waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.changed = threading.Condition()

    def wait(self, timeout: float | None = None) -> bool:
        with self.changed:
            self.waiting += 1
            self.changed.notify_all()
        return super().wait(timeout)

    def until_waiting(self, n: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.waiting >= n, BOUND)


def deadline() -> float:
    return time.monotonic() + BOUND


class Race:
    """A leader blocked inside its work, then FOLLOWERS threads queued behind it."""

    def __init__(self, flight: Flight[str], work: Callable[[], str]) -> None:
        self.flight = flight
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.results: dict[str, list[Any]] = {"leader": [], "followers": []}
        self.guard = threading.Lock()

        def leading() -> str:
            self.calls += 1
            self.entered.set()
            assert self.release.wait(BOUND)
            return work()

        self.threads = [threading.Thread(target=self._run, args=("leader", leading))]

    def _run(self, role: str, work: Callable[[], str]) -> None:
        try:
            result: Any = self.flight.run(work, deadline=deadline(), clock=time.monotonic)
        except BaseException as exc:  # reported to the test
            result = exc
        with self.guard:
            self.results[role].append(result)

    def go(self) -> None:
        self.threads[0].start()
        assert self.entered.wait(BOUND)
        run = self.flight._run
        assert run is not None
        done = run.done = CountingEvent()

        def follower_work() -> str:
            with self.guard:
                self.calls += 1
            return "a follower's own result"

        for _ in range(FOLLOWERS):
            thread = threading.Thread(target=self._run, args=("followers", follower_work))
            self.threads.append(thread)
            thread.start()
        done.until_waiting(FOLLOWERS)
        self.release.set()
        for thread in self.threads:
            thread.join(BOUND)
            assert not thread.is_alive()


def test_followers_share_the_leaders_failure_without_a_request_of_their_own() -> None:
    def fail() -> str:
        raise TokenEndpointError("the token endpoint hung", retryable=True, status_code=504)

    race = Race(Flight(), fail)
    race.go()
    assert race.calls == 1
    (leader_error,) = race.results["leader"]
    assert isinstance(leader_error, TokenEndpointError)
    errors = race.results["followers"]
    assert len(errors) == FOLLOWERS
    assert len({id(e) for e in errors} | {id(leader_error)}) == FOLLOWERS + 1  # each its own
    for error in errors:
        assert isinstance(error, TokenEndpointError)
        assert str(error) == "the token endpoint hung"
        assert error.retryable and error.status_code == 504
        assert error.__cause__ is None
        frames = []
        tb = error.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        assert "fail" not in frames and "leading" not in frames  # no other thread's frames


def test_followers_share_the_leaders_result() -> None:
    race = Race(Flight(), lambda: "the token")
    race.go()
    assert race.calls == 1
    assert race.results["leader"] == [("the token", True)]
    assert race.results["followers"] == [("the token", False)] * FOLLOWERS


class Abort(BaseException):
    pass


def test_a_leader_that_leaves_without_an_outcome_lets_each_follower_lead() -> None:
    def abort() -> str:
        raise Abort

    race = Race(Flight(), abort)
    race.go()
    assert isinstance(race.results["leader"][0], Abort)
    # nobody shares an interrupt: the followers renewed (one at a time)
    assert race.calls == 1 + FOLLOWERS
    assert all(led for _, led in race.results["followers"])


def test_a_follower_whose_budget_ends_gets_a_retryable_error_and_no_request() -> None:
    flight: Flight[str] = Flight()
    flight._run = _Run()  # a renewal in progress in another thread
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        return "mine"

    with pytest.raises(TokenEndpointError, match="timed out waiting for the token renewal") as info:
        flight.run(work, deadline=100.0, clock=lambda: 100.0)
    assert info.value.retryable and calls == []


def test_an_exclusive_caller_waits_for_the_flight_then_runs_its_own() -> None:
    flight: Flight[str] = Flight()
    run: _Run[str] = _Run()
    flight._run = run
    done: list[tuple[str, bool]] = []
    thread = threading.Thread(
        target=lambda: done.append(
            flight.run(lambda: "mine", deadline=deadline(), clock=time.monotonic, share=False)
        )
    )
    event = run.done = CountingEvent()
    thread.start()
    event.until_waiting(1)
    run.result = "theirs"
    flight._run = None  # the leader lands
    event.set()
    thread.join(BOUND)
    assert done == [("mine", True)]


def test_reset_forgets_a_flight_and_a_held_lock() -> None:
    # What a forked child inherits from a parent thread that was renewing.
    flight: Flight[str] = Flight()
    flight._run = _Run()
    assert flight._guard.acquire(blocking=False)
    flight.reset()
    assert not flight.busy
    assert flight.run(lambda: "fresh", deadline=0.0, clock=lambda: 1.0) == ("fresh", True)


def test_a_fresh_copy_keeps_type_message_and_attributes_but_no_history() -> None:
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise InvalidCredentials("refused", error="invalid_grant", retry_at=5.0) from None
    except InvalidCredentials as exc:
        original = exc
    copy = fresh_copy(original)
    assert type(copy) is InvalidCredentials and copy is not original
    assert str(copy) == "refused" and copy.error == "invalid_grant" and copy.retry_at == 5.0
    assert copy.__traceback__ is None and copy.__cause__ is None and copy.__context__ is None


class Odd(Exception):
    def __new__(cls, *args: Any) -> Odd:
        if not args:
            raise TypeError("needs arguments")
        return super().__new__(cls)

    def __init__(self, *args: Any) -> None:
        super().__init__()


def test_an_exception_that_cannot_be_rebuilt_becomes_a_retryable_error() -> None:
    copy = fresh_copy(Odd("x"))
    assert isinstance(copy, TokenEndpointError) and copy.retryable and "Odd" in str(copy)


# -- edges the mutation run found untested ------------------------------------------------------


def test_a_follower_past_its_deadline_is_told_at_once() -> None:
    flight: Flight[str] = Flight()
    flight._run = _Run()  # a flight in progress in another thread
    with pytest.raises(TokenEndpointError) as info:
        flight.run(lambda: "mine", deadline=5.0, clock=lambda: 6.0)
    assert str(info.value) == (
        "timed out waiting for the token renewal in progress in another thread; "
        "it is retried on the next request"
    )
    assert info.value.retryable


def test_a_follower_without_a_deadline_waits_for_the_leader() -> None:
    flight: Flight[str] = Flight()
    run: _Run[str] = _Run()
    flight._run = run
    got: list[Any] = []

    def follow() -> None:
        got.append(flight.run(lambda: "mine", deadline=float("inf"), clock=time.monotonic))

    follower = threading.Thread(target=follow)
    follower.start()
    run.result = "the leader's"
    run.done.set()
    follower.join(BOUND)
    assert got == [("the leader's", False)]


def test_a_fresh_copy_keeps_the_message_and_attributes_but_no_traceback() -> None:
    try:
        raise InvalidCredentials("refused", error="invalid_grant", retry_at=7.0)
    except InvalidCredentials as exc:
        original = exc
    copy = fresh_copy(original)
    assert type(copy) is InvalidCredentials and copy is not original
    assert copy.args == ("refused",) and str(copy) == "refused"
    assert copy.error == "invalid_grant" and copy.retry_at == 7.0
    assert copy.__traceback__ is None


def test_a_new_run_has_no_outcome_yet() -> None:
    run: _Run[str] = _Run()
    assert run.result is None and run.error is None and run.abandoned is False
    assert not run.done.is_set()


# -- lead_if_idle: the renewal ahead never follows, never waits (issue 10) ------------------------


def test_lead_if_idle_leads_when_no_flight_is_in_progress() -> None:
    flight: Flight[str] = Flight()
    assert flight.lead_if_idle(lambda: "renewed") == ("renewed",)
    assert not flight.busy


def test_lead_if_idle_returns_none_at_once_while_a_flight_runs() -> None:
    flight: Flight[str] = Flight()
    flight._run = _Run()  # another thread is renewing
    ran: list[bool] = []

    def work() -> str:
        ran.append(True)
        return "renewed twice"

    assert flight.lead_if_idle(work) is None
    assert ran == []


def test_a_failed_lead_if_idle_is_not_shared_its_followers_lead_their_own() -> None:
    """The renewal ahead may not ask a person; a request that joined it must not be handed its
    "none may be asked" failure, but lead a flight that may."""
    flight: Flight[str] = Flight()
    run: list[_Run[str]] = []

    def work() -> str:
        run.append(flight._run)  # type: ignore[arg-type]
        raise InvalidCredentials("a person is needed")

    with pytest.raises(InvalidCredentials):
        flight.lead_if_idle(work)
    assert run[0].abandoned and run[0].error is None and run[0].done.is_set()
    assert not flight.busy
