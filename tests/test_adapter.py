"""SilentAuthAdapter: the same flow, mounted on one origin."""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import quote

import requests
from urllib3.util.retry import Retry

from requests_silentauth import SilentAuth, SilentAuthAdapter
from requests_silentauth.testing import TokenServer

MakeAuth = Callable[..., SilentAuth]


def test_mounted_adapter_attaches_and_recovers(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.mount(server.url + "/", SilentAuthAdapter(make_auth()))
    assert session.get(server.resource_url).status_code == 200
    server.revoke_access_tokens()
    r = session.put(server.echo_url, data=io.BytesIO(b"file-body"))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    assert r.json()["body_b64"] == "ZmlsZS1ib2R5"
    assert server.counts["token:refresh_token"] == 1


def test_adapter_resends_once_against_a_server_that_always_rejects(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.mount(server.url + "/", SilentAuthAdapter(make_auth()))
    r = session.get(server.url + "/api/always-reject")
    assert r.status_code == 401 and len(r.history) == 1
    assert server.counts["api:rejected"] == 2
    assert server.counts["token"] == 2


def test_adapter_keeps_the_token_off_other_origins(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    ours, other = server_factory(), server_factory()
    auth = make_auth(ours)
    session.mount(ours.url + "/", SilentAuthAdapter(auth))
    target = quote(other.url + "/public/headers")
    seen = session.get(ours.url + f"/api/redirect?to={target}&code=307").json()
    assert "authorization" not in seen["headers"]
    seen = session.get(other.url + "/public/headers").json()
    assert "authorization" not in seen["headers"]


def test_adapter_and_session_auth_together_still_resend_only_once(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    auth = make_auth()
    session.auth = auth
    session.mount(server.url + "/", SilentAuthAdapter(auth))
    r = session.get(server.url + "/api/always-reject")
    assert r.status_code == 401 and len(r.history) == 1
    assert server.counts["api:rejected"] == 2


def test_urllib3_retries_never_retry_a_rejection(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    retry = Retry(total=3, status_forcelist=[401, 503], backoff_factor=0)
    adapter = SilentAuthAdapter(make_auth(), max_retries=retry)
    assert adapter.max_retries.status_forcelist == {503}
    session.mount(server.url + "/", adapter)
    session.get(server.url + "/api/always-reject")
    assert server.counts["api:rejected"] == 2
