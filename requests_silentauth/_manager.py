"""``TokenManager``, the one stateful piece: the current token, the single flight, and the pause
after a failed early renewal. The decisions live in ``_ladder`` (which rung), ``_secrets``
(which secret), ``_backoff`` (whether to try it) and ``_flight`` (who renews).

Order, always: the flight (threads of this process), then the store's per-account lock
(processes). No lock of ours is held while a token request is in flight, and none while user
code runs: ``on_token`` is called once the flight has landed and the store lock is released
(issue 7, behaviour 4), so a callback may use the auth again."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Protocol

from . import _secrets
from ._ahead import FIRST_PAUSE, Use, decide, next_try
from ._backoff import Refusals
from ._endpoint import Timeout, TokenClient, seconds, token_work
from ._errors import SilentAuthError, TokenEndpointError
from ._flight import Flight, fresh_copy
from ._grants import Grant
from ._interaction import InteractionNeeded
from ._ladder import Renewal, Rungs, log_in, login_now, read_stored, renew
from ._secrets import PromptNeeded, Secret
from ._store import Account, Store
from ._token import Token
from ._vault import Vault

__all__ = ["EARLY_RETRY_PAUSE", "TokenManager"]

log = logging.getLogger("requests_silentauth")

#: Seconds before a failed early renewal is tried again while the token is still valid (the
#: first pause; in the background it doubles after each further failure, see ``_ahead``).
EARLY_RETRY_PAUSE = FIRST_PAUSE
#: The longest ``Retry-After`` believed when no valid token is left (a hostile or confused
#: server must not stop every request for a day).
MAX_RETRY_AFTER = 60.0

#: What a flight hands its followers: the token, and the renewal when one happened.
_Outcome = tuple[Token, Renewal | None] | None


class Worker(Protocol):
    """A started background renewal (a ``threading.Thread``; a fake in the unit tests)."""

    def is_alive(self) -> bool: ...
    def join(self, timeout: float | None = None) -> None: ...


def start_thread(work: Callable[[], None]) -> Worker:
    """One thread per renewal ahead (a few per token lifetime; none for a process that never
    renews). Not a daemon: an interpreter that exits while it runs waits for it, so a rotated
    refresh token the server already issued is stored before the process ends. Its token
    request is bounded by ``token_timeout``, so that wait is too.

    Refused (RuntimeError) when nobody would wait for it: see ``_unwaited``."""
    if _unwaited():
        raise RuntimeError("can't start a renewal thread at interpreter shutdown")
    thread = threading.Thread(target=work, name="silentauth-renew-ahead", daemon=False)
    thread.start()
    return thread


def _unwaited() -> bool:
    """Whether a thread started now might never be waited for: Python is exiting and this is
    the main thread (an ``atexit`` handler: the non-daemon threads were joined already; 3.12+
    refuses the thread, 3.10/3.11 start it and kill it at exit with its token request in
    flight, the rotated refresh token unstored) or a daemon thread. A non-daemon thread still
    running at exit is waited for, and so is every thread it starts."""
    if not getattr(threading, "_SHUTTING_DOWN", False):
        return False
    current = threading.current_thread()
    return current is threading.main_thread() or current.daemon


class TokenManager:
    def __init__(
        self,
        grant: Grant,
        *,
        vault: Vault,
        password: str | None,
        client: TokenClient,
        leeway: float,
        on_token: Callable[[Token], object] | None,
        prompt: bool | None,
        login_backoff: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        token_timeout: float = 10.0,
        background: bool = True,
        spawn: Callable[[Callable[[], None]], Worker] = start_thread,
    ) -> None:
        self.vault = vault
        self.on_token = on_token
        self.prompt = prompt
        self.token_timeout = token_timeout
        self.clock = clock  # the wall clock tokens expire on
        self.monotonic = monotonic  # deadlines
        self._password = password
        self._rungs = Rungs(grant, client, vault, leeway, clock)
        self._refusals = Refusals(vault, login_backoff)
        self._flight: Flight[_Outcome] = Flight()
        self._token: Token | None = None
        # The token this process last read from or wrote to the store (to notice a logout, and
        # to know the store's copy is ours when our last write failed).
        self._saved: Token | None = None
        self._loaded = False
        self._early_retry_at = 0.0  # after a failed early renewal, not before this time
        # Renewing ahead: on, how to start one, the one running (guarded by a small lock that
        # never covers the renewal itself), and failures in a row (back-off, warn once).
        self.background = background
        self._spawn = spawn
        self._ahead_lock = threading.Lock()
        self._ahead: Worker | None = None
        self._ahead_failures = 0
        self._skew_warned = False
        # (until, on the clock; the error): the identity provider asked us to wait (Retry-After)
        # and no valid token is left: fail at once instead of asking again meanwhile.
        self._paused: tuple[float, SilentAuthError] | None = None
        _live.add(self)

    @property
    def token(self) -> Token | None:
        return self._token

    @property
    def account(self) -> Account:
        return self.vault.account

    @property
    def store(self) -> Store:
        return self.vault.store

    # -- the entry points -------------------------------------------------------------------

    def for_request(self, timeout: Timeout, *, fresh: bool = False) -> Token:
        """A token to send now: the current one while it is valid (renewed in the background
        once it is due), else a renewed one. ``fresh``: the token is handed away
        (``get_token()``), so a due one is renewed first, as without renewal ahead."""
        token = self._token
        use = self._decide(token, fresh=fresh)
        if use is Use.AS_IS:
            return token  # type: ignore[return-value]  # the per-request path: no lock, no I/O
        if use is Use.AND_RENEW_AHEAD:
            self._renew_ahead()
            return token  # type: ignore[return-value]  # valid: this request does not wait
        token = self._current(self._deadline(timeout), fresh=fresh)[0]
        if self._decide(token) is Use.AND_RENEW_AHEAD:
            self._renew_ahead()  # the token read from the store is valid but due
        return token

    def close(self) -> None:
        """Wait for a renewal ahead in progress (bounded by ``token_timeout``: its token is
        stored before this returns), so no thread of ours is left running."""
        with self._ahead_lock:
            worker, self._ahead = self._ahead, None
        if worker is not None and worker is not threading.current_thread():  # not from on_token
            worker.join(self.token_timeout + 1.0)

    # -- renewing ahead (in the background) -------------------------------------------------

    def _renew_ahead(self) -> None:
        """Start one background renewal unless one (or a waiting renewal) is in progress."""
        if self._flight.busy:
            return
        with self._ahead_lock:  # held only to decide who starts it, never during the renewal
            if self._ahead is not None and self._ahead.is_alive():
                return
            try:
                self._ahead = self._spawn(self._ahead_work)
            except RuntimeError as exc:  # no new thread at interpreter shutdown
                log.debug("no renewal ahead (%s); the token is renewed when it expires", exc)

    def _ahead_work(self) -> None:
        """The body of a renewal ahead: one flight (a request whose token expires meanwhile
        joins it), no prompt, and on failure the valid token stays in use with a back-off."""
        deadline = self.monotonic() + self.token_timeout
        try:
            led = self._flight.lead_if_idle(lambda: self._renew_if_due(deadline, ahead=True))
        except Exception as exc:  # any failure: the valid token stays, a request never sees it
            self._ahead_failed(exc)
            return
        if led is None:
            return  # a renewal was already in progress: it is the one
        self._ahead_failures = 0
        outcome = led[0]
        if outcome is not None and outcome[1] is not None:
            try:
                self._announce(outcome[1])  # in this thread, with no lock of ours held
            except Exception as exc:  # nobody to raise it to: say so (its type only)
                log.warning("on_token raised %s in the background renewal", type(exc).__name__)

    def _ahead_failed(self, exc: Exception) -> None:
        token, now = self._token, self.clock()
        self._ahead_failures += 1
        retry_after = getattr(exc, "retry_after", None)
        expires_at = token.expires_at if token is not None else None
        self._early_retry_at = next_try(
            self._ahead_failures, now, expires_at=expires_at, retry_after=retry_after
        )
        # A custom store's or grant's message may quote what it was given: only ours are
        # logged whole (their messages never hold a secret).
        what = str(exc) if isinstance(exc, SilentAuthError) else type(exc).__name__
        level = logging.WARNING if self._ahead_failures == 1 else logging.DEBUG
        if token is None or token.is_expired(now):  # it expired while the renewal ran
            later = "it has expired meanwhile: the next request renews it, and waits"
        else:
            wait = self._early_retry_at - now
            later = f"it is still valid and used meanwhile, retried in {wait:.0f}s"
        log.log(
            level,
            "renewing token %s ahead failed (%s); %s",
            token.fingerprint if token is not None else "-",
            what,
            later,
        )

    def after_rejection(self, rejected: Token, timeout: Timeout, why: str) -> tuple[Token, bool]:
        """The server refused ``rejected``. If another thread already replaced it, the current
        token is returned with no request; otherwise the token is renewed (single flight). The
        flag says whether this call renewed it (adopting another process's token is not a
        renewal: if that token was revoked too, the request may still renew once, see Flow)."""
        return self._after_rejection(rejected, why, self._deadline(timeout))

    def verify(self, timeout: Timeout) -> Token:
        """Ask the server whether the token is valid (no lock held meanwhile); renew if not."""
        deadline = self._deadline(timeout)
        token, renewal = self._current(deadline)
        if renewal is not None and renewal.how != "adopted":
            return token  # just issued
        rungs = self._rungs
        with token_work():
            valid = rungs.grant.verify(rungs.client, token, self._remaining(deadline))
        if valid is None:
            valid = not token.refresh_due(self.clock(), rungs.leeway)
        if valid:
            log.debug("token %s verified", token.fingerprint)
            return token
        return self._after_rejection(token, "token failed verification", deadline)[0]

    def login(self, password: str | None, timeout: Timeout, *, remember: bool) -> Token:
        """Log in now, with ``password`` when given (else the usual lookup), whatever token is
        held: what ``silentauth login`` does to verify a password before storing it. Always
        tried (the back-off is for automatic logins); ``remember`` stores the password only
        once the server accepted it."""
        deadline = self._deadline(timeout)
        given = password if password is not None else self._password

        def work() -> _Outcome:
            self._loaded = True
            renewal = self._climb(
                functools.partial(login_now, self._rungs),
                deadline,
                given=given,
                explicit=True,
            )
            return renewal.token, renewal

        outcome, _ = self._flight.run(work, deadline=deadline, clock=self.monotonic, share=False)
        assert outcome is not None and outcome[1] is not None
        if remember and password is not None:
            self.vault.set_secret(password)
        self._announce(outcome[1])
        return outcome[0]

    def forget(
        self, *, forget_password: bool, before: Callable[[], object] | None = None
    ) -> object:
        """Log out here. ``before`` (revoking at the server) runs first in the same flight:
        after a renewal in progress (a renewal ahead) landed, so it sees the token that renewal
        obtained, not the one it replaced. Returns what ``before`` returned."""
        done: list[object] = [None]

        def work() -> _Outcome:
            try:
                if before is not None:
                    done[0] = before()
            finally:
                with self.vault.lock():
                    self._token = self._saved = None
                    self._loaded = True
                    self.vault.set_token(None)
                    if forget_password:
                        self.vault.delete_secret()
                        self._refusals.clear()
            return None

        self._flight.run(work, deadline=float("inf"), clock=self.monotonic, share=False)
        return done[0]

    # -- renewing ---------------------------------------------------------------------------

    def _current(self, deadline: float, *, fresh: bool = False) -> tuple[Token, Renewal | None]:
        """The fresh token, renewed (or shared from the flight in progress) when needed."""
        while True:
            try:
                self._check_pause()
                outcome, led = self._flight.run(
                    lambda: self._renew_if_due(deadline, fresh=fresh),
                    deadline=deadline,
                    clock=self.monotonic,
                )
            except SilentAuthError as exc:
                token, now = self._token, self.clock()
                if token is None or token.is_expired(now):
                    self._note_failure(exc)
                    raise
                # Like MSAL's early refresh: a failed early renewal keeps the valid token, and
                # is not tried again on every request (a slow identity provider would otherwise
                # cost each request a full timeout) until the server's Retry-After or a pause.
                pause = getattr(exc, "retry_after", None) or EARLY_RETRY_PAUSE
                self._early_retry_at = min(now + pause, token.expires_at or now)
                log.warning(
                    "early renewal failed (%s); token %s is still valid, using it",
                    type(exc).__name__,
                    token.fingerprint,
                )
                return token, None
            if outcome is None:
                continue  # we followed a logout: renew now
            if led and outcome[1] is not None:
                self._announce(outcome[1])
            return outcome if led else (outcome[0], None)

    def _after_rejection(self, rejected: Token, why: str, deadline: float) -> tuple[Token, bool]:
        while True:
            current = self._replacement(rejected)
            if current is not None:
                # Another thread replaced it already. (If that token was issued before whatever
                # revoked this one, its rejection lets this request renew once: see Flow.)
                log.debug(
                    "token %s was rejected (%s) but already replaced by %s; retrying with it",
                    rejected.fingerprint,
                    why,
                    current.fingerprint,
                )
                return current, False
            try:
                self._check_pause()
                outcome, led = self._flight.run(
                    functools.partial(self._renew_rejected, rejected, why, deadline),
                    deadline=deadline,
                    clock=self.monotonic,
                )
            except SilentAuthError as exc:
                self._note_failure(exc)
                raise
            if not led and (outcome is None or outcome[0].access_token == rejected.access_token):
                continue  # the flight we followed did not replace our token: lead one
            assert outcome is not None  # a flight we lead here always has a token
            token, renewal = outcome
            if not led:
                return token, False
            if renewal is not None:
                self._announce(renewal)
            return token, renewal is not None and renewal.how != "adopted"

    def _renew_if_due(
        self, deadline: float, *, ahead: bool = False, fresh: bool = False
    ) -> _Outcome:
        """The leader's double check, then the ladder. ``ahead``: this is the renewal ahead
        (it renews a valid token that is due, and never prompts); a waiting request takes a
        valid token as it is (then the caller starts the renewal ahead)."""
        self._load_once()
        token, now = self._token, self.clock()
        if ahead and token is None:
            return None  # logged out before the renewal ahead ran: nothing to renew ahead
        if token is not None and self._usable(token, now):
            return token, None
        if (
            not ahead
            and token is not None
            and self._decide(token, fresh=fresh) is Use.AND_RENEW_AHEAD
        ):
            return token, None
        if token is None:
            reason = "no token yet"
        elif token.is_expired(now) or token.expires_at is None:
            reason = "token expired"
        else:
            reason = f"token expires in {token.expires_at - now:.0f}s"
        renewal = self._ladder(reason, None, deadline, interactive=not ahead)
        return renewal.token, renewal

    def _renew_rejected(self, rejected: Token, why: str, deadline: float) -> _Outcome:
        self._load_once()
        current = self._replacement(rejected)
        if current is not None:
            return current, None
        renewal = self._ladder(f"token rejected ({why})", rejected, deadline)
        return renewal.token, renewal

    def _ladder(
        self, reason: str, rejected: Token | None, deadline: float, *, interactive: bool = True
    ) -> Renewal:
        def climb(
            remaining: Callable[[], float], login: Callable[[float], Token], interacted: bool
        ) -> Renewal:
            return renew(
                self._rungs,
                ours=self._token,
                saved=self._saved,
                rejected=rejected,
                reason=reason,
                remaining=remaining,
                login=login,
                interacted=interacted,
            )

        return self._climb(
            climb, deadline, given=self._password, explicit=False, interactive=interactive
        )

    def _climb(
        self,
        climb: Callable[[Callable[[], float], Callable[[float], Token], bool], Renewal],
        deadline: float,
        *,
        given: str | None,
        explicit: bool,
        interactive: bool = True,
    ) -> Renewal:
        """Run ``climb`` (under the store lock), and when it needs a prompt, ask outside every
        lock and climb again: the store is re-read, so a login by another process meanwhile is
        adopted and the answer is not used. Then publish the result (before any user code)."""
        may_prompt = interactive and _secrets.may_prompt(self.prompt)
        answer: Secret | None = None
        obtained: Token | None = None  # issue 8: what an interaction outside the locks got
        while True:
            interaction: Callable[[float], Token] | None = None

            def secret(answer: Secret | None = answer) -> Secret:
                return _secrets.find(given, self.vault, answer=answer, prompt=may_prompt)

            login = functools.partial(
                log_in,
                self._rungs,
                username=self.account.username,
                secret=secret,
                refusals=self._refusals,
                explicit=explicit,
                may_interact=may_prompt,
                obtained=obtained,
            )
            try:
                renewal = climb(
                    functools.partial(self._remaining, deadline), login, obtained is not None
                )
                break
            except InteractionNeeded as need:  # a device code or a browser: outside every lock
                interaction = need.run
            except PromptNeeded:
                if answer is not None:
                    raise _secrets.not_found(self.vault) from None
                answer = _secrets.ask(self.account)
                if answer is None:
                    raise _secrets.not_found(self.vault) from None
                # A person took their time: the token request gets a whole budget of its own.
                deadline = self.monotonic() + self.token_timeout
            if interaction is not None:
                # Run outside the ``except``: its errors must not carry our internal signal
                # (and the grant it holds) as their context.
                obtained = interaction(self.token_timeout)
                deadline = self.monotonic() + self.token_timeout
        self._token = renewal.token
        self._paused = None
        if renewal.saved:
            self._saved = renewal.token
        self._early_retry_at = 0.0
        self._ahead_failures = 0
        if renewal.clock_skew and not self._skew_warned:
            self._skew_warned = True
            log.warning(
                "token %s had expired on arrival by this computer's clock (is the clock ahead "
                "of the server's?); it is used until the server rejects it",
                renewal.token.fingerprint,
            )
        return renewal

    def _check_pause(self) -> None:
        """Raise the identity provider's last answer while its ``Retry-After`` runs."""
        paused = self._paused
        if paused is not None and self.clock() < paused[0]:
            raise fresh_copy(paused[1]) from None

    def _note_failure(self, exc: SilentAuthError) -> None:
        wait = getattr(exc, "retry_after", None)
        now = self.clock()
        if wait and (self._paused is None or now >= self._paused[0]):  # not our own replay
            self._paused = (now + min(wait, MAX_RETRY_AFTER), exc)

    def _announce(self, renewal: Renewal) -> None:
        """User code, called with no lock of ours held (behaviour 4)."""
        if self.on_token is not None and renewal.how != "adopted":
            self.on_token(renewal.token)

    # -- small pieces -----------------------------------------------------------------------

    def _load_once(self) -> None:
        """Read the store once per process (in the leader); later reads happen in renewals."""
        if self._loaded:
            return
        self._loaded = True
        stored = read_stored(self.vault)
        if isinstance(stored, Token) and self._token is None:  # not None, not CORRUPT
            self._token = self._saved = stored
            log.debug("loaded token %s from %s", stored.fingerprint, self.vault.describe())

    def _replacement(self, rejected: Token) -> Token | None:
        """The current token when it is no longer ``rejected`` (and not expired)."""
        current = self._token
        if current is None or current.access_token == rejected.access_token:
            return None
        return None if current.is_expired(self.clock()) else current

    def _decide(self, token: Token | None, *, fresh: bool = False) -> Use:
        return decide(
            token,
            self.clock(),
            leeway=self._rungs.leeway,
            retry_at=self._early_retry_at,
            background=self.background and not fresh,
        )

    def _usable(self, token: Token, now: float) -> bool:
        if not token.refresh_due(now, self._rungs.leeway):
            return True
        return now < self._early_retry_at and not token.is_expired(now)

    def _deadline(self, timeout: Timeout) -> float:
        """Every timeout is a deadline for the whole operation: waiting plus the request."""
        return self.monotonic() + seconds(timeout, self.token_timeout)

    def _remaining(self, deadline: float) -> float:
        left = deadline - self.monotonic()
        if left <= 0:
            raise TokenEndpointError(
                "no time was left for the token request (the request's timeout was spent "
                "waiting for the store lock); it is retried on the next request",
                retryable=True,
            )
        return left

    def _after_fork(self) -> None:
        # The parent's renewal ahead is not running here (its thread is the parent's); the
        # child renews on its own, meeting the parent at the store lock (it adopts the token
        # the parent stored, never spending the same refresh token twice).
        self._flight.reset()
        self._ahead_lock = threading.Lock()
        self._ahead = None


# -- fork safety (behaviour 15) -------------------------------------------------------------
# A child forked while a thread of the parent was renewing inherits a flight that never lands.
# Every live manager forgets it in the child, with fresh locks.

_live: weakref.WeakSet[TokenManager] = weakref.WeakSet()


def _reset_in_child() -> None:
    for manager in list(_live):
        manager._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
