"""Chunked over a failure-injecting in-memory key-value fake: big values round-trip, a failed
write keeps the old value and leaves no stray part, a delete leaves nothing (issue 7
behaviour 11)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from requests_silentauth import StoreError
from requests_silentauth._chunking import (
    Chunked,
    format_generations,
    index_name,
    parse_generations,
    parse_head,
    split_utf16,
    utf16_size,
)
from requests_silentauth._store import Account

ALICE = Account("https://login.example.com/token", "alice")
BOB = Account("https://login.example.com/token", "bob")
LIMIT = 40  # UTF-16 bytes: 20 ASCII characters a part, so a few hundred make many parts


class Boom(Exception):
    """An injected backend failure."""


class FakeKV:
    """A dict of (account, name) -> value whose calls fail on demand: ``fail_set(n)`` makes the
    n-th following ``set`` fail (``commit=True``: after storing, like a backend that loses its
    reply), ``fail_deletes`` makes every ``delete`` fail, ``fail_gets`` every ``get``."""

    def __init__(self) -> None:
        self.data: dict[tuple[Account, str], str] = {}
        self.sets = 0
        self._fail_at: int | None = None
        self._commit = False
        self.fail_deletes = False
        self.fail_gets = False

    def fail_set(self, n: int, *, commit: bool = False) -> None:
        self._fail_at, self._commit = self.sets + n, commit

    def get(self, account: Account, name: str) -> str | None:
        if self.fail_gets:
            raise Boom("get")
        return self.data.get((account, name))

    def set(self, account: Account, name: str, value: str) -> None:
        self.sets += 1
        if self.sets == self._fail_at:
            if self._commit:
                self.data[(account, name)] = value
            raise Boom(f"set #{self.sets}")
        self.data[(account, name)] = value

    def delete(self, account: Account, name: str) -> None:
        if self.fail_deletes:
            raise Boom("delete")
        self.data.pop((account, name), None)

    def names(self) -> frozenset[str]:
        return frozenset(name for _, name in self.data)


def big(tag: str, n: int = 150) -> str:
    return (tag * n)[:n]


@pytest.fixture
def kv() -> FakeKV:
    return FakeKV()


@pytest.fixture
def chunked(kv: FakeKV) -> Chunked:
    return Chunked(kv, LIMIT)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "short",
        "x" * 20,  # exactly one part
        "x" * 21,
        big("abc", 400),
        "\U0001f511" * 50,  # astral: 4 bytes each, never split inside
        "\u4e2d\u00e9" * 70,
        "sa1:3:0123456789abcdef:looks like a head",
        "sa1:" + "y" * 200,
    ],
)
def test_round_trip(chunked: Chunked, kv: FakeKV, value: str) -> None:
    chunked.set(ALICE, "token", value)
    assert chunked.get(ALICE, "token") == value
    assert all(utf16_size(v) <= LIMIT + 2 * 30 for v in kv.data.values())  # head prefix room
    assert chunked.get(BOB, "token") is None and chunked.get(ALICE, "secret") is None
    assert index_name("token") not in kv.names()  # a clean write leaves no index
    chunked.delete(ALICE, "token")
    assert kv.data == {}


def test_parts_fit_the_limit_and_astral_characters_are_never_split() -> None:
    value = "ab\U0001f511" * 30
    parts = split_utf16(value, 10)
    assert "".join(parts) == value
    assert all(0 < utf16_size(p) <= 10 for p in parts)


def test_overwrite_removes_the_old_generation(chunked: Chunked, kv: FakeKV) -> None:
    chunked.set(ALICE, "token", big("a", 300))
    chunked.set(ALICE, "secret", big("s", 100))
    chunked.set(ALICE, "token", big("b", 100))
    token_entries = {n for n in kv.names() if n.startswith("token")}
    assert len(token_entries) == 5  # the head and 4 parts of the new value, nothing else
    chunked.set(ALICE, "token", "small")
    assert {n for n in kv.names() if n.startswith("token")} == {"token"}
    assert chunked.get(ALICE, "secret") == big("s", 100)


def test_rewriting_the_same_value_keeps_it_readable(chunked: Chunked, kv: FakeKV) -> None:
    chunked.set(ALICE, "token", big("a", 300))
    before = dict(kv.data)
    chunked.set(ALICE, "token", big("a", 300))
    assert kv.data == before


def _writes_needed(value: str, old: str | None) -> int:
    """How many ``set`` calls a successful write makes (counted on a scratch fake)."""
    kv = FakeKV()
    scratch = Chunked(kv, LIMIT)
    if old is not None:
        scratch.set(ALICE, "token", old)
    kv.sets = 0
    scratch.set(ALICE, "token", value)
    return kv.sets


@pytest.mark.parametrize("old", [None, "small-old", big("o", 200)], ids=["none", "small", "big"])
@pytest.mark.parametrize("new", ["small-new", big("n", 200)], ids=["small", "big"])
def test_a_write_failing_at_any_step_keeps_the_old_value_and_leaves_no_part(
    kv: FakeKV, chunked: Chunked, old: str | None, new: str
) -> None:
    steps = _writes_needed(new, old)
    assert steps >= 1
    for n in range(1, steps + 1):
        kv.data.clear()
        if old is not None:
            chunked.set(ALICE, "token", old)
        before = dict(kv.data)
        kv.fail_set(n)
        with pytest.raises(Boom):
            chunked.set(ALICE, "token", new)
        assert chunked.get(ALICE, "token") == old, f"failure at set {n}"
        assert kv.data == before, (
            f"failure at set {n} left {sorted(kv.names() - set(n for _, n in before))}"
        )


def test_a_head_write_that_happened_despite_an_error_is_kept(chunked: Chunked, kv: FakeKV) -> None:
    value = big("n", 200)
    for n in range(1, _writes_needed(value, big("o", 200)) + 1):
        kv.data.clear()
        chunked.set(ALICE, "token", big("o", 200))
        kv.fail_set(n, commit=True)
        with pytest.raises(Boom):
            chunked.set(ALICE, "token", value)
        got = chunked.get(ALICE, "token")  # never corrupt: old or new, whole
        assert got in (big("o", 200), value)
        chunked.delete(ALICE, "token")
        assert kv.data == {}


def test_parts_a_failed_write_cannot_delete_go_with_the_next_delete(
    chunked: Chunked, kv: FakeKV
) -> None:
    old, new = big("o", 200), big("n", 300)
    chunked.set(ALICE, "token", old)
    kv.fail_set(_writes_needed(new, old) - 1)  # the head write fails...
    kv.fail_deletes = True  # ...and so does the clean-up
    with pytest.raises(Boom):
        chunked.set(ALICE, "token", new)
    assert chunked.get(ALICE, "token") == old
    assert index_name("token") in kv.names()  # the stray parts are recorded
    kv.fail_deletes = False
    chunked.delete(ALICE, "token")  # a logout
    assert kv.data == {}


def test_parts_a_failed_write_cannot_delete_go_with_the_next_write(
    chunked: Chunked, kv: FakeKV
) -> None:
    old = big("o", 200)
    chunked.set(ALICE, "token", old)
    kv.fail_set(_writes_needed(big("n", 300), old) - 1)
    kv.fail_gets = False
    kv.fail_deletes = True
    with pytest.raises(Boom):
        chunked.set(ALICE, "token", big("n", 300))
    kv.fail_deletes = False
    chunked.set(ALICE, "token", "small")
    assert kv.names() == {"token"}
    assert chunked.get(ALICE, "token") == "small"


def test_a_logout_removes_every_part_of_every_generation(chunked: Chunked, kv: FakeKV) -> None:
    chunked.set(ALICE, "token", big("a", 200))
    for i, tag in enumerate("bcdef"):  # five failed writes, each leaving parts it could not delete
        kv.fail_set(3 + i % 2)
        kv.fail_deletes = True
        with pytest.raises(Boom):
            chunked.set(ALICE, "token", big(tag, 150 + 40 * i))
        kv.fail_deletes = False
    assert len(parse_generations(kv.data[(ALICE, index_name("token"))])) >= 5
    assert chunked.get(ALICE, "token") == big("a", 200)
    chunked.delete(ALICE, "token")
    assert kv.data == {}


def test_a_delete_that_fails_after_the_head_is_finished_by_the_next(
    chunked: Chunked, kv: FakeKV
) -> None:
    chunked.set(ALICE, "token", big("a", 200))
    real_delete = kv.delete
    calls = 0

    def delete_then_fail(account: Account, name: str) -> None:
        nonlocal calls
        calls += 1
        if calls > 1:  # the head goes, its parts do not
            raise Boom("delete")
        real_delete(account, name)

    kv.delete = delete_then_fail  # type: ignore[method-assign]
    chunked.delete(ALICE, "token")  # the value is gone: a failed clean-up does not fail it
    assert chunked.get(ALICE, "token") is None
    kv.delete = real_delete  # type: ignore[method-assign]
    chunked.delete(ALICE, "token")
    assert kv.data == {}


def test_a_failed_delete_keeps_the_value_whole(chunked: Chunked, kv: FakeKV) -> None:
    chunked.set(ALICE, "token", big("a", 200))
    kv.fail_deletes = True
    with pytest.raises(Boom):
        chunked.delete(ALICE, "token")
    kv.fail_deletes = False
    assert chunked.get(ALICE, "token") == big("a", 200)
    chunked.delete(ALICE, "token")
    assert kv.data == {}


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda kv, parts: kv.data.pop(parts[1]), "missing part 3"),
        (lambda kv, parts: kv.data.__setitem__(parts[0], "Z" + kv.data[parts[0]][1:]), "checksum"),
        (lambda kv, parts: kv.data.__setitem__((ALICE, "token"), "sa1:lots:of:junk"), "corrupt"),
        (lambda kv, parts: kv.data.__setitem__((ALICE, "token"), "sa1:99999:0:x"), "corrupt"),
    ],
    ids=["missing-part", "checksum", "junk-head", "absurd-count"],
)
def test_damage_is_a_corrupt_store_error_without_the_value(
    chunked: Chunked,
    kv: FakeKV,
    damage: Callable[[FakeKV, list[tuple[Account, str]]], object],
    match: str,
) -> None:
    value = big("secretvalue", 200)
    chunked.set(ALICE, "token", value)
    parts = sorted(k for k in kv.data if k[1] != "token")
    parts.sort(key=lambda k: int(k[1].rsplit("#", 1)[1]))
    damage(kv, parts)
    with pytest.raises(StoreError, match=match) as info:
        chunked.get(ALICE, "token")
    assert info.value.corrupt is True
    assert "secretvalue" not in str(info.value)
    chunked.set(ALICE, "token", "fresh")  # the next write replaces it
    assert chunked.get(ALICE, "token") == "fresh"


def test_head_and_index_parsers_reject_damage() -> None:
    assert parse_head("sa1:3:0123456789abcdef:first") == (3, "0123456789abcdef", "first")
    for bad in ("sa1:0:0123456789abcdef:x", "sa1:+3:0123456789abcdef:x", "sa1:3:xyz:x", "sa1:3"):
        with pytest.raises(ValueError):
            parse_head(bad)
    gens = [("0123abcd", 3), ("ffffffff", 2)]
    assert parse_generations(format_generations(gens)) == gens
    assert parse_generations("junk,0123abcd:3,0123abcd:3,zz:2,01234567:1,") == [("0123abcd", 3)]


# -- a random history of writes, failures and deletes -------------------------------------------

values = st.sampled_from(["", "tiny", big("a", 45), big("b", 200), big("c", 333), "sa1:x"])
steps = st.lists(
    st.tuples(
        st.sampled_from(["set", "delete"]),
        values,
        st.integers(min_value=0, max_value=12),  # 0: no failure, else the n-th set fails
        st.booleans(),  # the failed set was stored anyway
        st.booleans(),  # deletes fail meanwhile
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_any_history_reads_whole_values_and_a_clean_logout_leaves_nothing(
    history: list[tuple[str, str, int, bool, bool]],
) -> None:
    kv = FakeKV()
    chunked = Chunked(kv, LIMIT)
    current: str | None = None
    for op, value, fail_at, commit, deletes_fail in history:
        if fail_at:
            kv.fail_set(fail_at, commit=commit)
        kv.fail_deletes = deletes_fail
        try:
            if op == "set":
                chunked.set(ALICE, "token", value)
                current = value
            else:
                chunked.delete(ALICE, "token")
                current = None
        except Boom:
            got = chunked.get(ALICE, "token")
            # a failed operation leaves the old value or (a commit the backend did not
            # confirm) the new one: always a whole value, never a corrupt one
            assert got in (current, value if op == "set" else None)
            current = got
        kv.fail_set(0)
        kv.fail_deletes = False
        assert chunked.get(ALICE, "token") == current
    chunked.delete(ALICE, "token")
    assert kv.data == {}


def test_a_value_needing_more_than_max_parts_is_refused_and_nothing_is_written(kv: FakeKV) -> None:
    from requests_silentauth._chunking import MAX_PARTS

    chunked = Chunked(kv, 10)
    with pytest.raises(StoreError, match=rf"too large .* \(at most {MAX_PARTS} parts\)"):
        chunked.set(ALICE, "token", "x" * (5 * (MAX_PARTS + 1)))
    assert chunked.get(ALICE, "token") is None
    chunked.set(ALICE, "token", "x" * (5 * MAX_PARTS))  # exactly the most parts: fine
    assert chunked.get(ALICE, "token") == "x" * (5 * MAX_PARTS)


# -- the exact words, and the exact calls ------------------------------------------------------


def test_failures_to_clean_up_are_logged_by_type(
    kv: FakeKV, caplog: pytest.LogCaptureFixture
) -> None:
    chunked = Chunked(kv, LIMIT)
    chunked.set(ALICE, "token", big("a"))
    kv.fail_deletes = True
    caplog.set_level("DEBUG", logger="requests_silentauth")
    chunked.set(ALICE, "token", big("b"))
    assert chunked.get(ALICE, "token") == big("b")
    assert [r.getMessage() for r in caplog.records] == [
        "could not delete old parts of token (Boom)"
    ]


def test_a_damaged_value_names_itself(kv: FakeKV) -> None:
    chunked = Chunked(kv, LIMIT)
    chunked.set(ALICE, "token", big("a"))
    head = kv.data[(ALICE, "token")]
    count = int(head.split(":")[1])
    digest8 = head.split(":")[2][:8]
    kv.data.pop((ALICE, f"token#{digest8}#{count}"))
    with pytest.raises(StoreError) as info:
        chunked.get(ALICE, "token")
    assert str(info.value) == f"the stored value 'token' is missing part {count} of {count}"
    assert info.value.corrupt
    kv.data[(ALICE, f"token#{digest8}#{count}")] = "tampered"
    with pytest.raises(StoreError) as info:
        chunked.get(ALICE, "token")
    assert str(info.value) == "the stored value 'token' does not match its checksum"
    kv.data[(ALICE, "token")] = "sa1:x:y:z"
    with pytest.raises(StoreError) as info:
        chunked.get(ALICE, "token")
    assert str(info.value) == "the stored value 'token' is corrupt"


def test_a_value_of_exactly_the_limit_is_one_entry_and_the_limit_has_a_floor(kv: FakeKV) -> None:
    chunked = Chunked(kv, LIMIT)
    chunked.set(ALICE, "token", "x" * (LIMIT // 2))
    assert kv.data == {(ALICE, "token"): "x" * (LIMIT // 2)}
    Chunked(kv, 4)  # one astral character fits
    with pytest.raises(ValueError) as info:
        Chunked(kv, 3)
    assert str(info.value) == "limit must leave room for one character (4 bytes of UTF-16)"


def test_a_logout_deletes_exactly_the_parts_there_are(kv: FakeKV) -> None:
    chunked = Chunked(kv, LIMIT)
    chunked.set(ALICE, "token", big("a"))
    deleted: list[str] = []
    real_delete = kv.delete

    def delete(account: Account, name: str) -> None:
        deleted.append(name)
        real_delete(account, name)

    kv.delete = delete  # type: ignore[method-assign]
    head = kv.data[(ALICE, "token")]
    count, digest8 = int(head.split(":")[1]), head.split(":")[2][:8]
    chunked.delete(ALICE, "token")
    parts = [f"token#{digest8}#{i}" for i in range(2, count + 1)]
    assert sorted(n for n in deleted if "#" in n and not n.endswith("#gens")) == sorted(parts)
    assert kv.data == {}
