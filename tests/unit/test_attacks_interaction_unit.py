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
