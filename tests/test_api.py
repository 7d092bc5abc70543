"""The public surface is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import subprocess
import sys

import pytest

import requests_silentauth


def test_exported_names_are_pinned_and_sorted() -> None:
    assert requests_silentauth.__all__ == sorted(requests_silentauth.__all__)
    assert set(requests_silentauth.__all__) == {
        "Account", "ApiError", "ApiErrors", "AuthorizationCode", "AuthorizationDenied",
        "BasicToken", "Bearer", "ClientCredentials", "Credentials", "CredentialsNotFound",
        "DeviceAuthorization", "DeviceCode", "FileStore", "Grant", "Header",
        "InsecureTransportError", "InteractionRequired", "InvalidCredentials", "JsonLogin",
        "KeyringStore", "LoginExpired", "MemoryStore", "PasswordGrant", "Placement", "Query",
        "RedisStore", "SilentAuth", "SilentAuthAdapter", "SilentAuthError", "Store",
        "StoreError", "Token", "TokenEndpointError", "UnreplayableBodyError", "__version__",
    }  # fmt: skip
    for name in requests_silentauth.__all__:
        if name == "__version__":
            assert isinstance(requests_silentauth.__version__, str)
            continue
        # Each name is the class of that name from a private module: not a stray alias
        # (``Bearer = Header``), not a re-export of another package's object.
        obj = getattr(requests_silentauth, name)
        assert obj.__name__ == name
        assert obj.__module__.startswith("requests_silentauth._"), (name, obj.__module__)


def test_errors_share_one_root_under_requests() -> None:
    import requests

    from requests_silentauth import _errors

    for name in (
        "CredentialsNotFound", "InvalidCredentials", "TokenEndpointError",
        "UnreplayableBodyError", "InsecureTransportError", "StoreError",
    ):  # fmt: skip
        cls = getattr(_errors, name)
        assert issubclass(cls, requests_silentauth.SilentAuthError)
    assert issubclass(requests_silentauth.SilentAuthError, requests.RequestException)


def test_the_lazy_export_table_the_typing_imports_and_all_agree() -> None:
    """Issue 9: names are imported on first use; a name added to one of the three places
    (``_EXPORTS``, the ``TYPE_CHECKING`` imports, ``__all__``) must be in the others."""
    import ast
    from pathlib import Path

    source = Path(requests_silentauth.__file__).read_text(encoding="utf-8")
    typed: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                typed |= {alias.name for alias in imp.names}
                for alias in imp.names:
                    assert requests_silentauth._EXPORTS[alias.name] == "." + (imp.module or "")
    exported = set(requests_silentauth._EXPORTS)
    assert exported == typed == set(requests_silentauth.__all__) - {"__version__"}
    assert set(requests_silentauth.__all__) <= set(dir(requests_silentauth))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        requests_silentauth.Nope  # type: ignore[attr-defined]  # noqa: B018
    namespace: dict[str, object] = {}
    exec("from requests_silentauth import *", namespace)
    assert set(requests_silentauth.__all__) <= set(namespace)


def test_import_loads_nothing_until_a_name_is_used() -> None:
    code = (
        "import sys, requests; before = set(sys.modules); import requests_silentauth; "
        "print(sorted(set(sys.modules) - before)); "
        "requests_silentauth.SilentAuth; print('requests_silentauth._auth' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["['requests_silentauth']", "True"]


def test_import_does_not_load_keyring() -> None:
    code = "import sys, requests_silentauth; print('keyring' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_does_not_load_redis() -> None:
    """Issue 11: redis is an extra, imported when a RedisStore first talks to Redis."""
    code = (
        "import sys, requests_silentauth as r; r.RedisStore('redis://127.0.0.1:1/0'); "
        "print('redis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
