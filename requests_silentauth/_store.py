"""Where credentials and tokens live between runs: a small protocol and three stores.

Only this module imports ``keyring``, and only when a ``KeyringStore`` is first used, so
``import requests_silentauth`` never pays for keyring's backend discovery. Every store offers a
per-account lock: a cross-process file lock for the persistent ones, so parallel CLI runs
renew a token once between them (see docs/design.md)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from ._errors import StoreError, clip
from ._token import Token

__all__ = ["Account", "FileStore", "KeyringStore", "MemoryStore", "Store"]

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
        text = f"{self.endpoint}\0{self.username}"
        if self.client_id is not None or self.scope is not None:
            text += f"\0{self.client_id or ''}\0{self.scope or ''}"
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]

    def secret_account(self) -> Account:
        """Where the password (or client secret) lives: shared by every client and scope."""
        return Account(self.endpoint, self.username)


@runtime_checkable
class Store(Protocol):
    """Keeps a secret (password or client secret) and the current token set per account."""

    def get_secret(self, account: Account) -> str | None: ...

    def set_secret(self, account: Account, secret: str) -> None: ...

    def delete_secret(self, account: Account) -> None: ...

    def get_token(self, account: Account) -> Token | None: ...

    def set_token(self, account: Account, token: Token | None) -> None: ...

    def get_refusal(self, account: Account) -> str | None:
        """The record of a refused login (opaque text), so other processes do not retry it."""
        ...

    def set_refusal(self, account: Account, record: str | None) -> None: ...

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        """Held while a token is renewed: other holders (threads, processes) wait, then re-read."""
        ...

    def describe(self) -> str: ...


def _decode_token(raw: str, where: str) -> Token:
    try:
        return Token.from_dict(json.loads(raw))
    except (ValueError, TypeError, AttributeError) as exc:
        raise StoreError(
            f"the token stored in {where} is corrupt ({type(exc).__name__}); it will be replaced "
            "by the next login, or clear it with `silentauth logout`",
            corrupt=True,
        ) from None


def _encode_token(token: Token) -> str:
    return json.dumps(token.to_dict(), separators=(",", ":"))


class MemoryStore:
    """Keeps nothing beyond the process. Share one instance between auths to share tokens."""

    def __init__(self) -> None:
        self._secrets: dict[Account, str] = {}
        self._tokens: dict[Account, Token] = {}
        self._refusals: dict[Account, str] = {}
        self._guard = threading.Lock()
        self._locks: dict[Account, threading.Lock] = {}

    def get_secret(self, account: Account) -> str | None:
        return self._secrets.get(account)

    def set_secret(self, account: Account, secret: str) -> None:
        self._secrets[account] = secret

    def delete_secret(self, account: Account) -> None:
        self._secrets.pop(account, None)

    def get_token(self, account: Account) -> Token | None:
        return self._tokens.get(account)

    def set_token(self, account: Account, token: Token | None) -> None:
        if token is None:
            self._tokens.pop(account, None)
        else:
            self._tokens[account] = token

    def get_refusal(self, account: Account) -> str | None:
        return self._refusals.get(account)

    def set_refusal(self, account: Account, record: str | None) -> None:
        if record is None:
            self._refusals.pop(account, None)
        else:
            self._refusals[account] = record

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        with self._guard:
            return self._locks.setdefault(account, threading.Lock())

    def describe(self) -> str:
        return "memory (nothing is kept after the process ends)"

    def __repr__(self) -> str:
        return f"MemoryStore(<{len(self._secrets)} secrets, {len(self._tokens)} tokens>)"


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


def _file_lock(path: Path, timeout: float) -> contextlib.AbstractContextManager[object]:
    return _FileLock(path, timeout)


class FileStore:
    """A JSON file, mode 0600, written atomically (temp file + rename). The explicit opt-in for
    machines without a keyring: secrets are protected by file permissions only."""

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path).expanduser()
        self.lock_timeout = lock_timeout
        self._guard = threading.RLock()

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except ValueError:
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

    def _update(self, account: Account, field: str, value: Any) -> None:
        with self._guard, _file_lock(self._lockpath(), self.lock_timeout):
            data = self._read()
            entry = data.setdefault(account.key(), {})
            entry["endpoint"], entry["username"] = account.endpoint, account.username
            if value is None:
                entry.pop(field, None)
            else:
                entry[field] = value
            self._write(data)

    def _lockpath(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _entry(self, account: Account) -> dict[str, Any]:
        entry = self._read().get(account.key(), {})
        return entry if isinstance(entry, dict) else {}

    def get_secret(self, account: Account) -> str | None:
        value = self._entry(account).get("secret")
        return value if isinstance(value, str) else None

    def set_secret(self, account: Account, secret: str) -> None:
        self._update(account, "secret", secret)

    def delete_secret(self, account: Account) -> None:
        self._update(account, "secret", None)

    def get_token(self, account: Account) -> Token | None:
        raw = self._entry(account).get("token")
        if raw is None:
            return None
        return _decode_token(json.dumps(raw), str(self.path))

    def set_token(self, account: Account, token: Token | None) -> None:
        self._update(account, "token", None if token is None else token.to_dict())

    def get_refusal(self, account: Account) -> str | None:
        value = self._entry(account).get("refused")
        return value if isinstance(value, str) else None

    def set_refusal(self, account: Account, record: str | None) -> None:
        self._update(account, "refused", record)

    def lock(self, account: Account) -> contextlib.AbstractContextManager[object]:
        name = f"{self.path.name}.{account.key()[:12]}.lock"
        return _file_lock(self.path.with_name(name), self.lock_timeout)

    def describe(self) -> str:
        return f"file {self.path}"

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"


#: Windows Credential Manager refuses secrets over 2,560 bytes of UTF-16; values are split into
#: parts of at most this many UTF-16 bytes (room left for the head's prefix) on every platform,
#: so a store written on one works on all.
CHUNK_BYTES = 2400
_HEAD = "sa1:"
_NO_BACKEND_HELP = (
    "install and start a Secret Service (for example gnome-keyring) and a D-Bus session, "
    "choose a backend with PYTHON_KEYRING_BACKEND, or pass store=FileStore(path) "
    "(a 0600 file) or store=MemoryStore() (nothing kept)"
)


class KeyringStore:
    """The OS keyring (``keyring`` package). Each account keeps its secret under the user name
    and its token set under ``<user>|token``, in a service named after the login endpoint.
    Values over ``CHUNK_BYTES`` of UTF-16 are split across entries ``<name>#<digest>#2``,
    ``#3`` ... behind a head that carries their count and checksum."""

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

    # -- naming ---------------------------------------------------------------------------

    def service_for(self, account: Account) -> str:
        return self.service or f"requests-silentauth {account.endpoint}"

    def entry_for(self, account: Account, kind: str = "") -> str:
        """The entry name of an account's secret (``kind`` "") or its ``token``/``refused``
        record. The default service is per endpoint, so the user name suffices; a service
        named by the caller may hold several endpoints, so the endpoint joins the name."""
        name = (
            account.username if self.service is None else f"{account.username}@{account.endpoint}"
        )
        return f"{name}|{kind}" if kind else name

    # -- keyring access, bounded retries, clear errors ------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        import keyring.errors

        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except keyring.errors.NoKeyringError as exc:
                raise StoreError(f"no usable keyring backend: {_NO_BACKEND_HELP}") from exc
            except keyring.errors.KeyringLocked as exc:
                raise StoreError(
                    f"the keyring is locked and could not be unlocked while trying to {what}; "
                    "unlock it (log in to the desktop session) or choose another store"
                ) from exc
            except Exception as exc:
                # D-Bus hiccups and a Secret Service that answers nonsense under many
                # short-lived clients (gnome-keyring does, now and then): bounded retry.
                if attempt == self.attempts:
                    if isinstance(exc, keyring.errors.InitError):
                        raise StoreError(
                            f"the keyring backend could not start ({clip(str(exc))}): "
                            f"{_NO_BACKEND_HELP}"
                        ) from exc
                    raise StoreError(
                        f"the keyring backend failed to {what} ({type(exc).__name__}: "
                        f"{clip(str(exc))}); {_NO_BACKEND_HELP}"
                    ) from exc
                log.debug("keyring failed to %s (%s); retrying", what, type(exc).__name__)
                time.sleep(0.05 * 4 ** (attempt - 1))
        raise AssertionError("unreachable")

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

    def _get(self, service: str, name: str) -> str | None:
        backend = self._backend()
        value: str | None = self._call("read a value", lambda: backend.get_password(service, name))
        return value

    def _set(self, service: str, name: str, value: str) -> None:
        backend = self._backend()
        self._call("store a value", lambda: backend.set_password(service, name, value))

    def _delete(self, service: str, name: str) -> None:
        import keyring.errors

        backend = self._backend()

        def delete() -> None:
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                backend.delete_password(service, name)

        self._call("delete a value", delete)

    # -- chunked values ---------------------------------------------------------------------

    def _read_value(self, service: str, name: str) -> str | None:
        head = self._get(service, name)
        if head is None or not head.startswith(_HEAD):
            return head
        count, digest, first = _parse_head(head, name, service)
        parts = [first]
        for i in range(2, count + 1):
            part = self._get(service, _part_name(name, digest, i))
            if part is None:
                raise StoreError(
                    f"the keyring entry {name!r} of {service!r} is missing part {i} of {count}",
                    corrupt=True,
                )
            parts.append(part)
        value = "".join(parts)
        if _digest(value) != digest:
            raise StoreError(
                f"the keyring entry {name!r} of {service!r} does not match its checksum",
                corrupt=True,
            )
        return value

    def _old_parts(self, service: str, name: str) -> tuple[bool, list[str]]:
        """Whether ``name`` exists, and the names of its parts (other than the head)."""
        head = self._get(service, name)
        if head is None or not head.startswith(_HEAD):
            return head is not None, []
        try:
            count, digest, _ = _parse_head(head, name, service)
        except StoreError:
            return True, []
        return True, [_part_name(name, digest, i) for i in range(2, count + 1)]

    def _write_value(self, service: str, name: str, value: str | None) -> None:
        """Parts are named after the value's digest (one generation each): the new parts are
        written beside the old ones, the head switches to them in one write (the commit
        point), then the old generation is deleted. A failure anywhere before the head write
        leaves the previous value readable."""
        existed, old_parts = self._old_parts(service, name)
        if value is None:
            if existed:
                self._delete(service, name)  # the head first: no head pointing at no parts
            for part_name in old_parts:
                self._delete(service, part_name)
            return
        if _utf16_size(value) <= CHUNK_BYTES and not value.startswith(_HEAD):
            parts, head = [value], value
        else:
            parts = _split_utf16(value, CHUNK_BYTES)
            digest = _digest(value)
            head = f"{_HEAD}{len(parts)}:{digest}:{parts[0]}"
        new_names = [_part_name(name, _digest(value), i) for i in range(2, len(parts) + 1)]
        for part_name, part in zip(new_names, parts[1:], strict=True):
            self._set(service, part_name, part)
        self._set(service, name, head)
        for part_name in old_parts:
            if part_name not in new_names:
                self._delete(service, part_name)

    # -- Store protocol -------------------------------------------------------------------

    def get_secret(self, account: Account) -> str | None:
        return self._read_value(self.service_for(account), self.entry_for(account))

    def set_secret(self, account: Account, secret: str) -> None:
        self._write_value(self.service_for(account), self.entry_for(account), secret)

    def delete_secret(self, account: Account) -> None:
        self._write_value(self.service_for(account), self.entry_for(account), None)

    def get_token(self, account: Account) -> Token | None:
        raw = self._read_value(self.service_for(account), self.entry_for(account, "token"))
        return None if raw is None else _decode_token(raw, "the keyring")

    def set_token(self, account: Account, token: Token | None) -> None:
        self._write_value(
            self.service_for(account),
            self.entry_for(account, "token"),
            None if token is None else _encode_token(token),
        )

    def get_refusal(self, account: Account) -> str | None:
        return self._read_value(self.service_for(account), self.entry_for(account, "refused"))

    def set_refusal(self, account: Account, record: str | None) -> None:
        self._write_value(self.service_for(account), self.entry_for(account, "refused"), record)

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


def _utf16_size(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass"))


def _split_utf16(value: str, limit: int) -> list[str]:
    """Split into parts of at most ``limit`` UTF-16 bytes, never inside a character."""
    parts: list[str] = []
    start = size = 0
    for i, ch in enumerate(value):
        width = 4 if ord(ch) > 0xFFFF else 2
        if size + width > limit:
            parts.append(value[start:i])
            start, size = i, 0
        size += width
    parts.append(value[start:])
    return parts


def _part_name(name: str, digest: str, index: int) -> str:
    return f"{name}#{digest[:8]}#{index}"


def _parse_head(head: str, name: str, service: str) -> tuple[int, str, str]:
    try:
        _, count_s, digest, first = head.split(":", 3)
        count = int(count_s)
    except ValueError:
        raise StoreError(
            f"the keyring entry {name!r} of {service!r} is corrupt", corrupt=True
        ) from None
    if not 1 <= count <= 10_000:
        raise StoreError(f"the keyring entry {name!r} of {service!r} is corrupt", corrupt=True)
    return count, digest, first


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


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
