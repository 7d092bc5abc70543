"""The renewal ladder: ``plan`` decided from explicit inputs, ``renew``/``log_in`` carried out
against an in-memory grant and vault. Also the fakes the other unit tests of the manager use."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from requests_silentauth import (
    Account,
    CredentialsNotFound,
    InvalidCredentials,
    MemoryStore,
    StoreError,
    Token,
)
from requests_silentauth._backoff import Refusals
from requests_silentauth._endpoint import Timeout, TokenClient
from requests_silentauth._grants import Credentials
from requests_silentauth._ladder import (
    CORRUPT,
    Adopt,
    Login,
    Refresh,
    Renewal,
    Rungs,
    carry_out,
    log_in,
    login_now,
    plan,
    renew,
)
from requests_silentauth._secrets import Secret
from requests_silentauth._vault import Refusal, Vault

ENDPOINT = "https://login.example.test/oauth/token"
ACCOUNT = Account(ENDPOINT, "alice", client_id="cli")
T0 = 1_000_000.0

# -- fakes ------------------------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeGrant:
    """An in-memory identity server: numbered tokens, rotation on every refresh, a set of
    passwords it accepts, and a record of every call (with the timeout it was given)."""

    endpoint = ENDPOINT
    needs_username = True

    def __init__(self, clock: Callable[[], float], *, password: str = "right") -> None:
        self.clock = clock
        self.passwords = {password}
        self.lifetime: float | None = 3600.0
        self.issued = 0
        self.logins: list[str] = []  # the passwords presented
        self.refreshed: list[str | None] = []  # the refresh tokens presented
        self.timeouts: list[Timeout] = []
        self.dead_refresh_tokens: set[str] = set()
        self.fail: Exception | None = None  # raised by the next login or refresh
        self.before: Callable[[str], None] | None = None  # runs first in every call
        self.valid: bool | None = True  # verify's answer
        self.sent_at = clock()

    def new_token(self) -> Token:
        self.issued += 1
        now = self.sent_at  # like a real grant: the lifetime counts from when it was sent
        expires = None if self.lifetime is None else now + self.lifetime
        return Token(f"at-{self.issued}", f"rt-{self.issued}", expires_at=expires, issued_at=now)

    def _enter(self, what: str, timeout: Timeout) -> None:
        self.sent_at = self.clock()
        self.timeouts.append(timeout)
        if self.before is not None:
            self.before(what)
        if self.fail is not None:
            fail, self.fail = self.fail, None
            raise fail

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        self._enter("login", timeout)
        password = credentials.password
        self.logins.append(password)
        if password not in self.passwords:
            raise InvalidCredentials("the server refused the login", error="invalid_grant")
        return self.new_token()

    def refresh(self, client: TokenClient, token: Token, timeout: Timeout) -> Token | None:
        self.refreshed.append(token.refresh_token)
        self._enter("refresh", timeout)
        if token.refresh_token in self.dead_refresh_tokens:
            return None
        if token.refresh_token:
            self.dead_refresh_tokens.add(token.refresh_token)  # rotation: spent once used
        return self.new_token()

    def verify(self, client: TokenClient, token: Token, timeout: Timeout) -> bool | None:
        self.timeouts.append(timeout)
        return self.valid

    @property
    def calls(self) -> int:
        return len(self.logins) + len(self.refreshed)


class FakeVault(Vault):
    """A vault over a MemoryStore whose token reads and writes can be made to fail, and whose
    lock says whether it is held (and can run something as it is taken)."""

    def __init__(self, account: Account = ACCOUNT) -> None:
        super().__init__(MemoryStore(), account)
        self.held = False
        self.corrupt = False
        self.write_error: Exception | None = None
        self.writes = 0
        self.on_lock: Callable[[], None] | None = None
        self.lock_timeouts: list[float | None] = []

    def get_token(self) -> Token | None:
        if self.corrupt:
            raise StoreError("the stored token is corrupt", corrupt=True)
        return super().get_token()

    def set_token(self, token: Token | None) -> None:
        self.writes += 1
        if self.write_error is not None:
            raise self.write_error
        super().set_token(token)
        self.corrupt = False

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        assert not self.held, "the store lock is not reentrant"
        self.lock_timeouts.append(timeout)
        if self.on_lock is not None:
            self.on_lock()
        self.held = True
        try:
            yield
        finally:
            self.held = False


def token(
    n: int, *, issued: float = T0, life: float | None = 3600.0, refresh: bool = True
) -> Token:
    return Token(
        f"at-x{n}",
        f"rt-x{n}" if refresh else None,
        expires_at=None if life is None else issued + life,
        issued_at=issued,
    )


def decide(**kwargs: Any) -> object:
    kwargs.setdefault("ours", None)
    kwargs.setdefault("saved", None)
    kwargs.setdefault("stored", None)
    kwargs.setdefault("rejected", None)
    kwargs.setdefault("now", T0 + 10)
    kwargs.setdefault("leeway", 30.0)
    kwargs.setdefault("reason", "why")
    return plan(**kwargs)


# -- plan ---------------------------------------------------------------------------------------


def test_nothing_anywhere_is_a_login() -> None:
    assert decide() == Login("why")


def test_a_refresh_token_refused_before_is_not_presented_again() -> None:
    """Attack review of issue 8: where no login can happen, a dead refresh token was sent on
    every request (each a replay to a provider with reuse detection)."""
    from requests_silentauth._ladder import refresh_digest

    ours = token(1)
    assert ours.refresh_token
    assert isinstance(decide(ours=ours, saved=ours, stored=ours), Refresh)
    dead = {refresh_digest(ours.refresh_token)}
    assert decide(ours=ours, saved=ours, stored=ours, dead=dead) == Login(
        "the refresh token was refused before (invalid_grant)"
    )
    newer = token(2, issued=T0 + 5)  # another process logged in: its refresh token is alive
    assert decide(ours=ours, saved=ours, stored=newer, dead=dead, now=T0 + 3600) == Refresh(
        newer, "why"
    )
    assert refresh_digest("rt") != "rt" and len(refresh_digest("rt")) == 64


def test_our_own_token_in_the_store_is_refreshed() -> None:
    ours = token(1)
    assert decide(ours=ours, saved=ours, stored=ours) == Refresh(ours, "why")


def test_a_newer_fresh_token_from_another_process_is_adopted() -> None:
    ours, theirs = token(1), token(2, issued=T0 + 5)
    assert decide(ours=ours, saved=ours, stored=theirs) == Adopt(theirs)
    assert decide(ours=None, saved=None, stored=theirs) == Adopt(theirs)


def test_a_token_stored_at_the_same_time_as_ours_is_adopted() -> None:
    ours, theirs = token(1), token(2)
    assert decide(ours=ours, saved=ours, stored=theirs) == Adopt(theirs)


def test_the_rejected_token_is_not_adopted_but_its_refresh_token_is_used() -> None:
    ours, theirs = token(1), token(2, issued=T0 + 5)
    got = decide(ours=ours, saved=ours, stored=theirs, rejected=theirs)
    assert got == Refresh(theirs, "why")


def test_a_stored_token_due_for_renewal_is_not_adopted_but_refreshed() -> None:
    ours, theirs = token(1), token(2, issued=T0 + 5, life=20)
    assert decide(ours=ours, saved=ours, stored=theirs, now=T0 + 20) == Refresh(theirs, "why")


def test_a_stored_token_older_than_ours_is_never_used() -> None:
    # Its refresh token was spent by the refresh that gave us ours.
    old, ours = token(1), token(2, issued=T0 + 5)
    assert decide(ours=ours, saved=ours, stored=old) == Refresh(ours, "why")


def test_after_a_failed_write_the_stale_stored_token_is_not_news() -> None:
    # Behaviour 3: we saved ``old``, refreshed to ``ours`` and could not save it. The store still
    # holds ``old``, whose refresh token the server rotated away: ours is refreshed, even when
    # neither token says when it was issued.
    old, ours = token(1, issued=T0), token(2, issued=T0 + 5)
    assert decide(ours=ours, saved=old, stored=old) == Refresh(ours, "why")
    bare_old = Token("at-a", "rt-a")
    bare_ours = Token("at-b", "rt-b")
    assert decide(ours=bare_ours, saved=bare_old, stored=bare_old) == Refresh(bare_ours, "why")


def test_a_token_removed_after_we_saved_it_is_a_logout_elsewhere() -> None:
    ours = token(1)
    got = decide(ours=ours, saved=ours, stored=None)
    assert isinstance(got, Login) and "logout" in got.reason


def test_a_token_we_never_managed_to_save_is_refreshed() -> None:
    ours = token(1)
    assert decide(ours=ours, saved=None, stored=None) == Refresh(ours, "why")


def test_a_corrupt_store_is_no_stored_token_and_no_logout() -> None:
    ours = token(1)
    assert decide(ours=ours, saved=ours, stored=CORRUPT) == Refresh(ours, "why")
    assert decide(ours=None, saved=None, stored=CORRUPT) == Login("why")


def test_a_token_without_a_refresh_token_means_a_login() -> None:
    ours = token(1, refresh=False)
    assert decide(ours=ours, saved=ours, stored=ours) == Login("why")


# -- carrying it out ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def grant(clock: FakeClock) -> FakeGrant:
    return FakeGrant(clock)


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


@pytest.fixture
def rungs(grant: FakeGrant, vault: FakeVault, clock: FakeClock) -> Rungs:
    return Rungs(grant, TokenClient(), vault, 30.0, clock)


def login_with(
    rungs: Rungs, secret: Secret, *, explicit: bool = False, backoff: float = 60.0
) -> Callable[[float], Token]:
    refusals = Refusals(rungs.vault, backoff)

    def login(timeout: float) -> Token:
        return log_in(
            rungs,
            timeout,
            username="alice",
            secret=lambda: secret,
            refusals=refusals,
            explicit=explicit,
        )

    return login


def test_renew_logs_in_and_persists_before_returning(rungs: Rungs, vault: FakeVault) -> None:
    got = renew(
        rungs,
        ours=None,
        saved=None,
        rejected=None,
        reason="no token yet",
        remaining=lambda: 7.0,
        login=login_with(rungs, Secret("right", "given")),
    )
    assert got == Renewal(got.token, "logged_in")
    assert vault.get_token() == got.token
    assert not vault.held
    assert vault.lock_timeouts == [7.0]  # the store lock is waited for within the deadline


def test_renew_adopts_without_a_token_request(
    rungs: Rungs, vault: FakeVault, grant: FakeGrant
) -> None:
    theirs = token(9, issued=T0 + 1)
    vault.set_token(theirs)
    got = renew(
        rungs,
        ours=token(1),
        saved=token(1),
        rejected=None,
        reason="r",
        remaining=lambda: 7.0,
        login=login_with(rungs, Secret("right", "given")),
    )
    assert got == Renewal(theirs, "adopted")
    assert grant.calls == 0


def test_a_dead_refresh_token_goes_on_to_a_login(rungs: Rungs, grant: FakeGrant) -> None:
    ours = token(1)
    grant.dead_refresh_tokens.add("rt-x1")
    got = carry_out(
        Refresh(ours, "r"),
        rungs,
        remaining=lambda: 3.0,
        login=login_with(rungs, Secret("right", "given")),
    )
    assert got.how == "logged_in"
    assert grant.refreshed == ["rt-x1"] and grant.logins == ["right"]
    assert grant.timeouts == [3.0, 3.0]  # each call gets the seconds left


def test_a_refresh_answer_without_refresh_token_keeps_ours(rungs: Rungs, grant: FakeGrant) -> None:
    grant.new_token = lambda: Token("at-new", None, issued_at=T0)  # type: ignore[method-assign]
    got = carry_out(Refresh(token(1), "r"), rungs, remaining=lambda: 3.0, login=lambda t: token(0))
    assert got.how == "refreshed" and got.token.refresh_token == "rt-x1"


@pytest.mark.parametrize("error", [StoreError("disk full"), RuntimeError("x"), KeyError("y")])
def test_any_store_write_failure_keeps_the_token(
    rungs: Rungs, vault: FakeVault, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    vault.write_error = error
    with caplog.at_level(logging.WARNING, "requests_silentauth"):
        got = carry_out(
            Refresh(token(1), "r"), rungs, remaining=lambda: 3.0, login=lambda t: token(0)
        )
    assert got.how == "refreshed" and not got.saved
    assert got.token.refresh_token == "rt-1"
    assert "could not save" in caplog.text
    assert "rt-1" not in caplog.text and "at-1" not in caplog.text


def test_a_token_expired_on_arrival_gets_an_unknown_expiry(
    rungs: Rungs, grant: FakeGrant, clock: FakeClock, vault: FakeVault
) -> None:
    grant.lifetime = 2.0
    grant.before = lambda what: clock.advance(3.0)  # the answer took longer than its life
    got = carry_out(
        Login("r"), rungs, remaining=lambda: 5.0, login=login_with(rungs, Secret("right", "given"))
    )
    assert got.clock_skew and got.token.expires_at is None
    assert vault.get_token() == got.token  # what is stored is what is used


def test_a_prompted_secret_is_stored_only_after_the_login_worked(
    rungs: Rungs, vault: FakeVault
) -> None:
    with pytest.raises(InvalidCredentials):
        login_with(rungs, Secret("typo", "prompt"))(5.0)
    assert vault.get_secret() is None
    login_with(rungs, Secret("right", "prompt"))(5.0)
    assert vault.get_secret() == "right"


def test_a_given_or_stored_secret_is_not_written_back(rungs: Rungs, vault: FakeVault) -> None:
    login_with(rungs, Secret("right", "given"))(5.0)
    assert vault.get_secret() is None


def test_a_refused_secret_waits_unless_the_login_is_explicit(
    rungs: Rungs, grant: FakeGrant, clock: FakeClock
) -> None:
    login = login_with(rungs, Secret("wrong", "store"))
    with pytest.raises(InvalidCredentials) as first:
        login(5.0)
    assert first.value.retry_at == T0 + 60
    clock.advance(59)
    with pytest.raises(InvalidCredentials, match="not tried again for 1s"):
        login(5.0)
    assert grant.logins == ["wrong"]
    with pytest.raises(InvalidCredentials):
        login_with(rungs, Secret("wrong", "store"), explicit=True)(5.0)
    assert grant.logins == ["wrong", "wrong"]
    clock.advance(61)
    with pytest.raises(InvalidCredentials):
        login(5.0)
    assert len(grant.logins) == 3


def test_success_clears_the_stored_refusal(
    rungs: Rungs, vault: FakeVault, grant: FakeGrant
) -> None:
    with pytest.raises(InvalidCredentials):
        login_with(rungs, Secret("wrong", "store"))(5.0)
    assert vault.get_refusal() is not None
    grant.passwords.add("wrong")  # e.g. an administrator reset it
    login_with(rungs, Secret("wrong", "store"), explicit=True)(5.0)
    assert vault.get_refusal() is None


# -- the trace: the ladder's log is what users see of it (DEBUG: why a token request happened,
# WARNING: what went wrong), with fingerprints, never a secret -------------------------------


@pytest.fixture
def trace(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="requests_silentauth")
    return caplog


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records]


def fp(t: Token) -> str:
    return t.fingerprint


def climb(rungs: Rungs, login: Callable[[float], Token], **kwargs: object) -> object:
    args: dict[str, object] = {"ours": None, "saved": None, "rejected": None}
    args.update(kwargs)
    return renew(rungs, remaining=lambda: 1.0, login=login, **args)  # type: ignore[arg-type]


def test_adopting(rungs: Rungs, trace: pytest.LogCaptureFixture) -> None:
    t = token(1)
    carry_out(Adopt(t), rungs, remaining=lambda: 1.0, login=lambda s: token(0))
    assert lines(trace) == [("DEBUG", f"adopting token {fp(t)} renewed by another process")]


def test_refreshing(rungs: Rungs, grant: FakeGrant, trace: pytest.LogCaptureFixture) -> None:
    base = token(1)
    got = carry_out(
        Refresh(base, "token expired"), rungs, remaining=lambda: 1.0, login=lambda s: token(0)
    )
    assert grant.timeouts == [1.0]
    assert lines(trace) == [
        ("DEBUG", f"refreshing token {fp(base)}: token expired"),
        ("DEBUG", f"new token {fp(got.token)}, expires_at={got.token.expires_at}"),
    ]


def test_a_dead_refresh_token_then_a_login(
    rungs: Rungs, grant: FakeGrant, trace: pytest.LogCaptureFixture
) -> None:
    base = token(1)
    grant.dead_refresh_tokens.add("rt-x1")
    got = carry_out(
        Refresh(base, "token rejected (status 401)"),
        rungs,
        remaining=lambda: 2.0,
        login=login_with(rungs, Secret("right", "given")),
    )
    assert got.how == "logged_in"
    assert grant.timeouts == [2.0, 2.0]
    assert lines(trace) == [
        ("DEBUG", f"refreshing token {fp(base)}: token rejected (status 401)"),
        ("DEBUG", "logging in as alice: refresh token refused (invalid_grant)"),
        ("DEBUG", f"new token {fp(got.token)}, expires_at={got.token.expires_at}"),
    ]


def test_a_login_without_a_user_name_says_so(trace: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    vault = FakeVault(Account("https://login.example.test/t", ""))
    rungs = Rungs(FakeGrant(clock), TokenClient(), vault, 30.0, clock)
    carry_out(Login("no token yet"), rungs, remaining=lambda: 1.0, login=lambda s: token(5))
    assert lines(trace)[0] == ("DEBUG", "logging in as -: no token yet")


def test_an_explicit_login(rungs: Rungs, trace: pytest.LogCaptureFixture) -> None:
    login_now(rungs, lambda: 1.0, lambda s: token(5))
    assert lines(trace)[0] == ("DEBUG", "logging in as alice: login requested")


def test_a_logout_elsewhere(rungs: Rungs, trace: pytest.LogCaptureFixture) -> None:
    ours = token(1)
    climb(rungs, lambda s: token(5), ours=ours, saved=ours, reason="token expired")
    logout = "logging in as alice: the stored token was removed (logout)"
    assert lines(trace)[0] == ("DEBUG", logout)


def test_a_rejected_token_is_named_as_the_reason(
    rungs: Rungs, vault: FakeVault, trace: pytest.LogCaptureFixture
) -> None:
    stored = token(2, issued=T0 + 5)
    vault.set_token(stored)
    trace.clear()
    why = "token rejected (status 401)"
    climb(rungs, lambda s: token(5), ours=token(1), rejected=stored, reason=why)
    # the rejected token is not adopted: its (newest) refresh token is used instead
    assert lines(trace)[0] == ("DEBUG", f"refreshing token {fp(stored)}: {why}")


def test_a_corrupt_store_is_a_warning(
    rungs: Rungs, vault: FakeVault, trace: pytest.LogCaptureFixture
) -> None:
    vault.corrupt = True
    climb(rungs, lambda s: token(5), reason="no token yet")
    assert lines(trace)[0] == ("WARNING", "the stored token is corrupt; logging in again")


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (StoreError("the keyring is locked"), "the keyring is locked"),
        (KeyError("rt-x9"), "KeyError"),
    ],
)
def test_a_failed_write_names_our_errors_and_only_the_type_of_others(
    rungs: Rungs, vault: FakeVault, trace: pytest.LogCaptureFixture, error: Exception, shown: str
) -> None:
    vault.write_error = error
    carry_out(Login("no token yet"), rungs, remaining=lambda: 1.0, login=lambda s: token(5))
    assert lines(trace)[-1] == (
        "WARNING",
        f"could not save the renewed token ({shown}); it is kept in memory",
    )


def test_ours_is_not_older_than_a_token_without_an_issue_time() -> None:
    def decide(ours: Token, stored: Token) -> object:
        return plan(
            ours=ours, saved=None, stored=stored, rejected=None, now=T0, leeway=30.0, reason="r"
        )

    undated = Token("at-u", "rt-u", expires_at=T0 + 3600)
    early = token(3, issued=0.5, life=None)  # issued in the epoch's first second
    assert decide(Token("at-o", "rt-o"), undated) == Adopt(undated)
    assert decide(early, undated) == Refresh(early, "r")  # an undated token is not newer
    assert decide(Token("at-o", "rt-o"), early) == Adopt(early)  # a dated one is


# -- log_in edges the mutation run found untested ----------------------------------------------


class RecordingGrant(FakeGrant):
    """Remembers the client and user name a login was given; may refuse before reading the
    secret (as a server answering invalid_client does)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self.seen: list[tuple[object, str | None]] = []
        self.refuse_unread = False

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        self.seen.append((client, credentials.username))
        if self.refuse_unread:
            raise InvalidCredentials("invalid_client", error="invalid_client")
        return super().login(client, credentials, timeout)


def test_log_in_passes_the_client_and_no_empty_user_name(clock: FakeClock) -> None:
    grant = RecordingGrant(clock)
    vault = FakeVault()
    rungs = Rungs(grant, TokenClient(), vault, 30.0, clock)
    refusals = Refusals(vault, 60.0)
    for name in ("alice", ""):
        log_in(
            rungs, 1.0, username=name, secret=lambda: Secret("right", "given"),
            refusals=refusals, explicit=False,
        )  # fmt: skip
    assert grant.seen == [(rungs.client, "alice"), (rungs.client, None)]


def test_a_refusal_before_the_secret_was_read_records_and_clears_nothing(clock: FakeClock) -> None:
    grant = RecordingGrant(clock)
    grant.refuse_unread = True
    vault = FakeVault()
    vault.set_refusal(Refusal("an-older-one", T0 + 60, "refused"))
    rungs = Rungs(grant, TokenClient(), vault, 30.0, clock)
    for explicit in (False, True):
        with pytest.raises(InvalidCredentials, match="invalid_client"):
            log_in(
                rungs, 1.0, username="alice", secret=lambda: Secret("right", "given"),
                refusals=Refusals(vault, 60.0), explicit=explicit,
            )  # fmt: skip
    assert vault.get_refusal() == Refusal("an-older-one", T0 + 60, "refused")


@pytest.mark.parametrize(
    ("error", "shown"),
    [(StoreError("the keyring is locked"), "the keyring is locked"), (KeyError("pw"), "KeyError")],
)
def test_storing_a_prompted_password_logs_what_happened(
    rungs: Rungs,
    vault: FakeVault,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    shown: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="requests_silentauth")
    login_with(rungs, Secret("right", "prompt"))(5.0)
    assert lines(caplog)[-1] == ("DEBUG", "stored the password for alice after a login")

    def fail(secret: str) -> None:
        raise error

    vault.set_secret = fail  # type: ignore[method-assign]
    caplog.clear()
    login_with(rungs, Secret("right", "prompt"))(5.0)
    assert lines(caplog)[-1] == (
        "WARNING",
        f"could not store the password ({shown}); it will be asked again",
    )


def test_a_token_due_on_arrival_is_measured_from_its_arrival(
    rungs: Rungs, grant: FakeGrant, clock: FakeClock
) -> None:
    grant.lifetime = 2.0
    grant.before = lambda what: clock.advance(1.2)  # a slow identity provider
    got = carry_out(
        Login("r"), rungs, remaining=lambda: 5.0, login=login_with(rungs, Secret("right", "given"))
    )
    assert not got.clock_skew
    assert got.token.issued_at == clock.now  # so the leeway is half of the 0.8 s left
    assert got.token.expires_at == T0 + 2.0
    assert not got.token.refresh_due(clock.now, 30.0)


def test_after_an_interaction_the_login_rung_installs_its_token_without_a_refresh(
    rungs: Rungs, vault: FakeVault, grant: FakeGrant
) -> None:
    # Issue 8 attack review: the climb after a person logged in (outside the locks) must not
    # refresh again; the refresh token was just refused, and a failed retry lost the login.
    ours = token(1)
    vault.set_token(ours)
    obtained = token(7, issued=T0 + 5)
    got = renew(
        rungs,
        ours=ours,
        saved=ours,
        rejected=ours,
        reason="token rejected",
        remaining=lambda: 3.0,
        login=lambda seconds: obtained,
        interacted=True,
    )
    assert got == Renewal(obtained, "logged_in") and grant.refreshed == []
    assert vault.get_token() == obtained
    # Another process's fresh token is still adopted rather than overwritten.
    theirs = token(9, issued=T0 + 9)
    vault.set_token(theirs)
    again = renew(
        rungs,
        ours=obtained,
        saved=obtained,
        rejected=None,
        reason="r",
        remaining=lambda: 3.0,
        login=lambda seconds: token(8),
        interacted=True,
    )
    assert again == Renewal(theirs, "adopted")


def test_a_refused_refresh_token_is_not_presented_again_when_no_login_can_follow(
    rungs: Rungs, vault: FakeVault, grant: FakeGrant
) -> None:
    """Attack review of issue 8: the dead refresh token cost a refused refresh per request
    where the login that should follow cannot happen (no password, nobody to ask)."""
    ours = token(1)
    assert ours.refresh_token
    vault.set_token(ours)
    grant.dead_refresh_tokens.add(ours.refresh_token)

    def no_login(timeout: float) -> Token:
        raise CredentialsNotFound("nobody to ask")

    for _ in range(3):
        with pytest.raises(CredentialsNotFound):
            renew(
                rungs,
                ours=ours,
                saved=ours,
                rejected=ours,
                reason="rejected",
                remaining=lambda: 7.0,
                login=no_login,
            )
    assert grant.refreshed == [ours.refresh_token]  # once, not once per request
    assert rungs.dead and ours.refresh_token not in rungs.dead  # a digest, never the token


def test_the_login_rung_hands_the_grant_the_auths_own_login_command(
    rungs: Rungs, vault: FakeVault, grant: FakeGrant
) -> None:
    seen: list[str | None] = []
    real = grant.login

    def login(client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        seen.append(credentials.login_command)
        return real(client, credentials, timeout)

    grant.login = login  # type: ignore[method-assign]
    vault.login_command = "silentauth login --profile work"
    login_with(rungs, Secret("right", "given"))(5.0)
    assert seen == ["silentauth login --profile work"]
