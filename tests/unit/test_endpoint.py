"""The token endpoint's decisions, without a socket: budgets, what a token POST carries (no
session auth, no netrc, no application hooks, no proxy for loopback), how an answer is judged,
the thread marker, and the fork reset."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.utils import select_proxy

from requests_silentauth import InsecureTransportError, TokenEndpointError
from requests_silentauth import _endpoint as endpoint
from requests_silentauth._endpoint import (
    _CLIENTS,
    DEFAULT_BUDGET,
    MAX_ANSWER,
    MAX_BUDGET,
    Answer,
    TokenClient,
    _Arrived,
    _budget,
    _Exchange,
    _Failed,
    _Late,
    _read_body,
    failure_error,
    judge,
    request_settings,
    seconds,
    token_request_active,
    token_work,
)

PASSWORD = "pw-8d1c-secret"
SECRET = "cs-51ab-secret"
WHERE = "https://id.example.com"

# -- budgets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(None, 7.0), (2.5, 2.5), (3, 3.0), ((1.0, 2.0), 3.0), ((None, 2.0), 9.0), ((1.0, None), 8.0)],
)
def test_seconds_is_one_budget(timeout: Any, expected: float) -> None:
    assert seconds(timeout, 7.0) == expected


def test_budget_defaults_and_caps() -> None:
    assert _budget(None) == DEFAULT_BUDGET
    assert _budget(float("nan")) == DEFAULT_BUDGET
    assert _budget(float("inf")) == MAX_BUDGET
    assert _budget((0.5, 0.25)) == 0.75
    assert _budget(-1.0) == -1.0  # no time left: refused by post, see below


# -- what a token POST carries ------------------------------------------------------------------


class Recorder(requests.auth.AuthBase):
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        self.calls += 1
        r.headers["Authorization"] = "Bearer from-the-session"
        return r


def _prepare(session: requests.Session, url: str, auth: tuple[str, str] | None) -> Any:
    settings = request_settings(url, auth, 5.0)
    request = requests.Request(
        "POST",
        url,
        data={"password": PASSWORD},
        auth=settings["auth"],
        hooks=settings["hooks"],
        headers=settings["headers"],
    )
    return session.prepare_request(request)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def test_session_auth_is_never_applied_to_a_token_request(session: requests.Session) -> None:
    recorder = Recorder()
    session.auth = recorder
    prepared = _prepare(session, "https://id.example.com/token", None)
    assert recorder.calls == 0
    assert "Authorization" not in prepared.headers


def test_client_basic_auth_is_ours_not_the_sessions(session: requests.Session) -> None:
    recorder = Recorder()
    session.auth = recorder
    prepared = _prepare(session, "https://id.example.com/token", ("cli", SECRET))
    assert recorder.calls == 0
    assert prepared.headers["Authorization"] == requests.auth._basic_auth_str("cli", SECRET)


def test_netrc_is_never_consulted(
    session: requests.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine id.example.com login someone password netrc-pass\n")
    monkeypatch.setenv("NETRC", str(netrc))
    session.trust_env = True
    plain = session.prepare_request(requests.Request("POST", "https://id.example.com/token"))
    assert "Authorization" in plain.headers  # what requests would do without our no-op auth
    prepared = _prepare(session, "https://id.example.com/token", None)
    assert "Authorization" not in prepared.headers


def test_application_response_hooks_are_replaced(session: requests.Session) -> None:
    def app_hook(r: requests.Response, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("must not run")

    session.hooks["response"].append(app_hook)
    prepared = _prepare(session, "https://id.example.com/token", None)
    assert app_hook not in prepared.hooks["response"]
    assert len(prepared.hooks["response"]) == 1


def test_a_request_settings_repr_holds_no_secret() -> None:
    settings = request_settings("https://id.example.com/token", None, 5.0)
    assert repr(settings["auth"]) == "NoAuth()"


PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def env_proxies(monkeypatch: pytest.MonkeyPatch) -> str:
    proxy = "http://proxy.example.net:3128"
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in PROXY_VARS:
        monkeypatch.setenv(name, proxy)
    return proxy


def _chosen_proxy(session: requests.Session, url: str) -> str | None:
    settings = request_settings(url, None, 5.0)
    proxies = settings["proxies"] or {}  # what Session.request does with None
    merged = session.merge_environment_settings(url, proxies, True, None, None)
    return select_proxy(url, merged["proxies"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/oauth/token",
        "http://localhost/oauth/token",
        "http://LOCALHOST:9/t",
        "http://[::1]:8080/t",
        "http://127.1.2.3/t",
        "https://127.0.0.1/t",
    ],
)
def test_loopback_token_requests_use_no_proxy(
    session: requests.Session, env_proxies: str, url: str
) -> None:
    session.trust_env = True
    session.proxies = {"http": env_proxies, "https": env_proxies, "all": env_proxies}
    assert _chosen_proxy(session, url) is None


def test_other_hosts_keep_their_proxies(session: requests.Session, env_proxies: str) -> None:
    session.trust_env = True
    assert _chosen_proxy(session, "https://id.example.com/token") == env_proxies
    assert request_settings("https://id.example.com/token", None, 5.0)["proxies"] is None


def test_the_budget_is_both_socket_timeouts() -> None:
    assert request_settings("https://id.example.com/t", None, 2.5)["timeout"] == (2.5, 2.5)


# -- judging an answer ----------------------------------------------------------------------------


def arrived(status: int, body: bytes, **kw: Any) -> _Arrived:
    return _Arrived(
        status, body, kw.get("ctype", "application/json"), kw.get("retry_after"), WHERE + "/t"
    )


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_retryable_with_retry_after(status: int) -> None:
    with pytest.raises(TokenEndpointError) as info:
        judge(arrived(status, b"", retry_after="7"), where=WHERE, sent_at=0.0, now=0.0)
    assert info.value.retryable and info.value.status_code == status
    assert info.value.retry_after == 7.0
    assert info.value.__context__ is None


def test_an_oversized_answer_is_refused() -> None:
    with pytest.raises(TokenEndpointError, match="over") as info:
        judge(arrived(200, b" " * (MAX_ANSWER + 1)), where=WHERE, sent_at=0.0, now=0.0)
    assert not info.value.retryable


@pytest.mark.parametrize(
    "body", [b"<html>login</html>", b"", b"[1, 2]", b'"text"', b"[" * 100000 + b"]" * 100000]
)
def test_a_2xx_without_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(TokenEndpointError, match="not a JSON object") as info:
        judge(arrived(200, body, ctype="text/html"), where=WHERE, sent_at=0.0, now=0.0)
    assert not info.value.retryable and info.value.__context__ is None


def test_a_refusal_is_handed_back_decoded() -> None:
    body = b'{"error": "invalid_grant", "error_description": "nope"}'
    answer = judge(arrived(400, body), where=WHERE, sent_at=5.0, now=6.0)
    assert answer == Answer(
        400, {"error": "invalid_grant", "error_description": "nope"}, 5.0, WHERE + "/t"
    )
    assert not answer.ok and answer.oauth_error() == ("invalid_grant", "nope")
    assert judge(arrived(401, b"junk"), where=WHERE, sent_at=0.0, now=0.0).payload is None


def test_an_answer_holds_no_request_or_response() -> None:
    answer = judge(arrived(200, b'{"access_token": "x"}'), where=WHERE, sent_at=0.0, now=0.0)
    for value in vars(answer).values():
        assert not isinstance(value, requests.Response | requests.PreparedRequest)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("timeout", "did not answer in time"),
        ("broken", "broke off its answer"),
        ("unreachable", "could not reach"),
    ],
)
def test_every_fault_is_retryable(kind: str, text: str) -> None:
    error = failure_error(_Failed(kind, "ReadTimeout"), where=WHERE)
    assert error.retryable and text in str(error) and WHERE in str(error)
    assert error.request is None and error.response is None


# -- reading the body -----------------------------------------------------------------------------


class FakeRaw:
    def __init__(self, chunks: list[bytes], *, read1: bool = True) -> None:
        self.chunks = list(chunks)
        self.sizes: list[int] = []
        if read1:
            self.read1 = self.read

    def read(self, amt: int, decode_content: bool = False) -> bytes:
        self.sizes.append(amt)
        if not self.chunks:
            return b""
        chunk = self.chunks.pop(0)
        if len(chunk) > amt:
            self.chunks.insert(0, chunk[amt:])
        return chunk[:amt]


def _response(raw: FakeRaw) -> requests.Response:
    response = requests.Response()
    response.raw = raw
    return response


@pytest.mark.parametrize("read1", [True, False])
def test_the_body_is_read_in_chunks(read1: bool) -> None:
    raw = FakeRaw([b'{"a"', b": 1}"], read1=read1)
    assert _read_body(_response(raw), float("inf")) == b'{"a": 1}'


def test_the_body_read_stops_one_byte_past_the_cap() -> None:
    raw = FakeRaw([b"x" * 65536] * 40)
    body = _read_body(_response(raw), float("inf"))
    assert len(body) == MAX_ANSWER + 1  # enough to know it is too long, not a byte more
    assert max(raw.sizes) <= 65536


def test_the_body_read_checks_the_deadline_between_chunks() -> None:
    with pytest.raises(_Late):
        _read_body(_response(FakeRaw([b"x"] * 5)), 0.0)


def test_an_exchange_abandoned_first_refuses_a_socket() -> None:
    ex = _Exchange()
    assert ex.watch(None)
    ex.abandon()  # no socket yet: nothing to shut
    assert not ex.watch(None)


# -- the marker -----------------------------------------------------------------------------------


def test_the_marker_is_per_thread_and_nests() -> None:
    assert not token_request_active()
    seen: list[bool] = []
    with token_work():
        assert token_request_active()
        with token_work():
            assert token_request_active()
        assert token_request_active()
        other = threading.Thread(target=lambda: seen.append(token_request_active()))
        other.start()
        other.join(10)
    assert seen == [False]
    assert not token_request_active()


def test_the_marker_is_cleared_by_an_exception() -> None:
    with pytest.raises(RuntimeError), token_work():
        raise RuntimeError
    assert not token_request_active()


# -- posting without a socket -----------------------------------------------------------------


class FakeSession(requests.Session):
    """Answers ``post`` from a script; records what ``post`` was called with."""

    def __init__(self, outcome: Any) -> None:
        super().__init__()
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []
        self.closed = False
        self.active: list[bool] = []

    def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        self.calls.append({"url": url, "data": data, "json": json, **kwargs})
        self.active.append(token_request_active())
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def close(self) -> None:
        self.closed = True


def test_no_time_left_fails_without_sending() -> None:
    fake = FakeSession(AssertionError("not sent"))
    client = TokenClient(fake)
    with pytest.raises(TokenEndpointError, match="did not answer in time") as info:
        client.post("https://id.example.com/t", data={"password": PASSWORD}, timeout=0.0)
    assert info.value.retryable and fake.calls == []


def test_plain_http_to_another_host_is_refused_before_sending() -> None:
    fake = FakeSession(AssertionError("not sent"))
    with pytest.raises(InsecureTransportError):
        TokenClient(fake).post("http://id.example.com/t", data={"p": PASSWORD}, timeout=1.0)
    assert fake.calls == []


def test_a_transport_fault_leaves_nothing_of_the_request_behind() -> None:
    prepared = requests.Request("POST", "https://id.example.com/t", data={"p": PASSWORD}).prepare()
    fault = requests.ConnectionError("refused", request=prepared)
    fake = FakeSession(fault)
    with pytest.raises(TokenEndpointError, match="could not reach") as info:
        TokenClient(fake).post("https://id.example.com/t", data={"p": PASSWORD}, timeout=5.0)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert info.value.request is None
    call = fake.calls[0]
    assert call["auth"] is not None and call["allow_redirects"] is False and call["stream"]
    assert call["timeout"] == (5.0, 5.0)
    assert fake.active == [True]  # the worker thread is marked too


def test_an_answer_is_read_and_the_response_closed() -> None:
    class Raw(FakeRaw):
        closed = False

        def close(self) -> None:
            Raw.closed = True

    response = _response(Raw([b'{"access_token": "a"}']))
    response.status_code = 200
    response.url = "https://id.example.com/t"
    client = TokenClient(FakeSession(response), clock=lambda: 42.0)
    answer = client.post("https://id.example.com/t", data={}, timeout=5.0)
    assert answer == Answer(200, {"access_token": "a"}, 42.0, "https://id.example.com/t")
    assert Raw.closed


# -- fork ---------------------------------------------------------------------------------------


def test_after_fork_an_owned_session_is_dropped_without_closing_it() -> None:
    client = TokenClient()
    fake = FakeSession(None)
    client._session = fake  # as if made lazily before the fork
    old_lock = client._session_lock
    old_lock.acquire()  # held by a thread that will not exist in the child
    try:
        client.after_fork_in_child()
    finally:
        old_lock.release()
    assert client._session_lock is not old_lock
    assert not fake.closed
    assert client.session is not fake  # the child makes its own
    client.close()


def test_after_fork_a_borrowed_session_is_kept() -> None:
    fake = FakeSession(None)
    client = TokenClient(fake)
    client.after_fork_in_child()
    assert client.session is fake and not fake.closed


def test_every_client_is_registered_for_the_fork_handler_but_not_kept_alive() -> None:
    client = TokenClient()
    assert client in _CLIENTS
    ref = weakref.ref(client)
    del client
    gc.collect()
    assert ref() is None


def test_the_fork_handler_resets_every_registered_client(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = [TokenClient(), TokenClient(FakeSession(None))]
    locks = [c._session_lock for c in clients]
    # Only these two: resetting the other live clients of this test process would disturb them.
    monkeypatch.setattr(endpoint, "_CLIENTS", weakref.WeakSet(clients))
    endpoint._after_fork_in_child()
    assert all(c._session_lock is not lock for c, lock in zip(clients, locks, strict=True))


def test_module_logs_nothing_at_import(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    TokenClient()
    assert caplog.text == ""


def test_a_urllib3_timeout_is_one_budget_too() -> None:
    from urllib3.util import Timeout as Urllib3Timeout

    from requests_silentauth._endpoint import seconds

    assert seconds(Urllib3Timeout(total=4.0), 10.0) == 4.0
    assert seconds(Urllib3Timeout(connect=1.0, read=2.0), 10.0) == 3.0
    assert seconds(Urllib3Timeout(connect=1.0), 10.0) == 11.0
    assert seconds(Urllib3Timeout(), 10.0) == 20.0
    assert seconds(3, 10.0) == 3.0
