"""ApiErrors against the embedded server's seed-style API (issue 12): error codes in the body
on 400, 404 and 500, after the token step, through both entry points."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import requests

from requests_silentauth import ApiError, ApiErrors, SilentAuth, SilentAuthAdapter
from requests_silentauth.testing import TokenServer

from .conftest import PASSWORD, wire

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
    assert info.value.code == 1005  # the server sends Content-Length: read, then kept
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
