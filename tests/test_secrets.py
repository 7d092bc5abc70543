"""No token, password or client secret in DEBUG logs, reprs or exception messages."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import pytest
import requests

from requests_silentauth import (
    InvalidCredentials,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    SilentAuthAdapter,
    Token,
)
from requests_silentauth._vault import Vault
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_SECRET, PASSWORD

MakeAuth = Callable[..., SilentAuth]


def test_full_scenario_debug_log_has_reasons_but_no_secrets(
    server: TokenServer,
    make_auth: MakeAuth,
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 included: it logs URLs, so Query tokens matter
    store = MemoryStore()
    first = make_auth(server, store=store).get_token()
    # A stored token due for early renewal (25 s left, leeway 30 s) but valid for long enough
    # that no step below can find it expired, however slow the machine.
    now = time.time()
    due = dataclasses.replace(first, issued_at=now - 3600, expires_at=now + 25)
    seen: list[Token] = []
    auth = make_auth(server, store=store, on_token=seen.append)
    Vault(store, auth.account).set_token(due)
    session.auth = auth
    session.get(server.resource_url)  # proactive refresh (ahead, in the background: issue 10)
    auth.close()  # waits for it
    server.revoke_access_tokens()
    session.get(server.resource_url)  # rejection -> refresh -> resend
    server.revoke_all()
    session.get(server.resource_url)  # rejection -> invalid_grant -> login
    with pytest.raises(InvalidCredentials) as info:
        make_auth(server, password="wrong-" + PASSWORD).get_token()
    text = caplog.text
    secrets = [PASSWORD, CLIENT_SECRET, "wrong-" + PASSWORD]
    for token in [first, *seen]:
        secrets += [token.access_token, token.refresh_token or "\0"]
    assert len(seen) == 3
    for secret in secrets:
        assert secret not in text
        assert secret not in str(info.value)
        assert secret not in repr(info.value)
        assert secret not in repr(auth)
    assert "token expires in" in text  # why the proactive refresh happened
    assert "token rejected (status 401)" in text
    assert "refresh token refused (invalid_grant)" in text
    assert seen[-1].fingerprint in text


def test_reprs_mask_every_secret() -> None:
    token = Token("at-secret-value", refresh_token="rt-secret-value", expires_at=1.0)
    grant = PasswordGrant("https://api.example.com/t", client_id="c", client_secret="cs-secret")
    auth = SilentAuth(grant, username="u", password="pw-secret", store=MemoryStore())
    adapter = SilentAuthAdapter(auth)
    for text in (repr(token), str(token), repr(grant), repr(auth), repr(adapter)):
        for secret in ("at-secret-value", "rt-secret-value", "cs-secret", "pw-secret"):
            assert secret not in text
    assert token.fingerprint in repr(token)
