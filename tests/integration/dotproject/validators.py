"""Issue 8: the device flow's poll with django-oauth-toolkit 3.4 and oauthlib 4.0.

oauthlib 4.0 asks the request validator for the device code's status
(``validate_device_code``, RFC 8628 §3.5); DOT 3.4's ``OAuth2Validator`` has no such method, so
every poll answers 500. This thin subclass reads DOT's own ``DeviceGrant`` row and answers with
oauthlib's status strings, setting the user and scopes of an approved grant."""

# mypy: ignore-errors

from __future__ import annotations

from oauth2_provider.models import get_device_grant_model
from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    def validate_device_code(self, client_id, code, request, *args, **kwargs):
        model = get_device_grant_model()
        try:
            grant = model.objects.get(device_code=code, client_id=client_id)
        except model.DoesNotExist:
            return None  # invalid_grant
        if grant.status == grant.AUTHORIZATION_PENDING and grant.is_expired():
            return "expired_token"
        status = {
            grant.AUTHORIZED: "authorized",
            grant.AUTHORIZATION_PENDING: "authorization_pending",
            grant.DENIED: "access_denied",
            grant.EXPIRED: "expired_token",
        }.get(grant.status)
        if status == "authorized":
            request.user = grant.user
            request.scopes = grant.scope.split() if grant.scope else []
        return status
