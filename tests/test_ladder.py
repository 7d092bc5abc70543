"""The ladder against the real server: attach, refresh early, refresh dead -> login, login
refused -> one InvalidCredentials. Counts are taken on the server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from requests_silentauth import (
    Account,
    ClientCredentials,
    CredentialsNotFound,
    FileStore,
    InvalidCredentials,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    Token,
)
from requests_silentauth._vault import Vault
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER

MakeAuth = Callable[..., SilentAuth]


def test_first_request_logs_in_then_reuses_the_token(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    for _ in range(5):
        r = session.get(server.resource_url)
        assert r.status_code == 200
        assert r.json()["user"] == USER
    counts = server.counts
    assert counts["token:password"] == 1
    assert counts["token:refresh_token"] == 0
    assert counts["api:ok"] == 5
    assert counts["api:rejected"] == 0


def test_near_expiry_refreshes_before_sending(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    srv = server_factory(access_lifetime=2.0)
    auth = make_auth(srv, leeway=30.0)  # capped at half of 2 s
    session.auth = auth
    assert session.get(srv.resource_url).status_code == 200
    first = auth.token
    assert first is not None and first.refresh_token
    assert session.get(srv.resource_url).status_code == 200
    assert srv.counts["token:refresh_token"] == 0, "leeway must be capped, not refresh per request"
    time.sleep(1.1)  # past half the lifetime: renewed ahead (issue 10), no rejection
    assert session.get(srv.resource_url).status_code == 200  # sent with the valid token
    auth.close()  # waits for the renewal ahead that request started
    counts = srv.counts
    assert counts["token:password"] == 1
    assert counts["token:refresh_token"] == 1
    assert counts["api:rejected"] == 0
    second = auth.token
    assert second is not None and second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token  # rotated


def test_refresh_response_without_refresh_token_keeps_the_old_one(
    server_factory: Callable[..., TokenServer], make_auth: MakeAuth, session: requests.Session
) -> None:
    srv = server_factory(rotate_refresh=False, omit_refresh_on_refresh=True)
    auth = make_auth(srv)
    session.auth = auth
    session.get(srv.resource_url)
    original_rt = auth.token.refresh_token if auth.token else None
    for _ in range(3):
        srv.revoke_access_tokens()
        assert session.get(srv.resource_url).status_code == 200
        assert auth.token is not None and auth.token.refresh_token == original_rt
    assert srv.counts["token:refresh_token"] == 3
    assert srv.counts["token:password"] == 1


def test_dead_refresh_token_falls_back_to_login(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    session.get(server.resource_url)
    server.revoke_all()
    assert session.get(server.resource_url).status_code == 200
    counts = server.counts
    assert counts["token:refresh_token"] == 1
    assert counts["invalid_grant"] == 1
    assert counts["token:password"] == 2


def test_refused_login_is_one_attempt_and_one_error(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth(password="wrong-password")
    with pytest.raises(InvalidCredentials) as info:
        session.get(server.resource_url)
    assert info.value.error == "invalid_grant"
    assert "silentauth login" in str(info.value)
    assert server.counts["token:password"] == 1
    assert server.counts["api"] == 0


def test_wrong_password_is_not_retried_during_the_backoff(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth(password="wrong-password")
    for _ in range(100):
        with pytest.raises(InvalidCredentials) as info:
            session.get(server.resource_url)
    assert server.counts["token:password"] == 1
    assert info.value.retry_at is not None and info.value.retry_at > time.time() + 50
    assert "not tried again" in str(info.value)


def test_wrong_client_secret_is_invalid_credentials_not_an_expired_token(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    grant = PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret="nope")
    session.auth = make_auth(grant=grant)
    with pytest.raises(InvalidCredentials) as info:
        session.get(server.resource_url)
    assert info.value.error == "invalid_client"
    assert "client_secret" in str(info.value)
    assert server.counts["token"] == 1


@pytest.mark.parametrize("client_auth", ["basic", "body"])
def test_client_authentication_styles(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, client_auth: str
) -> None:
    grant = PasswordGrant(
        server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client_auth=client_auth
    )
    session.auth = make_auth(grant=grant)
    assert session.get(server.resource_url).status_code == 200
    server.revoke_access_tokens()
    assert session.get(server.resource_url).status_code == 200
    assert server.counts["token:refresh_token"] == 1


def test_client_credentials_reads_the_secret_from_the_store(
    server: TokenServer, session: requests.Session
) -> None:
    store = MemoryStore()
    grant = ClientCredentials(server.token_url, client_id=CLIENT_ID)
    auth = SilentAuth(grant, store=store, prompt=False)
    session.auth = auth
    with pytest.raises(CredentialsNotFound) as info:
        session.get(server.resource_url)
    assert "pass password= (or client_secret=)" in str(info.value)  # a MemoryStore
    assert server.counts["token"] == 0
    from requests_silentauth import Account

    Vault(store, Account(server.token_url, CLIENT_ID)).set_secret(CLIENT_SECRET)
    assert session.get(server.resource_url).json()["user"] == CLIENT_ID
    server.revoke_access_tokens()  # no refresh token: a new client-credentials login
    assert session.get(server.resource_url).status_code == 200
    assert server.counts["token:client_credentials"] == 2


def test_token_from_the_store_is_used_without_a_token_request(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    store = MemoryStore()
    first = make_auth(store=store)
    session.auth = first
    session.get(server.resource_url)
    second = make_auth(store=store, password=None)  # a "second run": no password at hand
    with requests.Session() as other:
        other.auth = second
        assert other.get(server.resource_url).status_code == 200
    assert server.counts["token"] == 1


def test_on_token_sees_every_new_token(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    seen: list[Token] = []
    session.auth = make_auth(on_token=seen.append)
    session.get(server.resource_url)
    server.revoke_access_tokens()
    session.get(server.resource_url)
    assert len(seen) == 2
    assert seen[0].access_token != seen[1].access_token


def test_verify_checks_with_introspection_and_renews(
    server: TokenServer, make_auth: MakeAuth
) -> None:
    grant = PasswordGrant(
        server.token_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        introspection_url=server.introspect_url,
    )
    auth = make_auth(grant=grant)
    first = auth.verify()  # no token yet: logs in
    assert auth.verify() == first
    assert server.counts["introspect"] == 1
    server.revoke_access_tokens()
    second = auth.verify()
    assert second.access_token != first.access_token
    assert server.counts["introspect"] == 2
    assert server.counts["token:refresh_token"] == 1


def test_logout_forgets_tokens_but_keeps_the_password(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    store = MemoryStore()
    auth = make_auth(store=store, password=None)
    from requests_silentauth import Account

    account = Account(server.token_url, USER)
    # Tokens are kept per client (issue 7, behaviour 2); the password per (endpoint, user).
    tokens = Account(server.token_url, USER, client_id=CLIENT_ID)
    Vault(store, account).set_secret(PASSWORD)
    session.auth = auth
    session.get(server.resource_url)
    assert Vault(store, tokens).get_token() is not None
    auth.logout()
    assert auth.token is None and Vault(store, tokens).get_token() is None
    assert Vault(store, account).get_secret() == PASSWORD
    auth.logout(forget_password=True)
    assert Vault(store, account).get_secret() is None


def test_a_refused_password_is_not_retried_by_another_process_either(
    server: TokenServer, tmp_path: Path
) -> None:
    # Two auths on one FileStore stand for two runs of a cron job a minute apart.
    def run() -> None:
        auth = SilentAuth(
            PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
            username=USER,
            store=FileStore(tmp_path / "store.json"),
            prompt=False,
        )
        with requests.Session() as s, pytest.raises(InvalidCredentials) as info:
            s.get(server.resource_url, auth=auth)
        assert "stale-password" not in str(info.value)

    Vault(FileStore(tmp_path / "store.json"), Account(server.token_url, USER)).set_secret(
        "stale-password"
    )
    run()
    run()
    assert server.counts["token:password"] == 1
    # The user stores the right password: the next run logs in at once.
    Vault(FileStore(tmp_path / "store.json"), Account(server.token_url, USER)).set_secret(PASSWORD)
    auth = SilentAuth(
        PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        username=USER,
        store=FileStore(tmp_path / "store.json"),
    )
    assert auth.get_token().access_token.startswith("at-")
    assert (
        Vault(FileStore(tmp_path / "store.json"), Account(server.token_url, USER)).get_refusal()
        is None
    )


def test_an_explicit_login_always_tries(server: TokenServer, make_auth: MakeAuth) -> None:
    auth = make_auth(password="wrong")
    with pytest.raises(InvalidCredentials):
        auth.get_token()
    with pytest.raises(InvalidCredentials):
        auth.login("wrong")  # tried again: the user asked for it
    assert server.counts["token:password"] == 2
    assert auth.login(PASSWORD).access_token.startswith("at-")


def test_a_logout_elsewhere_is_not_undone_by_a_running_process(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "store.json")
    account = Account(server.token_url, USER)
    Vault(store, account).set_secret(PASSWORD)
    running = make_auth(store=store, password=None)
    session.auth = running
    session.get(server.resource_url)
    old = running.token
    assert old is not None
    # `silentauth logout` in another process (another auth on the same store file)
    make_auth(store=FileStore(tmp_path / "store.json"), password=None).logout()
    server.revoke_access_tokens()
    assert session.get(server.resource_url).status_code == 200
    counts = server.counts
    assert counts["token:refresh_token"] == 0  # the logged-out refresh token is not used
    assert counts["token:password"] == 2  # a fresh login from the stored password instead


def test_an_adopted_token_revoked_too_still_lets_the_request_renew_once(
    server: TokenServer, make_auth: MakeAuth, tmp_path: Path
) -> None:
    # Two auths on one FileStore stand for two processes.
    a = make_auth(store=FileStore(tmp_path / "s.json"))
    b = make_auth(store=FileStore(tmp_path / "s.json"))
    with requests.Session() as s:
        s.get(server.resource_url, auth=a)
        server.revoke_access_tokens()
        s.get(server.resource_url, auth=b)  # b renews; its token is in the store
        server.revoke_access_tokens()  # ... and revoked too
        r = s.get(server.resource_url, auth=a)  # a adopts b's token: rejected, so a renews
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401, 401]
    assert server.counts["token:refresh_token"] == 2


def test_an_explicit_login_clears_the_refusal_for_other_processes(
    server: TokenServer, tmp_path: Path
) -> None:
    def auth() -> SilentAuth:
        return SilentAuth(
            PasswordGrant(server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
            username=USER,
            store=FileStore(tmp_path / "store.json"),
            prompt=False,
        )

    account = Account(server.token_url, USER)
    Vault(FileStore(tmp_path / "store.json"), account).set_secret(PASSWORD)
    server.set_password(USER, "changed-on-the-server")
    with pytest.raises(InvalidCredentials):
        auth().get_token()  # refused: recorded in the store
    server.set_password(USER, PASSWORD)  # the account works again (e.g. unlocked by an admin)
    auth().login(PASSWORD)  # `silentauth login` with the same password
    assert Vault(FileStore(tmp_path / "store.json"), account).get_refusal() is None
    auth().logout()
    assert auth().get_token().access_token.startswith("at-")  # not blocked by a stale record
