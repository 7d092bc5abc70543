"""Finding an identity provider's endpoints from its issuer (issue 8): OpenID Connect discovery
(``/.well-known/openid-configuration``), then RFC 8414 (``/.well-known/oauth-authorization-server``)
as the fallback.

The document decides where passwords, refresh tokens and codes are sent, so it is checked like
the URLs a user types: its ``issuer`` must be the one asked for (RFC 8414 §3.3, OIDC Discovery
§4.3; a mix-up otherwise), and every endpoint must be https or loopback (unless the caller
allowed plain http) and carry no credentials. Another host over https is allowed: real
providers use one (Google's issuer is accounts.google.com, its token endpoint
oauth2.googleapis.com), and the document came over https from the issuer itself.

A document is fetched once per process per issuer (a successful one is kept; a failure is
not)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._endpoint import TokenClient
from ._errors import CONTROLS, InsecureTransportError, TokenEndpointError
from ._origins import origin_of, shown, transport_ok

__all__ = ["ENDPOINTS", "Metadata", "check_issuer", "discover", "validate", "well_known_urls"]

#: The endpoints we use, by their metadata names.
ENDPOINTS = (
    "token_endpoint",
    "authorization_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
)


@dataclass(frozen=True)
class Metadata:
    issuer: str
    token_endpoint: str | None = None
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None


def check_issuer(issuer: str, *, allow_insecure_http: bool = False) -> None:
    """An issuer is an https URL (loopback http for tests) with no query, fragment or
    credentials (RFC 8414 §2)."""
    parts = urlsplit(issuer)
    origin_of(issuer)  # ValueError on a malformed URL
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(
            f"issuer {shown(issuer)!r} must be a plain https URL (no query, fragment or "
            "credentials), such as https://login.example.com/realms/main"
        )
    if not transport_ok(origin_of(issuer), allow_insecure=allow_insecure_http):
        raise InsecureTransportError(
            f"issuer {shown(issuer)!r} is plain http to a host that is not this computer; use "
            "https (or allow_insecure_http=True)"
        )


def well_known_urls(issuer: str) -> tuple[str, ...]:
    """OIDC Discovery §4 appends to the issuer's path; RFC 8414 §3.1 inserts before it. An
    issuer with a path also gets the appended RFC 8414 form, which servers mounted under a
    prefix publish (django-oauth-toolkit at ``/o/``); the issuer check holds for all three."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")

    def at(where: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, where, "", ""))

    urls = [
        at(path + "/.well-known/openid-configuration"),
        at("/.well-known/oauth-authorization-server" + path),
    ]
    if path:
        urls.append(at(path + "/.well-known/oauth-authorization-server"))
    return tuple(urls)


def _same_issuer(got: str, asked: str) -> bool:
    # Exact, but a trailing slash alone is not a different issuer (common in configuration).
    return got.rstrip("/") == asked.rstrip("/")


def validate(doc: Any, issuer: str, *, where: str, allow_insecure_http: bool = False) -> Metadata:
    """The metadata in ``doc``, or an error saying what is wrong with it. Pure."""
    if not isinstance(doc, Mapping):
        raise TokenEndpointError(
            f"the discovery document at {where} is not a JSON object", retryable=False
        )
    got = doc.get("issuer")
    if not isinstance(got, str) or not _same_issuer(got, issuer):
        named = repr(shown(got)[:100]) if isinstance(got, str) else "none"
        raise TokenEndpointError(
            f"the discovery document at {where} names issuer {named}, not {issuer!r}; "
            "check the issuer URL (a document for another issuer is never used)",
            retryable=False,
        )
    found: dict[str, str] = {}
    for name in ENDPOINTS:
        url = doc.get(name)
        if url is None:
            continue
        # A control character or white space is no part of a URL (RFC 3986), and this one is
        # printed on the user's terminal and handed to the browser.
        if (
            not isinstance(url, str)
            or not url
            or CONTROLS.search(url)
            or url != "".join(url.split())
        ):
            raise TokenEndpointError(
                f"the discovery document at {where} has an unusable {name}", retryable=False
            )
        try:
            origin_of(url)
        except ValueError:
            raise TokenEndpointError(
                f"the discovery document at {where} has an unusable {name}", retryable=False
            ) from None
        parts = urlsplit(url)
        if "@" in parts.netloc or parts.fragment:
            raise TokenEndpointError(
                f"the discovery document at {where} has a {name} with credentials or a "
                "fragment in it; it is not used",
                retryable=False,
            )
        if not transport_ok(origin_of(url), allow_insecure=allow_insecure_http):
            raise InsecureTransportError(
                f"the discovery document at {where} puts the {name} on plain http at "
                f"{origin_of(url)}; it is not used (credentials would travel in clear text)"
            )
        found[name] = url
    return Metadata(issuer=issuer, **found)


_cache: dict[tuple[str, bool], Metadata] = {}
_cache_lock = threading.Lock()


def discover(client: TokenClient, issuer: str, timeout: float) -> Metadata:
    """The issuer's metadata: cached, else fetched within ``timeout`` seconds in all."""
    key = (issuer, client.allow_insecure_http)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    deadline = time.monotonic() + timeout
    tried: list[str] = []
    for url in well_known_urls(issuer):
        answer = client.get(
            url, timeout=max(0.0, deadline - time.monotonic()), what="a discovery request"
        )
        if answer.status in (404, 405, 410) or (answer.status >= 400 and not tried):
            tried.append(f"{urlsplit(url).path} answered {answer.status}")
            continue
        if not answer.ok:
            raise TokenEndpointError(
                f"the discovery document at {origin_of(url)} answered {answer.status}",
                retryable=False,
                status_code=answer.status,
            )
        meta = validate(
            answer.payload,
            issuer,
            where=str(origin_of(url)) + urlsplit(url).path,
            allow_insecure_http=client.allow_insecure_http,
        )
        with _cache_lock:
            _cache[key] = meta
        return meta
    raise TokenEndpointError(
        f"no discovery document for issuer {issuer!r} ({'; '.join(tried)}); check the issuer "
        "URL, or pass the endpoint URLs (token_url=...) instead",
        retryable=False,
    )
