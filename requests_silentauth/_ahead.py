"""Renewing ahead (issue 10): what a request does with the token it finds, and when a failed
background renewal is tried again. Pure decisions: ``now`` and every input are passed in.

While the current token is valid but inside its renewal window (the leeway), the request uses it
at once and the renewal runs in the background; only a request with no token, or an expired one,
waits for a token request."""

from __future__ import annotations

import enum

from ._token import Token

__all__ = ["FIRST_PAUSE", "MAX_PAUSE", "Use", "decide", "next_try"]

#: Seconds before a failed early renewal is tried again; doubled after each further failure.
FIRST_PAUSE = 5.0
#: The longest pause between two early renewals (the token's expiry caps it too).
MAX_PAUSE = 60.0


class Use(enum.Enum):
    AS_IS = "as is"  # fresh, or due while a failed early renewal is backing off
    AND_RENEW_AHEAD = "and renew ahead"  # due and valid: use it, renew in the background
    AFTER_RENEWAL = "after renewal"  # none, or expired (or due, without background renewal)


def decide(
    token: Token | None, now: float, *, leeway: float, retry_at: float, background: bool
) -> Use:
    """What a request does with ``token``. ``retry_at``: no early renewal before this time
    (a failed one is backing off); ``background``: renewing ahead is on."""
    if token is None:
        return Use.AFTER_RENEWAL
    if not token.refresh_due(now, leeway):
        return Use.AS_IS
    if token.is_expired(now):
        return Use.AFTER_RENEWAL
    if now < retry_at:
        return Use.AS_IS
    return Use.AND_RENEW_AHEAD if background else Use.AFTER_RENEWAL


def next_try(
    failures: int, now: float, *, expires_at: float | None, retry_after: float | None
) -> float:
    """When to try an early renewal again after ``failures`` failures in a row (>= 1): a pause
    of ``FIRST_PAUSE`` doubling up to ``MAX_PAUSE``, at least the server's ``Retry-After``, and
    never past the token's expiry (then a request waits, and sees the real error)."""
    pause = min(FIRST_PAUSE * 2.0 ** max(0, failures - 1), MAX_PAUSE)
    if retry_after:
        pause = max(pause, retry_after)
    at = now + pause
    return at if expires_at is None else min(at, expires_at)
