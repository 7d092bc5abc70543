"""A real django-oauth-toolkit server on 127.0.0.1 for the whole session, and helpers to read
server-side facts from it.

How the server is made (once per session, ``dot_server``):

1. a sqlite file in a ``tmp_path_factory`` directory;
2. ``python -m tests.integration.dotproject.setup_db`` in a subprocess runs the migrations and
   creates the user and two confidential applications (password grant, client credentials)
   with secrets generated here: the plaintext stays in this process, DOT stores them hashed;
3. ``python -m waitress --listen=127.0.0.1:PORT tests.integration.dotproject.wsgi:application``
   in a separate process, so every test goes through real HTTP;
4. readiness: the port is polled (bounded, ``READY_TIMEOUT``), then ``/debug/events`` must answer;
5. at session end the process is terminated (killed if it does not stop), by its own id.

The server's in-memory journal (``/debug/events``) lists every OAuth2/API request it answered:
tests take a ``mark()`` and read what happened after it, so counts are exact server-side facts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from requests_silentauth import MemoryStore, PasswordGrant, SilentAuth

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests.integration.* importable
SETTINGS = "tests.integration.dotproject.settings"
APP = "tests.integration.dotproject.wsgi:application"
READY_TIMEOUT = 20.0
SETUP_TIMEOUT = 120.0

Event = dict[str, Any]


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class DotServer:
    """The running server and what the tests may know about it."""

    base: str
    username: str
    password: str
    password_client: Client
    cc_client: Client
    odd_client: Client  # id and secret with characters that need encoding
    log_path: Path
    http: requests.Session

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def token_url(self) -> str:
        return self.url("/o/token/")

    @property
    def introspection_url(self) -> str:
        return self.url("/o/introspect/")

    # -- server-side facts ------------------------------------------------------------------

    def _journal(self, since: int) -> dict[str, Any]:
        r = self.http.get(self.url("/debug/events"), params={"since": since}, timeout=10)
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def mark(self) -> int:
        """Where the journal ends now; ``events(mark)`` is what happened after."""
        mark: int = self._journal(0)["next"]
        return mark

    def events(self, since: int) -> list[Event]:
        events: list[Event] = self._journal(since)["events"]
        return events

    def token_requests(self, since: int) -> list[tuple[str | None, int]]:
        """(grant_type, status) of each ``/o/token/`` request after ``since``, in order."""
        events = self.events(since)
        return [(e["grant_type"], e["status"]) for e in events if e["path"] == "/o/token/"]

    def calls(self, since: int, path: str) -> list[int]:
        """The statuses of the requests to ``path`` after ``since``, in order."""
        return [e["status"] for e in self.events(since) if e["path"] == path]

    def refresh_token_state(self, refresh_token: str) -> dict[str, Any]:
        url = self.url("/debug/refresh-token")
        r = self.http.post(url, data={"token": refresh_token}, timeout=10)
        r.raise_for_status()
        state: dict[str, Any] = r.json()
        return state

    # -- acting as another party ------------------------------------------------------------

    def revoke(self, token: str, hint: str = "access_token", client: Client | None = None) -> None:
        """RFC 7009 revocation, as the client the token was issued to (DOT checks that)."""
        client = client or self.password_client
        r = self.http.post(
            self.url("/o/revoke_token/"),
            data={"token": token, "token_type_hint": hint},
            auth=(client.client_id, client.client_secret),
            timeout=10,
        )
        assert r.status_code == 200, r.text

    def status_with(self, access_token: str, path: str = "/api/me") -> int:
        """What the API answers a bare request carrying ``access_token`` (no SilentAuth)."""
        r = self.http.get(self.url(path), headers={"Authorization": f"Bearer {access_token}"})
        return r.status_code


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> bool:
    """Poll the port until it accepts a connection; False if the process died first."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=10)
    pytest.fail(f"the DOT server did not listen within {READY_TIMEOUT:.0f}s:\n{_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def dot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DotServer]:
    missing = [m for m in ("oauth2_provider", "waitress") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: pip install -r tests/integration/requirements.txt "
            "(or deselect with -m 'not integration')"
        )
    workdir = tmp_path_factory.mktemp("dot")
    username, password = "alice", secrets.token_urlsafe(12)
    password_client = Client("silentauth-password", secrets.token_urlsafe(24))
    cc_client = Client("silentauth-cc", secrets.token_urlsafe(24))
    # RFC 6749 §2.3.1: client credentials are form-urlencoded before Basic encoding.
    odd_client = Client("silentauth odd+id", "p@ss:w+rd %2F/é " + secrets.token_urlsafe(8))
    seed = {
        "users": {username: password},
        "applications": [
            {**vars(password_client), "grant": "password"},
            {**vars(cc_client), "grant": "client-credentials"},
            {**vars(odd_client), "grant": "password"},
        ],
    }
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DOTPROJECT_DB": str(workdir / "db.sqlite3"),
        "DOTPROJECT_SECRET_KEY": secrets.token_urlsafe(32),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    setup = subprocess.run(
        [sys.executable, "-m", "tests.integration.dotproject.setup_db"],
        cwd=ROOT,
        env={**env, "DOTPROJECT_SEED": json.dumps(seed)},
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT,
        check=False,
    )
    if setup.returncode != 0:
        pytest.fail(f"creating the DOT database failed:\n{setup.stdout}\n{setup.stderr[-4000:]}")

    log_path = workdir / "server.log"
    proc: subprocess.Popen[bytes] | None = None
    port = 0
    for _attempt in range(3):  # the free port may be taken between probe and bind: retry
        port = _free_port()
        with log_path.open("ab") as log:
            listen = f"--listen=127.0.0.1:{port}"
            proc = subprocess.Popen(
                [sys.executable, "-m", "waitress", listen, "--threads=8", APP],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if _wait_ready(proc, port, log_path):
            break
        proc = None
    if proc is None:
        pytest.fail(f"the DOT server did not start:\n{_tail(log_path)}")

    http = requests.Session()
    http.trust_env = False  # loopback only, never through a proxy from the environment
    server = DotServer(
        base=f"http://127.0.0.1:{port}",
        username=username,
        password=password,
        password_client=password_client,
        cc_client=cc_client,
        odd_client=odd_client,
        log_path=log_path,
        http=http,
    )
    try:
        server.mark()  # Django answers, not just the socket
        yield server
    finally:
        http.close()
        _stop(proc)


@pytest.fixture
def api() -> Iterator[requests.Session]:
    """The user's session for API calls (SilentAuth is attached per request or per test)."""
    with requests.Session() as s:
        s.trust_env = False
        yield s


@pytest.fixture
def make_auth(dot_server: DotServer) -> Iterator[Callable[..., SilentAuth]]:
    """``SilentAuth(PasswordGrant(...))`` against the DOT server; keywords override, and
    ``client_secret=`` / ``introspection_url=`` go to the grant."""
    made: list[SilentAuth] = []

    def make(**kwargs: Any) -> SilentAuth:
        grant = kwargs.pop("grant", None) or PasswordGrant(
            dot_server.token_url,
            client_id=dot_server.password_client.client_id,
            client_secret=kwargs.pop("client_secret", dot_server.password_client.client_secret),
            introspection_url=kwargs.pop("introspection_url", None),
        )
        kwargs.setdefault("username", dot_server.username)
        kwargs.setdefault("password", dot_server.password)
        kwargs.setdefault("store", MemoryStore())
        kwargs.setdefault("origins", [dot_server.base])
        kwargs.setdefault("prompt", False)
        auth = SilentAuth(grant, **kwargs)
        made.append(auth)
        return auth

    yield make
    for auth in made:
        auth.close()
