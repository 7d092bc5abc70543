"""Revoking tokens at logout (RFC 7009, issue 8): the refresh token first (it is the one that
lives), then the access token. A failure is reported (logged, and the outcome returned) but
never stops the local logout: a user who asked to log out is logged out here either way."""

from __future__ import annotations

import logging
from typing import Literal

from ._endpoint import TokenClient
from ._errors import SilentAuthError, StoreError
from ._grants import Grant
from ._manager import TokenManager

__all__ = ["Outcome", "revoke"]

log = logging.getLogger("requests_silentauth")

Outcome = Literal["revoked", "no_token", "unsupported", "failed"]


def revoke(grant: Grant, client: TokenClient, manager: TokenManager, timeout: float) -> Outcome:
    """Revoke the current (or stored) tokens; never raises for a server's or store's fault."""
    how = getattr(grant, "revoke", None)
    if how is None:
        return "unsupported"
    token = manager.token
    if token is None:
        try:
            token = manager.vault.get_token()
        except StoreError as exc:
            log.warning("could not read the stored token to revoke it (%s)", exc)
            return "failed"
    if token is None:
        return "no_token"
    try:
        done = how(client, token, timeout)
    except (SilentAuthError, ValueError) as exc:
        failure = str(exc)  # our own wording: never a token (see _grants)
    else:
        if done is None:
            log.info("no revocation endpoint is known; the tokens are only forgotten here")
            return "unsupported"
        log.debug("revoked token %s at the server", token.fingerprint)
        return "revoked"
    log.warning("could not revoke the tokens at the server (%s); they are forgotten here", failure)
    return "failed"
