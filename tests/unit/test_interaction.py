"""Issue 8's pure pieces: PKCE, the state check, the loopback callback's judgement, the device
poll schedule (fake clock), discovery documents, and when a person may be asked. No sockets,
no sleeps."""

from __future__ import annotations

import logging
import string
from typing import Any

import pytest

from requests_silentauth import (
    AuthorizationCode,
    AuthorizationDenied,
    CredentialsNotFound,
    DeviceCode,
    InsecureTransportError,
    InteractionRequired,
    LoginExpired,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    Token,
    TokenEndpointError,
)
from requests_silentauth._discovery import check_issuer, validate, well_known_urls
from requests_silentauth._endpoint import Timeout, TokenClient
from requests_silentauth._grants import Credentials
from requests_silentauth._interaction import (
    SLOW_DOWN,
    DeviceAuthorization,
    InteractionNeeded,
    interaction_required,
    judge_callback,
    next_interval,
    pkce_challenge,
    pkce_verifier,
    same_state,
)

from .test_grants import FakeClient, answer
from .test_ladder import FakeGrant, FakeVault
from .test_manager import Rig

ISSUER = "https://id.example.com/realms/main"
STATE = "st-" + "x" * 40

# -- PKCE (RFC 7636) ------------------------------------------------------------------------------


def test_pkce_s256_matches_the_rfc_example() -> None:
    # RFC 7636 Appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_verifier_is_43_to_128_unreserved_characters_and_fresh_each_time() -> None:
    allowed = set(string.ascii_letters + string.digits + "-._~")
    seen = {pkce_verifier() for _ in range(20)}
    assert len(seen) == 20
    for verifier in seen:
        assert 43 <= len(verifier) <= 128 and set(verifier) <= allowed


def test_a_short_verifier_is_refused() -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        pkce_verifier(lambda n: "short")


def test_the_state_must_be_exactly_ours() -> None:
    assert same_state(STATE, STATE)
    assert not same_state(STATE + "x", STATE)
    assert not same_state("", STATE)
    assert not same_state(None, STATE)


# -- the loopback callback ------------------------------------------------------------------------


def judge(target: str, *, method: str = "GET", host: str | None = "127.0.0.1:5000") -> Any:
    return judge_callback(
        method=method,
        target=target,
        host=host,
        expected_host="127.0.0.1:5000",
        expected_path="/",
        state=STATE,
    )


def test_a_valid_callback_carries_the_code() -> None:
    verdict = judge(f"/?code=abc&state={STATE}")
    assert (verdict.status, verdict.code, verdict.error) == (200, "abc", None)
    assert "abc" not in verdict.page and STATE not in verdict.page


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/?code=abc&state=forged", 400),  # someone else's redirect (code injection)
        ("/?code=abc", 400),  # no state at all
        (f"/?code=abc&code=def&state={STATE}", 400),  # repeated parameters
        (f"/?state={STATE}", 400),  # no code
        (f"/other?code=abc&state={STATE}", 404),  # not the redirect path
        ("/favicon.ico", 404),
    ],
)
def test_anything_else_is_answered_and_ignored(target: str, status: int) -> None:
    verdict = judge(target)
    assert verdict.status == status
    assert verdict.code is None and verdict.error is None  # the login goes on


def test_a_callback_addressed_to_another_host_is_refused() -> None:
    # DNS rebinding: a page at evil.example resolves to 127.0.0.1 and calls the listener.
    for host in ("evil.example:5000", "127.0.0.1:5001", None, "localhost:5000"):
        verdict = judge(f"/?code=abc&state={STATE}", host=host)
        assert verdict.status == 400 and verdict.code is None


def test_only_a_get_counts() -> None:
    verdict = judge(f"/?code=abc&state={STATE}", method="POST")
    assert verdict.status == 405 and verdict.code is None


def test_a_refusal_with_our_state_ends_the_login_one_without_it_does_not() -> None:
    refused = judge(f"/?error=access_denied&error_description=no&state={STATE}")
    assert (refused.error, refused.description, refused.code) == ("access_denied", "no", None)
    # Nothing from the request is reflected into the page (no markup injection).
    shown = judge(f"/?error=%3Cscript%3E&error_description=%3Cb%3E&state={STATE}")
    assert "<" not in shown.page and "script" not in shown.page
    forged = judge("/?error=access_denied&state=forged")
    assert forged.error is None and forged.status == 400


# -- the device poll schedule (RFC 8628 §3.5) -----------------------------------------------------


def poll(
    error: str | None, interval: float = 5.0, now: float = 0.0, deadline: float = 600.0
) -> float:
    return next_interval(
        error, None, interval=interval, now=now, deadline=deadline, where="https://id.example.com"
    )


def test_pending_keeps_the_interval_and_slow_down_adds_five_seconds_for_good() -> None:
    assert poll("authorization_pending", 5.0) == 5.0
    assert poll("slow_down", 5.0) == 5.0 + SLOW_DOWN == 10.0
    assert poll("authorization_pending", 10.0) == 10.0  # it stays slower


def test_a_whole_schedule_on_a_fake_clock_stops_at_expires_in() -> None:
    answers = iter(["authorization_pending", "slow_down", "authorization_pending", "slow_down"])
    now, interval, deadline, polls = 0.0, 5.0, 60.0, []

    def schedule() -> None:
        nonlocal now, interval
        for error in answers:
            now += interval  # the caller sleeps the interval, then polls
            polls.append(now)
            interval = poll(error, interval, now, deadline)
        now += interval
        polls.append(now)
        poll("authorization_pending", interval, now, deadline)

    with pytest.raises(LoginExpired, match="expired before the login was approved"):
        schedule()
    assert polls == [5.0, 10.0, 20.0, 30.0, 45.0]  # 5, 5, +5 -> 10, 10, +5 -> 15: next at 60
    assert all(p < deadline for p in polls)


def test_denied_and_expired_are_typed_errors_with_clear_messages() -> None:
    with pytest.raises(AuthorizationDenied, match="denied") as denied:
        poll("access_denied")
    assert denied.value.error == "access_denied"
    with pytest.raises(LoginExpired, match="expired"):
        poll("expired_token")
    assert issubclass(LoginExpired, CredentialsNotFound)
    with pytest.raises(TokenEndpointError, match="invalid_client"):
        poll("invalid_client")


def test_the_device_answer_is_read_strictly() -> None:
    where = "https://id.example.com"
    good = {
        "device_code": "dc-secret",
        "user_code": "WDJB-MJHT",
        "verification_url": "https://id.example.com/device",  # the older name, still seen
        "expires_in": 600,
    }
    info = DeviceAuthorization.from_payload(good, where)
    assert info.interval == 5.0 and info.verification_uri_complete is None
    hostile = DeviceAuthorization.from_payload(
        {**good, "expires_in": 10**9, "interval": 86400}, where
    )
    assert (hostile.expires_in, hostile.interval) == (3600.0, 60.0)  # no polling for days
    assert "dc-secret" not in repr(info)
    for broken in (
        {**good, "user_code": None},
        {**good, "expires_in": "soon"},
        {**good, "expires_in": 0},
        {**good, "verification_url": "javascript:alert(1)"},
        {k: v for k, v in good.items() if k != "device_code"},
    ):
        with pytest.raises(TokenEndpointError):
            DeviceAuthorization.from_payload(broken, where)


# -- discovery documents --------------------------------------------------------------------------


def doc(**fields: Any) -> dict[str, Any]:
    base = {
        "issuer": ISSUER,
        "token_endpoint": "https://id.example.com/realms/main/token",
        "authorization_endpoint": "https://id.example.com/realms/main/auth",
        "device_authorization_endpoint": "https://id.example.com/realms/main/device",
        "revocation_endpoint": "https://id.example.com/realms/main/revoke",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def test_the_well_known_urls_for_an_issuer_with_a_path() -> None:
    assert well_known_urls(ISSUER) == (
        "https://id.example.com/realms/main/.well-known/openid-configuration",
        "https://id.example.com/.well-known/oauth-authorization-server/realms/main",
        "https://id.example.com/realms/main/.well-known/oauth-authorization-server",
    )
    assert len(well_known_urls("https://id.example.com")) == 2
    assert well_known_urls("https://id.example.com/")[1] == (
        "https://id.example.com/.well-known/oauth-authorization-server"
    )


def test_a_valid_document() -> None:
    meta = validate(doc(), ISSUER, where="x")
    assert meta.token_endpoint == "https://id.example.com/realms/main/token"
    assert meta.introspection_endpoint is None
    # Another host over https is allowed (Google's token endpoint is not on its issuer's host).
    other = validate(doc(token_endpoint="https://oauth2.example.net/token"), ISSUER, where="x")
    assert other.token_endpoint == "https://oauth2.example.net/token"


def test_a_document_for_another_issuer_is_never_used() -> None:
    for issuer in ("https://evil.example.com/realms/main", None, 7, ISSUER + "x"):
        with pytest.raises(TokenEndpointError, match="names issuer"):
            validate(
                doc(issuer=issuer) if issuer else {"token_endpoint": "https://a/t"},
                ISSUER,
                where="x",
            )
    validate(doc(issuer=ISSUER + "/"), ISSUER, where="x")  # a trailing slash is the same


def test_a_hostile_document_pointing_at_plain_http_is_refused() -> None:
    for name in ("token_endpoint", "device_authorization_endpoint", "revocation_endpoint"):
        with pytest.raises(InsecureTransportError, match=name):
            validate(doc(**{name: "http://evil.example.com/steal"}), ISSUER, where="x")
    with pytest.raises(TokenEndpointError, match="credentials"):
        validate(doc(token_endpoint="https://user:pw@id.example.com/t"), ISSUER, where="x")
    with pytest.raises(TokenEndpointError, match="unusable"):
        validate(doc(token_endpoint=["https://a/"]), ISSUER, where="x")
    with pytest.raises(TokenEndpointError, match="not a JSON object"):
        validate(["nope"], ISSUER, where="x")


def test_loopback_http_is_fine_for_tests_and_opt_in_http_for_the_rest() -> None:
    local = "http://127.0.0.1:8000"
    validate(doc(issuer=local, token_endpoint=local + "/t"), local, where="x")
    validate(
        doc(token_endpoint="http://id.internal/t"), ISSUER, where="x", allow_insecure_http=True
    )


def test_an_issuer_must_be_a_plain_https_url() -> None:
    check_issuer(ISSUER)
    check_issuer("http://127.0.0.1:9000/o")
    with pytest.raises(InsecureTransportError):
        check_issuer("http://id.example.com")
    for bad in (
        "https://id.example.com/?x=1",
        "https://id.example.com/#f",
        "https://u:p@id.example.com",
    ):
        with pytest.raises(ValueError, match="plain https URL"):
            check_issuer(bad)


# -- grants: construction, accounts, the login decision --------------------------------------------


def test_interactive_grants_need_no_username_and_own_their_account() -> None:
    auth = SilentAuth(DeviceCode("cli", issuer=ISSUER, scope="read"), store=MemoryStore())
    account = auth.account
    assert (account.endpoint, account.client_id, account.scope) == (ISSUER, "cli", "read")
    browser = AuthorizationCode("cli", authorization_url=ISSUER + "/auth", token_url=ISSUER + "/t")
    assert SilentAuth(browser, store=MemoryStore()).account.endpoint == ISSUER + "/t"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: DeviceCode("cli"), "token_url= or issuer="),
        (lambda: DeviceCode("cli", token_url=ISSUER + "/t"), "device_authorization_url"),
        (lambda: DeviceCode("", issuer=ISSUER), "client_id"),
        (lambda: AuthorizationCode("cli", token_url=ISSUER + "/t"), "authorization_url"),
        (
            lambda: AuthorizationCode("cli", issuer=ISSUER, redirect_uri="http://evil.example/"),
            "loopback",
        ),
        (lambda: AuthorizationCode("cli", issuer=ISSUER, login_timeout=0), "login_timeout"),
        (lambda: PasswordGrant(issuer="https://id.example.com/?q"), "plain https URL"),
        (lambda: PasswordGrant(), "token_url= or issuer="),
    ],
)
def test_bad_settings_are_refused_with_what_to_fix(build: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


def creds(*, may_interact: bool, obtained: Token | None = None) -> Credentials:
    def no_secret() -> str:
        raise AssertionError("an interactive grant never reads a password")

    return Credentials(None, no_secret, may_interact=may_interact, obtained=obtained)


def test_where_nobody_may_be_asked_the_login_says_which_command_fixes_it() -> None:
    shown: list[Any] = []
    grant = DeviceCode("cli", issuer=ISSUER, scope="read write", show=shown.append)
    client = FakeClient()
    with pytest.raises(InteractionRequired) as info:
        grant.login(client, creds(may_interact=False), 5.0)
    assert isinstance(info.value, CredentialsNotFound)
    assert (
        f"silentauth login --issuer {ISSUER} --client-id cli --device --scope 'read write'"
        in str(info.value)
    )
    assert client.posts == [] and shown == []  # nothing was asked, nothing shown
    browser = AuthorizationCode("cli", issuer=ISSUER, open_browser=shown.append)
    with pytest.raises(InteractionRequired, match="--browser"):
        browser.login(client, creds(may_interact=False), 5.0)
    assert shown == []


def test_the_login_under_the_lock_only_hands_the_interaction_out() -> None:
    grant = DeviceCode("cli", issuer=ISSUER)
    client = FakeClient()
    with pytest.raises(InteractionNeeded) as info:
        grant.login(client, creds(may_interact=True), 5.0)
    assert client.posts == [] and callable(info.value.run)
    token = Token("at-1", "rt-1")
    assert grant.login(client, creds(may_interact=False, obtained=token), 5.0) is token


def test_the_message_without_an_issuer_still_says_what_to_do() -> None:
    error = interaction_required("a browser", None)
    assert "prompt=True" in str(error) and "a browser" in str(error)


def test_the_authorization_request_keeps_the_providers_query_and_adds_pkce() -> None:
    grant = AuthorizationCode(
        "cli",
        authorization_url="https://id.example.com/a?tenant=t",
        token_url="https://id.example.com/t",
        scope="openid",
    )
    url = grant.authorization_request(
        "https://id.example.com/a?tenant=t", "http://127.0.0.1:5/", STATE, "chal"
    )
    assert url.startswith("https://id.example.com/a?tenant=t&response_type=code&client_id=cli")
    assert "code_challenge=chal&code_challenge_method=S256" in url and "scope=openid" in url


# -- the manager: interaction outside every lock, never with a live refresh token ------------------


class FakeDeviceGrant(FakeGrant):
    """A FakeGrant whose login needs a person: the interaction records whether a lock was
    held while it ran."""

    needs_username = False

    def __init__(self, clock: Any, vault: FakeVault) -> None:
        super().__init__(clock)
        self.vault = vault
        self.interactions: list[bool] = []  # the store lock held during each?

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        self._enter("login", timeout)
        if credentials.obtained is not None:
            return credentials.obtained
        if not credentials.may_interact:
            raise interaction_required("a device code", "silentauth login --device")

        def run(per_request: float) -> Token:
            self.interactions.append(self.vault.held)
            return self.new_token()

        raise InteractionNeeded(run)


class DeviceRig(Rig):
    grant: FakeDeviceGrant

    def __init__(self, prompt: bool | None) -> None:
        super().__init__(prompt=prompt, password=None)
        self.grant = FakeDeviceGrant(self.clock, self.vault)
        rungs = self.manager._rungs
        self.manager._rungs = type(rungs)(self.grant, rungs.client, self.vault, 30.0, self.clock)


def device_rig(prompt: bool | None) -> DeviceRig:
    return DeviceRig(prompt)


def test_prompt_false_raises_at_once_and_shows_nothing() -> None:
    rig = device_rig(prompt=False)
    with pytest.raises(InteractionRequired, match="silentauth login --device"):
        rig.manager.for_request(None)
    assert rig.grant.interactions == [] and rig.vault.get_token() is None


def test_prompt_none_without_a_terminal_does_not_interact(monkeypatch: pytest.MonkeyPatch) -> None:
    class NotATerminal:
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr("sys.stdin", NotATerminal())
    rig = device_rig(prompt=None)
    with pytest.raises(InteractionRequired):
        rig.manager.for_request(None)
    assert rig.grant.interactions == []


def test_the_interaction_runs_with_no_lock_held_then_refreshes_are_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="requests_silentauth")
    rig = device_rig(prompt=True)
    first = rig.manager.for_request(None)
    assert rig.grant.interactions == [False]  # once, and the store lock was free
    assert rig.vault.get_token() == first and rig.seen == [first]
    for _ in range(3):  # several expiries: the refresh token renews, nobody is asked
        rig.expire()
        rig.manager.for_request(None)
    assert rig.grant.interactions == [False] and len(rig.grant.refreshed) == 3
    # A dead refresh token is the one reason to ask again.
    rig.grant.dead_refresh_tokens.add(rig.manager.token.refresh_token or "")  # type: ignore[union-attr]
    rig.expire()
    rig.manager.for_request(None)
    assert rig.grant.interactions == [False, False]
    assert "at-" not in caplog.text.replace("at-1\n", "")  # only fingerprints in the log


def test_a_revocation_posts_the_refresh_token_first_and_names_no_secret() -> None:
    client = FakeClient(
        answer(200, {}),
        answer(400, {"error": "unsupported_token_type", "error_description": "rt-1 no"}),
    )
    grant = PasswordGrant(
        "https://id.example.com/t", revocation_url="https://id.example.com/r", client_id="cli"
    )
    with pytest.raises(TokenEndpointError) as info:
        grant.revoke(client, Token("at-1-secret", "rt-1-secret-xx"), 5.0)
    assert [p["data"]["token_type_hint"] for p in client.posts] == ["refresh_token", "access_token"]
    assert "rt-1-secret" not in str(info.value) and "at-1-secret" not in str(info.value)
    assert PasswordGrant("https://id.example.com/t").revoke(client, Token("a"), 5.0) is None


def test_no_secret_in_the_reprs_of_the_new_grants() -> None:
    for grant in (
        DeviceCode("cli", issuer=ISSUER, client_secret="cs-very-secret"),
        AuthorizationCode("cli", issuer=ISSUER, client_secret="cs-very-secret"),
        PasswordGrant(issuer=ISSUER, client_secret="cs-very-secret"),
    ):
        assert "cs-very-secret" not in repr(grant) and "cli" in repr(grant)


def test_a_console_browser_never_takes_over_the_terminal() -> None:
    from requests_silentauth._interactive import _graphical

    assert not _graphical({}, "linux")  # no display: print the URL only
    assert _graphical({"DISPLAY": ":0"}, "linux")
    assert _graphical({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert _graphical({"BROWSER": "/usr/local/bin/open-it"}, "linux")
    assert _graphical({}, "darwin") and _graphical({}, "win32")


def test_logout_with_nothing_to_revoke_sends_nothing() -> None:
    grant = DeviceCode("cli", issuer=ISSUER, revocation_url=ISSUER + "/revoke")
    auth = SilentAuth(grant, store=MemoryStore(), prompt=False)
    assert auth.logout(revoke=True) == "no_token"  # no socket: there was no token
    assert auth.logout() is None


def test_the_cli_refuses_an_interactive_login_without_what_it_needs(
    capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from requests_silentauth import _cli

    monkeypatch.setenv("SILENTAUTH_CONFIG", str(tmp_path / "profiles.toml"))
    store = f"file:{tmp_path / 'creds.json'}"
    assert _cli.main(["login", "--issuer", ISSUER, "--device", "--store", store]) == 2
    assert "--client-id" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # argparse: one of --device / --browser
        _cli.main(["login", "--issuer", ISSUER, "--client-id", "c", "--device", "--browser"])
    assert info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


# -- mutation testing (scripts/mutation.sh): what the tests above did not pin ----------------------


def test_a_verifier_carries_32_random_bytes() -> None:
    """RFC 7636 §7.1: 256 bits of entropy (43 characters once base64url-encoded)."""
    asked: list[int] = []

    def random(n: int) -> str:
        asked.append(n)
        return "v" * 43

    assert pkce_verifier(random) == "v" * 43 and asked == [32]


@pytest.mark.parametrize(("length", "ok"), [(42, False), (43, True), (128, True), (129, False)])
def test_the_verifier_length_bounds(length: int, ok: bool) -> None:
    if ok:
        assert len(pkce_verifier(lambda n: "v" * length)) == length
    else:
        with pytest.raises(ValueError) as info:
            pkce_verifier(lambda n: "v" * length)
        assert str(info.value) == "a PKCE code verifier must have 43 to 128 characters"


PAGES = {
    "method": (405, "Only the browser's redirect is expected here."),
    "host": (400, "This request was not addressed to the login listener."),
    "path": (404, "Not the login redirect."),
    "repeated": (400, "A parameter was repeated; the redirect is not valid."),
    "state": (400, "This redirect does not belong to the login in progress."),
    "no code": (400, "The redirect carries no authorization code."),
}


@pytest.mark.parametrize(
    ("why", "target", "method", "host"),
    [
        ("method", f"/?code=abc&state={STATE}", "POST", "127.0.0.1:5000"),
        ("host", f"/?code=abc&state={STATE}", "GET", "evil.example:5000"),
        ("host", f"/?code=abc&state={STATE}", "GET", None),
        ("path", f"/x?code=abc&state={STATE}", "GET", "127.0.0.1:5000"),
        ("repeated", f"/?code=abc&code=def&state={STATE}", "GET", "127.0.0.1:5000"),
        ("state", "/?code=abc&state=forged", "GET", "127.0.0.1:5000"),
        ("no code", f"/?state={STATE}", "GET", "127.0.0.1:5000"),
        ("no code", f"/?code=&state={STATE}", "GET", "127.0.0.1:5000"),
    ],
)
def test_each_refused_callback_gets_its_status_and_a_page_saying_why(
    why: str, target: str, method: str, host: str | None
) -> None:
    """The page is what the person sees in the browser tab; the login goes on."""
    verdict = judge(target, method=method, host=host)
    assert (verdict.status, verdict.page) == PAGES[why]
    assert verdict.code is None and verdict.error is None


def test_a_blank_repeat_does_not_hide_a_parameter() -> None:
    """``state=&state=<ours>`` or ``code=abc&code=``: a repeat, even blank, is no valid redirect."""
    for target in (f"/?code=abc&state=&state={STATE}", f"/?code=abc&code=&state={STATE}"):
        verdict = judge(target)
        assert (verdict.status, verdict.page) == PAGES["repeated"] and verdict.code is None


def test_the_listener_host_matches_without_regard_to_case() -> None:
    """A ``http://localhost:PORT/`` redirect URI: the browser may send Host in any case."""
    for host in ("localhost:8400", "LocalHost:8400"):
        verdict = judge_callback(
            method="GET",
            target=f"/cb?code=abc&state={STATE}",
            host=host,
            expected_host="localhost:8400",
            expected_path="/cb",
            state=STATE,
        )
        assert (verdict.status, verdict.code) == (200, "abc")


def test_a_refusal_is_answered_200_with_its_error_clipped() -> None:
    verdict = judge(f"/?error={'e' * 150}&error_description=why&state={STATE}")
    assert (verdict.status, verdict.page) == (
        200,
        "The login was refused. You can close this window.",
    )
    assert verdict.error == "e" * 100 and verdict.description == "why"
    done = judge(f"/?code=abc&state={STATE}")
    assert done.page == "Logged in. You can close this window and return to the application."


GOOD = {
    "device_code": "dc-secret",
    "user_code": "WDJB-MJHT",
    "verification_uri": "https://id.example.com/device",
    "verification_uri_complete": "https://id.example.com/device?user_code=WDJB-MJHT",
    "expires_in": 600,
    "interval": 7,
}


def test_every_field_of_the_standard_device_answer_is_read() -> None:
    info = DeviceAuthorization.from_payload(GOOD, "https://id.example.com")
    assert (
        info.device_code,
        info.user_code,
        info.verification_uri,
        info.verification_uri_complete,
        info.expires_in,
        info.interval,
    ) == (
        "dc-secret",
        "WDJB-MJHT",
        "https://id.example.com/device",
        "https://id.example.com/device?user_code=WDJB-MJHT",
        600.0,
        7.0,
    )


def test_plain_http_verification_uris_are_web_addresses_too() -> None:
    """The embedded TokenServer (and a provider on a LAN) serves its page over http."""
    local = {
        **GOOD,
        "verification_uri": "http://127.0.0.1:8000/device",
        "verification_uri_complete": "HTTP://127.0.0.1:8000/device?user_code=WDJB-MJHT",
    }
    info = DeviceAuthorization.from_payload(local, "x")
    assert info.verification_uri_complete == local["verification_uri_complete"]


@pytest.mark.parametrize(
    ("interval", "expires_in", "read"),
    [(0, 600, (0.0, 600.0)), (1, 1, (1.0, 1.0)), (0.5, 0.5, (0.5, 0.5))],
)
def test_any_positive_number_of_seconds_is_believed_and_an_interval_of_0(
    interval: float, expires_in: float, read: tuple[float, float]
) -> None:
    """An interval of 0 (the embedded TokenServer's, in tests) polls at once; slow_down adds."""
    info = DeviceAuthorization.from_payload(
        {**GOOD, "interval": interval, "expires_in": expires_in}, "x"
    )
    assert (info.interval, info.expires_in) == read


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"user_code": 12345678}, "answered without a usable 'user_code'"),
        ({"device_code": ["dc"]}, "answered without a usable 'device_code'"),
        ({"verification_uri": None}, "answered without a usable 'verification_url'"),
        ({"interval": -1}, "answered without a usable 'interval' (a positive number of seconds)"),
        (
            {"expires_in": 0},
            "answered without a usable 'expires_in' (a positive number of seconds)",
        ),
        (
            {"verification_uri_complete": "ftp://x/"},
            "sent a verification_uri_complete that is not a web address (http or https, without "
            "spaces or control characters)",
        ),
    ],
)
def test_an_unusable_device_answer_says_which_field_and_is_not_retried(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(TokenEndpointError) as info:
        DeviceAuthorization.from_payload({**GOOD, **change}, "https://id.example.com")
    assert (
        str(info.value) == f"the device authorization endpoint at https://id.example.com {message}"
    )
    assert info.value.retryable is False


def poll_error(error: str | None, description: str | None = None) -> Exception:
    with pytest.raises(Exception) as info:
        next_interval(
            error, description, interval=5.0, now=0.0, deadline=600.0, where="https://id.test"
        )
    return info.value


def test_the_poll_errors_say_what_to_do_and_carry_the_servers_words() -> None:
    denied = poll_error("access_denied", "the user said no")
    assert isinstance(denied, AuthorizationDenied)
    assert str(denied) == (
        "the device login at https://id.test was denied (access_denied); run the login again "
        "and approve it"
    )
    assert (denied.error, denied.error_description) == ("access_denied", "the user said no")
    expired = poll_error("expired_token")
    assert isinstance(expired, LoginExpired)
    assert str(expired) == (
        "the device code from https://id.test expired before the login was approved "
        "(expired_token); run the login again and approve it in time"
    )
    with pytest.raises(LoginExpired) as late:
        next_interval(
            "slow_down", None, interval=5.0, now=590.0, deadline=600.0, where="https://id.test"
        )
    assert str(late.value) == (
        "the device code from https://id.test expired before the login was approved; run the "
        "login again and approve it in time"
    )


@pytest.mark.parametrize(
    ("error", "description", "detail"),
    [
        ("invalid_client", "bad client secret", "invalid_client: bad client secret"),
        ("invalid_client", None, "invalid_client"),
        (None, "something odd", "no error"),
        (None, None, "no error"),
    ],
)
def test_any_other_poll_answer_ends_the_login_naming_it(
    error: str | None, description: str | None, detail: str
) -> None:
    refused = poll_error(error, description)
    assert isinstance(refused, TokenEndpointError) and not isinstance(refused, LoginExpired)
    assert str(refused) == (
        f"the token endpoint at https://id.test refused the device code poll ({detail})"
    )
    assert refused.retryable is False and refused.error == error


def test_the_fix_named_where_no_command_is_known() -> None:
    assert str(interaction_required("a browser", None)) == (
        "logging in needs a person (a browser) and none may be asked here (no terminal, or "
        "prompt=False); log in once where a person can answer (prompt=True, or at a terminal); "
        "later runs then refresh silently"
    )


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:5000/x",  # a path in Host: not an authority
        "evil@127.0.0.1:5000",  # userinfo
        "127.0.0.1:5000?",
        "127.0.0.1:5000#",
        "127.0.0.1:5000\\",
        " 127.0.0.1:5000",
        "",
    ],
)
def test_a_host_header_that_is_not_a_plain_authority_is_refused(host: str) -> None:
    verdict = judge(f"/?code=abc&state={STATE}", host=host)
    assert verdict.code is None and verdict.status != 200


def test_a_host_header_matches_in_any_case_and_with_the_default_port() -> None:
    assert judge(f"/?code=abc&state={STATE}", host="127.0.0.1:5000").code == "abc"
    local = judge_callback(
        method="GET",
        target=f"/?code=abc&state={STATE}",
        host="LocalHost:80",
        expected_host="localhost",
        expected_path="/",
        state=STATE,
    )
    assert local.code == "abc"
