"""One account's values in a store, encoded: the token set, the secret and the record of a
refused secret. The manager talks to this, never to a store directly, so the store itself is
a small key-value protocol of text values (issue 7) and the codecs live in one place
(``_codecs``) whatever the store.

Tokens are kept per ``Account`` (endpoint, user, client id, scope); the secret and its refusal
record per ``Account.secret_account()`` (endpoint, user): one password serves every client."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ._codecs import Refusal, decode_refusal, decode_token, encode_refusal, encode_token
from ._errors import StoreError
from ._store import REFUSED, SECRET, TOKEN, Account, Store, held
from ._token import Token

__all__ = ["Refusal", "Vault"]


class Vault:
    """Uses only ``get``/``set``/``delete``/``lock``/``describe`` of its store."""

    def __init__(self, store: Store, account: Account) -> None:
        missing = [m for m in ("get", "set", "delete", "lock", "describe") if not hasattr(store, m)]
        if missing:
            # A store written for the per-kind protocol before issue 7 (get_token, set_secret,
            # ...): say how to migrate at construction, not with an AttributeError mid-request.
            raise TypeError(
                f"{type(store).__name__} is not a Store: it lacks {', '.join(missing)}. A store "
                "keeps text values: get/set/delete(account, name), lock(account) and "
                "describe(); the token and refusal records are encoded above it (see the "
                "CHANGELOG for how to migrate a store written for get_token/set_token/...)"
            )
        self.store = store
        self.account = account
        #: The command that stores this account's secret, quoted in ``CredentialsNotFound``
        #: (issue 9: a hint that works when copied); None when no command can.
        self.login_command: str | None = None

    # -- the token set: StoreError(corrupt=True) when unreadable -------------------------------

    def get_token(self) -> Token | None:
        raw = self.store.get(self.account, TOKEN)
        if raw is None:
            return None
        try:
            return decode_token(raw)
        except ValueError as exc:
            # corrupt=True: the manager replaces it with one fresh login (issue 7 behaviour 14).
            raise StoreError(
                f"the token stored in {self.store.describe()} is corrupt ({exc}); it will be "
                "replaced by the next login, or clear it with `silentauth logout`",
                corrupt=True,
            ) from None

    def set_token(self, token: Token | None) -> None:
        if token is None:
            self.store.delete(self.account, TOKEN)
        else:
            self.store.set(self.account, TOKEN, encode_token(token))

    # -- the secret, shared by every client and scope of (endpoint, user) ---------------------

    def get_secret(self) -> str | None:
        return self.store.get(self.account.secret_account(), SECRET)

    def set_secret(self, secret: str) -> None:
        self.store.set(self.account.secret_account(), SECRET, secret)

    def delete_secret(self) -> None:
        self.store.delete(self.account.secret_account(), SECRET)

    # -- the refusal record: None when absent or unreadable -----------------------------------

    def get_refusal(self) -> Refusal | None:
        try:
            raw = self.store.get(self.account.secret_account(), REFUSED)
        except StoreError as exc:
            if exc.corrupt:  # e.g. a keyring part missing: as unreadable as bad JSON
                return None
            raise
        return None if raw is None else decode_refusal(raw)

    def set_refusal(self, refusal: Refusal | None) -> None:
        if refusal is None:
            self.store.delete(self.account.secret_account(), REFUSED)
        else:
            self.store.set(self.account.secret_account(), REFUSED, encode_refusal(refusal))

    # -- coordination ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """The store's per-account lock; a custom lock failing with OSError is a StoreError.
        ``timeout``: wait at most this long (the rest of a request's deadline) where the
        store's lock can be bounded (ours can: ``within(seconds)``)."""
        lock = self.store.lock(self.account)
        within = getattr(lock, "within", None)
        if timeout is not None and callable(within):
            lock = within(timeout)
        with held(lock):
            yield

    def describe(self) -> str:
        return self.store.describe()

    def __repr__(self) -> str:
        return f"Vault({self.store!r}, {self.account.key()[:12]})"
