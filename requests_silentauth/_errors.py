"""The exception tree: one root under ``requests.RequestException``.

Messages say what went wrong and what to do next; they never contain a token, password or
client secret (a test pins this). Causes are chained with ``raise ... from``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from requests import Response


def clip(text: str, limit: int = 160) -> str:
    """Shorten server- or user-supplied text quoted in a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SilentAuthError(requests.RequestException):
    """Root of every error raised by requests-silentauth."""


class CredentialsNotFound(SilentAuthError):
    """A login is needed but no password (or client secret) is known and none can be asked for."""


class InvalidCredentials(SilentAuthError):
    """The server refused the credentials (RFC 6749 ``invalid_grant``/``invalid_client``, or a
    custom login endpoint's refusal). Carries the server's error code and description."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        retry_at: float | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(message, response=response)
        self.error = error
        self.error_description = error_description
        #: When a login with the same secret will be tried again (seconds since the epoch),
        #: or None. Set by the lockout back-off.
        self.retry_at = retry_at


class TokenEndpointError(SilentAuthError):
    """The token endpoint could not be used: unreachable, a server error, or an answer that is
    not a usable token response. ``retryable`` says whether trying later may succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        error: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(message, response=response)
        self.retryable = retryable
        self.error = error
        self.status_code = status_code
        #: Seconds the server asked us to wait (``Retry-After``), when it said.
        self.retry_after = retry_after


class UnreplayableBodyError(SilentAuthError):
    """The server rejected the token, but the request body was a generator or a non-seekable
    stream that was already consumed, so it cannot be resent. The rejected response is attached
    as ``.response``; the token has already been renewed, so sending the request again works."""


class InsecureTransportError(SilentAuthError):
    """A token or credential would have gone over plain http to a non-loopback host."""


class StoreError(SilentAuthError):
    """The credential store (keyring, file) failed; the message says how to fix it.

    ``corrupt`` is True when a stored value could not be read back (as opposed to the store
    being unreachable): a corrupt cached token is replaced by a fresh login, nothing else is
    touched."""

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt


class InteractionRequired(CredentialsNotFound):
    """A login needs a person (a device code to enter, a browser to log in with) and none may be
    asked here (``prompt=False``, or ``prompt=None`` without a terminal). Raised before any code
    is shown or browser opened; the message names the ``silentauth login`` command that logs
    in once, after which every run is silent while the refresh token lives."""


class AuthorizationDenied(InvalidCredentials):
    """The person (or the identity provider) refused the login: ``access_denied`` from a device
    code poll or from the browser's redirect."""


class LoginExpired(CredentialsNotFound):
    """An interactive login ran out of time: the device code expired (``expired_token``, or its
    ``expires_in`` passed) or the browser never came back to the loopback listener."""
