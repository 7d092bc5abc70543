"""``silentauth demo``: the whole ladder against the embedded server, narrated."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

from ._auth import SilentAuth
from ._grants import PasswordGrant
from ._store import MemoryStore
from ._token import Token
from .testing import TokenServer

LIFETIME = 2.0


def run(say: Callable[[str], object] = print) -> int:
    with (
        TokenServer(
            users={"alice": "demo-password"}, clients={"demo-cli": ""}, access_lifetime=LIFETIME
        ) as srv,
        requests.Session() as session,
    ):
        session.trust_env = False
        start = time.monotonic()

        def on_token(token: Token) -> None:
            life = (token.expires_at or 0) - time.time()
            say(f"    [token] new access token {token.fingerprint}, valid for {life:.1f}s")

        def ask(label: str, url: str | None = None) -> requests.Response:
            r = session.get(url or srv.resource_url)
            extra = f" after {[h.status_code for h in r.history]}" if r.history else ""
            say(f"{time.monotonic() - start:5.2f}s  {label}: {r.status_code}{extra}")
            return r

        say(f"embedded token server on {srv.url}, access tokens live {LIFETIME:.0f}s")
        session.auth = auth = SilentAuth(
            PasswordGrant(srv.token_url, client_id="demo-cli"),
            username="alice",
            password="demo-password",
            store=MemoryStore(),
            on_token=on_token,
        )
        say("1. first request: no token yet, so a password login happens first")
        ask("GET /api/data")
        say("2. three more requests reuse the token (no token requests)")
        for _ in range(3):
            ask("GET /api/data")
        say("3. wait past half the lifetime: sent at once with the still-valid token, renewed")
        say("   in the background (auth.close() waits for that renewal), never rejected")
        time.sleep(LIFETIME / 2 + 0.1)
        ask("GET /api/data")
        auth.close()
        say("4. the server revokes every access token: the 401 is recovered silently")
        srv.revoke_access_tokens()
        ask("GET /api/data")
        say("5. the server revokes the refresh token too: a fresh login from the credentials")
        srv.revoke_all()
        ask("GET /api/data")
        say("6. eight threads hit an expired token together: one refresh between them")
        time.sleep(LIFETIME + 0.1)
        codes: list[int] = []
        threads = [
            threading.Thread(target=lambda: codes.append(session.get(srv.resource_url).status_code))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        say(f"{time.monotonic() - start:5.2f}s  8 x GET /api/data: {sorted(codes)}")
        c = srv.counts
        say(
            f"server counts: password logins {c['token:password']}, "
            f"refreshes {c['token:refresh_token']}, rejected requests {c['api:rejected']}, "
            f"served {c['api:ok']}"
        )
        ok = codes == [200] * 8 and c["token:password"] == 2 and c["token:refresh_token"] == 4
        say("demo finished: every request succeeded" if ok else "demo finished WITH PROBLEMS")
        return 0 if ok else 1
