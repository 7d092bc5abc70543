"""Issue 7, behaviour 1: a ``Query`` token never follows a redirect's ``Location`` to an origin
that is not allowed (``return 301 https://new$request_uri`` keeps ``?access_token=``), in both
entry points, with an absolute, a scheme-relative or a path-relative ``Location``."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
import requests

from requests_silentauth import Query, SilentAuth
from requests_silentauth.testing import TokenServer

from .conftest import wire

MakeAuth = Callable[..., SilentAuth]


@pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
@pytest.mark.parametrize("form", ["absolute", "scheme-relative"])
@pytest.mark.parametrize("code", [301, 302, 307])
def test_query_token_kept_in_location_never_reaches_another_origin(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
    form: str,
    code: int,
) -> None:
    ours, other = server_factory(), server_factory()
    auth = make_auth(ours, placement=Query("access_token"))
    wire(session, auth, ours.url, mounted)
    token = auth.get_token().access_token
    # What a server that redirects with its own request URI sends: our parameter kept.
    target = f"{other.url}/public/headers?keep=1&access_token={quote(token)}"
    if form == "scheme-relative":
        target = target.removeprefix("http:")
    r = session.get(ours.url + f"/api/redirect?to={quote(target)}&code={code}")
    assert r.status_code == 200, r.text
    seen = r.json()
    assert token not in repr(seen)
    assert "access_token" not in seen["query"]
    assert seen["query"] == "keep=1"  # the other parameters stay as they were


@pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
def test_same_origin_location_carries_the_current_token_not_a_stale_one(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    auth = make_auth(placement=Query("access_token"))
    wire(session, auth, server.url, mounted)
    stale = "stale-token-from-the-location"
    target = f"/api/data?access_token={stale}"
    r = session.get(server.url + f"/api/redirect?to={quote(target)}&code=302")
    assert r.status_code == 200
    # The hop carried the current token (no rejection, no renewal), not the Location's one.
    assert [h.status_code for h in r.history] == [302]
    assert server.counts["token"] == 1
    assert server.counts.get("api:rejected", 0) == 0


@pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
def test_query_token_not_sent_over_plain_http_redirect_to_an_allowed_host(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
) -> None:
    # An allowed origin over plain http that is not loopback may never carry the token; the
    # Location pointing there keeps no token either (the hop is not followed: no such host).
    ours = server_factory()
    auth = make_auth(ours, placement=Query("access_token"), origins=[ours.url, "http://a.test"])
    wire(session, auth, ours.url, mounted)
    token = auth.get_token().access_token
    target = f"http://a.test/x?access_token={quote(token)}"
    r = session.get(ours.url + f"/api/redirect?to={quote(target)}&code=302", allow_redirects=False)
    assert r.status_code == 302
    assert token not in r.headers["location"]
    assert r.headers["location"] == "http://a.test/x"
