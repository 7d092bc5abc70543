"""What happens to one request: attach, judge the answer, resend once. Shared by the
``session.auth`` entry point and the mounted adapter, which differ only in how they send.

The decisions (``rejection_reason``, ``replayable``) are pure functions of the request and the
response; ``Flow`` carries them out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from requests import PreparedRequest, Response
from requests.cookies import extract_cookies_to_jar

from ._challenge import bearer_error
from ._endpoint import Timeout
from ._errors import UnreplayableBodyError
from ._manager import TokenManager
from ._origins import OriginSet, check_transport
from ._placement import Placement, put
from ._token import Token

log = logging.getLogger("requests_silentauth")

#: Marks a response that is already the outcome of our recovery, so that no second layer
#: (hook after adapter) re-authenticates again.
RESENT = "_silentauth_resent"
#: The most sends after the original: a retry with another thread's renewed token, then at
#: most one after this request's own renewal.
MAX_RESENDS = 2


@dataclass(frozen=True)
class Policy:
    """Immutable per-auth settings that decide what a response means and where tokens go."""

    origins: OriginSet
    placement: Placement
    reauth_on: frozenset[int]
    is_rejected: Callable[[Response], bool] | None
    allow_insecure_http: bool


def rejection_reason(policy: Policy, response: Response) -> str | None:
    """Why this response means "the token was refused", or None. Pure."""
    if response.status_code in policy.reauth_on:
        if bearer_error(response.headers.get("WWW-Authenticate")) == "insufficient_scope":
            return None  # RFC 6750 §3.1: a new token would not have more scope
        reason = f"status {response.status_code}"
    elif policy.is_rejected is not None and policy.is_rejected(response):
        reason = "is_rejected"
    else:
        return None
    if not policy.origins.allows(response.request.url if response.request else None):
        return None  # a rejection from elsewhere says nothing about our token
    return reason


def replayable(request: PreparedRequest) -> bool:
    """Rewind the body if it can be resent identically; False when it cannot (generators,
    consumed or non-seekable streams)."""
    body = request.body
    if body is None or isinstance(body, bytes | str):
        return True
    position = getattr(request, "_body_position", None)
    seek = getattr(body, "seek", None)
    if isinstance(position, int) and seek is not None:
        try:
            seek(position)
        except (OSError, ValueError):
            return False
        return True
    return False


@dataclass
class Exchange:
    """Per-request state that travels with the request (never shared between requests)."""

    token: Token | None
    #: This request caused a renewal: its next rejection is final (never a second renewal).
    renewed: bool = False
    resends: int = 0


class Flow:
    def __init__(self, manager: TokenManager, policy: Policy) -> None:
        self.manager = manager
        self.policy = policy

    def attach(self, request: PreparedRequest, timeout: Timeout) -> Token | None:
        """Put a token on ``request`` when its origin is allowed; take ours off otherwise."""
        placement = self.policy.placement
        origin = self.policy.origins.match(request.url)
        if origin is None:
            placement.strip(request)
            return None
        check_transport(origin, allow_insecure=self.policy.allow_insecure_http, what="a token")
        token = self.manager.for_request(timeout)
        put(placement, request, token.access_token)
        return token

    def handle(
        self,
        response: Response,
        exchange: Exchange,
        send: Callable[[PreparedRequest], Response],
        timeout: Timeout,
    ) -> Response:
        """After a response: recover a rejection, and keep the token off a redirect that leaves
        the allowed origins.

        A request causes at most one renewal and is resent once after it. A retry with a token
        that another thread (or process) renewed is not a renewal: if that token was revoked in
        the meantime, this request may still renew once (at most MAX_RESENDS sends in all,
        never a loop)."""
        if getattr(response, RESENT, False):
            return response  # the other layer (adapter or hook) has recovered it already
        # The object requests copies for a redirect from here: this hop's request as sent
        # (after a resend, not the resent copy).
        copied = response.request
        while (
            exchange.token is not None and not exchange.renewed and exchange.resends < MAX_RESENDS
        ):
            reason = rejection_reason(self.policy, response)
            if reason is None or not self._may_carry(response.request.url):
                break
            response = self._resend(response, copied, exchange, reason, send, timeout)
        if exchange.resends:
            setattr(response, RESENT, True)
        if response.is_redirect:
            self._guard_redirect(response, copied, exchange)
        return response

    def _may_carry(self, url: str | None) -> bool:
        """Whether a token may go to ``url``: an allowed origin, over https or to loopback (or
        the user opted in to plain http)."""
        origin = self.policy.origins.match(url)
        if origin is None:
            return False
        try:
            check_transport(origin, allow_insecure=self.policy.allow_insecure_http, what="a token")
        except requests.RequestException:
            return False
        return True

    def _resend(
        self,
        response: Response,
        copied: PreparedRequest,
        exchange: Exchange,
        reason: str,
        send: Callable[[PreparedRequest], Response],
        timeout: Timeout,
    ) -> Response:
        assert exchange.token is not None
        rejected_request = response.request
        exchange.resends += 1
        if self.policy.placement.present(rejected_request):
            new, renewed = self.manager.after_rejection(exchange.token, timeout, reason)
            exchange.renewed = exchange.renewed or renewed
        else:
            # The rejected request did not carry our token (a redirect hop that could not keep
            # it, e.g. a Query placement): send it with the current one, nothing to renew.
            reason = f"{reason}, sent without a token"
            new = self.manager.for_request(timeout)
        exchange.token = new
        prep = rejected_request.copy()
        # Drain and release the rejected response (like HTTPDigestAuth.handle_401), so the
        # connection goes back to the pool and the caller can still read it from history. A
        # body that breaks off is not worth failing the recovery for.
        try:
            response.content  # noqa: B018
        except Exception as exc:  # ChunkedEncodingError, ConnectionError, a decoding error
            log.debug("could not read the rejected response's body (%s)", type(exc).__name__)
        response.close()
        if not replayable(prep):
            raise UnreplayableBodyError(
                f"the server rejected the token ({reason}) and the request body is a generator "
                "or a stream that cannot be rewound, so it was not resent; the token has been "
                "renewed: send the request again with a fresh body (or a bytes/seekable body)",
                response=response,
                request=rejected_request,
            )
        cookies = prep._cookies
        if cookies is not None:
            extract_cookies_to_jar(cookies, rejected_request, response.raw)
            prep.headers.pop("Cookie", None)  # as resolve_redirects does: rebuilt from the jar
            prep.prepare_cookies(cookies)
        put(self.policy.placement, prep, new.access_token)
        # A redirect after this resend is copied from ``copied``: give it the new token too,
        # so the next hop does not carry the rejected one.
        put(self.policy.placement, copied, new.access_token)
        log.debug(
            "resending %s %s with token %s (%s)", prep.method, _path(prep), new.fingerprint, reason
        )
        resent = send(prep)
        resent.history = [*response.history, response, *resent.history]
        resent.request = prep
        return resent

    def _guard_redirect(
        self, response: Response, copied: PreparedRequest, exchange: Exchange
    ) -> None:
        """requests copies a request for the next hop and strips only ``Authorization``, and
        only on a host change: decide here, on every object it may copy, what the hop carries."""
        request = response.request
        target = urljoin(request.url or "", response.headers.get("location", ""))
        keep = exchange.token is not None and self._may_carry(target)
        token = exchange.token.access_token if keep and exchange.token else None
        for each in {id(request): request, id(copied): copied}.values():
            put(self.policy.placement, each, token)


def _path(request: PreparedRequest) -> str:
    """The request path without the query (a Query placement puts the token there)."""
    url = request.url or ""
    return url.split("?", 1)[0]


def user_timeout(kwargs: dict[str, Any], default: float) -> Timeout:
    """A user's ``timeout=`` wins for token requests made on their request's behalf."""
    timeout = kwargs.get("timeout")
    return default if timeout is None else timeout
