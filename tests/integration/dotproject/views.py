"""Protected resources, and debug-only views that expose server-side facts to the tests.

``RecordMiddleware`` keeps an in-memory journal of every OAuth2/API request this process
answered (path, grant type, client, status): the tests read it from ``/debug/events`` to prove
how many token requests the client really made. The server is a single waitress process, so a
list and a lock are enough.
"""

# mypy: ignore-errors
# (Django and django-oauth-toolkit ship no type information.)

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth2_views
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.views import (
    ProtectedResourceMetadataView,
    ProtectedResourceView,
    ScopedProtectedResourceMetadataView,
)

_journal: list[dict[str, Any]] = []
_journal_lock = threading.Lock()


def _basic_client_id(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(decoded.split(":", 1)[0])


class RecordMiddleware:
    """Journal every request outside ``/debug/`` (never the secrets: only names and codes)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/debug/"):
            return self.get_response(request)
        form = QueryDict()
        if request.method == "POST":
            # Reading .body caches it, so the OAuth views can still parse the form.
            form = QueryDict(request.body, encoding="utf-8")
        response = self.get_response(request)
        event = {
            "path": request.path,
            "method": request.method,
            "status": response.status_code,
            "grant_type": form.get("grant_type"),
            "client_id": _basic_client_id(request) or form.get("client_id"),
            "username": form.get("username"),
            "bearer": request.headers.get("Authorization", "").lower().startswith("bearer "),
        }
        with _journal_lock:
            _journal.append(event)
        return response


def _me(request: HttpRequest, oauth_request: Any) -> JsonResponse:
    token = oauth_request.access_token
    user = request.resource_owner
    return JsonResponse(
        {
            "username": user.get_username() if user is not None else None,
            "client_id": token.application.client_id if token.application else None,
            "scope": token.scope,
        }
    )


class _KeepOAuthRequest:
    """Keep oauthlib's request (it carries the AccessToken row) for the view body."""

    def verify_request(self, request: HttpRequest) -> tuple[bool, Any]:
        valid, oauth_request = super().verify_request(request)
        self.oauth_request = oauth_request
        return valid, oauth_request


class MeView(_KeepOAuthRequest, ProtectedResourceMetadataView):
    """RFC 6750 behaviour: an invalid or expired token gets ``401`` + ``WWW-Authenticate``."""

    def get(self, request: HttpRequest) -> JsonResponse:
        return _me(request, self.oauth_request)


class Me403View(_KeepOAuthRequest, ProtectedResourceView):
    """django-oauth-toolkit's historical default: a bare ``403`` for an invalid token."""

    def get(self, request: HttpRequest) -> JsonResponse:
        return _me(request, self.oauth_request)


class WriteView(_KeepOAuthRequest, ScopedProtectedResourceMetadataView):
    """Needs the ``write`` scope: a valid token without it gets ``403`` +
    ``WWW-Authenticate: Bearer error="insufficient_scope"`` (RFC 6750 §3.1)."""

    required_scopes = ["write"]

    def get(self, request: HttpRequest) -> JsonResponse:
        return _me(request, self.oauth_request)


def events(request: HttpRequest) -> JsonResponse:
    """``GET /debug/events?since=N``: journal entries from index N on, and the next index."""
    since = int(request.GET.get("since", "0"))
    with _journal_lock:
        return JsonResponse({"events": _journal[since:], "next": len(_journal)})


@csrf_exempt
def refresh_token_state(request: HttpRequest) -> JsonResponse:
    """``POST /debug/refresh-token`` (form ``token``): the row of that refresh token and the
    state of its token family (rotation keeps the family; reuse protection revokes it whole)."""
    value = request.POST.get("token", "")
    checksum = hashlib.sha256(value.encode("utf-8")).hexdigest()
    refresh_model = get_refresh_token_model()
    row = refresh_model.objects.filter(token_checksum=checksum).order_by("-id").first()
    if row is None:
        return JsonResponse({"found": False})
    family = refresh_model.objects.filter(token_family=row.token_family)
    live_access = get_access_token_model().objects.filter(
        id__in=family.exclude(access_token=None).values("access_token_id")
    )
    return JsonResponse(
        {
            "found": True,
            "revoked": row.revoked is not None,
            "has_access_token": row.access_token_id is not None,
            "family_size": family.count(),
            "family_live": family.filter(revoked=None).count(),
            "family_access_tokens": live_access.count(),
        }
    )


class DeviceAuthorizationView(oauth2_views.DeviceAuthorizationView):
    """Issue 8: django-oauth-toolkit 3.4 with oauthlib 4.0 answers 500 here: oauthlib now puts
    ``scope`` in the device authorization response and DOT's ``DeviceCodeResponse`` does not
    take it (TypeError). RFC 8628 §3.2 defines no ``scope`` there, so it is dropped."""

    def create_device_authorization_response(self, request):
        headers, response, status = super().create_device_authorization_response(request)
        if isinstance(response, dict):
            response.pop("scope", None)
        return headers, response, status
