"""Issue 7, behaviour 8: a request's own ``timeout=`` bounds the token request made for it,
proactive (before the request) or after a rejection, in both entry points.

The identity server hangs for 30 s; the request allows 0.5 s and ``token_timeout`` is 60 s. The
bound asserted (15 s) is far from both, so a busy machine cannot make it flaky."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import requests

from requests_silentauth import (
    MemoryStore,
    SilentAuth,
    Token,
    TokenEndpointError,
)
from requests_silentauth._vault import Vault
from requests_silentauth.testing import TokenServer

from .conftest import PASSWORD, wire

MakeAuth = Callable[..., SilentAuth]
HANG = 30.0


@pytest.fixture
def hanging(server: TokenServer) -> Iterator[TokenServer]:
    yield server
    server.token_delay = 0.0


@pytest.mark.timeout(25)
@pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
def test_request_timeout_bounds_a_proactive_renewal(
    hanging: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    store = MemoryStore()
    auth = make_auth(hanging, store=store, token_timeout=60.0)
    expired = Token("expired-at", refresh_token="rt-1", expires_at=time.time() - 60)
    Vault(store, auth.account).set_token(expired)
    wire(session, auth, hanging.url, mounted)
    hanging.token_delay = HANG
    start = time.monotonic()
    with pytest.raises(TokenEndpointError):
        session.get(hanging.resource_url, timeout=0.5)
    assert time.monotonic() - start < 15


@pytest.mark.timeout(25)
@pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
def test_request_timeout_bounds_a_renewal_after_a_rejection(
    hanging: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    auth = make_auth(hanging, token_timeout=60.0)
    wire(session, auth, hanging.url, mounted)
    assert session.get(hanging.resource_url).status_code == 200
    hanging.revoke_access_tokens()
    hanging.token_delay = HANG
    start = time.monotonic()
    with pytest.raises(TokenEndpointError):
        session.get(hanging.resource_url, timeout=(0.25, 0.25))
    assert time.monotonic() - start < 15


def test_a_request_prepared_by_hand_uses_token_timeout(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    # session.send(prepared) has no Session.request frame: token_timeout applies, and works.
    auth = make_auth(server, password=PASSWORD)
    prepared = session.prepare_request(requests.Request("GET", server.resource_url, auth=auth))
    assert session.send(prepared, timeout=5).status_code == 200
