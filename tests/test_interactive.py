"""Issue 8 end to end against the embedded TokenServer on 127.0.0.1: device code, browser +
PKCE (the "browser" here is requests following the provider's redirect to our loopback
listener; the real headless browser is in tests/integration/test_dot_interactive.py),
discovery and revocation. Every attack named in the issue is a test here."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from requests_silentauth import (
    AuthorizationCode,
    AuthorizationDenied,
    DeviceAuthorization,
    DeviceCode,
    InsecureTransportError,
    InteractionRequired,
    InvalidCredentials,
    LoginExpired,
    MemoryStore,
    PasswordGrant,
    SilentAuth,
    TokenEndpointError,
)
from requests_silentauth._interaction import pkce_challenge, pkce_verifier
from requests_silentauth.testing import TokenServer

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, PUBLIC, USER


class Approver:
    """``show`` for DeviceCode: records what it was shown and lets the person decide."""

    def __init__(self, srv: TokenServer, decision: str = "approve") -> None:
        self.srv, self.decision, self.shown = srv, decision, []  # type: ignore[var-annotated]

    def __call__(self, info: DeviceAuthorization) -> None:
        self.shown.append(info)
        if self.decision == "approve":
            self.srv.approve_device(info.user_code)
        elif self.decision == "deny":
            self.srv.deny_device(info.user_code)


def device_auth(
    srv: TokenServer, show: Callable[[DeviceAuthorization], object], **kw: Any
) -> SilentAuth:
    kw.setdefault("prompt", True)
    kw.setdefault("store", MemoryStore())
    return SilentAuth(
        DeviceCode(PUBLIC, issuer=srv.issuer, show=show, scope=kw.pop("scope", None)), **kw
    )


def session_with(auth: SilentAuth) -> requests.Session:
    s = requests.Session()
    s.auth = auth
    return s


# -- device code ----------------------------------------------------------------------------------


def test_a_device_login_then_silent_refreshes_across_several_expiries(idp: TokenServer) -> None:
    show = Approver(idp)
    auth = device_auth(idp, show, scope="read")
    s = session_with(auth)
    assert s.get(idp.resource_url, timeout=5).json()["user"] == "alice"
    assert len(show.shown) == 1 and show.shown[0].verification_uri_complete
    for _ in range(3):
        idp.expire_access_tokens()
        assert s.get(idp.resource_url, timeout=5).status_code == 200
    assert len(show.shown) == 1  # never shown again
    counts = idp.counts
    assert counts["device_authorization"] == 1 and counts["token:refresh_token"] == 3
    # Another process (a new auth over the same store) is silent too.
    again = device_auth(idp, show, store=auth.store, scope="read", prompt=False)
    assert session_with(again).get(idp.resource_url, timeout=5).status_code == 200
    assert len(show.shown) == 1


@pytest.mark.slow
def test_slow_down_adds_five_seconds_to_the_interval(idp: TokenServer) -> None:
    idp.device_slow_down = 1
    auth = device_auth(idp, Approver(idp))
    auth.get_token()
    (polls,) = idp.device_polls()
    assert len(polls) == 2  # slow_down, then the token
    assert polls[1] - polls[0] >= 5.0  # a lower bound only: sleeping never ends early


def test_a_denied_device_login_is_a_typed_error_and_stores_nothing(idp: TokenServer) -> None:
    auth = device_auth(idp, Approver(idp, "deny"))
    with pytest.raises(AuthorizationDenied, match="denied"):
        auth.get_token()
    assert auth.store.get(auth.account, "token") is None


def test_an_expired_device_code_ends_the_login(idp: TokenServer) -> None:
    idp.device_interval, idp.device_expires_in = 1, 1
    auth = device_auth(idp, Approver(idp, "wait"))
    with pytest.raises(LoginExpired, match="expired"):
        auth.get_token()
    assert len(idp.device_polls()[0]) <= 1


def test_without_a_terminal_nothing_is_shown_and_the_fix_is_named(idp: TokenServer) -> None:
    show = Approver(idp)
    auth = device_auth(idp, show, prompt=None)  # pytest's stdin is not a terminal
    with pytest.raises(InteractionRequired) as info:
        session_with(auth).get(idp.resource_url, timeout=5)
    assert f"silentauth login --issuer {idp.issuer} --client-id {PUBLIC} --device" in str(
        info.value
    )
    assert show.shown == [] and idp.counts["device_authorization"] == 0


def test_the_default_show_prints_the_code_to_stderr(
    idp: TokenServer, capsys: pytest.CaptureFixture[str]
) -> None:
    grant = DeviceCode(PUBLIC, issuer=idp.issuer)
    auth = SilentAuth(grant, store=MemoryStore(), prompt=True)
    idp.device_interval = 1

    def approve_when_shown() -> None:
        for _ in range(1000):
            try:  # (the count goes up before the device is registered: retry until it is)
                idp.approve_device()
                return
            except LookupError:
                threading.Event().wait(0.01)

    approve = threading.Thread(target=approve_when_shown)
    approve.start()
    auth.get_token()
    approve.join()
    err = capsys.readouterr().err
    assert "enter the code: " in err and f"{idp.url}/device?user_code=" in err


def test_a_device_endpoint_that_never_answers_fails_within_the_budget(idp: TokenServer) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), answers nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/device"
        grant = DeviceCode(PUBLIC, device_authorization_url=url, token_url=idp.token_url)
        auth = SilentAuth(grant, store=MemoryStore(), prompt=True, token_timeout=0.5)
        with pytest.raises(TokenEndpointError, match="did not answer in time"):
            auth.get_token()


# -- browser + PKCE -------------------------------------------------------------------------------


class Browser:
    """Plays the browser: follows the provider's redirect to our listener, in a thread (the
    listener serves only once ``open_browser`` has returned). ``before(url)`` may first send
    something of its own to the listener."""

    def __init__(self, before: Callable[[str], None] | None = None) -> None:
        self.before = before
        self.landed: list[requests.Response] = []
        self.threads: list[threading.Thread] = []
        self.urls: list[str] = []

    def __call__(self, url: str) -> None:
        self.urls.append(url)

        def run() -> None:
            if self.before is not None:
                self.before(url)
            self.landed.append(requests.get(url, timeout=5))

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(10)


def browser_auth(srv: TokenServer, browser: Callable[[str], object], **kw: Any) -> SilentAuth:
    grant_kw = {k: kw.pop(k) for k in ("redirect_uri", "login_timeout", "client_secret") if k in kw}
    grant = AuthorizationCode(
        PUBLIC if "client_secret" not in grant_kw else CLIENT_ID,
        issuer=srv.issuer,
        open_browser=browser,
        **grant_kw,
    )
    kw.setdefault("prompt", True)
    kw.setdefault("store", MemoryStore())
    return SilentAuth(grant, **kw)


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.join()


def test_a_browser_login_with_pkce_then_silent(idp: TokenServer, browser: Browser) -> None:
    auth = browser_auth(idp, browser)
    s = session_with(auth)
    assert s.get(idp.resource_url, timeout=5).status_code == 200
    browser.join()
    assert browser.landed[0].status_code == 200 and "Logged in" in browser.landed[0].text
    query = parse_qs(urlsplit(browser.urls[0]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 43
    idp.expire_access_tokens()
    assert s.get(idp.resource_url, timeout=5).status_code == 200
    assert len(browser.urls) == 1 and idp.counts["token:authorization_code"] == 1


def test_a_confidential_client_logs_in_with_its_secret(idp: TokenServer, browser: Browser) -> None:
    auth = browser_auth(idp, browser, client_secret=CLIENT_SECRET)
    assert auth.get_token().refresh_token


def listener_of(url: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(url).query)
    return query["redirect_uri"][0], query["state"][0]


def test_a_forged_state_is_refused_and_the_real_login_still_works(idp: TokenServer) -> None:
    forged: list[int] = []

    def forge(url: str) -> None:
        redirect, _ = listener_of(url)
        bad = requests.get(
            redirect + "?" + urlencode({"code": "ac-attacker", "state": "forged"}), timeout=5
        )
        forged.append(bad.status_code)

    browser = Browser(before=forge)
    auth = browser_auth(idp, browser)
    auth.get_token()
    browser.join()
    assert forged == [400] and browser.landed[0].status_code == 200
    assert idp.counts["token:authorization_code"] == 1  # the forged code was never sent


def test_an_injected_code_fails_pkce_at_the_token_endpoint(idp: TokenServer) -> None:
    # The attacker knows our state (say it leaked) and injects a code issued to their own
    # authorization request: the code is bound to their PKCE challenge, not our verifier.
    def inject(url: str) -> None:
        redirect, state = listener_of(url)
        theirs = pkce_challenge(pkce_verifier())
        grab = requests.get(
            idp.authorization_url + "?" + urlencode({
                "response_type": "code", "client_id": PUBLIC, "redirect_uri": redirect,
                "code_challenge": theirs, "code_challenge_method": "S256", "state": "x",
            }),
            allow_redirects=False, timeout=5,
        )  # fmt: skip
        code = parse_qs(urlsplit(grab.headers["Location"]).query)["code"][0]
        requests.get(redirect + "?" + urlencode({"code": code, "state": state}), timeout=5)

    threads: list[threading.Thread] = []

    def in_a_thread(url: str) -> None:  # the listener serves once open_browser returned
        threads.append(threading.Thread(target=inject, args=(url,)))
        threads[-1].start()

    auth = browser_auth(idp, in_a_thread)
    with pytest.raises(InvalidCredentials, match="authorization code exchange"):
        auth.get_token()
    assert auth.store.get(auth.account, "token") is None
    threads[0].join(10)


def test_a_callback_through_another_host_name_is_refused(idp: TokenServer) -> None:
    statuses: list[int] = []

    def rebind(url: str) -> None:
        redirect, state = listener_of(url)
        # DNS rebinding: the right socket, reached through another name.
        r = requests.get(
            redirect + "?" + urlencode({"code": "x", "state": state}),
            headers={"Host": "evil.example:80"},
            timeout=5,
        )
        statuses.append(r.status_code)

    browser = Browser(before=rebind)
    browser_auth(idp, browser).get_token()
    browser.join()
    assert statuses == [400] and idp.counts["token:authorization_code"] == 1


def test_a_refusal_in_the_browser_is_a_typed_error(idp: TokenServer, browser: Browser) -> None:
    idp.authorize_mode = "deny"
    with pytest.raises(AuthorizationDenied, match="refused"):
        browser_auth(idp, browser).get_token()


def test_a_browser_that_never_comes_back_times_out_clearly(idp: TokenServer) -> None:
    urls: list[str] = []
    auth = browser_auth(idp, urls.append, login_timeout=0.3)
    with pytest.raises(LoginExpired, match=r"did not come back .* within 0 s|did not come back"):
        auth.get_token()
    redirect, _ = listener_of(urls[0])
    with pytest.raises(requests.ConnectionError):  # the listener is closed
        requests.get(redirect, timeout=2)


def test_a_given_loopback_redirect_uri_is_listened_on_exactly(
    idp: TokenServer, browser: Browser
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redirect = f"http://127.0.0.1:{port}/callback"
    browser_auth(idp, browser, redirect_uri=redirect).get_token()
    assert listener_of(browser.urls[0])[0] == redirect


def test_no_code_verifier_or_token_reaches_logs_or_stderr(
    idp: TokenServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def browser(url: str) -> None:
        seen.append(url)
        Browser()(url)

    grant = AuthorizationCode(PUBLIC, issuer=idp.issuer, open_browser=False)
    auth = SilentAuth(grant, store=MemoryStore(), prompt=True)
    # open_browser=False prints the URL: drive it from the printed line.
    done = threading.Thread(target=auth.get_token)
    done.start()
    for _ in range(500):
        err = capsys.readouterr().err
        if "http" in err:
            url = err.split()[-1]
            break
        threading.Event().wait(0.01)
    landed = requests.get(url, timeout=5)
    done.join(10)
    token = auth.token
    assert token is not None and landed.status_code == 200
    code = parse_qs(urlsplit(landed.url).query)["code"][0]
    ours = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("requests_silentauth") or "/oauth/" in r.getMessage()
    ]  # (urllib3's line for the test's own browser GET of the redirect is not ours)
    everything = "\n".join(ours) + capsys.readouterr().err + landed.text + url
    for secret in (code, token.access_token, token.refresh_token or "-"):
        assert secret not in everything
    assert "client_secret" not in url


# -- discovery ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["oidc", "oauth"])
def test_either_well_known_document_is_enough(idp: TokenServer, which: Any) -> None:
    idp.discovery = which
    grant = PasswordGrant(issuer=idp.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    auth = SilentAuth(grant, username=USER, password=PASSWORD, store=MemoryStore())
    assert auth.get_token().refresh_token
    assert auth.account.endpoint == idp.issuer
    idp.expire_access_tokens()
    SilentAuth(grant, username=USER, password=PASSWORD, store=MemoryStore()).get_token()
    assert idp.counts["discovery"] == (1 if which == "oidc" else 2)  # once per process


def test_no_document_says_how_to_go_on(idp: TokenServer) -> None:
    idp.discovery = "none"
    auth = SilentAuth(ClientCreds(idp), store=MemoryStore())
    with pytest.raises(TokenEndpointError, match=r"no discovery document .*\(token_url="):
        auth.get_token()


def ClientCreds(idp: TokenServer) -> Any:
    from requests_silentauth import ClientCredentials

    return ClientCredentials(issuer=idp.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


@pytest.mark.parametrize(
    ("override", "error", "match"),
    [
        ({"issuer": "http://127.0.0.1:1"}, TokenEndpointError, "names issuer"),  # mix-up
        (
            {"token_endpoint": "http://login.example.invalid/token"},
            InsecureTransportError,
            "discovery document .* plain http",
        ),
    ],
)
def test_a_hostile_document_is_never_used(
    idp: TokenServer, override: dict[str, Any], error: type[Exception], match: str
) -> None:
    idp.discovery_override = override
    auth = SilentAuth(ClientCreds(idp), store=MemoryStore())
    with pytest.raises(error, match=match):
        auth.get_token()
    assert idp.counts["token"] == 0  # the client secret went nowhere


# -- revocation ---------------------------------------------------------------------------


def test_logout_revokes_so_the_refresh_token_is_dead_at_the_server(idp: TokenServer) -> None:
    auth = device_auth(idp, Approver(idp))
    token = auth.get_token()
    assert auth.logout(revoke=True) == "revoked"
    assert auth.store.get(auth.account, "token") is None
    dead = requests.post(
        idp.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token,
            "client_id": PUBLIC,
        },
        timeout=5,
    )
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"
    assert (
        requests.get(
            idp.resource_url, headers={"Authorization": f"Bearer {token.access_token}"}, timeout=5
        ).status_code
        == 401
    )


def test_a_failed_revocation_is_reported_and_the_local_logout_still_happens(
    idp: TokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/revoke"
    grant = DeviceCode(PUBLIC, issuer=idp.issuer, show=Approver(idp), revocation_url=dead_url)
    auth = SilentAuth(grant, store=MemoryStore(), prompt=True)
    token = auth.get_token()
    assert auth.logout(revoke=True) == "failed"
    assert auth.store.get(auth.account, "token") is None
    assert "could not revoke" in caplog.text and (token.refresh_token or "-") not in caplog.text


def test_a_grant_without_a_revocation_endpoint_just_forgets(idp: TokenServer) -> None:
    auth = SilentAuth(
        PasswordGrant(idp.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        username=USER, password=PASSWORD, store=MemoryStore(),
    )  # fmt: skip
    auth.get_token()
    assert auth.logout(revoke=True) == "unsupported"
    assert auth.logout() is None


def test_a_silent_connection_to_the_listener_still_ends_in_login_expired(
    idp: TokenServer,
) -> None:
    held: list[socket.socket] = []

    def squat(url: str) -> None:  # a local process connects and sends nothing
        redirect, _ = listener_of(url)
        port = int(urlsplit(redirect).port or 0)
        held.append(socket.create_connection(("127.0.0.1", port), timeout=5))

    auth = browser_auth(idp, squat, login_timeout=0.5)
    try:
        with pytest.raises(LoginExpired):
            auth.get_token()  # (each connection is bounded by the deadline, not 10 s)
    finally:
        for s in held:
            s.close()


def test_the_embedded_verification_page_takes_a_persons_decision(idp: TokenServer) -> None:
    shown: list[DeviceAuthorization] = []

    def person(info: DeviceAuthorization) -> None:
        shown.append(info)
        assert info.verification_uri_complete is not None
        page = requests.get(info.verification_uri_complete, timeout=5)
        assert info.user_code in page.text
        done = requests.post(
            info.verification_uri,
            data={"user_code": info.user_code, "action": "approve"},
            timeout=5,
        )
        assert "Approved" in done.text

    assert device_auth(idp, person).get_token().refresh_token
    assert len(shown) == 1
