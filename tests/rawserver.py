"""Shared test helpers for raw loopback servers and forked children (no product code)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable


class RawServer:
    """A TCP server on 127.0.0.1 running ``serve(conn, self)`` per connection, one at a time or
    each in a thread of its own (``concurrent``). ``finished`` is set when a ``serve`` got to
    the end; ``stop`` ends it early."""

    def __init__(
        self, serve: Callable[[socket.socket, RawServer], None], *, concurrent: bool = False
    ) -> None:
        self.serve = serve
        self.concurrent = concurrent
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.accepted = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.origin}/oauth/token"
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.concurrent:
                threading.Thread(target=self._one, args=(conn,), daemon=True).start()
            else:
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            read_request(conn)
            self.serve(conn, self)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


def read_request(conn: socket.socket) -> None:
    """Read the request head and a Content-Length body (enough to answer it)."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return
        body += chunk


def wait_child(pid: int, seconds: float) -> int | None:
    """The forked child's exit code, or None (after killing it) when it is still running after
    ``seconds``: a hung child fails the test instead of hanging it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None
