"""Placements: where the token travels on a request, and how it is taken off again."""

from __future__ import annotations

import pytest
import requests
from requests import PreparedRequest

from requests_silentauth import BasicToken, Bearer, Header, Query
from requests_silentauth._placement import put, relocate


def prepared(url: str = "https://api.example.com/data") -> PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_bearer_is_the_authorization_header() -> None:
    r = prepared()
    Bearer().apply(r, "tok")
    assert dict(r.headers) == {"Authorization": "Bearer tok"}
    assert Bearer().present(r)
    Bearer().strip(r)
    assert "Authorization" not in r.headers and not Bearer().present(r)
    assert Bearer().name == "Authorization" and Bearer().template == "Bearer {token}"


def test_basic_token_is_the_token_as_a_user_name_with_an_empty_password() -> None:
    r = prepared()
    BasicToken().apply(r, "tök")
    assert r.headers["Authorization"] == "Basic dMO2azo="  # base64("tök:") in UTF-8
    assert BasicToken().name == "Authorization"
    assert BasicToken().template == "Basic {token}"


def test_header_with_a_template_and_its_default() -> None:
    r = prepared()
    Header("X-Auth", template="Token {token}").apply(r, "abc")
    Header("X-Plain").apply(r, "xyz")
    assert r.headers["X-Auth"] == "Token abc"
    assert r.headers["X-Plain"] == "xyz"


@pytest.mark.parametrize("name", ["", "X:Y", "X\r\nY", "X Y", "X\nY"])
def test_header_names_that_cannot_be_sent_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"is not a valid header name$"):
        Header(name)


def test_a_template_without_the_token_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        Header("X-Auth", template="Token")
    assert str(info.value) == "the header template must contain '{token}'"


def test_header_equality_ignores_the_name_case_but_not_the_type_or_template() -> None:
    assert Header("x-auth") == Header("X-Auth")
    assert hash(Header("x-auth")) == hash(Header("X-Auth"))
    assert Header("X-Auth") != Header("X-Auth", template="T {token}")
    assert Header("X-Other") != Header("X-Auth")
    assert Header("Authorization", "Bearer {token}") != Bearer()
    assert hash(Header("Authorization", "Bearer {token}")) != hash(Bearer())
    assert Bearer() == Bearer() and BasicToken() == BasicToken()
    assert Bearer() != BasicToken()
    assert Header("X") != "X"


def test_reprs_name_the_settings() -> None:
    assert repr(Bearer()) == "Bearer()"
    assert repr(BasicToken()) == "BasicToken()"
    assert repr(Header("X-Auth", "T {token}")) == "Header('X-Auth', template='T {token}')"
    assert repr(Query()) == "Query('access_token')"


def test_query_adds_replaces_and_removes_only_its_own_parameter() -> None:
    q = Query()
    r = prepared("https://api.example.com/data?a=1&b=%2F&flag")
    q.apply(r, "t/+ ok")
    assert r.url == "https://api.example.com/data?a=1&b=%2F&flag&access_token=t%2F%2B%20ok"
    assert q.present(r)
    q.apply(r, "second")
    assert r.url == "https://api.example.com/data?a=1&b=%2F&flag&access_token=second"
    q.strip(r)
    assert r.url == "https://api.example.com/data?a=1&b=%2F&flag"
    assert not q.present(r)


def test_query_recognises_an_encoded_name_and_ignores_look_alikes() -> None:
    q = Query("access_token")
    assert q.present(prepared("https://a.example/x?access%5Ftoken=1"))
    assert q.present(prepared("https://a.example/x?b=2&access_token"))
    assert q.present(prepared("https://a.example/x?access_token=a=b"))
    assert not q.present(prepared("https://a.example/x?access_tokens=1&xaccess_token=2"))
    assert not q.present(prepared("https://a.example/x?b=access_token=1"))
    assert not q.present(prepared("https://a.example/x"))


def test_query_name_is_quoted_when_added() -> None:
    r = prepared("https://a.example/x")
    Query("a/b c").apply(r, "t")
    assert r.url == "https://a.example/x?a%2Fb%20c=t"


def test_query_default_name_and_a_name_is_needed() -> None:
    assert Query().name == "access_token"
    with pytest.raises(ValueError) as info:
        Query("")
    assert str(info.value) == "the query parameter needs a name"


def test_query_equality() -> None:
    assert Query("a") == Query("a") and hash(Query("a")) == hash(Query("a"))
    assert Query("a") != Query("b")
    assert Query("a") != "a"
    assert hash(Query("a")) != hash(Query("b"))


def test_stripping_a_url_without_our_parameter_keeps_it_byte_for_byte() -> None:
    url = "https://a.example/x?z=%7e&&y"
    assert Query().rewrite_url(url, None) == url


def test_put_makes_a_request_carry_exactly_one_token_or_none() -> None:
    r = prepared()
    put(Bearer(), r, "one")
    put(Bearer(), r, "two")
    assert r.headers["Authorization"] == "Bearer two"
    put(Bearer(), r, None)
    assert "Authorization" not in r.headers


@pytest.mark.parametrize(
    ("location", "token", "expected"),
    [
        ("https://b.example/p?x=1&access_token=old", None, "https://b.example/p?x=1"),
        ("/p?access_token=old", "new", "/p?access_token=new"),
        ("//b.example/p?access_token=old#frag", None, "//b.example/p#frag"),
        ("/p", "new", "/p?access_token=new"),
        ("/p", None, "/p"),
    ],
)
def test_relocate_rewrites_a_query_token_in_location(
    location: str, token: str | None, expected: str
) -> None:
    assert relocate(Query(), location, token) == expected


def test_relocate_leaves_location_alone_for_header_placements() -> None:
    location = "https://b.example/p?access_token=theirs"
    assert relocate(Bearer(), location, None) == location
    assert relocate(Header("X-T"), location, "new") == location


def test_urllib3_request_lines_never_show_a_query_token(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    Query("api_key")
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "api.example.com",
        443,
        "GET",
        "/data?x=1&access_token=tok-1&api%5Fkey=tok-2&api_key=tok-3&y=2",
        "HTTP/1.1",
        200,
        None,
    )
    assert caplog.records[-1].getMessage() == (
        'https://api.example.com:443 "GET /data?x=1&access_token=***&api%5Fkey=***'
        '&api_key=***&y=2 HTTP/1.1" 200 None'
    )


def test_each_query_placement_registers_its_name_for_the_log_filter() -> None:
    from requests_silentauth._placement import _redact, _RedactQuery

    Query("sig_token")
    assert "sig_token" in _redact.names
    assert _RedactQuery().names == set()
