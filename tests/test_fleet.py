"""Fleets (issue 11): worker processes sharing one token through RedisStore, against the real
token server and a real redis-server on 127.0.0.1.

Each worker is a forked process with its own SilentAuth and store, sending API requests until
the test tells it to stop (a file appears), then reporting how many succeeded. The token server
counts the token requests the whole fleet made. The figures these tests print (run with -s)
are the ones in README "Running a fleet" and docs/reliability.md."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from requests_silentauth import MemoryStore, PasswordGrant, RedisStore, SilentAuth, Store
from requests_silentauth._store import TOKEN
from requests_silentauth.testing import TokenServer
from tests.conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER
from tests.rawserver import wait_child
from tests.redisserver import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def make_auth(srv: TokenServer, store: Store, **kwargs: Any) -> SilentAuth:
    grant = PasswordGrant(srv.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    kwargs.setdefault("prompt", False)
    return SilentAuth(grant, username=USER, password=PASSWORD, store=store, **kwargs)


def work(
    srv: TokenServer, make_store: Callable[[], Store], stop: Path, out: Path, **kw: Any
) -> None:
    """One worker: API requests every 0.1 s until ``stop`` exists; the tally goes to ``out``."""
    ok, failed, errors = 0, 0, []
    with requests.Session() as session:
        session.trust_env = False
        session.auth = make_auth(srv, make_store(), **kw)
        while not stop.exists():
            try:
                status = session.get(srv.resource_url, timeout=15).status_code
            except Exception as exc:
                failed += 1
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                ok += status == 200
                if ok == 1:
                    out.with_suffix(".ready").touch()
                if status != 200:
                    failed += 1
                    errors.append(f"HTTP {status}")
            time.sleep(0.1)
    out.write_text(json.dumps({"ok": ok, "failed": failed, "errors": errors[:5]}))


class Fleet:
    """Forked worker processes; ``finish()`` stops them and returns their tallies."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp / uuid.uuid4().hex[:8]
        self.tmp.mkdir()
        self.stop = self.tmp / "stop"
        self.pids: list[tuple[int, Path]] = []

    def spawn(self, n: int, srv: TokenServer, make_store: Callable[[], Store], **kw: Any) -> None:
        for i in range(n):
            out = self.tmp / f"worker-{len(self.pids)}-{i}.json"
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                code = 1
                try:
                    work(srv, make_store, self.stop, out, **kw)
                    code = 0
                finally:
                    os._exit(code)
            self.pids.append((pid, out))

    def wait_ready(self, seconds: float = 20) -> None:
        """Until every worker has had one request answered (it holds a token)."""
        end = time.monotonic() + seconds
        while not all(out.with_suffix(".ready").exists() for _, out in self.pids):
            assert time.monotonic() < end, "a worker never got a token"
            time.sleep(0.01)

    def finish(self) -> list[dict[str, Any]]:
        self.stop.touch()
        tallies = []
        for pid, out in self.pids:
            assert wait_child(pid, 30) == 0, "a worker failed or hung"
            tallies.append(json.loads(out.read_text()))
        self.pids = []
        self.stop.unlink()
        return tallies

    def kill(self) -> None:
        for pid, _ in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path)
    yield f
    f.kill()


def no_failures(tallies: list[dict[str, Any]]) -> int:
    failed = [t for t in tallies if t["failed"]]
    assert not failed, failed
    assert all(t["ok"] > 0 for t in tallies), tallies
    return sum(int(t["ok"]) for t in tallies)


LIFE, LEEWAY, RUN = 3.0, 1.0, 7.0  # a token renewed every 2 s, over 7 s: 3 to 4 renewals


def run_fleet(
    fleet: Fleet, srv: TokenServer, make_store: Callable[[], Store]
) -> tuple[int, int, float]:
    started = time.monotonic()
    fleet.spawn(12, srv, make_store, leeway=LEEWAY)
    time.sleep(RUN)
    tallies = fleet.finish()
    return srv.counts["token"], no_failures(tallies), time.monotonic() - started


def test_twelve_workers_share_one_token_per_expiry_with_rotation_and_reuse_detection(
    server_factory: Callable[..., TokenServer], redis_url: str, fleet: Fleet
) -> None:
    """12 workers, 3 s tokens renewed 1 s early, refresh tokens rotated with reuse detection
    on: with one RedisStore about one token request per renewal period for the whole fleet,
    and reuse detection never trips; with a MemoryStore each, every worker renews on its own."""
    ns = f"fleet-{uuid.uuid4().hex[:8]}"
    shared = server_factory(access_lifetime=LIFE, reuse_detection=True)
    redis_count, redis_ok, elapsed = run_fleet(
        fleet, shared, lambda: RedisStore(redis_url, namespace=ns, lock_timeout=10)
    )
    alone = server_factory(access_lifetime=LIFE, reuse_detection=True)
    memory_count, memory_ok, _ = run_fleet(fleet, alone, MemoryStore)
    periods = elapsed / (LIFE - LEEWAY)
    print(
        f"\nfleet of 12, {LIFE:g} s tokens renewed {LEEWAY:g} s early, {elapsed:.1f} s "
        f"({periods:.1f} renewal periods): RedisStore {redis_count} token requests "
        f"({redis_ok} API requests), a MemoryStore each {memory_count} ({memory_ok})"
    )
    for srv in (shared, alone):
        assert srv.counts["reuse_detected"] == 0
        assert srv.counts["invalid_grant"] == 0
    # One login, then one refresh per renewal period at most (a token renewed at t is not due
    # again before t + LIFE - LEEWAY), and at least one refresh: the fleet crossed expiries.
    assert 2 <= redis_count <= 2 + periods
    assert shared.counts["token:password"] == 1
    assert memory_count >= 12  # each worker logs in on its own, and refreshes on its own


def test_a_worker_killed_holding_the_lock_delays_the_others_by_at_most_its_lease(
    server: TokenServer, redis_url: str, fleet: Fleet, session: requests.Session
) -> None:
    import redis

    ns = f"kill-{uuid.uuid4().hex[:8]}"
    lease = 1.0
    server.token_delay = 5.0  # the victim's login hangs: it holds the lock when killed

    def store() -> RedisStore:
        return RedisStore(redis_url, namespace=ns, lock_timeout=lease)

    fleet.spawn(1, server, store, token_timeout=30)
    probe = store()
    auth = make_auth(server, probe, token_timeout=10)
    lock_key = probe.key(auth._manager.account, "lock")
    client = redis.Redis.from_url(redis_url)
    end = time.monotonic() + 15
    while not client.exists(lock_key):
        assert time.monotonic() < end, "the victim never took the lock"
        time.sleep(0.01)
    fleet.kill()  # SIGKILL, holding the lock: no release, no write
    left_ms = client.pttl(lock_key)
    server.token_delay = 0.0
    session.auth = auth
    started = time.monotonic()
    assert session.get(server.resource_url, timeout=10).status_code == 200
    waited = time.monotonic() - started
    print(
        f"\nworker SIGKILLed holding the lock (lease {lease:g} s): the next renewal waited "
        f"{waited:.2f} s (lease left at the kill: {left_ms} ms)"
    )
    assert 0 < left_ms <= lease * 1000  # the lock could only ever delay it this long
    assert probe.get(auth._manager.account, TOKEN) is not None
    client.close()


@pytest.mark.parametrize("persist", [True, False], ids=["persistent", "restarts-empty"])
def test_redis_stopped_and_restarted_mid_run_fails_no_request_while_tokens_are_valid(
    persist: bool, server_factory: Callable[..., TokenServer], fleet: Fleet
) -> None:
    """6 s tokens renewed 3 s early. Redis is stopped right after the first login and brought
    back 3.6 s later: every worker's early renewal fails meanwhile (it keeps its valid token),
    and after Redis returns the fleet renews once, with no restart and no failed request. A
    Redis that kept its data sees a refresh; one that restarted empty looks like a logout (the
    token the workers saved is gone), so the fleet logs in once."""
    import redis

    life = 6.0
    srv = server_factory(access_lifetime=life, reuse_detection=True)
    own = RedisServer(persist=persist).start()
    ns = f"restart-{uuid.uuid4().hex[:8]}"
    try:
        fleet.spawn(
            4, srv, lambda: RedisStore(own.url, namespace=ns, socket_timeout=0.5), leeway=3.0
        )
        fleet.wait_ready()
        c = redis.Redis.from_url(own.url)
        (key,) = c.keys(f"{ns}:*:token")
        expires = json.loads(c.get(key) or "{}")["exp"]  # the token is written before it is used
        c.close()
        own.stop()
        down = expires - life - time.time()  # seconds since the token was issued (negative)
        time.sleep(max(0.0, expires - 2.4 - time.time()))  # past "due" (3 s early), not expired
        own.start()
        back = life - (expires - time.time())
        assert back < life - 0.5, f"Redis took until {back:.1f} s to restart: test premise lost"
        time.sleep(max(0.0, expires + 2.0 - time.time()))  # past the old expiry
        ok = no_failures(fleet.finish())
        state = "persistent" if persist else "restarting empty"
        print(
            f"\nRedis ({state}) down from {-down:.1f} s to {back:.1f} s of a {life:g} s token: "
            f"{ok} API requests, none failed; {srv.counts['token']} token requests"
        )
        assert srv.counts["token"] == 2  # the login, then one renewal after Redis returned
        assert srv.counts["token:password"] == (1 if persist else 2)
        assert srv.counts["reuse_detected"] == 0
    finally:
        own.close()
