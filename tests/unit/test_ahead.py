"""Renewing ahead: what a request does with the token it finds, and the back-off after a failed
background renewal. Pure decisions, a fixed ``now``."""

from __future__ import annotations

import pytest

from requests_silentauth import Token
from requests_silentauth._ahead import FIRST_PAUSE, MAX_PAUSE, Use, decide, next_try

NOW = 1_000_000.0


def token(expires_in: float | None, life: float = 3600.0) -> Token:
    if expires_in is None:
        return Token("at", "rt", expires_at=None, issued_at=NOW - 10)
    expires_at = NOW + expires_in
    return Token("at", "rt", expires_at=expires_at, issued_at=expires_at - life)


@pytest.mark.parametrize(
    ("tok", "retry_at", "background", "use"),
    [
        (None, 0.0, True, Use.AFTER_RENEWAL),  # nothing to use: wait
        (token(100), 0.0, True, Use.AS_IS),  # fresh (30 s leeway)
        (token(None), 0.0, True, Use.AS_IS),  # no known expiry: used until rejected
        (token(30), 0.0, True, Use.AND_RENEW_AHEAD),  # the leeway starts: renew ahead
        (token(10), 0.0, True, Use.AND_RENEW_AHEAD),  # due, still valid
        (token(0.001), 0.0, True, Use.AND_RENEW_AHEAD),  # the last moment it is valid
        (token(0), 0.0, True, Use.AFTER_RENEWAL),  # expired: only this waits
        (token(-5), 0.0, True, Use.AFTER_RENEWAL),
        (token(10), NOW + 1, True, Use.AS_IS),  # a failed renewal is backing off
        (token(10), NOW, True, Use.AND_RENEW_AHEAD),  # the back-off is over
        (token(-5), NOW + 1, True, Use.AFTER_RENEWAL),  # backing off, but expired: wait
        (token(10), 0.0, False, Use.AFTER_RENEWAL),  # renew_ahead=False: the waiting path
        (token(10), NOW + 1, False, Use.AS_IS),
        (token(100), 0.0, False, Use.AS_IS),
        (token(15, life=40), 0.0, True, Use.AND_RENEW_AHEAD),  # leeway capped at half the life
        (token(25, life=40), 0.0, True, Use.AS_IS),
    ],
)
def test_what_a_request_does_with_the_token_it_finds(
    tok: Token | None, retry_at: float, background: bool, use: Use
) -> None:
    assert decide(tok, NOW, leeway=30.0, retry_at=retry_at, background=background) is use


def test_failures_back_off_doubling_up_to_a_ceiling() -> None:
    far = NOW + 10_000
    pauses = [next_try(n, NOW, expires_at=far, retry_after=None) - NOW for n in range(1, 9)]
    assert pauses == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0, 60.0]
    assert pauses[0] == FIRST_PAUSE and pauses[-1] == MAX_PAUSE


def test_retry_after_lengthens_the_pause_never_shortens_it() -> None:
    far = NOW + 10_000
    assert next_try(1, NOW, expires_at=far, retry_after=120.0) == NOW + 120.0
    assert next_try(3, NOW, expires_at=far, retry_after=1.0) == NOW + 20.0
    assert next_try(1, NOW, expires_at=far, retry_after=0.0) == NOW + 5.0


def test_the_pause_never_outlasts_the_token() -> None:
    # then a request waits for the renewal and sees its real error
    assert next_try(4, NOW, expires_at=NOW + 7, retry_after=None) == NOW + 7
    assert next_try(1, NOW, expires_at=NOW + 7, retry_after=300.0) == NOW + 7
    assert next_try(1, NOW, expires_at=None, retry_after=None) == NOW + 5


def test_no_renewal_thread_from_the_main_or_a_daemon_thread_while_python_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python exiting (``threading._shutdown`` ran): from the main thread (an ``atexit``
    handler) or a daemon thread, nobody would wait for the renewal thread; a non-daemon thread
    is waited for, and so is what it starts."""
    import threading

    from requests_silentauth._manager import start_thread

    monkeypatch.setattr(threading, "_SHUTTING_DOWN", True, raising=False)
    ran: list[str] = []
    with pytest.raises(RuntimeError, match="shutdown"):
        start_thread(lambda: ran.append("main"))
    outcome: dict[bool, object] = {}

    def from_thread(daemon: bool) -> None:
        try:
            worker = start_thread(lambda: ran.append(f"daemon={daemon}"))
            worker.join()
            outcome[daemon] = "started"
        except RuntimeError as exc:
            outcome[daemon] = exc

    for daemon in (True, False):
        t = threading.Thread(target=from_thread, args=(daemon,), daemon=daemon)
        t.start()
        t.join()
    assert isinstance(outcome[True], RuntimeError) and outcome[False] == "started"
    assert ran == ["daemon=False"]
