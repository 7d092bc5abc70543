"""The exception tree: one root under ``requests.RequestException``.

Messages say what went wrong and what to do next; they never contain a token, password or
client secret (a test pins this). Causes are chained with ``raise ... from``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from requests import Response


def clip(text: str, limit: int = 160) -> str:
    """Shorten server- or user-supplied text quoted in a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Shorter secrets are not looked for in server text: "bad" or "error" occur in ordinary
#: messages by chance far more often than a server echoes them, and blanking them would both
#: mangle the message and tell the reader what the password is.
MIN_ECHO = 4

WITHHELD = "(withheld: the server quoted a secret)"

#: Never printed from server text: C0 and C1 controls, DEL and the bidi formatting characters
#: (as in ``_apierrors``).
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def quotable(text: str | None, secrets: tuple[str | None, ...]) -> str | None:
    """Server text, or a placeholder when it contains one of our secrets: a server that echoes
    the password or the refresh token in its ``error_description`` must not put it in our
    message. The whole text is withheld; blanking only the secret would leave its length and
    surroundings."""
    if text is None:
        return None
    if any(secret and len(secret) >= MIN_ECHO and secret in text for secret in secrets):
        return WITHHELD
    # Quoted text ends up printed (the CLI prints every error): no control character may
    # reach the terminal (ESC starts escape sequences, CR and BS overwrite the line).
    return " ".join(CONTROLS.sub(" ", text).split())


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

    def __reduce__(self) -> tuple[object, ...]:
        # ``retryable`` is keyword-only, so the default pickling (``cls(*args)``) failed: a
        # worker process raising it broke a ProcessPoolExecutor (review wt-attack9). Like
        # ApiError, the fields travel, not the response.
        state = {k: v for k, v in vars(self).items() if k not in ("response", "request")}
        return (_rebuild_token_endpoint_error, (type(self), str(self), self.retryable), state)


def _rebuild_token_endpoint_error(
    cls: type[TokenEndpointError], message: str, retryable: bool
) -> TokenEndpointError:
    return cls(message, retryable=retryable)


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


class ApiError(requests.HTTPError):
    """An API answered 4xx/5xx for a reason other than a token rejection being recovered.

    Raised by :class:`ApiErrors`. A subclass of ``requests.HTTPError``, so ``except HTTPError``
    and ``raise_for_status`` habits keep working; deliberately not a ``SilentAuthError``, whose
    subclasses mean "the login or the token failed", which this is not.

    ``str()`` is one line a script can print as is: ``<message> (<code>, HTTP <status>)``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | int | None = None,
        server_message: str | None = None,
        response: Response | None = None,
    ) -> None:
        where = f"{code}, HTTP {status_code}" if code is not None else f"HTTP {status_code}"
        super().__init__(f"{message} ({where})", response=response)
        #: The message for a person: from the application's table, else the server's own
        #: message, else the default, else the status line.
        self.message = message
        #: The server's error code as it came (an int or a str), or None.
        self.code = code
        self.status_code = status_code
        #: The server's own message (``message_field``), quoted only when it carries no secret.
        self.server_message = server_message

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling (multiprocessing, concurrent.futures) keeps the fields, not the response.
        # A subclass (an application's own) comes back as itself.
        return (
            _rebuild_api_error,
            (self.message, self.status_code, self.code, self.server_message, type(self)),
        )


def _rebuild_api_error(
    message: str,
    status_code: int,
    code: str | int | None,
    server_message: str | None,
    cls: type[ApiError] = ApiError,
) -> ApiError:
    return cls(message, status_code=status_code, code=code, server_message=server_message)


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
