"""The renewal ladder: adopt a token another process stored, else refresh, else log in.

``plan`` decides the rung from explicit inputs, with no I/O and no clock of its own; ``renew``
carries it out under the store's per-account lock and returns what happened (a ``Renewal``)
instead of leaving flags for the caller to read. Processes meet at the store lock and re-read
the store inside it, so a token renewed by anyone is adopted, not renewed again."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Literal

from ._backoff import Refusals
from ._endpoint import TokenClient, token_work
from ._errors import InvalidCredentials, StoreError
from ._grants import Credentials, Grant
from ._secrets import Secret
from ._token import Token
from ._vault import Vault

__all__ = [
    "CORRUPT",
    "Adopt",
    "Login",
    "Refresh",
    "Renewal",
    "Rungs",
    "carry_out",
    "log_in",
    "login_now",
    "plan",
    "read_stored",
    "renew",
]

log = logging.getLogger("requests_silentauth")


class _Corrupt:
    def __repr__(self) -> str:
        return "CORRUPT"


#: The store holds a token set that cannot be read back (issue 7, behaviour 14).
CORRUPT = _Corrupt()

How = Literal["adopted", "refreshed", "logged_in"]


@dataclass(frozen=True)
class Adopt:
    """Use the token another process stored: no token request."""

    token: Token


@dataclass(frozen=True)
class Refresh:
    """Refresh ``base`` (RFC 6749 §6): its refresh token is the newest one we know."""

    base: Token
    reason: str


@dataclass(frozen=True)
class Login:
    reason: str


Step = Adopt | Refresh | Login


@dataclass(frozen=True)
class Renewal:
    """What a renewal did. ``saved``: the store now holds ``token`` (False when the write failed
    and the token lives in memory only). ``clock_skew``: the token arrived already expired by
    our clock, so it is used with an unknown expiry until the server rejects it."""

    token: Token
    how: How
    saved: bool = True
    clock_skew: bool = False


def plan(
    *,
    ours: Token | None,
    saved: Token | None,
    stored: Token | _Corrupt | None,
    rejected: Token | None,
    now: float,
    leeway: float,
    reason: str,
    dead: Container[str] = frozenset(),
) -> Step:
    """The rung to take. ``ours``: the token in memory; ``saved``: the token this process last
    read from or wrote to the store; ``stored``: what the store holds now; ``rejected``: the
    token the server just refused, if that is why we renew; ``dead``: digests of refresh tokens
    the server refused (``refresh_digest``)."""
    if stored is None and saved is not None:
        # The token we saved is gone from the store: a logout elsewhere (silentauth logout).
        # Do not resurrect the session with our refresh token; log in afresh.
        return Login("the stored token was removed (logout)")
    base = ours
    if isinstance(stored, Token) and stored not in (ours, saved) and _newer(stored, ours):
        # Another process renewed (the store changed since we last saw it). A stored token
        # that is still the one we saved is not news: when our own write failed, ours is newer
        # and the stored refresh token is spent (behaviour 3).
        fresh = not stored.refresh_due(now, leeway)
        if fresh and (rejected is None or stored.access_token != rejected.access_token):
            return Adopt(stored)
        base = stored  # rejected or due too, but its refresh token is the newest (rotation)
    if base is not None and base.refresh_token:
        if refresh_digest(base.refresh_token) in dead:
            return Login("the refresh token was refused before (invalid_grant)")
        return Refresh(base, reason)
    return Login(reason)


def refresh_digest(refresh_token: str) -> str:
    """How a refused refresh token is remembered: a digest, never the token."""
    return hashlib.sha256(refresh_token.encode("utf-8", "surrogatepass")).hexdigest()


def _newer(stored: Token, ours: Token | None) -> bool:
    """Whether the stored token was issued at or after ours. A stored token older than ours is
    not used: its refresh token was spent by our refresh."""
    if ours is None:
        return True
    return (stored.issued_at or 0.0) >= (ours.issued_at or 0.0)


@dataclass(frozen=True)
class Rungs:
    """What the ladder climbs with. ``clock`` is the wall clock tokens expire on."""

    grant: Grant
    client: TokenClient
    vault: Vault
    leeway: float
    clock: Callable[[], float]
    #: Digests of refresh tokens the server refused (``invalid_grant``) in this process: never
    #: presented again, so a login that cannot happen here (no password, nobody to ask) does
    #: not cost a refused refresh per request, which reuse detection logs as a replay.
    dead: set[str] = dataclasses.field(default_factory=set)


def read_stored(vault: Vault) -> Token | _Corrupt | None:
    """The stored token; ``CORRUPT`` when it cannot be read back (replaced by the next write)."""
    try:
        return vault.get_token()
    except StoreError as exc:
        if not exc.corrupt:
            raise
        log.warning("%s; logging in again", exc)
        return CORRUPT


def renew(
    rungs: Rungs,
    *,
    ours: Token | None,
    saved: Token | None,
    rejected: Token | None,
    reason: str,
    remaining: Callable[[], float],
    login: Callable[[float], Token],
    interacted: bool = False,
) -> Renewal:
    """Take the store lock, re-read the store, climb the ladder. ``remaining()`` gives the
    seconds left for a token request (raising when none are); ``login(seconds)`` is the login
    rung (``log_in`` with the secret lookup bound). ``interacted``: a person just logged in
    outside the locks (issue 8), so the login rung has a fresh token to install; a token
    another process stored meanwhile is still adopted, but no refresh token is tried again
    (ours was just refused, and a failed retry would throw the person's login away)."""
    with rungs.vault.lock(remaining()):  # another process's renewal: within our deadline
        step = plan(
            ours=ours,
            saved=saved,
            stored=read_stored(rungs.vault),
            rejected=rejected,
            now=rungs.clock(),
            leeway=rungs.leeway,
            reason=reason,
            dead=rungs.dead,
        )
        if interacted and isinstance(step, Refresh):
            step = Login("a person just logged in")
        return carry_out(step, rungs, remaining=remaining, login=login)


def login_now(
    rungs: Rungs,
    remaining: Callable[[], float],
    login: Callable[[float], Token],
    interacted: bool = False,
) -> Renewal:
    """An explicit login (``silentauth login``): under the store lock, whatever it holds
    (``interacted`` changes nothing: it never refreshes)."""
    with rungs.vault.lock(remaining()):
        return carry_out(Login("login requested"), rungs, remaining=remaining, login=login)


def carry_out(
    step: Step,
    rungs: Rungs,
    *,
    remaining: Callable[[], float],
    login: Callable[[float], Token],
) -> Renewal:
    """Do ``step``; called with the store lock held. A dead refresh token (the grant returns
    None for ``invalid_grant``) goes on to a login."""
    if isinstance(step, Adopt):
        log.debug("adopting token %s renewed by another process", step.token.fingerprint)
        return Renewal(step.token, "adopted")
    if isinstance(step, Refresh):
        log.debug("refreshing token %s: %s", step.base.fingerprint, step.reason)
        with token_work():  # the grant's own requests never wait for a token (our adapter)
            new = rungs.grant.refresh(rungs.client, step.base, remaining())
        if new is not None:
            return _install(rungs, new.with_refresh_fallback(step.base), "refreshed")
        if step.base.refresh_token:
            rungs.dead.add(refresh_digest(step.base.refresh_token))
        step = Login("refresh token refused (invalid_grant)")
    log.debug("logging in as %s: %s", rungs.vault.account.username or "-", step.reason)
    return _install(rungs, login(remaining()), "logged_in")


def _install(rungs: Rungs, token: Token, how: How) -> Renewal:
    """Persist before use: a rotated refresh token must be in the store before the new access
    token is used, or a crash would leave a spent refresh token there. A write that fails, with
    whatever exception a custom store raises, keeps the token in memory (behaviour 3)."""
    now = rungs.clock()
    skew = token.is_expired(now)
    if skew:
        # Expired on arrival (our clock is ahead of the server's, or a tiny expires_in took
        # longer than its life to arrive): believing it would cost a token request per API
        # request. Use it until the server rejects it (behaviour 13).
        token = dataclasses.replace(token, expires_at=None)
    elif token.refresh_due(now, rungs.leeway):
        # Due on arrival (a slow identity provider ate most of a short life): the leeway is
        # measured against the life left when it arrived, or every request would renew it.
        token = dataclasses.replace(token, issued_at=now)
    try:
        rungs.vault.set_token(token)
    except Exception as exc:
        # A custom store's message may quote what it was given: only ours are logged whole.
        what = str(exc) if isinstance(exc, StoreError) else type(exc).__name__
        log.warning("could not save the renewed token (%s); it is kept in memory", what)
        return Renewal(token, how, saved=False, clock_skew=skew)
    log.debug("new token %s, expires_at=%s", token.fingerprint, token.expires_at)
    return Renewal(token, how, clock_skew=skew)


def log_in(
    rungs: Rungs,
    timeout: float,
    *,
    username: str | None,
    secret: Callable[[], Secret],
    refusals: Refusals,
    explicit: bool,
    may_interact: bool = False,
    obtained: Token | None = None,
) -> Token:
    """The login rung. The secret is looked up only when the grant reads it; a refused one is
    recorded for the back-off, and (unless ``explicit``: ``silentauth login`` always tries) a
    secret still in its back-off is not sent. A prompted secret is stored once it worked.
    ``may_interact``/``obtained``: for interactive grants (issue 8), whether a person may be
    asked, and the token an interaction outside the locks already got."""
    found: list[Secret] = []

    def resolve() -> str:
        each = secret()
        found.append(each)
        if not explicit:
            refusals.check(each.value, rungs.clock())
        return each.value

    credentials = Credentials(
        username or None,
        resolve,
        may_interact=may_interact,
        obtained=obtained,
        login_command=rungs.vault.login_command,
    )
    try:
        with token_work():  # a login callable may post through the application's session
            token = rungs.grant.login(rungs.client, credentials, timeout)
    except InvalidCredentials as exc:
        if found and not exc.retry_at:
            refusals.record(found[0].value, exc, rungs.clock())
        raise
    if found and (explicit or refusals.known):
        refusals.clear()  # other processes may try this secret again at once
    if found and found[0].origin == "prompt":
        try:
            rungs.vault.set_secret(found[0].value)
            log.debug("stored the password for %s after a login", username)
        except Exception as exc:
            what = str(exc) if isinstance(exc, StoreError) else type(exc).__name__
            log.warning("could not store the password (%s); it will be asked again", what)
    return token
