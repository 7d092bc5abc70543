"""Issue 9: the command line as a new user and a script meet it. Real subprocesses against the
embedded server; a pseudo-terminal where a terminal matters (prompts, Ctrl-C, Ctrl-D); a
keyring backend that keeps its entries in a file (``tests/plainkeyring.py``) stands in for a
desktop keyring, and keyring's ``fail`` backend for a headless server."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from requests_silentauth import __version__
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER
from .terminal import on_pty, passwords

ROOT = Path(__file__).resolve().parent.parent
PLAIN = "tests.plainkeyring.PlaintextKeyring"
FAIL = "keyring.backends.fail.Keyring"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path)


def cli_environment(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment in a test: its own profiles file and plaintext keyring file."""
    e = dict(os.environ)
    e.pop("SILENTAUTH_PROFILE", None)
    e["SILENTAUTH_CONFIG"] = str(tmp_path / "profiles.toml")
    e["PYTHON_KEYRING_BACKEND"] = PLAIN
    e["PLAINKEYRING_FILE"] = str(tmp_path / "keyring.json")
    e["PYTHONPATH"] = str(ROOT)
    e["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # the keyring store's lock files
    e["NO_PROXY"] = "*"
    return e


def cli(
    argv: list[str], env: dict[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "requests_silentauth", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def on_terminal(
    argv: list[str],
    env: dict[str, str],
    answers: list[bytes],
    timeout: float = 30,
    *,
    python_argv: list[str] | None = None,
) -> tuple[int, str, int]:
    """Run the CLI (or ``python *python_argv``) on a pseudo-terminal; type ``answers[i]`` at
    the i-th password prompt. Returns the exit code, everything the terminal showed, and how
    many prompts it saw."""
    code, out = on_pty(argv, env, passwords(*answers), timeout=timeout, python_argv=python_argv)
    return code, out, out.count("Password for")


def login_args(srv: TokenServer, *extra: str) -> list[str]:
    return ["login", "--profile", "work", "--url", srv.token_url, "--username", USER, *extra]


# -- version, help ------------------------------------------------------------------------------


def test_version_and_help_per_subcommand(env: dict[str, str]) -> None:
    version = cli(["--version"], env)
    assert version.returncode == 0 and version.stdout.startswith(f"silentauth {__version__}")
    top = cli(["--help"], env).stdout
    for word in ("profiles", "SILENTAUTH_PROFILE", "SILENTAUTH_CONFIG", "PYTHON_KEYRING_BACKEND"):
        assert word in top
    own = {
        "login": ["--origin", "--placement", "--password-stdin", "--client-secret-stdin", "--body"],
        "status": ["--json"],
        "token": [],
        "logout": ["--keep-password"],
        "profiles": ["--json"],
        "demo": [],
    }
    login_only = ["--origin", "--placement", "--password-stdin", "--body", "--token-field"]
    for command, options in own.items():
        text = cli([command, "--help"], env).stdout
        assert "examples:" in text and f"silentauth {command}" in text, command
        for option in options:
            assert option in text, (command, option)
        if command != "login":
            assert not any(o in text for o in login_only), command
    assert "--forget-password" not in cli(["logout", "--help"], env).stdout
    for command in ("status", "logout"):  # no token request: nothing to allow over http
        assert "--allow-insecure-http" not in cli([command, "--help"], env).stdout


# -- a desktop-like keyring: the whole cycle, logout forgets the password ------------------------


def test_login_status_json_token_logout_and_profiles(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    result = cli([*login_args(srv), "--password-stdin"], env, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert f"stored in keyring ({PLAIN})" in result.stdout
    # keyring chose a backend that keeps secrets unencrypted: say which and where.
    assert f"keyring chose {PLAIN}" in result.stderr and env["PLAINKEYRING_FILE"] in result.stderr

    status = cli(["status", "--json"], {**env, "SILENTAUTH_PROFILE": "work"})
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["profile"] == "work" and report["account"] == USER
    assert report["endpoint"] == srv.token_url and report["password_stored"] is True
    assert report["token"]["state"] == "valid" and report["token"]["has_refresh_token"] is True
    assert 0 < report["token"]["expires_in"] <= 3600
    assert report["token"]["expires_at"].endswith("Z") and report["error"] is None

    token = cli(["token"], {**env, "SILENTAUTH_PROFILE": "work"})
    assert token.returncode == 0, token.stderr
    access = token.stdout.strip()
    assert access not in status.stdout and PASSWORD not in status.stdout

    listed = cli(["profiles"], {**env, "SILENTAUTH_PROFILE": "work"})
    assert listed.stdout.startswith(f"work\t{USER}\t{srv.token_url}")
    assert "default" in listed.stdout
    as_json = json.loads(cli(["profiles", "--json"], env).stdout)
    assert as_json["profiles"] == [{"name": "work", "url": srv.token_url, "username": USER}]
    assert as_json["config"] == env["SILENTAUTH_CONFIG"]

    kept = cli(["logout", "--profile", "work", "--keep-password"], env)
    assert kept.returncode == 0 and kept.stdout.strip() == "tokens forgotten"
    assert cli(["token", "--profile", "work"], env).returncode == 0  # silent login again
    assert srv.counts["token:password"] == 2

    out = cli(["logout", "--profile", "work"], env)
    assert out.stdout.strip() == "tokens forgotten and password deleted"
    after = cli(["token", "--profile", "work"], env)  # nothing logs back in silently
    assert after.returncode == 3
    assert "store one with: silentauth login --profile work" in after.stderr
    assert srv.counts["token:password"] == 2
    gone = json.loads(cli(["status", "--json", "--profile", "work"], env).stdout)
    assert gone["password_stored"] is False and gone["token"]["state"] == "none"
    for text in (status.stdout, listed.stdout, out.stdout, after.stderr):
        assert PASSWORD not in text and access not in text


# -- a machine without a keyring ----------------------------------------------------------------


def test_without_a_keyring_one_clear_message_before_any_login(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    headless = {**env, "PYTHON_KEYRING_BACKEND": FAIL}
    result = cli([*login_args(srv), "--password-stdin"], headless, stdin=PASSWORD + "\n")
    assert result.returncode == 4
    assert srv.counts["token"] == 0  # nothing was sent
    err = result.stderr
    assert err.count("choose where the password and tokens go") == 1
    assert "--store file:/" in err and "mode 0600" in err and "keyrings.alt" in err
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in err
    assert "FileStore(" not in err and "store=" not in err  # CLI advice, not Python
    assert PASSWORD not in err + result.stdout

    # status still shows the account and says what is wrong; token and logout say it once
    status = cli(["status", "--url", srv.token_url, "--username", USER], headless)
    assert status.returncode == 4
    assert f"account:   {USER}" in status.stdout and "token:     unknown" in status.stdout
    assert status.stderr.count("choose where") == 1
    report = json.loads(
        cli(["status", "--json", "--url", srv.token_url, "--username", USER], headless).stdout
    )
    assert report["token"]["state"] == "unknown" and "no usable keyring" in report["error"]
    for command in ("token", "logout"):
        r = cli([command, "--url", srv.token_url, "--username", USER], headless)
        assert r.returncode == 4 and r.stderr.count("choose where") == 1, command

    # The file store offered works, and a relative path is saved absolute.
    work = Path(env["SILENTAUTH_CONFIG"]).parent / "w"
    work.mkdir()
    filed = cli(
        [*login_args(srv), "--store", "file:creds.json", "--password-stdin"],
        headless,
        stdin=PASSWORD + "\n",
        cwd=work,
    )
    assert filed.returncode == 0, filed.stderr
    assert (work / "creds.json").stat().st_mode & 0o777 == 0o600
    assert f'store = "file:{work / "creds.json"}"' in Path(env["SILENTAUTH_CONFIG"]).read_text()
    assert cli(["token", "--profile", "work"], headless).stdout.startswith("at-")  # from "/"


def test_memory_store_is_refused_and_plain_http_gets_cli_advice(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    memory = cli([*login_args(srv), "--store", "memory", "--password-stdin"], env, "x\n")
    assert memory.returncode == 2 and "--store memory keeps nothing" in memory.stderr
    insecure = cli(
        ["login", "--url", "http://api.example.test/t", "--username", USER, "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert insecure.returncode == 1
    assert (
        "--allow-insecure-http" in insecure.stderr and "allow_insecure_http" not in insecure.stderr
    )


def test_an_unwritable_profiles_file_is_a_message_not_a_traceback(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    # Its folder cannot be made, even by root (read: not there; written: refused).
    config = Path("/proc/silentauth-test/profiles.toml")
    srv = server_factory(clients={})
    r = cli(
        [*login_args(srv), "--password-stdin"],
        {**env, "SILENTAUTH_CONFIG": str(config)},
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("silentauth: cannot write profiles in /proc/silentauth-test")
    assert PASSWORD not in r.stderr and srv.counts["token"] == 0  # said before any login


def test_a_wrong_token_url_says_the_status_and_the_path(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    for path, expected in (
        ("/oauth/tokn", "answered 404 for POST /oauth/tokn"),
        ("/api/data", "this looks like an API"),
    ):
        r = cli(
            ["login", "--url", srv.url + path, "--username", USER, "--password-stdin"],
            env,
            stdin=PASSWORD + "\n",
        )
        assert r.returncode == 5, r.stderr
        assert expected in r.stderr and "check the token URL" in r.stderr
        assert PASSWORD not in r.stderr


# -- profiles: JSON logins, confidential clients ------------------------------------------------


def test_a_json_login_profile_with_its_body_and_field_mapping(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    args = [
        "login", "--profile", "j", "--grant", "json", "--url", srv.url + "/json/login",
        "--username", USER, "--body", '{"account": "{username}", "secret": "{password}"}',
        "--token-field", "data.token", "--refresh-field", "data.refresh",
        "--refresh-url", srv.url + "/json/refresh",
        "--refresh-body", '{"refresh": "{refresh_token}"}',
        "--password-stdin",
    ]  # fmt: skip
    r = cli(args, env, stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert srv.counts["json:login"] == 1
    assert cli(["token", "--profile", "j"], env).returncode == 0
    assert PASSWORD not in Path(env["SILENTAUTH_CONFIG"]).read_text()
    bad = cli([*args[:-1], "--body", "{nope", "--password-stdin"], env, stdin="x\n")
    assert bad.returncode == 2 and "--body is not JSON" in bad.stderr
    assert cli(["login", "--url", srv.token_url, "--token-field", "t"], env).returncode == 2
    # A body without the placeholder would save a literal password in the profile.
    literal = [
        *args[:-1],
        "--body",
        '{"account": "alice", "secret": "hunter2-x"}',
        "--password-stdin",
    ]
    refused = cli(literal, env, stdin="x\n")
    assert refused.returncode == 2 and '"{password}"' in refused.stderr
    assert "hunter2-x" not in Path(env["SILENTAUTH_CONFIG"]).read_text() + refused.stderr


def test_client_secret_stdin_for_a_confidential_client(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory()  # client CLIENT_ID needs CLIENT_SECRET
    args = [*login_args(srv), "--client-id", CLIENT_ID, "--client-secret-stdin", "--password-stdin"]
    wrong = cli(args, env, stdin=f"not-the-secret\n{PASSWORD}\n")
    assert wrong.returncode == 3 and "not-the-secret" not in wrong.stderr
    ok = cli(args, env, stdin=f"{CLIENT_SECRET}\n{PASSWORD}\n")
    assert ok.returncode == 0, ok.stderr
    toml = Path(env["SILENTAUTH_CONFIG"]).read_text()
    assert 'client_secret = "stored"' in toml and CLIENT_SECRET not in toml
    token = cli(["token", "--profile", "work"], env)
    assert token.returncode == 0 and token.stdout.startswith("at-"), token.stderr
    status = cli(["status", "--json", "--profile", "work"], env)
    assert CLIENT_SECRET not in status.stdout + status.stderr
    # Without a profile, the same command line without the flag finds the stored secret.
    bare = ["--url", srv.token_url, "--username", USER, "--client-id", CLIENT_ID]
    assert cli(["token", *bare], env).stdout.startswith("at-")
    cc = cli(
        ["login", "--profile", "svc", "--grant", "client_credentials", "--url", srv.token_url,
         "--client-id", CLIENT_ID, "--client-secret-stdin"],
        env,
        stdin=CLIENT_SECRET + "\n",
    )  # fmt: skip
    assert cc.returncode == 0, cc.stderr
    assert cli(["token", "--profile", "svc"], env).stdout.startswith("at-")


# -- the prompt on a terminal -------------------------------------------------------------------


def test_ctrl_c_and_ctrl_d_at_the_prompt_exit_cleanly(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    code, out, _ = on_terminal(login_args(srv), env, [b"\x03"])
    assert code == 130, out
    assert "Traceback" not in out and out.endswith("\n")
    code, out, _ = on_terminal(login_args(srv), env, [b"\x04"])
    assert code == 1 and "cancelled" in out and "Traceback" not in out, out
    assert srv.counts["token"] == 0


FIRST_USE = """
import sys, requests
from requests_silentauth import FileStore, PasswordGrant, SilentAuth
auth = SilentAuth(PasswordGrant(sys.argv[1]), username="alice", store=FileStore(sys.argv[2]))
with requests.Session() as s:
    s.trust_env = False
    print("status", s.get(sys.argv[3], auth=auth).status_code)
"""


def test_ctrl_d_at_a_scripts_first_use_prompt_is_credentials_not_found(
    server_factory: Callable[..., TokenServer], env: dict[str, str], tmp_path: Path
) -> None:
    srv = server_factory(clients={})
    argv = ["-c", FIRST_USE, srv.token_url, str(tmp_path / "s.json"), srv.resource_url]
    code, out, prompts = on_terminal([], env, [b"\x04"], python_argv=argv)
    assert code == 1 and prompts == 1, out
    assert "CredentialsNotFound" in out and "EOFError" not in out
    assert "silentauth login --url" in out  # the hint, with the file store
    assert srv.counts["token"] == 0


def test_a_wrong_password_on_a_terminal_is_asked_again_up_to_three_times(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    code, out, prompts = on_terminal(login_args(srv), env, [b"typo-1\n", PASSWORD.encode() + b"\n"])
    assert code == 0 and prompts == 2, out
    assert "try again (2 left)" in out and "logged in as alice" in out
    assert PASSWORD not in out and "typo-1" not in out
    code, out, prompts = on_terminal(
        [*login_args(srv)[:-2], "--username", "bob"], env, [b"a-1\n", b"b-2\n", b"c-3\n"]
    )
    assert code == 3 and prompts == 3, out
    assert "Traceback" not in out


# -- python -m requests_silentauth.testing ------------------------------------------------------


def test_the_test_server_runs_in_the_foreground_for_the_cli(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "requests_silentauth.testing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        out = b""
        deadline = time.monotonic() + 20
        # Into a pipe, the banner arrives whole at once (flushed), not at exit.
        while b"/api/data\n" not in out.split(b"try,")[-1] and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                out += os.read(proc.stdout.fileno(), 4096)
        banner = out.decode()
        assert "demo account:           user alice, password demo-password" in banner, banner
        token_url = banner.split("OAuth2 token endpoint:")[1].split()[0]
        login = cli(
            ["login", "--profile", "try", "--url", token_url, "--username", "alice",
             "--password-stdin"],
            env,
            stdin="demo-password\n",
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        assert cli(["token", "--profile", "try"], env).stdout.startswith("at-")
    finally:
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert rest.decode().strip().endswith("stopped") and b"Traceback" not in err


def test_the_test_server_stops_cleanly_on_sigterm(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "requests_silentauth.testing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # flushed at once: this returns before any exit
    assert b"Ctrl-C stops it" in first
    proc.terminate()
    rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and rest.decode().strip().endswith("stopped")
    assert b"Traceback" not in err
