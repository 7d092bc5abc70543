"""``SilentAuthAdapter``: the same flow as a transport adapter mounted on one origin prefix.

urllib3's ``Retry`` stays for connection faults: it cannot re-run auth, so a 401 retried there
would resend the rejected token. Statuses that mean "token rejected" are removed from its
``status_forcelist``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ._auth import SilentAuth, _api_errors, user_timeout
from ._endpoint import token_request_active
from ._flow import drive, send_flow

if TYPE_CHECKING:
    from ._apierrors import ApiErrors

__all__ = ["SilentAuthAdapter"]


class SilentAuthAdapter(HTTPAdapter):
    """``session.mount("https://api.example.com/", SilentAuthAdapter(auth))``"""

    def __init__(
        self,
        auth: SilentAuth,
        *,
        errors: ApiErrors | Mapping[Any, str] | None = None,
        **kwargs: Any,
    ) -> None:
        retries = kwargs.pop("max_retries", None)
        if retries is not None:
            retry = retries if isinstance(retries, Retry) else Retry.from_int(retries)
            if retry.status_forcelist:
                keep = set(retry.status_forcelist) - auth.policy.reauth_on
                retry = retry.new(status_forcelist=keep)
            kwargs["max_retries"] = retry
        super().__init__(**kwargs)
        self.auth = auth
        #: Raises ApiError for a 4xx/5xx final answer (issue 12): ``errors=``, else the auth's.
        self.errors = _api_errors(errors) if errors is not None else auth.errors

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        if token_request_active():
            # Our own token request, through an application session that has this adapter
            # mounted on the token origin: it is the token request, never wait for a token.
            return super().send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )

        def send(prep: PreparedRequest) -> Response:
            return super(SilentAuthAdapter, self).send(
                prep, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )

        auth = self.auth
        token_timeout = user_timeout({"timeout": timeout}, auth.token_timeout)
        # One flow (and one retry budget) per send: requests calls this once per hop.
        response = drive(
            send_flow(auth.policy, request), auth._manager, send, token_timeout
        ).response
        if self.errors is not None:
            # The flow has recovered a rejected token by now: what is left is the API's answer.
            self.errors.check(response, stream=stream, rejected=auth.still_rejected(response))
        return response

    def close(self) -> None:
        """``Session.close()`` closes its adapters: this one's connections, then the auth's
        background renewal (waited for, bounded by ``token_timeout``) and token session."""
        super().close()
        self.auth.close()

    def __repr__(self) -> str:
        return f"SilentAuthAdapter({self.auth!r})"
