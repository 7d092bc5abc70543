"""``silentauth login --issuer ... (--device | --browser)`` on a pseudo-terminal against the
embedded server (issue 8): the code and a live countdown for the device, ``$BROWSER`` for the
browser, then ``token --profile`` silent, and ``logout`` revoking at the server. The same
command against django-oauth-toolkit and a real headless browser is in
tests/integration/test_dot_interactive.py."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from requests_silentauth.testing import TokenServer

from . import terminal
from .conftest import PUBLIC


def on_pty(
    argv: list[str],
    env: dict[str, str],
    react: Callable[[str, int], bool] | None = None,
    timeout: float = 30,
) -> tuple[int, str]:
    """Run ``python -m requests_silentauth ARGV`` on a pseudo-terminal; ``react(output, fd)``
    is called as output arrives until it returns True once (it may type into ``fd``)."""
    done = react is None

    def once(out: bytes, fd: int) -> None:
        nonlocal done
        if not done and react is not None:
            done = react(out.decode(errors="replace"), fd)

    return terminal.on_pty(argv, env, once, timeout=timeout)


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "requests_silentauth", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def idp(server_factory: Callable[..., TokenServer]) -> TokenServer:
    srv = server_factory(clients={PUBLIC: None})
    srv.device_interval = 1
    return srv


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SILENTAUTH_CONFIG"] = str(tmp_path / "profiles.toml")
    env["NO_PROXY"] = "*"
    env.pop("BROWSER", None)
    return env


def login_args(idp: TokenServer, how: str, store: Path) -> list[str]:
    return [
        "login", "--profile", "p", "--issuer", idp.issuer, "--client-id", PUBLIC, how,
        "--scope", "read", "--store", f"file:{store}",
    ]  # fmt: skip


@pytest.mark.timeout(120)
def test_device_login_on_a_terminal_then_token_is_silent_and_logout_revokes(
    idp: TokenServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "creds.json"

    def approve(out: str, fd: int) -> bool:
        found = re.search(r"enter the code: ([A-Z]{4}-[A-Z]{4})", out)
        if found and "left" in out:  # the countdown is running
            idp.approve_device(found.group(1))
            return True
        return False

    idp.access_lifetime = 2  # due one second after issue (the leeway is half the life)
    code, out = on_pty(login_args(idp, "--device", store), cli_env, approve)
    assert code == 0, out
    assert "Waiting for the approval: " in out and "saved profile 'p'" in out
    assert "refreshed silently from now on" in out

    outputs = []
    for _ in range(3):  # several expiries, no terminal: nobody is asked
        time.sleep(1.1)  # a lower bound: the token is due by then
        got = run(["token", "--profile", "p"], cli_env)
        assert got.returncode == 0, got.stderr
        outputs.append(got.stdout)
    assert len(set(outputs)) == 3
    assert idp.counts["device_authorization"] == 1 and idp.counts["token:refresh_token"] == 3
    second = run(["token", "--profile", "p"], cli_env)

    bye = run(["logout", "--profile", "p"], cli_env)
    assert bye.returncode == 0, bye.stderr
    assert "revocation at the server: revoked" in bye.stdout
    access = second.stdout.strip()
    r = requests.get(idp.resource_url, headers={"Authorization": f"Bearer {access}"}, timeout=5)
    assert r.status_code == 401
    after = run(["token", "--profile", "p"], cli_env)
    assert after.returncode == 3
    # The fix names the profile, so the token lands where `token --profile p` looks.
    assert "log in once at a terminal with: silentauth login --profile p;" in after.stderr


@pytest.mark.timeout(120)
def test_ctrl_c_while_waiting_for_the_device_is_clean(
    idp: TokenServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "creds.json"

    def interrupt(out: str, fd: int) -> bool:
        if "left" in out:
            os.write(fd, b"\x03")  # Ctrl-C typed at the terminal
            return True
        return False

    code, out = on_pty(login_args(idp, "--device", store), cli_env, interrupt)
    assert code == 130, out
    assert "login interrupted; nothing was stored" in out
    assert "Traceback" not in out
    assert not store.exists() or "token" not in store.read_text()


def browser_script(tmp_path: Path) -> Path:
    """A $BROWSER that plays the browser in the background (webbrowser waits for $BROWSER to
    exit, and the listener serves only after that): it follows the redirect to the listener."""
    drive = tmp_path / "drive.py"
    drive.write_text(
        "import sys, requests\n"
        "r = requests.get(sys.argv[1], timeout=20)\n"
        "open(sys.argv[2], 'w').write(str(r.status_code))\n"
    )
    script = tmp_path / "browser.sh"
    landed = tmp_path / "landed"
    script.write_text(
        f'#!/bin/sh\n"{sys.executable}" "{drive}" "$1" "{landed}" >/dev/null 2>&1 &\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.timeout(120)
def test_browser_login_through_dollar_browser_then_token_is_silent(
    idp: TokenServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "creds.json"
    cli_env["BROWSER"] = str(browser_script(tmp_path))
    code, out = on_pty(login_args(idp, "--browser", store), cli_env)
    assert code == 0, out
    assert "open this address in a browser (opening it now)" in out
    assert (tmp_path / "landed").read_text() == "200"
    token = run(["token", "--profile", "p"], cli_env)
    assert token.returncode == 0, token.stderr
    assert idp.counts["token:authorization_code"] == 1 and idp.counts["authorize"] == 1
    for text in (out, token.stderr):
        assert token.stdout.strip() not in text
