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
        t.join(timeout=30)
    assert not errors, errors
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("reuse_detection", [False, True])
def test_sixteen_threads_share_one_refresh_per_expiry_and_revocation(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    reuse_detection: bool,
) -> None:
    srv = server_factory(access_lifetime=2.0, reuse_detection=reuse_detection)
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))
    session.auth = make_auth(srv, leeway=0.0)
    events = ["expire", "revoke", "expire", "revoke", "revoke", "expire"]
    statuses = _round(session, srv.resource_url)  # the first login, shared
    for event in events:
        if event == "expire":
            time.sleep(2.1)  # the client sees the expiry: proactive, before sending
        else:
            srv.revoke_access_tokens()  # only the server knows: the rejection path
        statuses += _round(session, srv.resource_url)
    assert statuses == [200] * THREADS * PER_THREAD * (len(events) + 1)
    counts = srv.counts
    assert counts["token:password"] == 1
    assert counts["token:refresh_token"] == len(events)
    assert counts["invalid_grant"] == 0
    assert counts["reuse_detected"] == 0
    # every thread rejected in a revocation round was resent once, never more
    assert counts["api:rejected"] <= THREADS * events.count("revoke")


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
