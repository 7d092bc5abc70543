"""The loopback listener that receives the browser's redirect (RFC 8252 §7.3): one valid
callback, then it closes. What a request means is decided by ``_interaction.judge_callback``;
this is only the socket around it.

It listens on ``127.0.0.1`` (a free port unless the redirect URI names one), answers every
request with a short page that carries nothing secret, never logs a request line (it holds the
authorization code), and gives up at the deadline with a clear error."""

from __future__ import annotations

import html
import socket
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
        port = parts.port or 80
    except ValueError:
        raise ValueError(f"redirect_uri {redirect_uri!r} has an invalid port") from None
    return ("127.0.0.1" if host == "localhost" else host), port, parts.path or "/"


class _Server(HTTPServer):
    result: Callback | None = None
    state = ""
    expected_host = ""
    expected_path = "/"
    deadline = 0.0
    clock: Callable[[], float] = staticmethod(time.monotonic)


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
        if verdict.code is not None or verdict.error is not None:
            self.server.result = verdict
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
        shown_host = f"[{host}]" if family == socket.AF_INET6 else host
        if redirect_uri is None:
            self.redirect_uri = f"http://{shown_host}:{bound}/"
            self._server.expected_host = f"{shown_host}:{bound}"
        else:
            self.redirect_uri = redirect_uri  # exactly as registered at the provider
            self._server.expected_host = urlsplit(redirect_uri).netloc
        self._server.expected_path = path

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.server_close()

    def wait(
        self,
        state: str,
        deadline: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        limit: float = 0.0,
    ) -> Callback:
        """Serve requests until one valid callback arrives (returned), or the deadline (on
        ``clock``) passes: ``LoginExpired``. ``limit`` is only for the message."""
        self._server.state = state
        self._server.deadline, self._server.clock = deadline, clock
        while self._server.result is None:
            left = deadline - clock()
            if left <= 0:
                raise LoginExpired(
                    "the browser did not come back to the login listener"
                    + (f" within {limit:.0f} s" if limit else "")
                    + "; run the login again (and finish it in the browser)"
                )
            self._server.timeout = min(left, 1.0)
            self._server.handle_request()
        return self._server.result
