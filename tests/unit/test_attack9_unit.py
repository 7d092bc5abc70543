"""Review wt-attack9, pure decisions: what the device flow shows a person carries no terminal
escapes."""

from __future__ import annotations

import pytest

from requests_silentauth import DeviceAuthorization, TokenEndpointError

GOOD = {
    "device_code": "dc-secret",
    "user_code": "WDJB-MJHT",
    "verification_uri": "https://id.example.com/device",
    "verification_uri_complete": "https://id.example.com/device?user_code=WDJB-MJHT",
    "expires_in": 600,
}


@pytest.mark.parametrize("field", ["user_code", "verification_uri", "verification_uri_complete"])
@pytest.mark.parametrize("control", ["\x1b]0;owned\x07", "\x1b[2J", "\r", "\x9b31m"])
def test_a_device_answer_with_terminal_escapes_is_refused(field: str, control: str) -> None:
    hostile = {**GOOD, field: str(GOOD[field]) + control}
    with pytest.raises(TokenEndpointError, match="control characters") as caught:
        DeviceAuthorization.from_payload(hostile, "https://id.example.com")
    assert "\x1b" not in str(caught.value) and "\x9b" not in str(caught.value)
    assert DeviceAuthorization.from_payload(GOOD, "https://id.example.com").user_code
