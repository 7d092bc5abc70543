"""Values too big for one entry, split over several entries of any key-value store.

Why: Windows Credential Manager refuses secrets over 2,560 bytes of UTF-16, and a token set
with a JWT access token is often larger. Values are split into parts of at most ``limit`` UTF-16
bytes on every platform, so a keyring written on one works on all.

Layout of a value ``name`` (each line one entry of the inner store, same account):

- ``name``: the value itself when it is small, else the *head*
  ``sa1:<count>:<digest16>:<first part>``;
- ``name#<digest8>#<i>`` for i in 2..count: the other parts of the generation ``digest8`` (a
  generation is one written value: its parts are named after its digest, so a new value's
  parts never overwrite the parts the current head points to);
- ``name#gens``: only while some generation other than the head's may still have parts: the
  list ``<digest8>:<count>,...`` of those generations. Keyring backends cannot list entries,
  so this is how a later write or delete finds parts left by a failed one.

A write records the generations it may leave behind (the new one, the old one) in
``name#gens`` first, writes the new parts, then the head: that single write is the commit
point, and a failure anywhere before it leaves the previous value readable. Then it deletes
every recorded generation other than the head's and removes ``name#gens``. A failed write
deletes the parts it wrote at once; what it cannot delete stays recorded and goes with the
next write or delete (issue 7 behaviour 11: nothing left behind, a logout removes every part of
every generation).

Writers of one name must be serialized (the store's lock), as they are for every other value:
two unserialized writers could each delete the generation the other is about to commit."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from ._errors import StoreError

if TYPE_CHECKING:
    from ._store import Account

__all__ = ["CHUNK_BYTES", "Chunked", "KeyValue"]

log = logging.getLogger("requests_silentauth")

#: Windows Credential Manager's limit is 2,560 bytes of UTF-16; room is left for the head's
#: ``sa1:<count>:<digest>:`` prefix.
CHUNK_BYTES = 2400
HEAD = "sa1:"
#: Most generations remembered for clean-up; beyond that the oldest are forgotten (they can
#: only pile up while every delete fails), so the index itself always fits one entry.
MAX_GENERATIONS = 8
#: The most parts a value may have (about 75,000 characters). A damaged or hostile index or head
#: naming more must not cost a keyring call per part it claims (each is a D-Bus round trip).
MAX_PARTS = 64


class KeyValue(Protocol):
    """Text values by (account, name): the part of ``Store`` that chunking needs."""

    def get(self, account: Account, name: str) -> str | None: ...

    def set(self, account: Account, name: str, value: str) -> None: ...

    def delete(self, account: Account, name: str) -> None:
        """Remove the value; deleting what is not there is not an error."""
        ...


#: A generation: the first 8 hex digits of the value's digest, and its number of parts.
Generation = tuple[str, int]


class Chunked:
    """``get``/``set``/``delete`` over ``inner`` for values of any size (see the module doc).
    ``where(account, name)`` names an entry in error messages (never its contents)."""

    def __init__(
        self,
        inner: KeyValue,
        limit: int = CHUNK_BYTES,
        *,
        where: Callable[[Account, str], str] | None = None,
    ) -> None:
        if limit < 4:
            raise ValueError("limit must leave room for one character (4 bytes of UTF-16)")
        self.inner = inner
        self.limit = limit
        self._where = where or _default_where

    # -- reading ------------------------------------------------------------------------------

    def get(self, account: Account, name: str) -> str | None:
        head = self.inner.get(account, name)
        if head is None or not head.startswith(HEAD):
            return head
        count, digest, first = self._parse_head(account, name, head)
        parts = [first]
        for i in range(2, count + 1):
            part = self.inner.get(account, part_name(name, digest, i))
            if part is None:
                raise StoreError(
                    f"{self._where(account, name)} is missing part {i} of {count}", corrupt=True
                )
            parts.append(part)
        value = "".join(parts)
        if _digest(value) != digest:
            raise StoreError(
                f"{self._where(account, name)} does not match its checksum", corrupt=True
            )
        return value

    # -- writing ------------------------------------------------------------------------------

    def set(self, account: Account, name: str, value: str) -> None:
        old = self._generation_of(account, name, self.inner.get(account, name))
        recorded = self._recorded(account, name)
        if utf16_size(value) <= self.limit and not value.startswith(HEAD):
            parts, head, new = [value], value, None
        else:
            # A small value that looks like a head is stored as a one-part head, so that
            # reading it back is never ambiguous.
            parts = split_utf16(value, self.limit)
            if len(parts) > MAX_PARTS:
                where = self._where(account, name)
                raise StoreError(
                    f"a value of {len(value)} characters is too large for {where} (at most "
                    f"{MAX_PARTS} parts); use a FileStore for values this size"
                )
            digest = _digest(value)
            head = f"{HEAD}{len(parts)}:{digest}:{parts[0]}"
            new = (digest[:8], len(parts)) if len(parts) > 1 else None
        # What this write may leave behind: its own parts (until the head names them) and the
        # old value's (once the head no longer does). Rewriting the same value leaves nothing.
        at_risk = [] if new == old else [g for g in (old, new) if g is not None]
        pending = _merge(recorded, at_risk)
        self._record(account, name, recorded, pending)
        try:
            if new is not None:
                for i, part in enumerate(parts[1:], start=2):
                    self.inner.set(account, part_name(name, new[0], i), part)
            self.inner.set(account, name, head)  # the commit point
        except Exception:
            self._abandon(account, name, old, new, head, pending)
            raise
        self._sweep(account, name, pending, keep=new)

    def delete(self, account: Account, name: str) -> None:
        old = self._generation_of(account, name, self.inner.get(account, name))
        recorded = self._recorded(account, name)
        pending = _merge(recorded, [old] if old is not None else [])
        # Recorded before the head goes: once it is gone, nothing else names its parts.
        self._record(account, name, recorded, pending)
        self.inner.delete(account, name)
        self._sweep(account, name, pending, keep=None)

    # -- the generations index ------------------------------------------------------------------

    def _recorded(self, account: Account, name: str) -> list[Generation] | None:
        """The generations listed in the index; None when there is no index entry."""
        raw = self.inner.get(account, index_name(name))
        return None if raw is None else parse_generations(raw)

    def _record(
        self,
        account: Account,
        name: str,
        before: list[Generation] | None,
        after: list[Generation],
    ) -> None:
        """Make the index list ``after`` (no entry at all when empty); ``before`` is what it
        holds now (None: no entry)."""
        if after:
            if after != before:
                self.inner.set(account, index_name(name), format_generations(after))
        elif before is not None:
            self.inner.delete(account, index_name(name))

    def _sweep(
        self, account: Account, name: str, pending: list[Generation], keep: Generation | None
    ) -> None:
        """After a commit: delete every recorded generation but ``keep``, then forget those
        that are gone. Failures here do not fail the write (the value is committed); what
        could not be deleted stays recorded for the next write or delete."""
        left = [g for g in pending if g != keep and not self._delete_parts(account, name, g)]
        try:
            self._record(account, name, pending or None, left)
        except Exception as exc:
            log.debug("could not update the parts index of %s (%s)", name, type(exc).__name__)

    def _abandon(
        self,
        account: Account,
        name: str,
        old: Generation | None,
        new: Generation | None,
        head: str,
        pending: list[Generation],
    ) -> None:
        """A write failed: remove the parts it wrote and put the index back, unless the head
        was committed after all (a backend may fail to report a write that happened; deleting
        the parts then would destroy the new value). Best effort: what stays is recorded."""
        try:
            committed = self.inner.get(account, name) == head
        except Exception:
            return  # cannot tell: keep the parts, they stay recorded
        if committed:
            self._sweep(account, name, pending, keep=new)
            return
        if new is not None and not self._delete_parts(account, name, new):
            return
        # The head still names the old generation: it needs no record.
        left = [g for g in pending if g not in (old, new)]
        try:
            self._record(account, name, pending or None, left)
        except Exception as exc:
            log.debug("could not update the parts index of %s (%s)", name, type(exc).__name__)

    def _delete_parts(self, account: Account, name: str, generation: Generation) -> bool:
        digest8, count = generation
        try:
            for i in range(2, count + 1):
                self.inner.delete(account, part_name(name, digest8, i))
        except Exception as exc:
            log.debug("could not delete old parts of %s (%s)", name, type(exc).__name__)
            return False
        return True

    # -- heads ----------------------------------------------------------------------------------

    def _parse_head(self, account: Account, name: str, head: str) -> tuple[int, str, str]:
        try:
            return parse_head(head)
        except ValueError:
            raise StoreError(f"{self._where(account, name)} is corrupt", corrupt=True) from None

    def _generation_of(self, account: Account, name: str, head: str | None) -> Generation | None:
        """The generation whose parts ``head`` points to; None for a plain value or a head
        too damaged to name its parts (those cannot be found, only the head replaced)."""
        if head is None or not head.startswith(HEAD):
            return None
        try:
            count, digest, _ = parse_head(head)
        except ValueError:
            return None
        return (digest[:8], count) if count > 1 else None


def _default_where(account: Account, name: str) -> str:
    return f"the stored value {name!r}"


def part_name(name: str, digest: str, index: int) -> str:
    return f"{name}#{digest[:8]}#{index}"


def index_name(name: str) -> str:
    return f"{name}#gens"


def parse_head(head: str) -> tuple[int, str, str]:
    """``(count, digest16, first part)``; ValueError when damaged."""
    _, count_s, digest, first = head.split(":", 3)
    if not (count_s.isascii() and count_s.isdigit() and len(count_s) <= 5):
        raise ValueError("bad part count")
    count = int(count_s)
    if not 1 <= count <= MAX_PARTS or not _is_hex(digest, 16):
        raise ValueError("bad head")
    return count, digest, first


def parse_generations(raw: str) -> list[Generation]:
    """The generations listed in an index entry; damaged items are skipped (their parts, if
    any, cannot be named anyway)."""
    found: list[Generation] = []
    for item in raw.split(",")[:MAX_GENERATIONS]:
        digest8, _, count_s = item.partition(":")
        if _is_hex(digest8, 8) and count_s.isascii() and count_s.isdigit() and len(count_s) <= 5:
            generation = (digest8, int(count_s))
            if 2 <= generation[1] <= MAX_PARTS and generation not in found:
                found.append(generation)
    return found


def format_generations(generations: Iterable[Generation]) -> str:
    return ",".join(f"{d}:{n}" for d, n in generations)


def _merge(recorded: list[Generation] | None, more: list[Generation]) -> list[Generation]:
    merged = (recorded or []) + [g for g in more if g not in (recorded or [])]
    return merged[-MAX_GENERATIONS:]


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdef" for c in text)


def utf16_size(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass"))


def split_utf16(value: str, limit: int) -> list[str]:
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


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
