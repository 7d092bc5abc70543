"""requests-silentauth against a real django-oauth-toolkit (DOT) server on 127.0.0.1.

The server (see ``conftest.py``) issues access tokens that live an hour (3 s where a test is
about expiry: ``dot_server.access_lifetime(3)``), rotates refresh tokens and has reuse
protection on (replaying a spent refresh token revokes the whole token family).
``/api/me`` answers 401 with ``WWW-Authenticate: Bearer`` to a bad token; ``/api/me-403`` is
DOT's historical default (a bare 403). Assertions use the server's own journal of the requests
it answered and the state of its refresh-token rows, not only what the client says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from requests_silentauth import (
    ClientCredentials,
    FileStore,
    InvalidCredentials,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    Token,
    TokenEndpointError,
)

from .conftest import ROOT, DotServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(40)]

ME = "/api/me"
MakeAuth = Callable[..., SilentAuth]


def use_until_expired(dot_server: DotServer, auth: SilentAuth) -> Token:
    """One request through ``auth`` (a login with a 3 s token), then wait until that token has
    expired by the client's clock; return it (it carries a refresh token). The token that
    replaces it lives an hour: never due again while slow threads or processes catch up."""
    with requests.Session() as s, dot_server.access_lifetime(3):
        s.trust_env = False
        assert s.get(dot_server.url(ME), auth=auth, timeout=10).status_code == 200
    old = current(auth)
    assert old.refresh_token
    sleep_past_expiry(old)
    return old


def concurrently(n: int, call: Callable[[requests.Session], requests.Response]) -> list[Any]:
    """Run ``call`` in ``n`` threads released together, each with its own session; return
    (status, [history statuses]) per thread, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        outcome: Any
        try:
            with requests.Session() as s:
                s.trust_env = False
                barrier.wait(timeout=10)
                r = call(s)
                outcome = (r.status_code, [h.status_code for h in r.history])
        except BaseException as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return results


def sleep_past_expiry(token: Token | None) -> None:
    """Sleep until ``token`` has expired by the client's clock (the server's expiry is a bit
    later: see ``wait_until_refused``)."""
    assert token is not None and token.expires_at is not None
    while time.time() <= token.expires_at:
        time.sleep(max(0.01, token.expires_at - time.time()))


def wait_until_refused(dot_server: DotServer, token: Token, timeout: float = 30.0) -> None:
    """Poll until the server refuses ``token``: its expiry counts from when it answered, after
    the client's clock started. A bound for a hang, not a timing margin."""
    deadline = time.monotonic() + timeout
    while dot_server.status_with(token.access_token) != 401:
        assert time.monotonic() < deadline, "the server still accepts the expired token"
        time.sleep(0.1)


def current(auth: SilentAuth) -> Token:
    token = auth.token
    assert token is not None
    return token


def test_tokens_live_an_hour_unless_a_test_shortens_them(
    dot_server: DotServer, make_auth: MakeAuth
) -> None:
    """The fixture's promise: no test depends on finishing within a short token lifetime."""
    long_lived = make_auth().get_token()
    with dot_server.access_lifetime(3):
        short_lived = make_auth().get_token()
    after = make_auth().get_token()
    lives = [(t.expires_at or 0) - (t.issued_at or 0) for t in (long_lived, short_lived, after)]
    assert lives == [3600, 3, 3600]


def test_password_grant_reaches_protected_api(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    mark = dot_server.mark()
    api.auth = make_auth()

    first = api.get(dot_server.url(ME), timeout=10)
    second = api.get(dot_server.url(ME), timeout=10)

    assert first.status_code == 200, first.text
    assert first.json()["username"] == "alice"
    assert first.json()["client_id"] == dot_server.password_client.client_id
    assert second.status_code == 200
    assert first.history == [] and second.history == []
    # One password login, reused for the second call.
    assert dot_server.token_requests(mark) == [("password", 200)]
    assert dot_server.calls(mark, ME) == [200, 200]


def test_client_credentials_grant(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    cc = dot_server.cc_client
    grant = ClientCredentials(dot_server.token_url, cc.client_id, cc.client_secret)
    auth = make_auth(grant=grant, username=None, password=None)
    api.auth = auth
    mark = dot_server.mark()

    with dot_server.access_lifetime(3):
        r = api.get(dot_server.url(ME), timeout=10)

    assert r.status_code == 200, r.text
    assert r.json() == {"username": None, "client_id": cc.client_id, "scope": "read write"}
    first = current(auth)
    assert first.refresh_token is None  # DOT issues none for client credentials
    assert dot_server.token_requests(mark) == [("client_credentials", 200)]

    # Without a refresh token, an expired token means a new client-credentials login, made
    # before the request (the expired token is never sent).
    sleep_past_expiry(first)
    mark = dot_server.mark()
    r = api.get(dot_server.url(ME), timeout=10)
    assert r.status_code == 200 and r.history == []
    assert current(auth).access_token != first.access_token
    assert dot_server.token_requests(mark) == [("client_credentials", 200)]
    assert dot_server.calls(mark, ME) == [200]


def test_refresh_with_rotation_after_expiry(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    auth = make_auth()
    api.auth = auth
    with dot_server.access_lifetime(3):
        assert api.get(dot_server.url(ME), timeout=10).status_code == 200
    old = current(auth)
    assert old.refresh_token

    sleep_past_expiry(old)
    wait_until_refused(dot_server, old)  # really expired on the server
    mark = dot_server.mark()
    r = api.get(dot_server.url(ME), timeout=10)

    assert r.status_code == 200, r.text
    assert r.history == []  # refreshed before sending: no 401 seen
    new = current(auth)
    assert new.access_token != old.access_token
    assert new.refresh_token and new.refresh_token != old.refresh_token  # rotated
    assert dot_server.token_requests(mark) == [("refresh_token", 200)]
    assert dot_server.calls(mark, ME) == [200]
    # Server side: the old refresh token is spent, the new one is live, same family.
    old_state = dot_server.refresh_token_state(old.refresh_token)
    new_state = dot_server.refresh_token_state(new.refresh_token)
    assert old_state["revoked"] is True
    assert new_state["revoked"] is False and new_state["has_access_token"] is True
    assert new_state["family_size"] == 2 and new_state["family_live"] == 1


def test_server_side_revocation_recovers_with_one_resend(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    # The token lives an hour: the revoked one is really sent, however slow the machine.
    auth = make_auth(leeway=0)
    api.auth = auth
    assert api.get(dot_server.url(ME), timeout=10).status_code == 200
    revoked = current(auth)
    assert revoked.refresh_token

    dot_server.revoke(revoked.access_token)
    mark = dot_server.mark()
    r = api.get(dot_server.url(ME), timeout=10)

    assert r.status_code == 200, r.text
    assert r.json()["username"] == "alice"
    assert [h.status_code for h in r.history] == [401]
    assert "Bearer" in r.history[0].headers["WWW-Authenticate"]
    assert current(auth).access_token != revoked.access_token
    assert dot_server.calls(mark, ME) == [401, 200]
    # DOT revokes the bound refresh token with the access token (RFC 7009 §2.1 "MAY"), so the
    # refresh is refused (invalid_grant) and the ladder falls through to a password login.
    assert dot_server.token_requests(mark) == [("refresh_token", 400), ("password", 200)]


def test_dot_default_403_recovers_only_when_403_is_a_rejection(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    """DOT's plain ProtectedResourceView answers a bad token with a bare 403."""
    strict = make_auth(leeway=0)
    assert api.get(dot_server.url("/api/me-403"), auth=strict, timeout=10).status_code == 200
    dot_server.revoke(current(strict).access_token)
    mark = dot_server.mark()
    r = api.get(dot_server.url("/api/me-403"), auth=strict, timeout=10)
    assert r.status_code == 403 and r.history == []  # 403 is not a rejection by default
    assert dot_server.token_requests(mark) == []

    lenient = make_auth(leeway=0, reauth_on=(401, 403))
    assert api.get(dot_server.url("/api/me-403"), auth=lenient, timeout=10).status_code == 200
    dot_server.revoke(current(lenient).access_token)
    mark = dot_server.mark()
    r = api.get(dot_server.url("/api/me-403"), auth=lenient, timeout=10)
    assert r.status_code == 200, r.text
    assert [h.status_code for h in r.history] == [403]
    assert dot_server.calls(mark, "/api/me-403") == [403, 200]


def test_verify_uses_introspection(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    auth = make_auth(introspection_url=dot_server.introspection_url, leeway=0)
    mark = dot_server.mark()
    first = auth.verify()  # no token yet: a login, no introspection needed
    assert dot_server.token_requests(mark) == [("password", 200)]
    assert dot_server.calls(mark, "/o/introspect/") == []

    mark = dot_server.mark()
    assert auth.verify() == first  # active on the server: the same token
    assert dot_server.calls(mark, "/o/introspect/") == [200]
    assert dot_server.token_requests(mark) == []
    introspections = [e for e in dot_server.events(mark) if e["path"] == "/o/introspect/"]
    assert introspections[0]["client_id"] == dot_server.password_client.client_id

    dot_server.revoke(first.access_token)
    mark = dot_server.mark()
    renewed = auth.verify()  # inactive now: renewed
    assert renewed.access_token != first.access_token
    assert dot_server.calls(mark, "/o/introspect/") == [200]
    assert dot_server.token_requests(mark) == [("refresh_token", 400), ("password", 200)]
    assert dot_server.status_with(renewed.access_token) == 200

    mark = dot_server.mark()
    assert auth.verify() == renewed
    assert dot_server.token_requests(mark) == []


def test_wrong_password_is_invalid_grant_with_one_token_request(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    api.auth = make_auth(password="not-the-password")
    mark = dot_server.mark()

    with pytest.raises(InvalidCredentials) as info:
        api.get(dot_server.url(ME), timeout=10)
    assert info.value.error == "invalid_grant"
    assert dot_server.token_requests(mark) == [("password", 400)]
    assert dot_server.calls(mark, ME) == []  # nothing was sent without a token

    # The same wrong password is not tried again at once (no account lockout by retries).
    with pytest.raises(InvalidCredentials) as again:
        api.get(dot_server.url(ME), timeout=10)
    assert again.value.error == "invalid_grant" and again.value.retry_at is not None
    assert dot_server.token_requests(mark) == [("password", 400)]


def test_wrong_client_secret_is_invalid_client_not_an_expired_token(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    """DOT answers a bad client secret with 401 and ``WWW-Authenticate: Bearer
    error="invalid_client"``: that is a refused client, not a rejected access token."""
    mark = dot_server.mark()
    with pytest.raises(InvalidCredentials) as info:
        api.get(dot_server.url(ME), auth=make_auth(client_secret="wrong-secret"), timeout=10)
    assert not isinstance(info.value, TokenEndpointError)
    assert info.value.error == "invalid_client"
    assert dot_server.token_requests(mark) == [("password", 401)]
    assert dot_server.calls(mark, ME) == []


def test_wrong_client_secret_on_refresh_after_rejection(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    """A token obtained with the right secret, then a 401 from the API: the refresh with a
    wrong client secret is refused (401 invalid_client) and surfaces as InvalidCredentials,
    with no password login and no second resend."""
    store = MemoryStore()
    good = make_auth(store=store, leeway=0)
    assert api.get(dot_server.url(ME), auth=good, timeout=10).status_code == 200
    bad = make_auth(store=store, leeway=0, client_secret="wrong-secret")  # shares the token
    mark = dot_server.mark()
    assert api.get(dot_server.url(ME), auth=bad, timeout=10).status_code == 200
    assert dot_server.token_requests(mark) == []

    dot_server.revoke(current(good).access_token)
    mark = dot_server.mark()
    with pytest.raises(InvalidCredentials) as info:
        api.get(dot_server.url(ME), auth=bad, timeout=10)
    assert info.value.error == "invalid_client"
    assert dot_server.calls(mark, ME) == [401]
    assert dot_server.token_requests(mark) == [("refresh_token", 401)]


def test_threads_share_one_refresh_under_reuse_protection(
    dot_server: DotServer, make_auth: MakeAuth
) -> None:
    auth = make_auth()
    old = use_until_expired(dot_server, auth)

    n = 8
    mark = dot_server.mark()
    results = concurrently(n, lambda s: s.get(dot_server.url(ME), auth=auth, timeout=15))

    assert results == [(200, [])] * n
    assert dot_server.token_requests(mark) == [("refresh_token", 200)]  # exactly one refresh
    assert dot_server.calls(mark, ME) == [200] * n
    new = current(auth)
    assert new.refresh_token and new.refresh_token != old.refresh_token
    # The family survived: the spent token was never replayed, so reuse protection did not fire.
    state = dot_server.refresh_token_state(new.refresh_token)
    assert state["revoked"] is False and state["has_access_token"] is True
    assert state["family_size"] == 2 and state["family_live"] == 1
    assert state["family_access_tokens"] == 1

    # And a request afterwards works on that family, with no new password login.
    mark = dot_server.mark()
    with requests.Session() as s:
        s.trust_env = False
        r = s.get(dot_server.url(ME), auth=auth, timeout=10)
    assert r.status_code == 200 and r.history == []
    assert ("password", 200) not in dot_server.token_requests(mark)
    assert dot_server.status_with(current(auth).access_token) == 200


@pytest.mark.parametrize("client_auth", ["basic", "body"])
def test_client_credentials_that_need_encoding(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session, client_auth: str
) -> None:
    """A client id with a space and '+', a secret with ':', '%', '/', '+' and non-ASCII."""
    odd = dot_server.odd_client
    grant = PasswordGrant(
        dot_server.token_url,
        client_id=odd.client_id,
        client_secret=odd.client_secret,
        introspection_url=dot_server.introspection_url,
        client_auth=client_auth,
    )
    auth = make_auth(grant=grant)
    mark = dot_server.mark()
    r = api.get(dot_server.url(ME), auth=auth, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["client_id"] == odd.client_id
    assert auth.verify() == current(auth)  # introspection authenticates the same way
    assert dot_server.token_requests(mark) == [("password", 200)]
    assert dot_server.calls(mark, "/o/introspect/") == [200]
    assert {e["client_id"] for e in dot_server.events(mark) if not e["bearer"]} == {odd.client_id}


def test_insufficient_scope_is_not_a_rejection(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    """DOT answers a valid token that lacks a scope with 403 and ``Bearer
    error="insufficient_scope"``: a new token would not help, so none is fetched, even when
    403 counts as a rejection."""
    grant = PasswordGrant(
        dot_server.token_url,
        client_id=dot_server.password_client.client_id,
        client_secret=dot_server.password_client.client_secret,
        scope="read",
    )
    auth = make_auth(grant=grant, reauth_on=(401, 403), leeway=0)
    mark = dot_server.mark()
    assert api.get(dot_server.url(ME), auth=auth, timeout=10).json()["scope"] == "read"
    r = api.get(dot_server.url("/api/write"), auth=auth, timeout=10)
    assert r.status_code == 403 and r.history == []
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert dot_server.token_requests(mark) == [("password", 200)]
    assert dot_server.calls(mark, "/api/write") == [403]


def test_reuse_protection_is_on_and_a_revoked_family_recovers_by_login(
    dot_server: DotServer, make_auth: MakeAuth, api: requests.Session
) -> None:
    """The server really revokes a whole family when a spent refresh token is replayed (so the
    concurrency tests would see a double refresh), and a client whose family was revoked that
    way gets back in with one resend: the refresh is refused, then a password login."""
    auth = make_auth(leeway=0)
    assert api.get(dot_server.url(ME), auth=auth, timeout=10).status_code == 200
    spent = current(auth).refresh_token
    assert spent
    client = dot_server.password_client
    rotated = dot_server.http.post(  # another party rotates the token once...
        dot_server.token_url,
        data={"grant_type": "refresh_token", "refresh_token": spent},
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert rotated.status_code == 200, rotated.text
    replay = dot_server.http.post(  # ...and replays the spent one: reuse detected
        dot_server.token_url,
        data={"grant_type": "refresh_token", "refresh_token": spent},
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    family = dot_server.refresh_token_state(rotated.json()["refresh_token"])
    assert family["family_live"] == 0 and family["family_access_tokens"] == 0
    assert dot_server.status_with(rotated.json()["access_token"]) == 401

    mark = dot_server.mark()
    r = api.get(dot_server.url(ME), auth=auth, timeout=10)
    assert r.status_code == 200, r.text
    assert [h.status_code for h in r.history] == [401]
    assert dot_server.token_requests(mark) == [("refresh_token", 400), ("password", 200)]


def test_threads_hit_a_revoked_token_at_once_single_renewal(
    dot_server: DotServer, make_auth: MakeAuth
) -> None:
    """A 401 storm: every thread sends the revoked token (or its replacement if it came late);
    one renewal serves them all, each request is resent at most once."""
    auth = make_auth(leeway=0)
    with requests.Session() as s:
        s.trust_env = False
        assert s.get(dot_server.url(ME), auth=auth, timeout=10).status_code == 200
    revoked = current(auth)
    dot_server.revoke(revoked.access_token)

    n = 8
    mark = dot_server.mark()
    results = concurrently(n, lambda s: s.get(dot_server.url(ME), auth=auth, timeout=15))

    assert all(isinstance(o, tuple) and o[0] == 200 and o[1] in ([], [401]) for o in results), (
        results
    )
    rejected = sum(1 for o in results if isinstance(o, tuple) and o[1] == [401])
    assert rejected >= 1
    assert dot_server.token_requests(mark) == [("refresh_token", 400), ("password", 200)]
    assert dot_server.calls(mark, ME).count(401) == rejected
    assert dot_server.calls(mark, ME).count(200) == n


def test_processes_sharing_a_file_store_refresh_once(
    dot_server: DotServer, make_auth: MakeAuth, tmp_path: Path
) -> None:
    """Four processes share a FileStore and find the token expired at the same moment: one
    refreshes (under the store's file lock), the others adopt the rotated token from the file.
    With reuse protection on, a second refresh with the spent token would revoke the family."""
    store = tmp_path / "tokens.json"
    seed = make_auth(store=FileStore(store))
    old = use_until_expired(dot_server, seed)

    client = dot_server.password_client
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "RACE_TOKEN_URL": dot_server.token_url,
        "RACE_BASE": dot_server.base,
        "RACE_CLIENT_ID": client.client_id,
        "RACE_CLIENT_SECRET": client.client_secret,
        "RACE_USERNAME": dot_server.username,
        "RACE_PASSWORD": dot_server.password,
        "RACE_STORE": str(store),
        "RACE_GO": str(time.time() + 2.0),  # after every process has imported requests
    }
    mark = dot_server.mark()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.race_client"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs: list[dict[str, Any]] = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=25)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=10)
        assert p.returncode == 0, err[-2000:]
        outputs.append(json.loads(out))

    assert outputs == [{"status": 200, "history": []}] * 4
    assert dot_server.token_requests(mark) == [("refresh_token", 200)]  # one, not four
    assert old.refresh_token is not None
    state = dot_server.refresh_token_state(old.refresh_token)
    assert state["revoked"] is True
    assert state["family_size"] == 2 and state["family_live"] == 1
