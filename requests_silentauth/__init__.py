"""Silent token refresh for requests.

session.auth = SilentAuth(PasswordGrant(token_url), username="alice")

The public names are imported on first use (PEP 562 ``__getattr__``), so ``import
requests_silentauth`` costs almost nothing until a name is used (issue 9: a CLI that imports
the package but never logs in does not pay for the login machinery). To export a name, add one
line to ``_EXPORTS``, the same import under ``TYPE_CHECKING`` (for type checkers and IDEs) and
the name to ``__all__``; ``tests/test_api.py`` checks the three agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

#: public name -> the private module that defines it (one line per name)
_EXPORTS: dict[str, str] = {
    "Account": "._store",
    "ApiError": "._errors",
    "ApiErrors": "._apierrors",
    "AuthorizationCode": "._interactive",
    "AuthorizationDenied": "._errors",
    "BasicToken": "._placement",
    "Bearer": "._placement",
    "ClientCredentials": "._grants",
    "Credentials": "._grants",
    "CredentialsNotFound": "._errors",
    "DeviceAuthorization": "._interaction",
    "DeviceCode": "._interactive",
    "FileStore": "._store",
    "Grant": "._grants",
    "Header": "._placement",
    "InsecureTransportError": "._errors",
    "InteractionRequired": "._errors",
    "InvalidCredentials": "._errors",
    "JsonLogin": "._grants",
    "KeyringStore": "._store",
    "LoginExpired": "._errors",
    "MemoryStore": "._store",
    "PasswordGrant": "._grants",
    "Placement": "._placement",
    "Query": "._placement",
    "RedisStore": "._redis",
    "SilentAuth": "._auth",
    "SilentAuthAdapter": "._adapter",
    "SilentAuthError": "._errors",
    "Store": "._store",
    "StoreError": "._errors",
    "Token": "._token",
    "TokenEndpointError": "._errors",
    "UnreplayableBodyError": "._errors",
}

if TYPE_CHECKING:
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
    from ._redis import RedisStore
    from ._store import Account, FileStore, KeyringStore, MemoryStore, Store
    from ._token import Token


if not TYPE_CHECKING:  # hidden from type checkers: an unknown name stays an error for them

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # the next lookup is a plain module attribute
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


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
