"""Attacks on issue 8's pure decisions (see tests/test_attacks_interactive.py for the end to end
ones): what a hostile identity provider's answers can make the client do."""

from __future__ import annotations

import json

import pytest

from requests_silentauth import TokenEndpointError
from requests_silentauth._interaction import MIN_INTERVAL, DeviceAuthorization, next_interval

WHERE = "https://id.example.com"
GOOD = {
    "device_code": "dc-secret",
    "user_code": "WDJB-MJHT",
    "verification_uri": "https://id.example.com/device",
    "expires_in": 600,
    "interval": 5,
}


@pytest.mark.parametrize("field", ["interval", "expires_in"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_number_that_is_not_finite_is_refused(field: str, value: str) -> None:
    payload = json.loads(
        json.dumps(GOOD).replace(f'"{field}": {GOOD[field]}', f'"{field}": {value}')
    )
    with pytest.raises(TokenEndpointError, match=field):
        DeviceAuthorization.from_payload(payload, WHERE)


def test_an_interval_of_zero_polls_at_once_then_no_faster_than_the_floor() -> None:
    info = DeviceAuthorization.from_payload({**GOOD, "interval": 0}, WHERE)
    assert info.interval == 0.0  # the first poll at once (what tests rely on)
    after = next_interval(
        "authorization_pending", None, interval=0.0, now=0.0, deadline=600.0, where=WHERE
    )
    assert after == MIN_INTERVAL == 1.0
    slower = next_interval("slow_down", None, interval=0.0, now=0.0, deadline=600.0, where=WHERE)
    assert slower == 5.0


def callback(host: str, expected: str) -> int:
    from requests_silentauth._interaction import judge_callback

    return judge_callback(
        method="GET",
        target="/cb?code=c&state=s",
        host=host,
        expected_host=expected,
        expected_path="/cb",
        state="s",
    ).status


def test_the_host_check_compares_host_and_port_not_spelling() -> None:
    # A browser drops a default port and leading zeros from the Host it sends: a redirect_uri
    # written http://127.0.0.1:80/cb or :08765 refused every real callback until the timeout.
    assert callback("127.0.0.1", "127.0.0.1:80") == 200
    assert callback("127.0.0.1:8765", "127.0.0.1:08765") == 200
    assert callback("LOCALHOST:8765", "localhost:8765") == 200
    assert callback("[::1]:8765", "[::1]:8765") == 200
    for other in ("evil.example:8765", "127.0.0.1:8766", "127.0.0.1:8765:1", "", "127.0.0.1:x"):
        assert callback(other, "127.0.0.1:8765") == 400, other


def test_a_redirect_uri_on_port_zero_is_refused() -> None:
    from requests_silentauth._loopback import loopback_redirect

    # Port 0 was read as "no port", 80: the listener bound port 80 (as root) for a redirect
    # the provider sends to port 0.
    with pytest.raises(ValueError, match="port"):
        loopback_redirect("http://127.0.0.1:0/cb")
    assert loopback_redirect("http://127.0.0.1/cb")[1] == 80
