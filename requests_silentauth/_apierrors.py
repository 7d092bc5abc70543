"""``ApiErrors``: an API's own error codes turned into messages people can act on (issue 12).

The pattern this library comes from ends every request the same way: after the token work, a
non-2xx answer is read for the server's error code (``{"error_code": 1005, "msg": ...}``) and
the user is shown the application's message for it, or a default. This is that step as a
requests response hook.

Order is what keeps a recovered token rejection out of it: requests registers the auth's hook
while preparing a request and the session's hooks after it (``PreparedRequest.prepare`` runs
``prepare_auth`` before ``prepare_hooks``), and a hook's return value replaces the response for
the hooks after it. So by the time this hook runs, ``SilentAuth`` has already resent a rejected
request and this hook sees the answer to the resend. Behind ``SilentAuthAdapter`` the recovery
happens inside the adapter, before any hook.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests import PreparedRequest, Response

from ._errors import WITHHELD, ApiError, SilentAuthError, clip, quotable
from ._origins import origin_of
from ._token import lookup

__all__ = ["ApiErrors"]

#: The largest body read for an error code. A non-streamed body is read by requests anyway; a
#: streamed one is read only when its Content-Length says it fits (and it is not compressed),
#: so the caller can still stream a large error body after the exception.
MAX_BODY = 1024 * 1024

#: Request headers that never carry a credential; every other header value is a secret the
#: server must not be quoted echoing (Authorization, Cookie, an API-key header, ...).
_PLAIN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
    }
)

#: Query parameter names that carry a credential (a token, an API key, a signature).
_SECRET_NAME = re.compile(r"token|key|secret|auth|sig|pass|session|credential|jwt|bearer", re.I)

Code = str | int


def _key(code: object) -> str | None:
    """Codes match as strings or integers alike: 1005, "1005" and 1005.0 are one code. A JSON
    ``true`` is not the code 1, and objects or lists are no code at all."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return str(code)
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    if isinstance(code, str) and code.strip():
        return code.strip()
    return None


def _one_line(text: str, limit: int) -> str:
    """Server text folded onto one line and clipped: a message is printed as is."""
    return clip(" ".join(text.split()), limit)


class ApiErrors:
    """Raise :class:`ApiError` for 4xx/5xx answers, with the application's message for the
    server's error code.

    ``session.hooks["response"].append(ApiErrors({1005: "Wrong developer key"}))``, or
    ``SilentAuth(..., errors={...})`` / ``SilentAuthAdapter(auth, errors=...)``.

    - ``messages``: code -> message; codes match as strings or integers alike.
    - ``code_field``: where the code is in a JSON body, a dotted path (``"error.code"``).
    - ``message_field``: where the server's own message is (``"msg"``), used for a code that
      is not in the table; None never quotes the server.
    - ``default``: the message for everything else (no JSON, no code, an unknown code without
      a server message, a transport failure in :meth:`explain`); None uses the status line.

    1xx-3xx answers pass: a redirect is followed or returned, never an error.
    """

    __slots__ = ("_messages", "code_field", "default", "max_body", "message_field")

    def __init__(
        self,
        messages: Mapping[Any, str] | None = None,
        *,
        code_field: str | None = "error_code",
        message_field: str | None = None,
        default: str | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        table: dict[str, str] = {}
        for code, message in (messages or {}).items():
            key = _key(code)
            if key is None or not isinstance(message, str):
                raise TypeError(
                    f"ApiErrors messages map an error code (an int or a non-empty str) to a "
                    f"message (a str); got {type(code).__name__} -> {type(message).__name__}"
                )
            table[key] = message
        if max_body < 0:
            raise ValueError("max_body must be >= 0 (bytes of error body read for its code)")
        self._messages: Mapping[str, str] = table
        self.code_field = code_field
        self.message_field = message_field
        self.default = default
        self.max_body = max_body

    @classmethod
    def coerce(cls, errors: ApiErrors | Mapping[Any, str] | None) -> ApiErrors | None:
        """The ``errors=`` option: an ApiErrors, or just its messages table."""
        if errors is None or isinstance(errors, ApiErrors):
            return errors
        if isinstance(errors, Mapping):
            return cls(errors)
        raise TypeError("errors= takes ApiErrors(...) or a mapping of error codes to messages")

    # -- the hook ---------------------------------------------------------------------------

    def __call__(self, response: Response, *args: Any, **kwargs: Any) -> None:
        """The response hook: raise :class:`ApiError` for a 4xx/5xx answer."""
        self.check(response, stream=bool(kwargs.get("stream", False)))

    def check(self, response: Response, *, stream: bool = False) -> None:
        if response.status_code >= 400:
            raise self.error(response, stream=stream)

    def error(self, response: Response, *, stream: bool = False) -> ApiError:
        """The :class:`ApiError` for ``response`` (built, not raised). Never raises itself:
        a body that is not JSON, too large, or unreadable gives the default message."""
        secrets = _request_secrets(response.request)
        payload = _payload(response, stream, self.max_body)
        code = _code(lookup(payload, self.code_field) if payload is not None else None, secrets)
        server = lookup(payload, self.message_field) if payload is not None else None
        server_message = _quoted(server, 300, secrets)
        key = _key(code)
        if key is not None and key in self._messages:
            message = self._messages[key]
        elif server_message:
            message = server_message
        elif self.default is not None:
            message = self.default
        else:
            message = _status_line(response, secrets)
        return ApiError(
            message,
            status_code=response.status_code,
            code=code,
            server_message=server_message,
            response=response,
        )

    def explain(self, error: BaseException) -> str:
        """One line for a person, whatever went wrong with a request: an API error's message,
        a login failure's own message, or the default for a request that never got an answer
        (connection refused, timeout)."""
        if isinstance(error, ApiError):
            return str(error)
        if isinstance(error, SilentAuthError):
            return str(error)
        response = getattr(error, "response", None)
        if isinstance(response, Response):
            return str(self.error(response))
        if self.default is not None:
            return self.default
        request = getattr(error, "request", None)
        url = getattr(request, "url", None)
        where = f" to {origin_of(url)}" if isinstance(url, str) and url else ""
        return f"The request{where} failed before the server answered ({type(error).__name__})"

    def __repr__(self) -> str:
        return (
            f"ApiErrors({len(self._messages)} messages, code_field={self.code_field!r}, "
            f"message_field={self.message_field!r}, default={self.default!r})"
        )


def _payload(response: Response, stream: bool, limit: int) -> Any:
    """The decoded JSON body, or None (not JSON, too large, unreadable, not yet safe to read)."""
    try:
        if stream and response._content is False and not response._content_consumed:
            length = response.headers.get("Content-Length", "")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if not (length.isdigit() and int(length) <= limit and encoding == "identity"):
                return None
        body = response.content
        if not body or len(body) > limit:
            return None
        return json.loads(body)
    except Exception:  # a broken stream, bad UTF-8, invalid or too deeply nested JSON
        return None


def _quoted(text: object, limit: int, secrets: tuple[str, ...]) -> str | None:
    """Server text fit to quote: one line, clipped, and None when empty or when it echoes
    something the request carried (the whole text goes, as for token-endpoint errors)."""
    if not isinstance(text, str) or not text.strip():
        return None
    quoted = quotable(_one_line(text, limit), secrets)
    return None if quoted == WITHHELD else quoted


def _code(value: Any, secrets: tuple[str, ...]) -> Code | None:
    if _key(value) is None:
        return None
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        return _quoted(value, 64, secrets)
    code: int = value
    return code


def _status_line(response: Response, secrets: tuple[str, ...]) -> str:
    quoted = _quoted(response.reason, 80, secrets)
    if quoted:
        return quoted
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return "HTTP error"


def _request_secrets(request: PreparedRequest | None) -> tuple[str, ...]:
    """What the request carried that the server must not be quoted echoing: credential
    headers (whole, after their scheme, and a Basic pair decoded) and query values (a Query
    placement puts the token there)."""
    if request is None:
        return ()
    found: list[str] = []
    for name, value in (request.headers or {}).items():
        if name.lower() in _PLAIN_HEADERS or not isinstance(value, str):
            continue
        found.append(value)
        scheme, _, rest = value.partition(" ")
        if rest:
            found.append(rest.strip())
            if scheme.lower() == "basic":
                found.extend(_basic_parts(rest.strip()))
        if name.lower() == "cookie":
            found.extend(v for _, _, v in (c.partition("=") for c in value.split(";")))
    # A query value is a secret when its name says so (``access_token``, ``api_key``, ``sig``):
    # a server quoting back a search word or a page number is ordinary, and withholding those
    # would lose the message.
    query = urlsplit(request.url or "").query
    found.extend(value for name, value in parse_qsl(query) if _SECRET_NAME.search(name))
    return tuple(s.strip() for s in found if s and s.strip())


def _basic_parts(encoded: str) -> list[str]:
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return []
    return [user, password]
