"""The grants that need a person once (issue 8): ``DeviceCode`` (RFC 8628) and
``AuthorizationCode`` with PKCE and a loopback redirect (RFC 7636, RFC 8252). After that first
login they are ordinary OAuth2 grants: the refresh token is stored and renewed silently.

``login`` runs under the store lock, so it never shows a code or opens a browser: it raises
``InteractionNeeded`` (the manager lets the locks go and calls ``interact``), or
``InteractionRequired`` where nobody may be asked. See ``_interaction`` for the decisions."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shlex
import sys
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._endpoint import Timeout, TokenClient
from ._errors import AuthorizationDenied, InsecureTransportError, TokenEndpointError
from ._errors import quotable as _quotable
from ._grants import Credentials, _OAuth2, _refused, _token_from, _where
from ._interaction import (
    DeviceAuthorization,
    InteractionNeeded,
    interaction_required,
    next_interval,
    pkce_challenge,
    pkce_verifier,
)
from ._loopback import Listener, loopback_redirect
from ._origins import origin_of, transport_ok
from ._token import Token

__all__ = ["AuthorizationCode", "DeviceCode", "default_show"]

log = logging.getLogger("requests_silentauth")

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def default_show(info: DeviceAuthorization) -> None:
    """Print the code to stderr (the default ``show`` of ``DeviceCode``)."""
    minutes = max(1, round(info.expires_in / 60))
    lines = [f"To log in, open {info.verification_uri} and enter the code: {info.user_code}"]
    if info.verification_uri_complete:
        lines.append(f"  (or open {info.verification_uri_complete})")
    lines.append(f"The code expires in about {minutes} minute{'s' if minutes != 1 else ''}.")
    print("\n".join(lines), file=sys.stderr, flush=True)


def _graphical(environ: Mapping[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether ``webbrowser`` would open a window rather than take over this terminal: on Linux
    without a display it picks a console browser (w3m, lynx) in our terminal, which the person
    then has to escape; there the URL is only printed, unless ``$BROWSER`` names a command."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux") or env.get("BROWSER"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def _set(obj: object, **values: Any) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


class _Interactive(_OAuth2):
    """What both interactive grants share: no username, the login raising instead of asking."""

    needs_username = False
    how = "a person"
    cli_flag = ""

    def login_command(self) -> str | None:
        """The ``silentauth login`` line that logs in once for this grant (None without an
        issuer: the command finds endpoints by issuer)."""
        if not self.issuer or not self.client_id:
            return None
        parts = ["silentauth", "login", "--issuer", self.issuer, "--client-id", self.client_id]
        parts.append(self.cli_flag)
        if self.scope:
            parts += ["--scope", self.scope]
        return " ".join(shlex.quote(p) for p in parts)

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        if credentials.obtained is not None:
            return credentials.obtained
        if not credentials.may_interact:
            # The auth's own command names its profile or store (attack review); a grant
            # alone knows only its issuer and client.
            command = credentials.login_command or self.login_command()
            raise interaction_required(self.how, command)
        raise InteractionNeeded(functools.partial(self.interact, client))

    def interact(self, client: TokenClient, per_request: float) -> Token:
        raise NotImplementedError  # pragma: no cover

    def _check_client(self) -> None:
        if not self.client_id:
            raise ValueError(f"{type(self).__name__} needs a client_id")


@dataclass(frozen=True, repr=False, init=False)
class DeviceCode(_Interactive):
    """RFC 8628: the person opens a URL on any device and enters a short code; we poll.

    ``show(info)`` is called with the ``DeviceAuthorization`` (``user_code``,
    ``verification_uri``, ``verification_uri_complete``, ``expires_in``); the default prints
    them to stderr."""

    device_authorization_url: str | None = None
    show: Callable[[DeviceAuthorization], object] | None = None

    how = "a device code"
    cli_flag = "--device"

    def __init__(
        self,
        client_id: str,
        *,
        issuer: str | None = None,
        device_authorization_url: str | None = None,
        token_url: str | None = None,
        scope: str | None = None,
        client_secret: str | None = None,
        show: Callable[[DeviceAuthorization], object] | None = None,
        revocation_url: str | None = None,
        introspection_url: str | None = None,
        client_auth: str = "basic",
    ) -> None:
        _set(
            self,
            client_id=client_id,
            issuer=issuer,
            device_authorization_url=device_authorization_url,
            token_url=token_url,
            scope=scope,
            client_secret=client_secret,
            show=show,
            revocation_url=revocation_url,
            introspection_url=introspection_url,
            client_auth=client_auth,
        )
        self.__post_init__()
        self._check_client()
        if device_authorization_url is None and issuer is None:
            raise ValueError("DeviceCode needs device_authorization_url= (or issuer=)")

    def interact(self, client: TokenClient, per_request: float) -> Token:
        """Ask for a code, show it, poll until approved, denied or expired. Runs outside every
        lock; each request gets ``per_request`` seconds, the whole login ``expires_in``."""
        device_url = self._need(
            client, "device_authorization_endpoint", per_request, "device_authorization_url"
        )
        token_url, _ = self._token_endpoint(client, per_request)
        form = {"scope": self.scope} if self.scope else {}
        answer = self._post(
            client, device_url, form, per_request, self.client_secret, what="a device request"
        )
        if not answer.ok:
            raise _refused(
                answer, device_url, during="device authorization", secrets=(self.client_secret,)
            )
        info = DeviceAuthorization.from_payload(answer.payload, _where(device_url))
        deadline = time.monotonic() + info.expires_in
        (self.show or default_show)(info)
        interval = info.interval
        where = _where(token_url)
        secret_texts = (info.device_code, self.client_secret)
        while True:
            time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
            left = deadline - time.monotonic()
            error: str | None
            description: str | None = None
            try:
                answer = self._post(
                    client,
                    token_url,
                    {"grant_type": DEVICE_GRANT, "device_code": info.device_code},
                    max(0.0, min(per_request, left)),
                    self.client_secret,
                    what="a device code",
                )
            except TokenEndpointError as exc:
                if not exc.retryable:
                    raise
                # RFC 8628 §3.5: a timeout or an outage means polling more slowly, until the
                # code expires.
                log.debug("device code poll failed (%s); slowing down", exc.status_code or "-")
                error = "slow_down"
            else:
                if answer.ok:
                    return _token_from(answer)
                error, description = answer.oauth_error()
                error = _quotable(error, secret_texts)
                description = _quotable(description, secret_texts)
            interval = next_interval(
                error,
                description,
                interval=interval,
                now=time.monotonic(),
                deadline=deadline,
                where=where,
            )

    def __repr__(self) -> str:
        where = f"issuer={self.issuer!r}" if self.issuer else repr(self.token_url)
        return f"DeviceCode({self.client_id!r}, {where}, scope={self.scope!r})"


@dataclass(frozen=True, repr=False, init=False)
class AuthorizationCode(_Interactive):
    """RFC 6749 §4.1 with PKCE S256 (RFC 7636) and a loopback redirect (RFC 8252 §7.3).

    ``redirect_uri=None`` listens on ``http://127.0.0.1:<free port>/``; a given loopback URI is
    listened on exactly. ``open_browser``: True opens it with ``webbrowser`` (``$BROWSER`` is
    honoured) and prints the URL to stderr too; a callable receives the URL instead; False
    prints it only. ``login_timeout``: seconds to wait for the browser to come back."""

    authorization_url: str | None = None
    redirect_uri: str | None = None
    open_browser: bool | Callable[[str], object] = True
    login_timeout: float = 300.0

    how = "a browser"
    cli_flag = "--browser"

    def __init__(
        self,
        client_id: str,
        *,
        issuer: str | None = None,
        authorization_url: str | None = None,
        token_url: str | None = None,
        scope: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        open_browser: bool | Callable[[str], object] = True,
        login_timeout: float = 300.0,
        revocation_url: str | None = None,
        introspection_url: str | None = None,
        client_auth: str = "basic",
    ) -> None:
        _set(
            self,
            client_id=client_id,
            issuer=issuer,
            authorization_url=authorization_url,
            token_url=token_url,
            scope=scope,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            open_browser=open_browser,
            login_timeout=login_timeout,
            revocation_url=revocation_url,
            introspection_url=introspection_url,
            client_auth=client_auth,
        )
        self.__post_init__()
        self._check_client()
        if authorization_url is None and issuer is None:
            raise ValueError("AuthorizationCode needs authorization_url= (or issuer=)")
        if authorization_url is not None:
            origin_of(authorization_url)
        if redirect_uri is not None:
            loopback_redirect(redirect_uri)
        if not login_timeout > 0:
            raise ValueError("login_timeout must be > 0 seconds")

    def authorization_request(
        self, authorization_url: str, redirect_uri: str, state: str, challenge: str
    ) -> str:
        """The URL the browser opens (§4.1.1): our parameters added to any it has."""
        parts = urlsplit(authorization_url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        query += [
            ("response_type", "code"),
            ("client_id", self.client_id or ""),
            ("redirect_uri", redirect_uri),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]
        if self.scope:
            query.append(("scope", self.scope))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _open(self, url: str) -> None:
        if callable(self.open_browser):
            self.open_browser(url)
            return
        opening = bool(self.open_browser) and _graphical()
        print(
            "To log in, open this address in a browser"
            + (" (opening it now)" if opening else "")
            + f":\n  {url}",
            file=sys.stderr,
            flush=True,
        )
        if opening:
            webbrowser.open(url)

    def interact(self, client: TokenClient, per_request: float) -> Token:
        """Open the browser at the provider, wait for its redirect (one valid callback, within
        ``login_timeout``), exchange the code with the PKCE verifier. Outside every lock."""
        auth_url = self._need(client, "authorization_endpoint", per_request, "authorization_url")
        if not transport_ok(origin_of(auth_url), allow_insecure=client.allow_insecure_http):
            raise InsecureTransportError(
                f"refusing to log in through plain http at {origin_of(auth_url)}: the password "
                "typed there would travel in clear text; use https"
            )
        token_url, _ = self._token_endpoint(client, per_request)
        verifier = pkce_verifier()
        state = secrets.token_urlsafe(32)
        with Listener(self.redirect_uri) as listener:
            redirect_uri = listener.redirect_uri
            self._open(
                self.authorization_request(auth_url, redirect_uri, state, pkce_challenge(verifier))
            )
            callback = listener.wait(
                state, time.monotonic() + self.login_timeout, limit=self.login_timeout
            )
        if callback.error is not None:
            error = _quotable(callback.error, (self.client_secret,)) or "error"
            description = _quotable(callback.description, (self.client_secret,))
            detail = f"{error}: {description}" if description else error
            if error == "access_denied":
                raise AuthorizationDenied(
                    f"the browser login at {_where(auth_url)} was refused ({detail}); run the "
                    "login again and approve it",
                    error=error,
                    error_description=description,
                )
            raise TokenEndpointError(
                f"the authorization server at {_where(auth_url)} refused the login ({detail})",
                retryable=False,
                error=error,
            )
        code = callback.code or ""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        answer = self._post(
            client, token_url, form, per_request, self.client_secret, what="an authorization code"
        )
        if not answer.ok:
            raise _refused(
                answer,
                token_url,
                during="authorization code exchange",
                secrets=(code, verifier, self.client_secret),
            )
        return _token_from(answer)

    def __repr__(self) -> str:
        where = f"issuer={self.issuer!r}" if self.issuer else repr(self.token_url)
        return f"AuthorizationCode({self.client_id!r}, {where}, scope={self.scope!r})"
