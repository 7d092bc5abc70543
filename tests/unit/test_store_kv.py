"""The Store protocol (get/set/delete/lock/describe) as each built-in store implements it: the
same contract for MemoryStore, FileStore (in tmp_path) and KeyringStore (over an in-process
dict backend, never the user's keyring); and the entry names that keep earlier logins readable."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from requests_silentauth import StoreError, Token
from requests_silentauth._store import Account, FileStore, KeyringStore, MemoryStore, Store
from requests_silentauth._vault import Vault

ENDPOINT = "https://login.example.com/token"
ALICE = Account(ENDPOINT, "alice")
BOB = Account(ENDPOINT, "bob")
ELSEWHERE = Account("https://other.example.com/token", "alice")
ADMIN = Account(ENDPOINT, "alice", client_id="admin")
READER = Account(ENDPOINT, "alice", client_id="reader", scope="read")
READER_WRITE = Account(ENDPOINT, "alice", client_id="reader", scope="read write")
ACCOUNTS = [ALICE, BOB, ELSEWHERE, ADMIN, READER, READER_WRITE]


class DictKeyring(KeyringBackend):
    """keyring's backend interface over a dict; priority 0, so discovery never picks it."""

    priority = 0

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


@pytest.fixture
def backend() -> Iterator[DictKeyring]:
    previous = keyring.get_keyring()
    stub = DictKeyring()
    keyring.set_keyring(stub)
    try:
        yield stub
    finally:
        keyring.set_keyring(previous)


def _memory(tmp: Path, backend: DictKeyring) -> Store:
    return MemoryStore()


def _file(tmp: Path, backend: DictKeyring) -> Store:
    return FileStore(tmp / "sub" / "store.json")


def _keyring(tmp: Path, backend: DictKeyring) -> Store:
    return KeyringStore(lock_dir=tmp / "locks", attempts=1)


def _keyring_named(tmp: Path, backend: DictKeyring) -> Store:
    return KeyringStore("my-tool", lock_dir=tmp / "locks", attempts=1)


@pytest.fixture(
    params=[_memory, _file, _keyring, _keyring_named],
    ids=["memory", "file", "keyring", "keyring-named-service"],
)
def store(request: pytest.FixtureRequest, tmp_path: Path, backend: DictKeyring) -> Store:
    factory: Callable[[Path, DictKeyring], Store] = request.param
    return factory(tmp_path, backend)


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.describe(), str)


def test_get_set_delete(store: Store) -> None:
    assert store.get(ALICE, "token") is None
    store.set(ALICE, "token", "v1")
    assert store.get(ALICE, "token") == "v1"
    store.set(ALICE, "token", "v2")
    assert store.get(ALICE, "token") == "v2"
    store.delete(ALICE, "token")
    assert store.get(ALICE, "token") is None
    store.delete(ALICE, "token")  # deleting what is not there is fine
    store.delete(BOB, "secret")


def test_every_account_and_name_is_its_own_value(store: Store) -> None:
    names = ["token", "secret", "refused"]
    for account in ACCOUNTS:
        for name in names:
            store.set(account, name, f"{account.key()}/{name}")
    for account in ACCOUNTS:
        for name in names:
            assert store.get(account, name) == f"{account.key()}/{name}"
    for account in ACCOUNTS:
        for name in names:
            store.delete(account, name)
            assert store.get(account, name) is None
    assert all(store.get(a, n) is None for a in ACCOUNTS for n in names)


@pytest.mark.parametrize(
    "value",
    ["", 'p\u00e4ss \u4e2d\u6587 \U0001f511 "q" \\ back', "x" * 7000, "sa1:3:0123:abc", "{}"],
    ids=["empty", "unicode", "big", "head-like", "json-like"],
)
def test_any_text_round_trips(store: Store, value: str) -> None:
    store.set(ALICE, "secret", value)
    assert store.get(ALICE, "secret") == value


def test_tokens_of_different_clients_or_scopes_never_meet(store: Store) -> None:
    # issue 7 behaviour 2: a read-only client never reads an admin client's token.
    Vault(store, ADMIN).set_token(Token("at-admin"))
    assert Vault(store, READER).get_token() is None
    assert Vault(store, ALICE).get_token() is None
    Vault(store, READER).set_secret("pw")
    assert Vault(store, ADMIN).get_secret() == "pw"  # one password for every client


def test_a_logout_leaves_nothing(store: Store, backend: DictKeyring, tmp_path: Path) -> None:
    vault = Vault(store, READER)
    vault.set_token(Token("A" * 9000, refresh_token="R" * 3000))
    vault.set_secret("s" * 4000)
    vault.set_token(None)
    vault.delete_secret()
    vault.set_refusal(None)
    assert backend.entries == {}
    if isinstance(store, FileStore):
        assert json.loads(store.path.read_text("utf-8")) == {}
    if isinstance(store, MemoryStore):
        assert "0 secrets, 0 tokens" in repr(store)


# -- keyring entry names: what earlier versions wrote stays readable ---------------------------


def test_keyring_names_of_a_plain_account_are_unchanged(
    backend: DictKeyring, tmp_path: Path
) -> None:
    kstore = KeyringStore(lock_dir=tmp_path)
    service = f"requests-silentauth {ENDPOINT}"
    backend.entries[(service, "alice")] = "pw-old"
    backend.entries[(service, "alice|token")] = '{"at":"at-old","tt":"Bearer"}'
    vault = Vault(kstore, ALICE)
    assert vault.get_secret() == "pw-old"
    assert vault.get_token() == Token("at-old")
    vault.set_refusal(None)
    kstore.set(ALICE, "refused", "r")
    assert (service, "alice|refused") in backend.entries


def test_keyring_names_with_a_named_service(backend: DictKeyring, tmp_path: Path) -> None:
    kstore = KeyringStore("my-tool", lock_dir=tmp_path)
    Vault(kstore, ALICE).set_secret("pw")
    Vault(kstore, ALICE).set_token(Token("at"))
    assert set(backend.entries) == {
        ("my-tool", f"alice@{ENDPOINT}"),
        ("my-tool", f"alice@{ENDPOINT}|token"),
    }


def test_keyring_token_of_a_client_or_scope_has_its_own_entry(
    backend: DictKeyring, tmp_path: Path
) -> None:
    kstore = KeyringStore(lock_dir=tmp_path)
    service = f"requests-silentauth {ENDPOINT}"
    Vault(kstore, ADMIN).set_token(Token("at-admin"))
    Vault(kstore, ADMIN).set_secret("pw")
    assert set(backend.entries) == {
        (service, f"alice|token|{ADMIN.key()[:12]}"),
        (service, "alice"),  # the password: shared, under the name it always had
    }
    assert kstore.entry_for(ADMIN, "token") != kstore.entry_for(READER, "token")
    assert kstore.entry_for(ALICE, "token") == "alice|token"
    assert kstore.entry_for(ALICE) == kstore.entry_for(ALICE, "secret") == "alice"


@pytest.mark.parametrize("service", [None, "shared-service"])
def test_keyring_entry_names_of_two_accounts_never_meet(service: str | None) -> None:
    """Attack review (issue 11): the user "alice|token" named alice's token entry, so storing
    its password overwrote her token; "alice#p1" could name a chunk part."""
    kstore = KeyringStore(service=service)
    users = ["alice", "alice|token", "alice|secret", "alice#p1", "alice|token|x", "|YWxpY2U"]
    kinds = ["", "token", "refused", "token#p1", "token#gens"]
    names = [
        kstore.entry_for(Account(ENDPOINT, user, client_id=cid), kind)
        for user in users
        for cid in (None, "cli")
        for kind in kinds
    ]
    assert len(names) == len(set(names))


# -- FileStore: the format earlier versions wrote, and damaged files -----------------------------


def test_file_store_reads_a_token_kept_as_a_json_object(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    old = {
        ALICE.key(): {
            "endpoint": ENDPOINT,
            "username": "alice",
            "secret": "pw",
            "token": {"at": "at-old", "tt": "Bearer", "exp": 2e9},
        }
    }
    path.write_text(json.dumps(old), "utf-8")
    vault = Vault(FileStore(path), ALICE)
    assert vault.get_token() == Token("at-old", expires_at=2e9)
    assert vault.get_secret() == "pw"


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"k": ' + '{"a":' * 60_000 + "1" + "}" * 60_001, "\udcff"],
    ids=["deep-list", "deep-object", "not-utf8"],
)
def test_file_store_damaged_file_is_a_corrupt_store_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "store.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(StoreError) as info:
        Vault(FileStore(path), ALICE).get_token()
    assert info.value.corrupt is True
    assert str(path) in str(info.value)


@pytest.mark.parametrize("value", [[1, 2], 5, True], ids=["list", "number", "bool"])
def test_file_store_value_that_is_not_text_is_corrupt(tmp_path: Path, value: object) -> None:
    path = tmp_path / "store.json"
    path.write_text(json.dumps({ALICE.key(): {"secret": "pw", "token": value}}), "utf-8")
    store = FileStore(path)
    with pytest.raises(StoreError) as info:
        Vault(store, ALICE).get_token()
    assert info.value.corrupt is True
    assert Vault(store, ALICE).get_secret() == "pw"  # the rest of the entry is still readable
    Vault(store, ALICE).set_token(Token("fresh"))  # and the next login replaces it
    assert Vault(store, ALICE).get_token() == Token("fresh")


def test_file_store_refuses_value_names_that_are_its_own_fields(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store.json")
    with pytest.raises(ValueError, match="username"):
        store.set(ALICE, "username", "x")


# -- the lock within a deadline, and after a fork -----------------------------------------------


def test_a_held_memory_store_lock_is_waited_for_within_the_deadline_only() -> None:
    import threading

    from requests_silentauth import Account, MemoryStore, StoreError
    from requests_silentauth._vault import Vault

    store = MemoryStore()
    vault = Vault(store, Account("https://login.example.test/t", "alice"))
    with vault.lock():
        busy = "timed out after 0s waiting for another renewal"
        with pytest.raises(StoreError, match=busy), vault.lock(timeout=0.0):
            pass
        done = threading.Event()

        def other() -> None:
            with vault.lock(timeout=30.0):
                done.set()

        t = threading.Thread(target=other)
        t.start()
    t.join(30)
    assert done.is_set()


def test_a_held_file_lock_is_waited_for_within_the_deadline_only(tmp_path: Path) -> None:
    import filelock

    from requests_silentauth import Account, FileStore, StoreError
    from requests_silentauth._vault import Vault

    store = FileStore(tmp_path / "s.json")
    account = Account("https://login.example.test/t", "alice")
    path = store.path.with_name(f"{store.path.name}.{account.key()[:12]}.lock")
    other_process = filelock.FileLock(str(path))
    other_process.acquire()
    try:
        with pytest.raises(StoreError, match="timed out after 0s"), Vault(store, account).lock(0.0):
            pass
    finally:
        other_process.release()
    with Vault(store, account).lock(timeout=0.0):
        pass


def test_the_fork_reset_frees_a_memory_store_lock_a_parent_thread_held() -> None:
    from requests_silentauth import Account, MemoryStore
    from requests_silentauth._store import _reset_in_child
    from requests_silentauth._vault import Vault

    store = MemoryStore()
    vault = Vault(store, Account("https://login.example.test/t", "alice"))
    lock = store.lock(vault.account)
    lock.__enter__()  # a parent thread renewing at the moment of the fork
    _reset_in_child()
    with vault.lock(timeout=0.0):  # the child's own lock, free
        pass
