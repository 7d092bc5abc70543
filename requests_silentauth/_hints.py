"""The ``silentauth login`` command that stores the secret for an auth, as a hint that works
when copied (issue 9): the URL, user, client, scope, store and grant the auth was built with,
or the profile it came from. Strings only; never a secret."""

from __future__ import annotations

import shlex
from typing import Any

__all__ = ["login_command", "profile_login_command"]


def profile_login_command(name: str) -> str:
    """``silentauth login --profile NAME``, quoted for a shell; a name starting with ``-``
    is attached with ``=`` (``--profile -x`` would read ``-x`` as an option)."""
    quoted = shlex.quote(name)
    return f"silentauth login --profile{'=' if name.startswith('-') else ' '}{quoted}"


def login_command(
    grant: Any, username: str | None, store: Any, *, allow_insecure_http: bool = False
) -> str | None:
    """The command, or None when no ``silentauth login`` can store this auth's secret (a login
    function, a ``MemoryStore``, a store of the caller's own): then the hint says what to pass
    instead."""
    from ._grants import ClientCredentials, JsonLogin, PasswordGrant
    from ._store import FileStore, KeyringStore

    if isinstance(store, KeyringStore):
        where = [] if store.service is None else ["--store", f"keyring:{store.service}"]
    elif isinstance(store, FileStore):
        where = ["--store", f"file:{store.path.absolute()}"]
    else:
        return None
    if isinstance(grant, JsonLogin):
        if grant.body is not None or grant.token_field != "token":
            return None  # a custom body or field mapping: only a profile carries it
        args = ["--grant", "json", "--url", grant.url, "--username", username or ""]
    elif isinstance(getattr(grant, "cli_flag", None), str):
        # DeviceCode / AuthorizationCode name their own flag (--device, --browser); asked by
        # attribute so that building any auth does not import the browser machinery.
        args = [*_endpoint(grant), "--client-id", grant.client_id or "", grant.cli_flag]
    elif isinstance(grant, ClientCredentials):
        args = ["--grant", "client_credentials", *_endpoint(grant)]
        args += ["--client-id", grant.client_id or ""]
    elif isinstance(grant, PasswordGrant):
        args = [*_endpoint(grant), "--username", username or ""]
        if grant.client_id is not None:
            args += ["--client-id", grant.client_id]
            if grant.client_secret:  # the login that verifies the password needs it too
                args.append("--client-secret-stdin")
    else:
        return None
    if getattr(grant, "scope", None):
        args += ["--scope", grant.scope]
    if allow_insecure_http:
        args.append("--allow-insecure-http")
    return "silentauth login " + " ".join(shlex.quote(a) for a in [*args, *where])


def _endpoint(grant: Any) -> list[str]:
    """An OAuth2 grant is found by its token URL, or by its issuer (issue 8: discovery)."""
    if grant.token_url:
        return ["--url", grant.token_url]
    return ["--issuer", grant.issuer or ""]
