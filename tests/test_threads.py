"""Single flight: many threads, one token request per expiry or revocation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests

from requests_silentauth import SilentAuth
from requests_silentauth.testing import TokenServer

MakeAuth = Callable[..., SilentAuth]
THREADS = 16
PER_THREAD = 4


def _round(session: requests.Session, url: str) -> list[int]:
    """THREADS threads released together, each making PER_THREAD requests."""
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(PER_THREAD):
                code = session.get(url, timeout=10).status_code
                with guard:
                    statuses.append(code)
        except BaseException as exc:  # reported below, never swallowed
            with guard:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)  # a bound for a hang, reported below
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert not errors, errors
    return statuses


def _hold_an_expired_token(srv: TokenServer, session: requests.Session, auth: SilentAuth) -> bool:
    """Leave ``auth`` holding a token that has expired by the client's own clock, while every
    later token lives an hour: the expiry happens between rounds, never during one, however
    slow the machine. Costs one renewal (a rejection), whatever the timing. True when the
    token arrived before its expiry (else the client may treat it as skewed and wait for a
    rejection instead of renewing before sending)."""
    srv.access_lifetime = 2.0
    srv.revoke_access_tokens()
    session.get(srv.resource_url, timeout=10)  # rejected, renewed: the new token lives 2 s
    srv.access_lifetime = 3600.0
    token = auth.token
    assert token is not None and token.expires_at is not None
    arrived_in_time = time.time() < token.expires_at
    while time.time() <= token.expires_at:  # until expired: a condition, not a margin
        time.sleep(max(0.01, token.expires_at - time.time()))
    return arrived_in_time


@pytest.mark.slow
@pytest.mark.parametrize("reuse_detection", [False, True])
def test_sixteen_threads_share_one_refresh_per_expiry_and_revocation(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    reuse_detection: bool,
) -> None:
    # Tokens live an hour unless a test step makes one short on purpose: a round of 64
    # requests on a busy machine can take longer than a short lifetime (issue 7).
    srv = server_factory(access_lifetime=3600.0, reuse_detection=reuse_detection)
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))
    auth = make_auth(srv, leeway=0.0)
    session.auth = auth
    events = ["expire", "revoke", "expire", "revoke", "revoke", "expire"]
    statuses = _round(session, srv.resource_url)  # the first login, shared
    for event in events:
        if event == "expire":
            # the client sees the expiry: proactive
            proactive = _hold_an_expired_token(srv, session, auth)
            before = srv.counts["api:rejected"]
        else:
            srv.revoke_access_tokens()  # only the server knows: the rejection path
        statuses += _round(session, srv.resource_url)
        if event == "expire" and proactive:
            assert srv.counts["api:rejected"] == before, "renewed before sending, not after a 401"
    assert statuses == [200] * THREADS * PER_THREAD * (len(events) + 1)
    counts = srv.counts
    assert counts["token:password"] == 1
    # One renewal per event shared by all threads, plus the one that set up each expiry.
    assert counts["token:refresh_token"] == len(events) + events.count("expire")
    assert counts["invalid_grant"] == 0
    assert counts["reuse_detected"] == 0
    # every thread rejected in a revocation round was resent once, never more; setting up an
    # expiry costs one rejection (two if the 2 s token expired before the resend arrived)
    assert counts["api:rejected"] <= THREADS * events.count("revoke") + 2 * events.count("expire")


def test_stale_rejection_retries_with_the_current_token_without_refreshing(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    auth = make_auth()
    session.auth = auth
    session.get(server.resource_url)
    # Prepared (token attached) but not sent yet: "in flight" with the old token.
    in_flight = session.prepare_request(requests.Request("GET", server.resource_url))
    server.revoke_access_tokens()
    assert session.get(server.resource_url).status_code == 200  # another request renews
    assert server.counts["token:refresh_token"] == 1
    r = session.send(in_flight)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    assert server.counts["token:refresh_token"] == 1, "no second refresh for a stale token"


def test_a_stale_retry_whose_token_was_revoked_too_renews_once(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    session.get(server.resource_url)
    in_flight = session.prepare_request(requests.Request("GET", server.resource_url))
    server.revoke_access_tokens()
    assert session.get(server.resource_url).status_code == 200  # another request renews
    server.revoke_access_tokens()  # ... and that token is revoked before the stale retry
    r = session.send(in_flight)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401, 401]  # stale retry, then one renewal
    assert server.counts["token:refresh_token"] == 2
    # and it stops there: a server that keeps rejecting gets no further renewal
    in_flight = session.prepare_request(requests.Request("GET", server.url + "/api/always-reject"))
    before = server.counts["token"]
    r = session.send(in_flight)
    assert r.status_code == 401 and len(r.history) == 1
    assert server.counts["token"] == before + 1
