"""``SilentAuthAdapter``: the same flow as a transport adapter mounted on one origin prefix.

urllib3's ``Retry`` stays for connection faults: it cannot re-run auth, so a 401 retried there
would resend the rejected token. Statuses that mean "token rejected" are removed from its
``status_forcelist``."""

from __future__ import annotations

from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ._auth import SilentAuth
from ._flow import Exchange, user_timeout

__all__ = ["SilentAuthAdapter"]


class SilentAuthAdapter(HTTPAdapter):
    """``session.mount("https://api.example.com/", SilentAuthAdapter(auth))``"""

    def __init__(self, auth: SilentAuth, **kwargs: Any) -> None:
        retries = kwargs.pop("max_retries", None)
        if retries is not None:
            retry = retries if isinstance(retries, Retry) else Retry.from_int(retries)
            if retry.status_forcelist:
                keep = set(retry.status_forcelist) - auth.policy.reauth_on
                retry = retry.new(status_forcelist=keep)
            kwargs["max_retries"] = retry
        super().__init__(**kwargs)
        self.auth = auth

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        flow = self.auth._flow
        token_timeout = user_timeout({"timeout": timeout}, self.auth.token_timeout)
        exchange = Exchange(flow.attach(request, token_timeout))

        def send(prep: PreparedRequest) -> Response:
            return super(SilentAuthAdapter, self).send(
                prep, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )

        return flow.handle(send(request), exchange, send, token_timeout)

    def __repr__(self) -> str:
        return f"SilentAuthAdapter({self.auth!r})"
