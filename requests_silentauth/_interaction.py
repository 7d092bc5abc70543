"""Logins that need a person (issue 8): whether one may be asked, and the pure decisions of the
device code (RFC 8628) and browser (RFC 7636 PKCE, RFC 8252 loopback) flows.

A person takes minutes, so the interaction never runs under a lock (issue 7, like the password
prompt): an interactive grant's ``login``, called under the store lock, raises
``InteractionNeeded`` carrying the work to do; the manager lets the locks go, runs it, and climbs
the ladder again with the token it got (the store is re-read first: another process may have
logged in meanwhile). Where nobody may be asked it raises ``InteractionRequired`` at once,
before any code is shown or browser opened.

Everything here is pure (no socket, no clock of its own) and unit-tested with a fake clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._errors import (
    CONTROLS,
    AuthorizationDenied,
    InteractionRequired,
    LoginExpired,
    TokenEndpointError,
)
from ._token import Token

__all__ = [
    "SLOW_DOWN",
    "Callback",
    "DeviceAuthorization",
    "InteractionNeeded",
    "interaction_required",
    "judge_callback",
    "next_interval",
    "pkce_challenge",
    "pkce_verifier",
    "same_state",
]

#: RFC 8628 §3.5: each ``slow_down`` adds 5 seconds to the polling interval, for good.
SLOW_DOWN = 5.0
#: RFC 8628 §3.2: the interval when the server names none.
DEFAULT_INTERVAL = 5.0
#: A hostile or confused server must not keep a login polling for days, or one poll a day:
#: ``expires_in`` and ``interval`` are believed up to these (providers use 5-30 minutes, 5 s).
MAX_EXPIRES_IN = 3600.0
MAX_INTERVAL = 60.0
#: After an answer that was not the token, the next poll waits at least this long, whatever
#: ``interval`` the server named: 0 (which tests use to poll at once) would otherwise poll as
#: fast as the network allows until ``expires_in``.
MIN_INTERVAL = 1.0


class InteractionNeeded(Exception):
    """Raised under the store lock by an interactive grant: let every lock go, then call
    ``run(per_request_seconds)`` for the token (it shows a code or opens a browser)."""

    def __init__(self, run: Callable[[float], Token]) -> None:
        super().__init__("an interactive login is needed")
        self.run = run


def interaction_required(how: str, command: str | None) -> InteractionRequired:
    """The error for a login that needs a person where none may be asked. ``how``: "a device
    code" or "a browser"; ``command``: the ``silentauth login ...`` line that fixes it."""
    fix = (
        f"log in once at a terminal with: {command}"
        if command
        else "log in once where a person can answer (prompt=True, or at a terminal)"
    )
    return InteractionRequired(
        f"logging in needs a person ({how}) and none may be asked here (no terminal, or "
        f"prompt=False); {fix}; later runs then refresh silently"
    )


# -- PKCE (RFC 7636) --------------------------------------------------------------------------


def pkce_verifier(random: Callable[[int], str] = secrets.token_urlsafe) -> str:
    """A code verifier: 43-128 unreserved characters (§4.1); 32 random bytes give 43."""
    verifier = random(32)
    if not 43 <= len(verifier) <= 128:
        raise ValueError("a PKCE code verifier must have 43 to 128 characters")
    return verifier


def pkce_challenge(verifier: str) -> str:
    """S256 (§4.2): BASE64URL(SHA256(ASCII(verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_state(got: str | None, expected: str) -> bool:
    """The ``state`` echoed to the redirect is ours (constant time; RFC 6749 §10.12)."""
    return got is not None and hmac.compare_digest(got.encode("utf-8"), expected.encode("utf-8"))


# -- the browser's callback to the loopback listener -------------------------------------------


@dataclass(frozen=True)
class Callback:
    """What the listener answers a request with, and what it learned. ``code``: the login
    succeeded (stop listening); ``error``: the provider refused it (stop, raise it); neither:
    not a valid callback (answer it and keep listening: a forged one must not end the login)."""

    status: int
    page: str
    code: str | None = None
    error: str | None = None
    description: str | None = None


DONE_PAGE = "Logged in. You can close this window and return to the application."
REFUSED_PAGE = "The login was refused. You can close this window."


def _authority(host: str) -> tuple[str, int] | None:
    """(host name, port) of a ``Host`` header or a redirect URI's netloc, compared instead of
    the spelling: a browser drops the default port and leading zeros from what it sends."""
    if not host or any(c in host for c in "/?#@\\") or host != host.strip():
        return None
    try:
        parts = urlsplit("//" + host)
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name:
        return None
    return name.lower(), 80 if port is None else port


def judge_callback(
    *,
    method: str,
    target: str,
    host: str | None,
    expected_host: str,
    expected_path: str,
    state: str,
) -> Callback:
    """Judge one request to the loopback listener (RFC 8252 §7.3). Only a GET to the redirect
    path, addressed to our own host and port (a page elsewhere that makes the browser call us
    through another name, DNS rebinding, is refused), carrying our ``state`` counts. A wrong
    or missing state is refused without ending the login: it is someone else's redirect
    (RFC 6749 §10.12, authorization code injection)."""
    if method != "GET":
        return Callback(405, "Only the browser's redirect is expected here.")
    ours = _authority(expected_host)
    if ours is None or _authority(host or "") != ours:
        return Callback(400, "This request was not addressed to the login listener.")
    parts = urlsplit(target)
    if parts.path != expected_path:
        return Callback(404, "Not the login redirect.")
    query = parse_qs(parts.query, keep_blank_values=True)
    if any(len(v) > 1 for v in query.values()):
        return Callback(400, "A parameter was repeated; the redirect is not valid.")
    got = {k: v[0] for k, v in query.items()}
    if not same_state(got.get("state"), state):
        return Callback(400, "This redirect does not belong to the login in progress.")
    if "error" in got:
        description = got.get("error_description")
        return Callback(
            200,
            REFUSED_PAGE,
            error=got["error"][:100],
            description=None if description is None else description[:300],
        )
    code = got.get("code")
    if not code:
        return Callback(400, "The redirect carries no authorization code.")
    return Callback(200, DONE_PAGE, code=code)


# -- the device authorization grant (RFC 8628) -------------------------------------------------


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the person is shown (§3.2). ``device_code`` is the client's secret and is never
    shown, logged or put in a repr."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float
    device_code: str = ""

    def __repr__(self) -> str:
        return (
            f"DeviceAuthorization(user_code={self.user_code!r}, "
            f"verification_uri={self.verification_uri!r}, expires_in={self.expires_in!r})"
        )

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], where: str) -> DeviceAuthorization:
        """Read a device authorization answer; an unusable one is a clear error."""

        def optional(key: str) -> str | None:
            value = payload.get(key)
            return value if isinstance(value, str) and value else None

        def required(key: str) -> str:
            value = optional(key)
            if value is None:
                raise TokenEndpointError(
                    f"the device authorization endpoint at {where} answered without a usable "
                    f"{key!r}",
                    retryable=False,
                )
            return value

        def number(key: str, default: float | None) -> float:
            value = payload.get(key, default)
            # json.loads reads NaN and Infinity: NaN compares false with everything, so it
            # would neither wait nor ever reach the deadline.
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                if value == 0 and key == "interval":
                    return 0.0
                raise TokenEndpointError(
                    f"the device authorization endpoint at {where} answered without a usable "
                    f"{key!r} (a positive number of seconds)",
                    retryable=False,
                )
            return float(value)

        device_code = required("device_code")
        user_code = required("user_code")
        # Some providers (older Google, Microsoft) say verification_url.
        uri = optional("verification_uri") or required("verification_url")
        complete = optional("verification_uri_complete")
        for name, link in (("verification_uri", uri), ("verification_uri_complete", complete)):
            if link is not None and (
                urlsplit(link).scheme.lower() not in ("https", "http")
                or CONTROLS.search(link)
                or any(c.isspace() for c in link)
            ):
                raise TokenEndpointError(
                    f"the device authorization endpoint at {where} sent a {name} that is not "
                    "a web address (http or https, without spaces or control characters)",
                    retryable=False,
                )
        if CONTROLS.search(user_code):
            # Printed on the person's terminal: an escape sequence there could rewrite what
            # they read (another address) or set their clipboard (OSC 52).
            raise TokenEndpointError(
                f"the device authorization endpoint at {where} sent a user_code with control "
                "characters",
                retryable=False,
            )
        return cls(
            user_code=user_code,
            verification_uri=uri,
            verification_uri_complete=complete,
            expires_in=min(number("expires_in", None), MAX_EXPIRES_IN),
            interval=min(number("interval", DEFAULT_INTERVAL), MAX_INTERVAL),
            device_code=device_code,
        )


def next_interval(
    error: str | None,
    description: str | None,
    *,
    interval: float,
    now: float,
    deadline: float,
    where: str,
) -> float:
    """After a poll that did not return a token (§3.5): the interval before the next poll, or
    a typed error. ``authorization_pending`` keeps the interval (``MIN_INTERVAL`` at least),
    ``slow_down`` adds 5 s for good; ``access_denied`` and ``expired_token`` end the login,
    and so does a next poll that would come after the code expired (``deadline``, from
    ``expires_in``)."""
    if error == "slow_down":
        interval += SLOW_DOWN
    elif error == "access_denied":
        raise AuthorizationDenied(
            f"the device login at {where} was denied (access_denied); run the login again and "
            "approve it",
            error=error,
            error_description=description,
        )
    elif error == "expired_token":
        raise LoginExpired(
            f"the device code from {where} expired before the login was approved "
            "(expired_token); run the login again and approve it in time"
        )
    elif error != "authorization_pending":
        detail = f"{error}: {description}" if error and description else (error or "no error")
        raise TokenEndpointError(
            f"the token endpoint at {where} refused the device code poll ({detail})",
            retryable=False,
            error=error,
        )
    interval = max(interval, MIN_INTERVAL)
    if now + interval >= deadline:
        raise LoginExpired(
            f"the device code from {where} expired before the login was approved; run the "
            "login again and approve it in time"
        )
    return interval
