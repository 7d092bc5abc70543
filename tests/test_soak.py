"""Bounded soak: 16 threads, 1 s tokens, random server-side revocations, for SOAK_SECONDS.

Zero failed requests; every token request accounted for (one per expiry or revocation, never a
duplicate: reuse detection is on, so a second refresh with a spent refresh token would show);
no growth in open connections or threads. The figures are printed for docs/reliability.md."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable

import pytest
import requests

from requests_silentauth import SilentAuth, Token
from requests_silentauth.testing import TokenServer

MakeAuth = Callable[..., SilentAuth]
SOAK_SECONDS = float(os.environ.get("SILENTAUTH_SOAK_SECONDS", "60"))
THREADS = 16
LIFETIME = 1.0


@pytest.mark.soak
@pytest.mark.timeout(SOAK_SECONDS + 60)
def test_soak(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    capsys: pytest.CaptureFixture[str],
) -> None:
    srv = server_factory(access_lifetime=LIFETIME, reuse_detection=True)
    tokens: list[Token] = []
    auth = make_auth(srv, leeway=0.0, on_token=tokens.append)
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))
    session.auth = auth
    threads_before = threading.active_count()
    stop = threading.Event()
    ok = [0] * THREADS
    failures: list[str] = []
    revocations = 0
    connections: list[int] = []

    def worker(i: int) -> None:
        while not stop.is_set():
            try:
                r = session.get(srv.resource_url, timeout=10)
            except Exception as exc:
                failures.append(type(exc).__name__)
                continue
            if r.status_code == 200:
                ok[i] += 1
            else:
                failures.append(str(r.status_code))

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    start = time.monotonic()
    for t in workers:
        t.start()
    rng = random.Random(1234)  # a fixed schedule, reproducible
    while time.monotonic() - start < SOAK_SECONDS:
        time.sleep(rng.uniform(0.3, 2.5))
        srv.revoke_access_tokens()
        revocations += 1
        connections.append(srv.open_connections)
    stop.set()
    for t in workers:
        t.join(timeout=15)
    elapsed = time.monotonic() - start
    session.close()
    auth.close()  # the token session's keep-alive connection too
    drained = srv.wait_for_connections(at_most=0, timeout=5.0)  # server closes after the client
    time.sleep(0.2)
    counts = srv.counts
    requests_made = sum(ok)
    token_requests = counts["token"]
    expiries_bound = int(elapsed / LIFETIME) + 1
    with capsys.disabled():
        print(
            f"\nsoak: {elapsed:.0f}s, {THREADS} threads, {requests_made} requests ok, "
            f"{len(failures)} failed, {revocations} revocations, {token_requests} token requests "
            f"(bound {expiries_bound} expiries + {revocations} revocations + 1 login), "
            f"{counts['api:rejected']} rejections recovered, "
            f"open connections sampled max {max(connections)}, threads {threads_before} -> "
            f"{threading.active_count()}"
        )
    assert failures == []
    assert requests_made > 1000
    assert counts["reuse_detected"] == 0 and counts["invalid_grant"] == 0
    assert counts["token:password"] == 1
    assert token_requests == len(tokens)  # every token request produced a used token
    assert token_requests <= expiries_bound + revocations + 1
    assert token_requests >= revocations  # each revocation was noticed and recovered
    assert max(connections) <= THREADS + 2
    assert drained
    assert threading.active_count() <= threads_before
