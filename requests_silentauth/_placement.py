"""How a token travels on a request. Each placement can put the token on a prepared request and
take it off again, so a redirect to another origin never carries it, whatever the placement
(requests itself strips only ``Authorization``)."""

from __future__ import annotations

import base64
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from requests import PreparedRequest

__all__ = ["BasicToken", "Bearer", "Header", "Placement", "Query"]


class Placement(Protocol):
    """Puts a token on a request and removes it."""

    def apply(self, request: PreparedRequest, token: str) -> None: ...

    def strip(self, request: PreparedRequest) -> None: ...


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


class Query:
    """The token as a query parameter (RFC 6750 §2.3 allows it; prefer a header: URLs end up in
    server logs)."""

    def __init__(self, name: str = "access_token") -> None:
        if not name:
            raise ValueError("the query parameter needs a name")
        self.name = name

    def apply(self, request: PreparedRequest, token: str) -> None:
        self._rewrite(request, token)

    def strip(self, request: PreparedRequest) -> None:
        self._rewrite(request, None)

    def _rewrite(self, request: PreparedRequest, token: str | None) -> None:
        if not request.url:
            return
        parts = urlsplit(request.url)
        pairs = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != self.name
        ]
        if token is not None:
            pairs.append((self.name, token))
        elif len(pairs) == len(parse_qsl(parts.query, keep_blank_values=True)):
            return  # nothing to strip: leave the URL byte-for-byte as it was
        request.url = urlunsplit(parts._replace(query=urlencode(pairs)))

    def __repr__(self) -> str:
        return f"Query({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.name == self.name

    def __hash__(self) -> int:
        return hash((Query, self.name))
