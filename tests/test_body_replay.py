"""Bodies are resent identically after a rejection, or not at all."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from requests_silentauth import SilentAuth, UnreplayableBodyError
from requests_silentauth.testing import TokenServer

MakeAuth = Callable[..., SilentAuth]
PAYLOAD = bytes(range(256)) * 64  # 16 KiB, every byte value


def _echoed(r: requests.Response) -> bytes:
    return base64.b64decode(r.json()["body_b64"])


@pytest.fixture
def rejecting(server: TokenServer, make_auth: MakeAuth, session: requests.Session) -> Any:
    """A session whose next request is rejected once (token revoked server-side)."""
    session.auth = make_auth()
    session.get(server.resource_url)
    server.revoke_access_tokens()
    return session


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"data": PAYLOAD}, PAYLOAD),
        ({"data": "héllo wörld"}, "héllo wörld".encode()),
        ({"data": {"a": "1", "b": "two"}}, b"a=1&b=two"),
        ({"json": {"k": [1, 2, 3]}}, json.dumps({"k": [1, 2, 3]}).encode()),
        ({"data": io.BytesIO(PAYLOAD)}, PAYLOAD),
    ],
    ids=["bytes", "str", "form", "json", "seekable-file"],
)
def test_replayable_bodies_are_resent_identically(
    server: TokenServer, rejecting: requests.Session, kwargs: dict[str, Any], expected: bytes
) -> None:
    r = rejecting.post(server.echo_url, **kwargs)
    assert r.status_code == 200
    assert len(r.history) == 1
    assert _echoed(r) == expected
    assert server.counts["token:refresh_token"] == 1


def test_seekable_file_at_an_offset_is_rewound_to_that_offset(
    server: TokenServer, rejecting: requests.Session
) -> None:
    fh = io.BytesIO(b"HEADER" + PAYLOAD)
    fh.seek(6)
    r = rejecting.put(server.echo_url, data=fh)
    assert r.status_code == 200 and len(r.history) == 1
    assert _echoed(r) == PAYLOAD


def test_multipart_files_are_resent_identically(
    server: TokenServer, rejecting: requests.Session
) -> None:
    files = {"upload": ("data.bin", io.BytesIO(PAYLOAD), "application/octet-stream")}
    r = rejecting.post(server.echo_url, files=files, data={"field": "value"})
    assert r.status_code == 200 and len(r.history) == 1
    body = _echoed(r)
    assert PAYLOAD in body and b'name="field"' in body
    assert r.json()["content_type"].startswith("multipart/form-data; boundary=")


def test_a_generator_body_is_never_resent(server: TokenServer, rejecting: requests.Session) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"part-1;"
        yield b"part-2;"

    with pytest.raises(UnreplayableBodyError) as info:
        rejecting.post(server.echo_url, data=chunks())
    assert info.value.response is not None
    assert info.value.response.status_code == 401
    counts = server.counts
    assert counts["api:rejected"] == 1  # sent once, never resent half-empty
    assert counts["api:ok"] == 1  # only the warm-up request
    assert counts["token:refresh_token"] == 1  # the token was renewed: a retry works
    assert rejecting.post(server.echo_url, data=chunks()).status_code == 200
    assert server.counts["token:refresh_token"] == 1


class _OneWayStream:
    """A readable stream with no seek/tell, like a pipe or socket."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._buf.read(n)

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self._buf.read(4096), b"")


def test_a_non_seekable_stream_is_never_resent(
    server: TokenServer, rejecting: requests.Session
) -> None:
    with pytest.raises(UnreplayableBodyError):
        rejecting.post(server.echo_url, data=_OneWayStream(PAYLOAD))
    assert server.counts["api:rejected"] == 1
