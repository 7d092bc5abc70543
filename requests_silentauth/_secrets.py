"""Where a login's secret (password or client secret) comes from: the one given to the auth,
else the vault, else a terminal prompt.

The prompt waits for a person, so it must never run under a lock (issue 7): other threads and
processes would wait on the person too. ``find`` therefore never prompts; it raises
``PromptNeeded`` from inside the locks, the caller lets the locks go, calls ``ask``, and starts
the renewal again with the answer (re-reading the store first: another process may have logged
in meanwhile)."""

from __future__ import annotations

import contextlib
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TextIO

from ._errors import CredentialsNotFound
from ._origins import origin_of
from ._store import Account
from ._vault import Vault

__all__ = ["PromptNeeded", "Secret", "ask", "find", "may_prompt", "not_found"]

Origin = Literal["given", "store", "prompt"]


@dataclass(frozen=True)
class Secret:
    value: str = field(repr=False)
    origin: Origin


class PromptNeeded(Exception):
    """No secret is given or stored, and a person may be asked: let the locks go, then ask."""


def find(given: str | None, vault: Vault, *, answer: Secret | None, prompt: bool) -> Secret:
    """The secret to log in with. ``answer`` is what a person typed at an earlier prompt in
    this renewal; ``prompt`` says whether asking is allowed (``may_prompt``)."""
    if given is not None:
        return Secret(given, "given")
    if answer is not None:
        return answer
    stored = vault.get_secret()
    if stored is not None:
        return Secret(stored, "store")
    if prompt:
        raise PromptNeeded
    raise not_found(vault)


def may_prompt(
    prompt: bool | None, stdin: TextIO | None = None, stderr: TextIO | None = None
) -> bool:
    """``prompt`` when set; else only when a person is at a terminal (stdin and stderr)."""
    if prompt is not None:
        return prompt
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    try:
        return stdin is not None and stdin.isatty() and stderr is not None and stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def ask(account: Account, read: Callable[[str], str] = getpass.getpass) -> Secret | None:
    """Ask at the terminal; None when the person typed nothing. Never call under a lock."""
    try:
        secret = read(
            f"Password for {account.username or 'client'} at {origin_of(account.endpoint)}: "
        )
    except EOFError:  # Ctrl-D: the same as typing nothing (CredentialsNotFound, not EOFError)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write("\n")  # the prompt's line is left open
        return None
    return Secret(secret, "prompt") if secret else None


def not_found(vault: Vault) -> CredentialsNotFound:
    account = vault.account
    user = account.username
    fix = (
        f"store one with: {vault.login_command}"
        if vault.login_command
        else "pass password= (or client_secret=) to the auth, or store it in this store first"
    )
    return CredentialsNotFound(
        f"no password is stored for {user or 'the client'} at {origin_of(account.endpoint)} "
        f"({vault.describe()}); {fix}"
    )
