"""The one stateful piece: the current token, the lock, and the refresh ladder.

Lock order, always: the manager's thread lock, then the store's per-account lock (a file lock
for persistent stores). Threads of one process meet at the first; processes meet at the second
and re-read the store inside it, so a token renewed by anyone is adopted, not renewed again."""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable

from ._endpoint import Timeout, TokenClient
from ._errors import CredentialsNotFound, InvalidCredentials, SilentAuthError, StoreError
from ._grants import Credentials, Grant
from ._origins import origin_of
from ._store import Account, Store, held
from ._token import Token

log = logging.getLogger("requests_silentauth")


class TokenManager:
    def __init__(
        self,
        grant: Grant,
        *,
        account: Account,
        password: str | None,
        store: Store,
        client: TokenClient,
        leeway: float,
        on_token: Callable[[Token], object] | None,
        prompt: bool | None,
        login_backoff: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.grant = grant
        self.account = account
        self.store = store
        self.client = client
        self.leeway = leeway
        self.on_token = on_token
        self.prompt = prompt
        self.login_backoff = login_backoff
        self.clock = clock
        self._password = password
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._loaded = False
        self._early_retry_at = 0.0  # after a failed early renewal, not before this time
        # The token this process last read from or wrote to the store (to notice a logout).
        self._saved: Token | None = None
        self._adopted = False  # whether the last renewal adopted another process's token
        # (salted id of the refused secret, until when it is not tried again, the error)
        self._refused: tuple[str, float, InvalidCredentials] | None = None

    # -- reading ----------------------------------------------------------------------------

    @property
    def token(self) -> Token | None:
        return self._token

    def _load_once(self) -> None:
        """Read the store once per process; later reads happen only inside a renewal."""
        if self._loaded:
            return
        self._loaded = True
        stored = self._stored_token()
        if stored is not None and self._token is None:
            self._token = stored
            self._saved = stored
            log.debug("loaded token %s from %s", stored.fingerprint, self.store.describe())

    def _stored_token(self) -> Token | None:
        try:
            return self.store.get_token(self.account)
        except StoreError as exc:
            if not exc.corrupt:
                raise
            log.warning("%s; logging in again", exc)
            return None

    # -- the two entry points ---------------------------------------------------------------

    def for_request(self, timeout: Timeout) -> Token:
        """A token to send now: the current one while it is fresh, else a renewed one."""
        token = self._token
        if token is not None and self._usable_now(token):
            return token  # the per-request path: no lock, no store, no I/O
        with self._lock:
            self._load_once()
            token = self._token
            now = self.clock()
            if token is not None and self._usable_now(token):
                return token
            if token is None:
                reason = "no token yet"
            elif token.is_expired(now):
                reason = "token expired"
            else:
                reason = f"token expires in {token.expires_at - now:.0f}s"  # type: ignore[operator]
            try:
                return self._renew(reason, timeout, rejected=None)
            except SilentAuthError as exc:
                now = self.clock()
                if token is None or token.is_expired(now):
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
                return token

    def _usable_now(self, token: Token) -> bool:
        now = self.clock()
        if not token.refresh_due(now, self.leeway):
            return True
        return now < self._early_retry_at and not token.is_expired(now)

    def after_rejection(self, rejected: Token, timeout: Timeout, why: str) -> tuple[Token, bool]:
        """The server refused ``rejected``. If another thread already replaced it, the current
        token is returned with no request; otherwise the token is renewed (single flight). The
        flag says whether this call renewed it."""
        with self._lock:
            current = self._token
            if (
                current is not None
                and current.access_token != rejected.access_token
                and not current.is_expired(self.clock())
            ):
                # Another thread replaced it already. (If that token was issued before whatever
                # revoked this one, its rejection lets this request renew once: see Flow.)
                log.debug(
                    "token %s was rejected (%s) but already replaced by %s; retrying with it",
                    rejected.fingerprint,
                    why,
                    current.fingerprint,
                )
                return current, False
            token = self._renew(f"token rejected ({why})", timeout, rejected=rejected)
            # Adopting another process's token is not this request's renewal: if that token
            # was revoked too, the request may still renew once (see Flow.handle).
            return token, not self._adopted

    def verify(self, timeout: Timeout) -> Token:
        with self._lock:
            self._load_once()
            token = self._token
            if token is None:
                return self._renew("no token yet", timeout, rejected=None)
            valid = self.grant.verify(self.client, token, timeout)
            if valid is None:
                valid = not token.refresh_due(self.clock(), self.leeway)
            if valid:
                log.debug("token %s verified", token.fingerprint)
                return token
            return self._renew("token failed verification", timeout, rejected=token)

    def login(self, password: str | None, timeout: Timeout, *, remember: bool) -> Token:
        """Log in now, with ``password`` when given (else the usual lookup), whatever token is
        held: what ``silentauth login`` does to verify a password before storing it."""
        with self._lock, held(self.store.lock(self.account)):
            self._loaded = True
            saved = self._password
            if password is not None:
                self._password = password
                self._refused = None
            try:
                token = self._login(timeout, explicit=True)
            finally:
                self._password = saved
            self._install(token)
            if remember and password is not None:
                self.store.set_secret(self.account, password)
            return token

    def forget(self, *, forget_password: bool) -> None:
        with self._lock, held(self.store.lock(self.account)):
            self._token = None
            self._saved = None
            self._loaded = True
            self.store.set_token(self.account, None)
            if forget_password:
                self.store.delete_secret(self.account)
                self._clear_refusal()

    # -- the ladder -------------------------------------------------------------------------

    def _renew(self, reason: str, timeout: Timeout, *, rejected: Token | None) -> Token:
        """Called with the thread lock held. Takes the store lock, re-reads the store (another
        process may have renewed already), then refresh, then login."""
        self._adopted = False
        with held(self.store.lock(self.account)):
            base = self._token
            stored = self._stored_token()
            if stored is None and base is not None and base is self._saved:
                # The token we saved is gone from the store: a logout elsewhere (silentauth
                # logout). Do not resurrect it with its refresh token; log in afresh.
                log.debug(
                    "token %s was removed from the store; not refreshing it", base.fingerprint
                )
                base = None
                reason = "the stored token was removed (logout)"
            if stored is not None and stored != base and _newer(stored, base):
                usable = not stored.refresh_due(self.clock(), self.leeway)
                if usable and (rejected is None or stored.access_token != rejected.access_token):
                    log.debug("adopting token %s renewed by another process", stored.fingerprint)
                    self._token = self._saved = stored
                    self._adopted = True
                    return stored
                # Its refresh token is the newest (rotation by another process). A stored token
                # older than ours (our last write failed) is not: its refresh token is spent.
                base = stored
            new: Token | None = None
            if base is not None and base.refresh_token:
                log.debug("refreshing token %s: %s", base.fingerprint, reason)
                new = self.grant.refresh(self.client, base, timeout)
                if new is None:
                    reason = "refresh token refused (invalid_grant)"
                else:
                    new = new.with_refresh_fallback(base)
            if new is None:
                log.debug("logging in as %s: %s", self.account.username or "-", reason)
                new = self._login(timeout)
            self._install(new)
            return new

    def _install(self, token: Token) -> None:
        """Persist first (a rotated refresh token must be saved before the new access token is
        used, or a crash would leave a spent refresh token in the store), then publish."""
        try:
            self.store.set_token(self.account, token)
            self._saved = token
        except StoreError as exc:
            log.warning("could not save the renewed token (%s); it is kept in memory", exc)
        self._token = token
        self._early_retry_at = 0.0
        log.debug("new token %s, expires_at=%s", token.fingerprint, token.expires_at)
        if self.on_token is not None:
            self.on_token(token)

    def _login(self, timeout: Timeout, *, explicit: bool = False) -> Token:
        source: list[str] = []

        def resolve() -> str:
            secret, origin = self._secret()
            source.append(origin)
            if not explicit:  # an explicit login (silentauth login) always tries
                self._check_refusal(secret)
            return secret

        credentials = Credentials(self.account.username or None, resolve)
        try:
            token = self.grant.login(self.client, credentials, timeout)
        except InvalidCredentials as exc:
            if credentials.used_secret and not exc.retry_at:
                self._record_refusal(credentials.password, exc)
            raise
        if credentials.used_secret and (explicit or self._refused is not None):
            self._clear_refusal()  # other processes may try this secret again at once
        if source and source[0] == "prompt":
            try:
                self.store.set_secret(self.account, credentials.password)
                log.debug("stored the password for %s after a login", self.account.username)
            except StoreError as exc:
                log.warning("could not store the password (%s); it will be asked again", exc)
        return token

    # -- no account lockouts: a refused secret is not tried again for login_backoff ---------
    # The record lives in the store too, so a cron job starting a new process every minute
    # does not retry a stale password every minute.

    def _secret_id(self, secret: str) -> str:
        return hashlib.sha256(f"{self.account.key()}\0{secret}".encode()).hexdigest()[:32]

    def _check_refusal(self, secret: str) -> None:
        if self.login_backoff <= 0:
            return
        refused = self._refused
        if refused is None:
            refused = self._stored_refusal()
        self._refused = refused  # remembered, so a later success clears the stored record
        if refused is None or refused[0] != self._secret_id(secret):
            return
        if self.clock() < refused[1]:
            raise _still_refused(refused[2], refused[1], self.clock())

    def _stored_refusal(self) -> tuple[str, float, InvalidCredentials] | None:
        try:
            raw = self.store.get_refusal(self.account)
            if raw is None:
                return None
            data = json.loads(raw)
            first = InvalidCredentials(
                str(data["message"]), error=data.get("error"), retry_at=float(data["until"])
            )
            return str(data["id"]), float(data["until"]), first
        except (StoreError, ValueError, KeyError, TypeError) as exc:
            log.debug("ignoring the stored login refusal (%s)", type(exc).__name__)
            return None

    def _record_refusal(self, secret: str, exc: InvalidCredentials) -> None:
        if self.login_backoff <= 0:
            return
        until = self.clock() + self.login_backoff
        exc.retry_at = until
        self._refused = (self._secret_id(secret), until, exc)
        record = {"id": self._refused[0], "until": until, "message": str(exc), "error": exc.error}
        try:
            self.store.set_refusal(self.account, json.dumps(record))
        except StoreError as err:
            log.debug("could not record the login refusal in the store (%s)", err)

    def _clear_refusal(self) -> None:
        self._refused = None
        try:
            self.store.set_refusal(self.account, None)
        except StoreError as err:
            log.debug("could not clear the login refusal in the store (%s)", err)

    def _secret(self) -> tuple[str, str]:
        if self._password is not None:
            return self._password, "given"
        stored = self.store.get_secret(self.account)
        if stored is not None:
            return stored, "store"
        if self._can_prompt():
            where = origin_of(self.account.endpoint)
            secret = getpass.getpass(
                f"Password for {self.account.username or 'client'} at {where}: "
            )
            if secret:
                return secret, "prompt"
        user = self.account.username
        raise CredentialsNotFound(
            f"no password is stored for {user or 'the client'} at "
            f"{origin_of(self.account.endpoint)} "
            f"({self.store.describe()}); store one with: silentauth login --url "
            f"{self.account.endpoint}" + (f" --username {user}" if user else "")
        )

    def _can_prompt(self) -> bool:
        if self.prompt is not None:
            return self.prompt
        try:
            return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False


#: Seconds before a failed early renewal is tried again while the token is still valid.
EARLY_RETRY_PAUSE = 5.0


def _newer(stored: Token, ours: Token | None) -> bool:
    """Whether the stored token was issued after ours (so another process renewed it)."""
    if ours is None:
        return True
    return (stored.issued_at or 0.0) >= (ours.issued_at or 0.0)


def _still_refused(first: InvalidCredentials, until: float, now: float) -> InvalidCredentials:
    wait = max(0, int(until - now + 0.999))
    exc = InvalidCredentials(
        f"{first} (not tried again for {wait}s to avoid locking the account; "
        "store the right password with `silentauth login` to retry now)",
        error=first.error,
        error_description=first.error_description,
        retry_at=until,
    )
    return exc
