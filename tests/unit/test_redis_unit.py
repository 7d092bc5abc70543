"""RedisStore's pure parts (issue 11): key names, the TTL choice, what a Redis name shows,
where secrets go, and how a value read back is judged. No sockets: nothing here reaches Redis
(a RedisStore connects on its first command, and these never send one)."""

from __future__ import annotations

import pytest

from requests_silentauth import Account, MemoryStore, RedisStore, StoreError, Token
from requests_silentauth._codecs import encode_token
from requests_silentauth._redis import LOCK_WAIT, REFRESH_TTL, key_name, token_ttl, where
from requests_silentauth._store import REFUSED, SECRET, TOKEN

ACCOUNT = Account("https://id.example/token", "alice")
NOW = 1_800_000_000.0
UNREACHABLE = "redis://127.0.0.1:1/0"


def record(life: float | None, refresh: str | None) -> str:
    expires = None if life is None else NOW + life
    return encode_token(Token("at", refresh, expires_at=expires, issued_at=NOW))


def test_key_names_are_namespace_account_key_and_name() -> None:
    assert key_name("ns", ACCOUNT, TOKEN) == f"ns:{{{ACCOUNT.key()}}}:token"
    assert key_name("ns", ACCOUNT, "lock") == f"ns:{{{ACCOUNT.key()}}}:lock"
    store = RedisStore(UNREACHABLE, namespace="billing")
    assert store.key(ACCOUNT, TOKEN) == f"billing:{{{ACCOUNT.key()}}}:token"
    # A client id or scope is part of the account: a read-only client never meets admin's token.
    assert store.key(ACCOUNT._replace(scope="admin"), TOKEN) != store.key(ACCOUNT, TOKEN)


@pytest.mark.parametrize(
    ("life", "refresh", "expected_ms"),
    [
        (300, None, 300_000),  # the access token's own lifetime
        (0.0004, None, 1_000),  # at least a second
        (-50, None, 1_000),  # already expired: at least a second, never "no expiry"
        (300, "rt", (300 + REFRESH_TTL) * 1000),  # the refresh token outlives it
        (-50, "rt", REFRESH_TTL * 1000),  # expired access token, refresh token still usable
        (None, None, REFRESH_TTL * 1000),  # unknown lifetime (used until rejected)
        (None, "rt", REFRESH_TTL * 1000),
    ],
)
def test_token_ttl(life: float | None, refresh: str | None, expected_ms: float) -> None:
    assert token_ttl(record(life, refresh), NOW) == int(expected_ms)


def test_token_ttl_custom_keep_and_none() -> None:
    assert token_ttl(record(60, "rt"), NOW, refresh_ttl=3600) == (60 + 3600) * 1000
    assert token_ttl(record(60, "rt"), NOW, refresh_ttl=0) == 0  # kept until deleted
    assert token_ttl(record(60, None), NOW, refresh_ttl=0) == 60_000
    assert token_ttl("not a token", NOW) == REFRESH_TTL * 1000


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@10.0.0.5:6380/2", "redis://10.0.0.5:6380/2"),
        ("rediss://user:s3cret@cache.internal/1", "rediss://cache.internal/1"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("redis://[::1]:6379", "redis://[::1]:6379"),
        ("redis://h:notaport/0", "redis (an unreadable URL)"),
    ],
)
def test_where_never_shows_credentials(target: str, shown: str) -> None:
    assert where(target) == shown
    store = RedisStore(target)
    assert "s3cret" not in repr(store) + store.describe()


def test_bad_arguments_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="namespace must be"):
        RedisStore(UNREACHABLE, namespace="has space")
    with pytest.raises(ValueError, match="namespace must be"):
        RedisStore(UNREACHABLE, namespace="")
    with pytest.raises(TypeError, match="needs a Redis URL"):
        RedisStore(6379)
    with pytest.raises(ValueError, match="lock_timeout"):
        RedisStore(UNREACHABLE, lock_timeout=0)
    with pytest.raises(ValueError, match="socket_timeout"):
        RedisStore(UNREACHABLE, socket_timeout=float("inf"))
    with pytest.raises(ValueError, match="secrets never go to Redis"):
        RedisStore(UNREACHABLE, secrets=RedisStore(UNREACHABLE))


def test_secrets_are_routed_away_from_redis_without_a_command() -> None:
    kept = MemoryStore()
    store = RedisStore(UNREACHABLE, secrets=kept)
    store.set(ACCOUNT, SECRET, "pw-123")
    store.set(ACCOUNT, REFUSED, "{}")
    assert kept.get(ACCOUNT, SECRET) == "pw-123" and kept.get(ACCOUNT, REFUSED) == "{}"
    assert store.get(ACCOUNT, SECRET) == "pw-123"
    store.delete(ACCOUNT, SECRET)
    assert kept.get(ACCOUNT, SECRET) is None
    assert "passwords: memory" in store.describe()


def test_without_a_secrets_store_no_password_is_kept_anywhere() -> None:
    store = RedisStore(UNREACHABLE)
    with pytest.raises(StoreError, match="keeps no passwords") as info:
        store.set(ACCOUNT, SECRET, "pw-123")
    assert "pw-123" not in str(info.value)
    assert store.get(ACCOUNT, SECRET) is None
    store.delete(ACCOUNT, SECRET)  # nothing to delete, no command
    store.set(ACCOUNT, REFUSED, "{}")  # this process only
    assert store.get(ACCOUNT, REFUSED) == "{}"
    assert "pw-123" not in repr(store)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (-1, "implausibly long"),
        (b"\xff\xfe", "not UTF-8"),
        (12, "is a int, not text"),
        ([b"a"], "is a list, not text"),
    ],
)
def test_a_value_read_back_that_is_not_text_is_corrupt(raw: object, problem: str) -> None:
    store = RedisStore(UNREACHABLE)
    with pytest.raises(StoreError, match=problem) as info:
        store._text(raw, TOKEN)
    assert info.value.corrupt


def test_a_value_read_back_as_bytes_or_text() -> None:
    store = RedisStore(UNREACHABLE)
    assert store._text(None, TOKEN) is None
    assert store._text("é".encode(), TOKEN) == "é"
    assert store._text("é", TOKEN) == "é"  # a client made with decode_responses=True


def test_the_lock_waits_within_the_deadline() -> None:
    """Not capped by the lease: a live holder keeps its lease (watchdog) past lock_timeout."""
    store = RedisStore(UNREACHABLE, lock_timeout=3)
    lock = store.lock(ACCOUNT)
    assert lock.wait == LOCK_WAIT and lock.key == store.key(ACCOUNT, "lock")
    assert lock.within(4).wait == 4
    assert lock.within(100).wait == 100
    assert lock.within(-1).wait == 0


class FakeScripts:
    """Records which script ran with which keys and arguments, and answers as told: enough to
    see the Python side of the fence (the Lua side runs against the real Redis)."""

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, list[str], list[object]]] = []

    def register_script(self, source: str) -> object:
        marks = {"NX": "acquire", "KEYS[2]": "fenced", "STRLEN": "get", "DEL": "release"}
        marks["'PEXPIRE', KEYS[1], ARGV[2]) end"] = "extend"
        name = next(name for mark, name in marks.items() if mark in source)

        def run(keys: list[str], args: list[object]) -> object:
            self.calls.append((name, keys, args))
            return self.answers.get(name)

        return run


def test_a_write_under_the_lock_is_fenced_with_our_lease() -> None:
    fake = FakeScripts({"acquire": 1, "fenced": 1, "release": 1})
    store = RedisStore(fake)
    with store.lock(ACCOUNT):
        store.set(ACCOUNT, TOKEN, record(60, None))
    (_, _, (lease, _)), (_, keys, args), release = fake.calls
    assert keys == [store.key(ACCOUNT, "lock"), store.key(ACCOUNT, TOKEN)]
    assert args[0] == lease and args[1] == record(60, None)
    assert release == ("release", [store.key(ACCOUNT, "lock")], [lease])


def test_a_fenced_write_refused_raises_and_names_no_value() -> None:
    fake = FakeScripts({"acquire": 1, "fenced": 0, "release": 0})
    store = RedisStore(fake, lock_timeout=7)
    with store.lock(ACCOUNT), pytest.raises(StoreError, match=r"lease ran out \(lock_timeout=7s\)"):
        store.set(ACCOUNT, TOKEN, record(60, "rt-secret"))
    assert "rt-secret" not in str(fake.calls[-1][0])


def test_a_lease_belongs_to_its_thread_and_ends_with_the_lock() -> None:
    import threading

    fake = FakeScripts({"acquire": 1, "fenced": 1, "release": 1})
    store = RedisStore(fake)
    seen: list[dict[str, str]] = []
    with store.lock(ACCOUNT):
        thread = threading.Thread(target=lambda: seen.append(dict(store._leases())))
        thread.start()
        thread.join()
        assert list(store._leases()) == [store.key(ACCOUNT, "lock")]
    assert seen == [{}]  # another thread's write is not under our lease
    assert store._leases() == {}


def test_a_client_without_a_socket_timeout_is_refused() -> None:
    """Attack: a client made with socket_timeout=None waits forever for a Redis that stops
    answering (a blackholed network), and every renewal with it."""

    class Pool:
        connection_kwargs = {"host": "10.0.0.5", "port": 6379, "db": 0, "socket_timeout": None}

    class Client(FakeScripts):
        connection_pool = Pool()

    with pytest.raises(ValueError, match="socket_timeout"):
        RedisStore(Client({}))
    Pool.connection_kwargs["socket_timeout"] = 2.0
    assert RedisStore(Client({})).where == "redis://10.0.0.5:6379/0"


# -- attack review (wt-attack11) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("crafted", "victim"),
    [
        # Account.key() joins the fields with NUL: a user name holding NULs named another
        # account's key, so a tenant-chosen user name could adopt another account's token from
        # a shared store (Redis most of all: one key space for the whole fleet).
        (
            Account("https://id.example/token", "a\0admin\0"),
            Account("https://id.example/token", "a", "admin"),
        ),
        (
            Account("https://id.example/token", "a\0admin\0write"),
            Account("https://id.example/token", "a", "admin", "write"),
        ),
        (
            Account("https://id.example/token", "a", "x\0y"),
            Account("https://id.example/token", "a", "x", "y\0"),
        ),
        (Account("https://id.example/token\0a", "b"), Account("https://id.example/token", "a\0b")),
    ],
)
def test_accounts_with_nul_in_a_field_never_share_a_key(crafted: Account, victim: Account) -> None:
    assert crafted != victim
    assert crafted.key() != victim.key()
    assert key_name("ns", crafted, TOKEN) != key_name("ns", victim, TOKEN)


def test_account_keys_of_ordinary_accounts_are_unchanged() -> None:
    # Stored tokens keep their keys across the fix (no fleet-wide login after an upgrade).
    import hashlib

    def old(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    assert ACCOUNT.key() == old("https://id.example/token\0alice")
    full = Account("https://id.example/token", "alice", "cli", "read write")
    assert full.key() == old("https://id.example/token\0alice\0cli\0read write")
    assert Account("e", "ü:x", None, "").key() == old("e\0ü:x\0\0")


def _accepted(namespace: str) -> bool:
    try:
        RedisStore(UNREACHABLE, namespace=namespace)
    except ValueError as exc:
        if "namespace must be" not in str(exc):
            raise
        return False
    return True


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        ("billing", "billing:eu"),  # a ':' in a namespace: another namespace's prefix
        ("b*", "billing"),  # glob characters: the documented ACL pattern matches others
        ("bil?ing", "billing"),
        ("[ab]illing", "billing"),
        ("billing\\", "billing"),
    ],
)
def test_a_namespaces_acl_pattern_never_covers_another_namespace(mine: str, theirs: str) -> None:
    """README: 'an ACL user limited to ~<namespace>:*' (and the pattern operators SCAN and
    delete with). A namespace holding ':' or a glob character made that pattern reach another
    fleet's tokens: one of the two must be refused."""
    from fnmatch import fnmatchcase

    theirs_key = key_name(theirs, ACCOUNT, TOKEN)
    if _accepted(mine) and _accepted(theirs):
        assert not fnmatchcase(theirs_key, f"{mine}:*")


@pytest.mark.parametrize(
    "target",
    [
        # A password holding '/' that was not percent-encoded (base64 passwords often do):
        # everything after the '/' parses as the path, '@' and host included.
        "redis://:12/s3cret@10.0.0.5:6379/0",
        "redis://:/s3cret@10.0.0.5:6379/0",
        "rediss://default:/s3cret@cache.internal:6380/1",
        "unix://:/s3cret@x/run/redis.sock",
    ],
)
def test_where_never_shows_a_password_with_an_unencoded_slash(target: str) -> None:
    assert "s3cret" not in where(target)
    store = RedisStore(target)
    assert "s3cret" not in repr(store) + store.describe()


@pytest.mark.parametrize("keep", [float("nan"), float("inf"), 1e20])
def test_a_refresh_ttl_no_write_could_use_is_refused_up_front(keep: float) -> None:
    """NaN or infinity raised from every token write (math.ceil), 1e20 s made Redis refuse the
    expiry: each write failed, each worker kept its own token (a login per worker), with only
    a warning to show for it."""
    with pytest.raises(ValueError, match="refresh_ttl"):
        RedisStore(UNREACHABLE, refresh_ttl=keep)


def test_a_refresh_ttl_of_zero_or_less_still_means_no_expiry() -> None:
    assert RedisStore(UNREACHABLE, refresh_ttl=0).refresh_ttl == 0
    assert RedisStore(UNREACHABLE, refresh_ttl=-1).refresh_ttl == -1
    assert RedisStore(UNREACHABLE, refresh_ttl=10 * 365 * 24 * 3600).refresh_ttl > 0


def test_a_watchdog_that_cannot_start_leaves_the_renewal_working(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python 3.12+ refuses new threads at interpreter shutdown (a renewal from an atexit
    hook), any Python when threads run out: the lock was taken in Redis, then __enter__ raised
    RuntimeError (not a StoreError), leaving the lease recorded for this thread. Without a
    watchdog the lease still lasts lock_timeout and the write stays fenced."""
    import threading

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    fake = FakeScripts({"acquire": 1, "fenced": 1, "release": 1})
    store = RedisStore(fake)
    with store.lock(ACCOUNT):
        store.set(ACCOUNT, TOKEN, record(60, None))
    assert [name for name, _, _ in fake.calls] == ["acquire", "fenced", "release"]
    assert store._leases() == {}


@pytest.mark.parametrize("lease", [0.001, 0.05])
def test_a_lease_shorter_than_a_round_trip_is_refused(lease: float) -> None:
    """lock_timeout=0.001: the lease ran out before the holder's first read, every fenced
    write was refused (a login per worker, a warning each), and the watchdog renewed every
    third of a millisecond, a busy loop against Redis for the whole renewal."""
    with pytest.raises(ValueError, match="lock_timeout"):
        RedisStore(UNREACHABLE, lock_timeout=lease)
    assert RedisStore(UNREACHABLE, lock_timeout=0.1).lock_timeout == 0.1


@pytest.mark.parametrize(
    "target",
    [
        "redis://127.0.0.1:6379/0?socket_timeout=600",
        "redis://127.0.0.1:6379/0?db=1&socket_connect_timeout=600",
        "unix:///run/redis.sock?SOCKET_TIMEOUT=600",
    ],
)
def test_a_timeout_in_the_url_is_refused_not_silently_preferred(target: str) -> None:
    """redis-py lets a URL's query override the keyword arguments it is given: a configured
    URL with socket_timeout=600 replaced the store's bound (2 s) without a word, and a Redis
    that stopped answering held renewals for ten minutes while the store claimed 2 s."""
    with pytest.raises(ValueError, match="socket_timeout="):
        RedisStore(target)
