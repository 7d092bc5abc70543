"""Where a token may go: origin parsing and matching (RFC 6454: scheme, host, port), and the
plain-http rule. Pure functions, no name resolution: a look-alike host is rejected by comparing
strings, never by asking DNS."""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from ._errors import InsecureTransportError, clip

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


def shown(url: str) -> str:
    """``url`` as an error message may quote it: clipped, and without the credentials a
    ``user:password@`` part would carry."""
    return clip(_USERINFO.sub(r"\1***@", url))


_USERINFO = re.compile(r"^([^/?#]*//)[^/?#]*@")


def origin_of(url: str) -> Origin:
    """The origin of an absolute http(s) URL. Raises ValueError naming the problem."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"{shown(url)!r} is not an http:// or https:// URL")
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown(url)!r} has an invalid port") from exc
    if not host:
        raise ValueError(f"{shown(url)!r} has no host")
    if host.endswith("."):
        host = host[:-1]  # one trailing dot names the same (fully qualified) host
    return Origin(scheme, host, port if port is not None else _DEFAULT_PORTS[scheme])


def parse_origin(text: str) -> Origin:
    """Parse a configured origin: ``scheme://host[:port]`` and nothing else, so that a path
    (which would suggest path scoping we do not do) is reported instead of silently ignored."""
    parts = urlsplit(text)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"origin {shown(text)!r} must be scheme://host[:port] with no path, query or user; "
            "for example 'https://api.example.com'"
        )
    return origin_of(text)


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP literal. Not ``*.localhost`` (RFC 6761 asks resolvers to
    answer those with loopback, but glibc without nss-myhostname sends them to DNS, and
    whoever answers would receive the secret over plain http). Remembered per host: it is
    asked on every plain-http request, and parsing an address costs more than the rest."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_ok(origin: Origin, *, allow_insecure: bool, proxied: bool = False) -> bool:
    """Whether a secret may travel to ``origin``: over https, to a loopback address that no
    proxy stands in front of, or over plain http because the user opted in (RFC 6749 §10.3,
    RFC 6750 §5.3)."""
    if origin.scheme == "https" or allow_insecure:
        return True
    return is_loopback(origin.host) and not proxied


def check_transport(
    url: str | Origin, *, allow_insecure: bool, what: str, proxied: bool = False
) -> None:
    """Refuse to send ``what`` (a token, a password) where ``transport_ok`` says no."""
    origin = url if isinstance(url, Origin) else origin_of(url)
    if transport_ok(origin, allow_insecure=allow_insecure, proxied=proxied):
        return
    if proxied and is_loopback(origin.host):
        raise InsecureTransportError(
            f"refusing to send {what} over plain http to {origin} through the proxy the "
            "environment names (HTTP_PROXY): add the host to NO_PROXY, use https, or pass "
            "allow_insecure_http=True if that proxy is trusted"
        )
    raise InsecureTransportError(
        f"refusing to send {what} over plain http to {origin}: use https, or pass "
        "allow_insecure_http=True if this network is trusted"
    )


def env_proxied(origin: Origin) -> bool:
    """Whether requests would send a request to ``origin`` through a proxy from the environment
    (``HTTP_PROXY``/``ALL_PROXY`` without a matching ``NO_PROXY``): requests does not bypass
    127.0.0.1 on its own. Reads the environment, as requests does for each request; the answer
    for an origin is remembered while those variables stay the same (asking requests costs
    about 100 us, which would be most of our per-request cost on loopback)."""
    environment = tuple(os.environ.get(name) for name in _PROXY_VARIABLES)
    return _proxied(origin, environment)


_PROXY_VARIABLES = (
    "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "REQUEST_METHOD",
)  # fmt: skip


@functools.lru_cache(maxsize=64)
def _proxied(origin: Origin, environment: tuple[str | None, ...]) -> bool:
    from requests.utils import get_environ_proxies, select_proxy

    url = f"{origin}/"
    return bool(select_proxy(url, get_environ_proxies(url)))


class OriginSet:
    """The set of origins a token may be sent to."""

    __slots__ = ("_origins",)

    def __init__(self, origins: Iterable[Origin]) -> None:
        self._origins = frozenset(origins)
        if not self._origins:
            raise ValueError("origins must name at least one origin")

    @classmethod
    def parse(cls, values: Iterable[str]) -> OriginSet:
        if isinstance(values, str):
            raise TypeError("origins must be a list of strings, not a single string")
        return cls(parse_origin(v) for v in values)

    def allows(self, url: str | None) -> bool:
        return self.match(url) is not None

    def match(self, url: str | None) -> Origin | None:
        """The URL's origin when it is one of ours, else None."""
        if not url:
            return None
        try:
            origin = origin_of(url)
        except ValueError:
            return None
        return origin if origin in self._origins else None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._origins))

    def __repr__(self) -> str:
        return "OriginSet([" + ", ".join(repr(str(o)) for o in sorted(self._origins)) + "])"
