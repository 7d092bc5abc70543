"""No account lockouts: a secret the server refused is not tried again for ``login_backoff``
seconds, by this process or (through the vault's refusal record) by the next one: a cron job
starting every minute must not retry a stale password every minute until the identity provider
locks the account.

The decisions are pure functions of ``now``; ``Refusals`` only keeps their record, in memory and
in the vault (a failing store must not stop a login, so its errors are logged and ignored)."""

from __future__ import annotations

import hashlib
import logging

from ._errors import InvalidCredentials, StoreError
from ._store import Account
from ._vault import Refusal, Vault

__all__ = ["Refusals", "refusal", "secret_id", "still_refused"]

log = logging.getLogger("requests_silentauth")


def secret_id(account: Account, secret: str) -> str:
    """A salted, non-reversible id of ``secret``: the record names the refused secret without
    holding it. Salted with the account (endpoint, user) the secret belongs to."""
    text = f"{account.secret_account().key()}\0{secret}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def refusal(sid: str, refused: InvalidCredentials, now: float, backoff: float) -> Refusal:
    """The record of a refusal at ``now``: the same secret waits ``backoff`` seconds."""
    return Refusal(sid, now + backoff, str(refused), refused.error)


def still_refused(record: Refusal | None, sid: str, now: float) -> InvalidCredentials | None:
    """The error to raise instead of trying secret ``sid`` at ``now``, or None to try it: a
    different secret (the user stored a new one) is tried at once."""
    if record is None or record.secret_id != sid or now >= record.until:
        return None
    wait = max(0, int(record.until - now + 0.999))
    return InvalidCredentials(
        f"{record.message} (not tried again for {wait}s to avoid locking the account; "
        "store the right password with `silentauth login` to retry now)",
        error=record.error,
        retry_at=record.until,
    )


class Refusals:
    """This account's refusal record: the one this process saw last, and the vault's."""

    def __init__(self, vault: Vault, backoff: float) -> None:
        self.vault = vault
        self.backoff = backoff
        # The record read or written last: kept so that a later success clears the stored one,
        # and so that the back-off holds even when the store cannot keep it.
        self._last: Refusal | None = None

    @property
    def known(self) -> bool:
        return self._last is not None

    def check(self, secret: str, now: float) -> None:
        """Raise ``InvalidCredentials`` when ``secret`` is still in its back-off."""
        if self.backoff <= 0:
            return
        record = self._last if self._last is not None else self._stored()
        self._last = record
        error = still_refused(record, secret_id(self.vault.account, secret), now)
        if error is not None:
            raise error

    def record(self, secret: str, refused: InvalidCredentials, now: float) -> None:
        """The server refused ``secret``: ``refused`` learns until when it is not tried again."""
        if self.backoff <= 0:
            return
        record = refusal(secret_id(self.vault.account, secret), refused, now, self.backoff)
        refused.retry_at = record.until
        self._last = record
        try:
            self.vault.set_refusal(record)
        except StoreError as exc:
            log.debug("could not record the login refusal in the store (%s)", exc)

    def clear(self) -> None:
        """A login succeeded (or the user asked): every process may try again at once."""
        self._last = None
        try:
            self.vault.set_refusal(None)
        except StoreError as exc:
            log.debug("could not clear the login refusal in the store (%s)", exc)

    def _stored(self) -> Refusal | None:
        try:
            return self.vault.get_refusal()
        except StoreError as exc:
            log.debug("ignoring the stored login refusal (%s)", exc)
            return None
