"""``RedisStore``: one token shared by a fleet of workers on many machines (issue 11).

The file lock that makes ten processes on one machine share one refresh stops at the machine's
edge; Redis is what fleets already run. The store keeps the token set and the renewal lock in
Redis and nothing else: the password or client secret goes to the ``secrets`` store given (a
``KeyringStore``, a ``FileStore`` on a mounted secret), or nowhere.

``redis`` is imported only when the first command is sent, so ``import requests_silentauth``
never pays for it (install the extra ``requests-silentauth[redis]``).

Keys (``<ns>`` is the namespace, ``<key>`` is ``Account.key()``, 24 hex digits, in braces: a
Redis Cluster hash tag, so an account's lock and token share a slot and the fenced write, one
script over both, is not refused with CROSSSLOT):

- ``<ns>:{<key>}:token``: the token set, the same JSON text every store keeps (``at`` access
  token, ``rt`` refresh token, ``tt`` type, ``sc`` scope, ``exp``/``iat`` epoch seconds). It
  expires with the access token; a set carrying a refresh token (or with no known expiry) is
  kept ``refresh_ttl`` seconds longer, so an idle fleet still refreshes instead of logging in.
- ``<ns>:{<key>}:lock``: the renewal lock, a random lease id set with ``NX PX`` for
  ``lock_timeout`` seconds; deleted by its holder only (compare-and-delete).

**The lease**: the lock holder's watchdog renews the lease while it lives, up to its renewal's
deadline, so a renewal slower than ``lock_timeout`` keeps the lock (nobody refreshes with the
same refresh token meanwhile), a worker that dies holding it delays the others by at most
``lock_timeout``, and one stuck past its deadline by at most ``lock_timeout`` more.

**Fencing**: a token written while the lock is held is written by a script that first checks
that the lock still holds *our* lease. A worker that lost its lease anyway (frozen longer than
``lock_timeout``, cut off from Redis, a failover that dropped the key) finds another lease or
none there and writes nothing: another worker may have renewed meanwhile, and its token is
newer. The fenced-off worker keeps its token in memory (the ladder's "write failed" path), so a
rotated refresh token is still not lost to it.

Decisions are pure functions (``key_name``, ``token_ttl``, ``where``); ``RedisStore`` and
``_RedisLock`` only carry them out."""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import secrets as _random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ._codecs import MAX_RECORD, decode_token
from ._errors import StoreError
from ._store import REFUSED, SECRET, TOKEN, Account, MemoryStore, Store
from ._token import MAX_LIFETIME

__all__ = ["LOCK_WAIT", "REFRESH_TTL", "RedisStore", "key_name", "token_ttl", "where"]

T = TypeVar("T")

#: How long a token set that carries a refresh token (or has no known expiry) outlives its
#: access token in Redis: a refresh token has no stated lifetime (RFC 6749 §5.1), and a fleet
#: idle over a weekend should refresh, not log in. Beyond that the record goes away by itself.
REFRESH_TTL = 14 * 24 * 3600.0
#: Seconds a single Redis command may take (connect, or an answer) on a client made from a URL:
#: a Redis that blackholes packets costs a renewal this long (twice: one reconnect), never a hang.
SOCKET_TIMEOUT = 2.0

#: How long the lock is waited for when no deadline is given (``silentauth logout``): a live
#: holder keeps its lease for as long as its own renewal's deadline, a dead one loses it
#: within ``lock_timeout``. Renewals for a request wait within the request's deadline.
LOCK_WAIT = 60.0

# Printable ASCII without ':' (the separator: a namespace "billing" must not be a prefix of
# "billing:eu") or glob characters (``~<namespace>:*`` in an ACL, or a SCAN pattern, must reach
# this namespace's keys and no other's).
_NAMESPACE = re.compile(r"[!-)+-9;->@-Z^-~]{1,100}")

# KEYS[1] the lock; ARGV[1] our lease id, ARGV[2] the lease in ms. A lock key with no expiry
# is not ours (set by hand, or by a buggy client): it gets the lease, so it cannot block forever.
# Our own lease there is ours: the reply to an earlier try was lost and the client sent it again
# (one retry), and it must not wait out its own lease. (pcall: a key of another type answers
# an error, not ours, and no command beyond the documented ACL list is needed.)
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.pcall('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1
end
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS[1] the lock; ARGV[1] our lease id. Deletes the lock only while it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] the lock; ARGV[1] our lease id, ARGV[2] the lease in ms. The watchdog's renewal.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS[1] the lock, KEYS[2] the value; ARGV[1] our lease id, ARGV[2] the value (empty: delete),
# ARGV[3] its TTL in ms (0: none). The fence: nothing is written unless our lease still holds.
_FENCED_WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[2]) return 1 end
if ARGV[3] == '0' then redis.call('SET', KEYS[2], ARGV[2])
else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
return 1
"""
# KEYS[1] the value; ARGV[1] the longest value read. A hostile or damaged value must not cost a
# gigabyte of transfer: its length is checked first (and a key of another type is an error).
_BOUNDED_GET = """
if redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[1]) then return -1 end
return redis.call('GET', KEYS[1])
"""


def key_name(namespace: str, account: Account, name: str) -> str:
    """The Redis key of ``account``'s value ``name`` (``lock`` for the renewal lock)."""
    return f"{namespace}:{{{account.key()}}}:{name}"


def token_ttl(record: str, now: float, refresh_ttl: float = REFRESH_TTL) -> int:
    """Milliseconds the token set ``record`` is kept, from ``now`` (0: no expiry).

    - no refresh token, known expiry: until the access token expires (at least 1 s);
    - a refresh token, or no known expiry: ``refresh_ttl`` seconds after that (the refresh
      token keeps an idle fleet from logging in again; an unknown lifetime is kept as long);
    - ``refresh_ttl`` of 0 or less: no expiry for such records.
    A record that cannot be decoded (never written by us) gets the longer keep."""
    try:
        token = decode_token(record)
    except ValueError:
        token = None
    left = 0.0
    if token is not None and token.expires_at is not None:
        left = max(0.0, token.expires_at - now)
        if not token.refresh_token:
            return max(1000, math.ceil(left * 1000))
    if refresh_ttl <= 0:
        return 0
    return max(1000, math.ceil((left + refresh_ttl) * 1000))


def where(url_or_client: object) -> str:
    """Which Redis, for messages and reprs: scheme, host, port and database, never a user name
    or password (a ``redis://:secret@host`` URL must not end up in a log)."""
    if isinstance(url_or_client, str):
        try:
            parts = urlsplit(url_or_client)
            host, port = parts.hostname, parts.port
        except ValueError:
            return "redis (an unreadable URL)"
        if "@" in parts.path:
            # A password with a '/' not percent-encoded: the rest of it, '@' and host, parsed
            # as the path.
            return "redis (an unreadable URL)"
        netloc = (f"[{host}]" if host and ":" in host else host or "") + (
            f":{port}" if port else ""
        )
        return f"{parts.scheme}://{netloc}{parts.path}"
    kwargs: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # any client-like object: best effort
        kwargs = dict(url_or_client.connection_pool.connection_kwargs)  # type: ignore[attr-defined]
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    if "host" in kwargs:
        return f"redis://{kwargs['host']}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return f"redis ({type(url_or_client).__name__})"


class RedisStore:
    """Tokens and the renewal lock in Redis, shared by every worker that names the same Redis
    and namespace. Secrets never go to Redis: ``secrets`` keeps them (and the record of a
    refused one); with ``secrets=None`` the password comes from the caller and nothing it could
    be recovered from is written anywhere (a refusal is remembered per process).

    ``url_or_client``: a ``redis://``/``rediss://``/``unix://`` URL (a client is made with
    ``socket_timeout`` for connecting and each answer, and one reconnect), or a
    ``redis.Redis`` you configured (it must have a ``socket_timeout``). ``lock_timeout``: the
    lease of the renewal lock, renewed while its holder lives: the longest a worker killed while
    renewing delays the others. ``refresh_ttl``: see ``token_ttl``."""

    def __init__(
        self,
        url_or_client: Any,
        *,
        namespace: str = "requests-silentauth",
        secrets: Store | None = None,
        lock_timeout: float = 30.0,
        refresh_ttl: float = REFRESH_TTL,
        socket_timeout: float = SOCKET_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
            raise ValueError(
                "namespace must be 1 to 100 printable ASCII characters without spaces, ':' "
                "or glob characters (* ? [ ] \\), for example 'requests-silentauth' or "
                "'billing-workers' (a ':' would make another namespace's keys start with this "
                "one's)"
            )
        if not isinstance(url_or_client, str) and not callable(
            getattr(url_or_client, "register_script", None)
        ):
            raise TypeError(
                "RedisStore needs a Redis URL (redis://host:6379/0) or a redis.Redis client, "
                f"not {type(url_or_client).__name__}"
            )
        if isinstance(url_or_client, str):
            try:
                query = urlsplit(url_or_client).query.lower()
            except ValueError:  # unreadable: redis-py will say so on the first command
                query = ""
            if "socket_timeout" in query or "socket_connect_timeout" in query:
                # redis-py would let it override ours without a word.
                raise ValueError(
                    "give the timeout as RedisStore(url, socket_timeout=...), not in the URL's "
                    "query (it bounds every Redis command of a renewal)"
                )
        pool = getattr(url_or_client, "connection_pool", None)
        given = getattr(pool, "connection_kwargs", None)
        nodes = getattr(url_or_client, "nodes_manager", None)  # a RedisCluster client
        cluster = getattr(nodes, "connection_kwargs", None)
        if (
            isinstance(given, dict)
            and "socket_timeout" in given
            and given["socket_timeout"] is None
        ) or (isinstance(cluster, dict) and cluster.get("socket_timeout") is None):
            raise ValueError(
                "this redis client has no socket_timeout: a Redis that stops answering would "
                "hang every renewal. Make it with socket_timeout=2 and socket_connect_timeout=2, "
                "or pass the URL instead"
            )
        if not lock_timeout >= 0.1 or not math.isfinite(lock_timeout):
            raise ValueError(
                "lock_timeout must be at least 0.1 seconds, such as 30 (a lease shorter than a "
                "round trip to Redis ends before its holder can use it)"
            )
        if not math.isfinite(refresh_ttl) or refresh_ttl > MAX_LIFETIME:
            raise ValueError(
                "refresh_ttl must be a number of seconds up to ten years (0 or less: a token "
                "set holding a refresh token never expires in Redis), such as 14 * 24 * 3600"
            )
        if not socket_timeout > 0 or not math.isfinite(socket_timeout):
            raise ValueError("socket_timeout must be a positive number of seconds, such as 2")
        if isinstance(secrets, RedisStore):
            raise ValueError(
                "secrets must be a store outside Redis (KeyringStore(), FileStore(path)); "
                "secrets never go to Redis"
            )
        self.namespace = namespace
        self.secrets = secrets
        self.lock_timeout = float(lock_timeout)
        self.refresh_ttl = float(refresh_ttl)
        self.socket_timeout = float(socket_timeout)
        self.clock = clock
        self.where = where(url_or_client)
        self._target = url_or_client
        self._client: Any = None if isinstance(url_or_client, str) else url_or_client
        self._scripts: dict[str, Any] = {}
        self._guard = threading.Lock()
        # The leases this thread holds, by lock key: a write under a held lock is fenced.
        self._held = threading.local()
        # With secrets=None a refusal record stays in this process (it names the secret).
        self._local = MemoryStore()

    # -- naming -----------------------------------------------------------------------------

    def key(self, account: Account, name: str) -> str:
        """The Redis key of ``account``'s value ``name`` (for operators: see the module doc)."""
        return key_name(self.namespace, account, name)

    # -- the Store protocol -------------------------------------------------------------------

    def get(self, account: Account, name: str) -> str | None:
        private = self._private(name)
        if private is not None:
            return private.get(account, name)
        if name == SECRET:
            return None
        key = self.key(account, name)
        raw = self._run("read a value", lambda: self._script("get")(keys=[key], args=[MAX_RECORD]))
        return self._text(raw, name)

    def set(self, account: Account, name: str, value: str) -> None:
        private = self._private(name)
        if private is not None:
            private.set(account, name, value)
            return
        if name == SECRET:
            raise StoreError(
                f"RedisStore keeps no passwords ({self.where}): pass "
                "secrets=KeyringStore() or secrets=FileStore(path) to keep one, or give the "
                "password (or client secret) to the auth"
            )
        if not isinstance(value, str) or not value:
            raise ValueError("a RedisStore value is non-empty text")
        ttl = token_ttl(value, self.clock(), self.refresh_ttl) if name == TOKEN else 0
        self._write(account, name, value, ttl)

    def delete(self, account: Account, name: str) -> None:
        private = self._private(name)
        if private is not None:
            private.delete(account, name)
            return
        if name == SECRET:
            return  # never kept here
        self._write(account, name, "", 0)

    def lock(self, account: Account) -> _RedisLock:
        return _RedisLock(self, self.key(account, "lock"), LOCK_WAIT)

    def describe(self) -> str:
        kept = "passwords: " + (self.secrets.describe() if self.secrets else "none kept")
        return f"redis {self.where} (namespace {self.namespace!r}; {kept})"

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r}, namespace={self.namespace!r})"

    # -- carrying it out ------------------------------------------------------------------------

    def _private(self, name: str) -> Store | None:
        """Where a value that names or is a secret goes: never Redis."""
        if name == SECRET:
            return self.secrets
        if name == REFUSED:
            # The refusal record holds a salted hash of the refused secret: a weak password
            # could be guessed from it offline, so it stays with the secrets (or this process).
            return self.secrets if self.secrets is not None else self._local
        return None

    def _write(self, account: Account, name: str, value: str, ttl_ms: int) -> None:
        key, lock_key = self.key(account, name), self.key(account, "lock")
        lease = self._leases().get(lock_key)
        if lease is None:
            # Not under our lock (a custom caller): a plain write; ours always hold the lock.
            def plain() -> object:
                client = self._connect()
                if not value:
                    return client.delete(key)
                return client.set(key, value, px=ttl_ms or None)

            self._run("write a value", plain)
            return
        done = self._run(
            "write a value",
            lambda: self._script("fenced")(keys=[lock_key, key], args=[lease, value, ttl_ms]),
        )
        if not done:
            raise StoreError(
                f"the renewal lock's lease ran out (lock_timeout={self.lock_timeout:g}s) before "
                f"the {name} could be written to {self.where}: this worker was frozen or cut "
                "off from Redis for longer than that, or Redis lost the key. Another worker may "
                "have renewed meanwhile, so nothing was written over its newer token"
            )

    def _text(self, raw: object, name: str) -> str | None:
        if raw is None:
            return None
        problem = None
        if raw == -1:
            problem = "is implausibly long"
        elif isinstance(raw, bytes):
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                problem = "is not UTF-8 text"
        elif isinstance(raw, str):
            return raw
        else:
            problem = f"is a {type(raw).__name__}, not text"
        raise StoreError(
            f"the {name} in {self.where} {problem}; it will be replaced by the next login, "
            "or delete the key",
            corrupt=True,
        )

    def _leases(self) -> dict[str, str]:
        held: dict[str, str] | None = getattr(self._held, "leases", None)
        if held is None or getattr(self._held, "pid", None) != os.getpid():
            held = self._held.leases = {}
            self._held.pid = os.getpid()
        return held

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        with self._guard:
            if self._client is None:
                try:
                    import redis
                    from redis.backoff import NoBackoff
                    from redis.retry import Retry
                except ImportError:
                    raise StoreError(
                        "RedisStore needs the redis package: pip install "
                        "'requests-silentauth[redis]'"
                    ) from None
                self._client = redis.Redis.from_url(
                    self._target,
                    socket_timeout=self.socket_timeout,
                    socket_connect_timeout=self.socket_timeout,
                    # One reconnect: a connection left over from before a Redis restart fails
                    # once and is replaced; an unreachable Redis fails in bounded time.
                    retry=Retry(NoBackoff(), 1),
                )
        return self._client

    def _script(self, which: str) -> Any:
        script = self._scripts.get(which)
        if script is None:
            source = {
                "get": _BOUNDED_GET,
                "fenced": _FENCED_WRITE,
                "acquire": _ACQUIRE,
                "release": _RELEASE,
                "extend": _EXTEND,
            }[which]
            script = self._scripts[which] = self._connect().register_script(source)
        return script

    def _run(self, what: str, fn: Callable[[], T]) -> T:
        """``fn``, its failures a ``StoreError`` naming Redis. The error names the exception by
        type only and chains nothing: a client's message may quote a command's arguments, and
        those can be a token."""
        failure = None
        try:
            return fn()
        except StoreError:
            raise
        except Exception as exc:
            failure = _failure(exc)
        if failure.endswith(" WRONGTYPE"):
            # A key of another type where our text belongs: damaged, like bad JSON (replaced
            # by the next write: SET overwrites any type).
            raise StoreError(
                f"a key in {self.where} is not a string value; it will be replaced by the "
                "next login, or delete it",
                corrupt=True,
            )
        raise StoreError(
            f"Redis at {self.where} could not {what} ({failure}); workers keep using a valid "
            "token, renewals fail until Redis answers again"
        )


def _failure(exc: BaseException) -> str:
    name = type(exc).__name__
    try:
        import redis.exceptions
    except ImportError:  # pragma: no cover - the client came from somewhere
        return name
    if isinstance(exc, redis.exceptions.ResponseError):
        # Redis's own error code (WRONGTYPE, NOAUTH, READONLY...): a word, never a value.
        word = str(exc).split(" ", 1)[0]
        if word.isupper() and word.isalpha() and len(word) <= 20:
            return f"{name} {word}"
    return name


class _RedisLock:
    """The renewal lock: a lease of ``lock_timeout`` seconds (``SET NX PX`` of a random id),
    waited for at most ``wait`` seconds (the request's deadline), released by
    compare-and-delete.

    While it is held, a watchdog thread renews the lease every third of ``lock_timeout``, up to
    the holder's deadline (``wait`` from when it started waiting): a renewal slower than the
    lease (a slow identity provider) keeps the lock, so no other worker
    refreshes with the same refresh token meanwhile (rotation with reuse detection would revoke
    the whole family). A worker that dies takes its watchdog with it, so its lease ends within
    ``lock_timeout``; one that loses its lease anyway (frozen, cut off from Redis, a failover)
    is fenced: its write is refused (``RedisStore._write``)."""

    def __init__(self, store: RedisStore, key: str, wait: float) -> None:
        self._store = store
        self.key = key
        self.wait = wait
        self._lease: str | None = None
        self._stop: threading.Event | None = None
        self._pid = 0  # the process holding the lease

    def within(self, seconds: float) -> _RedisLock:
        """The same lock, waited for at most ``seconds`` (the rest of a request's deadline).
        Not capped by ``lock_timeout``: a live holder may hold longer (its watchdog)."""
        return _RedisLock(self._store, self.key, max(0.0, seconds))

    def __enter__(self) -> object:
        store = self._store
        lease = _random.token_hex(16)
        ms = max(1, math.ceil(store.lock_timeout * 1000))
        deadline = time.monotonic() + self.wait
        for pause in _pauses():
            got = store._run(
                "take the renewal lock",
                lambda: store._script("acquire")(keys=[self.key], args=[lease, ms]),
            )
            if got:
                self._lease, self._pid = lease, os.getpid()
                store._leases()[self.key] = lease
                self._stop = threading.Event()
                watchdog = threading.Thread(
                    target=_keep,
                    args=(store, self.key, lease, ms, self._stop, deadline),
                    daemon=True,
                )
                # No new thread at interpreter shutdown (3.12+: a renewal from an atexit
                # hook) or when threads run out: the lease still lasts lock_timeout, and the
                # write is fenced either way.
                with contextlib.suppress(RuntimeError):
                    watchdog.start()
                return self
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(pause, left))
        raise StoreError(
            f"timed out after {self.wait:.0f}s waiting for another worker renewing the same "
            f"token (lock {self.key} in {store.where}; its lease ends within "
            f"{store.lock_timeout:g}s even if that worker died)"
        )

    def __exit__(self, *exc: object) -> None:
        store, lease, stop = self._store, self._lease, self._stop
        self._lease = self._stop = None
        store._leases().pop(self.key, None)
        if stop is not None:
            stop.set()  # not joined: a watchdog stuck on a blackholed Redis must not delay us
        if lease is None or self._pid != os.getpid():
            return  # not held, or held by the parent of this forked child: its lease, not ours
        # A release that fails leaves the lease to run out: no error over the renewal's result.
        with contextlib.suppress(StoreError):
            store._run(
                "release the renewal lock",
                lambda: store._script("release")(keys=[self.key], args=[lease]),
            )


def _keep(
    store: RedisStore, key: str, lease: str, ms: int, stop: threading.Event, until: float
) -> None:
    """The watchdog: renew the lease while it is ours, the lock is held and the holder's
    deadline (``until``, monotonic) has not passed. A holder stuck beyond it (a login callable
    that never returns) loses the lease ``lock_timeout`` later instead of stalling the fleet."""
    while not stop.wait(ms / 3000):
        if time.monotonic() >= until:
            return  # past the holder's deadline: its renewal is over or stuck
        try:
            kept = store._run(
                "keep the renewal lock",
                lambda: store._script("extend")(keys=[key], args=[lease, ms]),
            )
        except StoreError:
            continue  # Redis unreachable: the lease may run out; the fence guards the write
        if not kept:
            return  # lost (deleted, expired, taken): nothing to keep


def _pauses() -> Iterator[float]:
    """Polling pauses: 10 ms growing to 100 ms, with jitter so waiters do not move in step."""
    pause = 0.01
    while True:
        yield pause * (0.5 + random.random())  # noqa: S311 - jitter, not a secret
        pause = min(0.1, pause * 1.5)
