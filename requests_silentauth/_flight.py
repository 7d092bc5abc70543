"""Single flight across threads: one renewal at a time, and the threads that arrive while it
runs share its outcome, its failure included (issue 7, behaviour 7).

Before this, threads queued on a lock held during the token request; when the renewal failed,
each of them made its own request in turn, so 16 threads against a hanging identity server waited
16 timeouts. Now the leader runs the work holding no lock (a small lock guards only which flight
is in progress), and followers wait for its result no longer than their own deadline."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ._errors import TokenEndpointError

__all__ = ["Flight", "fresh_copy"]

R = TypeVar("R")


class _Run(Generic[R]):
    """One flight: set ``done`` once it has a result, an error, or was abandoned."""

    __slots__ = ("abandoned", "done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: R | None = None
        self.error: Exception | None = None
        self.abandoned = False  # the leader left without an outcome (KeyboardInterrupt...)


class Flight(Generic[R]):
    def __init__(self) -> None:
        self._guard = threading.Lock()  # guards ``_run`` only; never held during the work
        self._run: _Run[R] | None = None

    @property
    def busy(self) -> bool:
        return self._run is not None

    def run(
        self,
        work: Callable[[], R],
        *,
        deadline: float,
        clock: Callable[[], float],
        share: bool = True,
    ) -> tuple[R, bool]:
        """Run ``work`` unless a flight is in progress; returns (result, whether we led).

        A follower waits until ``deadline`` (on ``clock``) at most, then raises a retryable
        ``TokenEndpointError``. With ``share`` it takes the leader's result or a fresh copy of
        its exception; without, it waits for the flight to land and then leads its own (an
        explicit login or logout must run, not borrow another thread's outcome)."""
        while True:
            with self._guard:
                run = self._run
                leading = run is None
                if run is None:
                    run = self._run = _Run()
            if leading:
                return self._lead(run, work), True
            left = deadline - clock()
            if not run.done.wait(None if math.isinf(left) else max(0.0, left)):
                raise TokenEndpointError(
                    "timed out waiting for the token renewal in progress in another thread; "
                    "it is retried on the next request",
                    retryable=True,
                )
            if not share or run.abandoned:
                continue
            if run.error is not None:
                raise fresh_copy(run.error) from None
            return run.result, False  # type: ignore[return-value]  # set when not abandoned

    def lead_if_idle(self, work: Callable[[], R]) -> tuple[R] | None:
        """Run ``work`` as the leader of a new flight, or return None at once when a flight is
        in progress (a renewal ahead never waits for, or repeats, one that is running).

        Its failure is not shared: a follower (a request whose token expired meanwhile) leads
        a flight of its own, which may do what this one may not (ask a person: the renewal
        ahead never prompts nor shows a device code, and its error says none may be asked)."""
        with self._guard:
            if self._run is not None:
                return None
            run = self._run = _Run()
        return (self._lead(run, work, share_failure=False),)

    def _lead(self, run: _Run[R], work: Callable[[], R], *, share_failure: bool = True) -> R:
        try:
            run.result = result = work()  # before ``done`` is set: followers read it then
        except Exception as exc:
            if share_failure:
                run.error = fresh_copy(exc)  # kept without our traceback and its frames
            else:
                run.abandoned = True  # followers lead a flight of their own
            raise
        except BaseException:
            run.abandoned = True  # followers lead a flight of their own
            raise
        finally:
            with self._guard:
                if self._run is run:
                    self._run = None
            run.done.set()
        return result

    def reset(self) -> None:
        """In a forked child: the parent's threads are gone, so a flight they were running
        never lands; forget it, with a lock no parent thread can be holding."""
        self._guard = threading.Lock()
        self._run = None


def fresh_copy(exc: Exception) -> Exception:
    """A new exception of the same type and message (and attributes, such as ``retryable`` or
    ``retry_at``), with no traceback, cause or context: each thread raises its own object, never
    one whose traceback points into another thread's frames."""
    try:
        copy = type(exc).__new__(type(exc), *exc.args)
        copy.args = exc.args  # OSError's __new__ (requests' errors) leaves them to __init__
        copy.__dict__.update(exc.__dict__)
    except Exception:  # an exception type that cannot be rebuilt this way
        return TokenEndpointError(
            f"the token renewal in progress in another thread failed ({type(exc).__name__})",
            retryable=True,
        )
    return copy
