"""Look-alike names against a real server: the names are mapped to 127.0.0.1 inside the test by
a patched resolver, so nothing resolves or contacts anything outside loopback."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import requests

from requests_silentauth import MemoryStore, PasswordGrant, SilentAuth
from requests_silentauth.testing import TokenServer

from .conftest import PASSWORD, USER

NAMES = ("api.example.test", "api.example.test.evil.test", "evil.test")


@pytest.fixture
def mapped_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in NAMES:
            asked.append(name)
            return real("127.0.0.1", *args, **kwargs)
        if name not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"test tried to resolve {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_token_goes_to_the_configured_name_only(
    server_factory: Callable[..., TokenServer], mapped_names: list[str]
) -> None:
    srv = server_factory(clients={})
    port = srv.url.rsplit(":", 1)[1]
    good = f"http://api.example.test:{port}"
    auth = SilentAuth(
        PasswordGrant(srv.token_url),
        username=USER,
        password=PASSWORD,
        store=MemoryStore(),
        origins=[good],
        allow_insecure_http=True,  # plain http to a non-loopback *name*: an explicit opt-in
    )
    with requests.Session() as s:
        s.trust_env = False
        s.auth = auth
        seen = s.get(f"{good}/public/headers").json()["headers"]
        assert seen["authorization"].startswith("Bearer ")
        for host in ("api.example.test.evil.test", "evil.test"):
            seen = s.get(f"http://{host}:{port}/public/headers").json()["headers"]
            assert "authorization" not in seen
        # a redirect from the good name to the look-alike drops the token
        target = f"http://api.example.test.evil.test:{port}/public/headers"
        seen = s.get(f"{good}/api/redirect", params={"to": target, "code": "307"}).json()
        assert "authorization" not in seen["headers"]
    assert set(mapped_names) == set(NAMES)  # every name really went through the mapping


def test_plain_http_to_a_non_loopback_name_is_refused_without_opt_in(
    server_factory: Callable[..., TokenServer], mapped_names: list[str]
) -> None:
    from requests_silentauth import InsecureTransportError

    srv = server_factory(clients={})
    port = srv.url.rsplit(":", 1)[1]
    auth = SilentAuth(
        PasswordGrant(srv.token_url),
        username=USER,
        password=PASSWORD,
        store=MemoryStore(),
        origins=[f"http://api.example.test:{port}"],
    )
    with requests.Session() as s, pytest.raises(InsecureTransportError):
        s.get(f"http://api.example.test:{port}/public/headers", auth=auth)
    assert mapped_names == []  # refused before any connection or lookup
