"""``/o/`` is django-oauth-toolkit; ``/api/*`` are protected resources; ``/debug/*`` facts."""

# mypy: ignore-errors

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.urls import include, path

from . import views

urlpatterns = [
    # issue 8: before DOT's own, which answers 500 with oauthlib 4.0 (see the view)
    path("o/device-authorization/", views.DeviceAuthorizationView.as_view()),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", LoginView.as_view(template_name="login.html")),  # issue 8
    path("api/me", views.MeView.as_view()),
    path("api/me-403", views.Me403View.as_view()),
    path("api/write", views.WriteView.as_view()),
]

if getattr(settings, "DOTPROJECT_DEBUG_VIEWS", False):
    urlpatterns += [
        path("debug/events", views.events),
        path("debug/refresh-token", views.refresh_token_state),
    ]
