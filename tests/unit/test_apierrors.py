"""ApiErrors decisions on hand-built responses: no sockets (issue 12)."""

from __future__ import annotations

import base64
import io
import json
import pickle
from typing import Any

import pytest
import requests
from requests import PreparedRequest, Response
from urllib3.response import HTTPResponse

from requests_silentauth import ApiError, ApiErrors, CredentialsNotFound, SilentAuthError

TOKEN = "tok-4f1d9a7c2e"
TABLE = {1: "Sorry, something went wrong", 1005: "Wrong developer key", "3000": "No such journal"}


def request(url: str = "https://api.test/v1/x", **headers: str) -> PreparedRequest:
    prep = requests.Request("GET", url, headers=headers).prepare()
    return prep


def response(
    status: int,
    body: Any = None,
    *,
    raw: bytes | None = None,
    reason: str | None = "",
    req: PreparedRequest | None = None,
    headers: dict[str, str] | None = None,
    streamed: bool = False,
) -> Response:
    r = Response()
    r.status_code = status
    r.reason = reason  # type: ignore[assignment]
    r.request = req or request(Authorization=f"Bearer {TOKEN}")
    r.headers.update(headers or {})
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    if streamed:
        r.raw = HTTPResponse(io.BytesIO(data), preload_content=False, headers=headers or {})
    else:
        r._content = data
    return r


def raised(errors: ApiErrors, r: Response, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        errors(r, **kwargs)
    return info.value


@pytest.mark.parametrize("status", [200, 201, 204, 301, 302, 304, 399])
def test_answers_below_400_pass(status: int) -> None:
    assert ApiErrors(TABLE)(response(status, {"error_code": 1005})) is None


@pytest.mark.parametrize("code", [1005, "1005", 1005.0, " 1005 "])
def test_codes_match_as_strings_or_integers(code: object) -> None:
    err = raised(ApiErrors(TABLE), response(400, {"error_code": code, "msg": "bad key"}))
    assert err.message == "Wrong developer key"
    assert str(err) == f"Wrong developer key ({err.code}, HTTP 400)"


def test_a_string_key_in_the_table_matches_an_integer_code() -> None:
    err = raised(ApiErrors(TABLE), response(404, {"error_code": 3000}))
    assert str(err) == "No such journal (3000, HTTP 404)"
    assert err.code == 3000 and err.status_code == 404


def test_a_json_true_is_not_the_code_1() -> None:
    err = raised(ApiErrors(TABLE, default="Failed"), response(500, {"error_code": True}))
    assert err.code is None and str(err) == "Failed (HTTP 500)"


def test_dotted_paths_reach_nested_fields() -> None:
    errors = ApiErrors(TABLE, code_field="error.code", message_field="error.message")
    err = raised(errors, response(400, {"error": {"code": 1, "message": "x"}}))
    assert str(err) == "Sorry, something went wrong (1, HTTP 400)"
    err = raised(errors, response(400, {"error": {"code": 77, "message": "Quota used up"}}))
    assert str(err) == "Quota used up (77, HTTP 400)"
    assert err.server_message == "Quota used up"


def test_message_precedence_table_server_default_status_line() -> None:
    body = {"error_code": 9, "msg": "Server says no"}
    assert raised(ApiErrors(TABLE, message_field="msg"), response(400, body)).message == (
        "Server says no"
    )
    # message_field=None never quotes the server
    assert raised(ApiErrors(TABLE, default="Oops"), response(400, body)).message == "Oops"
    assert raised(ApiErrors(TABLE), response(400, body, reason="Bad Request")).message == (
        "Bad Request"
    )
    assert raised(ApiErrors(TABLE), response(404, body, reason=None)).message == "Not Found"
    assert raised(ApiErrors(TABLE), response(599, body, reason="")).message == "HTTP error"


def test_server_message_is_one_line_and_clipped() -> None:
    errors = ApiErrors(message_field="msg")
    err = raised(errors, response(400, {"error_code": 2, "msg": "line one\nline two\r\n" * 100}))
    assert "\n" not in str(err) and "\r" not in str(err)
    assert len(err.message) <= 300


@pytest.mark.parametrize(
    "raw",
    [
        b"<html>502 Bad Gateway</html>",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"just a string"',
        b"{" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b"",
    ],
)
def test_bodies_that_are_not_usable_json_give_the_default(raw: bytes) -> None:
    err = raised(ApiErrors(TABLE, default="Something failed"), response(502, raw=raw))
    assert str(err) == "Something failed (HTTP 502)" and err.code is None


def test_a_body_over_the_limit_is_not_parsed() -> None:
    body = {"error_code": 1005, "pad": "x" * 200}
    assert raised(ApiErrors(TABLE, max_body=100), response(400, body)).code is None
    assert raised(ApiErrors(TABLE, max_body=1000), response(400, body)).code == 1005


def test_a_streamed_body_is_read_only_when_its_length_says_it_fits() -> None:
    data = json.dumps({"error_code": 1005}).encode()
    unknown = response(400, raw=data, streamed=True)
    assert raised(ApiErrors(TABLE), unknown, stream=True).code is None
    assert unknown.raw.read() == data  # left for the caller to stream
    sized = response(400, raw=data, streamed=True, headers={"Content-Length": str(len(data))})
    assert raised(ApiErrors(TABLE), sized, stream=True).code == 1005
    assert sized.content == data  # still readable after the hook read it
    packed = {"Content-Length": str(len(data)), "Content-Encoding": "gzip"}
    gzipped = response(400, raw=data, streamed=True, headers=packed)
    assert raised(ApiErrors(TABLE), gzipped, stream=True).code is None


def test_a_body_that_breaks_off_gives_the_default_not_an_exception_from_the_hook() -> None:
    class Broken(io.RawIOBase):
        def readinto(self, b: Any) -> int:
            raise ConnectionResetError("peer went away")

        def readable(self) -> bool:
            return True

    r = response(500)
    r._content = False
    r.raw = HTTPResponse(Broken(), preload_content=False)
    err = raised(ApiErrors(TABLE, default="Try again later"), r)
    assert str(err) == "Try again later (HTTP 500)"


def test_api_error_is_an_http_error_and_not_a_login_failure() -> None:
    err = raised(ApiErrors(TABLE), response(400, {"error_code": 1005}))
    assert isinstance(err, requests.HTTPError)
    assert not isinstance(err, SilentAuthError)
    assert err.response is not None and err.response.status_code == 400
    assert err.request is not None


def test_api_error_pickles_without_its_response() -> None:
    err = raised(
        ApiErrors(TABLE, message_field="msg"), response(400, {"error_code": 7, "msg": "m"})
    )
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.code, back.status_code, back.message) == (
        str(err),
        7,
        400,
        "m",
    )
    assert back.server_message == "m" and back.response is None


# -- nothing secret is quoted -------------------------------------------------------------------


def test_a_server_echoing_the_bearer_token_is_not_quoted() -> None:
    body = {"error_code": f"bad-{TOKEN}", "msg": f"token {TOKEN} is not allowed here"}
    errors = ApiErrors(message_field="msg", default="Not allowed")
    err = raised(errors, response(403, body))
    assert TOKEN not in str(err) and TOKEN not in repr(err)
    assert err.code is None and err.server_message is None
    assert str(err) == "Not allowed (HTTP 403)"


def test_a_reason_phrase_echoing_the_token_is_not_quoted() -> None:
    err = raised(ApiErrors(), response(400, raw=b"", reason=f"bad {TOKEN}"))
    assert TOKEN not in str(err) and str(err) == "Bad Request (HTTP 400)"


@pytest.mark.parametrize(
    ("req", "secret"),
    [
        (
            request(Authorization="Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()),
            TOKEN,
        ),
        (request(**{"X-Api-Key": "k3y-0f-the-app"}), "k3y-0f-the-app"),
        (request(Cookie="sid=s3ss10n-v4lue; theme=dark"), "s3ss10n-v4lue"),
        (request(url=f"https://api.test/v1/x?access_token={TOKEN}&page=2"), TOKEN),
        (request(url="https://api.test/v1/x?api_key=k3y-in-url"), "k3y-in-url"),
    ],
)
def test_whatever_credential_the_request_carried_is_not_quoted(
    req: PreparedRequest, secret: str
) -> None:
    r = response(401, {"error_code": 4, "msg": f"rejected {secret}"}, req=req)
    err = raised(ApiErrors(message_field="msg"), r)
    assert secret not in str(err) and err.server_message is None


def test_short_query_values_are_ordinary_words_and_may_be_quoted() -> None:
    req = request(url="https://api.test/v1/journals?name=cats&page=2")
    r = response(404, {"error_code": 3001, "msg": "No journal named cats"}, req=req)
    assert raised(ApiErrors(message_field="msg"), r).message == "No journal named cats"


# -- explain(): one line for any failure ----------------------------------------------------------


def test_explain_gives_one_line_for_every_kind_of_failure() -> None:
    errors = ApiErrors(TABLE)
    api = raised(errors, response(400, {"error_code": 1005}))
    assert errors.explain(api) == "Wrong developer key (1005, HTTP 400)"
    http = requests.HTTPError("400", response=response(404, {"error_code": "3000"}))
    assert errors.explain(http) == "No such journal (3000, HTTP 404)"
    login = CredentialsNotFound("run silentauth login")
    assert errors.explain(login) == "run silentauth login"
    down = requests.ConnectionError("refused", request=request(url=f"https://api.test/?k={TOKEN}"))
    line = errors.explain(down)
    assert (
        line
        == "The request to https://api.test failed before the server answered (ConnectionError)"
    )
    assert ApiErrors(default="Network trouble").explain(requests.Timeout()) == "Network trouble"


# -- configuration -------------------------------------------------------------------------------


def test_errors_option_takes_a_table_or_an_instance() -> None:
    table = ApiErrors.coerce({1005: "Wrong developer key"})
    assert isinstance(table, ApiErrors)
    same = ApiErrors()
    assert ApiErrors.coerce(same) is same and ApiErrors.coerce(None) is None
    with pytest.raises(TypeError, match="errors= takes"):
        ApiErrors.coerce(["1005"])  # type: ignore[arg-type]


@pytest.mark.parametrize("table", [{True: "x"}, {"": "x"}, {1.5: "x"}, {1: 2}])
def test_a_bad_table_is_a_clear_error(table: Any) -> None:
    with pytest.raises(TypeError, match="error code"):
        ApiErrors(table)


def test_negative_max_body_is_refused() -> None:
    with pytest.raises(ValueError, match="max_body"):
        ApiErrors(max_body=-1)


def test_query_values_under_ordinary_names_may_be_quoted() -> None:
    req = request(url="https://api.test/v1/journals?name=astronomy+weekly&filter=recentissues")
    body = {"error_code": 3001, "msg": "No journal astronomy weekly (recentissues)"}
    r = response(404, body, req=req)
    assert raised(ApiErrors(message_field="msg"), r).server_message == body["msg"]
