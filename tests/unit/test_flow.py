"""The request flow as a state machine: every decision proven without a socket or a clock.

A flow is a generator; these tests feed it plain ``requests`` objects (a prepared request, a
``Response`` built in memory) and check each action it yields, in order."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from requests import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict

from requests_silentauth import (
    Bearer,
    Header,
    InsecureTransportError,
    Query,
    Token,
    UnreplayableBodyError,
)
from requests_silentauth._flow import (
    MAX_RESENDS,
    RESENT,
    Flow,
    Issued,
    NeedToken,
    Outcome,
    Policy,
    Release,
    Send,
    attach,
    drive,
    rejection_reason,
    release,
    replayable,
    respond,
    send_flow,
)
from requests_silentauth._origins import Origin, OriginSet
from requests_silentauth._placement import Placement

API = "https://api.example.com"
OLD, NEW, NEWER = Token("at-old"), Token("at-new"), Token("at-newer")


def policy(
    placement: Placement | None = None,
    *,
    origins: tuple[str, ...] = (API,),
    reauth_on: tuple[int, ...] = (401,),
    is_rejected: Callable[[Response], bool] | None = None,
    allow_insecure_http: bool = False,
) -> Policy:
    return Policy(
        origins=OriginSet.parse(origins),
        placement=placement or Bearer(),
        reauth_on=frozenset(reauth_on),
        is_rejected=is_rejected,
        allow_insecure_http=allow_insecure_http,
    )


def prepared(url: str = API + "/data", *, body: Any = None, method: str = "GET") -> PreparedRequest:
    return requests.Request(method, url, data=body).prepare()


class FakeRaw:
    def __init__(self) -> None:
        self.closed = self.released = False

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        self.released = True


def answer(
    request: PreparedRequest, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    r = Response()
    r.status_code = status
    r.headers = CaseInsensitiveDict(headers or {})
    r.request = request
    r.url = request.url or ""
    r._content = b"{}"
    r.raw = FakeRaw()
    return r


def sent_with(p: Policy, token: Token, url: str = API + "/data", **kw: Any) -> PreparedRequest:
    request = prepared(url, **kw)
    p.placement.apply(request, token.access_token)
    return request


def step(flow: Flow[Any], reply: Any = None) -> Any:
    """The next action, or the flow's result (as ``("done", value)``)."""
    try:
        return flow.send(reply)
    except StopIteration as stop:
        return ("done", stop.value)


def resend_after_renewal(flow: Flow[Any]) -> Send:
    """Step a flow that was just given a rejection: answer its NeedToken with a renewal, pass
    the Release, and return the Send of the resent request."""
    step(flow)
    step(flow, Issued(NEW, renewed=True))
    send = step(flow)
    assert isinstance(send, Send)
    return send


# -- pure decisions ----------------------------------------------------------------------------


def test_may_carry_needs_an_allowed_origin_and_a_safe_transport() -> None:
    p = policy(origins=(API, "http://127.0.0.1:8080", "http://intranet.test"))
    assert p.may_carry(API + "/x")
    assert p.may_carry("http://127.0.0.1:8080/x")
    assert not p.may_carry("http://intranet.test/x")  # plain http, not loopback
    assert not p.may_carry("https://evil.example.com/x")
    assert not p.may_carry(None)
    assert not p.may_carry("")
    insecure = policy(origins=("http://intranet.test",), allow_insecure_http=True)
    assert insecure.may_carry("http://intranet.test/x")


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (401, {}, "status 401"),
        (403, {}, None),
        (200, {}, None),
        (401, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}, None),
        (401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, "status 401"),
    ],
)
def test_rejection_reason_by_status_and_challenge(
    status: int, headers: dict[str, str], expected: str | None
) -> None:
    assert rejection_reason(policy(), answer(prepared(), status, headers)) == expected


def test_rejection_reason_with_a_configured_403_and_is_rejected() -> None:
    p = policy(reauth_on=(401, 403), is_rejected=lambda r: r.headers.get("X-Expired") == "1")
    assert rejection_reason(p, answer(prepared(), 403)) == "status 403"
    assert rejection_reason(p, answer(prepared(), 200, {"X-Expired": "1"})) == "is_rejected"
    assert rejection_reason(p, answer(prepared(), 200, {"X-Expired": "0"})) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/data",
        "http://api.example.com/data",
        "https://api.example.com:8443/",
    ],
)
def test_a_rejection_from_where_our_token_may_not_go_is_not_ours(url: str) -> None:
    assert rejection_reason(policy(), answer(prepared(url), 401)) is None


def test_replayable_bodies() -> None:
    assert replayable(prepared(body=None))
    assert replayable(prepared(body=b"bytes", method="POST"))
    assert replayable(prepared(body="text", method="POST"))
    stream = io.BytesIO(b"0123456789")
    stream.seek(3)
    request = prepared(body=stream, method="POST")
    stream.read()
    assert replayable(request)
    assert stream.tell() == 3  # rewound to where the body started when it was attached
    assert not replayable(prepared(body=(c for c in [b"a"]), method="POST"))


# -- attach --------------------------------------------------------------------------------------


def test_attach_asks_for_the_current_token_and_puts_it_on() -> None:
    request = prepared()
    flow = attach(policy(), request)
    assert step(flow) == NeedToken(None, "request")
    assert step(flow, Issued(OLD)) == ("done", OLD)
    assert request.headers["Authorization"] == "Bearer at-old"


def test_attach_to_another_origin_takes_our_token_off_and_asks_for_none() -> None:
    request = prepared("https://elsewhere.example.com/")
    request.headers["X-Token"] = "left-over"
    assert step(attach(policy(Header("X-Token")), request)) == ("done", None)
    assert "X-Token" not in request.headers


def test_attach_refuses_plain_http_before_asking_for_a_token() -> None:
    p = policy(origins=("http://intranet.test",))
    with pytest.raises(InsecureTransportError):
        step(attach(p, prepared("http://intranet.test/x")))


def test_attach_to_loopback_over_plain_http() -> None:
    flow = attach(policy(origins=("http://127.0.0.1:9",)), prepared("http://127.0.0.1:9/x"))
    assert step(flow) == NeedToken(None, "request")


# -- respond: recovery -----------------------------------------------------------------------------


def test_an_accepted_answer_needs_nothing() -> None:
    p = policy()
    ok = answer(sent_with(p, OLD))
    assert step(respond(p, ok, OLD)) == ("done", Outcome(ok, OLD))
    assert ok not in RESENT


def test_a_rejection_renews_releases_and_resends_once() -> None:
    p = policy()
    original = sent_with(p, OLD, body=b"payload", method="POST")
    rejected = answer(original, 401)
    flow = respond(p, rejected, OLD)
    assert step(flow) == NeedToken(OLD, "status 401")
    assert step(flow, Issued(NEW, renewed=True)) == Release(rejected)
    send = step(flow)
    assert isinstance(send, Send)
    resent_request = send.request
    assert resent_request is not original
    assert resent_request.headers["Authorization"] == "Bearer at-new"
    assert resent_request.body == b"payload"
    # requests copies the original object for a redirect after this: it carries the new token
    assert original.headers["Authorization"] == "Bearer at-new"
    final = answer(resent_request, 200)
    done = step(flow, final)
    assert done == ("done", Outcome(final, NEW))
    assert final.history == [rejected]
    assert final.request is resent_request
    assert final in RESENT


def test_after_its_own_renewal_a_second_rejection_is_final() -> None:
    p = policy()
    flow = respond(p, answer(sent_with(p, OLD), 401), OLD)
    send = resend_after_renewal(flow)
    again = answer(send.request, 401)
    assert step(flow, again) == ("done", Outcome(again, NEW))


def test_a_retry_with_another_callers_token_may_still_renew_once() -> None:
    p = policy()
    flow = respond(p, answer(sent_with(p, OLD), 401), OLD)
    assert step(flow) == NeedToken(OLD, "status 401")
    step(flow, Issued(NEW, renewed=False))  # replaced by another thread: no renewal here
    first = step(flow)
    second_rejection = answer(first.request, 401)
    assert step(flow, second_rejection) == NeedToken(NEW, "status 401")
    assert step(flow, Issued(NEWER, renewed=True)) == Release(second_rejection)
    second = step(flow)
    assert second.request.headers["Authorization"] == "Bearer at-newer"
    last = answer(second.request, 401)
    outcome = step(flow, last)[1]
    assert outcome.response is last
    assert [h.status_code for h in last.history] == [401, 401]


def test_never_more_than_max_resends_even_without_a_renewal() -> None:
    p = policy()
    response = answer(sent_with(p, OLD), 401)
    flow = respond(p, response, OLD)
    sends = 0
    action = step(flow)
    for _ in range(20):  # a broken budget would loop: stop and let the count tell
        if isinstance(action, tuple):
            break
        if isinstance(action, NeedToken):
            action = step(flow, Issued(Token(f"t{sends}"), renewed=False))
        elif isinstance(action, Release):
            action = step(flow)
        else:
            sends += 1
            action = step(flow, answer(action.request, 401))
    assert isinstance(action, tuple) and action[0] == "done"
    assert sends == MAX_RESENDS == 2
    assert [h.status_code for h in action[1].response.history] == [401, 401]


def test_no_recovery_without_a_token_sent() -> None:
    p = policy()
    rejected = answer(prepared(), 401)
    assert step(respond(p, rejected, None)) == ("done", Outcome(rejected, None))


def test_a_response_the_other_layer_resent_is_left_alone() -> None:
    p = policy()
    rejected = answer(sent_with(p, OLD), 401)
    RESENT[rejected] = rejected.request
    assert step(respond(p, rejected, OLD)) == ("done", Outcome(rejected, OLD))


def test_a_rejection_from_another_origin_is_not_recovered() -> None:
    p = policy()
    rejected = answer(sent_with(p, OLD, "https://other.example.com/"), 401)
    assert step(respond(p, rejected, OLD)) == ("done", Outcome(rejected, OLD))


def test_a_request_that_lost_our_token_is_resent_with_the_current_one_without_renewing() -> None:
    p = policy()
    hop = prepared()  # requests stripped Authorization on a redirect to another allowed host
    flow = respond(p, answer(hop, 401), OLD)
    assert step(flow) == NeedToken(None, "status 401, sent without a token")
    step(flow, Issued(OLD))
    send = step(flow)
    assert send.request.headers["Authorization"] == "Bearer at-old"


def test_an_unreplayable_body_is_released_and_never_resent() -> None:
    p = policy()
    rejected = answer(sent_with(p, OLD, body=(c for c in [b"a"]), method="POST"), 401)
    flow = respond(p, rejected, OLD)
    step(flow)
    assert step(flow, Issued(NEW, renewed=True)) == Release(rejected)
    with pytest.raises(UnreplayableBodyError) as info:
        step(flow)
    assert info.value.response is rejected
    assert "at-new" not in str(info.value) and "at-old" not in str(info.value)


# -- respond: redirects --------------------------------------------------------------------------


def redirect(request: PreparedRequest, location: str) -> Response:
    return answer(request, 302, {"Location": location})


@pytest.mark.parametrize("placement", [Bearer(), Header("X-Token"), Query("access_token")])
def test_a_redirect_off_the_allowed_origins_carries_nothing_of_ours(placement: Placement) -> None:
    p = policy(placement)
    request = sent_with(p, OLD)
    hop = redirect(request, "https://other.example.com/next?access_token=at-old&keep=1")
    outcome = step(respond(p, hop, OLD))[1]
    assert outcome.carried is None
    assert not placement.present(request)
    expected = "https://other.example.com/next?access_token=at-old&keep=1"
    if isinstance(placement, Query):
        expected = "https://other.example.com/next?keep=1"
    assert hop.headers["location"] == expected


@pytest.mark.parametrize(
    "location",
    ["//other.example.com/x?access_token=at-old", "http://api.example.com/x?access_token=at-old"],
)
def test_relative_and_downgraded_locations_lose_a_query_token(location: str) -> None:
    p = policy(Query("access_token"))
    hop = redirect(sent_with(p, OLD), location)
    outcome = step(respond(p, hop, OLD))[1]
    assert outcome.carried is None
    assert "at-old" not in hop.headers["location"]


def test_a_same_origin_redirect_carries_the_current_token_in_location_and_request() -> None:
    p = policy(Query("access_token"))
    request = sent_with(p, OLD)
    hop = redirect(request, "/next?access_token=stale&x=1")
    outcome = step(respond(p, hop, OLD))[1]
    assert outcome.carried == OLD
    assert hop.headers["location"] == "/next?x=1&access_token=at-old"
    assert p.placement.present(request)


def test_a_header_placement_leaves_location_alone() -> None:
    p = policy(Bearer())
    hop = redirect(sent_with(p, OLD), "/next?access_token=theirs")
    step(respond(p, hop, OLD))
    assert hop.headers["location"] == "/next?access_token=theirs"


def test_a_redirect_after_a_resend_guards_the_original_request_too() -> None:
    p = policy()
    original = sent_with(p, OLD)
    flow = respond(p, answer(original, 401), OLD)
    send = resend_after_renewal(flow)
    hop = redirect(send.request, "https://other.example.com/")
    outcome = step(flow, hop)[1]
    assert outcome.carried is None
    assert "Authorization" not in original.headers
    assert "Authorization" not in send.request.headers


# -- a whole send, and the driver ------------------------------------------------------------------


class FakeManager:
    def __init__(self, current: Token, renewed: Token) -> None:
        self.current, self.renewed = current, renewed
        self.calls: list[tuple[str, Any]] = []

    def for_request(self, timeout: Any) -> Token:
        self.calls.append(("for_request", timeout))
        return self.current

    def after_rejection(self, rejected: Token, timeout: Any, why: str) -> tuple[Token, bool]:
        self.calls.append(("after_rejection", (rejected, timeout, why)))
        self.current = self.renewed
        return self.renewed, True


def test_send_flow_attaches_sends_and_recovers() -> None:
    p = policy()
    request = prepared()
    flow = send_flow(p, request)
    assert step(flow) == NeedToken(None, "request")
    assert step(flow, Issued(OLD)) == Send(request)
    rejected = answer(request, 401)
    assert step(flow, rejected) == NeedToken(OLD, "status 401")


def test_drive_carries_out_every_action_with_the_timeout() -> None:
    p = policy()
    manager = FakeManager(OLD, NEW)
    sent: list[str] = []
    first: list[Response] = []

    def send(request: PreparedRequest) -> Response:
        sent.append(str(request.headers["Authorization"]))
        response = answer(request, 401 if len(sent) == 1 else 200)
        first.append(response)
        return response

    outcome = drive(send_flow(p, prepared()), manager, send, 7.5)
    assert outcome.response.status_code == 200
    assert sent == ["Bearer at-old", "Bearer at-new"]
    assert manager.calls == [
        ("for_request", 7.5),
        ("after_rejection", (OLD, 7.5, "status 401")),
    ]
    raw = first[0].raw
    assert raw.released  # the rejected answer went back to the pool before the resend


def test_release_reads_and_closes_even_a_broken_body() -> None:
    class Broken(FakeRaw):
        def stream(self, *a: Any, **k: Any) -> Iterator[bytes]:
            raise requests.exceptions.ChunkedEncodingError("cut")

    r = Response()
    r.status_code = 401
    raw = Broken()
    r.raw = raw
    release(r)
    assert raw.closed and raw.released


def test_drive_renews_at_most_once_per_send_against_a_server_that_always_rejects() -> None:
    manager = FakeManager(OLD, NEW)
    sends: list[str] = []

    def send(request: PreparedRequest) -> Response:
        sends.append(str(request.headers["Authorization"]))
        return answer(request, 401)

    outcome = drive(send_flow(policy(), prepared()), manager, send, None)
    assert outcome.response.status_code == 401
    assert sends == ["Bearer at-old", "Bearer at-new"]
    assert [c[0] for c in manager.calls] == ["for_request", "after_rejection"]


def test_release_logs_a_broken_body_by_type_only(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FakeRaw):
        def stream(self, *a: Any, **k: Any) -> Iterator[bytes]:
            raise requests.exceptions.ChunkedEncodingError("secret-in-the-body")

    r = Response()
    r.raw = Broken()
    caplog.set_level("DEBUG", logger="requests_silentauth")
    release(r)
    assert [rec.getMessage() for rec in caplog.records] == [
        "could not read the rejected response's body (ChunkedEncodingError)"
    ]


def test_the_resend_is_logged_with_a_fingerprint_and_the_path_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = policy(Query("access_token"))
    caplog.set_level("DEBUG", logger="requests_silentauth")
    request = sent_with(p, OLD, API + "/data?a=1?b")
    flow = respond(p, answer(request, 401), OLD)
    step(flow)
    step(flow, Issued(NEW, renewed=True))
    step(flow)
    assert [rec.getMessage() for rec in caplog.records] == [
        f"resending GET {API}/data with token {NEW.fingerprint} (status 401)"
    ]


def test_the_unreplayable_error_says_what_to_do() -> None:
    p = policy()
    request = sent_with(p, OLD, body=(c for c in [b"a"]), method="POST")
    flow = respond(p, answer(request, 401), OLD)
    step(flow)
    step(flow, Issued(NEW, renewed=True))
    with pytest.raises(UnreplayableBodyError) as info:
        step(flow)
    assert str(info.value) == (
        "the server rejected the token (status 401) and the request body is a generator or a "
        "stream that cannot be rewound, so it was not resent; the token has been renewed: send "
        "the request again with a fresh body (or a bytes/seekable body)"
    )
    assert info.value.request is request


def test_cookies_set_by_the_rejection_travel_with_the_resend() -> None:
    import email.message

    p = policy()
    session = requests.Session()
    session.cookies.set("old", "1", domain="api.example.com", path="/")
    request = session.prepare_request(requests.Request("GET", API + "/data"))
    p.placement.apply(request, OLD.access_token)
    request.headers["Cookie"] = "stale=yes"
    rejected = answer(request, 401)
    msg = email.message.Message()
    msg["Set-Cookie"] = "fresh=2; Path=/"

    class Original:
        pass

    original = Original()
    original.msg = msg  # type: ignore[attr-defined]
    rejected.raw._original_response = original
    flow = respond(p, rejected, OLD)
    send = resend_after_renewal(flow)
    cookie = str(send.request.headers["Cookie"])
    assert sorted(cookie.split("; ")) == ["fresh=2", "old=1"]


def test_a_rejection_without_a_request_is_not_ours() -> None:
    r = answer(prepared(), 401)
    r.request = None  # type: ignore[assignment]
    assert rejection_reason(policy(), r) is None


def test_attach_with_plain_http_allowed_by_the_user() -> None:
    p = policy(origins=("http://intranet.test",), allow_insecure_http=True)
    assert step(attach(p, prepared("http://intranet.test/x"))) == NeedToken(None, "request")


def test_attach_refusal_names_what_and_how_to_allow_it() -> None:
    p = policy(origins=("http://intranet.test",))
    with pytest.raises(InsecureTransportError) as info:
        step(attach(p, prepared("http://intranet.test/x")))
    assert str(info.value) == (
        "refusing to send a token over plain http to http://intranet.test: use https, or pass "
        "allow_insecure_http=True if this network is trusted"
    )


class Unseekable(io.BytesIO):
    def seek(self, *a: Any) -> int:
        raise OSError("not seekable")


def test_a_body_that_fails_to_rewind_is_not_replayable() -> None:
    request = prepared(body=io.BytesIO(b"abc"), method="POST")
    request.body = Unseekable(b"abc")
    assert not replayable(request)


def test_a_body_whose_start_was_not_recorded_is_not_replayable() -> None:
    request = prepared(body=io.BytesIO(b"abc"), method="POST")
    request._body_position = object()  # requests' marker: tell() failed when preparing
    assert not replayable(request)


# -- the drain limit, the proxy rule, and a response the other layer recovered ------------------


def raw_answer(body: bytes, status: int = 401) -> tuple[Response, Any]:
    import urllib3

    raw = urllib3.HTTPResponse(
        body=io.BytesIO(body), status=status, preload_content=False, decode_content=False
    )
    r = Response()
    r.status_code = status
    r.raw = raw
    return r, raw


@pytest.mark.parametrize("size", [0, 1000, 65536])
def test_a_rejected_body_up_to_the_limit_is_kept_for_history(size: int) -> None:
    body = b"x" * size
    r, raw = raw_answer(body)
    release(r)
    assert r.content == body
    assert raw.closed


def test_a_rejected_body_over_the_limit_is_dropped_and_its_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from requests_silentauth._flow import DRAIN_LIMIT

    caplog.set_level("DEBUG", logger="requests_silentauth")
    r, raw = raw_answer(b"x" * (4 * DRAIN_LIMIT))
    release(r)
    assert r._content is False  # not kept: never more than the limit in memory
    assert raw.closed
    assert [rec.getMessage() for rec in caplog.records] == [
        "the rejected response's body is over 73728 bytes; dropped"
    ]


def test_a_body_already_read_is_not_read_again() -> None:
    r, _raw = raw_answer(b"abc")
    assert r.content == b"abc"
    release(r)
    assert r.content == b"abc"


class Proxies:
    """A fake environment: which URLs a proxy would carry, and which were asked about."""

    def __init__(self, *proxied: str) -> None:
        self.proxied = proxied
        self.asked: list[str] = []

    def __call__(self, origin: Origin) -> bool:
        url = str(origin)
        self.asked.append(url)
        return url.startswith(self.proxied)


def proxied_policy(proxies: Proxies, **kw: Any) -> Policy:
    p = policy(origins=("http://127.0.0.1:8080", API, "http://intranet.test"), **kw)
    return Policy(
        origins=p.origins,
        placement=p.placement,
        reauth_on=p.reauth_on,
        is_rejected=None,
        allow_insecure_http=p.allow_insecure_http,
        proxied=proxies,
    )


def test_loopback_behind_a_proxy_may_not_carry_a_token() -> None:
    proxies = Proxies("http://127.0.0.1")
    p = proxied_policy(proxies)
    assert not p.may_carry("http://127.0.0.1:8080/x")
    assert proxies.asked == ["http://127.0.0.1:8080"]
    assert p.may_carry(API + "/x")  # https: the environment is not even asked
    assert proxies.asked == ["http://127.0.0.1:8080"]
    assert proxied_policy(Proxies()).may_carry("http://127.0.0.1:8080/x")
    opted_in = proxied_policy(Proxies("http://127.0.0.1"), allow_insecure_http=True)
    assert opted_in.may_carry("http://127.0.0.1:8080/x")


def test_attach_refuses_loopback_behind_a_proxy_and_says_how_to_fix_it() -> None:
    proxies = Proxies("http://127.0.0.1")
    with pytest.raises(InsecureTransportError) as info:
        step(attach(proxied_policy(proxies), prepared("http://127.0.0.1:8080/x?q=1")))
    assert str(info.value) == (
        "refusing to send a token over plain http to http://127.0.0.1:8080 through the proxy "
        "the environment names (HTTP_PROXY): add the host to NO_PROXY, use https, or pass "
        "allow_insecure_http=True if that proxy is trusted"
    )
    assert proxies.asked == ["http://127.0.0.1:8080"]
    flow = attach(proxied_policy(Proxies()), prepared("http://127.0.0.1:8080/x"))
    assert step(flow) == NeedToken(None, "request")


def test_plain_http_elsewhere_is_refused_for_what_it_is_proxy_or_not() -> None:
    with pytest.raises(InsecureTransportError, match="network is trusted"):
        step(attach(proxied_policy(Proxies("http://")), prepared("http://intranet.test/x")))


def test_another_layers_recovered_redirect_is_guarded_on_the_request_requests_copies() -> None:
    mine = policy(Header("X-Api-Key"))
    original = sent_with(mine, OLD)  # what requests will copy for the next hop
    resent = original.copy()  # the other layer's resend
    hop = redirect(resent, "https://other.example.com/")
    RESENT[hop] = original
    outcome = step(respond(mine, hop, OLD))[1]
    assert outcome.carried is None
    assert "X-Api-Key" not in original.headers and "X-Api-Key" not in resent.headers


def test_a_recovered_response_records_the_request_requests_will_copy() -> None:
    p = policy()
    original = sent_with(p, OLD)
    flow = respond(p, answer(original, 401), OLD)
    send = resend_after_renewal(flow)
    final = answer(send.request, 200)
    step(flow, final)
    assert RESENT[final] is original


def test_a_stream_the_caller_already_read_is_only_closed(caplog: pytest.LogCaptureFixture) -> None:
    r, raw = raw_answer(b"abc")
    for _ in r.iter_content(2):
        pass
    caplog.set_level("DEBUG", logger="requests_silentauth")
    release(r)
    assert caplog.records == []
    assert raw.closed
