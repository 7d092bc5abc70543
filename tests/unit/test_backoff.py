"""The login back-off: pure decisions with ``now`` passed in, and its record kept in memory and
in the vault."""

from __future__ import annotations

import pytest

from requests_silentauth import Account, InvalidCredentials, MemoryStore, StoreError
from requests_silentauth._backoff import Refusals, refusal, secret_id, still_refused
from requests_silentauth._store import REFUSED
from requests_silentauth._vault import Refusal, Vault

ACCOUNT = Account("https://login.example.test/token", "alice", client_id="cli", scope="read")


def test_the_secret_id_is_salted_with_the_secrets_account_and_hides_the_secret() -> None:
    sid = secret_id(ACCOUNT, "hunter2")
    assert len(sid) == 32 and "hunter2" not in sid
    # one password serves every client and scope of (endpoint, user)
    assert sid == secret_id(Account(ACCOUNT.endpoint, "alice"), "hunter2")
    assert sid != secret_id(Account(ACCOUNT.endpoint, "bob"), "hunter2")
    assert sid != secret_id(ACCOUNT, "hunter3")


def test_a_refusal_lasts_the_backoff_for_that_secret_only() -> None:
    first = InvalidCredentials("refused (invalid_grant)", error="invalid_grant")
    record = refusal("id-1", first, now=100.0, backoff=60.0)
    assert record == Refusal("id-1", 160.0, "refused (invalid_grant)", "invalid_grant")
    error = still_refused(record, "id-1", now=100.0)
    assert error is not None and error.retry_at == 160.0 and error.error == "invalid_grant"
    assert "not tried again for 60s" in str(error) and "silentauth login" in str(error)
    assert "not tried again for 1s" in str(still_refused(record, "id-1", now=159.5))
    assert still_refused(record, "id-1", now=160.0) is None  # over
    assert still_refused(record, "id-2", now=100.0) is None  # another secret: try it
    assert still_refused(None, "id-1", now=100.0) is None


class FlakyStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def get(self, account: Account, name: str) -> str | None:
        if self.broken and name == REFUSED:
            raise StoreError("keyring locked")
        return super().get(account, name)

    def set(self, account: Account, name: str, value: str) -> None:
        if self.broken and name == REFUSED:
            raise StoreError("keyring locked")
        super().set(account, name, value)

    def delete(self, account: Account, name: str) -> None:
        if self.broken and name == REFUSED:
            raise StoreError("keyring locked")
        super().delete(account, name)


def test_a_refusal_is_seen_by_the_next_process_and_cleared_by_success() -> None:
    store = MemoryStore()
    first = Refusals(Vault(store, ACCOUNT), backoff=60.0)
    exc = InvalidCredentials("refused")
    first.record("wrong", exc, now=100.0)
    assert exc.retry_at == 160.0
    later = Refusals(Vault(store, ACCOUNT), backoff=60.0)  # another process
    assert not later.known
    with pytest.raises(InvalidCredentials) as info:
        later.check("wrong", now=130.0)
    assert info.value.retry_at == 160.0
    later.check("right", now=130.0)  # a new secret is tried at once
    assert later.known
    later.clear()
    assert Vault(store, ACCOUNT).get_refusal() is None
    Refusals(Vault(store, ACCOUNT), backoff=60.0).check("wrong", now=130.0)


def test_the_backoff_holds_in_memory_when_the_store_fails() -> None:
    store = FlakyStore()
    refusals = Refusals(Vault(store, ACCOUNT), backoff=60.0)
    store.broken = True
    refusals.record("wrong", InvalidCredentials("refused"), now=0.0)
    with pytest.raises(InvalidCredentials):
        refusals.check("wrong", now=1.0)
    refusals.clear()  # the failing store does not stop a login either
    refusals.check("wrong", now=1.0)


def test_a_zero_backoff_records_and_blocks_nothing() -> None:
    store = MemoryStore()
    refusals = Refusals(Vault(store, ACCOUNT), backoff=0.0)
    exc = InvalidCredentials("refused")
    refusals.record("wrong", exc, now=0.0)
    assert exc.retry_at is None and Vault(store, ACCOUNT).get_refusal() is None
    refusals.check("wrong", now=0.0)


# -- edges the mutation run found untested ------------------------------------------------------


def test_a_zero_back_off_never_waits_and_keeps_no_record() -> None:
    store = MemoryStore()
    off = Refusals(Vault(store, ACCOUNT), backoff=0.0)
    off.record("wrong", InvalidCredentials("refused"), now=100.0)
    off.check("wrong", now=100.0)  # no wait
    assert Vault(store, ACCOUNT).get_refusal() is None
    short = Refusals(Vault(store, ACCOUNT), backoff=0.5)
    short.record("wrong", InvalidCredentials("refused"), now=100.0)
    with pytest.raises(InvalidCredentials, match="not tried again for 1s"):
        short.check("wrong", now=100.0)


def test_the_wait_is_rounded_up_and_never_negative() -> None:
    record = Refusal("sid", 100.0, "refused")
    error = still_refused(record, "sid", now=99.9995)
    assert error is not None
    assert str(error) == (
        "refused (not tried again for 0s to avoid locking the account; "
        "store the right password with `silentauth login` to retry now)"
    )
    assert still_refused(record, "sid", now=100.0) is None


def test_a_secret_with_a_lone_surrogate_has_an_id() -> None:
    assert len(secret_id(ACCOUNT, "bad\udcff")) == 32
    assert secret_id(ACCOUNT, "bad\udcff") != secret_id(ACCOUNT, "bad\udcfe")


def test_store_failures_are_logged_and_do_not_stop_a_login(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    store.broken = True
    refusals = Refusals(Vault(store, ACCOUNT), backoff=60.0)
    caplog.set_level("DEBUG", logger="requests_silentauth")
    refusals.check("pw", now=1.0)
    refusals.record("pw", InvalidCredentials("refused"), now=1.0)
    refusals.clear()
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring the stored login refusal (keyring locked)",
        "could not record the login refusal in the store (keyring locked)",
        "could not clear the login refusal in the store (keyring locked)",
    ]
