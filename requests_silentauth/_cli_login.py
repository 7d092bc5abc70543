"""``silentauth login --issuer URL --client-id ID (--device | --browser)`` (issue 8): log in once
with a device code or a browser; afterwards ``silentauth token --profile NAME`` and every script
are silent while the refresh token lives.

Kept apart from ``_cli`` so the command's other work stays small: the options, the live
countdown while a device code waits for approval, and the login itself."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
import time
from typing import Any, TextIO

from . import _profiles
from ._auth import SilentAuth
from ._interaction import DeviceAuthorization
from ._interactive import DeviceCode, default_show

__all__ = ["Countdown", "login"]


class Countdown:
    """``show`` for the device code at a terminal: the code, then a live line with the time
    left, until ``stop()``. The line is rewritten in place on a terminal, and printed once
    otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, info: DeviceAuthorization) -> None:
        default_show(info)
        deadline = time.monotonic() + info.expires_in
        if not _isatty(self.stream):
            print("Waiting for the approval...", file=self.stream, flush=True)
            return
        self._thread = threading.Thread(
            target=self._run, args=(deadline,), name="silentauth-countdown", daemon=True
        )
        self._thread.start()

    def _run(self, deadline: float) -> None:
        while True:
            left = max(0, round(deadline - time.monotonic()))
            line = f"\rWaiting for the approval: {left // 60}:{left % 60:02d} left "
            self.stream.write(line)
            self.stream.flush()
            if left <= 0 or self._stop.wait(1.0):
                return

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2.0)
            self.stream.write("\n")
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def login(args: argparse.Namespace, out: TextIO, settings: dict[str, Any]) -> int:
    """Log in interactively, save the profile, and say until when the token is valid."""
    if args.device or args.browser:  # else the profile's own grant (device or browser)
        settings["grant"] = "device" if args.device else "browser"
    if not settings.get("client_id"):
        raise ValueError("--device and --browser need --client-id")
    grant, kwargs = _profiles.arguments(
        settings, allow_insecure_http=args.allow_insecure_http, prompt=True
    )
    countdown = Countdown()
    if isinstance(grant, DeviceCode):
        grant = dataclasses.replace(grant, show=countdown)
    auth = SilentAuth(grant, **kwargs)
    try:
        token = auth.login(remember=False)
    except KeyboardInterrupt:
        countdown.stop()  # the line is ended before the message
        print("\nsilentauth: login interrupted; nothing was stored", file=sys.stderr)
        return 130
    finally:
        countdown.stop()
    if args.profile:
        path = _profiles.save(args.profile, settings)
        print(f"saved profile {args.profile!r} in {path}", file=out)
    from ._cli import _shown

    who = settings.get("client_id")
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(token.expires_at or time.time()))
    print(
        f"logged in ({settings['grant']}) for client {_shown(who)}; token {token.fingerprint}"
        + (f" valid until {when}" if token.expires_at else "")
        + ("; refreshed silently from now on" if token.refresh_token else ""),
        file=out,
    )
    return 0
