"""Stores: MemoryStore, FileStore (in tmp_path) and KeyringStore against an in-process keyring
backend that enforces the Windows Credential Manager size limit. Nothing here touches the
user's real keyring: the backend is swapped for the test and restored afterwards."""

from __future__ import annotations

import json
import math
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from requests_silentauth import StoreError
from requests_silentauth._store import (
    CHUNK_BYTES,
    Account,
    FileStore,
    KeyringStore,
    MemoryStore,
    Store,
    held,
)
from requests_silentauth._token import Token
from requests_silentauth._vault import Vault

ALICE = Account("https://login.example.com/token", "alice")
BOB = Account("https://login.example.com/token", "bob")
OTHER_ENDPOINT = Account("https://other.example.com/token", "alice")
SECRET = "pw-3c91f0e2-correct horse battery staple"
TOKEN = Token(
    access_token="at-8b1d5e77-secret",
    refresh_token="rt-0a4c2f19-secret",
    scope="read write",
    expires_at=1_700_003_600.0,
    issued_at=1_700_000_000.0,
)

#: Windows Credential Manager: CRED_MAX_CREDENTIAL_BLOB_SIZE = 5 * 512 bytes of UTF-16.
WINDOWS_LIMIT = 2560


# -- MemoryStore and FileStore: the same contract -----------------------------------------------


StoreFactory = Callable[[Path], Store]


def _memory(_: Path) -> Store:
    return MemoryStore()


def _file(tmp: Path) -> Store:
    return FileStore(tmp / "sub" / "store.json")


@pytest.fixture(params=[_memory, _file], ids=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    factory: StoreFactory = request.param
    return factory(tmp_path)


def test_store_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.describe(), str)


def test_secret_round_trip(store: Store) -> None:
    assert Vault(store, ALICE).get_secret() is None
    Vault(store, ALICE).set_secret(SECRET)
    assert Vault(store, ALICE).get_secret() == SECRET
    assert Vault(store, BOB).get_secret() is None
    assert Vault(store, OTHER_ENDPOINT).get_secret() is None
    Vault(store, ALICE).set_secret("changed")
    assert Vault(store, ALICE).get_secret() == "changed"
    Vault(store, ALICE).delete_secret()
    assert Vault(store, ALICE).get_secret() is None
    Vault(store, ALICE).delete_secret()  # deleting what is not there is fine
    assert Vault(store, ALICE).get_secret() is None


def test_token_round_trip(store: Store) -> None:
    assert Vault(store, ALICE).get_token() is None
    Vault(store, ALICE).set_token(TOKEN)
    assert Vault(store, ALICE).get_token() == TOKEN
    assert Vault(store, BOB).get_token() is None
    minimal = Token("only-access")
    Vault(store, ALICE).set_token(minimal)
    assert Vault(store, ALICE).get_token() == minimal
    Vault(store, ALICE).set_token(None)
    assert Vault(store, ALICE).get_token() is None


def test_secret_and_token_are_independent(store: Store) -> None:
    Vault(store, ALICE).set_secret(SECRET)
    Vault(store, ALICE).set_token(TOKEN)
    Vault(store, ALICE).set_token(None)
    assert Vault(store, ALICE).get_secret() == SECRET
    Vault(store, ALICE).set_token(TOKEN)
    Vault(store, ALICE).delete_secret()
    assert Vault(store, ALICE).get_token() == TOKEN


def test_unicode_secret_round_trip(store: Store) -> None:
    secret = 'p\u00e4ss \u4e2d\u6587 \U0001f511 "quoted" \\ back'
    Vault(store, ALICE).set_secret(secret)
    assert Vault(store, ALICE).get_secret() == secret


def test_repr_does_not_show_secrets(store: Store) -> None:
    Vault(store, ALICE).set_secret(SECRET)
    Vault(store, ALICE).set_token(TOKEN)
    text = repr(store) + store.describe()
    assert SECRET not in text
    assert TOKEN.access_token not in text


def _hold_and_probe(
    store: Store, account: Account, probe: Account, patience: float = 0.3
) -> tuple[bool, bool]:
    """Hold ``store.lock(account)``; in a thread take ``store.lock(probe)``. Returns whether
    the thread got in while the lock was held, and whether it got in after the release."""
    entered = threading.Event()

    def take() -> None:
        with store.lock(probe):
            entered.set()

    with store.lock(account):
        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        # Waiting ``patience`` for something that must NOT happen cannot fail on a slow
        # machine; where it MUST happen, the caller gives it all the time it needs.
        during = entered.wait(patience)
    after = entered.wait(30)
    thread.join(30)
    return during, after


def test_lock_is_a_context_manager_and_exclusive(store: Store) -> None:
    with store.lock(ALICE):
        pass
    with store.lock(ALICE):  # released by the with statement: can be taken again
        pass
    during, after = _hold_and_probe(store, ALICE, ALICE)
    assert not during, "a second holder got the same account's lock while it was held"
    assert after, "the lock was not released"


def test_locks_of_different_accounts_are_independent(store: Store) -> None:
    during, _ = _hold_and_probe(store, ALICE, BOB, patience=30)
    assert during


def test_memory_store_shares_one_lock_per_account() -> None:
    store = MemoryStore()
    assert store.lock(ALICE)._lock is store.lock(ALICE)._lock  # type: ignore[attr-defined]
    assert store.lock(ALICE)._lock is not store.lock(BOB)._lock  # type: ignore[attr-defined]


# -- FileStore specifics ------------------------------------------------------------------------


def _leftovers(directory: Path, keep: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p != keep and not p.name.endswith(".lock"))


def test_file_store_mode_0600_and_private_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "store.json"
    store = FileStore(path)
    Vault(store, ALICE).set_secret(SECRET)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    Vault(store, ALICE).set_token(TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_store_mode_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = FileStore(tmp_path / "store.json")
        Vault(store, ALICE).set_secret(SECRET)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "store.json").stat().st_mode) == 0o600


def test_file_store_writes_by_replacing_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    store = FileStore(path)
    Vault(store, ALICE).set_secret(SECRET)
    first = path.stat().st_ino
    Vault(store, ALICE).set_token(TOKEN)
    Vault(store, BOB).set_secret("bob-secret")
    Vault(store, BOB).delete_secret()
    # A new file is renamed over the old one each time: the old inode is never rewritten.
    assert path.stat().st_ino != first
    assert _leftovers(tmp_path, path) == []
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


def test_file_store_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    writer_store, reader_store = FileStore(path), FileStore(path)
    values = ["a" * 200_000, "b" * 150_000]
    Vault(writer_store, ALICE).set_secret(values[0])
    stop = threading.Event()
    problems: list[str] = []
    writes = 0

    def write() -> None:
        nonlocal writes
        while not stop.is_set():
            Vault(writer_store, ALICE).set_secret(values[writes % 2])
            writes += 1

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    reads = 0
    # Counted, not timed: however slow the machine, reads overlap a number of writes (the
    # deadline only bounds a hang).
    deadline = time.monotonic() + 60
    try:
        while (writes < 20 or reads < 50) and time.monotonic() < deadline:
            try:
                value = Vault(reader_store, ALICE).get_secret()
            except StoreError as exc:
                problems.append(str(exc))
                break
            if value not in values:
                problems.append(f"read a value of length {len(value or '')}")
                break
            reads += 1
    finally:
        stop.set()
        thread.join(10)
    assert problems == []
    assert writes >= 20 and reads >= 50
    assert _leftovers(tmp_path, path) == []


def test_file_store_keeps_other_accounts(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    store = FileStore(path)
    Vault(store, ALICE).set_secret(SECRET)
    Vault(store, ALICE).set_token(TOKEN)
    Vault(store, BOB).set_secret("bob-secret")
    Vault(store, OTHER_ENDPOINT).set_secret("other-secret")
    Vault(store, BOB).set_token(Token("bob-access"))
    Vault(store, OTHER_ENDPOINT).delete_secret()
    # A second instance reads the same file: nothing is only in memory.
    again = FileStore(path)
    assert Vault(again, ALICE).get_secret() == SECRET
    assert Vault(again, ALICE).get_token() == TOKEN
    assert Vault(again, BOB).get_secret() == "bob-secret"
    assert Vault(again, BOB).get_token() == Token("bob-access")
    assert Vault(again, OTHER_ENDPOINT).get_secret() is None
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data) == 2  # an account with nothing left leaves no trace
    assert {e["username"] for e in data.values()} == {"alice", "bob"}


@pytest.mark.parametrize("content", ["{not json", "", "\x00\x01", '{"a": '])
def test_file_store_corrupt_json(tmp_path: Path, content: str) -> None:
    path = tmp_path / "store.json"
    path.write_text(content, encoding="utf-8")
    store = FileStore(path)
    for action in (
        lambda: Vault(store, ALICE).get_secret(),
        lambda: Vault(store, ALICE).get_token(),
        lambda: Vault(store, ALICE).set_secret(SECRET),
    ):
        with pytest.raises(StoreError) as info:
            action()
        assert info.value.corrupt is True
        assert str(path) in str(info.value)
        assert SECRET not in str(info.value)
    # A failed write never replaces the file the user may want to repair.
    assert path.read_text(encoding="utf-8") == content


@pytest.mark.parametrize("content", ["[]", '"text"', "42", "null"])
def test_file_store_json_that_is_not_an_object(tmp_path: Path, content: str) -> None:
    path = tmp_path / "store.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StoreError) as info:
        Vault(FileStore(path), ALICE).get_secret()
    assert info.value.corrupt is True
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "record",
    [{"rt": "rt-2f9a81c3-secret"}, {"at": ""}, {"at": 5}, "text", [1, 2], {"at": "x", "exp": "?"}],
)
def test_file_store_corrupt_token_record(tmp_path: Path, record: Any) -> None:
    path = tmp_path / "store.json"
    store = FileStore(path)
    Vault(store, ALICE).set_secret(SECRET)
    data = json.loads(path.read_text(encoding="utf-8"))
    data[ALICE.key()]["token"] = record
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StoreError) as info:
        Vault(store, ALICE).get_token()
    assert info.value.corrupt is True
    assert "rt-2f9a81c3-secret" not in str(info.value)
    assert Vault(store, ALICE).get_secret() == SECRET  # the rest of the entry is still readable
    Vault(store, ALICE).set_token(TOKEN)  # and the next login replaces the record
    assert Vault(store, ALICE).get_token() == TOKEN


def test_file_store_token_record_with_huge_number(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    huge = "1" + "0" * 400
    path.write_text(f'{{"{ALICE.key()}": {{"token": {{"at": "x", "exp": {huge}}}}}}}', "utf-8")
    assert json.loads(path.read_text("utf-8"))[ALICE.key()]["token"]["exp"] == 10**400
    with pytest.raises(StoreError) as info:
        Vault(FileStore(path), ALICE).get_token()
    assert info.value.corrupt is True


def test_file_store_lock_timeout_becomes_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    holder, waiter = FileStore(path), FileStore(path, lock_timeout=0.2)
    result: list[BaseException | None] = []

    def wait() -> None:
        try:
            with held(waiter.lock(ALICE)):
                result.append(None)
        except BaseException as exc:
            result.append(exc)

    with holder.lock(ALICE):
        thread = threading.Thread(target=wait, daemon=True)
        thread.start()
        thread.join(30)  # returns as soon as the 0.2 s lock timeout fires
    assert len(result) == 1
    assert isinstance(result[0], StoreError)
    assert "timed out" in str(result[0])
    with held(waiter.lock(ALICE)):  # free again once released
        pass


# -- KeyringStore against a Windows-limited in-process backend ----------------------------------


class WindowsLimitKeyring(KeyringBackend):
    """A dict keyring that refuses, like Windows Credential Manager, any value over 2,560 bytes
    of UTF-16. It has no ``priority``, so keyring's discovery never picks it by itself."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.calls.append("get")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls.append("set")
        if len(password.encode("utf-16-le")) > WINDOWS_LIMIT:
            raise keyring.errors.PasswordSetError("The stub received bad data")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls.append("delete")
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None

    def names(self, service: str) -> set[str]:
        return {name for (svc, name) in self.entries if svc == service}


class FlakyReadKeyring(WindowsLimitKeyring):
    """``get_password`` fails ``failures`` times (a D-Bus hiccup), then works."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.reads = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        if self.reads <= self.failures:
            raise RuntimeError("org.freedesktop.DBus.Error.NoReply: hiccup")
        return super().get_password(service, username)


class BrokenWriteKeyring(WindowsLimitKeyring):
    """Reads work; every write fails."""

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls.append("set")
        raise RuntimeError("backend exploded: the collection is gone")


@pytest.fixture
def install_backend() -> Iterator[Callable[[KeyringBackend], None]]:
    previous = keyring.get_keyring()

    def install(backend: KeyringBackend) -> None:
        keyring.set_keyring(backend)
        assert keyring.get_keyring() is backend

    try:
        yield install
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def backend(install_backend: Callable[[KeyringBackend], None]) -> WindowsLimitKeyring:
    stub = WindowsLimitKeyring()
    install_backend(stub)
    return stub


@pytest.fixture
def kstore(tmp_path: Path) -> KeyringStore:
    return KeyringStore(lock_dir=tmp_path / "locks")


def _service(kstore: KeyringStore) -> str:
    return kstore.service_for(ALICE)


def _fits_windows(backend: WindowsLimitKeyring) -> None:
    for value in backend.entries.values():
        assert len(value.encode("utf-16-le")) <= WINDOWS_LIMIT


def test_stub_enforces_the_windows_limit(backend: WindowsLimitKeyring) -> None:
    backend.set_password("s", "u", "x" * 1280)
    with pytest.raises(keyring.errors.PasswordSetError, match="bad data"):
        backend.set_password("s", "u", "x" * 1281)
    with pytest.raises(keyring.errors.PasswordSetError):
        backend.set_password("s", "u", "\U0001f600" * 641)  # 4 bytes each in UTF-16


def test_keyring_small_values_are_single_entries(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    Vault(kstore, ALICE).set_secret(SECRET)
    Vault(kstore, ALICE).set_token(TOKEN)
    assert Vault(kstore, ALICE).get_secret() == SECRET
    assert Vault(kstore, ALICE).get_token() == TOKEN
    assert backend.names(_service(kstore)) == {"alice", "alice|token"}
    assert backend.entries[(_service(kstore), "alice")] == SECRET  # plain, readable by others


def test_keyring_big_token_and_secret_round_trip(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    big = Token(
        access_token="A" * 10_000,
        refresh_token="R" * 500,
        expires_at=1_700_003_600.0,
        issued_at=1_700_000_000.0,
    )
    secret = "".join(chr(0x61 + i % 26) for i in range(3000))
    Vault(kstore, ALICE).set_token(big)
    Vault(kstore, ALICE).set_secret(secret)
    _fits_windows(backend)
    assert Vault(kstore, ALICE).get_token() == big
    assert Vault(kstore, ALICE).get_secret() == secret
    # A fresh store instance (another process) reads the same entries.
    assert Vault(KeyringStore(lock_dir=kstore._lock_root()), ALICE).get_token() == big
    parts = math.ceil(2 * len(json.dumps(big.to_dict(), separators=(",", ":"))) / CHUNK_BYTES)
    assert parts >= 8
    expected = {"alice|token"} | set(_parts(backend, kstore, "alice|token"))
    expected |= {"alice"} | set(_parts(backend, kstore, "alice"))
    assert len(_parts(backend, kstore, "alice|token")) == parts - 1
    assert len(_parts(backend, kstore, "alice")) == 2
    assert backend.names(_service(kstore)) == expected
    for value in backend.entries.values():
        assert big.access_token not in value  # really split, not stored whole somewhere


def test_keyring_bmp_unicode_secret_round_trip(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    secret = "\u4e2d\u00e9" * 1500  # 3,000 characters outside ASCII, 2 UTF-16 bytes each
    Vault(kstore, ALICE).set_secret(secret)
    _fits_windows(backend)
    assert Vault(kstore, ALICE).get_secret() == secret


@pytest.mark.parametrize("length", [700, 3000])
def test_keyring_astral_secret_fits_windows(
    backend: WindowsLimitKeyring, tmp_path: Path, length: int
) -> None:
    kstore = KeyringStore(lock_dir=tmp_path, attempts=1)
    secret = "\U0001f511" * length
    Vault(kstore, ALICE).set_secret(secret)
    assert Vault(kstore, ALICE).get_secret() == secret


def test_keyring_value_that_looks_like_a_chunk_head(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    tricky = "sa1:3:0123456789abcdef:not really chunked"
    Vault(kstore, ALICE).set_secret(tricky)
    assert Vault(kstore, ALICE).get_secret() == tricky


def test_keyring_overwrite_big_with_small_removes_extra_chunks(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    service = _service(kstore)
    Vault(kstore, ALICE).set_token(Token("A" * 10_000))
    Vault(kstore, ALICE).set_secret("s" * 3000)
    assert len(backend.names(service)) >= 12  # 9 token parts + 3 secret parts
    Vault(kstore, ALICE).set_token(Token("A" * 2_500))  # still chunked, fewer parts
    assert {n for n in backend.names(service) if n.startswith("alice|token")} == {
        "alice|token",
        *_parts(backend, kstore, "alice|token"),
    }
    assert len(_parts(backend, kstore, "alice|token")) == 2
    assert Vault(kstore, ALICE).get_token() == Token("A" * 2_500)
    Vault(kstore, ALICE).set_token(TOKEN)
    Vault(kstore, ALICE).set_secret(SECRET)
    assert backend.names(service) == {"alice", "alice|token"}
    assert Vault(kstore, ALICE).get_token() == TOKEN
    assert Vault(kstore, ALICE).get_secret() == SECRET


def test_keyring_delete_removes_every_entry(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    Vault(kstore, ALICE).set_token(Token("A" * 10_000))
    Vault(kstore, ALICE).set_secret("s" * 3000)
    Vault(kstore, BOB).set_token(TOKEN)
    Vault(kstore, ALICE).set_token(None)
    assert Vault(kstore, ALICE).get_token() is None
    assert all(not n.startswith("alice|token") for n in backend.names(_service(kstore)))
    Vault(kstore, ALICE).delete_secret()
    assert Vault(kstore, ALICE).get_secret() is None
    assert backend.names(_service(kstore)) == {"bob|token"}
    Vault(kstore, ALICE).delete_secret()  # nothing left: still fine
    Vault(kstore, BOB).set_token(None)
    assert backend.entries == {}


def test_keyring_missing_middle_chunk_is_corrupt(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    Vault(kstore, ALICE).set_token(Token("A" * 10_000))
    del backend.entries[(_service(kstore), _parts(backend, kstore, "alice|token")[1])]
    with pytest.raises(StoreError, match="missing part 3") as info:
        Vault(kstore, ALICE).get_token()
    assert info.value.corrupt is True
    assert "A" * 50 not in str(info.value)


def test_keyring_checksum_mismatch_is_corrupt(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    Vault(kstore, ALICE).set_secret("s" * 3000)
    key = (_service(kstore), _parts(backend, kstore, "alice")[0])
    backend.entries[key] = "t" + backend.entries[key][1:]  # same length, one character changed
    with pytest.raises(StoreError, match="checksum") as info:
        Vault(kstore, ALICE).get_secret()
    assert info.value.corrupt is True
    assert "s" * 50 not in str(info.value)


def test_keyring_unreadable_head_is_corrupt(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    backend.entries[(_service(kstore), "alice|token")] = "sa1:lots:of:junk"
    with pytest.raises(StoreError) as info:
        Vault(kstore, ALICE).get_token()
    assert info.value.corrupt is True


def test_keyring_corrupt_token_json_is_corrupt(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    backend.entries[(_service(kstore), "alice|token")] = '{"rt": "rt-5e1b-secret"'
    with pytest.raises(StoreError) as info:
        Vault(kstore, ALICE).get_token()
    assert info.value.corrupt is True
    assert "rt-5e1b-secret" not in str(info.value)


def test_keyring_read_is_retried_after_transient_errors(
    install_backend: Callable[[KeyringBackend], None], tmp_path: Path
) -> None:
    flaky = FlakyReadKeyring(failures=2)
    install_backend(flaky)
    service = KeyringStore().service_for(ALICE)
    flaky.entries[(service, "alice")] = SECRET
    assert Vault(KeyringStore(lock_dir=tmp_path, attempts=3), ALICE).get_secret() == SECRET
    assert flaky.reads == 3


def test_keyring_read_gives_up_after_the_attempts(
    install_backend: Callable[[KeyringBackend], None], tmp_path: Path
) -> None:
    flaky = FlakyReadKeyring(failures=2)
    install_backend(flaky)
    with pytest.raises(StoreError, match=r"failed to read a value \(RuntimeError\)") as info:
        Vault(KeyringStore(lock_dir=tmp_path, attempts=2), ALICE).get_secret()
    assert flaky.reads == 2
    assert info.value.corrupt is False
    # By type only, chained to nothing: a backend's text may quote what it was given.
    assert "hiccup" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_keyring_write_failure_says_what_to_do_without_the_secret(
    install_backend: Callable[[KeyringBackend], None], tmp_path: Path
) -> None:
    broken = BrokenWriteKeyring()
    install_backend(broken)
    kstore = KeyringStore(lock_dir=tmp_path, attempts=3)
    with pytest.raises(StoreError) as info:
        Vault(kstore, ALICE).set_secret(SECRET)
    message = str(info.value)
    assert "exploded" not in message  # by type only: a backend's text may quote the value
    assert "FileStore" in message
    assert "PYTHON_KEYRING_BACKEND" in message
    assert SECRET not in message
    assert info.value.corrupt is False
    assert broken.calls.count("set") == 3  # bounded retries
    with pytest.raises(StoreError) as token_info:
        Vault(kstore, ALICE).set_token(TOKEN)
    assert TOKEN.access_token not in str(token_info.value)
    assert TOKEN.refresh_token is not None
    assert TOKEN.refresh_token not in str(token_info.value)


def test_keyring_lock_uses_lock_dir(backend: WindowsLimitKeyring, tmp_path: Path) -> None:
    kstore = KeyringStore(lock_dir=tmp_path / "locks")
    with kstore.lock(ALICE):
        assert any((tmp_path / "locks").iterdir())
    during, after = _hold_and_probe(kstore, ALICE, ALICE)
    assert not during
    assert after


def test_an_unwritable_lock_folder_is_a_store_error(tmp_path: Path) -> None:
    from requests_silentauth import KeyringStore

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the lock folder should be")
    store = KeyringStore(lock_dir=blocker / "locks")
    with pytest.raises(StoreError, match="lock_dir"), store.lock(ALICE):
        pass


def test_an_unwritable_file_store_folder_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot"):
        Vault(FileStore(blocker / "store.json"), ALICE).set_secret(SECRET)


def _parts(backend: Any, kstore: KeyringStore, name: str) -> list[str]:
    """The part entries the head of ``name`` points to, in order (``<name>#<digest>#<i>``)."""
    head = backend.entries[(_service(kstore), name)]
    _, count, digest, _ = head.split(":", 3)
    return [f"{name}#{digest[:8]}#{i}" for i in range(2, int(count) + 1)]


def test_a_chunked_write_that_fails_midway_keeps_the_previous_value(
    backend: WindowsLimitKeyring, kstore: KeyringStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Token("O" * 6_000, refresh_token="rt-old")
    Vault(kstore, ALICE).set_token(old)
    writes = 0
    real_set = backend.set_password

    def failing_set(service: str, username: str, password: str) -> None:
        nonlocal writes
        writes += 1
        if writes == 3:  # a D-Bus hiccup in the middle of writing the new parts
            raise RuntimeError("org.freedesktop.DBus.Error.NoReply")
        real_set(service, username, password)

    before = dict(backend.entries)
    monkeypatch.setattr(backend, "set_password", failing_set)
    single = KeyringStore(lock_dir=kstore._lock_root(), attempts=1)
    with pytest.raises(StoreError):
        Vault(single, ALICE).set_token(Token("N" * 6_000, refresh_token="rt-new"))
    assert Vault(kstore, ALICE).get_token() == old  # the head still points at the old generation
    # issue 7 behaviour 11: the parts the failed write managed to store are gone again
    assert backend.entries == before


def test_a_logout_removes_every_part_of_every_generation(
    backend: WindowsLimitKeyring, kstore: KeyringStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes fail midway while deletes fail too (the backend is down for a while): their parts
    cannot be removed at once. A logout later removes them all, and every other entry."""
    vault = Vault(KeyringStore(lock_dir=kstore._lock_root(), attempts=1), ALICE)
    vault.set_token(Token("O" * 6_000, refresh_token="rt-old"))
    vault.set_secret("s" * 3_000)
    real_set, real_delete = backend.set_password, backend.delete_password
    for attempt in range(3):
        writes = 0

        def failing_set(service: str, username: str, password: str) -> None:
            nonlocal writes
            writes += 1
            if writes == 4:
                raise RuntimeError("org.freedesktop.DBus.Error.NoReply")
            real_set(service, username, password)

        def failing_delete(service: str, username: str) -> None:
            raise RuntimeError("org.freedesktop.DBus.Error.NoReply")

        monkeypatch.setattr(backend, "set_password", failing_set)
        monkeypatch.setattr(backend, "delete_password", failing_delete)
        with pytest.raises(StoreError):
            vault.set_token(Token(f"N{attempt}" * 4_000))
        monkeypatch.setattr(backend, "set_password", real_set)
        monkeypatch.setattr(backend, "delete_password", real_delete)
    assert vault.get_token() == Token("O" * 6_000, refresh_token="rt-old")
    assert len(backend.entries) > 2 + 2 + 2  # stray parts of three generations, for now
    vault.set_token(None)  # silentauth logout
    vault.delete_secret()
    assert backend.entries == {}


def test_keyring_deeply_nested_token_is_corrupt_not_a_recursion_error(
    backend: WindowsLimitKeyring, kstore: KeyringStore
) -> None:
    # issue 7 behaviour 14: damaged store contents are one corrupt-store error, never a crash
    deep = "[" * 100_000 + "]" * 100_000
    Vault(kstore, ALICE).set_secret(SECRET)
    backend.entries[(_service(kstore), "alice|token")] = deep
    with pytest.raises(StoreError) as info:
        Vault(kstore, ALICE).get_token()
    assert info.value.corrupt is True
    assert Vault(kstore, ALICE).get_secret() == SECRET
