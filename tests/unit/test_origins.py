"""Origins and the plain-http rule: string comparison only, never DNS."""

from __future__ import annotations

import pytest

from requests_silentauth import InsecureTransportError
from requests_silentauth._origins import (
    Origin,
    OriginSet,
    check_transport,
    is_loopback,
    origin_of,
    parse_origin,
    transport_ok,
)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://API.Example.com/x", Origin("https", "api.example.com", 443)),
        ("HTTP://a.example:8080", Origin("http", "a.example", 8080)),
        ("http://a.example", Origin("http", "a.example", 80)),
        ("https://a.example.:443/", Origin("https", "a.example", 443)),
        ("https://a.example../", Origin("https", "a.example.", 443)),
        ("https://[::1]:9/", Origin("https", "::1", 9)),
        ("https://a.example:0/", Origin("https", "a.example", 0)),
    ],
)
def test_origin_of(url: str, origin: Origin) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://a.example/", "'ftp://a.example/' is not an http:// or https:// URL"),
        ("https://a.example:99999/", "'https://a.example:99999/' has an invalid port"),
        ("https:///path", "'https:///path' has no host"),
    ],
)
def test_origin_of_names_the_problem(url: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        origin_of(url)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("origin", "text"),
    [
        (Origin("https", "a.example", 443), "https://a.example"),
        (Origin("https", "a.example", 80), "https://a.example:80"),
        (Origin("http", "a.example", 80), "http://a.example"),
        (Origin("http", "::1", 8080), "http://[::1]:8080"),
    ],
)
def test_origin_str(origin: Origin, text: str) -> None:
    assert str(origin) == text


@pytest.mark.parametrize(
    "text",
    [
        "https://a.example/path",
        "https://a.example?q=1",
        "https://a.example#f",
        "https://u@a.example",
    ],
)
def test_configured_origins_are_scheme_host_port_only(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_origin(text)
    shown = text.replace("u@", "***@")
    assert str(info.value) == (
        f"origin {shown!r} must be scheme://host[:port] with no path, query or user; "
        "for example 'https://api.example.com'"
    )


def test_a_configured_origin_may_end_with_a_slash() -> None:
    assert parse_origin("https://a.example/") == Origin("https", "a.example", 443)
    assert parse_origin("https://a.example") == Origin("https", "a.example", 443)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("app.localhost", False),  # decided by the resolver, which may ask DNS
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("localhost.evil.example", False),
        ("evillocalhost", False),
        ("Xlocalhost", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_transport_rule() -> None:
    assert transport_ok(Origin("https", "a.example", 443), allow_insecure=False)
    assert transport_ok(Origin("http", "127.0.0.1", 80), allow_insecure=False)
    assert not transport_ok(Origin("http", "a.example", 80), allow_insecure=False)
    assert transport_ok(Origin("http", "a.example", 80), allow_insecure=True)


def test_check_transport_takes_a_url_or_an_origin_and_explains() -> None:
    check_transport("https://a.example/x", allow_insecure=False, what="a token")
    with pytest.raises(InsecureTransportError) as info:
        check_transport("http://a.example/x", allow_insecure=False, what="the password")
    assert str(info.value) == (
        "refusing to send the password over plain http to http://a.example: use https, or pass "
        "allow_insecure_http=True if this network is trusted"
    )
    with pytest.raises(InsecureTransportError):
        check_transport(Origin("http", "a.example", 80), allow_insecure=False, what="a token")


def test_origin_set_matches_exact_origins_only() -> None:
    s = OriginSet.parse(["https://api.example.com", "http://127.0.0.1:8080"])
    assert s.match("https://api.example.com/x") == Origin("https", "api.example.com", 443)
    assert s.allows("https://API.example.com:443/x")
    assert s.allows("http://127.0.0.1:8080/")
    assert not s.allows("https://api.example.com.evil.net/")
    assert not s.allows("http://api.example.com/")
    assert not s.allows("https://api.example.com:8443/")
    assert not s.allows("not a url")
    assert not s.allows(None)
    assert not s.allows("")
    assert list(s) == [Origin("http", "127.0.0.1", 8080), Origin("https", "api.example.com", 443)]
    assert repr(s) == "OriginSet(['http://127.0.0.1:8080', 'https://api.example.com'])"


def test_origin_set_needs_a_list_of_at_least_one() -> None:
    with pytest.raises(TypeError) as info:
        OriginSet.parse("https://a.example")
    assert str(info.value) == "origins must be a list of strings, not a single string"
    with pytest.raises(ValueError) as err:
        OriginSet.parse([])
    assert str(err.value) == "origins must name at least one origin"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:hunter2@a.example/",
        "https://user:hunter2@a.example:99999/x",
        "https://:hunter2@/p",
    ],
)
def test_errors_never_quote_credentials_in_a_url(url: str) -> None:
    with pytest.raises(ValueError) as info:
        origin_of(url)
    assert "hunter2" not in str(info.value)
    assert "***@" in str(info.value)


def test_a_configured_origin_with_credentials_is_refused_without_quoting_them() -> None:
    with pytest.raises(ValueError) as info:
        parse_origin("https://user:hunter2@a.example")
    assert "hunter2" not in str(info.value)


def test_env_proxied_follows_requests_own_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from requests_silentauth._origins import env_proxied

    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    local, secure = Origin("http", "127.0.0.1", 8080), Origin("https", "127.0.0.1", 8080)
    assert not env_proxied(local)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    assert env_proxied(local)
    assert not env_proxied(secure)  # only an http proxy was named
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert not env_proxied(local)


def test_the_proxy_is_named_only_where_it_is_the_reason() -> None:
    with pytest.raises(InsecureTransportError, match="through the proxy"):
        check_transport("http://127.0.0.1/x", allow_insecure=False, what="a token", proxied=True)
    with pytest.raises(InsecureTransportError, match="if this network is trusted"):
        check_transport("http://a.example/x", allow_insecure=False, what="a token", proxied=True)
    check_transport("http://127.0.0.1/x", allow_insecure=False, what="a token", proxied=False)
    check_transport("http://127.0.0.1/x", allow_insecure=True, what="a token", proxied=True)
    assert not transport_ok(Origin("http", "127.0.0.1", 80), allow_insecure=False, proxied=True)


def test_check_transport_assumes_no_proxy_unless_told() -> None:
    check_transport("http://127.0.0.1/x", allow_insecure=False, what="the password")
