"""Silent token refresh for requests.

session.auth = SilentAuth(PasswordGrant(token_url), username="alice")
"""

from __future__ import annotations

from ._adapter import SilentAuthAdapter
from ._apierrors import ApiErrors
from ._auth import SilentAuth
from ._errors import (
    ApiError,
    AuthorizationDenied,
    CredentialsNotFound,
    InsecureTransportError,
    InteractionRequired,
    InvalidCredentials,
    LoginExpired,
    SilentAuthError,
    StoreError,
    TokenEndpointError,
    UnreplayableBodyError,
)
from ._grants import ClientCredentials, Credentials, Grant, JsonLogin, PasswordGrant
from ._interaction import DeviceAuthorization
from ._interactive import AuthorizationCode, DeviceCode
from ._placement import BasicToken, Bearer, Header, Placement, Query
from ._redis import RedisStore  # cheap: redis itself is imported on first use
from ._store import Account, FileStore, KeyringStore, MemoryStore, Store
from ._token import Token

__version__ = "0.1.0.dev0"

__all__ = [
    "Account",
    "ApiError",
    "ApiErrors",
    "AuthorizationCode",
    "AuthorizationDenied",
    "BasicToken",
    "Bearer",
    "ClientCredentials",
    "Credentials",
    "CredentialsNotFound",
    "DeviceAuthorization",
    "DeviceCode",
    "FileStore",
    "Grant",
    "Header",
    "InsecureTransportError",
    "InteractionRequired",
    "InvalidCredentials",
    "JsonLogin",
    "KeyringStore",
    "LoginExpired",
    "MemoryStore",
    "PasswordGrant",
    "Placement",
    "Query",
    "RedisStore",
    "SilentAuth",
    "SilentAuthAdapter",
    "SilentAuthError",
    "Store",
    "StoreError",
    "Token",
    "TokenEndpointError",
    "UnreplayableBodyError",
    "__version__",
]
