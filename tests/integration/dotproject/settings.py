"""Settings for the throw-away django-oauth-toolkit server of the integration tests."""

# mypy: ignore-errors
# (Django ships no type information; the test files themselves are checked strictly.)

from __future__ import annotations

import os
import secrets

SECRET_KEY = os.environ.get("DOTPROJECT_SECRET_KEY") or secrets.token_urlsafe(32)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",  # issue 8: the browser logs in at the login page
    "oauth2_provider",
]
MIDDLEWARE = [
    "tests.integration.dotproject.views.RecordMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.csrf",
            ]
        },
    }
]
LOGIN_URL = "/accounts/login/"
STATIC_URL = "/static/"  # DOT's page templates link their stylesheet
ROOT_URLCONF = "tests.integration.dotproject.urls"
WSGI_APPLICATION = "tests.integration.dotproject.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DOTPROJECT_DB"],
        # Server threads write concurrently (token rotation): wait for the lock instead of
        # failing with "database is locked", and take the write lock when a transaction starts.
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}

# Client secrets stay hashed (DOT's default, hash_client_secret=True) but with a cheap hasher:
# Django's PBKDF2 costs ~1 s of CPU per token request on a small machine.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "SCOPES": {"read": "Reading scope", "write": "Writing scope"},
    # RFC 9700 discourages the password grant; DOT 4.0 will refuse it unless this stays False.
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False,
    # Plain http on loopback only (the server listens on 127.0.0.1).
    "ALLOWED_SCHEMES": ["http", "https"],
    # Issue 8: public clients must use PKCE (S256); the device flow (RFC 8628) shows this page
    # (DOT needs it absolute; the fixture passes the base URL) and asks to poll every second.
    "PKCE_REQUIRED": True,
    "OAUTH_DEVICE_VERIFICATION_URI": os.environ.get("DOTPROJECT_BASE", "") + "/o/device/",
    "DEVICE_FLOW_INTERVAL": 1,
    # oauthlib 4.0 polls through validate_device_code, which DOT 3.4 lacks (500): see there.
    "OAUTH2_VALIDATOR_CLASS": "tests.integration.dotproject.validators.Validator",
}

# Only this throw-away project exposes /debug/* (server-side facts for the assertions).
DOTPROJECT_DEBUG_VIEWS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
