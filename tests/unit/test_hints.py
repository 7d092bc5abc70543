"""Messages that can be followed (issue 9): hints that work when copied, a wrong token URL
that says what happened, the token withheld from an origin said once. No sockets."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import pytest
import requests
from requests import Response
from requests.structures import CaseInsensitiveDict

from requests_silentauth import (
    Bearer,
    ClientCredentials,
    FileStore,
    JsonLogin,
    KeyringStore,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    TokenEndpointError,
)
from requests_silentauth._cli import parser
from requests_silentauth._endpoint import Answer
from requests_silentauth._flow import Policy, respond
from requests_silentauth._hints import login_command
from requests_silentauth._origins import OriginSet

URL = "https://id.example.com/oauth/token"


def test_the_hint_carries_client_id_scope_store_and_insecure_http(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "creds.json")
    grant = PasswordGrant(URL, client_id="my cli", scope="read write")
    command = login_command(grant, "alice", store, allow_insecure_http=True)
    assert command is not None
    argv = shlex.split(command)
    assert argv[:2] == ["silentauth", "login"]
    # What the CLI would parse from the copied command is the same account.
    args = parser().parse_args(argv[1:])
    assert (args.url, args.username, args.client_id, args.scope) == (
        URL,
        "alice",
        "my cli",
        "read write",
    )
    assert args.store == f"file:{tmp_path / 'creds.json'}" and args.allow_insecure_http


def test_the_hint_names_a_keyring_service_and_the_grant() -> None:
    cc = login_command(ClientCredentials(URL, client_id="svc"), None, KeyringStore("team"))
    assert cc == f"silentauth login --grant client_credentials --url {URL} --client-id svc " + (
        "--store keyring:team"
    )
    assert login_command(PasswordGrant(URL), "bob", KeyringStore()) == (
        f"silentauth login --url {URL} --username bob"
    )
    js = login_command(JsonLogin(URL), "bob", KeyringStore())
    assert js is not None and js.startswith("silentauth login --grant json")


def test_a_confidential_client_hint_asks_for_the_client_secret_on_stdin() -> None:
    grant = PasswordGrant(URL, client_id="cli", client_secret="cs-secret-1")
    command = login_command(grant, "alice", KeyringStore())
    assert command is not None and command.endswith("--client-id cli --client-secret-stdin")
    assert "cs-secret-1" not in command


def test_no_hint_where_no_command_could_store_the_secret() -> None:
    assert login_command(PasswordGrant(URL), "bob", MemoryStore()) is None
    custom = JsonLogin(URL, body={"user": "{username}", "pw": "{password}"})
    assert login_command(custom, "bob", KeyringStore()) is None


def test_an_auth_from_a_profile_names_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from requests_silentauth import _profiles

    monkeypatch.setenv("SILENTAUTH_CONFIG", str(tmp_path / "p.toml"))
    _profiles.save("my work", {"url": URL, "username": "alice"})
    auth = SilentAuth.from_profile("my work", prompt=False, store=MemoryStore())
    assert auth._manager.vault.login_command == "silentauth login --profile 'my work'"


# -- a wrong token URL --------------------------------------------------------------------------


class OneAnswer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def post(self, url: str, **kwargs: object) -> Answer:
        return self.answer


def login_error(status: int, payload: object, url: str = URL) -> TokenEndpointError:
    from requests_silentauth._grants import Credentials

    client = OneAnswer(Answer(status, payload, 0.0, url))
    with pytest.raises(TokenEndpointError) as info:
        PasswordGrant(url).login(client, Credentials("alice", lambda: "pw"), 1.0)  # type: ignore[arg-type]
    return info.value


def test_a_404_says_the_status_and_the_path() -> None:
    exc = login_error(404, {"error": "not_found"}, "https://id.example.com/oauth/tokn?x=1")
    text = str(exc)
    assert "answered 404 for POST /oauth/tokn" in text and "x=1" not in text
    assert "check the token URL" in text and "refused" not in text
    assert exc.status_code == 404 and not exc.retryable


def test_a_url_that_points_at_an_api_says_so() -> None:
    exc = login_error(401, {"error": "invalid_token"}, "https://id.example.com/api/data")
    assert "looks like an API" in str(exc) and "/api/data" in str(exc)
    ok_but_no_token = login_error(200, {"ok": True, "items": []}, "https://id.example.com/api/x")
    assert "/api/x looks like an API, not a token endpoint" in str(ok_but_no_token)


def test_a_json_login_at_a_wrong_path_says_so_too() -> None:
    from requests_silentauth._grants import Credentials

    client = OneAnswer(Answer(405, None, 0.0, URL))
    with pytest.raises(TokenEndpointError, match="answered 405 for POST /oauth/token"):
        JsonLogin(URL).login(client, Credentials("alice", lambda: "pw"), 1.0)  # type: ignore[arg-type]


# -- the token withheld from an origin that is not allowed --------------------------------------


def rejected(url: str, status: int = 401) -> Response:
    r = Response()
    r.status_code = status
    r.headers = CaseInsensitiveDict()
    r.request = requests.Request("GET", url).prepare()
    r.url = url
    r._content = b""
    return r


def run(policy: Policy, response: Response) -> None:
    flow = respond(policy, response, None)
    with pytest.raises(StopIteration):
        next(flow)


def test_a_rejection_from_an_origin_without_our_token_is_said_once_per_origin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = Policy(
        origins=OriginSet.parse(["https://api.example.com"]),
        placement=Bearer(),
        reauth_on=frozenset({401}),
        is_rejected=None,
        allow_insecure_http=False,
    )
    caplog.set_level(logging.WARNING, logger="requests_silentauth")
    run(policy, rejected("https://other.example.com/data"))
    run(policy, rejected("https://other.example.com/more"))
    run(policy, rejected("https://other.example.com/ok", 200))
    run(policy, rejected("https://third.example.com/x"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "https://other.example.com answered 401" in warnings[0]
    assert "https://api.example.com" in warnings[0] and "origins=" in warnings[0]
    assert "https://third.example.com" in warnings[1]


def test_only_a_rejection_from_an_origin_our_token_may_not_go_to_is_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = Policy(
        origins=OriginSet.parse(["https://api.example.com", "https://b.example.com"]),
        placement=Bearer(),
        reauth_on=frozenset({401}),
        is_rejected=None,
        allow_insecure_http=False,
    )
    caplog.set_level(logging.WARNING, logger="requests_silentauth")
    run(policy, rejected("https://other.example.com/ok", 200))  # not a rejection
    run(policy, rejected("https://other.example.com/gone", 404))  # not one in reauth_on
    run(policy, rejected("https://api.example.com/data"))  # an allowed origin (sent bare)
    assert [r.getMessage() for r in caplog.records] == []
    run(policy, rejected("https://other.example.com/data"))
    assert [r.getMessage() for r in caplog.records] == [
        "https://other.example.com answered 401 to a request sent without a token: its origin "
        "is not one the token may go to (https://api.example.com, https://b.example.com); add "
        "it to origins= (silentauth: --origin) if it should get one"
    ]


def test_the_cli_knows_the_grants_the_profiles_know() -> None:
    from requests_silentauth import _cli, _profiles

    assert _cli.GRANTS == _profiles.GRANTS  # duplicated so that --help imports nothing else


def test_library_advice_becomes_cli_advice() -> None:
    from requests_silentauth._cli import _cli_text
    from requests_silentauth._store import _NO_BACKEND_HELP

    text = _cli_text(f"no usable keyring backend was found: {_NO_BACKEND_HELP}")
    assert "store=" not in text and "--store file:" in text and "keyrings.alt" in text
    insecure = _cli_text("... use https, or pass allow_insecure_http=True if this network ...")
    assert "--allow-insecure-http" in insecure and "allow_insecure_http" not in insecure


def test_building_the_cli_parser_loads_no_login_machinery() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from requests_silentauth import _cli; _cli.parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('requests_silentauth')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['requests_silentauth', 'requests_silentauth._cli']"
