"""Where a login's secret comes from: given, the vault, then (only outside the locks) a prompt."""

from __future__ import annotations

import io

import pytest

from requests_silentauth import Account, CredentialsNotFound, MemoryStore
from requests_silentauth._secrets import PromptNeeded, Secret, ask, find, may_prompt
from requests_silentauth._vault import Vault

ACCOUNT = Account("https://login.example.test/oauth/token", "alice", client_id="cli")


@pytest.fixture
def vault() -> Vault:
    return Vault(MemoryStore(), ACCOUNT)


def test_given_then_answer_then_store(vault: Vault) -> None:
    vault.set_secret("stored")
    typed = Secret("typed", "prompt")
    assert find("given", vault, answer=typed, prompt=True) == Secret("given", "given")
    assert find(None, vault, answer=typed, prompt=True) == typed
    assert find(None, vault, answer=None, prompt=True) == Secret("stored", "store")


def test_the_secret_is_shared_by_every_client_of_the_user(vault: Vault) -> None:
    Vault(vault.store, Account(ACCOUNT.endpoint, "alice")).set_secret("stored")
    assert find(None, vault, answer=None, prompt=False).value == "stored"


def test_nothing_stored_asks_for_a_prompt_and_never_prompts_itself(vault: Vault) -> None:
    with pytest.raises(PromptNeeded):
        find(None, vault, answer=None, prompt=True)


def test_nothing_stored_and_no_prompt_says_how_to_store_one(vault: Vault) -> None:
    with pytest.raises(CredentialsNotFound) as info:
        find(None, vault, answer=None, prompt=False)
    message = str(info.value)
    assert "no password is stored for alice at https://login.example.test" in message
    assert "memory" in message
    # A MemoryStore keeps nothing between runs: no `silentauth login` can help (issue 9).
    assert "silentauth login" not in message and "pass password=" in message
    vault.login_command = "silentauth login --profile work"
    with pytest.raises(CredentialsNotFound) as info:
        find(None, vault, answer=None, prompt=False)
    assert str(info.value).endswith("store one with: silentauth login --profile work")


def test_secrets_are_masked_in_reprs() -> None:
    assert "hunter2" not in repr(Secret("hunter2", "prompt"))


class Tty(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed file")  # as a real closed stream does
        return self.tty


def test_may_prompt_only_at_a_terminal_unless_told() -> None:
    assert may_prompt(True, Tty(False), Tty(False))
    assert not may_prompt(False, Tty(True), Tty(True))
    assert may_prompt(None, Tty(True), Tty(True))
    assert not may_prompt(None, Tty(True), Tty(False))
    assert not may_prompt(None, Tty(False), Tty(True))
    closed = Tty(True)
    closed.close()
    assert not may_prompt(None, closed, Tty(True))


def test_ask_names_the_user_and_origin_and_an_empty_answer_is_none() -> None:
    asked: list[str] = []

    def read(question: str) -> str:
        asked.append(question)
        return "typed" if len(asked) == 1 else ""

    assert ask(ACCOUNT, read) == Secret("typed", "prompt")
    assert asked == ["Password for alice at https://login.example.test: "]
    assert ask(ACCOUNT, read) is None


# -- edges the mutation run found untested ------------------------------------------------------


def test_the_prompt_and_the_hint_without_a_user_name() -> None:
    from requests_silentauth import Account, MemoryStore
    from requests_silentauth._secrets import ask, not_found
    from requests_silentauth._vault import Vault

    account = Account("https://login.example.test/oauth/token", "")
    asked: list[str] = []

    def read(text: str) -> str:
        asked.append(text)
        return ""

    assert ask(account, read=read) is None
    assert asked == ["Password for client at https://login.example.test: "]
    assert str(not_found(Vault(MemoryStore(), account))) == (
        "no password is stored for the client at https://login.example.test (memory (nothing is "
        "kept after the process ends)); pass password= (or client_secret=) to the auth, or "
        "store it in this store first"
    )


def test_may_prompt_reads_the_real_streams_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from requests_silentauth._secrets import may_prompt

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty())
    monkeypatch.setattr("sys.stderr", Tty())
    assert may_prompt(None) is True
    monkeypatch.setattr("sys.stdin", None)
    assert may_prompt(None) is False


def test_ctrl_d_at_the_prompt_is_typing_nothing() -> None:
    from requests_silentauth import Account
    from requests_silentauth._secrets import ask

    def read(text: str) -> str:
        raise EOFError

    assert ask(Account("https://login.example.test/t", "alice"), read=read) is None
