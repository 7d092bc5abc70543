"""Attacks on the command line of issue 9 (review wt-attack9): a hostile profiles file or
server text cannot drive the terminal, no secret is printed from a hand-edited profile, a
symlinked profiles file stays a symlink, every hint works when copied, logout really forgets,
a client secret typed at a terminal is not echoed, and every error pickles across processes."""

from __future__ import annotations

import json
import os
import pickle
import select
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from requests_silentauth import TokenEndpointError
from requests_silentauth._profiles import _parse
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER
from .rawserver import RawServer
from .terminal import Typist, on_pty
from .test_cli_habits import cli, cli_environment


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path)


ESC = "\x1b"
HOSTILE = (
    '[profiles."evil\\u001b]0;pwned\\u0007"]\n'
    'url = "http://127.0.0.1:9/t\\u001b[2J"\n'
    'username = "al\\u001b[31mice"\n'
    'client_secret = "literal-secret-123"\n'
)


def test_a_hostile_profiles_file_cannot_drive_the_terminal_nor_leak_a_literal_secret(
    env: dict[str, str],
) -> None:
    Path(env["SILENTAUTH_CONFIG"]).write_text(HOSTILE)
    listed = cli(["profiles"], env)
    assert listed.returncode == 0, listed.stderr
    assert ESC not in listed.stdout and "\x07" not in listed.stdout, listed.stdout
    assert "\\x1b" in listed.stdout  # shown, escaped
    status = cli(["status", "--profile", "evil\x1b]0;pwned\x07"], env)
    assert ESC not in status.stdout + status.stderr, status.stdout
    missing = cli(["status", "--profile", "nope"], env)
    assert missing.returncode == 2 and ESC not in missing.stderr, missing.stderr
    # A hand-edited file holding a literal client secret: never printed (it is not used).
    as_json = cli(["profiles", "--json"], env)
    assert as_json.returncode == 0, as_json.stderr
    assert "literal-secret-123" not in as_json.stdout
    assert json.loads(as_json.stdout)["profiles"][0]["client_secret"] != "literal-secret-123"


def _escaping_server(conn: socket.socket, srv: RawServer) -> None:
    body = json.dumps(
        {"error": "invalid_grant", "error_description": "no \x1b]0;owned\x07 \x1b[2J way"}
    ).encode()
    conn.sendall(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def test_server_error_text_with_terminal_escapes_is_printed_escaped(
    env: dict[str, str],
) -> None:
    srv = RawServer(_escaping_server)
    try:
        result = cli(
            ["login", "--url", srv.url, "--username", USER, "--store",
             f"file:{Path(env['SILENTAUTH_CONFIG']).parent / 'c.json'}", "--password-stdin"],
            env,
            stdin=PASSWORD + "\n",
        )  # fmt: skip
    finally:
        srv.close()
    assert result.returncode == 3, result.stderr
    assert "way" in result.stderr and ESC not in result.stderr and "\x07" not in result.stderr


def test_a_symlinked_profiles_file_stays_a_symlink(
    server_factory: Callable[..., TokenServer], env: dict[str, str], tmp_path: Path
) -> None:
    # dotfiles managers (stow, chezmoi, home-manager) link the config file into a repository
    srv = server_factory(clients={})
    real = tmp_path / "dotfiles" / "profiles.toml"
    real.parent.mkdir()
    real.write_text("# my dotfiles\n")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    linked = {**env, "SILENTAUTH_CONFIG": str(link)}
    args = ["login", "--profile", "w", "--url", srv.token_url, "--username", USER]
    result = cli([*args, "--password-stdin"], linked, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert link.is_symlink(), "the link was replaced by a regular file"
    assert '[profiles."w"]' in real.read_text()


@pytest.mark.parametrize("name", ["-dash", "two words", 'x"]\n[profiles.evil]\nurl = "'])
def test_the_hint_for_an_odd_profile_name_works_when_copied(
    server_factory: Callable[..., TokenServer], env: dict[str, str], name: str
) -> None:
    srv = server_factory(clients={})
    args = ["login", f"--profile={name}", "--url", srv.token_url, "--username", USER]
    assert cli([*args, "--password-stdin"], env, stdin=PASSWORD + "\n").returncode == 0
    assert cli(["logout", f"--profile={name}"], env).returncode == 0
    written = _parse(Path(env["SILENTAUTH_CONFIG"]).read_text())
    assert list(written["profiles"]) == [name]  # no table injected by the name
    after = cli(["token", f"--profile={name}"], env)
    assert after.returncode == 3
    hint = after.stderr.split("store one with: ", 1)[1].strip()
    copied = subprocess.run(  # the hint as a shell runs it, password from stdin
        ["sh", "-c", hint.replace("silentauth ", f"{sys.executable} -m requests_silentauth ", 1)
         + " --password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert copied.returncode == 0, (hint, copied.stderr)
    # and the "no profile" message's own command
    missing = cli(["status", f"--profile={name}x"], env)
    command = missing.stderr.split("create it with `", 1)[1].split("`", 1)[0]
    shown = f"--profile={name}x" if name.startswith("-") else f"--profile '{name}x'"
    assert shown in command, command


def test_logout_without_a_profile_forgets_the_client_secret_too(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory()
    bare = ["--url", srv.token_url, "--username", USER, "--client-id", CLIENT_ID]
    ok = cli(["login", *bare, "--client-secret-stdin", "--password-stdin"], env,
             stdin=f"{CLIENT_SECRET}\n{PASSWORD}\n")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    out = cli(["logout", *bare], env)
    assert out.returncode == 0, out.stderr
    assert CLIENT_SECRET not in Path(env["PLAINKEYRING_FILE"]).read_text(), out.stdout
    after = cli(["token", *bare], env)
    assert after.returncode == 3 and srv.counts["token:password"] == 1


def test_a_client_secret_typed_at_a_terminal_is_not_echoed(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    # The hint for a confidential client ends in --client-secret-stdin; copied at a terminal,
    # the secret is typed there: it must not be shown.
    srv = server_factory()
    argv = ["login", "--profile", "c", "--url", srv.token_url, "--username", USER,
            "--client-id", CLIENT_ID, "--client-secret-stdin"]  # fmt: skip
    code, out = _typed(
        argv,
        env,
        [
            (b"Client secret", CLIENT_SECRET.encode() + b"\n"),
            (b"Password for", PASSWORD.encode() + b"\n"),
        ],
    )
    assert code == 0 and "logged in as alice" in out, out
    assert CLIENT_SECRET not in out and PASSWORD not in out, out
    for key, code_wanted, said in ((b"\x03", 130, ""), (b"\x04", 1, "cancelled")):
        argv[2] = "c2"  # another profile: nothing of it may be stored
        code, out = _typed(argv, env, [(b"Client secret", key)])
        assert code == code_wanted and said in out and "Traceback" not in out, out
    assert "c2" not in Path(env["SILENTAUTH_CONFIG"]).read_text()


def _typed(
    argv: list[str], env: dict[str, str], script: list[tuple[bytes, bytes]]
) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal; type each answer once its prompt has shown."""
    return on_pty(argv, env, Typist(script))


def test_every_error_pickles_across_processes() -> None:
    err = TokenEndpointError("the server failed", retryable=True, status_code=503, retry_after=2)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is TokenEndpointError and str(back) == "the server failed"
    assert (back.retryable, back.status_code, back.retry_after) == (True, 503, 2)


def test_the_test_servers_device_login_hint_works_as_printed(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Walk-through (review wt-attack9): the banner of `python -m requests_silentauth.testing`
    # offers a device login; copied, it works, and logout does not claim a password went.
    server = subprocess.Popen(
        [sys.executable, "-m", "requests_silentauth.testing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert server.stdout is not None
        raw, deadline = b"", time.monotonic() + 20
        while b"/device)" not in raw and time.monotonic() < deadline:
            if select.select([server.stdout], [], [], 0.2)[0]:
                raw += os.read(server.stdout.fileno(), 4096)
        banner = raw.decode()
        assert "/device)" in banner, banner
        command = next(x for x in banner.splitlines() if "--device" in x).strip()
        argv = shlex.split(command)[1:]
        assert argv[:3] == ["login", "--profile", "dev"], command
        login = subprocess.Popen(
            [sys.executable, "-m", "requests_silentauth", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
            text=True,
        )
        assert login.stderr is not None
        shown = ""
        while "user_code=" not in shown:
            line = login.stderr.readline()
            assert line, shown
            shown += line
        page = shown.split("(or open ", 1)[1].split(")", 1)[0]
        code = page.split("user_code=", 1)[1]
        with requests.Session() as s:
            s.trust_env = False
            answer = s.post(
                page.split("?")[0], data={"user_code": code, "action": "approve"}, timeout=10
            )
        assert "Approved" in answer.text
        _, err = login.communicate(timeout=60)
        assert login.returncode == 0, err
        status = cli(["status", "--profile", "dev"], env)
        assert status.returncode == 0 and "none needed" in status.stdout, status.stdout
        gone = cli(["logout", "--profile", "dev"], env)
        assert gone.stdout.splitlines()[0] == "tokens forgotten", gone.stdout
        assert cli(["token", "--profile", "dev"], env).returncode == 3
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=20)


def test_a_fifo_as_the_profiles_file_is_refused_not_waited_on(
    server_factory: Callable[..., TokenServer], env: dict[str, str], tmp_path: Path
) -> None:
    fifo = tmp_path / "profiles.fifo"
    os.mkfifo(fifo)
    odd = {**env, "SILENTAUTH_CONFIG": str(fifo)}
    listed = subprocess.run(
        [sys.executable, "-m", "requests_silentauth", "profiles"],
        capture_output=True, text=True, env=odd, timeout=20, check=False,
    )  # fmt: skip
    assert listed.returncode == 2 and "not a regular file" in listed.stderr, listed.stderr
    srv = server_factory(clients={})
    args = ["login", "--profile", "w", "--url", srv.token_url, "--username", USER]
    login = cli([*args, "--password-stdin"], odd, stdin=PASSWORD + "\n")
    assert login.returncode != 0 and "not a regular file" in login.stderr, login.stderr
    assert srv.counts["token"] == 0  # refused before the login
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    # /dev/null reads as no profiles
    empty = cli(["profiles"], {**env, "SILENTAUTH_CONFIG": os.devnull})
    assert empty.returncode == 0 and "no profiles yet" in empty.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_as_the_profiles_file_is_never_replaced_by_a_root_login(
    server_factory: Callable[..., TokenServer], env: dict[str, str], tmp_path: Path
) -> None:
    # What SILENTAUTH_CONFIG=/dev/null did to /dev/null when run as root (a container), tried
    # on a copy of the device node: os.replace swapped it for a regular file.
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    srv = server_factory(clients={})
    args = ["login", "--profile", "w", "--url", srv.token_url, "--username", USER]
    login = cli([*args, "--password-stdin"], {**env, "SILENTAUTH_CONFIG": str(null)},
                stdin=PASSWORD + "\n")  # fmt: skip
    assert stat.S_ISCHR(null.stat().st_mode), "the device was replaced by a regular file"
    assert login.returncode != 0 and "not a regular file" in login.stderr, login.stderr


def test_a_refresh_body_with_a_literal_token_is_never_saved(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    srv = server_factory(clients={})
    pasted = "rt-pasted-from-a-curl-example-123"
    result = cli(
        ["login", "--profile", "j", "--grant", "json", "--url", srv.login_url,
         "--username", USER, "--body", '{"account": "{username}", "secret": "{password}"}',
         "--token-field", "data.token", "--refresh-url", srv.token_url,
         "--refresh-body", json.dumps({"refresh": pasted}),
         "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 2 and '"{refresh_token}"' in result.stderr, result.stderr
    assert srv.counts["token"] == 0
    config = Path(env["SILENTAUTH_CONFIG"])
    assert not config.exists() or pasted not in config.read_text()
    assert pasted not in result.stderr


def test_a_bare_silentauth_lists_the_commands(env: dict[str, str]) -> None:
    bare = cli([], env)
    assert bare.returncode == 2 and bare.stdout == ""
    for command in ("login", "status", "token", "logout", "profiles", "demo"):
        assert command in bare.stderr, bare.stderr


def test_logout_keeps_a_client_secret_another_profile_still_uses(
    server_factory: Callable[..., TokenServer], env: dict[str, str]
) -> None:
    # Two people (or a person and a bot) on one confidential client: the client secret is
    # stored once per client, so alice's logout must not log bob out.
    srv = server_factory(users={USER: PASSWORD, "bob": "bob-pass-456"})
    for name, user, password in (("alice", USER, PASSWORD), ("bob", "bob", "bob-pass-456")):
        ok = cli(
            ["login", "--profile", name, "--url", srv.token_url, "--username", user,
             "--client-id", CLIENT_ID, "--client-secret-stdin", "--password-stdin"],
            env,
            stdin=f"{CLIENT_SECRET}\n{password}\n",
        )  # fmt: skip
        assert ok.returncode == 0, ok.stderr
    out = cli(["logout", "--profile", "alice"], env)
    assert out.returncode == 0 and "bob" in out.stdout, out.stdout
    assert cli(["logout", "--profile", "bob", "--keep-password"], env).returncode == 0
    again = cli(["token", "--profile", "bob"], env)  # a silent login needs the client secret
    assert again.returncode == 0, again.stderr
    # The last user of the client takes it with them.
    assert cli(["logout", "--profile", "bob"], env).returncode == 0
    assert CLIENT_SECRET not in Path(env["PLAINKEYRING_FILE"]).read_text()


def test_login_from_a_hostile_profile_prints_no_terminal_escape(
    server_factory: Callable[..., TokenServer], env: dict[str, str], tmp_path: Path
) -> None:
    user = "al\x1b]0;owned\x07ice"
    srv = server_factory(users={user: PASSWORD}, clients={})
    store = tmp_path / "c\x1b[2J.json"
    Path(env["SILENTAUTH_CONFIG"]).write_text(
        "[profiles.evil]\n"
        f'url = "{srv.token_url}"\n'
        'username = "al\\u001b]0;owned\\u0007ice"\n'
        f'store = "file:{tmp_path}/c\\u001b[2J.json"\n'
    )
    result = cli(["login", "--profile", "evil", "--password-stdin"], env, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert store.exists() and "logged in as" in result.stdout
    assert ESC not in result.stdout + result.stderr, result.stdout
