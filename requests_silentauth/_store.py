"""Where credentials and tokens live between runs: a small protocol and three stores.

A store keeps text values by (account, name) and offers a per-account lock; nothing more
(issue 7). What the values mean is the Vault's business (``_vault``, ``_codecs``), and values
too big for one keyring entry are split by ``_chunking``, so a new backend is a few lines.

Only this module imports ``keyring``, and only when a ``KeyringStore`` is first used, so
``import requests_silentauth`` never pays for keyring's backend discovery. Every store offers a
per-account lock: a cross-process file lock for the persistent ones, so parallel CLI runs
renew a token once between them (see docs/design.md)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from ._chunking import CHUNK_BYTES, Chunked
from ._errors import StoreError, clip

if TYPE_CHECKING:
    pass

__all__ = ["CHUNK_BYTES", "Account", "FileStore", "KeyringStore", "MemoryStore", "Store"]

log = logging.getLogger("requests_silentauth")
T = TypeVar("T")


class Account(NamedTuple):
    """Names one set of credentials: the login endpoint and the user (or client id), and for
    tokens also the client and the scope they were issued to (issue 7: a read-only client must
    never pick up an admin client's token). The password is per (endpoint, user) only:
    ``secret_account()``."""

    endpoint: str
    username: str
    client_id: str | None = None
    scope: str | None = None

    def key(self) -> str:
        fields = (self.endpoint, self.username, self.client_id, self.scope)
        if any("\0" in field for field in fields if isinstance(field, str)):
            # The fields are joined with NUL below: a user name holding NULs ("a\0admin\0")
            # would name another account's key and adopt its token. Such an account gets an
            # unambiguous text instead (two NULs, then JSON, which escapes NUL), so every
            # ordinary account keeps its key.
            text = "\0\0" + json.dumps(fields)
            return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        text = f"{self.endpoint}\0{self.username}"
        if self.client_id is not None or self.scope is not None:
            text += f"\0{self.client_id or ''}\0{self.scope or ''}"
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]

    def secret_account(self) -> Account:
        """Where the password (or client secret) lives: shared by every client and scope."""
        return Account(self.endpoint, self.username)


#: The names the Vault uses (issue 7): the token set lives under the full account, the secret
#: and the record of its refusal under ``account.secret_account()``.
TOKEN, SECRET, REFUSED = "token", "secret", "refused"


@runtime_checkable
class Store(Protocol):
    """Text values by (account, name), and a per-account lock. What the values mean (the token
    codec, the refusal record, which account each goes under) is the Vault's business, so a
    store is a few lines over any key-value backend."""

    def get(self, account: Account, name: str) -> str | None:
        """The value, or None when there is none. A value that cannot be read back is a
        ``StoreError(corrupt=True)``; an unreachable backend a plain ``StoreError``."""
        ...

    def set(self, account: Account, name: str, value: str) -> None: ...

    def delete(self, account: Account, name: str) -> None:
        """Remove the value; deleting what is not there is not an error."""
        ...

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        """Held while a token is renewed: other holders (threads, processes) wait, then re-read."""
        ...

    def describe(self) -> str: ...


class MemoryStore:
    """Keeps nothing beyond the process. Share one instance between auths to share tokens."""

    def __init__(self) -> None:
        self._values: dict[tuple[Account, str], str] = {}
        self._guard = threading.Lock()
        self._locks: dict[Account, threading.Lock] = {}
        _forkable.add(self)

    def get(self, account: Account, name: str) -> str | None:
        return self._values.get((account, name))

    def set(self, account: Account, name: str, value: str) -> None:
        self._values[(account, name)] = value

    def delete(self, account: Account, name: str) -> None:
        self._values.pop((account, name), None)

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        with self._guard:
            return _ThreadLock(self._locks.setdefault(account, threading.Lock()))

    def _after_fork(self) -> None:
        # A parent thread renewing at the fork holds a lock no thread of the child will release.
        self._guard = threading.Lock()
        self._locks = {}

    def describe(self) -> str:
        return "memory (nothing is kept after the process ends)"

    def __repr__(self) -> str:
        names = [name for _, name in list(self._values)]
        return f"MemoryStore(<{names.count(SECRET)} secrets, {names.count(TOKEN)} tokens>)"


class _FileLock:
    """A cross-process lock file (``filelock``), its folder made on first use; every failure
    to take it (timeout, unwritable folder) is a StoreError that says what to do."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._lock: Any = None

    def __enter__(self) -> object:
        import filelock

        try:
            if self._lock is None:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._lock = filelock.FileLock(str(self.path), timeout=self.timeout, mode=0o600)
            self._lock.acquire()
        except filelock.Timeout as exc:
            raise StoreError(
                f"timed out after {self.timeout:.0f}s waiting for another process renewing the "
                f"same token (lock {self.path}); if no such process runs, delete that file"
            ) from exc
        except OSError as exc:
            raise StoreError(
                f"cannot use the lock file {self.path} ({exc.strerror}); make its folder "
                "writable, or pass lock_dir= to the store"
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def within(self, seconds: float) -> _FileLock:
        """The same lock, waited for at most ``seconds`` (the rest of a request's deadline)."""
        return _FileLock(self.path, max(0.0, min(self.timeout, seconds)))


class _ThreadLock:
    """A thread lock that can be waited for within a deadline (``MemoryStore``)."""

    def __init__(self, lock: threading.Lock, timeout: float = -1) -> None:
        self._lock = lock
        self.timeout = timeout

    def __enter__(self) -> object:
        if not self._lock.acquire(timeout=self.timeout):
            raise StoreError(
                f"timed out after {self.timeout:.0f}s waiting for another renewal of the same "
                "token (a MemoryStore shared by several auths)"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def within(self, seconds: float) -> _ThreadLock:
        return _ThreadLock(self._lock, max(0.0, seconds))


def _file_lock(path: Path, timeout: float) -> contextlib.AbstractContextManager[object]:
    return _FileLock(path, timeout)


class FileStore:
    """A JSON file, mode 0600, written atomically (temp file + rename). The explicit opt-in for
    machines without a keyring: secrets are protected by file permissions only.

    One JSON object per account, under ``account.key()`` (so tokens of different clients and
    scopes never meet): who it is for, and its values by name."""

    #: Fields of an account's object that say whose it is; never value names.
    _META = ("endpoint", "username", "client_id", "scope")

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path).expanduser()
        self.lock_timeout = lock_timeout
        self._guard = threading.RLock()
        _forkable.add(self)

    def _after_fork(self) -> None:
        self._guard = threading.RLock()  # a parent thread may have been writing at the fork

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from exc
        except ValueError:  # not UTF-8
            raise StoreError(
                f"{self.path} is not valid JSON; move it aside and log in again", corrupt=True
            ) from None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: "[[[[...]]]]" (issue 7, 14)
            raise StoreError(
                f"{self.path} is not valid JSON; move it aside and log in again", corrupt=True
            ) from None
        if not isinstance(data, dict):
            raise StoreError(f"{self.path} does not hold a JSON object", corrupt=True)
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # mkstemp creates the file 0600 on every platform: no window where it is readable.
            fd, tmp = tempfile.mkstemp(prefix=".silentauth-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise StoreError(f"cannot write {self.path}: {exc.strerror}") from exc

    def _update(self, account: Account, name: str, value: str | None) -> None:
        if name in self._META:
            raise ValueError(f"{name!r} is not a usable value name in a FileStore")
        with self._guard, _file_lock(self._lockpath(), self.lock_timeout):
            data = self._read()
            entry = data.get(account.key())
            if not isinstance(entry, dict):
                entry = {}
            if value is None:
                if name not in entry:
                    return  # nothing to delete: the file is not rewritten (or created)
                del entry[name]
            else:
                entry[name] = value
            if any(key not in self._META for key in entry):
                for key, meta in zip(self._META, account, strict=True):
                    if meta is not None:
                        entry[key] = meta
                data[account.key()] = entry
            else:
                data.pop(account.key(), None)  # a logout leaves no trace of the account
            self._write(data)

    def _lockpath(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def get(self, account: Account, name: str) -> str | None:
        if name in self._META:
            raise ValueError(f"{name!r} is not a usable value name in a FileStore")
        entry = self._read().get(account.key())
        value = entry.get(name) if isinstance(entry, dict) else None
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict):
            # Before issue 7 the token set was kept as a JSON object: hand it to the codec as
            # text, which judges it like any other value.
            try:
                return json.dumps(value)
            except (ValueError, RecursionError):
                pass
        raise StoreError(
            f"the {name} of {account.username or '-'} in {self.path} is not text; it will be "
            "replaced when written again, or move the file aside",
            corrupt=True,
        )

    def set(self, account: Account, name: str, value: str) -> None:
        self._update(account, name, value)

    def delete(self, account: Account, name: str) -> None:
        self._update(account, name, None)

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        name = f"{self.path.name}.{account.key()[:12]}.lock"
        return _file_lock(self.path.with_name(name), self.lock_timeout)

    def describe(self) -> str:
        return f"file {self.path}"

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"


_NO_BACKEND_HELP = (
    "install and start a Secret Service (for example gnome-keyring) and a D-Bus session, "
    "choose a backend with PYTHON_KEYRING_BACKEND (for example, after pip install "
    "keyrings.alt: PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring), or pass "
    "store=FileStore(path) "
    "(a 0600 file) or store=MemoryStore() (nothing kept)"
)


class KeyringStore:
    """The OS keyring (``keyring`` package), in a service named after the login endpoint.

    Entry names: the secret under the user name, other values under ``<user>|<name>`` (the
    token set ``<user>|token``): the names earlier versions used, so stored logins survive an
    upgrade and stay readable by other tools (``keyring get SERVICE USER``). An account naming
    a client or scope gets ``<user>|<name>|<key>`` (``account.key()[:12]``), so a read-only
    client never reads an admin client's token (issue 7 behaviour 2). Values over
    ``CHUNK_BYTES`` of UTF-16 are split by ``Chunked`` (see ``_chunking``)."""

    def __init__(
        self,
        service: str | None = None,
        *,
        attempts: int = 3,
        lock_dir: str | os.PathLike[str] | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        self.service = service
        self.attempts = max(1, attempts)
        self.lock_timeout = lock_timeout
        self._lock_dir = Path(lock_dir) if lock_dir is not None else None
        self._values = Chunked(_KeyringEntries(self), CHUNK_BYTES, where=self._where)

    # -- naming ---------------------------------------------------------------------------

    def service_for(self, account: Account) -> str:
        return self.service or f"requests-silentauth {account.endpoint}"

    def entry_for(self, account: Account, kind: str = "") -> str:
        """The entry name of an account's value ``kind`` ("" or "secret" for the secret). The
        default service is per endpoint, so the user name suffices; a service named by the
        caller may hold several endpoints, so the endpoint joins the name. The chunk parts of
        a value (``<name>#...``) are named after its entry."""
        stem, sep, rest = (kind or SECRET).partition("#")
        user = account.username
        if "|" in user or "#" in user:
            # "|" and "#" separate the parts of an entry name: the user "alice|token" would
            # name alice's token entry (and its password overwrite that token). Such a name is
            # spelled "|<base64>", which no other name can be; ordinary names keep theirs.
            raw = user.encode("utf-8", "surrogatepass")
            user = "|" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        base = user if self.service is None else f"{user}@{account.endpoint}"
        if account.client_id is not None or account.scope is not None:
            entry = f"{base}|{stem}|{account.key()[:12]}"
        else:
            entry = base if stem == SECRET else f"{base}|{stem}"
        return entry + sep + rest

    def _where(self, account: Account, name: str) -> str:
        return (
            f"the keyring entry {self.entry_for(account, name)!r} of {self.service_for(account)!r}"
        )

    # -- keyring access, bounded retries, clear errors ------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn`` with bounded retries. Errors name the backend's exception by type only and
        chain nothing (issue 7, behaviour 10): a backend's message or traceback may quote the
        value it was given, which can be a password or a token."""
        import keyring.errors

        failure, init = "an unknown error", False
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except keyring.errors.NoKeyringError:
                failure = "none"
                break
            except keyring.errors.KeyringLocked:
                failure = "locked"
                break
            except Exception as exc:
                # D-Bus hiccups and a Secret Service that answers nonsense under many
                # short-lived clients (gnome-keyring does, now and then): bounded retry.
                failure = type(exc).__name__
                init = isinstance(exc, keyring.errors.InitError)
                if attempt == self.attempts:
                    break
                log.debug("keyring failed to %s (%s); retrying", what, failure)
                time.sleep(0.05 * 4 ** (attempt - 1))
        if failure == "none":
            raise StoreError(f"no usable keyring backend: {_NO_BACKEND_HELP}")
        if failure == "locked":
            raise StoreError(
                f"the keyring is locked and could not be unlocked while trying to {what}; "
                "unlock it (log in to the desktop session) or choose another store"
            )
        if init:
            raise StoreError(f"the keyring backend could not start ({failure}): {_NO_BACKEND_HELP}")
        raise StoreError(f"the keyring backend failed to {what} ({failure}); {_NO_BACKEND_HELP}")

    def _backend(self) -> Any:
        import keyring
        import keyring.backends.fail

        try:
            backend = keyring.get_keyring()
        except Exception as exc:  # a bad PYTHON_KEYRING_BACKEND, a backend failing to load
            raise StoreError(
                f"keyring could not load a backend ({type(exc).__name__}: {clip(str(exc))}); "
                f"{_NO_BACKEND_HELP}"
            ) from exc
        if isinstance(backend, keyring.backends.fail.Keyring):
            raise StoreError(f"no usable keyring backend was found: {_NO_BACKEND_HELP}")
        return backend

    # -- Store protocol -------------------------------------------------------------------

    def get(self, account: Account, name: str) -> str | None:
        return self._values.get(account, name)

    def set(self, account: Account, name: str, value: str) -> None:
        self._values.set(account, name, value)

    def delete(self, account: Account, name: str) -> None:
        self._values.delete(account, name)

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        return _file_lock(self._lock_root() / f"{account.key()}.lock", self.lock_timeout)

    def _lock_root(self) -> Path:
        if self._lock_dir is not None:
            return self._lock_dir
        import platformdirs

        return Path(platformdirs.user_cache_dir("requests-silentauth")) / "locks"

    def describe(self) -> str:
        try:
            backend = self._backend()
        except StoreError:
            return "keyring (no usable backend)"
        return f"keyring ({type(backend).__module__}.{type(backend).__name__})"

    def __repr__(self) -> str:
        return f"KeyringStore(service={self.service!r})"


class _KeyringEntries:
    """One keyring entry per (account, name), unsplit: the key-value store ``Chunked`` wraps.
    Every call goes through the store's bounded retries and error messages."""

    def __init__(self, store: KeyringStore) -> None:
        self._store = store

    def get(self, account: Account, name: str) -> str | None:
        store = self._store
        backend = store._backend()
        service, entry = store.service_for(account), store.entry_for(account, name)
        value: str | None = store._call(
            "read a value", lambda: backend.get_password(service, entry)
        )
        return value

    def set(self, account: Account, name: str, value: str) -> None:
        store = self._store
        backend = store._backend()
        service, entry = store.service_for(account), store.entry_for(account, name)
        store._call("store a value", lambda: backend.set_password(service, entry, value))

    def delete(self, account: Account, name: str) -> None:
        import keyring.errors

        store = self._store
        backend = store._backend()
        service, entry = store.service_for(account), store.entry_for(account, name)

        def delete() -> None:
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                backend.delete_password(service, entry)

        store._call("delete a value", delete)


@contextlib.contextmanager
def held(lock: contextlib.AbstractContextManager[object]) -> Iterator[None]:
    """Enter a store's lock; a custom store's lock failing with OSError becomes a StoreError."""
    try:
        lock.__enter__()
    except OSError as exc:
        raise StoreError(f"cannot take the store lock ({exc.strerror or exc})") from exc
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


# -- fork safety (issue 7, behaviour 15) ---------------------------------------------------------
# A child forked while a parent thread held a store's thread lock would wait for it forever.

_forkable: weakref.WeakSet[MemoryStore | FileStore] = weakref.WeakSet()


def _reset_in_child() -> None:
    for store in list(_forkable):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
