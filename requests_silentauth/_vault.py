"""One account's values in a store, encoded: the token set, the secret and the record of a
refused secret. The manager talks to this, never to a store directly, so the store itself can
stay a small key-value protocol (issue 7).

Tokens are kept per ``Account`` (endpoint, user, client id, scope); the secret and its refusal
record per ``Account.secret_account()`` (endpoint, user): one password serves every client."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from ._store import Account, Store, held
from ._token import Token

__all__ = ["Refusal", "Vault"]


@dataclass(frozen=True)
class Refusal:
    """A secret the server refused: its salted id, until when it is not tried again, and the
    server's message (so other processes can raise the same error)."""

    secret_id: str
    until: float
    message: str
    error: str | None = None


class Vault:
    def __init__(self, store: Store, account: Account) -> None:
        self.store = store
        self.account = account

    # -- the token set: StoreError(corrupt=True) when unreadable -------------------------------

    def get_token(self) -> Token | None:
        return self.store.get_token(self.account)

    def set_token(self, token: Token | None) -> None:
        self.store.set_token(self.account, token)

    # -- the secret, shared by every client and scope of (endpoint, user) ---------------------

    def get_secret(self) -> str | None:
        return self.store.get_secret(self.account.secret_account())

    def set_secret(self, secret: str) -> None:
        self.store.set_secret(self.account.secret_account(), secret)

    def delete_secret(self) -> None:
        self.store.delete_secret(self.account.secret_account())

    # -- the refusal record: None when absent or unreadable -----------------------------------

    def get_refusal(self) -> Refusal | None:
        raw = self.store.get_refusal(self.account.secret_account())
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            error = data.get("error")
            return Refusal(
                str(data["id"]),
                float(data["until"]),
                str(data["message"]),
                error if isinstance(error, str) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def set_refusal(self, refusal: Refusal | None) -> None:
        record = None
        if refusal is not None:
            record = json.dumps(
                {
                    "id": refusal.secret_id,
                    "until": refusal.until,
                    "message": refusal.message,
                    "error": refusal.error,
                }
            )
        self.store.set_refusal(self.account.secret_account(), record)

    # -- coordination ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The store's per-account lock; a custom lock failing with OSError is a StoreError."""
        with held(self.store.lock(self.account)):
            yield

    def describe(self) -> str:
        return self.store.describe()
