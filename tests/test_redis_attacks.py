"""Attack review of RedisStore (wt-attack11) against a real redis-server on 127.0.0.1: leases
that outlive their holder's deadline, a frozen holder, Redis that never answers, fork."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from requests_silentauth import Account, RedisStore, StoreError, Token
from requests_silentauth._codecs import encode_token
from requests_silentauth._store import TOKEN

pytestmark = pytest.mark.redis

ACCOUNT = Account("https://id.example/token", "alice")


@pytest.fixture
def namespace() -> str:
    return f"a11-{uuid.uuid4().hex[:12]}"


def token(at: str, refresh: str = "rt") -> str:
    now = time.time()
    return encode_token(Token(at, refresh, expires_at=now + 60, issued_at=now))


def test_a_holder_stuck_past_its_deadline_loses_its_lease(redis_url: str, namespace: str) -> None:
    """LOCK_WAIT's doc: 'a live holder keeps its lease for as long as its own renewal's
    deadline'. The watchdog renewed it for as long as the holder's thread lived: one stuck
    login callable (someone else's code, under the lock) stalled the whole fleet for good."""
    holder = RedisStore(redis_url, namespace=namespace, lock_timeout=0.5)
    other = RedisStore(redis_url, namespace=namespace, lock_timeout=0.5)
    stuck = holder.lock(ACCOUNT).within(0.5)  # the holder's request had 0.5 s left
    stuck.__enter__()
    try:
        # Its deadline passes, the holder never returns: the lease must end lock_timeout later.
        with other.lock(ACCOUNT).within(15):
            pass
    finally:
        stuck.__exit__(None, None, None)
