"""A hostile review of the redesigned core (issue 7): each test here proves a defect by failing
on the code it was written against, unless marked "defence holds". Loopback only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import filelock
import pytest
import requests

from requests_silentauth import FileStore, PasswordGrant, SilentAuth
from requests_silentauth.testing import TokenServer

from .conftest import PASSWORD, USER

MakeAuth = Callable[..., SilentAuth]


def _run_in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def body() -> None:
        started = time.monotonic()
        try:
            out["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            out["error"] = exc
        out["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


# -- 2. hangs: a request's own timeout= must bound the wait for the store lock ---------------


@pytest.mark.timeout(30)
def test_request_timeout_bounds_the_wait_for_another_processes_store_lock(
    server: TokenServer, session: requests.Session, tmp_path: Path
) -> None:
    """Another process holds the store's per-account lock (it is renewing against a slow
    identity provider with a long token_timeout, or it hangs). A request made with
    ``timeout=2`` must give up in about 2 s (issue 7 behaviour 8, and the README: "a
    request's own timeout= wins"); today it waits the FileStore's lock_timeout (60 s), because
    ``renew`` enters ``vault.lock()`` with no deadline at all."""
    store = FileStore(tmp_path / "store.json")  # default lock_timeout=60
    auth = SilentAuth(
        PasswordGrant(server.token_url), username=USER, password=PASSWORD, store=store,
        prompt=False,
    )
    lock_file = store.path.with_name(f"{store.path.name}.{auth.account.key()[:12]}.lock")
    other_process = filelock.FileLock(str(lock_file))  # a second fd: flock conflicts like a process
    other_process.acquire()
    try:
        session.auth = auth
        thread, out = _run_in_thread(lambda: session.get(server.url + "/api/data", timeout=2))
        thread.join(15)
        assert not thread.is_alive(), "a request with timeout=2 still waits for the store lock after 15 s"
        assert isinstance(out.get("error"), requests_silentauth_errors()), out
    finally:
        other_process.release()
        thread.join(70)


def requests_silentauth_errors() -> tuple[type[BaseException], ...]:
    from requests_silentauth import SilentAuthError

    return (SilentAuthError,)
