"""The ``silentauth`` command driven as a user would: on a pseudo-terminal, against the real
keyring and the embedded server, its output checked for secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from requests_silentauth import _cli
from requests_silentauth.testing import TokenServer

from . import terminal
from .conftest import PASSWORD, USER
from .terminal import passwords
from .test_cli_habits import FIRST_USE, on_terminal


def on_pty(
    argv: list[str], env: dict[str, str], answer: str | None, timeout: float = 30
) -> tuple[int, str]:
    return on_pty_raw(["-m", "requests_silentauth", *argv], env, answer, timeout)


def on_pty_raw(
    argv: list[str], env: dict[str, str], answer: str | None, timeout: float = 30
) -> tuple[int, str]:
    """Run ``python ARGV`` with a pseudo-terminal as its controlling terminal; type ``answer``
    when it asks for a password."""
    react = None if answer is None else passwords(answer.encode() + b"\n")
    return terminal.on_pty([], env, react, timeout=timeout, python_argv=argv)


def run(argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "requests_silentauth", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SILENTAUTH_CONFIG"] = str(tmp_path / "profiles.toml")
    env["NO_PROXY"] = "*"
    return env


@pytest.mark.secret_service
@pytest.mark.timeout(120)
def test_login_status_token_logout_on_a_terminal(
    server_factory: Callable[..., TokenServer], secret_service: str, cli_env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    login = [
        "login", "--profile", "work", "--url", srv.token_url, "--username", USER,
        "--store", f"keyring:{secret_service}",
    ]  # fmt: skip
    # A refused password is asked again on a terminal (issue 9): the typo, then the right one.
    code, out, prompts = on_terminal(
        login, cli_env, [b"wrong-password\n", PASSWORD.encode() + b"\n"]
    )
    assert code == 0 and prompts == 2, out
    assert "refused" in out and "wrong-password" not in out
    assert "saved profile 'work'" in out and "logged in as alice" in out
    assert PASSWORD not in out  # not echoed by the terminal, not printed
    toml = Path(cli_env["SILENTAUTH_CONFIG"]).read_text()
    assert PASSWORD not in toml and srv.token_url in toml

    status = run(["status", "--profile", "work"], cli_env)
    assert status.returncode == 0, status.stderr
    assert "password:  stored" in status.stdout and "refresh:   present" in status.stdout
    assert "SecretService" in status.stdout

    token = run(["token", "--profile", "work"], cli_env)
    assert token.returncode == 0, token.stderr
    access = token.stdout.strip()
    assert access.startswith("at-")
    r = requests.get(srv.resource_url, headers={"Authorization": f"Bearer {access}"}, timeout=5)
    assert r.status_code == 200
    assert srv.counts["token:password"] == 2  # the refused attempt and the good one, nothing else
    for text in (status.stdout, status.stderr, token.stderr):
        assert access not in text and PASSWORD not in text

    out1 = run(["logout", "--profile", "work", "--keep-password"], cli_env)
    assert out1.returncode == 0 and out1.stdout.strip() == "tokens forgotten"
    assert "token:     none" in run(["status", "--profile", "work"], cli_env).stdout
    again = run(["token", "--profile", "work"], cli_env)  # silent login: password is stored
    assert again.returncode == 0 and again.stdout.strip() not in ("", access)
    assert srv.counts["token:password"] == 3
    out2 = run(["logout", "--profile", "work"], cli_env)  # forgets the password too
    assert out2.returncode == 0
    final = run(["token", "--profile", "work"], cli_env)
    assert final.returncode == 3
    assert "silentauth login" in final.stderr


def test_login_with_password_stdin_and_a_file_store(
    server_factory: Callable[..., TokenServer], cli_env: dict[str, str], tmp_path: Path
) -> None:
    srv = server_factory(clients={})
    store = tmp_path / "creds.json"
    args = ["--url", srv.token_url, "--username", USER, "--store", f"file:{store}"]
    result = run(["login", "--password-stdin", *args], cli_env, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert store.stat().st_mode & 0o777 == 0o600
    assert PASSWORD not in result.stdout + result.stderr
    assert run(["token", *args], cli_env).stdout.startswith("at-")


def test_usage_errors_and_help(cli_env: dict[str, str]) -> None:
    assert run(["--help"], cli_env).returncode == 0
    for cmd in ("login", "status", "token", "logout", "demo"):
        assert run([cmd, "--help"], cli_env).returncode == 0
    missing = run(["status"], cli_env)
    assert missing.returncode == 2 and "--profile" in missing.stderr
    unknown = run(["token", "--profile", "nope"], cli_env)
    assert unknown.returncode == 2 and "no profile 'nope'" in unknown.stderr
    no_tty = run(["login", "--url", "https://api.example.test/t", "--username", "u"], cli_env)
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr


def test_demo_runs_and_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "every request succeeded" in out
    assert "8 x GET /api/data: [200, 200, 200, 200, 200, 200, 200, 200]" in out


def test_first_use_asks_once_on_a_terminal_and_stores_only_after_success(
    server_factory: Callable[..., TokenServer], cli_env: dict[str, str], tmp_path: Path
) -> None:
    srv = server_factory(clients={})
    store = tmp_path / "store.json"
    argv = ["-c", FIRST_USE, srv.token_url, str(store), srv.resource_url]
    code, out = on_pty_raw(argv, cli_env, answer="not-the-password")
    assert code != 0 and "InvalidCredentials" in out
    assert "not-the-password" not in out
    assert not store.exists() or "not-the-password" not in store.read_text()
    code, out = on_pty_raw(argv, cli_env, answer=PASSWORD)
    assert code == 0 and "status 200" in out, out
    assert PASSWORD in store.read_text()  # stored after the successful login
    code, out = on_pty_raw(argv, cli_env, answer=None, timeout=20)  # silent now
    assert code == 0 and "status 200" in out and "Password for" not in out
    assert srv.counts["token:password"] == 2  # the refused one and the good one


def test_without_a_terminal_the_error_names_the_login_command(
    server_factory: Callable[..., TokenServer], cli_env: dict[str, str], tmp_path: Path
) -> None:
    srv = server_factory(clients={})
    argv = [
        sys.executable,
        "-c",
        FIRST_USE,
        srv.token_url,
        str(tmp_path / "s.json"),
        srv.resource_url,
    ]
    result = subprocess.run(
        argv, capture_output=True, text=True, env=cli_env, timeout=60, stdin=subprocess.DEVNULL
    )
    assert result.returncode != 0
    assert "CredentialsNotFound" in result.stderr
    assert f"silentauth login --url {srv.token_url} --username alice" in result.stderr
    assert srv.counts["token"] == 0
