"""The token value: frozen, no I/O, secrets masked in repr/str.

Also the pure parsing of token responses (RFC 6749 §5.1) and of a JWT ``exp`` claim. Parsers
raise ``ValueError`` with a message that never contains a secret; callers wrap it into a typed
error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Token", "fingerprint", "jwt_exp", "lookup"]

log = logging.getLogger("requests_silentauth")

#: What cannot go in an HTTP header value (RFC 9110 §5.5): C0 controls (CR and LF split the
#: header: a server-chosen token would inject headers), DEL, C1 controls, and anything beyond
#: Latin-1 (http.client encodes header values as Latin-1). TAB is refused too: a token has none.
_NOT_IN_HEADER = re.compile("[\x00-\x1f\x7f-\x9f]|[^\x00-\xff]")

#: Longest lifetime we believe from a server (10 years). A larger ``expires_in`` is capped, so an
#: absurd value cannot overflow time arithmetic or pin a token forever.
MAX_LIFETIME = 10 * 365 * 24 * 3600.0


def fingerprint(secret: str | None) -> str:
    """A short, non-reversible name for a secret, for logs and reprs."""
    if not secret:
        return "-"
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:8]


@dataclass(frozen=True)
class Token:
    """An access token and what came with it. ``expires_at`` is absolute (epoch seconds);
    ``issued_at`` is when the token request was *sent*, so the lifetime is never overestimated."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    scope: str | None = None
    expires_at: float | None = None
    issued_at: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.access_token, str) or not self.access_token:
            raise ValueError("a Token needs a non-empty access_token string")
        # Checked here, not where a token is sent, so a token from a server, a store or a login
        # callable is refused when it arrives (issue 7, behaviour 12). The refresh token is
        # never sent in a header (only in a form or JSON body), so it is not checked.
        if _NOT_IN_HEADER.search(self.access_token):
            raise ValueError(
                "the access token holds a character that cannot be sent in an HTTP header "
                "(a control character, or one outside Latin-1)"
            )

    # -- decisions (pure: ``now`` is passed in) ---------------------------------------------

    @property
    def lifetime(self) -> float | None:
        if self.expires_at is None or self.issued_at is None:
            return None
        return max(0.0, self.expires_at - self.issued_at)

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def refresh_due(self, now: float, leeway: float) -> bool:
        """True when the token should be renewed before use. The leeway is capped at half the
        lifetime: a 30 s leeway on a 20 s token would otherwise mean a refresh per request."""
        if self.expires_at is None:
            return False
        life = self.lifetime
        margin = leeway if life is None else min(leeway, life / 2)
        return now >= self.expires_at - margin

    def with_refresh_fallback(self, previous: Token | None) -> Token:
        """Rotation (RFC 6749 §6): a response without a refresh token keeps the old one."""
        if self.refresh_token or previous is None or not previous.refresh_token:
            return self
        return replace(self, refresh_token=previous.refresh_token)

    # -- presentation -------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.access_token)

    def __repr__(self) -> str:
        refresh = f"<{fingerprint(self.refresh_token)}>" if self.refresh_token else None
        return (
            f"Token(access_token=<{self.fingerprint}>, refresh_token={refresh}, "
            f"token_type={self.token_type!r}, scope={self.scope!r}, expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    # -- serialisation (for stores) -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"at": self.access_token, "tt": self.token_type}
        for key, value in (
            ("rt", self.refresh_token),
            ("sc", self.scope),
            ("exp", self.expires_at),
            ("iat", self.issued_at),
        ):
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        problem: str | None = None
        try:
            refresh, token_type, scope = data.get("rt"), data.get("tt", "Bearer"), data.get("sc")
            if not (
                (refresh is None or isinstance(refresh, str))
                and isinstance(token_type, str)
                and (scope is None or isinstance(scope, str))
            ):
                raise TypeError("a field has the wrong type")
            return cls(
                access_token=data["at"],
                refresh_token=refresh,
                token_type=token_type,
                scope=scope,
                expires_at=_opt_float(data.get("exp")),
                issued_at=_opt_float(data.get("iat")),
            )
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            problem = type(exc).__name__
        # Raised outside the ``except``: no context, whatever the caught error quoted.
        raise ValueError(f"stored token record is malformed ({problem})")

    @classmethod
    def from_response(
        cls,
        payload: Mapping[str, Any],
        *,
        sent_at: float,
        token_field: str = "access_token",
        refresh_field: str | None = "refresh_token",
        expires_in_field: str | None = "expires_in",
        require_bearer: bool = True,
    ) -> Token:
        """Build a token from a decoded JSON answer. ``sent_at`` is when the request left, so
        ``expires_in`` is measured from then (the answer may have taken a while). Without an
        ``expires_in``, a JWT access token's ``exp`` is used; without either, the token is used
        until the server rejects it."""
        access = lookup(payload, token_field)
        if not isinstance(access, str) or not access:
            raise ValueError(f"the answer has no string field {token_field!r}")
        token_type = (
            payload.get("token_type", "Bearer") if token_field == "access_token" else "Bearer"
        )
        if not isinstance(token_type, str) or not token_type:
            raise ValueError("the field 'token_type' is not a string")
        if require_bearer and token_type.lower() != "bearer":
            # RFC 6749 §7.1: a client must not use a token type it does not understand.
            raise ValueError(
                f"token_type {token_type[:40]!r} is not supported (only Bearer tokens can be sent)"
            )
        # The optional fields are lenient (issue 7, behaviour 17): a usable access token is
        # never thrown away over them. Each malformed one is treated as absent and named (never
        # its value) in one warning per answer.
        malformed: list[str] = []
        refresh = lookup(payload, refresh_field) if refresh_field else None
        if refresh is not None and not isinstance(refresh, str):
            # Absent, so a rotation keeps the previous refresh token: if the server did spend
            # it, the next refresh gets invalid_grant and the ladder logs in; nothing is lost.
            malformed.append(refresh_field or "refresh_token")
            refresh = None
        scope = _scope(payload.get("scope"), malformed)
        expires_at: float | None = None
        raw_exp = lookup(payload, expires_in_field) if expires_in_field else None
        lifetime = None
        if raw_exp is not None:
            try:
                lifetime = _lifetime(raw_exp, expires_in_field or "expires_in")
            except ValueError:
                # Lifetime unknown: as if absent (a JWT ``exp`` may still say), so the token
                # is used until the server rejects it. Never "expired at once", which would
                # cost a token request per request.
                malformed.append(expires_in_field or "expires_in")
        if lifetime is not None:
            expires_at = sent_at + lifetime
        else:
            exp = jwt_exp(access)
            if exp is not None:
                expires_at = exp
        token = cls(
            access_token=access,
            refresh_token=refresh or None,
            token_type="Bearer" if token_type.lower() == "bearer" else token_type,
            scope=scope,
            expires_at=expires_at,
            issued_at=sent_at,
        )
        if malformed:
            log.warning(
                "the token response has a malformed optional field (%s); the token is used anyway",
                ", ".join(repr(name[:60]) for name in malformed),
            )
        return token


def _scope(raw: Any, malformed: list[str]) -> str | None:
    """RFC 6749 §3.3: a space-delimited string. A list of strings (some servers send one) is
    joined, since its meaning is plain; anything else (a number, an object, a list holding
    non-strings) is treated as absent: the scope is informational here, never sent."""
    if raw is None or isinstance(raw, str):
        return raw
    malformed.append("scope")
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return " ".join(raw)  # the one repair: the warning still names the field
    return None


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("a time is not a number")
    result = float(value)  # ValueError for a non-numeric string, OverflowError for 400 digits
    if not math.isfinite(result):
        raise ValueError("a time is not finite")
    return result


def _lifetime(raw: Any, name: str) -> float | None:
    if isinstance(raw, bool):
        raise ValueError(f"the field {name!r} is a boolean, not a number of seconds")
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            raise ValueError(f"the field {name!r} is not a number of seconds") from None
    if not isinstance(raw, int | float) or (isinstance(raw, float) and math.isnan(raw)):
        raise ValueError(f"the field {name!r} is not a number of seconds")
    if raw <= 0:
        # Zero or negative is no lifetime at all: believing it would mean a token request per
        # request. The token is used until the server rejects it (or a JWT ``exp`` says).
        return None
    return float(min(raw, MAX_LIFETIME))


def lookup(payload: Any, path: str | None) -> Any:
    """Read a dotted path (``"data.token"``) from decoded JSON; None when any step is missing."""
    if path is None:
        return None
    node = payload
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.isascii()
            and part.isdigit()
            and len(part) < 10
            and int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return None
    return node


def jwt_exp(token: str) -> float | None:
    """The ``exp`` claim of a JWT (RFC 7519 §4.1.4), unverified: used only to schedule a refresh,
    never to trust anything. None when the token is not a JWT or has no usable ``exp``."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 16384:
        return None
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        return None
    if not isinstance(claims, dict):
        return None
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    if isinstance(exp, int):
        exp = max(min(exp, 10**11), -1)  # a 400-digit integer would overflow float()
    if not math.isfinite(exp) or exp <= 0:
        return None
    return float(min(exp, 1e11))
