"""The text forms of what the Vault keeps: the token set and the record of a refused secret.

Pure functions, no I/O. Stores hold only text, so anything a store hands back may be damaged
(edited by hand, truncated, written by a bug): decoding never raises anything but
``ValueError`` (issue 7 behaviour 14: not ``RecursionError`` for deeply nested JSON, not
``TypeError`` for a list where a string belongs, not ``OverflowError`` for a 400-digit
number). Messages never quote the input: it holds tokens."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ._token import Token

__all__ = ["Refusal", "decode_refusal", "decode_token", "encode_refusal", "encode_token"]

#: A token set is a few kilobytes; the limit only keeps a damaged value from costing a
#: minute of parsing. Far above any real token (a 10 kB JWT plus a refresh token).
MAX_RECORD = 1_000_000


@dataclass(frozen=True)
class Refusal:
    """A secret the server refused: its salted id, until when it is not tried again, and the
    server's message (so other processes can raise the same error)."""

    secret_id: str
    until: float
    message: str
    error: str | None = None


def encode_token(token: Token) -> str:
    return json.dumps(token.to_dict(), separators=(",", ":"))


def decode_token(raw: object) -> Token:
    """The token set in ``raw``; ``ValueError`` naming only what kind of damage was found."""
    data = _json_object(raw)
    try:
        return Token.from_dict(data)
    # Token.from_dict already narrows its errors to ValueError; the rest is belt and braces
    # against a future field whose check is missed (the caller promises one error type).
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise ValueError(f"the token record is malformed ({type(exc).__name__})") from None


def encode_refusal(refusal: Refusal) -> str:
    return json.dumps(
        {
            "id": refusal.secret_id,
            "until": refusal.until,
            "message": refusal.message,
            "error": refusal.error,
        },
        separators=(",", ":"),
    )


def decode_refusal(raw: object) -> Refusal | None:
    """The refusal record in ``raw``, or None when it cannot be read. An unreadable record is
    forgotten rather than trusted: the worst case is one more login attempt, while trusting,
    say, an infinite ``until`` would block every login forever."""
    try:
        data = _json_object(raw)
    except ValueError:
        return None
    secret_id, until, message, error = (data.get(k) for k in ("id", "until", "message", "error"))
    if not isinstance(secret_id, str) or not isinstance(message, str):
        return None
    if isinstance(until, bool) or not isinstance(until, int | float):
        return None
    try:
        when = float(until)  # OverflowError for a 400-digit integer
    except OverflowError:
        return None
    if not math.isfinite(when):
        return None
    return Refusal(secret_id, when, message, error if isinstance(error, str) else None)


def _json_object(raw: object) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise ValueError(f"the record is {type(raw).__name__}, not text")
    if len(raw) > MAX_RECORD:
        raise ValueError("the record is implausibly long")
    try:
        data = json.loads(raw)
    except RecursionError:  # "[[[[...]]]]" nested deeper than the interpreter's limit
        raise ValueError("the record is nested too deeply") from None
    except ValueError:  # not JSON; also an integer of more than 4,300 digits
        raise ValueError("the record is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError(f"the record is a JSON {type(data).__name__}, not an object")
    return data
