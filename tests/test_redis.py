"""RedisStore against a real redis-server on 127.0.0.1 (issue 11): the protocol, the lease and
its fence, hostile values, secrets kept out, and Redis down (refused, blackholed, restarted)."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import requests

from requests_silentauth import (
    Account,
    MemoryStore,
    RedisStore,
    SilentAuth,
    StoreError,
    Token,
)
from requests_silentauth._codecs import MAX_RECORD, encode_token
from requests_silentauth._store import REFUSED, SECRET, TOKEN
from requests_silentauth.testing import TokenServer
from tests.conftest import CLIENT_SECRET, PASSWORD
from tests.redisserver import RedisServer

pytestmark = pytest.mark.redis

ACCOUNT = Account("https://id.example/token", "alice")


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    import redis

    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def store(redis_url: str, namespace: str) -> RedisStore:
    return RedisStore(redis_url, namespace=namespace, lock_timeout=5)


def token(life: float | None = 60, refresh: str | None = "rt-1", at: str = "at-1") -> Token:
    now = time.time()
    return Token(at, refresh, expires_at=None if life is None else now + life, issued_at=now)


def everything(client: Any) -> list[tuple[bytes, bytes]]:
    """Every key of the instance with its value (strings; other types by their type)."""
    out = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        out.append((key, client.get(key) if kind == b"string" else kind))
    return out


# -- the protocol and the documented key names ---------------------------------------------------


def test_round_trip_under_the_documented_key(store: RedisStore, client: Any) -> None:
    value = encode_token(token())
    store.set(ACCOUNT, TOKEN, value)
    assert store.get(ACCOUNT, TOKEN) == value
    assert client.get(f"{store.namespace}:{{{ACCOUNT.key()}}}:token") == value.encode()
    store.delete(ACCOUNT, TOKEN)
    assert store.get(ACCOUNT, TOKEN) is None
    store.delete(ACCOUNT, TOKEN)  # deleting what is not there is not an error


def test_token_key_expires_with_the_token_or_keeps_a_refresh_token(
    store: RedisStore, client: Any
) -> None:
    store.set(ACCOUNT, TOKEN, encode_token(token(life=60, refresh=None)))
    assert 55_000 < client.pttl(store.key(ACCOUNT, TOKEN)) <= 60_000
    store.set(ACCOUNT, TOKEN, encode_token(token(life=60)))
    keep = (60 + store.refresh_ttl) * 1000
    assert keep - 5_000 < client.pttl(store.key(ACCOUNT, TOKEN)) <= keep


def test_lock_is_exclusive_and_released(store: RedisStore, client: Any) -> None:
    with store.lock(ACCOUNT):
        assert client.exists(store.key(ACCOUNT, "lock"))
        with pytest.raises(StoreError, match=r"timed out .* waiting for another worker"):
            store.lock(ACCOUNT).within(0.1).__enter__()
    assert not client.exists(store.key(ACCOUNT, "lock"))
    with store.lock(ACCOUNT).within(0.1):
        pass


# -- the lease and its fence ---------------------------------------------------------------------


def test_a_worker_whose_lease_ran_out_never_overwrites_a_newer_token(
    redis_url: str, namespace: str, client: Any
) -> None:
    slow = RedisStore(redis_url, namespace=namespace, lock_timeout=0.2)
    fast = RedisStore(redis_url, namespace=namespace, lock_timeout=5)
    newer = encode_token(token(at="at-newer"))
    with slow.lock(ACCOUNT):
        client.delete(slow.key(ACCOUNT, "lock"))  # the slow worker's lease is lost
        with fast.lock(ACCOUNT):
            fast.set(ACCOUNT, TOKEN, newer)
        with pytest.raises(StoreError, match="lease ran out") as info:
            slow.set(ACCOUNT, TOKEN, encode_token(token(at="at-older")))
        assert "at-older" not in str(info.value)
        with pytest.raises(StoreError, match="lease ran out"):
            slow.delete(ACCOUNT, TOKEN)
    assert fast.get(ACCOUNT, TOKEN) == newer


def test_a_lock_released_late_does_not_release_the_next_holder(
    redis_url: str, namespace: str, client: Any
) -> None:
    slow = RedisStore(redis_url, namespace=namespace, lock_timeout=0.2)
    fast = RedisStore(redis_url, namespace=namespace, lock_timeout=5)
    lock_key = slow.key(ACCOUNT, "lock")
    with slow.lock(ACCOUNT):
        client.delete(lock_key)  # the slow worker's lease is lost
        fast_lock = fast.lock(ACCOUNT)
        fast_lock.__enter__()
    assert client.exists(lock_key), "the late release deleted another worker's lease"
    fast_lock.__exit__(None, None, None)
    assert not client.exists(lock_key)


def test_a_lock_key_without_expiry_gets_the_lease(store: RedisStore, client: Any) -> None:
    """A hostile or hand-made lock key with no TTL must not block renewals forever."""
    client.set(store.key(ACCOUNT, "lock"), "not-a-lease")
    with pytest.raises(StoreError, match="timed out"):
        store.lock(ACCOUNT).within(0.05).__enter__()
    assert 0 < client.pttl(store.key(ACCOUNT, "lock")) <= store.lock_timeout * 1000


def test_a_renewal_slower_than_the_lease_is_not_joined_by_a_second_refresh(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    redis_url: str,
    namespace: str,
) -> None:
    """Attack: the lease runs out while the holder's refresh is still in flight. Another
    worker must not take the lock, read the old token and refresh with the same refresh token
    (with rotation and reuse detection on, the server would revoke the whole family). The
    holder's lease is kept alive while it lives (a watchdog), so the other worker waits and
    adopts the new token."""
    import threading

    server.reuse_detection = True
    auths = [
        make_auth(store=RedisStore(redis_url, namespace=namespace, lock_timeout=0.3))
        for _ in range(2)
    ]
    sessions = [requests.Session() for _ in auths]
    for s, auth in zip(sessions, auths, strict=True):
        s.trust_env = False
        s.auth = auth
        assert s.get(server.resource_url, timeout=10).status_code == 200  # login, then adopt
    server.expire_access_tokens()  # both are rejected at once and must renew
    server.token_delay = 1.0  # a refresh slower than three leases
    statuses: list[int] = []

    def one(s: requests.Session) -> None:
        statuses.append(s.get(server.resource_url, timeout=10).status_code)

    threads = [threading.Thread(target=one, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in sessions:
        s.close()
    assert statuses == [200, 200]
    assert server.counts["reuse_detected"] == 0
    assert server.counts["token:refresh_token"] == 1


def test_a_lease_lost_mid_renewal_keeps_the_token_in_memory_and_writes_nothing(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    redis_url: str,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lease is lost mid-renewal (here: the lock key deleted by hand while the token
    request is in flight, as a Redis failover or a frozen process would lose it): the token
    request succeeds, the write is fenced off, the token is used from memory."""
    import threading

    store = RedisStore(redis_url, namespace=namespace, lock_timeout=5)
    auth = make_auth(store=store)
    session.auth = auth
    server.token_delay = 1.0
    lock_key = store.key(auth._manager.account, "lock")
    thief = redis.Redis.from_url(redis_url)

    def steal() -> None:
        end = time.monotonic() + 10
        while not thief.delete(lock_key) and time.monotonic() < end:
            time.sleep(0.01)

    stealer = threading.Thread(target=steal)
    stealer.start()
    with caplog.at_level(logging.WARNING, logger="requests_silentauth"):
        assert session.get(server.resource_url, timeout=10).status_code == 200
    stealer.join()
    thief.close()
    assert "lease ran out" in caplog.text
    assert store.get(session.auth._manager.account, TOKEN) is None
    assert session.get(server.resource_url, timeout=10).status_code == 200
    assert server.counts["token"] == 1


# -- hostile values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(lambda c, k: c.rpush(k, "x"), id="a-list"),
        pytest.param(lambda c, k: c.set(k, b"\xff\xfe{"), id="not-utf8"),
        pytest.param(lambda c, k: c.set(k, "x" * (MAX_RECORD + 1)), id="huge"),
        pytest.param(lambda c, k: c.set(k, '{"at":"a\\r\\nX-Evil: 1"}'), id="header-injection"),
    ],
)
def test_a_hostile_token_value_means_one_fresh_login(
    plant: Callable[[Any, str], object],
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    redis_url: str,
    namespace: str,
    client: Any,
) -> None:
    store = RedisStore(redis_url, namespace=namespace)
    auth = make_auth(store=store)
    key = store.key(auth._manager.account, TOKEN)
    plant(client, key)
    session.auth = auth
    for _ in range(3):
        assert session.get(server.resource_url, timeout=10).status_code == 200
    assert server.counts["token"] == 1
    assert client.type(key) == b"string"  # replaced by the login's token
    assert store.get(auth._manager.account, TOKEN) is not None


def test_a_huge_value_is_not_transferred(store: RedisStore, client: Any) -> None:
    client.set(store.key(ACCOUNT, TOKEN), "x" * (MAX_RECORD + 1))
    with pytest.raises(StoreError, match="implausibly long") as info:
        store.get(ACCOUNT, TOKEN)
    assert info.value.corrupt


# -- secrets never go to Redis -------------------------------------------------------------------


def test_secrets_go_to_the_secrets_store_or_nowhere(redis_url: str, namespace: str) -> None:
    kept = MemoryStore()
    with_secrets = RedisStore(redis_url, namespace=namespace, secrets=kept)
    with_secrets.set(ACCOUNT, SECRET, PASSWORD)
    with_secrets.set(ACCOUNT, REFUSED, '{"id":"x","until":1,"message":"no"}')
    assert kept.get(ACCOUNT, SECRET) == PASSWORD
    assert with_secrets.get(ACCOUNT, SECRET) == PASSWORD
    bare = RedisStore(redis_url, namespace=namespace)
    with pytest.raises(StoreError, match="keeps no passwords") as info:
        bare.set(ACCOUNT, SECRET, PASSWORD)
    assert PASSWORD not in str(info.value)
    assert bare.get(ACCOUNT, SECRET) is None
    bare.set(ACCOUNT, REFUSED, '{"id":"x","until":1,"message":"no"}')  # this process only
    assert bare.get(ACCOUNT, REFUSED) is not None
    assert "passwords: none kept" in bare.describe()


def test_nothing_secret_in_redis_after_logins_refusals_and_logout(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    redis_url: str,
    namespace: str,
    client: Any,
) -> None:
    store = RedisStore(redis_url, namespace=namespace)
    session.auth = make_auth(store=store)
    assert session.get(server.resource_url, timeout=10).status_code == 200
    wrong = make_auth(store=store, password="wrong-password-456", username="bob")
    with pytest.raises(requests.RequestException):
        wrong._manager.for_request(5)
    for key, value in everything(client):
        for secret in (PASSWORD, CLIENT_SECRET, "wrong-password-456"):
            assert secret.encode() not in key + value
    mine = [k for k, _ in everything(client) if k.startswith(namespace.encode())]
    assert mine == [store.key(session.auth._manager.account, TOKEN).encode()]


# -- Redis down ----------------------------------------------------------------------------------


def test_a_redis_url_password_never_shows(namespace: str) -> None:
    store = RedisStore("redis://user:hunter2-pass@127.0.0.1:1/0", namespace=namespace)
    with pytest.raises(StoreError) as info:
        store.get(ACCOUNT, TOKEN)
    for text in (repr(store), store.describe(), str(info.value)):
        assert "hunter2" not in text
        assert "127.0.0.1:1" in text
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_redis_refusing_connections_is_a_fast_store_error_naming_redis(namespace: str) -> None:
    from tests.redisserver import free_port

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", namespace=namespace)
    with pytest.raises(StoreError, match=r"Redis at redis://127\.0\.0\.1:\d+/0 could not"):
        store.get(ACCOUNT, TOKEN)
    with pytest.raises(StoreError, match=r"Redis at .* could not take the renewal lock"):
        store.lock(ACCOUNT).__enter__()


def test_a_blackholed_redis_fails_in_bounded_time(namespace: str) -> None:
    """Connected but never answered (a firewall dropping packets, a frozen Redis): each
    command ends after socket_timeout, with one reconnect; no hang."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)  # the kernel completes the handshake; nobody ever reads or answers
        url = f"redis://127.0.0.1:{hole.getsockname()[1]}/0"
        store = RedisStore(url, namespace=namespace, socket_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"Redis at .* could not take the renewal lock"):
            store.lock(ACCOUNT).within(30).__enter__()
        assert time.monotonic() - started < 10  # a hang would be the test's 60 s timeout


def test_a_failing_write_names_the_redis_error_not_the_token(
    store: RedisStore, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secret = encode_token(token(at="at-must-not-leak"))
    client.config_set("maxmemory", "1")
    try:
        with pytest.raises(StoreError, match="OutOfMemoryError") as info:
            store.set(ACCOUNT, TOKEN, secret)
    finally:
        client.config_set("maxmemory", "0")
    assert "at-must-not-leak" not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_valid_tokens_do_not_touch_redis_and_renewals_need_it(
    server_factory: Callable[..., TokenServer],
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    namespace: str,
) -> None:
    """Per-request path: no Redis command while the token is fresh. Expired while Redis is
    down: a clear StoreError naming Redis; after Redis returns, the same auth renews."""
    import redis

    srv = server_factory(access_lifetime=3600)
    own = RedisServer().start()
    try:
        store = RedisStore(own.url, namespace=namespace, socket_timeout=0.5)
        auth = make_auth(srv, store=store)
        session.auth = auth
        assert session.get(srv.resource_url, timeout=10).status_code == 200
        c = redis.Redis.from_url(own.url)
        before = c.info("stats")["total_commands_processed"]
        for _ in range(50):
            assert session.get(srv.resource_url, timeout=10).status_code == 200
        after = c.info("stats")["total_commands_processed"]
        assert after - before == 1  # the INFO command itself
        c.close()
        own.stop()
        for _ in range(5):  # Redis down, token valid: nothing notices
            assert session.get(srv.resource_url, timeout=10).status_code == 200
        srv.revoke_access_tokens()  # rejected now: a renewal is needed, with Redis down
        with pytest.raises(StoreError, match=r"Redis at redis://127\.0\.0\.1:\d+/0"):
            session.get(srv.resource_url, timeout=10)
        own.start()
        assert session.get(srv.resource_url, timeout=10).status_code == 200
        assert srv.counts["token"] == 2
    finally:
        own.close()


def test_the_readme_fleet_example_runs_against_redis(
    server_factory: Callable[..., TokenServer],
    redis_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    client: Any,
) -> None:
    from tests.test_readme import BLOCKS

    (block,) = [b for b in BLOCKS if "RedisStore(" in b]
    srv = server_factory(clients={})
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SECRETS_FILE", str(tmp_path / "secrets.json"))
    namespace: dict[str, Any] = {"__name__": "readme_fleet"}
    exec(compile(block.replace("https://api.example.com", srv.url), "README", "exec"), namespace)
    store, auth = namespace["store"], namespace["auth"]
    store.secrets.set(auth._manager.account.secret_account(), SECRET, PASSWORD)
    namespace["work"]()
    namespace["work"]()
    assert srv.counts["token"] == 1 and srv.counts["api:ok"] == 6
    keys = [k.decode() for k in client.keys("billing-workers:*")]
    assert keys == [store.key(auth._manager.account, TOKEN)]
    client.delete(*keys)


def test_no_token_or_password_in_debug_logs_of_a_fleet_renewal(
    server: TokenServer,
    make_auth: Callable[..., SilentAuth],
    session: requests.Session,
    redis_url: str,
    namespace: str,
    client: Any,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Logins, adoption by a second worker, a refresh, a fenced-off write, Redis errors: the
    DEBUG log (ours and redis-py's) never holds a token, a password or the lease."""
    import json

    store = RedisStore(redis_url, namespace=namespace)
    session.auth = make_auth(store=store)
    assert session.get(server.resource_url, timeout=10).status_code == 200
    other = make_auth(store=RedisStore(redis_url, namespace=namespace))
    other._manager.for_request(5)
    server.expire_access_tokens()
    assert session.get(server.resource_url, timeout=10).status_code == 200
    account = session.auth._manager.account
    stored = json.loads(client.get(store.key(account, TOKEN)))
    down = RedisStore("redis://:redis-pass@127.0.0.1:1/0", namespace=namespace)
    with pytest.raises(StoreError):
        make_auth(store=down)._manager.for_request(5)
    text = debug_log.text
    assert "loaded token" in text and "refreshing token" in text
    for secret in (stored["at"], stored["rt"], PASSWORD, CLIENT_SECRET, "redis-pass"):
        assert secret not in text
