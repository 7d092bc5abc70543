"""How a token travels on a request. Each placement can put the token on a prepared request and
take it off again, so a redirect to another origin never carries it, whatever the placement
(requests itself strips only ``Authorization``)."""

from __future__ import annotations

import base64
import logging
import re
from typing import Protocol
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from requests import PreparedRequest

__all__ = ["BasicToken", "Bearer", "Header", "Placement", "Query"]


class Placement(Protocol):
    """Puts a token on a request, removes it, and tells whether a request carries one."""

    def apply(self, request: PreparedRequest, token: str) -> None: ...

    def strip(self, request: PreparedRequest) -> None: ...

    def present(self, request: PreparedRequest) -> bool: ...


def put(placement: Placement, request: PreparedRequest, token: str | None) -> None:
    """Make ``request`` carry exactly ``token`` (or no token at all when None)."""
    placement.strip(request)
    if token is not None:
        placement.apply(request, token)


def relocate(placement: Placement, location: str, token: str | None) -> str:
    """A redirect's ``Location`` as the next hop may follow it. requests builds the next URL
    from this header, so a ``Query`` token in it would travel wherever it points (issue 7: a
    ``return 301 https://new$request_uri`` keeps ``?access_token=``): our parameter is replaced
    by ``token``, or removed when None. Other placements do not live in URLs."""
    if isinstance(placement, Query):
        return placement.rewrite_url(location, token)
    return location


class Header:
    """The token in a header: ``Header("X-Auth-Token")`` or
    ``Header("Authorization", template="Token {token}")``."""

    def __init__(self, name: str, template: str = "{token}") -> None:
        if not name or any(c in name for c in ":\r\n "):
            raise ValueError(f"{name!r} is not a valid header name")
        if "{token}" not in template:
            raise ValueError("the header template must contain '{token}'")
        self.name = name
        self.template = template

    def value(self, token: str) -> str:
        return self.template.replace("{token}", token)

    def apply(self, request: PreparedRequest, token: str) -> None:
        request.headers[self.name] = self.value(token)

    def strip(self, request: PreparedRequest) -> None:
        request.headers.pop(self.name, None)

    def present(self, request: PreparedRequest) -> bool:
        return self.name in request.headers

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, template={self.template!r})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Header)
            and (other.name.lower(), other.template) == (self.name.lower(), self.template)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.name.lower(), self.template))


class Bearer(Header):
    """``Authorization: Bearer <token>`` (RFC 6750 §2.1), the default."""

    def __init__(self) -> None:
        super().__init__("Authorization", "Bearer {token}")

    def __repr__(self) -> str:
        return "Bearer()"


class BasicToken(Header):
    """``Authorization: Basic base64(<token>:)``, for APIs that take the token as a Basic user
    name with an empty password."""

    def __init__(self) -> None:
        super().__init__("Authorization", "Basic {token}")

    def value(self, token: str) -> str:
        encoded = base64.b64encode(f"{token}:".encode()).decode("ascii")
        return f"Basic {encoded}"

    def __repr__(self) -> str:
        return "BasicToken()"


class _RedactQuery(logging.Filter):
    """urllib3 logs each request line (path and query) at DEBUG: with a ``Query`` placement
    that line holds the token. This filter on urllib3's connection-pool logger masks the value
    of every parameter a ``Query`` placement uses, however its name is encoded ("never into
    logs")."""

    _PARAMETER = re.compile(r"([?&])([^=&\s\"']+)=([^&\s\"']*)")

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.names:
            message = record.getMessage()
            masked = self._PARAMETER.sub(self._mask, message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True

    def _mask(self, match: re.Match[str]) -> str:
        if unquote_plus(match.group(2)) in self.names:
            return f"{match.group(1)}{match.group(2)}=***"
        return match.group(0)


_redact = _RedactQuery()
logging.getLogger("urllib3.connectionpool").addFilter(_redact)


def query_names() -> frozenset[str]:
    """The parameter names every ``Query`` placement made so far puts a token in."""
    return frozenset(_redact.names)


class Query:
    """The token as a query parameter (RFC 6750 §2.3 allows it; prefer a header: URLs end up in
    server logs)."""

    def __init__(self, name: str = "access_token") -> None:
        if not name:
            raise ValueError("the query parameter needs a name")
        self.name = name
        _redact.names.add(name)

    def apply(self, request: PreparedRequest, token: str) -> None:
        self._rewrite(request, token)

    def strip(self, request: PreparedRequest) -> None:
        self._rewrite(request, None)

    def present(self, request: PreparedRequest) -> bool:
        query = urlsplit(request.url or "").query
        return any(self._names(segment) for segment in query.split("&"))

    def _names(self, segment: str) -> bool:
        return unquote_plus(segment.split("=", 1)[0]) == self.name

    def _rewrite(self, request: PreparedRequest, token: str | None) -> None:
        if request.url:
            request.url = self.rewrite_url(request.url, token)

    def rewrite_url(self, url: str, token: str | None) -> str:
        """``url`` (absolute or relative) carrying exactly ``token`` as our parameter, or none.
        Edits the raw query segments: the caller's other parameters stay byte for byte (no
        re-encoding of ``?flag``, ``a/b`` or latin-1 escapes: signed URLs keep working)."""
        parts = urlsplit(url)
        segments = [s for s in parts.query.split("&") if s]
        kept = [s for s in segments if not self._names(s)]
        if token is None and len(kept) == len(segments):
            return url
        if token is not None:
            kept.append(f"{quote(self.name, safe='')}={quote(token, safe='')}")
        return urlunsplit(parts._replace(query="&".join(kept)))

    def __repr__(self) -> str:
        return f"Query({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.name == self.name

    def __hash__(self) -> int:
        return hash((Query, self.name))
