"""Issue 8 against django-oauth-toolkit 3.x and a real headless chromium: the device flow and
the authorization code flow with PKCE (public clients, loopback redirect), discovery at DOT's
prefixed RFC 8414 document, and revocation. The browser logs in at DOT's own login page, enters
or confirms the user code, consents, and follows the redirect to our loopback listener.

DOT never answers ``slow_down``, cannot expire a device code on demand and does not list its
device endpoint in its metadata (passed as ``device_authorization_url=``): those are covered
against the embedded server (tests/test_interactive.py). Two thin fixes in the test project
make DOT 3.4 work with oauthlib 4.0 (see dotproject/views.py and dotproject/validators.py)."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from requests_silentauth import (
    AuthorizationCode,
    AuthorizationDenied,
    DeviceAuthorization,
    DeviceCode,
    InteractionRequired,
    MemoryStore,
    SilentAuth,
)

from . import browser as chromium
from .conftest import ROOT, DotServer

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    """One headless chromium for the session (it is heavy; the machine is shared)."""
    if not chromium.available():
        if os.environ.get("SILENTAUTH_REQUIRE_BROWSER"):
            pytest.fail(chromium.MISSING)
        pytest.skip(chromium.MISSING)
    d = chromium.start()
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def browser(driver: Any) -> Any:
    driver.delete_all_cookies()  # a fresh DOT session: the login page every time
    return driver


def issuer(dot: DotServer) -> str:
    return dot.url("/o")


def device_grant(dot: DotServer, show: Callable[[DeviceAuthorization], object]) -> DeviceCode:
    return DeviceCode(
        dot.device_client,
        issuer=issuer(dot),
        # DOT's metadata does not list its device endpoint (RFC 8628 §4).
        device_authorization_url=dot.url("/o/device-authorization/"),
        show=show,
    )


class Person:
    """``show`` that hands the code to the person at the browser."""

    def __init__(self, dot: DotServer, driver: Any, accept: bool = True) -> None:
        self.dot, self.driver, self.accept = dot, driver, accept
        self.shown: list[DeviceAuthorization] = []
        self.pages: list[str] = []

    def __call__(self, info: DeviceAuthorization) -> None:
        self.shown.append(info)
        page = chromium.approve_device(
            self.driver,
            info.verification_uri,
            info.user_code,
            self.dot.username,
            self.dot.password,
            accept=self.accept,
        )
        self.pages.append(page)


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_device_login_in_the_browser_then_silent_refreshes(
    dot_server: DotServer, browser: Any, api: requests.Session
) -> None:
    person = Person(dot_server, browser)
    mark = dot_server.mark()
    auth = SilentAuth(
        device_grant(dot_server, person),
        store=MemoryStore(),
        prompt=True,
        origins=[dot_server.base],
    )
    with dot_server.access_lifetime(2):  # due a second after issue (leeway: half the life)
        assert api.get(dot_server.url("/api/me"), auth=auth, timeout=30).status_code == 200
        for _ in range(3):  # several expiries: the refresh token renews, nobody is asked
            time.sleep(1.1)  # a lower bound: the token is due by then
            assert api.get(dot_server.url("/api/me"), auth=auth, timeout=30).status_code == 200
    auth.close()  # the last renewal ahead (issue 10) may still be in flight: let it land
    assert len(person.shown) == 1 and "Authorized" in person.pages[0]
    grants = [g for g, s in dot_server.token_requests(mark) if s == 200]
    assert grants == ["urn:ietf:params:oauth:grant-type:device_code"] + ["refresh_token"] * 3
    assert dot_server.calls(mark, "/o/device-authorization/") == [200]


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_device_login_denied_in_the_browser(dot_server: DotServer, browser: Any) -> None:
    person = Person(dot_server, browser, accept=False)
    auth = SilentAuth(device_grant(dot_server, person), store=MemoryStore(), prompt=True)
    with pytest.raises(AuthorizationDenied, match="denied"):
        auth.get_token()
    assert auth.store.get(auth.account, "token") is None


def test_no_terminal_no_device_code(dot_server: DotServer) -> None:
    shown: list[DeviceAuthorization] = []
    mark = dot_server.mark()
    auth = SilentAuth(device_grant(dot_server, shown.append), store=MemoryStore(), prompt=None)
    with pytest.raises(InteractionRequired, match="silentauth login --issuer"):
        auth.get_token()
    assert shown == [] and dot_server.calls(mark, "/o/device-authorization/") == []


class OpenBrowser:
    """``open_browser``: drive chromium through DOT's pages in a thread (our listener serves
    once ``open_browser`` has returned). ``first`` is visited before the real URL."""

    def __init__(self, dot: DotServer, driver: Any, first: Callable[[str], str] | None = None):
        self.dot, self.driver, self.first = dot, driver, first
        self.pages: list[str] = []
        self.thread: threading.Thread | None = None

    def __call__(self, url: str) -> None:
        def run() -> None:
            if self.first is not None:
                self.driver.get(self.first(url))
                self.pages.append(self.driver.find_element("tag name", "body").text)
            self.pages.append(
                chromium.authorize(self.driver, url, self.dot.username, self.dot.password)
            )

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(60)


def forged(url: str) -> str:
    """The listener's address with someone else's code and state."""
    from urllib.parse import parse_qs, urlsplit

    redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    return redirect + "?code=attacker-code&state=forged"


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_browser_login_with_pkce_rejects_a_forged_state_then_refreshes_and_revokes(
    dot_server: DotServer, browser: Any, api: requests.Session
) -> None:
    opener = OpenBrowser(dot_server, browser, first=forged)
    mark = dot_server.mark()
    grant = AuthorizationCode(
        dot_server.browser_client, issuer=issuer(dot_server), open_browser=opener, login_timeout=90
    )
    auth = SilentAuth(grant, store=MemoryStore(), prompt=True, origins=[dot_server.base])
    token = auth.get_token()
    opener.join()
    assert "does not belong to the login in progress" in opener.pages[0]  # the forgery: 400
    assert "Logged in" in opener.pages[1]
    assert api.get(dot_server.url("/api/me"), auth=auth, timeout=30).status_code == 200
    grants = [g for g, s in dot_server.token_requests(mark)]
    assert grants == ["authorization_code"]  # the forged code never reached the server

    # Revocation (discovered at DOT's metadata) makes the refresh token unusable there.
    assert auth.logout(revoke=True) == "revoked"
    assert dot_server.status_with(token.access_token) == 401
    dead = dot_server.http.post(
        dot_server.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token,
            "client_id": dot_server.browser_client,
        },
        timeout=10,
    )
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_the_cli_on_a_terminal_with_browser_driving_chromium(
    dot_server: DotServer, tmp_path: Path
) -> None:
    if not chromium.available():
        if os.environ.get("SILENTAUTH_REQUIRE_BROWSER"):
            pytest.fail(chromium.MISSING)
        pytest.skip(chromium.MISSING)
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tests.integration.browser "$1"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    page = tmp_path / "page.txt"
    env = {
        **os.environ,
        "BROWSER": str(script),
        "SILENTAUTH_BROWSER_LOG": str(page),
        "DOT_USERNAME": dot_server.username,
        "DOT_PASSWORD": dot_server.password,
        "SILENTAUTH_CONFIG": str(tmp_path / "profiles.toml"),
        "NO_PROXY": "*",
        "PYTHONPATH": str(ROOT),
    }
    store = f"file:{tmp_path / 'creds.json'}"
    login = [
        "login", "--profile", "dot", "--issuer", issuer(dot_server),
        "--client-id", dot_server.browser_client, "--browser", "--store", store,
    ]  # fmt: skip
    code, out = _on_pty(login, env, timeout=150)
    assert code == 0, out + _read(page)
    assert "Logged in" in _read(page) and "saved profile 'dot'" in out
    token = subprocess.run(
        [sys.executable, "-m", "requests_silentauth", "token", "--profile", "dot"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    assert dot_server.status_with(token.stdout.strip()) == 200
    assert token.stdout.strip() not in out
    bye = subprocess.run(
        [sys.executable, "-m", "requests_silentauth", "logout", "--profile", "dot"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert "revocation at the server: revoked" in bye.stdout, bye.stderr
    assert dot_server.status_with(token.stdout.strip()) == 401


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return "(no page)"


def _on_pty(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "requests_silentauth", *argv], env)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        else:
            os.kill(pid, 9)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
