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
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

from requests import PreparedRequest, Response

from ._errors import WITHHELD, ApiError, SilentAuthError, clip, quotable
from ._origins import origin_of
from ._placement import query_names
from ._token import lookup

__all__ = ["ApiErrors"]

#: The largest body parsed for an error code. A non-streamed body is read by requests anyway; a
#: streamed one (``stream=True``) is not read at all, so it can stall or be streamed by the
#: caller after the exception.
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

#: What never reaches a printed message from server text: C0 and C1 controls and DEL (ESC
#: starts terminal escape sequences, BS and CR overwrite what was printed, 0x9B is an 8-bit
#: CSI in a latin-1 reason phrase) and the bidi formatting characters (they reorder the line).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

#: A numeric code longer than this is no code (a JSON number of 4,300 digits is valid).
_CODE_DIGITS = 64

#: A fragment this long of a secret at least ``_FRAGMENT_OF`` long is not quoted either (a
#: short prefix, "gho_A1b2...", is how servers name a token without giving it away).
_FRAGMENT = 20
_FRAGMENT_OF = 24

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
    """Server text folded onto one line, without control characters, and clipped: a message
    is printed as is, so it must not drive the terminal it is printed on."""
    return clip(" ".join(_CONTROLS.sub(" ", text).split()), limit)


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
            if table.get(key, message) != message:
                raise ValueError(
                    f"ApiErrors messages give the error code {key!r} two messages (codes match "
                    f"as strings or integers alike: 1005 and '1005' are one code)"
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
        self.check(response, stream=bool(kwargs.get("stream")))

    def check(self, response: Response, *, stream: bool = False, rejected: bool = False) -> None:
        """Raise for a 4xx/5xx answer, or for any answer the auth still calls a rejected token
        (``is_rejected`` on a 200 that the one resend did not cure: never a silent failure)."""
        if response.status_code >= 400 or rejected:
            raise self.error(response, stream=stream)

    def error(self, response: Response, *, stream: bool = False) -> ApiError:
        """The :class:`ApiError` for ``response`` (built, not raised). Never raises itself:
        a body that is not JSON, too large, or unreadable gives the default message."""
        secrets = _request_secrets(response.request)
        payload = _payload(response, stream, self.max_body)
        raw_code = lookup(payload, self.code_field)  # None for a None payload
        code = _code(raw_code, secrets)
        server = lookup(payload, self.message_field)
        server_message = _quoted(server, 300, secrets)
        # The table is matched on the code as it came, not as shown (clipped at 64 characters).
        key = _key(raw_code) if code is not None else None
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
        answered = isinstance(response, Response)
        if (
            isinstance(response, Response)
            and isinstance(response.status_code, int)
            and response.status_code >= 400
        ):
            # A body nobody read yet may be streamed and endless: it is not read.
            return str(self.error(response, stream=response._content is False))
        if self.default is not None:
            return self.default
        request = getattr(error, "request", None)
        url = getattr(request, "url", None)
        where = ""
        if isinstance(url, str):  # "" is no http(s) URL either: origin_of refuses it
            try:
                where = f" to {origin_of(url)}"
            except ValueError:  # a URL for another adapter (file://, a custom scheme)
                where = ""
        if answered:  # a redirect loop, a body that broke off: not an API error
            return f"The request{where} failed ({type(error).__name__})"
        return f"The request{where} failed before the server answered ({type(error).__name__})"

    def __repr__(self) -> str:
        return (
            f"ApiErrors({len(self._messages)} messages, code_field={self.code_field!r}, "
            f"message_field={self.message_field!r}, default={self.default!r})"
        )


def _payload(response: Response, stream: bool, limit: int) -> Any:
    """The decoded JSON body, or None (not JSON, too large, unreadable, or streamed)."""
    if stream and response._content is False and not response._content_consumed:
        # stream=True means "give me the head, I read the body": a body that stalls or never
        # ends must not hold get() in this hook (attack review). The caller may read it and
        # call ``errors.error(response)`` for the code.
        return None
    try:
        body = response.content
        if not body or len(body) > limit:
            return None
        return json.loads(body)
    except Exception:  # a broken stream, bad UTF-8, invalid or too deeply nested JSON
        return None


def _quoted(text: object, limit: int, secrets: tuple[str, ...]) -> str | None:
    """Server text fit to quote: one line, clipped, and None when empty or when it echoes
    something the request carried (the whole text goes, as for token-endpoint errors).

    The echo is looked for before folding and clipping (a secret past the clip would be
    half quoted), ignoring case, percent-encoding and control characters in between; and a
    long fragment of a long secret in what would be shown (a token's tail, its middle)."""
    if not isinstance(text, str) or not text.strip():
        return None
    folded = tuple(secret.casefold() for secret in secrets)
    if _echoes(text, folded):
        return None
    shown = _one_line(text, limit)
    fragments = tuple(
        secret[i : i + _FRAGMENT]
        for secret in folded
        if len(secret) >= _FRAGMENT_OF
        for i in range(len(secret) - _FRAGMENT + 1)
    )
    if fragments and _echoes(shown, fragments):
        return None
    return shown or None


def _echoes(text: str, folded: tuple[str, ...]) -> bool:
    """Whether ``text`` holds one of the (case-folded) secrets, as is, folded onto one line,
    with control characters taken out, or percent-decoded."""
    views = {text, " ".join(text.split()), _CONTROLS.sub("", text), unquote(text)}
    views.add(unquote_plus(text))
    return any(quotable(view.casefold(), folded) == WITHHELD for view in views)


def _code(value: Any, secrets: tuple[str, ...]) -> Code | None:
    if _key(value) is None:
        return None
    if isinstance(value, str):
        return _quoted(value, 64, secrets)
    number = int(value)  # an int, or a float with an integral value (1005.0)
    if abs(number) >= 10**_CODE_DIGITS:
        return None
    # A numeric secret (an API key, a PIN) echoed as a JSON number is no more quotable.
    return None if _quoted(str(number), _CODE_DIGITS, secrets) is None else number


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
    for name, given in (request.headers or {}).items():
        value = given.decode("latin-1") if isinstance(given, bytes) else given
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
    # A ``Query`` placement's own parameter is one whatever its name.
    query = urlsplit(request.url or "").query
    ours = query_names()
    found.extend(
        value for name, value in parse_qsl(query) if name in ours or _SECRET_NAME.search(name)
    )
    return tuple(s.strip() for s in found if s.strip())


def _basic_parts(encoded: str) -> list[str]:
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return []
    return [user, password]
