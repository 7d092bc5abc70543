"""One way to run the CLI on a pseudo-terminal (its controlling terminal), for the tests where a
terminal matters: prompts, Ctrl-C and Ctrl-D, live countdowns. Bounded in time: a child still
running at the deadline is killed."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

#: Called with everything the terminal showed so far and the terminal's fd (to type into).
React = Callable[[bytes, int], None]

CLI = ("-m", "requests_silentauth")


def on_pty(
    argv: Sequence[str],
    env: dict[str, str],
    react: React | None = None,
    *,
    timeout: float = 30,
    python_argv: Sequence[str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, str]:
    """Run ``python -m requests_silentauth ARGV`` (or ``python *python_argv``) on a
    pseudo-terminal; ``react`` sees the output as it arrives. Returns the exit code and
    everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        if cwd is not None:
            os.chdir(cwd)
        args = list(python_argv) if python_argv is not None else [*CLI, *argv]
        os.execve(sys.executable, [sys.executable, *args], env)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if react is not None:
                react(out, fd)
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


class Typist:
    """Types ``script[i][1]`` once ``script[i][0]`` has shown up ``i``-th time in a row of
    the same prompt (so three password prompts take three answers), in order; ``typed`` counts
    the answers given and ``seen`` the prompts of the step being typed."""

    def __init__(self, script: Sequence[tuple[bytes, bytes]]) -> None:
        self.script = list(script)
        self.typed = 0

    def __call__(self, out: bytes, fd: int) -> None:
        if self.typed >= len(self.script):
            return
        prompt, answer = self.script[self.typed]
        earlier = sum(1 for p, _ in self.script[: self.typed] if p == prompt)
        if out.count(prompt) > earlier:
            time.sleep(0.05)  # getpass turns echo off after writing the prompt
            os.write(fd, answer)
            self.typed += 1


def passwords(*answers: bytes) -> Typist:
    """Type ``answers[i]`` at the i-th password prompt."""
    return Typist([(b"Password for", a) for a in answers])
