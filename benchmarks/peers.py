"""The libraries compared by ``benchmarks/run.py``, each configured the way its documentation
recommends for a password-grant client of a generic OAuth2 server, with refresh on.

Each ``Lib`` builds a ``requests.Session`` (or subclass) that carries the token for it, either
logging in (``state=None``) or from a persisted token (``state``: a directory holding what the
library persists, written by ``persist``). ``CONFIG`` is what results.md shows."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests


@dataclass(frozen=True)
class Server:
    base: str
    token_url: str
    api_url: str
    client_id: str
    client_secret: str
    username: str
    password: str


def password_login(srv: Server) -> dict[str, Any]:
    """A token set straight from the server (what a first login stores), with ``expires_at``."""
    r = requests.post(
        srv.token_url,
        data={"grant_type": "password", "username": srv.username, "password": srv.password},
        auth=(srv.client_id, srv.client_secret),
        timeout=30,
    )
    r.raise_for_status()
    token: dict[str, Any] = r.json()
    token["expires_at"] = time.time() + float(token["expires_in"])
    return token


def _plain() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


# -- requests-silentauth -----------------------------------------------------------------------


def silentauth(srv: Server, state: Path | None = None, **options: Any) -> requests.Session:
    from requests_silentauth import FileStore, MemoryStore, PasswordGrant, SilentAuth

    auth = SilentAuth(
        PasswordGrant(srv.token_url, client_id=srv.client_id, client_secret=srv.client_secret),
        username=srv.username,
        password=srv.password,
        store=FileStore(state / "silentauth.json") if state else MemoryStore(),
        origins=[srv.base],
        prompt=False,
        **options,
    )
    s = _plain()
    s.auth = auth
    if state is None:
        auth.get_token()
    return s


def silentauth_persist(srv: Server, state: Path, token: dict[str, Any]) -> None:
    from requests_silentauth import FileStore, PasswordGrant, Token
    from requests_silentauth._store import Account
    from requests_silentauth._vault import Vault

    grant = PasswordGrant(srv.token_url, client_id=srv.client_id, client_secret=srv.client_secret)
    account = Account(grant.endpoint, srv.username, client_id=srv.client_id, scope=None)
    Vault(FileStore(state / "silentauth.json"), account).set_token(
        Token(
            token["access_token"],
            token.get("refresh_token"),
            expires_at=token["expires_at"],
            issued_at=token["expires_at"] - float(token["expires_in"]),
        )
    )


# -- requests-oauthlib: OAuth2Session + LegacyApplicationClient, auto_refresh_url, token_updater -


def _json_saver(path: Path | None) -> Callable[[dict[str, Any]], None]:
    def save(token: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if path is not None:
            path.write_text(json.dumps(dict(token)), encoding="utf-8")

    return save


def oauthlib_session(srv: Server, state: Path | None = None) -> requests.Session:
    from oauthlib.oauth2 import LegacyApplicationClient
    from requests_oauthlib import OAuth2Session

    path = state / "token.json" if state else None
    token = json.loads(path.read_text(encoding="utf-8")) if path else None
    s = OAuth2Session(
        client=LegacyApplicationClient(client_id=srv.client_id),
        token=token,
        auto_refresh_url=srv.token_url,
        auto_refresh_kwargs={"client_id": srv.client_id, "client_secret": srv.client_secret},
        token_updater=_json_saver(path),
    )
    s.trust_env = False
    if token is None:
        s.fetch_token(
            token_url=srv.token_url,
            username=srv.username,
            password=srv.password,
            client_id=srv.client_id,
            client_secret=srv.client_secret,
        )
    return s


def json_persist(srv: Server, state: Path, token: dict[str, Any]) -> None:
    (state / "token.json").write_text(json.dumps(token), encoding="utf-8")


# -- authlib: requests_client.OAuth2Session, token_endpoint (auto refresh), update_token ---------


def authlib_session(srv: Server, state: Path | None = None) -> requests.Session:
    from authlib.integrations.requests_client import OAuth2Session

    path = state / "token.json" if state else None
    token = json.loads(path.read_text(encoding="utf-8")) if path else None
    s = OAuth2Session(
        srv.client_id,
        srv.client_secret,
        token_endpoint=srv.token_url,
        token=token,
        update_token=_json_saver(path),
    )
    s.trust_env = False
    if token is None:
        s.fetch_token(srv.token_url, username=srv.username, password=srv.password)
    return s  # type: ignore[no-any-return]


# -- requests-auth: OAuth2ResourceOwnerPasswordCredentials (refresh since 8.0), token cache -----


def requests_auth_session(srv: Server, state: Path | None = None) -> requests.Session:
    import requests_auth

    requests_auth.OAuth2.token_cache = (
        requests_auth.JsonTokenFileCache(str(state / "requests-auth.json"))
        if state
        else requests_auth.TokenMemoryCache()
    )
    token_session = _plain()
    auth = requests_auth.OAuth2ResourceOwnerPasswordCredentials(
        srv.token_url,
        srv.username,
        srv.password,
        session_auth=(srv.client_id, srv.client_secret),
        session=token_session,
    )
    s = _plain()
    s.auth = auth
    return s


def requests_auth_persist(srv: Server, state: Path, token: dict[str, Any]) -> None:
    import requests_auth

    auth = requests_auth.OAuth2ResourceOwnerPasswordCredentials(
        srv.token_url, srv.username, srv.password, session_auth=(srv.client_id, srv.client_secret)
    )
    record = {auth.state: [token["access_token"], token["expires_at"], token["refresh_token"]]}
    (state / "requests-auth.json").write_text(json.dumps(record), encoding="utf-8")


# -- google-auth: AuthorizedSession over a custom Credentials class ------------------------------


def _google_credentials_class() -> type:
    """google-auth has no client for a generic OAuth2 server's password grant; its documented
    extension point is a ``google.auth.credentials.Credentials`` subclass that implements
    ``refresh(request)``. This one posts a refresh_token grant to the server's token endpoint
    through the transport request google-auth hands it (client authentication in the body)."""
    import google.auth.credentials
    import google.auth.exceptions

    class OAuth2ServerCredentials(google.auth.credentials.Credentials):  # type: ignore[misc]
        def __init__(
            self,
            srv: Server,
            token: dict[str, Any],
            on_update: Callable[[dict[str, Any]], None],
        ) -> None:
            super().__init__()
            self._srv = srv
            self._on_update = on_update
            self._set(token)

        def _set(self, token: dict[str, Any]) -> None:
            self.token = token["access_token"]
            self._refresh_token = token["refresh_token"]
            expires = datetime.datetime.fromtimestamp(token["expires_at"], datetime.timezone.utc)
            self.expiry = expires.replace(tzinfo=None)  # google-auth: naive UTC

        def refresh(self, request: Any) -> None:
            body = urlencode(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": self._refresh_token,
                    "client_id": self._srv.client_id,
                    "client_secret": self._srv.client_secret,
                }
            )
            r = request(
                url=self._srv.token_url,
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                body=body,
            )
            if r.status != 200:
                raise google.auth.exceptions.RefreshError(f"token endpoint answered {r.status}")
            token = json.loads(r.data)
            token["expires_at"] = time.time() + float(token["expires_in"])
            token.setdefault("refresh_token", self._refresh_token)
            self._set(token)
            self._on_update(token)

    return OAuth2ServerCredentials


def google_session(srv: Server, state: Path | None = None) -> requests.Session:
    from google.auth.transport.requests import AuthorizedSession

    path = state / "token.json" if state else None
    # No password grant in google-auth: the first token comes from a login done elsewhere (as
    # google-auth-oauthlib does for Google), then the credentials refresh it.
    token = json.loads(path.read_text(encoding="utf-8")) if path else password_login(srv)
    credentials = _google_credentials_class()(srv, token, _json_saver(path))
    s = AuthorizedSession(credentials)
    s.trust_env = False
    s._auth_request_session.trust_env = False
    return s


@dataclass(frozen=True)
class Lib:
    key: str
    name: str
    make: Callable[..., requests.Session]
    persist: Callable[[Server, Path, dict[str, Any]], None]
    config: str


LIBS = [
    Lib(
        "silentauth",
        "requests-silentauth",
        silentauth,
        silentauth_persist,
        "`session.auth = SilentAuth(PasswordGrant(token_url, client_id, client_secret), "
        "username, password, store=MemoryStore() | FileStore(path))`; defaults: leeway 30 s "
        "(capped at half the lifetime), recover a rejected token once, renew ahead in the "
        "background.",
    ),
    Lib(
        "oauthlib",
        "requests-oauthlib 2.0",
        oauthlib_session,
        json_persist,
        "`OAuth2Session(client=LegacyApplicationClient(client_id), token=..., "
        "auto_refresh_url=token_url, auto_refresh_kwargs={client_id, client_secret}, "
        "token_updater=save)`, `fetch_token(token_url, username, password, client_id, "
        "client_secret)` (the docs' 'Refreshing tokens' + 'Legacy Application flow'); "
        "persistence by the updater callback writing a JSON file.",
    ),
    Lib(
        "authlib",
        "authlib 1.x OAuth2Session",
        authlib_session,
        json_persist,
        "`authlib.integrations.requests_client.OAuth2Session(client_id, client_secret, "
        "token_endpoint=token_url, token=..., update_token=save)`, `fetch_token(token_url, "
        "username, password)` (docs: 'Auto Update Token'); default leeway 60 s; persistence by "
        "the update_token callback writing a JSON file.",
    ),
    Lib(
        "requests_auth",
        "requests-auth 8.0",
        requests_auth_session,
        requests_auth_persist,
        "`session.auth = OAuth2ResourceOwnerPasswordCredentials(token_url, username, password, "
        "session_auth=(client_id, client_secret))`; default early_expiry 30 s; "
        "`OAuth2.token_cache = JsonTokenFileCache(path)` for persistence (its docs).",
    ),
    Lib(
        "google",
        "google-auth AuthorizedSession",
        google_session,
        json_persist,
        "`AuthorizedSession(credentials)` (defaults: refresh on 401, 2 attempts, refresh "
        "threshold 3 min 45 s) over a custom `google.auth.credentials.Credentials` subclass "
        "whose `refresh(request)` posts a refresh_token grant to the server: google-auth's "
        "documented extension point for a non-Google OAuth2 server (it has no password grant, "
        "so the first token comes from a login outside it).",
    ),
]
BY_KEY = {lib.key: lib for lib in LIBS}


def access_token(s: requests.Session) -> str:
    """The access token a session holds now (for the fixed-header baseline)."""
    auth = s.auth
    token = getattr(auth, "token", None)  # SilentAuth
    if token is not None and hasattr(token, "access_token"):
        return str(token.access_token)
    if isinstance(getattr(s, "token", None), dict):  # requests-oauthlib, authlib
        return str(s.token["access_token"])  # type: ignore[attr-defined]
    credentials = getattr(s, "credentials", None)  # google-auth
    if credentials is not None:
        return str(credentials.token)
    raise LookupError("no token")
