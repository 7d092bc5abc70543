"""Login strategies: how to get a token, refresh it and ask whether it is still valid.

Each strategy is a small immutable object with three operations; none holds state between calls
(the manager does). ``refresh`` returns None when the refresh token is dead (``invalid_grant``),
which sends the ladder on to a fresh login; every other failure is a typed exception.

``timeout`` is the budget in seconds for the whole operation (issue 7: a deadline, computed by
the caller with ``_endpoint.seconds``); each operation makes one request, which gets all of it.

No error raised here can reach a secret (issue 7, behaviour 10): errors are raised outside
``except`` blocks (``raise ... from None`` still sets ``__context__``), and text a server sends
back has our secrets blanked out before it is quoted."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, urlsplit

import requests

from ._endpoint import Answer, Timeout, TokenClient, seconds
from ._errors import InvalidCredentials, SilentAuthError, TokenEndpointError, clip
from ._errors import quotable as _quotable
from ._origins import origin_of, shown
from ._token import Token, fingerprint, lookup

__all__ = ["ClientCredentials", "Credentials", "Grant", "JsonLogin", "PasswordGrant"]

log = logging.getLogger("requests_silentauth")


class Credentials:
    """What a login may use: the user name, and the password (or client secret), which is only
    looked up (store, then a terminal prompt) when a strategy actually reads it."""

    __slots__ = ("_resolve", "_secret", "login_command", "may_interact", "obtained", "username")

    def __init__(
        self,
        username: str | None,
        resolve: Callable[[], str],
        *,
        may_interact: bool = False,
        obtained: Token | None = None,
        login_command: str | None = None,
    ) -> None:
        self.username = username
        self._resolve = resolve
        self._secret: str | None = None
        #: Whether an interactive grant may ask a person (issue 8: ``prompt``, a terminal).
        self.may_interact = may_interact
        #: The token an interaction run outside the locks got (the login rung installs it).
        self.obtained = obtained
        #: The ``silentauth login`` line that stores what this auth reads (its profile, or its
        #: URL, client and store): the fix an error names.
        self.login_command = login_command

    @property
    def password(self) -> str:
        if self._secret is None:
            self._secret = self._resolve()
        return self._secret

    @property
    def used_secret(self) -> bool:
        return self._secret is not None

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"


@runtime_checkable
class Grant(Protocol):
    """A login strategy."""

    @property
    def endpoint(self) -> str:
        """The login URL: names the account in the store and is the default token origin."""
        ...

    @property
    def needs_username(self) -> bool: ...

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token: ...

    def refresh(self, client: TokenClient, token: Token, timeout: Timeout) -> Token | None: ...

    def verify(self, client: TokenClient, token: Token, timeout: Timeout) -> bool | None: ...


#: Endpoint fields of the interactive grants, by metadata name (issue 8).
_GIVEN = {
    "authorization_endpoint": "authorization_url",
    "device_authorization_endpoint": "device_authorization_url",
}


def _budget(timeout: Timeout) -> float:
    return seconds(timeout, 10.0)


def _where(url: str) -> str:
    return str(origin_of(url))


def _endpoint_url(url: str) -> None:
    """A login endpoint's URL must be an http(s) URL without credentials in it: a
    ``user:password@`` part would travel into reprs, store entry names and logs, where
    ``client_id=``/``client_secret=`` never do."""
    origin_of(url)  # raises ValueError on a malformed URL (never quoting credentials)
    if "@" in urlsplit(url).netloc:
        raise ValueError(
            f"{shown(url)!r} carries credentials; pass them as client_id= and client_secret= "
            "(or the user's password), never in the URL"
        )


def _path(url: str) -> str:
    """The URL's path for a message (no query: it may carry anything)."""
    return clip(urlsplit(url).path or "/", 80)


#: RFC 6750 §3.1 codes: what an API protected by tokens answers, never a token endpoint.
_RESOURCE_ERRORS = ("invalid_token", "insufficient_scope", "invalid_request_token")


def _wrong_url(answer: Answer, url: str) -> TokenEndpointError | None:
    """A refusal that says the URL is not a token endpoint at all (issue 9: say the status and
    the path, not "refused the login (not_found)")."""
    error, _ = answer.oauth_error()
    if answer.status in (404, 405, 410):
        why = "no token endpoint there"
    elif error in _RESOURCE_ERRORS:
        why = (
            f"{error} is how an API answers a request without a token, so this looks like an "
            "API, not a token endpoint"
        )
    else:
        return None
    return TokenEndpointError(
        f"the token endpoint at {_where(url)} answered {answer.status} for POST {_path(url)}: "
        f"{why}; check the token URL",
        retryable=False,
        error=error,
        status_code=answer.status,
    )


def _token_from(answer: Answer, **fields: Any) -> Token:
    try:
        return Token.from_response(answer.payload, sent_at=answer.sent_at, **fields)
    except ValueError as exc:
        problem = str(exc)  # our own wording, never a token (see _token)
    token_field = str(fields.get("token_field") or "access_token").split(".")[0]
    if isinstance(answer.payload, Mapping) and token_field not in answer.payload:
        problem += (
            f"; {_path(answer.url)} looks like an API, not a token endpoint: check the token URL"
        )
    # Raised outside the ``except``, so the error has no context at all.
    raise TokenEndpointError(
        f"the token endpoint at {_where(answer.url)} answered {answer.status}, but {problem}",
        retryable=False,
        status_code=answer.status,
    )


def _refused(
    answer: Answer, url: str, *, during: str, secrets: tuple[str | None, ...] = ()
) -> SilentAuthError:
    """Map an OAuth2 refusal (RFC 6749 §5.2) that is not ``invalid_grant`` on a refresh."""
    wrong = _wrong_url(answer, url)
    if wrong is not None:
        return wrong
    error, description = answer.oauth_error()
    error, description = _quotable(error, secrets), _quotable(description, secrets)
    detail = f"{error}: {description}" if description else (error or f"status {answer.status}")
    if error in ("invalid_grant", "invalid_client", "unauthorized_client") or (
        error is None and answer.status in (401, 403)
    ):
        fix = (
            "check client_id and client_secret"
            if error in ("invalid_client", "unauthorized_client")
            else "check the user name and password (silentauth login stores a new one)"
        )
        return InvalidCredentials(
            f"the server at {_where(url)} refused the {during} ({detail}); {fix}",
            error=error,
            error_description=description,
        )
    return TokenEndpointError(
        f"the token endpoint at {_where(url)} refused the {during} ({detail})",
        retryable=False,
        error=error,
        status_code=answer.status,
    )


@dataclass(frozen=True, repr=False)
class _OAuth2:
    """What password and client-credentials grants share: client authentication, refresh
    (RFC 6749 §6) and introspection (RFC 7662)."""

    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    introspection_url: str | None = None
    client_auth: str = "basic"  # "basic" (RFC 6749 §2.3.1) or "body"
    #: Issue 8: the endpoints not given are discovered from the issuer (OIDC, then RFC 8414).
    issuer: str | None = None
    revocation_url: str | None = None  # RFC 7009

    def __post_init__(self) -> None:
        if self.token_url is None and self.issuer is None:
            raise ValueError(f"{type(self).__name__} needs token_url= or issuer=")
        for url in (self.token_url, self.introspection_url, self.revocation_url):
            if url is not None:
                _endpoint_url(url)
        if self.issuer is not None:
            from ._discovery import check_issuer  # only a grant found by its issuer needs it

            check_issuer(self.issuer, allow_insecure_http=True)  # transport: at the fetch
        if self.client_auth not in ("basic", "body"):
            raise ValueError("client_auth must be 'basic' or 'body'")

    @property
    def endpoint(self) -> str:
        """The account's name in the store: the issuer when given, else the token URL."""
        return self.issuer or self.token_url or ""

    def __repr__(self) -> str:
        where = f"issuer={self.issuer!r}" if self.issuer else repr(self.token_url)
        return (
            f"{type(self).__name__}({where}, client_id={self.client_id!r}, "
            f"client_secret={'***' if self.client_secret else None}, scope={self.scope!r})"
        )

    def _url(self, client: TokenClient, name: str, timeout: Timeout) -> str | None:
        """An endpoint: the one given, else the issuer's metadata's (None when neither)."""
        given = {
            "token_endpoint": self.token_url,
            "introspection_endpoint": self.introspection_url,
            "revocation_endpoint": self.revocation_url,
        }.get(name) or getattr(self, _GIVEN.get(name, ""), None)
        if given is not None or self.issuer is None:
            return given
        from ._discovery import discover

        found: str | None = getattr(discover(client, self.issuer, _budget(timeout)), name)
        return found

    def _need(self, client: TokenClient, name: str, timeout: Timeout, field: str) -> str:
        url = self._url(client, name, timeout)
        if url is None:
            raise ValueError(
                f"the metadata of issuer {self.issuer!r} names no {name}; pass {field}="
            )
        return url

    def _token_endpoint(self, client: TokenClient, timeout: Timeout) -> tuple[str, Timeout]:
        """The token URL, and the seconds of ``timeout`` a discovery left for the POST (one
        deadline for the whole operation)."""
        if self.token_url is not None:
            return self.token_url, timeout
        start = time.monotonic()
        url = self._need(client, "token_endpoint", timeout, "token_url")
        return url, max(0.0, _budget(timeout) - (time.monotonic() - start))

    def revoke(self, client: TokenClient, token: Token, timeout: Timeout) -> bool | None:
        """RFC 7009: revoke the refresh token, then the access token. None when no revocation
        endpoint is known; raises when the server refused."""
        start, budget = time.monotonic(), _budget(timeout)
        url = self._url(client, "revocation_endpoint", budget)
        if url is None:
            return None
        pairs = ((token.refresh_token, "refresh_token"), (token.access_token, "access_token"))
        for value, hint in pairs:
            if not value:
                continue
            form = {"token": value, "token_type_hint": hint}
            left = max(0.0, budget - (time.monotonic() - start))
            answer = self._post(
                client, url, form, left, self.client_secret, what="a token", expect_json=False
            )
            if not answer.ok:  # §2.2.1: unsupported_token_type etc.
                raise _refused(
                    answer,
                    url,
                    during="revocation",
                    secrets=(token.access_token, token.refresh_token, self.client_secret),
                )
        return True

    def _post(
        self,
        client: TokenClient,
        url: str,
        form: dict[str, str],
        timeout: Timeout,
        secret: str | None,
        what: str = "credentials",
        expect_json: bool = True,
    ) -> Answer:
        auth: tuple[str, str] | None = None
        if self.client_id is not None:
            if secret is not None and self.client_auth == "basic":
                # RFC 6749 §2.3.1: form-urlencode both parts before Basic encoding.
                auth = (quote(self.client_id, safe=""), quote(secret, safe=""))
            else:
                form["client_id"] = self.client_id
                if secret is not None:
                    form["client_secret"] = secret
        if not expect_json:  # RFC 7009 §2.2: a revocation's 200 may have no body
            return client.post(
                url, data=form, auth=auth, timeout=timeout, what=what, expect_json=False
            )
        return client.post(url, data=form, auth=auth, timeout=timeout, what=what)

    def refresh(self, client: TokenClient, token: Token, timeout: Timeout) -> Token | None:
        rt = token.refresh_token
        if not rt:
            return None
        form = {"grant_type": "refresh_token", "refresh_token": rt}
        url, timeout = self._token_endpoint(client, timeout)
        answer = self._post(client, url, form, timeout, self.client_secret)
        if not answer.ok:
            error, _ = answer.oauth_error()
            if error == "invalid_grant" or (error is None and answer.status == 400):
                log.debug(
                    "refresh token %s refused (invalid_grant)", fingerprint(token.refresh_token)
                )
                return None
            raise _refused(answer, url, during="refresh", secrets=(rt, self.client_secret))
        return _token_from(answer)

    def verify(self, client: TokenClient, token: Token, timeout: Timeout) -> bool | None:
        start = time.monotonic()
        introspection_url = self._url(client, "introspection_endpoint", timeout)
        if self.introspection_url is None:
            timeout = max(0.0, _budget(timeout) - (time.monotonic() - start))
        if not introspection_url:
            return None
        answer = self._post(
            client,
            introspection_url,
            {"token": token.access_token, "token_type_hint": "access_token"},
            timeout,
            self.client_secret,
            what="a token",
        )
        if not answer.ok:
            raise _refused(
                answer,
                introspection_url,
                during="introspection",
                secrets=(token.access_token, token.refresh_token, self.client_secret),
            )
        active = answer.payload.get("active")
        return active is True


@dataclass(frozen=True, repr=False)
class PasswordGrant(_OAuth2):
    """RFC 6749 §4.3 resource owner password credentials, with refresh (§6)."""

    needs_username = True

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        if not credentials.username:
            raise ValueError("PasswordGrant needs a username")
        form = {
            "grant_type": "password",
            "username": credentials.username,
            "password": credentials.password,
        }
        if self.scope:
            form["scope"] = self.scope
        url, timeout = self._token_endpoint(client, timeout)
        answer = self._post(client, url, form, timeout, self.client_secret)
        if not answer.ok:
            secrets = (form["password"], self.client_secret)
            raise _refused(answer, url, during="login", secrets=secrets)
        return _token_from(answer)


@dataclass(frozen=True, repr=False)
class ClientCredentials(_OAuth2):
    """RFC 6749 §4.4. The client secret is the "password": given here, or read from the store
    under the client id when a login needs it."""

    needs_username = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.client_id:
            raise ValueError("ClientCredentials needs a client_id")

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        secret = self.client_secret if self.client_secret is not None else credentials.password
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        url, timeout = self._token_endpoint(client, timeout)
        answer = self._post(client, url, form, timeout, secret)
        if not answer.ok:
            during = "client credentials login"
            raise _refused(answer, url, during=during, secrets=(secret,))
        return _token_from(answer)

    def refresh(self, client: TokenClient, token: Token, timeout: Timeout) -> Token | None:
        # RFC 6749 §4.4.3: no refresh token should be issued here; a new login is the refresh
        # (and a secret read from the store would not be at hand for a refresh request).
        return None


def _fill(template: Any, values: Mapping[str, Callable[[], str | None]]) -> Any:
    """Substitute ``{name}`` placeholders in the string values of a JSON template. A value is
    computed only if a placeholder asks for it, so a body without ``{password}`` never reads
    the store."""
    if isinstance(template, str):
        out = template
        for name, get in values.items():
            marker = "{" + name + "}"
            if marker in out:
                if out == marker:
                    return get()
                out = out.replace(marker, get() or "")
        return out
    if isinstance(template, Mapping):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


@dataclass(frozen=True, repr=False)
class JsonLogin:
    """A custom JSON login endpoint: ``POST url`` with ``body`` (``{username}`` and
    ``{password}`` are filled in), any 2xx is success, the token read from ``token_field``
    (dotted paths reach into nested answers: ``"data.token"``)."""

    url: str
    body: Mapping[str, Any] | None = None
    token_field: str = "token"
    refresh_field: str | None = None
    expires_in_field: str | None = None
    refresh_url: str | None = None
    refresh_body: Mapping[str, Any] | None = None
    verify_url: str | None = None
    verify_body: Mapping[str, Any] | None = None
    valid_field: str = "isValid"

    needs_username = True

    def __post_init__(self) -> None:
        for url in (self.url, self.refresh_url, self.verify_url):
            if url is not None:
                _endpoint_url(url)

    @property
    def endpoint(self) -> str:
        return self.url

    def _token(self, answer: Answer) -> Token:
        return _token_from(
            answer,
            token_field=self.token_field,
            refresh_field=self.refresh_field,
            expires_in_field=self.expires_in_field,
            require_bearer=False,
        )

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        template = (
            self.body
            if self.body is not None
            else {
                "username": "{username}",
                "password": "{password}",
            }
        )
        body = _fill(
            template,
            {"username": lambda: credentials.username, "password": lambda: credentials.password},
        )
        answer = client.post(self.url, json_body=body, timeout=timeout)
        if not answer.ok:
            secrets = (credentials.password,) if credentials.used_secret else ()
            raise _json_refused(answer, self.url, secrets)
        return self._token(answer)

    def refresh(self, client: TokenClient, token: Token, timeout: Timeout) -> Token | None:
        if not self.refresh_url or not token.refresh_token:
            return None
        rt = token.refresh_token
        template = (
            self.refresh_body
            if self.refresh_body is not None
            else {"refresh_token": "{refresh_token}"}
        )
        body = _fill(template, {"refresh_token": lambda: rt})
        answer = client.post(self.refresh_url, json_body=body, timeout=timeout, what="a token")
        if not answer.ok:
            log.debug("refresh token %s refused (status %s)", fingerprint(rt), answer.status)
            return None
        return self._token(answer)

    def verify(self, client: TokenClient, token: Token, timeout: Timeout) -> bool | None:
        if not self.verify_url:
            return None
        template = self.verify_body if self.verify_body is not None else {"token": "{token}"}
        body = _fill(template, {"token": lambda: token.access_token})
        answer = client.post(self.verify_url, json_body=body, timeout=timeout, what="a token")
        if not answer.ok:
            return False
        return lookup(answer.payload, self.valid_field) is True

    def __repr__(self) -> str:
        return f"JsonLogin({self.url!r}, token_field={self.token_field!r})"


def _json_refused(answer: Answer, url: str, secrets: tuple[str | None, ...]) -> SilentAuthError:
    wrong = _wrong_url(answer, url)
    if wrong is not None:
        return wrong
    payload = answer.payload if isinstance(answer.payload, Mapping) else {}
    code = next(
        (payload[k] for k in ("error", "code", "errcode", "error_code") if k in payload), None
    )
    message = next(
        (payload[k] for k in ("error_description", "message", "msg") if k in payload), None
    )
    error = _quotable(str(code)[:100], secrets) if code is not None else None
    description = _quotable(message[:300], secrets) if isinstance(message, str) else None
    detail = ", ".join(p for p in (error, description) if p) or f"status {answer.status}"
    if answer.status in (400, 401, 403, 422):
        return InvalidCredentials(
            f"the login endpoint at {_where(url)} refused the credentials ({detail}); "
            "check the user name and password (silentauth login stores a new one)",
            error=error,
            error_description=description,
        )
    return TokenEndpointError(
        f"the login endpoint at {_where(url)} answered {answer.status} ({detail})",
        retryable=False,
        error=error,
        status_code=answer.status,
    )


def callable_identity(fn: Callable[..., object]) -> str:
    """A stable name for a login function: where it is defined and a digest of its code (not
    its line numbers), so the same script keeps its stored token across runs and edits
    elsewhere, while two different functions never share one."""
    code = getattr(fn, "__code__", None) or getattr(type(fn).__call__, "__code__", None)
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None) or type(fn).__module__
    body = b"" if code is None else code.co_code + repr(code.co_consts).encode("utf-8", "replace")
    return f"{module}.{name}#{hashlib.sha256(body).hexdigest()[:12]}"


@dataclass(frozen=True, repr=False)
class CallableLogin:
    """Any function that returns a token: ``fn(credentials) -> Token | str | Mapping``. A
    string is an access token with unknown expiry (used until rejected); a mapping is read as an
    OAuth2 token response."""

    fn: Callable[[Credentials], Token | str | Mapping[str, Any]]
    endpoint: str = "callable:"
    needs_username = False

    def login(self, client: TokenClient, credentials: Credentials, timeout: Timeout) -> Token:
        sent_at = client.clock()
        failed: str | None = None
        try:
            result = self.fn(credentials)
        except SilentAuthError:
            raise
        except requests.RequestException as exc:
            # Not chained: the function's request may carry the password (behaviour 10).
            failed = type(exc).__name__
        if failed is not None:
            raise TokenEndpointError(f"the login function failed ({failed})", retryable=True)
        problem: str | None = None
        if isinstance(result, Token):
            return result
        if isinstance(result, str) and result:
            try:
                return Token(result, issued_at=sent_at)
            except ValueError as exc:
                problem = f"the login function returned an unusable token: {exc}"
        elif isinstance(result, Mapping):
            try:
                return Token.from_response(result, sent_at=sent_at, require_bearer=False)
            except ValueError as exc:
                problem = f"the login function returned a mapping, but {exc}"
        if problem is not None:
            raise TokenEndpointError(problem, retryable=False)
        raise TypeError(
            f"the login function returned {type(result).__name__}; return a Token, an access "
            "token string or a token response mapping"
        )

    def refresh(self, client: TokenClient, token: Token, timeout: Timeout) -> Token | None:
        return None

    def verify(self, client: TokenClient, token: Token, timeout: Timeout) -> bool | None:
        return None

    def __repr__(self) -> str:
        return f"CallableLogin({getattr(self.fn, '__qualname__', type(self.fn).__name__)})"
