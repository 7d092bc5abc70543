"""Pure attacks on the core (no sockets). A test here fails on the code it was written against
because of a real defect, unless marked "defence holds"."""

from __future__ import annotations

import pytest

from requests_silentauth._chunking import Chunked
from requests_silentauth._store import Account

ACCOUNT = Account("https://idp.example/token", "alice")


class CountingKV:
    def __init__(self) -> None:
        self.values: dict[tuple[Account, str], str] = {}
        self.calls = 0

    def get(self, account: Account, name: str) -> str | None:
        self.calls += 1
        return self.values.get((account, name))

    def set(self, account: Account, name: str, value: str) -> None:
        self.calls += 1
        self.values[(account, name)] = value

    def delete(self, account: Account, name: str) -> None:
        self.calls += 1
        self.values.pop((account, name), None)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("operation", ["set", "delete"])
def test_a_garbage_parts_index_does_not_cost_hundreds_of_thousands_of_keyring_calls(
    operation: str,
) -> None:
    """A damaged or hostile ``token#gens`` keyring entry (64 generations of 10,000 parts each,
    which ``parse_generations`` accepts) makes the next token write, or a logout, issue
    64 x 9,999 = 639,936 keyring deletes: each is a D-Bus round trip (or a Windows Credential
    Manager call), so the renewal or ``silentauth logout`` hangs for many minutes. Nothing we
    write ever needs more than a handful of parts for a token set; the count should be capped
    to what a value of plausible size needs (or checked against the head that wrote it)."""
    kv = CountingKV()
    garbage = ",".join(f"{i:08x}:10000" for i in range(64))
    kv.values[(ACCOUNT, "token#gens")] = garbage
    chunked = Chunked(kv, 2400)
    if operation == "set":
        chunked.set(ACCOUNT, "token", '{"access_token":"x"}')
    else:
        chunked.delete(ACCOUNT, "token")
    assert kv.calls < 2_000, f"{kv.calls} keyring calls for one {operation} of a small value"
