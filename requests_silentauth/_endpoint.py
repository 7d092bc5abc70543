"""Talking to token endpoints: one job, done through a session of its own.

Token requests never go through the user's authenticated session, so a 401 from the token
endpoint can never recurse into our own recovery (STYLE: google-auth). Transport faults, 5xx and
429 become a retryable ``TokenEndpointError``; anything else is handed back to the grant, which
knows what the server's refusal means."""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ._errors import TokenEndpointError

# Errors raised here chain no requests exception (``from None``): those carry the prepared
# request, whose body holds the password and whose headers hold the client secret.
from ._origins import check_transport, origin_of

log = logging.getLogger("requests_silentauth")

#: Token answers are small; a larger body is not read beyond this (hostile servers).
MAX_ANSWER = 1 << 20

Timeout = float | tuple[float | None, float | None] | None


def seconds(timeout: Timeout, default: float) -> float:
    """A request's ``timeout=`` as one budget in seconds for a whole token operation (issue 7:
    every timeout is a deadline). ``(connect, read)`` adds up; ``None`` parts take
    ``default``."""
    if timeout is None:
        return default
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (default if connect is None else connect) + (default if read is None else read)
    return float(timeout)


@dataclass(frozen=True)
class Answer:
    """A token endpoint's answer that arrived (any status), decoded when it was JSON. Never
    attached to an exception: its request carries the password and client secret."""

    status: int
    payload: Any  # decoded JSON, or None when the body was not JSON
    sent_at: float
    response: requests.Response

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def oauth_error(self) -> tuple[str | None, str | None]:
        """RFC 6749 §5.2 ``error`` and ``error_description``, when present and strings."""
        if not isinstance(self.payload, Mapping):
            return None, None
        error = self.payload.get("error")
        desc = self.payload.get("error_description")
        return (
            error[:100] if isinstance(error, str) else None,
            desc[:300] if isinstance(desc, str) else None,
        )


class TokenClient:
    """Posts to token endpoints. Owns (or borrows) the session used for that."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._own_session = session is None
        self._session_lock = threading.Lock()
        self.allow_insecure_http = allow_insecure_http
        self.clock = clock

    @property
    def session(self) -> requests.Session:
        with self._session_lock:
            if self._session is None:
                self._session = requests.Session()
            return self._session

    def close(self) -> None:
        with self._session_lock:
            if self._own_session and self._session is not None:
                self._session.close()
                self._session = None

    def post(
        self,
        url: str,
        *,
        timeout: Timeout,
        data: Mapping[str, str] | None = None,
        json_body: Any = None,
        auth: tuple[str, str] | None = None,
        what: str = "credentials",
    ) -> Answer:
        check_transport(url, allow_insecure=self.allow_insecure_http, what=what)
        where = str(origin_of(url))
        sent_at = self.clock()
        try:
            response = self.session.post(
                url,
                data=data,
                json=json_body,
                auth=auth,
                timeout=timeout,
                headers={"Accept": "application/json"},
                allow_redirects=False,  # RFC 6749 §3.2: never follow credentials elsewhere
                stream=True,
            )
        except requests.Timeout as exc:
            raise TokenEndpointError(
                f"the token endpoint at {where} did not answer in time ({type(exc).__name__}); "
                "it is retried on the next request",
                retryable=True,
            ) from None
        except requests.RequestException as exc:
            raise TokenEndpointError(
                f"could not reach the token endpoint at {where} ({type(exc).__name__}); "
                "check the URL and the network",
                retryable=True,
            ) from None
        try:
            body = response.raw.read(MAX_ANSWER + 1, decode_content=True)
        except Exception as exc:  # urllib3's protocol and decoding errors, OSError
            raise TokenEndpointError(
                f"the token endpoint at {where} broke off its answer ({type(exc).__name__})",
                retryable=True,
            ) from None
        finally:
            response.close()
        status = response.status_code
        if status >= 500 or status == 429:
            raise TokenEndpointError(
                f"the token endpoint at {where} answered {status}; it is retried later",
                retryable=True,
                status_code=status,
                retry_after=_retry_after(response.headers.get("Retry-After"), self.clock()),
            )
        if len(body) > MAX_ANSWER:
            raise TokenEndpointError(
                f"the token endpoint at {where} sent an answer over {MAX_ANSWER} bytes",
                retryable=False,
                status_code=status,
            )
        payload: Any = None
        try:
            payload = json.loads(body) if body else None
        except (ValueError, RecursionError):
            payload = None
        if 200 <= status < 300 and not isinstance(payload, Mapping):
            ctype = response.headers.get("Content-Type", "no content type")[:60]
            raise TokenEndpointError(
                f"the token endpoint at {where} answered {status} with a body that is not a JSON "
                f"object ({ctype}); is the token URL right?",
                retryable=False,
                status_code=status,
            )
        log.debug("token endpoint %s answered %s in %.3fs", where, status, self.clock() - sent_at)
        return Answer(status, payload, sent_at, response)


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (RFC 9110 §10.2.3: delay-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()[:64]
    if value.isascii() and value.isdigit():
        return float(min(int(value), 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - now, 86400.0))
