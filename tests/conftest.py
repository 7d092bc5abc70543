"""Shared fixtures: a real token server on 127.0.0.1 and auths wired to it.

Tests talk only to loopback. ``fast_clock`` is not offered on purpose: expiry is exercised with
real short lifetimes against the real server, or with a ``clock=`` only in pure-logic tests."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from requests_silentauth import MemoryStore, PasswordGrant, SilentAuth, SilentAuthAdapter
from requests_silentauth.testing import TokenServer

USER, PASSWORD = "alice", "wonderland-pass-123"
CLIENT_ID, CLIENT_SECRET = "cli", "cli-secret-xyz"
PUBLIC = "cli-public"  # a public client (issue 8: device and browser logins)


@pytest.fixture(autouse=True)
def _no_discovery_across_tests() -> None:
    """Discovery documents are cached per issuer URL for the process; a TokenServer on a port
    an earlier test's server used has the same URL, and must not get that server's document."""
    from requests_silentauth import _discovery

    with _discovery._cache_lock:
        _discovery._cache.clear()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., TokenServer]]:
    started: list[TokenServer] = []

    def make(**kwargs: Any) -> TokenServer:
        kwargs.setdefault("users", {USER: PASSWORD})
        kwargs.setdefault("clients", {CLIENT_ID: CLIENT_SECRET})
        srv = TokenServer(**kwargs).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def server(server_factory: Callable[..., TokenServer]) -> TokenServer:
    return server_factory()


@pytest.fixture
def idp(server_factory: Callable[..., TokenServer]) -> TokenServer:
    """An identity provider for the interactive logins: our confidential client and a public
    one, device codes polled without a pause."""
    srv = server_factory(clients={CLIENT_ID: CLIENT_SECRET, PUBLIC: None})
    srv.device_interval = 0
    return srv


@pytest.fixture
def make_auth(server: TokenServer) -> Callable[..., SilentAuth]:
    """A SilentAuth against ``server`` with a MemoryStore; keyword arguments override."""

    def make(srv: TokenServer | None = None, **kwargs: Any) -> SilentAuth:
        srv = srv or server
        grant = kwargs.pop(
            "grant", PasswordGrant(srv.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        )
        kwargs.setdefault("username", USER)
        kwargs.setdefault("password", PASSWORD)
        kwargs.setdefault("store", MemoryStore())
        kwargs.setdefault("prompt", False)
        return SilentAuth(grant, **kwargs)

    return make


def wire(session: requests.Session, auth: SilentAuth, origin: str, mounted: bool) -> None:
    """Put ``auth`` on ``session`` as one of the two entry points: mounted on ``origin`` as a
    ``SilentAuthAdapter``, or as ``session.auth``."""
    if mounted:
        session.mount(origin + "/", SilentAuthAdapter(auth))
    else:
        session.auth = auth


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # no proxies from the environment: loopback only
        yield s


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def secret_service() -> Iterator[str]:
    """The real freedesktop Secret Service, as started by scripts/secret-service.sh. Yields a
    fresh keyring service name and deletes what the test stored under it afterwards.

    On a developer's laptop without that private service the test is skipped with the reason;
    in CI (SILENTAUTH_REQUIRE_SECRET_SERVICE=1, set by scripts/test.sh) it fails instead."""
    import os
    import uuid

    reason = _secret_service_missing()
    if reason:
        if os.environ.get("SILENTAUTH_REQUIRE_SECRET_SERVICE") == "1":
            pytest.fail(f"the Secret Service is required here but {reason}")
        pytest.skip(f"{reason}; run the suite with scripts/test.sh to start a private one")
    service = f"silentauth-test-{uuid.uuid4().hex[:12]}"
    yield service
    import secretstorage

    with _closing_bus() as bus:
        collection = secretstorage.get_default_collection(bus)
        for item in collection.search_items({"service": service}):
            item.delete()


def _secret_service_missing() -> str | None:
    import os

    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is unset)"
    try:
        import keyring
        from keyring.backends import SecretService
    except ImportError as exc:
        return f"keyring/secretstorage is not installed ({exc})"
    if not isinstance(keyring.get_keyring(), SecretService.Keyring):
        return f"keyring chose {type(keyring.get_keyring()).__module__}, not the Secret Service"
    return None


class _closing_bus:
    def __enter__(self) -> Any:
        import secretstorage

        self.bus = secretstorage.dbus_init()
        return self.bus

    def __exit__(self, *exc: object) -> None:
        self.bus.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    """A private redis-server on a loopback port for the whole test session (issue 11).

    Without redis-server (or the redis package) the test is skipped with the reason; in CI
    (SILENTAUTH_REQUIRE_REDIS=1, set by scripts/test.sh) it fails instead."""
    import os

    from tests.redisserver import RedisServer, missing

    reason = missing()
    if reason:
        if os.environ.get("SILENTAUTH_REQUIRE_REDIS") == "1":
            pytest.fail(f"a real Redis is required here but {reason}")
        pytest.skip(f"{reason}; run the suite with scripts/test.sh to install it")
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    url: str = redis_server.url
    return url
