"""The loopback listener that receives the browser's redirect (RFC 8252 §7.3): one valid
callback, then it closes. What a request means is decided by ``_interaction.judge_callback``;
this is only the socket around it.

It listens on ``127.0.0.1`` (a free port unless the redirect URI names one), answers every
request with a short page that carries nothing secret, never logs a request line (it holds the
authorization code), and gives up at the deadline with a clear error.

Each connection is served in a thread of its own: browsers open spare connections that send
nothing (the reason ``http.server`` became threaded, bpo-31639), and one served at a time would
keep the real redirect waiting behind them. No connection outlives the login: at the deadline
(or once the callback came) every one still open is shut, so a client that trickles a byte at
a time cannot hold the login past ``login_timeout``."""

from __future__ import annotations

import contextlib
import errno
import html
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

from ._errors import LoginExpired
from ._interaction import Callback, judge_callback

__all__ = ["Listener", "loopback_redirect"]

_HOSTS = {"127.0.0.1": socket.AF_INET, "localhost": socket.AF_INET, "::1": socket.AF_INET6}


def loopback_redirect(redirect_uri: str) -> tuple[str, int, str]:
    """(host to bind, port, path) of a loopback redirect URI; ValueError when it is not one."""
    parts = urlsplit(redirect_uri)
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or host not in _HOSTS or parts.fragment or "@" in parts.netloc:
        raise ValueError(
            f"redirect_uri {redirect_uri!r} must be a loopback http URL such as "
            "http://127.0.0.1:8765/callback (RFC 8252 §7.3), without a fragment or user"
        )
    try:
        port = 80 if parts.port is None else parts.port
    except ValueError:
        raise ValueError(f"redirect_uri {redirect_uri!r} has an invalid port") from None
    if port == 0:  # the provider would send the browser to port 0, not to where we listen
        raise ValueError(
            f"redirect_uri {redirect_uri!r} has port 0; name the registered port, or pass "
            "redirect_uri=None to use a free one"
        )
    return ("127.0.0.1" if host == "localhost" else host), port, parts.path or "/"


#: Connections served at once; more are closed unanswered (a local flood, not a browser).
MAX_CONNECTIONS = 16


class _Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    block_on_close = False  # ``close`` shuts the connections and joins their threads itself
    state = ""
    expected_host = ""
    expected_path = "/"
    deadline = 0.0
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def server_activate(self) -> None:
        super().server_activate()
        self.result: Callback | None = None
        self.done = threading.Event()  # set once ``result`` is in and its page was sent
        self.guard = threading.Lock()
        self.live: dict[socket.socket, threading.Thread | None] = {}
        self.closing = False

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.guard:
            if self.closing or len(self.live) >= MAX_CONNECTIONS:
                self.shutdown_request(request)
                return
            self.live[request] = None
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="silentauth-loopback",
            daemon=True,
        )
        with self.guard:
            self.live[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self.guard:
            self.live.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silenced: a browser hanging up early is no news, and stderr belongs to the user."""

    def settle(self, verdict: Callback) -> None:
        """The first valid callback ends the login (called once its page was sent)."""
        with self.guard:
            if self.result is None:
                self.result = verdict
                self.done.set()

    def hang_up(self) -> list[threading.Thread]:
        """Shut every connection still open (a slow or idle client); their threads end."""
        with self.guard:  # under the guard: a connection still listed is not closed yet
            self.closing = True
            for conn in self.live:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            return [t for t in self.live.values() if t is not None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    #: A connection that sends nothing holds the listener this long at most, and never past
    #: the login's deadline.
    LONGEST = 10.0

    def setup(self) -> None:
        super().setup()
        left = self.server.deadline - self.server.clock()
        self.connection.settimeout(max(0.05, min(self.LONGEST, left)))

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the request line carries the authorization code."""

    def _answer(self) -> None:
        verdict = judge_callback(
            method=self.command,
            target=self.path,
            host=self.headers.get("Host"),
            expected_host=self.server.expected_host,
            expected_path=self.server.expected_path,
            state=self.server.state,
        )
        body = (
            "<!doctype html><meta charset=utf-8><title>silentauth</title>"
            f"<p>{html.escape(verdict.page)}</p>"
        ).encode()
        self.send_response(verdict.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if verdict.code is not None or verdict.error is not None:
            self.server.settle(verdict)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _answer


class Listener:
    """``with Listener(redirect_uri) as listener: ... listener.wait(state, deadline)``."""

    def __init__(self, redirect_uri: str | None = None) -> None:
        if redirect_uri is None:
            host, port, path = "127.0.0.1", 0, "/"
        else:
            host, port, path = loopback_redirect(redirect_uri)
        family = _HOSTS[host]
        server_class = type("_Bound", (_Server,), {"address_family": family})
        try:
            self._server: _Server = server_class((host, port), _Handler)
        except OSError as exc:
            raise ValueError(
                f"cannot listen on {host} port {port} for the browser's redirect "
                f"({exc.strerror or type(exc).__name__}); is another login running? Pass "
                "redirect_uri=None to use a free port"
            ) from None
        bound = self._server.server_address[1]
        self._guard: socket.socket | None = None
        if redirect_uri is not None and (urlsplit(redirect_uri).hostname or "").lower() == (
            "localhost"
        ):
            self._guard = self._hold_ipv6(bound)
        shown_host = f"[{host}]" if family == socket.AF_INET6 else host
        if redirect_uri is None:
            self.redirect_uri = f"http://{shown_host}:{bound}/"
            self._server.expected_host = f"{shown_host}:{bound}"
        else:
            self.redirect_uri = redirect_uri  # exactly as registered at the provider
            self._server.expected_host = urlsplit(redirect_uri).netloc
        self._server.expected_path = path

    def _hold_ipv6(self, port: int) -> socket.socket | None:
        """For a ``localhost`` redirect: hold ``[::1]:port`` too (bound, not listening, so a
        browser trying ::1 first is refused at once and goes on to 127.0.0.1). Else another
        local process could listen there and receive the redirect (RFC 8252 §8.3)."""
        guard = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            guard.bind(("::1", port))  # no SO_REUSEADDR: nobody else can bind it meanwhile
        except OSError as exc:
            guard.close()
            if exc.errno != errno.EADDRINUSE:
                return None  # no IPv6 loopback here: no browser reaches [::1] either
            self._server.server_close()
            raise ValueError(
                f"another program listens on [::1] port {port}, where a browser may send the "
                "redirect for localhost; use a redirect_uri with 127.0.0.1 (or stop that "
                "program)"
            ) from None
        return guard

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._guard is not None:
            self._guard.close()
        self._server.server_close()  # no new connection (the socket is closed first)
        for thread in self._server.hang_up():
            thread.join(1.0)  # a shut socket ends its read at once

    def wait(
        self,
        state: str,
        deadline: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        limit: float = 0.0,
    ) -> Callback:
        """Serve requests until one valid callback arrives (returned), or the deadline (on
        ``clock``) passes: ``LoginExpired``. ``limit`` is only for the message. Each
        connection is served in its own thread; this one only accepts and watches the time."""
        server = self._server
        server.state = state
        server.deadline, server.clock = deadline, clock
        while not server.done.is_set():
            left = deadline - clock()
            if left <= 0:
                raise LoginExpired(
                    "the browser did not come back to the login listener"
                    + (f" within {limit:.0f} s" if limit else "")
                    + "; run the login again (and finish it in the browser)"
                )
            server.timeout = min(left, 0.05)  # how soon a callback served in a thread is seen
            server.handle_request()
        assert server.result is not None
        return server.result
