"""ApiErrors decisions on hand-built responses: no sockets (issue 12)."""

from __future__ import annotations

import base64
import io
import json
import pickle
from typing import Any
from urllib.parse import quote

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


def test_a_streamed_body_is_left_to_the_caller() -> None:
    data = json.dumps({"error_code": 1005}).encode()
    for headers in ({}, {"Content-Length": str(len(data))}):
        streamed = response(400, raw=data, streamed=True, headers=headers)
        assert raised(ApiErrors(TABLE), streamed, stream=True).code is None
        assert streamed.raw.read() == data  # not touched: the caller streams it
    # ... who may read it and ask for the code then
    later = response(400, raw=data, streamed=True)
    assert ApiErrors(TABLE).error(later).code == 1005
    # a body already read (requests read it, or the caller did) is used as it is
    read = response(400, raw=data, streamed=True)
    assert read.content == data
    assert raised(ApiErrors(TABLE), read, stream=True).code == 1005


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


# -- attack review (wt-attack12) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[2J\x1b[31mCall +1 555 0100 now",  # ANSI: clear the screen, paint it red
        "Bad\x1b]0;pwned\x07 title",  # OSC: set the terminal's title
        "\x9b2J 8-bit CSI",  # C1 control (a latin-1 reason phrase can carry it)
        "ok\x08\x08\x08\x7fFAIL",  # backspaces overwrite what was printed
        "abc\u202eevil\u2066x\u2069",  # bidi overrides reorder the line
        "nul\x00byte",
    ],
)
def test_server_text_never_carries_terminal_controls(hostile: str) -> None:
    """A message is printed as is; a hostile server must not drive the terminal with it."""
    for field in ("msg", "reason", "code"):
        body = {"error_code": hostile if field == "code" else 9, "msg": hostile}
        r = response(400, body, reason=hostile if field == "reason" else "")
        err = raised(ApiErrors(message_field="msg" if field == "msg" else None), r)
        shown = f"{err} {err.message} {err.server_message} {err.code}"
        assert not any(
            ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u202e\u2066\u2069" for c in shown
        ), (field, shown)


def test_a_code_longer_than_the_shown_clip_still_matches_the_table() -> None:
    """Java-style codes (exception class names) run past 64 characters."""
    long = "org.springframework.web.bind.MissingServletRequestParameterException"
    err = raised(ApiErrors({long: "A parameter is missing"}), response(400, {"error_code": long}))
    assert err.message == "A parameter is missing"


def test_a_secret_past_the_clip_is_not_half_quoted() -> None:
    """Clipping first and looking for the secret after left its first characters in."""
    msg = "y" * 290 + " " + TOKEN
    err = raised(ApiErrors(message_field="msg"), response(400, {"error_code": 9, "msg": msg}))
    assert TOKEN[:6] not in str(err) and err.server_message is None
    code = "x" * 60 + TOKEN
    err = raised(ApiErrors(), response(400, {"error_code": code}))
    assert err.code is None and TOKEN[:4] not in str(err)


def test_a_password_with_runs_of_spaces_is_not_quoted_folded() -> None:
    basic = "Basic " + base64.b64encode(b"alice:my  pass  word").decode()
    body = {"error_code": 9, "msg": "wrong password my  pass  word"}
    err = raised(
        ApiErrors(message_field="msg"), response(401, body, req=request(Authorization=basic))
    )
    assert "my pass word" not in str(err) and err.server_message is None


def test_a_query_placement_under_a_custom_name_is_a_secret() -> None:
    from requests_silentauth import Query

    Query("t")  # the placement registers its parameter name
    req = request(url=f"https://api.test/x?t={TOKEN}&page=2")
    body = {"error_code": 9, "msg": f"token {TOKEN} expired"}
    err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
    assert TOKEN not in str(err) and err.server_message is None


@pytest.mark.parametrize(
    ("secret", "echo"),
    [
        ("abc/def+ghi=jklmno", "access_token=abc%2Fdef%2Bghi%3Djklmno"),  # percent-encoded
        (TOKEN, TOKEN.upper()),  # another case
        (TOKEN + "/x=", quote(TOKEN + "/x=", safe="")),
    ],
)
def test_a_secret_echoed_encoded_or_in_another_case_is_not_quoted(secret: str, echo: str) -> None:
    req = request(url=f"https://api.test/x?access_token={quote(secret, safe='')}")
    req.headers["Authorization"] = f"Bearer {secret}"
    body = {"error_code": 9, "msg": f"rejected {echo}"}
    err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
    assert err.server_message is None and echo not in str(err)


def test_a_credential_header_given_as_bytes_is_a_secret() -> None:
    req = request()
    req.headers["X-Api-Key"] = b"k3y-0f-the-app"
    body = {"error_code": 9, "msg": "bad key k3y-0f-the-app"}
    err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
    assert "k3y-0f-the-app" not in str(err) and err.server_message is None


def test_explain_never_raises_for_an_odd_url_and_never_calls_a_redirect_an_error() -> None:
    errors = ApiErrors(default="Network trouble")
    odd = requests.ConnectionError("x", request=requests.Request("GET", "file:///etc/x").prepare())
    assert errors.explain(odd) == "Network trouble"
    line = ApiErrors().explain(odd)
    assert line == "The request failed before the server answered (ConnectionError)"
    hop = response(302, raw=b"", reason="Found")
    assert errors.explain(requests.TooManyRedirects("30", response=hop)) == "Network trouble"


class _Endless(io.RawIOBase):
    """A body that never ends; counts what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        b[:] = b"x" * len(b)
        self.read_bytes += len(b)
        if self.read_bytes > 64 * MAX:  # a guard: fail the test, never hang it
            raise AssertionError("read far past the limit")
        return len(b)


MAX = 64 * 1024


def test_a_streamed_body_longer_than_its_content_length_is_read_no_further_than_the_limit() -> None:
    """A chunked answer that also sends a small Content-Length: the length is ignored on the
    wire, so the hook must bound the read itself (an endless body would hang the caller)."""
    body = _Endless()
    r = response(400)
    r._content = False
    r.headers.update({"Content-Length": "100", "Transfer-Encoding": "chunked"})
    r.raw = HTTPResponse(body, preload_content=False)
    err = raised(ApiErrors(TABLE, default="Failed", max_body=MAX), r, stream=True)
    assert str(err) == "Failed (HTTP 400)"
    assert body.read_bytes <= 2 * MAX


def test_explain_on_a_streamed_error_does_not_read_an_endless_body() -> None:
    body = _Endless()
    r = response(500)
    r._content = False
    r.raw = HTTPResponse(body, preload_content=False)
    line = ApiErrors(default="Failed", max_body=MAX).explain(requests.HTTPError("500", response=r))
    assert line == "Failed (HTTP 500)" and body.read_bytes == 0


@pytest.mark.parametrize("raw", [b'{"error_code": ' + b"9" * 4300 + b"}", b'{"error_code": 1e300}'])
def test_an_absurdly_long_number_is_no_code(raw: bytes) -> None:
    err = raised(ApiErrors(default="Failed"), response(400, raw=raw))
    assert str(err) == "Failed (HTTP 400)" and err.code is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"error_code": NaN}',
        b'{"error_code": Infinity}',
        b'{"error_code": -Infinity}',
        b'{"error_code": 1e400}',
        b'{"error_code": ' + b"9" * 5000 + b"}",  # past int's 4300-digit conversion limit
        b'{"error_code": {"nested": 1}}',
        b'{"error_code": [1005]}',
        b'{"error_code": null}',
        b'{"error_code": 1005.5}',
        b'{"error_code": "   "}',
        b"\xef\xbb\xbf{}",  # a UTF-8 BOM
        b'{"error_code": "\\ud800"}',  # a lone surrogate
    ],
)
def test_odd_codes_are_no_code_and_never_an_exception_from_the_hook(raw: bytes) -> None:
    err = raised(ApiErrors(TABLE, default="Failed"), response(400, raw=raw))
    assert err.message in {"Failed"} or err.code is not None


def test_a_response_without_a_request_still_gives_an_api_error() -> None:
    r = response(400, {"error_code": 1005})
    r.request = None  # type: ignore[assignment]
    assert str(raised(ApiErrors(TABLE), r)) == "Wrong developer key (1005, HTTP 400)"


def test_negative_codes_and_leading_zeros() -> None:
    assert raised(ApiErrors({-1: "neg"}), response(400, {"error_code": "-1"})).message == "neg"
    # "01005" is a string code of its own: it is not the number 1005.
    err = raised(ApiErrors(TABLE, default="Failed"), response(400, {"error_code": "01005"}))
    assert err.message == "Failed" and err.code == "01005"


class Mine(ApiError):
    """An application's own ApiError."""


def test_a_subclass_of_api_error_pickles_as_itself() -> None:
    back = pickle.loads(pickle.dumps(Mine("m", status_code=400, code=7)))
    assert type(back) is Mine and (back.code, str(back)) == (7, "m (7, HTTP 400)")


def test_a_long_fragment_of_the_token_is_not_quoted() -> None:
    """A server that quotes a good part of the token (its tail, its middle) leaks most of it."""
    token = "gho_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
    req = request(Authorization=f"Bearer {token}")
    for fragment in (token[-24:], token[6:30]):
        body = {"error_code": 9, "msg": f"token ...{fragment} has expired"}
        err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
        assert fragment not in str(err) and err.server_message is None
    # A short prefix, the usual way of naming a token without giving it away, may be quoted.
    body = {"error_code": 9, "msg": f"token {token[:8]}... has expired"}
    err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
    assert err.server_message == body["msg"]


def test_one_code_with_two_messages_is_a_clear_error() -> None:
    """1005 and "1005" are one code: a table giving them two messages is ambiguous."""
    with pytest.raises(ValueError, match="1005"):
        ApiErrors({1005: "Wrong developer key", "1005": "Bad key"})
    assert ApiErrors({1005: "Same", " 1005": "Same"})._messages == {"1005": "Same"}


def test_a_numeric_code_that_is_a_numeric_secret_is_not_shown() -> None:
    """A numeric API key (or a PIN-like password) echoed as the error code, as a JSON number."""
    req = request(**{"X-Api-Key": "80085511"})
    err = raised(ApiErrors(default="Failed"), response(403, {"error_code": 80085511}, req=req))
    assert "80085511" not in str(err) and err.code is None


# -- mutation testing (scripts/mutation.sh): breakages the tests above did not notice ----------


def test_server_text_is_shown_folded_with_each_control_a_space() -> None:
    body = {"error_code": 9, "msg": "first\x1bsecond\n\tthird\x00 fourth"}
    err = raised(ApiErrors(message_field="msg"), response(400, body))
    assert err.server_message == "first second third fourth"


@pytest.mark.parametrize(("field", "limit"), [("msg", 300), ("reason", 80), ("code", 64)], ids=str)
def test_each_quoted_text_is_clipped_at_its_own_length(field: str, limit: int) -> None:
    """A server message keeps 300 characters, a reason phrase 80, a code 64 (not the 160 of
    ``clip``'s default)."""

    def shown(text: str) -> str | int | None:
        body = {"error_code": text if field == "code" else 9, "msg": text}
        r = response(400, body, reason=text if field == "reason" else "")
        err = raised(ApiErrors(message_field="msg" if field == "msg" else None), r)
        return {"msg": err.server_message, "reason": err.message, "code": err.code}[field]

    whole = "w" * (limit - 10) + " last word"
    assert shown(whole) == whole  # exactly the limit: whole
    longer = shown(whole + "s")
    assert longer == whole[: limit - 3] + "..."  # one more: clipped to the limit


def test_a_reason_phrase_of_the_servers_own_is_the_status_line() -> None:
    r = response(400, raw=b"", reason="Developer Key Missing")
    assert raised(ApiErrors(), r).message == "Developer Key Missing"  # not "Bad Request"


def test_the_64_digit_limit_on_numeric_codes() -> None:
    largest = 10**64 - 1  # 64 digits: a code
    assert raised(ApiErrors(), response(400, {"error_code": largest})).code == largest
    for past in (10**64, -(10**64)):  # 65 digits: no code
        err = raised(ApiErrors(default="Failed"), response(400, {"error_code": past}))
        assert err.code is None and str(err) == "Failed (HTTP 400)"


def test_a_body_of_exactly_max_body_bytes_is_parsed_one_more_is_not() -> None:
    data = json.dumps({"error_code": 1005}).encode()
    at = ApiErrors(TABLE, max_body=len(data))
    assert raised(at, response(400, raw=data)).code == 1005
    assert raised(ApiErrors(TABLE, max_body=len(data) - 1), response(400, raw=data)).code is None


def test_max_body_zero_is_allowed_and_reads_no_code() -> None:
    """0 means "never parse an error body" (only the status line and the default)."""
    errors = ApiErrors(TABLE, max_body=0, default="Failed")
    assert errors.max_body == 0
    assert str(raised(errors, response(400, {"error_code": 1005}))) == "Failed (HTTP 400)"


def test_configuration_errors_name_what_was_wrong() -> None:
    with pytest.raises(TypeError) as bad_code:
        ApiErrors({True: "x"})
    assert str(bad_code.value).endswith("; got bool -> str")
    with pytest.raises(TypeError) as bad_message:
        ApiErrors({1005: None})  # type: ignore[dict-item]
    assert str(bad_message.value).endswith("; got int -> NoneType")
    with pytest.raises(ValueError) as bad_max:
        ApiErrors(max_body=-1)
    assert str(bad_max.value) == "max_body must be >= 0 (bytes of error body read for its code)"
    with pytest.raises(TypeError) as bad_errors:
        ApiErrors.coerce("1005: Wrong key")  # type: ignore[arg-type]
    assert str(bad_errors.value) == (
        "errors= takes ApiErrors(...) or a mapping of error codes to messages"
    )


def test_errors_given_as_a_table_use_that_table() -> None:
    errors = ApiErrors.coerce({1005: "Wrong developer key"})
    assert errors is not None
    assert raised(errors, response(400, {"error_code": 1005})).message == "Wrong developer key"


def test_without_stream_the_hook_and_check_read_an_unread_body() -> None:
    """requests passes ``stream=`` to every hook; called without it (by hand, by another
    library), the hook reads the body as for a non-streamed request."""
    data = json.dumps({"error_code": 1005}).encode()
    errors = ApiErrors(TABLE)
    assert raised(errors, response(400, raw=data, streamed=True)).code == 1005
    with pytest.raises(ApiError) as info:
        errors.check(response(400, raw=data, streamed=True))
    assert info.value.code == 1005


def test_a_withheld_code_does_not_pick_its_message_from_the_table() -> None:
    """The table's message for a code would tell the reader which code (= which secret) it was."""
    req = request(**{"X-Api-Key": "80085511"})
    errors = ApiErrors({80085511: "Key 80085511 is blocked"}, default="Failed")
    err = raised(errors, response(403, {"error_code": 80085511}, req=req))
    assert err.code is None and str(err) == "Failed (HTTP 403)"


def test_explain_treats_a_400_as_an_api_error() -> None:
    http = requests.HTTPError("400", response=response(400, {"error_code": 1005}))
    assert ApiErrors(TABLE).explain(http) == "Wrong developer key (1005, HTTP 400)"


def test_explain_names_a_failure_after_an_answer_apart_from_one_before_it() -> None:
    hop = response(302, raw=b"", reason="Found", req=request(url="https://api.test/a"))
    line = ApiErrors().explain(requests.TooManyRedirects("30 redirects", response=hop))
    assert line == "The request to https://api.test failed (TooManyRedirects)"


@pytest.mark.parametrize(
    "error",
    [
        requests.Timeout(),  # request=None
        ValueError("not from requests at all"),  # no request, no response attribute
        OSError(),
        requests.ConnectionError(request=requests.Request("GET", b"https://api.test/")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_explain_never_raises_whatever_the_exception_carries(error: BaseException) -> None:
    """explain() is called in an ``except`` block: it must not raise there."""
    line = ApiErrors().explain(error)
    assert line == f"The request failed before the server answered ({type(error).__name__})"


LONG = "gho_" + "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8"  # 40 characters


@pytest.mark.parametrize(
    ("secret", "echo", "quoted"),
    [
        (LONG, LONG[-20:], False),  # the last 20 characters of a long token
        (LONG, LONG[:20], False),  # the first 20
        (LONG, LONG[-19:], True),  # a shorter tail names it without giving it away
        (LONG[:24], LONG[2:22], False),  # 24 characters: long enough for fragments
        (LONG[:23], LONG[2:22], True),  # 23: only the whole token is withheld
    ],
)
def test_which_fragments_of_a_key_are_withheld(secret: str, echo: str, quoted: bool) -> None:
    req = request(**{"X-Api-Key": secret})  # (a Bearer header is 7 characters longer)
    body = {"error_code": 9, "msg": f"token ...{echo}... has expired"}
    err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
    assert (err.server_message == body["msg"]) is quoted


def test_a_secret_echoed_across_a_line_break_is_not_quoted() -> None:
    """The message is shown folded onto one line, where the break becomes the space."""
    basic = "Basic " + base64.b64encode(b"alice:my pass word").decode()
    body = {"error_code": 9, "msg": "wrong password my pass\nword"}
    err = raised(
        ApiErrors(message_field="msg"), response(401, body, req=request(Authorization=basic))
    )
    assert err.server_message is None and "my pass word" not in str(err)


def test_a_secret_echoed_with_a_control_character_inside_is_not_quoted() -> None:
    """Shown, the control character is a space: the token would be readable around it."""
    body = {"error_code": 9, "msg": f"rejected {TOKEN[:6]}\x00{TOKEN[6:]}"}
    err = raised(ApiErrors(message_field="msg"), response(401, body))
    assert err.server_message is None and TOKEN[6:] not in str(err)


def session_request(**headers: str) -> PreparedRequest:
    """As a Session prepares it: its default headers (User-Agent, Accept, ...) come first."""
    return requests.Session().prepare_request(
        requests.Request("POST", "https://api.test/v1/x", headers=headers, json={})
    )


def test_ordinary_headers_may_be_quoted_the_credential_after_them_may_not() -> None:
    req = session_request(**{"X-Api-Key": "k3y-0f-the-app"})
    assert next(iter(req.headers)) == "User-Agent" and req.headers["Content-Type"]
    said = "expected application/xml, not application/json"
    r = response(415, {"error_code": 9, "msg": said}, req=req)
    assert raised(ApiErrors(message_field="msg"), r).server_message == said
    r = response(403, {"error_code": 9, "msg": "bad key k3y-0f-the-app"}, req=req)
    assert raised(ApiErrors(message_field="msg"), r).server_message is None


def test_a_cookie_value_with_base64_padding_is_a_secret_whole() -> None:
    req = request(Cookie="a=1; sid=YWJjZA==")  # short: no 20-character fragment of it
    body = {"error_code": 9, "msg": "session YWJjZA== expired"}
    err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
    assert err.server_message is None


def test_a_basic_pair_splits_at_the_first_colon() -> None:
    """RFC 7617: the user-id holds no colon, the password may; the user name is withheld too."""
    basic = "Basic " + base64.b64encode(b"alice:pass:word").decode()
    body = {"error_code": 9, "msg": "no user alice here"}
    err = raised(
        ApiErrors(message_field="msg"), response(401, body, req=request(Authorization=basic))
    )
    assert err.server_message is None


def test_everything_after_the_scheme_is_a_secret_whatever_it_ends_with() -> None:
    """The scheme is the first word; the credential is the rest (here it ends in a short word)."""
    req = request(Authorization="Key s3cr3t-v4lue v1")  # short: no 20-character fragments
    body = {"error_code": 9, "msg": "bad credential s3cr3t-v4lue v1"}
    err = raised(ApiErrors(message_field="msg"), response(401, body, req=req))
    assert err.server_message is None
