"""Talking to token endpoints: one job, done through a session of its own.

Token requests never go through the user's authentication (STYLE: google-auth): a 401 from the
token endpoint can never recurse into our own recovery, even when the application's own session
is passed as ``token_session=`` (issue 7, behaviour 5). Transport faults, 5xx and 429 become a
retryable ``TokenEndpointError``; anything else is handed back to the grant, which knows what
the server's refusal means.

Three rules hold for every token request:

- **One deadline.** The ``timeout`` is a budget in seconds for the whole request: name
  resolution, connect, headers and body (issue 7, behaviour 6). Socket timeouts alone are
  per-read, so a server that trickles one byte at a time would hold us forever; the request
  therefore runs in a worker thread that the caller stops waiting for at the deadline, and the
  socket is shut so the worker ends too.
- **No secret in an exception.** A requests exception carries the prepared request, whose body
  holds the password and whose headers hold the client secret. It never leaves the worker: the
  caller raises a fresh error from a plain description, outside any ``except`` block, so
  neither ``__cause__`` nor ``__context__`` can reach it (behaviour 10).
- **Loopback is never proxied.** The plain-http exemption for loopback holds only if the
  request really stays on this host; a proxy from the environment would receive the
  password in clear text (behaviour 9). A proxy cannot reach our loopback anyway.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.auth import AuthBase, HTTPBasicAuth

from ._errors import TokenEndpointError, clip
from ._origins import check_transport, is_loopback, origin_of

log = logging.getLogger("requests_silentauth")

#: Token answers are small; a larger body is not read beyond this (hostile servers).
MAX_ANSWER = 1 << 20

#: The budget when a caller passes ``None`` (the default ``token_timeout`` of ``SilentAuth``).
DEFAULT_BUDGET = 10.0

#: The longest budget we honour: ``threading`` waits overflow on infinity.
MAX_BUDGET = 86400.0

#: What ``timeout=`` may be: seconds, ``(connect, read)``, a urllib3 ``Timeout``, or None.
Timeout = float | tuple[float | None, float | None] | urllib3.util.Timeout | None


def seconds(timeout: Timeout, default: float) -> float:
    """A request's ``timeout=`` as one budget in seconds for a whole token operation (issue 7:
    every timeout is a deadline). ``(connect, read)`` adds up; ``None`` parts take
    ``default``."""
    if timeout is None:
        return default
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (default if connect is None else connect) + (default if read is None else read)
    if isinstance(timeout, int | float):
        return float(timeout)
    # A urllib3 ``Timeout`` (requests accepts one): its total, else connect plus read.
    total = getattr(timeout, "total", None)
    if isinstance(total, int | float):
        return float(total)
    parts = [getattr(timeout, name, None) for name in ("connect_timeout", "read_timeout")]
    return sum(float(p) if isinstance(p, int | float) else default for p in parts)


def _budget(timeout: Timeout) -> float:
    """The seconds a POST may take. Callers pass a float; a ``requests``-style timeout is still
    accepted (and summed) so nothing breaks while callers move over."""
    value = seconds(timeout, DEFAULT_BUDGET)
    if math.isnan(value):
        return DEFAULT_BUDGET
    return min(value, MAX_BUDGET)


# -- the marker: "this thread is making a token request" ------------------------------------------

_local = threading.local()


def token_request_active() -> bool:
    """True while ``TokenClient.post`` runs on this thread (in the caller, and in the worker
    thread that sends the request).

    ``SilentAuthAdapter`` and ``SilentAuth``'s hook use it to pass a request straight through:
    when the application's session is also the token session and our adapter is mounted on the
    token URL's origin, the token POST must not wait for a token (it *is* the token request),
    or it would deadlock on our own lock."""
    depth: int = getattr(_local, "depth", 0)
    return depth > 0


@contextmanager
def token_work() -> Iterator[None]:
    """Marks this thread as doing token work (a token POST, or a grant's own code such as a
    login callable) while the block runs: see ``token_request_active``."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


# -- what a token request sends -------------------------------------------------------------------


class _NoAuth(AuthBase):
    """An explicit "no authentication". ``Session.request`` merges a request's ``auth`` with
    ``session.auth`` and takes the session's when the request has none, and consults netrc when
    neither has one; an auth object that does nothing wins both (issue 7, behaviour 5)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r

    def __repr__(self) -> str:
        return "NoAuth()"


_NO_AUTH = _NoAuth()


def _no_hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    return response


def _proxies_for(url: str) -> dict[str, str | None] | None:
    """The ``proxies=`` for a token request: for a loopback host, every key ``requests`` looks
    up (``select_proxy``) set to None, which removes both environment and session proxies for
    it; ``None`` (requests' defaults) for other hosts."""
    parts = urlsplit(url)
    host = parts.hostname
    if host is None or not is_loopback(host):
        return None
    scheme = parts.scheme.lower()
    return {f"{scheme}://{host}": None, scheme: None, f"all://{host}": None, "all": None}


def request_settings(url: str, auth: tuple[str, str] | None, timeout: float) -> dict[str, Any]:
    """The keyword arguments of a token POST apart from its body: pure, so it is unit-tested.

    ``hooks`` replaces the session's response hooks with one that does nothing: an application
    hook (``raise_for_status``, a body logger) must neither turn a refusal into another error
    nor see a token."""
    return {
        "auth": HTTPBasicAuth(*auth) if auth is not None else _NO_AUTH,
        "proxies": _proxies_for(url),
        "timeout": (timeout, timeout),
        "headers": {"Accept": "application/json"},
        "allow_redirects": False,  # RFC 6749 §3.2: never follow credentials elsewhere
        "stream": True,
        "hooks": {"response": [_no_hook]},
    }


# -- what came back ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A token endpoint's answer that arrived (any status), decoded when it was JSON. It holds
    no request and no response object: those carry the password and the client secret."""

    status: int
    payload: Any  # decoded JSON, or None when the body was not JSON
    sent_at: float
    url: str

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


@dataclass(frozen=True)
class _Arrived:
    """What the worker hands back: plain values only."""

    status: int
    body: bytes
    content_type: str | None
    retry_after: str | None
    url: str


@dataclass(frozen=True)
class _Failed:
    """A fault, described without the exception (which holds the prepared request)."""

    kind: str  # "timeout", "unreachable" or "broken"
    name: str  # the exception's type name, for the message


def judge(
    arrived: _Arrived, *, where: str, sent_at: float, now: float, expect_json: bool = True
) -> Answer:
    """Decide what an arrived answer is: pure, so every branch is unit-tested without a
    socket. Raises a ``TokenEndpointError`` (outside any ``except``) or returns the answer."""
    status = arrived.status
    if status >= 500 or status == 429:
        raise TokenEndpointError(
            f"the token endpoint at {where} answered {status}; it is retried later",
            retryable=True,
            status_code=status,
            retry_after=_retry_after(arrived.retry_after, now),
        )
    if len(arrived.body) > MAX_ANSWER:
        raise TokenEndpointError(
            f"the token endpoint at {where} sent an answer over {MAX_ANSWER} bytes",
            retryable=False,
            status_code=status,
        )
    payload = _decode(arrived.body)
    if expect_json and 200 <= status < 300 and not isinstance(payload, Mapping):
        ctype = (arrived.content_type or "no content type")[:60]
        raise TokenEndpointError(
            f"the token endpoint at {where} answered {status} with a body that is not a JSON "
            f"object ({ctype}) for POST {clip(urlsplit(arrived.url).path or '/', 80)}: a web "
            "page or an API, not a token endpoint; check the token URL",
            retryable=False,
            status_code=status,
        )
    return Answer(status, payload, sent_at, arrived.url)


def _decode(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def failure_error(failed: _Failed, *, where: str) -> TokenEndpointError:
    """The error for a fault: every one is retryable (the server may answer next time)."""
    if failed.kind == "timeout":
        return TokenEndpointError(
            f"the token endpoint at {where} did not answer in time ({failed.name}); "
            "it is retried on the next request",
            retryable=True,
        )
    if failed.kind == "broken":
        return TokenEndpointError(
            f"the token endpoint at {where} broke off its answer ({failed.name})",
            retryable=True,
        )
    return TokenEndpointError(
        f"could not reach the token endpoint at {where} ({failed.name}); "
        "check the URL and the network",
        retryable=True,
    )


# -- one POST, bounded by a deadline ----------------------------------------------------------


class _Late(Exception):
    """The deadline passed while the worker was reading the body."""


class _Exchange:
    """The state one POST shares between the caller and its worker thread."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.abandoned = False
        self.outcome: _Arrived | _Failed | None = None

    def watch(self, sock: socket.socket | None) -> bool:
        """Register the socket to shut at the deadline; False when the caller already left."""
        with self.lock:
            if self.abandoned:
                return False
            self.sock = sock
            return True

    def abandon(self) -> None:
        """The deadline passed: stop waiting, and shut the socket so the worker ends too (a
        blocked ``recv`` returns at once). A worker still resolving the name or reading headers
        has no socket we can reach yet; its per-read timeouts end it, and its result is
        dropped."""
        with self.lock:
            self.abandoned = True
            sock = self.sock
        if sock is not None:
            with suppress(OSError):
                # The plain socket's shutdown, also for a TLS socket: ``SSLSocket.shutdown``
                # would also drop its SSL object under a reader in another thread.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket under a streamed response (urllib3 2, then http.client), if reachable."""
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """Read at most ``MAX_ANSWER + 1`` bytes, checking the deadline between chunks."""
    raw = response.raw
    read: Callable[..., bytes] = getattr(raw, "read1", None) or raw.read
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_ANSWER:
        if time.monotonic() >= deadline:
            raise _Late
        chunk = read(min(65536, MAX_ANSWER + 1 - size), decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _exchange(
    session: requests.Session,
    url: str,
    send: dict[str, Any],
    deadline: float,
    ex: _Exchange,
    method: str = "POST",
) -> None:
    """The worker: send, read, and leave only plain values in ``ex``. Every exception is
    caught here and reduced to its type name, so none (and no prepared request) leaves."""
    outcome: _Arrived | _Failed
    with token_work():
        try:
            if method == "POST":
                response = session.post(url, **send)
            else:
                response = session.request(method, url, **send)
        except requests.Timeout as exc:
            outcome = _Failed("timeout", type(exc).__name__)
        except Exception as exc:  # any transport fault, also from a custom adapter
            outcome = _Failed("unreachable", type(exc).__name__)
        else:
            try:
                body = b""
                if ex.watch(_socket_of(response)):
                    body = _read_body(response, deadline)
                outcome = _Arrived(
                    response.status_code,
                    body,
                    response.headers.get("Content-Type"),
                    response.headers.get("Retry-After"),
                    response.url or url,
                )
            except _Late:
                outcome = _Failed("timeout", "deadline")
            except Exception as exc:  # urllib3's protocol and decoding errors, OSError
                outcome = _Failed(
                    "timeout" if isinstance(exc, requests.Timeout) else "broken",
                    type(exc).__name__,
                )
            finally:
                with suppress(Exception):
                    response.close()
    ex.outcome = outcome
    ex.done.set()


# -- the client ---------------------------------------------------------------------------------

#: Every live client, so a forked child can reset them (issue 7, behaviour 15).
_CLIENTS: weakref.WeakSet[TokenClient] = weakref.WeakSet()


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
        _CLIENTS.add(self)

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

    def after_fork_in_child(self) -> None:
        """Make this client usable in a forked child: a fresh lock (the parent's may have been
        held by a thread that does not exist here), and our own session dropped without
        closing it (its pooled sockets are the parent's connections; closing them here could
        disturb the parent), so the child opens its own. A borrowed session is the
        application's to manage and is kept."""
        self._session_lock = threading.Lock()
        if self._own_session:
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
        expect_json: bool = True,
    ) -> Answer:
        """POST to a token endpoint and return its answer, or raise ``TokenEndpointError``.

        ``timeout`` is the budget in seconds for the whole request (connect, headers, body);
        when it runs out the call ends with a retryable error saying the endpoint did not
        answer in time. ``auth`` is client authentication by HTTP Basic; without it the request
        carries no authentication at all, never the session's."""
        return self._request("POST", url, timeout, data, json_body, auth, what, expect_json)

    def get(self, url: str, *, timeout: Timeout, what: str = "a discovery request") -> Answer:
        """GET a JSON document (discovery metadata) under the same rules as a token POST."""
        return self._request("GET", url, timeout, None, None, None, what)

    def _request(
        self,
        method: str,
        url: str,
        timeout: Timeout,
        data: Mapping[str, str] | None,
        json_body: Any,
        auth: tuple[str, str] | None,
        what: str,
        expect_json: bool = True,
    ) -> Answer:
        check_transport(url, allow_insecure=self.allow_insecure_http, what=what)
        where = str(origin_of(url))
        budget = _budget(timeout)
        sent_at = self.clock()
        with token_work():
            outcome = self._send(url, data, json_body, auth, budget, method)
        if isinstance(outcome, _Failed):
            raise failure_error(outcome, where=where)
        answer = judge(
            outcome, where=where, sent_at=sent_at, now=self.clock(), expect_json=expect_json
        )
        log.debug(
            "token endpoint %s answered %s in %.3fs", where, answer.status, self.clock() - sent_at
        )
        return answer

    def _send(
        self,
        url: str,
        data: Mapping[str, str] | None,
        json_body: Any,
        auth: tuple[str, str] | None,
        budget: float,
        method: str = "POST",
    ) -> _Arrived | _Failed:
        if budget <= 0:
            return _Failed("timeout", "no time left")
        deadline = time.monotonic() + budget
        send = request_settings(url, auth, budget)
        send["data"] = data
        send["json"] = json_body
        ex = _Exchange()
        worker = threading.Thread(
            target=_exchange,
            args=(self.session, url, send, deadline, ex, method),
            name="silentauth-token-request",
            daemon=True,
        )
        del send  # the worker holds the only reference to the secrets from here on
        worker.start()
        if not ex.done.wait(max(0.0, deadline - time.monotonic())):
            ex.abandon()
            return _Failed("timeout", "deadline")
        assert ex.outcome is not None
        return ex.outcome


def _after_fork_in_child() -> None:
    for client in list(_CLIENTS):
        client.after_fork_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
