"""ApiErrors against the embedded server's seed-style API (issue 12): error codes in the body
on 400, 404 and 500, after the token step, through both entry points."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import requests

from requests_silentauth import (
    ApiError,
    ApiErrors,
    BasicToken,
    Header,
    Query,
    SilentAuth,
    SilentAuthAdapter,
)
from requests_silentauth.testing import TokenServer

from .conftest import PASSWORD, wire
from .rawserver import RawServer

MakeAuth = Callable[..., SilentAuth]
MESSAGES = {1: "Sorry, something went wrong", 1005: "Wrong developer key", 3000: "No such journal"}
ENTRY = pytest.mark.parametrize("mounted", [False, True], ids=["session.auth", "adapter"])
HOW = pytest.mark.parametrize("how", ["option", "session hook"])


def answer(error: ApiError) -> requests.Response:
    assert error.response is not None
    return error.response


def api_error(server: TokenServer, status: int, code: object = None, **extra: str) -> str:
    query = {"status": str(status), **({} if code is None else {"code": str(code)}), **extra}
    return f"{server.url}/api/error?{urlencode(query)}"


def install(
    session: requests.Session,
    server: TokenServer,
    make_auth: MakeAuth,
    mounted: bool,
    how: str,
    errors: ApiErrors,
    **options: object,
) -> SilentAuth:
    auth = make_auth(errors=errors if how == "option" else None, **options)
    wire(session, auth, server.url, mounted)
    if how == "session hook":
        session.hooks["response"].append(errors)
    return auth


@ENTRY
@HOW
@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 1005, "Wrong developer key (1005, HTTP 400)"),
        (404, 3000, "No such journal (3000, HTTP 404)"),
        (500, 1, "Sorry, something went wrong (1, HTTP 500)"),
        (500, 42, "Server trouble (42, HTTP 500)"),
    ],
)
def test_error_codes_become_messages(
    server: TokenServer,
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
    how: str,
    status: int,
    code: int,
    expected: str,
) -> None:
    install(session, server, make_auth, mounted, how, ApiErrors(MESSAGES, default="Server trouble"))
    with pytest.raises(ApiError) as info:
        session.get(api_error(server, status, code, message="internal detail"))
    err = info.value
    assert str(err) == expected
    assert (err.status_code, err.code) == (status, code)
    assert err.response is not None and err.response.json()["error_code"] == code
    assert session.get(server.resource_url).status_code == 200  # success passes untouched


@ENTRY
@HOW
def test_a_403_token_rejection_is_recovered_before_the_api_error_is_read(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
    how: str,
) -> None:
    server = server_factory(reject_status=403)
    auth = install(
        session,
        server,
        lambda **kw: make_auth(server, **kw),
        mounted,
        how,
        ApiErrors(MESSAGES),
        reauth_on=(403,),
    )
    session.get(server.resource_url)
    server.revoke_access_tokens()
    r = session.get(server.resource_url)  # recovered: no ApiError for the 403
    assert r.status_code == 200 and [h.status_code for h in r.history] == [403]
    server.revoke_access_tokens()
    with pytest.raises(ApiError) as info:
        session.get(api_error(server, 400, 1005))
    assert str(info.value) == "Wrong developer key (1005, HTTP 400)"
    assert [h.status_code for h in answer(info.value).history] == [403]
    assert server.counts["token:refresh_token"] == 2
    assert auth.token is not None


@ENTRY
def test_a_rejection_that_could_not_be_recovered_is_an_api_error_after_one_resend(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    wire(session, make_auth(errors={}), server.url, mounted)
    with pytest.raises(ApiError) as info:
        session.get(server.url + "/api/always-reject")
    assert str(info.value) == "Unauthorized (HTTP 401)"
    assert len(answer(info.value).history) == 1
    assert server.counts["api:rejected"] == 2


@ENTRY
def test_nested_fields_server_messages_and_plain_text(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    nested = ApiErrors(MESSAGES, code_field="error.code", message_field="error.message")
    wire(session, make_auth(errors=nested), server.url, mounted)
    with pytest.raises(ApiError, match=r"^No such journal \(3000, HTTP 404\)$"):
        session.get(api_error(server, 404, 3000, shape="nested"))
    with pytest.raises(ApiError, match=r"^Quota exhausted \(77, HTTP 429\)$"):
        session.get(api_error(server, 429, 77, shape="nested", message="Quota exhausted"))
    with pytest.raises(ApiError, match=r"^Internal Server Error \(HTTP 500\)$"):
        session.get(api_error(server, 500, 1, shape="text", message="boom"))


@ENTRY
def test_a_redirect_to_an_error_raises_once_at_the_end(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    wire(session, make_auth(errors=MESSAGES), server.url, mounted)
    target = "/api/error?" + urlencode({"status": "404", "code": "3000"})
    with pytest.raises(ApiError) as info:
        session.get(f"{server.url}/api/redirect?" + urlencode({"to": target}))
    assert str(info.value) == "No such journal (3000, HTTP 404)"
    # Raised from the last hop, before requests assembles the chain's history.
    assert answer(info.value).url == server.url + target


@ENTRY
def test_a_streamed_error_body_stays_readable(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    wire(session, make_auth(errors=MESSAGES), server.url, mounted)
    with pytest.raises(ApiError) as info:
        session.get(api_error(server, 400, 1005), stream=True)
    assert info.value.code is None  # stream=True: the hook leaves the body to the caller
    assert answer(info.value).json()["error_code"] == 1005


@ENTRY
def test_nothing_secret_is_quoted_or_logged(
    server: TokenServer,
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = make_auth(errors=ApiErrors(message_field="msg"))
    wire(session, auth, server.url, mounted)
    session.get(server.resource_url)
    token = auth.token
    assert token is not None
    with pytest.raises(ApiError) as info:
        session.get(api_error(server, 400, 9, echo="1"))
    assert token.access_token in answer(info.value).json()["msg"]  # the server did echo it
    shown = f"{info.value} {info.value!r} {info.value.message} {info.value.server_message}"
    assert token.access_token not in shown
    assert token.access_token not in caplog.text and PASSWORD not in caplog.text
    assert str(info.value) == "Bad Request (9, HTTP 400)"


def test_transport_failures_get_the_default_message(session: requests.Session) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    errors = ApiErrors(MESSAGES, default="Sorry, the service cannot be reached")
    with pytest.raises(requests.ConnectionError) as info:
        session.get(f"http://127.0.0.1:{port}/api/data", timeout=5)
    assert errors.explain(info.value) == "Sorry, the service cannot be reached"


def test_the_adapter_option_overrides_the_auths(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    auth = make_auth(errors={1005: "from the auth"})
    session.mount(server.url + "/", SilentAuthAdapter(auth, errors={1005: "from the adapter"}))
    with pytest.raises(ApiError, match=r"^from the adapter"):
        session.get(api_error(server, 400, 1005))


# -- attack review (wt-attack12): recovered rejections never raise, whatever the wiring ----------


def _invalid_token(r: requests.Response) -> bool:
    try:
        return bool(r.status_code == 400 and r.json().get("error") == "invalid_token")
    except ValueError:
        return False


@ENTRY
@HOW
def test_an_is_rejected_rejection_on_400_is_recovered_before_the_api_error_is_read(
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
    how: str,
) -> None:
    server = server_factory(reject_status=400)
    install(
        session,
        server,
        lambda **kw: make_auth(server, **kw),
        mounted,
        how,
        ApiErrors(MESSAGES),
        reauth_on=(),
        is_rejected=_invalid_token,
    )
    session.get(server.resource_url)
    server.revoke_access_tokens()
    r = session.get(server.resource_url)
    assert r.status_code == 200 and [h.status_code for h in r.history] == [400]
    server.revoke_access_tokens()
    with pytest.raises(ApiError, match=r"^Wrong developer key \(1005, HTTP 400\)$"):
        session.get(api_error(server, 400, 1005))


@ENTRY
def test_a_body_code_rejection_on_200_is_recovered_and_passes(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    def body_code(r: requests.Response) -> bool:
        try:
            return bool(r.json().get("code") == 401001)
        except ValueError:
            return False

    wire(session, make_auth(errors=MESSAGES, is_rejected=body_code), server.url, mounted)
    session.get(server.resource_url)
    server.revoke_access_tokens()
    r = session.get(server.url + "/api/body-error")
    assert r.json() == {"code": 0, "ok": True}


@ENTRY
def test_a_rejection_on_a_redirect_hop_is_recovered_without_an_api_error(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    wire(session, make_auth(errors=MESSAGES), server.url, mounted)
    session.get(server.resource_url)
    server.revoke_access_tokens()
    r = session.get(f"{server.url}/api/redirect?" + urlencode({"to": "/api/data"}))
    assert r.status_code == 200 and r.json()["ok"] is True
    server.revoke_access_tokens()  # now the second hop is the rejected one
    r = session.get(f"{server.url}/api/redirect?" + urlencode({"to": "/api/data"}))
    assert r.status_code == 200


def test_per_request_hooks_see_the_recovered_answer(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    session.auth = make_auth()
    hooks = {"response": [ApiErrors(MESSAGES)]}
    session.get(server.resource_url, hooks=hooks)
    server.revoke_access_tokens()
    r = session.get(server.resource_url, hooks=hooks)
    assert r.status_code == 200 and [h.status_code for h in r.history] == [401]
    with pytest.raises(ApiError, match=r"^No such journal \(3000, HTTP 404\)$"):
        session.get(api_error(server, 404, 3000), hooks=hooks)


def test_the_adapter_and_session_auth_together_recover_once_and_raise_once(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session
) -> None:
    auth = make_auth(errors=MESSAGES)
    session.auth = auth
    session.mount(server.url + "/", SilentAuthAdapter(auth))
    session.get(server.resource_url)
    server.revoke_access_tokens()
    assert session.get(server.resource_url).status_code == 200
    assert server.counts["token:refresh_token"] == 1
    server.revoke_access_tokens()
    with pytest.raises(ApiError, match=r"^Wrong developer key \(1005, HTTP 400\)$"):
        session.get(api_error(server, 400, 1005))


@ENTRY
def test_token_requests_through_the_applications_session_never_raise_api_error(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    """A refused refresh token (400 invalid_grant) through a session that has ApiErrors as a
    session hook, or the adapter mounted on the token origin, still falls back to a login."""
    session.hooks["response"].append(ApiErrors(MESSAGES))
    auth = make_auth(errors=MESSAGES, token_session=session)
    wire(session, auth, server.url, mounted)
    session.get(server.resource_url)
    server.revoke_all()  # the refresh token too: the refresh gets a 400 invalid_grant
    assert session.get(server.resource_url).status_code == 200
    assert server.counts["token:password"] == 2


@ENTRY
@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("²", "Failed (², HTTP 400)"),  # str.isdigit() says yes, int() says no
        ("-5", "Five below (-5, HTTP 400)"),
        ("9" * 4300, "Failed (HTTP 400)"),  # a valid JSON number, but no code
        ("9" * 5000, "Failed (" + "9" * 61 + "..., HTTP 400)"),  # a string code, clipped
    ],
)
def test_odd_codes_from_a_real_server(
    server: TokenServer,
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
    code: str,
    shown: str,
) -> None:
    errors = ApiErrors({-5: "Five below"}, default="Failed")
    wire(session, make_auth(errors=errors), server.url, mounted)
    with pytest.raises(ApiError) as info:
        session.get(api_error(server, 400, code))
    assert str(info.value) == shown


@ENTRY
def test_a_hostile_server_message_cannot_drive_the_terminal(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    wire(session, make_auth(errors=ApiErrors(message_field="msg")), server.url, mounted)
    hostile = "\x1b[2J\x1b]0;pwned\x07\x9b31mAccount locked\x08\x08\u202e call +1 555 0100"
    with pytest.raises(ApiError) as info:
        session.get(api_error(server, 400, 7, message=hostile))
    assert answer(info.value).json()["msg"] == hostile  # it did arrive
    assert str(info.value) == "[2J ]0;pwned 31mAccount locked call +1 555 0100 (7, HTTP 400)"


@ENTRY
def test_a_body_code_rejection_on_200_that_was_not_recovered_raises(
    server: TokenServer, make_auth: MakeAuth, session: requests.Session, mounted: bool
) -> None:
    def still_rejected(r: requests.Response) -> bool:
        return r.request is not None and str(r.request.url).endswith("/api/data")

    auth = make_auth(errors=MESSAGES, is_rejected=still_rejected)
    wire(session, auth, server.url, mounted)
    with pytest.raises(ApiError):
        session.get(server.resource_url)  # rejected, renewed, resent, rejected again


# -- against a raw loopback server: what the embedded one will not send -------------------------


def _endless_chunked(conn: socket.socket, srv: RawServer) -> None:
    """A chunked answer that also claims Content-Length: 20, then never ends (64 MiB at most,
    so a failing test ends too). ``srv.sent`` counts the body bytes the client took."""
    conn.sendall(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"Content-Length: 20\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    for _ in range(1024):
        if srv.stop.is_set():
            return
        conn.sendall(frame)
        srv.sent += len(chunk)  # type: ignore[attr-defined]
    conn.sendall(b"0\r\n\r\n")


def test_a_streamed_endless_chunked_error_is_not_read_to_its_end(
    session: requests.Session,
) -> None:
    srv = RawServer(_endless_chunked)
    srv.sent = 0  # type: ignore[attr-defined]
    try:
        session.hooks["response"].append(ApiErrors(MESSAGES, default="Failed"))
        with pytest.raises(ApiError) as info:
            session.get(srv.origin + "/api/x", stream=True, timeout=10)
        assert str(info.value) == "Failed (HTTP 400)"
        answer(info.value).close()
        # Read no further than the declared 20 bytes (plus what the socket buffers held:
        # a few MiB on loopback).
        assert srv.sent < 24 * 2**20  # type: ignore[attr-defined]  # of the 64 MiB sent
    finally:
        srv.close()


def _hostile_reason(conn: socket.socket, srv: RawServer) -> None:
    conn.sendall(
        b"HTTP/1.1 400 \x1b[2J\x1b]0;pwned\x07\x9b31mAccount locked\x08\x08 call +1 555\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
    )


def test_a_hostile_reason_phrase_cannot_drive_the_terminal(session: requests.Session) -> None:
    srv = RawServer(_hostile_reason)
    try:
        session.hooks["response"].append(ApiErrors(MESSAGES))
        with pytest.raises(ApiError) as info:
            session.get(srv.origin + "/api/x", timeout=10)
        assert "\x1b" in answer(info.value).reason  # it did arrive
        assert str(info.value) == "[2J ]0;pwned 31mAccount locked call +1 555 (HTTP 400)"
    finally:
        srv.close()


@ENTRY
def test_errors_option_is_for_the_auths_own_api_not_every_origin_the_session_talks_to(
    server: TokenServer,
    server_factory: Callable[..., TokenServer],
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
) -> None:
    """Another service's error code 1005 is not this API's "Wrong developer key": errors=
    applies where the auth applies (the adapter: its mounted origin; session.auth: its
    origins), as the token does; a session hook is the way to cover every origin."""
    other = server_factory()
    wire(session, make_auth(errors=MESSAGES), server.url, mounted)
    # The other service wants a token of its own: its 401 is an answer, not an ApiError.
    elsewhere = session.get(api_error(other, 400, 1005))
    assert elsewhere.status_code == 401 and elsewhere.json() == {"error": "invalid_token"}
    with pytest.raises(ApiError, match=r"^Wrong developer key \(1005, HTTP 400\)$"):
        session.get(api_error(server, 400, 1005))


def _stalled_body(conn: socket.socket, srv: RawServer) -> None:
    """The head at once, the (small, JSON) body only when the test says so: or after 3 s, so
    a failing test ends. ``srv.forced`` says the body had to be sent unasked."""
    conn.sendall(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"Content-Length: 20\r\nConnection: close\r\n\r\n"
    )
    srv.forced = not srv.release.wait(3)  # type: ignore[attr-defined]
    conn.sendall(b'{"error_code": 1005}')


def test_a_streamed_error_with_a_stalled_body_does_not_hold_get(
    session: requests.Session,
) -> None:
    srv = RawServer(_stalled_body)
    srv.release = threading.Event()  # type: ignore[attr-defined]
    srv.forced = False  # type: ignore[attr-defined]
    try:
        session.hooks["response"].append(ApiErrors(MESSAGES, default="Failed"))
        with pytest.raises(ApiError):
            session.get(srv.origin + "/api/x", stream=True)
        srv.release.set()  # type: ignore[attr-defined]
        srv.close()
        assert not srv.forced  # type: ignore[attr-defined]
    finally:
        srv.release.set()  # type: ignore[attr-defined]
        srv.close()


@ENTRY
@pytest.mark.parametrize(
    "placement",
    [BasicToken(), Header("X-Auth-Token"), Query()],
    ids=["basic", "header", "query"],
)
def test_an_echoed_token_is_not_quoted_wherever_the_placement_put_it(
    server: TokenServer,
    make_auth: MakeAuth,
    session: requests.Session,
    mounted: bool,
    placement: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = make_auth(errors=ApiErrors(message_field="msg"), placement=placement)
    wire(session, auth, server.url, mounted)
    with pytest.raises(ApiError) as info:
        session.get(api_error(server, 400, 9, echo="1"))
    token = auth.token
    assert token is not None and token.access_token in answer(info.value).json()["msg"]
    shown = f"{info.value} {info.value!r} {info.value.message} {info.value.server_message}"
    assert token.access_token not in shown and token.access_token not in caplog.text
    assert str(info.value) == "Bad Request (9, HTTP 400)"
