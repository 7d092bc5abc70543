"""What happens to one send, as a sans-I/O state machine (issue 7; the shape of httpx's
``Auth.auth_flow`` and of h11): a generator that is given the request and the responses, and
yields what must happen next: ``NeedToken`` (the driver asks the manager), ``Release`` (drain
and close a rejected response) and ``Send`` (send this request, reply with its response). It
does no I/O and reads no clock, so every decision is unit-tested with plain objects.

``drive`` is the one loop that carries the actions out; ``SilentAuth``'s hook and
``SilentAuthAdapter`` only say how to send. The retry budget belongs to one send (one hop): at
most one renewal and ``MAX_RESENDS`` resends, whichever entry point drives it."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin

from requests import PreparedRequest, Response
from requests.cookies import extract_cookies_to_jar

from ._challenge import bearer_error
from ._endpoint import Timeout
from ._errors import UnreplayableBodyError
from ._origins import (
    Origin,
    OriginSet,
    check_transport,
    env_proxied,
    is_loopback,
    origin_of,
    transport_ok,
)
from ._placement import Placement, put, relocate
from ._token import Token

log = logging.getLogger("requests_silentauth")
T = TypeVar("T")

#: Responses that are already the outcome of our recovery, so that no second layer (hook after
#: adapter) re-authenticates again; each with the request requests will copy for a redirect
#: (the one it sent, not our resent copy), which the other layer's redirect guard must see.
RESENT: weakref.WeakKeyDictionary[Response, PreparedRequest] = weakref.WeakKeyDictionary()
#: At most this much of a rejected body is read before it is dropped (a 401 that never ends).
DRAIN_LIMIT = 64 * 1024
#: The most sends after the original: a retry with another thread's renewed token, then at
#: most one after this send's own renewal.
MAX_RESENDS = 2


@dataclass(frozen=True)
class Policy:
    """Immutable per-auth settings that decide what a response means and where tokens go."""

    origins: OriginSet
    placement: Placement
    reauth_on: frozenset[int]
    is_rejected: Callable[[Response], bool] | None
    allow_insecure_http: bool
    #: Whether a proxy from the environment would carry a request to this URL (the loopback
    #: exemption from https holds only for a request that stays on this machine).
    proxied: Callable[[Origin], bool] = field(default=env_proxied)
    #: Origins already named in the "token withheld" warning (issue 9: said once per origin).
    withheld: set[str] = field(default_factory=set, compare=False, repr=False)

    def may_carry(self, url: str | None) -> bool:
        """Whether a token may go to ``url``: an allowed origin, over https or to loopback (or
        the user opted in to plain http). The one check for recovery and redirects."""
        origin = self.origins.match(url)
        if origin is None:
            return False
        return transport_ok(
            origin, allow_insecure=self.allow_insecure_http, proxied=self._proxied(origin)
        )

    def _proxied(self, origin: Origin) -> bool:
        """Asked only where it matters: plain http, not opted in."""
        return (
            origin.scheme == "http"
            and not self.allow_insecure_http
            and is_loopback(origin.host)  # elsewhere plain http is refused anyway
            and self.proxied(origin)
        )


# -- the actions the flow yields, and what the driver answers ------------------------------


@dataclass(frozen=True)
class NeedToken:
    """Answer with an ``Issued``: the current token (``rejected`` None; renewed first when it
    is due), or a replacement for ``rejected`` (single flight: a token another caller already
    renewed, else a renewal)."""

    rejected: Token | None
    reason: str


@dataclass(frozen=True)
class Issued:
    token: Token
    #: This answer renewed the token (adopting another caller's renewal is not renewing).
    renewed: bool = False


@dataclass(frozen=True)
class Release:
    """Drain and close ``response`` (answer None): its connection goes back to the pool and
    the caller can still read it from ``history``."""

    response: Response


@dataclass(frozen=True)
class Send:
    """Send ``request`` through the same transport and options; answer with its response."""

    request: PreparedRequest


@dataclass(frozen=True)
class Outcome:
    """The final response of one send, and the token a redirect's next hop carries."""

    response: Response
    carried: Token | None


Action = NeedToken | Release | Send
Flow = Generator[Action, Any, T]


# -- pure decisions ---------------------------------------------------------------------------


def rejection_reason(policy: Policy, response: Response) -> str | None:
    """Why this response means "the token was refused", or None. A rejection from a place our
    token may not go says nothing about our token."""
    if response.status_code in policy.reauth_on:
        if bearer_error(response.headers.get("WWW-Authenticate")) == "insufficient_scope":
            return None  # RFC 6750 §3.1: a new token would not have more scope
        reason = f"status {response.status_code}"
    elif policy.is_rejected is not None and policy.is_rejected(response):
        reason = "is_rejected"
    else:
        return None
    if not policy.may_carry(response.request.url if response.request else None):
        return None
    return reason


def _warn_withheld(policy: Policy, response: Response) -> None:
    """A rejection from an origin our token may not go to: the user likely forgot to allow it
    (issue 9: today a bare 401). Said once per origin, at WARNING; never the token."""
    if response.status_code not in policy.reauth_on or response.request is None:
        return
    url = response.request.url
    if not url or policy.origins.match(url) is not None:
        return
    try:
        origin = str(origin_of(url))
    except ValueError:
        return
    if origin in policy.withheld:
        return
    policy.withheld.add(origin)
    log.warning(
        "%s answered %s to a request sent without a token: its origin is not one the token "
        "may go to (%s); add it to origins= (silentauth: --origin) if it should get one",
        origin,
        response.status_code,
        ", ".join(str(o) for o in policy.origins),
    )


def replayable(request: PreparedRequest) -> bool:
    """Rewind the body if it can be resent identically; False when it cannot (generators,
    consumed or non-seekable streams)."""
    body = request.body
    if body is None or isinstance(body, bytes | str | bytearray | memoryview):
        return True
    position = request._body_position  # set by requests when it prepared the body
    seek = getattr(body, "seek", None)
    if isinstance(position, int) and seek is not None:
        try:
            seek(position)
        except (OSError, ValueError):
            return False
        return True
    return False


# -- the state machine ------------------------------------------------------------------------


def attach(policy: Policy, request: PreparedRequest) -> Flow[Token | None]:
    """Put a token on ``request`` when it may carry one; take ours off otherwise. Returns the
    token it carries."""
    origin = policy.origins.match(request.url)
    if origin is None:
        policy.placement.strip(request)
        return None
    check_transport(
        origin,
        allow_insecure=policy.allow_insecure_http,
        what="a token",
        proxied=policy._proxied(origin),
    )
    issued: Issued = yield NeedToken(None, "request")
    put(policy.placement, request, issued.token.access_token)
    return issued.token


def respond(policy: Policy, response: Response, sent: Token | None) -> Flow[Outcome]:
    """After a response to a request that carried ``sent``: recover a rejection (one renewal,
    at most ``MAX_RESENDS`` resends), and decide what a redirect's next hop carries."""
    # The object requests copies for a redirect from here: this hop's request as sent (after
    # a resend, not the resent copy).
    copied = RESENT.get(response, response.request)
    token, renewed, resends = sent, False, 0
    # A response the other layer (adapter or hook) already recovered is not recovered again,
    # but its redirect is still guarded for this layer's token.
    recovered = response in RESENT
    if sent is None and not recovered:
        _warn_withheld(policy, response)
    while not recovered and token is not None and not renewed and resends < MAX_RESENDS:
        reason = rejection_reason(policy, response)
        if reason is None:
            break
        rejected = response.request
        if policy.placement.present(rejected):
            issued: Issued = yield NeedToken(token, reason)
        else:
            # The rejected request did not carry our token (requests strips Authorization on
            # a redirect to another allowed host): send it with the current one, no renewal.
            reason = f"{reason}, sent without a token"
            issued = yield NeedToken(None, reason)
        token, renewed, resends = issued.token, issued.renewed, resends + 1
        yield Release(response)
        prep = rejected.copy()
        if not replayable(prep):
            raise UnreplayableBodyError(
                f"the server rejected the token ({reason}) and the request body is a generator "
                "or a stream that cannot be rewound, so it was not resent; the token has been "
                "renewed: send the request again with a fresh body (or a bytes/seekable body)",
                response=response,  # requests takes the request from it
            )
        cookies = prep._cookies
        if cookies is not None:
            extract_cookies_to_jar(cookies, rejected, response.raw)
            prep.headers.pop("Cookie", None)  # as resolve_redirects does: rebuilt from the jar
            prep.prepare_cookies(cookies)
        put(policy.placement, prep, token.access_token)
        # A redirect after this resend is copied from ``copied``: the new token goes there
        # too, so the next hop does not carry the rejected one.
        put(policy.placement, copied, token.access_token)
        log.debug(
            "resending %s %s with token %s (%s)",
            prep.method,
            _path(prep),
            token.fingerprint,
            reason,
        )
        resent: Response = yield Send(prep)
        resent.history = [*response.history, response, *resent.history]
        resent.request = prep
        response = resent
    if resends:
        RESENT[response] = copied
    carried = token
    if response.is_redirect:
        carried = _guard_redirect(policy, response, copied, token)
    return Outcome(response, carried)


def _guard_redirect(
    policy: Policy, response: Response, copied: PreparedRequest, token: Token | None
) -> Token | None:
    """requests copies a request for the next hop, builds its URL from ``Location``, and
    strips only ``Authorization``, only on a host change: decide here, on every object it
    may copy and on ``Location`` itself, what the hop carries."""
    request = response.request
    location = response.headers["location"]  # is_redirect: it is there
    target = urljoin(response.url, location)  # as resolve_redirects joins it
    carried = token if token is not None and policy.may_carry(target) else None
    value = carried.access_token if carried is not None else None
    for each in (request, copied):  # the same object twice is harmless: put() is idempotent
        put(policy.placement, each, value)
    if location:
        response.headers["location"] = relocate(policy.placement, location, value)
    return carried


def send_flow(policy: Policy, request: PreparedRequest) -> Flow[Outcome]:
    """One whole send: attach, send, respond (the adapter's flow)."""
    sent = yield from attach(policy, request)
    response: Response = yield Send(request)
    return (yield from respond(policy, response, sent))


# -- the driver -------------------------------------------------------------------------------


class Tokens(Protocol):
    """What the driver asks for tokens (``TokenManager``; a fake in unit tests)."""

    def for_request(self, timeout: Timeout) -> Token: ...

    def after_rejection(
        self, rejected: Token, timeout: Timeout, why: str
    ) -> tuple[Token, bool]: ...


def drive(
    flow: Flow[T],
    manager: Tokens,
    send: Callable[[PreparedRequest], Response],
    timeout: Timeout,
) -> T:
    """Carry out a flow's actions: tokens from the manager (bounded by ``timeout``),
    releases, sends. Returns what the flow returns."""
    reply: Any = None
    while True:
        try:
            action = flow.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result
        if isinstance(action, NeedToken):
            if action.rejected is None:
                reply = Issued(manager.for_request(timeout))
            else:
                token, renewed = manager.after_rejection(action.rejected, timeout, action.reason)
                reply = Issued(token, renewed)
        elif isinstance(action, Release):
            release(action.response)
            reply = None
        else:
            reply = send(action.request)


def release(response: Response) -> None:
    """Drain and close, like ``HTTPDigestAuth.handle_401``, so the connection goes back to the
    pool and the caller can still read the body from ``history``; but read at most
    ``DRAIN_LIMIT`` bytes: a body larger than that (or one that never ends) is dropped and its
    connection closed. A body that breaks off is not worth failing the recovery for."""
    if response._content is False and not response._content_consumed:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(8192):
                chunks.append(chunk)
                size += len(chunk)
                if size > DRAIN_LIMIT:
                    log.debug("the rejected response's body is over %d bytes; dropped", size)
                    break
            else:
                response._content = b"".join(chunks)
        except Exception as exc:  # ChunkedEncodingError, ConnectionError, a decoding error
            log.debug("could not read the rejected response's body (%s)", type(exc).__name__)
    response.close()


def _path(request: PreparedRequest) -> str:
    """The request path without the query (a Query placement puts the token there)."""
    url = request.url or ""
    return url.split("?", 1)[0]
