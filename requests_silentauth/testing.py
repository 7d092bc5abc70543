"""An embedded, real HTTP token server for tests and demos.

Token-refresh logic is mostly about timing, connection reuse and odd server behaviour, which
mocks tend to paper over. :class:`TokenServer` therefore runs a genuine threaded HTTP/1.1
server on 127.0.0.1 that plays three roles at once: an OAuth2 authorization server
(RFC 6749 token endpoint, RFC 7662 introspection, RFC 7009 revocation), a custom JSON login
API, and protected resources that accept or reject access tokens.  Every knob exists to
reproduce a failure mode seen in the wild (rotation, reuse detection, 403 instead of 401,
errors in a 200 body, outages with ``Retry-After``), and the counters let a test prove how
many requests a client really made.

The module deliberately depends on nothing but the standard library so it can be shipped to
users for their own tests.  It never logs or prints credentials or tokens.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Literal, TypeAlias, TypeVar, cast, overload
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlencode, urlsplit

__all__ = ["Hold", "TokenServer"]

ExpiresInMode: TypeAlias = Literal["int", "omit", "jwt"]
ClientAuth: TypeAlias = Literal["basic_or_body", "basic", "body"]
TokenOverride: TypeAlias = dict[str, Any] | bytes | None

_MAX_BODY = 16 * 1024 * 1024
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_GRANTS = frozenset(
    {"password", "client_credentials", "refresh_token", "authorization_code", _DEVICE_GRANT}
)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Pre-seeded so that ``counts.get(key)`` is 0 as well as ``counts[key]``.
_COUNTER_KEYS = (
    "token", "token:password", "token:client_credentials", "token:refresh_token",
    "token:other", "json:login", "json:refresh", "json:verify", "json:rejected",
    "introspect", "revoke", "api", "api:ok", "api:rejected", "api:body_error",
    "api:insufficient_scope", "invalid_grant", "invalid_client", "reuse_detected",
    "faults", "server_error", "device_authorization", "authorize", "discovery",
    f"token:{_DEVICE_GRANT}", "token:authorization_code",
)  # fmt: skip
_T = TypeVar("_T")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison, so the demo server does not teach timing-leaky habits."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass
class _Token:
    kind: Literal["access", "refresh"]
    subject: str
    scope: str | None
    client_id: str | None
    expires_at: float | None  # wall clock, because introspection and JWTs publish it
    revoked: bool = False
    spent: bool = False

    def live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass
class _Issued:
    subject: str
    client_id: str | None
    access_token: str
    expires_in: int | None  # None when the configured mode hides the lifetime
    refresh_token: str | None
    scope: str | None


@dataclass
class _Device:
    """A device authorization (RFC 8628) waiting for the person's decision."""

    user_code: str
    client_id: str | None
    scope: str | None
    expires_at: float
    status: Literal["pending", "approved", "denied", "used"] = "pending"
    subject: str = ""
    polls: list[float] = field(default_factory=list)  # time.monotonic() of each poll


@dataclass
class _Code:
    """An authorization code (RFC 6749 §4.1) bound to its client, redirect and PKCE challenge."""

    client_id: str
    redirect_uri: str
    challenge: str
    subject: str
    scope: str | None
    expires_at: float
    used: bool = False


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: str | None
    body: bytes
    content_type: str


class Hold:
    """Token requests held at the door (``TokenServer.hold_token_requests``), for tests that
    must know a token request is in flight without guessing how long it takes: ``arrived`` is
    set when the first held request comes in (``waiting`` counts them); ``release()`` lets them
    through, ``drop()`` answers them 503 without issuing anything (a blackholed endpoint that
    never spent the refresh token). A held request gives up by itself after ``limit`` seconds
    (dropped), and ``TokenServer.stop()`` drops what is still held."""

    def __init__(self, limit: float = 60.0) -> None:
        self.arrived = threading.Event()
        self.limit = limit
        self._open = threading.Event()
        self._dropped = False
        self._lock = threading.Lock()
        self.waiting = 0

    def release(self) -> None:
        self._open.set()

    def drop(self) -> None:
        self._dropped = True
        self._open.set()

    def _pass(self) -> bool:
        """Wait at the door; True when let through, False when dropped."""
        with self._lock:
            self.waiting += 1
        self.arrived.set()
        opened = self._open.wait(self.limit)
        with self._lock:
            self.waiting -= 1
        return opened and not self._dropped


@dataclass
class _Reply:
    status: int
    body: bytes = b"{}"
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_reply(status: int, payload: Mapping[str, Any], *headers: tuple[str, str]) -> _Reply:
    return _Reply(status, json.dumps(payload).encode("utf-8"), headers=list(headers))


def _oauth_error(status: int, error: str, description: str) -> _Reply:
    body = {"error": error, "error_description": description}
    return _json_reply(status, body, ("Cache-Control", "no-store"))


class _Abort(Exception):
    """Carries a finished reply out of deeply nested validation code."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class _GrantError(Exception):
    """The presented grant (password, refresh token) is not acceptable."""


class _ClientError(Exception):
    """Client authentication failed (RFC 6749 section 5.2 ``invalid_client``)."""


class _State:
    """Everything that handler threads share; every read-modify-write holds ``lock``."""

    def __init__(self, users: Mapping[str, str], clients: Mapping[str, str | None]) -> None:
        self.lock = threading.Lock()
        self.users = dict(users)
        self.clients = dict(clients)
        self.access_lifetime = 3600.0
        self.refresh_lifetime: float | None = None
        self.rotate_refresh = True
        self.omit_refresh_on_refresh = False
        self.reuse_detection = False
        self.reject_status = 401
        self.expires_in_mode: ExpiresInMode = "int"
        self.client_auth: ClientAuth = "basic_or_body"
        self.token_delay = 0.0
        self.hold: Hold | None = None
        self.token_response_override: TokenOverride = None
        self.tokens: dict[str, _Token] = {}
        self.counts: Counter[str] = Counter(dict.fromkeys(_COUNTER_KEYS, 0))
        self.fault: _Fault | None = None
        self.issued_access = 0
        self.connections: set[socket.socket] = set()
        self.jwt_key = secrets.token_bytes(32)
        # Issue 8: device codes, authorization codes, discovery.
        self.device_interval = 5
        self.device_expires_in = 600
        self.device_slow_down = 0  # answer this many polls with slow_down
        self.devices: dict[str, _Device] = {}
        self.authorize_mode: Literal["approve", "deny"] = "approve"
        self.authorize_subject = "alice"
        self.codes: dict[str, _Code] = {}
        self.discovery: Literal["both", "oidc", "oauth", "none"] = "both"
        self.discovery_override: dict[str, Any] | None = None

    def bump(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.counts[key] += 1

    def check_password(self, username: str, password: str) -> bool:
        with self.lock:
            expected = self.users.get(username)
        return expected is not None and _same(password, expected)

    def authenticate_client(
        self, basic: tuple[str, str] | None, body_id: str | None, body_secret: str | None
    ) -> str | None:
        """Return the authenticated client id (None if anonymous and allowed)."""
        with self.lock:
            mode, clients = self.client_auth, dict(self.clients)
        if mode == "body":
            basic = None
        elif mode == "basic":
            body_secret = None  # a public client may still name itself in the body
        client_id, secret = basic if basic is not None else (body_id or None, body_secret)
        if not clients:
            return client_id
        if client_id is None:
            raise _ClientError("client authentication required")
        if client_id not in clients:
            raise _ClientError("unknown client")
        expected = clients[client_id]
        if expected and (secret is None or not _same(secret, expected)):
            raise _ClientError("client authentication failed")
        return client_id

    def is_confidential(self, client_id: str) -> bool:
        with self.lock:
            return not self.clients or bool(self.clients.get(client_id))

    def _new_access(
        self,
        subject: str,
        scope: str | None,
        client_id: str | None,
        now: float,
        lifetime: float | None = None,
    ) -> tuple[str, int | None]:
        lifetime = self.access_lifetime if lifetime is None else lifetime
        jti = "at-" + secrets.token_urlsafe(24)
        token, expires_at, expires_in = jti, now + lifetime, None
        if self.expires_in_mode == "jwt":
            # Server-side expiry equals the integer "exp" claim, so a client that trusts the
            # claim never sends a token the server already considers expired.
            exp = math.ceil(now + lifetime)
            claims: dict[str, Any] = {"sub": subject, "exp": exp, "iat": int(now), "jti": jti}
            if scope:
                claims["scope"] = scope
            header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
            signing_input = f"{header}.{_b64url(json.dumps(claims).encode('utf-8'))}"
            digest = hmac.new(self.jwt_key, signing_input.encode("ascii"), hashlib.sha256)
            token, expires_at = f"{signing_input}.{_b64url(digest.digest())}", float(exp)
        elif self.expires_in_mode == "int":
            expires_in = max(1, math.ceil(lifetime))
        self.tokens[token] = _Token("access", subject, scope, client_id, expires_at)
        self.issued_access += 1
        return token, expires_in

    def _new_refresh(
        self, subject: str, scope: str | None, client_id: str | None, now: float
    ) -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        lifetime = self.refresh_lifetime
        expires_at = None if lifetime is None else now + lifetime
        self.tokens[token] = _Token("refresh", subject, scope, client_id, expires_at)
        return token

    def issue(
        self, subject: str, scope: str | None, client_id: str | None, with_refresh: bool
    ) -> _Issued:
        now = time.time()
        with self.lock:
            access, expires_in = self._new_access(subject, scope, client_id, now)
            refresh = self._new_refresh(subject, scope, client_id, now) if with_refresh else None
        return _Issued(subject, client_id, access, expires_in, refresh, scope)

    def refresh(self, token: str, client_id: str | None) -> _Issued:
        now = time.time()
        with self.lock:
            record = self.tokens.get(token)
            if record is None or record.kind != "refresh" or record.revoked:
                raise _GrantError("refresh token is unknown or revoked")
            if not record.live(now):
                raise _GrantError("refresh token expired")
            if record.spent:
                if self.reuse_detection:
                    # RFC 6819 5.2.2.3 / OAuth 2.1: replay of a rotated token means theft.
                    self.counts["reuse_detected"] += 1
                    family = record.subject
                    self._revoke_where(lambda t: t.subject == family)
                raise _GrantError("refresh token was already used")
            if self.omit_refresh_on_refresh:
                new_refresh = None
            elif self.rotate_refresh:
                record.spent = True
                new_refresh = self._new_refresh(record.subject, record.scope, client_id, now)
            else:
                new_refresh = token
            access, expires_in = self._new_access(record.subject, record.scope, client_id, now)
        return _Issued(record.subject, client_id, access, expires_in, new_refresh, record.scope)

    def register_override(self, override: Mapping[str, Any], issued: _Issued) -> None:
        """Make tokens named in a canned response usable, so clients can complete a flow."""
        now = time.time()
        lifetime = override.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = None
        with self.lock:
            lifetime = self.access_lifetime if lifetime is None else float(lifetime)
            access, refresh = override.get("access_token"), override.get("refresh_token")
            if isinstance(access, str) and access:
                self.tokens[access] = _Token(
                    "access", issued.subject, issued.scope, issued.client_id, now + lifetime
                )
            if isinstance(refresh, str) and refresh and refresh not in self.tokens:
                self.tokens[refresh] = _Token(
                    "refresh", issued.subject, issued.scope, issued.client_id, None
                )

    def active(self, token: str | None, kind: str | None = "access") -> _Token | None:
        if not token:
            return None
        with self.lock:
            record = self.tokens.get(token)
            if record is None or record.revoked or record.spent or not record.live(time.time()):
                return None
            return record if kind is None or record.kind == kind else None

    def _revoke_where(self, predicate: Callable[[_Token], bool]) -> None:
        for record in self.tokens.values():
            if predicate(record):
                record.revoked = True

    def revoke_where(self, predicate: Callable[[_Token], bool]) -> None:
        with self.lock:
            self._revoke_where(predicate)

    def take_fault(self) -> _Fault | None:
        with self.lock:
            fault = self.fault
            if fault is None or fault.remaining <= 0:
                return None
            fault.remaining -= 1
            self.counts["faults"] += 1
            return fault


class _Handler(BaseHTTPRequestHandler):
    """Routes requests; keep-alive needs HTTP/1.1 plus an exact Content-Length everywhere."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: request lines can carry ``access_token`` query parameters."""

    @property
    def _state(self) -> _State:
        return self.server.state

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        self._query = split.query
        self._body = b""
        try:
            self._body = self._read_body()
            reply = self._route(split.path)
        except _Abort as abort:
            reply = abort.reply
        except Exception:
            # Deliberately not printed: an exception message could contain a credential.
            self._state.bump("server_error")
            self.close_connection = True
            reply = _json_reply(500, {"error": "server_error"})
        self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, reply: _Reply) -> None:
        bodiless = reply.status in (204, 304) or reply.status < 200
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if not bodiless:
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if not bodiless and self.command != "HEAD":
            self.wfile.write(reply.body)

    def _bad_body(self, status: int = 400) -> _Abort:
        self.close_connection = True  # the stream position is unknown; resync is impossible
        return _Abort(_json_reply(status, {"error": "invalid_request"}))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise self._bad_body() from None
        if size < 0 or size > _MAX_BODY:
            raise self._bad_body(400 if size < 0 else 413)
        data = self.rfile.read(size)
        if len(data) != size:
            raise self._bad_body()
        return data

    def _read_chunked(self) -> bytes:
        """Decode RFC 9112 chunked framing; requests uses it for generator bodies."""
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise self._bad_body() from None
            if size < 0 or not line.endswith(b"\n"):
                raise self._bad_body()
            if size == 0:
                break
            total += size
            if total > _MAX_BODY:
                raise self._bad_body(413)
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(1024) not in (b"\r\n", b"\n"):
                raise self._bad_body()
            chunks.append(chunk)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields are irrelevant here
        return b"".join(chunks)

    def _route(self, path: str) -> _Reply:
        exact: dict[str, Callable[[], _Reply]] = {
            "/oauth/token": self._oauth_token,
            "/oauth/introspect": self._introspect,
            "/oauth/revoke": self._revoke,
            "/json/login": self._json_login,
            "/json/refresh": self._json_refresh,
            "/json/verify": self._json_verify,
            "/oauth/device": self._device_authorization,
            "/oauth/authorize": self._authorize,
            "/device": self._device_page,
            "/.well-known/openid-configuration": lambda: self._discovery("oidc"),
            "/.well-known/oauth-authorization-server": lambda: self._discovery("oauth"),
        }
        if path in exact:
            return exact[path]()
        if path.startswith("/api/"):
            return self._api(path)
        if path.startswith("/public/"):
            return self._public(path)
        return _json_reply(404, {"error": "not_found"})

    # -- helpers shared by the token endpoints ------------------------------------------------

    def _token_preamble(self) -> None:
        """Apply the configured latency and injected outage before any real processing."""
        delay = self._state.token_delay
        if delay > 0:
            time.sleep(delay)
        hold = self._state.hold
        if hold is not None and not hold._pass():
            raise _Abort(_oauth_error(503, "temporarily_unavailable", "held and dropped"))
        fault = self._state.take_fault()
        if fault is not None:
            headers = [("Retry-After", fault.retry_after)] if fault.retry_after else []
            raise _Abort(_Reply(fault.status, fault.body, fault.content_type, headers))

    def _require_post(self) -> None:
        if self.command != "POST":
            reply = _json_reply(405, {"error": "invalid_request"}, ("Allow", "POST"))
            raise _Abort(reply)

    def _form(self) -> dict[str, str] | None:
        """Parse the form body; None if undecodable or a parameter repeats (RFC 6749 3.1)."""
        try:
            pairs = parse_qsl(self._body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return None
        form = dict(pairs)
        return form if len(form) == len(pairs) else None

    def _basic_credentials(self) -> tuple[str, str] | None:
        """Decode RFC 6749 2.3.1 Basic credentials (form-urlencoded before base64)."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _ClientError("malformed Basic credentials") from None
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise _ClientError("malformed Basic credentials")
        return unquote_plus(user), unquote_plus(secret)

    def _client(self, form: Mapping[str, str], optional: bool = False) -> str | None:
        try:
            basic = self._basic_credentials()
            if optional and basic is None and "client_id" not in form:
                return None
            return self._state.authenticate_client(
                basic, form.get("client_id"), form.get("client_secret")
            )
        except _ClientError as exc:
            self._state.bump("invalid_client")
            reply = _oauth_error(401, "invalid_client", str(exc))
            challenge = 'Basic realm="token", error="invalid_client"'
            reply.headers.append(("WWW-Authenticate", challenge))
            raise _Abort(reply) from None

    def _json_object(self) -> dict[str, Any]:
        try:
            data = json.loads(self._body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise _Abort(_json_reply(400, {"code": 40001, "message": "malformed JSON body"}))
        return data

    # -- OAuth2 endpoints -----------------------------------------------------------------------

    def _oauth_token(self) -> _Reply:
        st = self._state
        form = self._form()
        counted = (
            form if form is not None else dict(parse_qsl(self._body.decode("utf-8", "replace")))
        )
        grant = counted.get("grant_type", "")
        st.bump("token", f"token:{grant if grant in _GRANTS else 'other'}")
        self._token_preamble()
        self._require_post()
        if form is None:
            return _oauth_error(400, "invalid_request", "malformed or repeated parameters")
        client_id = self._client(form)
        try:
            if grant == "password":
                username, password = form.get("username"), form.get("password")
                if not username or password is None:
                    return _oauth_error(400, "invalid_request", "username and password required")
                if not st.check_password(username, password):
                    raise _GrantError("invalid username or password")
                issued = st.issue(username, form.get("scope") or None, client_id, True)
            elif grant == "client_credentials":
                if client_id is None or not st.is_confidential(client_id):
                    return _oauth_error(400, "unauthorized_client", "confidential client required")
                issued = st.issue(client_id, form.get("scope") or None, client_id, False)
            elif grant == "refresh_token":
                if not form.get("refresh_token"):
                    return _oauth_error(400, "invalid_request", "refresh_token required")
                issued = st.refresh(form["refresh_token"], client_id)
            elif grant == _DEVICE_GRANT:
                return self._device_poll(form, client_id)
            elif grant == "authorization_code":
                issued = self._code_exchange(form, client_id)
            elif not grant:
                return _oauth_error(400, "invalid_request", "grant_type required")
            else:
                return _oauth_error(400, "unsupported_grant_type", "grant type not supported")
        except _GrantError as exc:
            st.bump("invalid_grant")
            return _oauth_error(400, "invalid_grant", str(exc))
        return self._token_success(issued)

    def _token_success(self, issued: _Issued) -> _Reply:
        no_store = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        override = self._state.token_response_override
        if isinstance(override, bytes):
            return _Reply(200, override, headers=no_store)
        if override is not None:
            self._state.register_override(override, issued)
            return _json_reply(200, override, *no_store)
        payload: dict[str, Any] = {"access_token": issued.access_token, "token_type": "Bearer"}
        if issued.expires_in is not None:
            payload["expires_in"] = issued.expires_in
        if issued.refresh_token is not None:
            payload["refresh_token"] = issued.refresh_token
        if issued.scope:
            payload["scope"] = issued.scope
        return _json_reply(200, payload, *no_store)

    def _introspect(self) -> _Reply:
        self._state.bump("introspect")
        self._require_post()
        form = self._form()
        if not form or not form.get("token"):
            return _oauth_error(400, "invalid_request", "token required")
        self._client(form)
        record = self._state.active(form["token"], kind=None)
        if record is None:
            return _json_reply(200, {"active": False})
        payload: dict[str, Any] = {"active": True, "sub": record.subject}
        if record.expires_at is not None:
            payload["exp"] = math.ceil(record.expires_at)
        if record.scope:
            payload["scope"] = record.scope
        if record.client_id:
            payload["client_id"] = record.client_id
        return _json_reply(200, payload)

    def _revoke(self) -> _Reply:
        self._state.bump("revoke")
        self._require_post()
        form = self._form()
        if not form or not form.get("token"):
            return _oauth_error(400, "invalid_request", "token required")
        self._client(form, optional=True)
        token = form["token"]
        with self._state.lock:
            record = self._state.tokens.get(token)
            if record is not None:
                record.revoked = True
        # RFC 7009 2.2: unknown tokens are not an error; the answer has no body (as DOT's).
        return _Reply(200, b"", None)

    # -- issue 8: device code, authorization code + PKCE, discovery ------------------------------

    def _device_authorization(self) -> _Reply:
        st = self._state
        st.bump("device_authorization")
        self._token_preamble()
        self._require_post()
        form = self._form()
        if form is None:
            return _oauth_error(400, "invalid_request", "malformed or repeated parameters")
        client_id = self._client(form)
        device_code = "dc-" + secrets.token_urlsafe(24)
        letters = "BCDFGHJKLMNPQRSTVWXZ"
        user_code = "".join(secrets.choice(letters) for _ in range(8))
        user_code = f"{user_code[:4]}-{user_code[4:]}"
        with st.lock:
            expires_in, interval = st.device_expires_in, st.device_interval
            st.devices[device_code] = _Device(
                user_code, client_id, form.get("scope") or None, time.time() + expires_in
            )
        base = f"http://{self.headers.get('Host', '127.0.0.1')}/device"
        payload = {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": base,
            "verification_uri_complete": f"{base}?user_code={user_code}",
            "expires_in": expires_in,
            "interval": interval,
        }
        return _json_reply(200, payload, ("Cache-Control", "no-store"))

    def _device_poll(self, form: Mapping[str, str], client_id: str | None) -> _Reply:
        st = self._state
        with st.lock:
            device = st.devices.get(form.get("device_code", ""))
            if device is None or device.status == "used" or device.client_id != client_id:
                st.counts["invalid_grant"] += 1
                return _oauth_error(400, "invalid_grant", "unknown device code")
            device.polls.append(time.monotonic())
            if time.time() >= device.expires_at:
                return _oauth_error(400, "expired_token", "the device code expired")
            if device.status == "denied":
                return _oauth_error(400, "access_denied", "the user denied the request")
            if st.device_slow_down > 0:
                st.device_slow_down -= 1
                return _oauth_error(400, "slow_down", "polling too fast")
            if device.status == "pending":
                return _oauth_error(400, "authorization_pending", "waiting for the user")
            device.status = "used"
            subject, scope = device.subject, device.scope
        return self._token_success(st.issue(subject, scope, client_id, True))

    def _device_page(self) -> _Reply:
        """The verification page (RFC 8628 §3.3) for a person at a real browser: GET shows the
        code with Approve and Deny buttons, POST records the decision. No login is asked: the
        server's ``authorize_subject`` approves."""
        st = self._state
        if self.command == "POST":
            form = self._form() or {}
            code, action = form.get("user_code", ""), form.get("action")
            with st.lock:
                found = [
                    d for d in st.devices.values() if d.user_code == code and d.status == "pending"
                ]
                if found and action in ("approve", "deny"):
                    found[0].status = "approved" if action == "approve" else "denied"
                    found[0].subject = st.authorize_subject
                    text = "Approved" if action == "approve" else "Denied"
                else:
                    text = "No pending login with that code"
            return _Reply(200, f"<!doctype html><p>{text}.</p>".encode(), "text/html")
        code = parse_qs(self._query).get("user_code", [""])[0]
        safe = "".join(c for c in code if c.isalnum() or c == "-")[:20]
        page = (
            "<!doctype html><title>Device login</title><form method=post>"
            f"<label>Code <input name=user_code value='{safe}'></label>"
            "<button name=action value=approve>Approve</button>"
            "<button name=action value=deny>Deny</button></form>"
        )
        return _Reply(200, page.encode(), "text/html")

    def _authorize(self) -> _Reply:
        """RFC 6749 §4.1.1 with PKCE required (S256 only) and loopback redirects (RFC 8252):
        decides at once (``authorize_mode``) and redirects back with the code or the refusal."""
        st = self._state
        st.bump("authorize")
        params = dict(parse_qsl(self._query, keep_blank_values=True))
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        with st.lock:
            known = not st.clients or client_id in st.clients
            mode, subject = st.authorize_mode, st.authorize_subject
        if not known or target.scheme != "http" or target.hostname not in _LOOPBACK_HOSTS:
            # §4.1.2.1: never redirect to an unverified URI.
            return _json_reply(
                400, {"error": "invalid_request", "error_description": "bad client or redirect_uri"}
            )
        state = params.get("state")
        sep = "&" if target.query else "?"

        def back(**values: str) -> _Reply:
            if state is not None:
                values["state"] = state
            return _Reply(302, b"", None, [("Location", redirect_uri + sep + urlencode(values))])

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256" or len(challenge) != 43:
            return back(error="invalid_request", error_description="PKCE S256 required")
        if mode == "deny":
            return back(error="access_denied", error_description="the user refused")
        code = "ac-" + secrets.token_urlsafe(24)
        with st.lock:
            st.codes[code] = _Code(
                client_id,
                redirect_uri,
                challenge,
                subject,
                params.get("scope") or None,
                time.time() + 60,
            )
        return back(code=code)

    def _code_exchange(self, form: Mapping[str, str], client_id: str | None) -> _Issued:
        st = self._state
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        with st.lock:
            record = st.codes.get(form.get("code", ""))
            if record is None or record.used or time.time() >= record.expires_at:
                raise _GrantError("unknown, used or expired authorization code")
            record.used = True  # single use, even when the rest is wrong (RFC 6749 §4.1.2)
            if record.client_id != (client_id or form.get("client_id")):
                raise _GrantError("the code was issued to another client")
            if record.redirect_uri != form.get("redirect_uri"):
                raise _GrantError("redirect_uri does not match the authorization request")
            if not _same(_b64url(digest), record.challenge):
                raise _GrantError("PKCE verification failed")
        return st.issue(record.subject, record.scope, record.client_id, True)

    def _discovery(self, kind: str) -> _Reply:
        st = self._state
        st.bump("discovery")
        with st.lock:
            which, override = st.discovery, st.discovery_override
        if which not in ("both", kind):
            return _json_reply(404, {"error": "not_found"})
        base = f"http://{self.headers.get('Host', '127.0.0.1')}"
        doc: dict[str, Any] = {
            "issuer": base,
            "token_endpoint": base + "/oauth/token",
            "authorization_endpoint": base + "/oauth/authorize",
            "device_authorization_endpoint": base + "/oauth/device",
            "revocation_endpoint": base + "/oauth/revoke",
            "introspection_endpoint": base + "/oauth/introspect",
            "grant_types_supported": sorted(_GRANTS),
            "code_challenge_methods_supported": ["S256"],
        }
        if override is not None:
            doc.update(override)
        return _json_reply(200, {k: v for k, v in doc.items() if v is not None})

    # -- custom JSON login API ------------------------------------------------------------------

    def _json_tokens(self, issued: _Issued) -> _Reply:
        data: dict[str, Any] = {"token": issued.access_token}
        if issued.refresh_token is not None:
            data["refresh"] = issued.refresh_token
        if issued.expires_in is not None:
            data["expires"] = issued.expires_in
        return _json_reply(200, {"code": 0, "data": data}, ("Cache-Control", "no-store"))

    def _json_login(self) -> _Reply:
        self._state.bump("json:login")
        self._token_preamble()
        self._require_post()
        body = self._json_object()
        account, secret = body.get("account"), body.get("secret")
        if not (
            isinstance(account, str)
            and isinstance(secret, str)
            and self._state.check_password(account, secret)
        ):
            self._state.bump("json:rejected")
            return _json_reply(401, {"code": 40101, "message": "bad account or secret"})
        return self._json_tokens(self._state.issue(account, None, None, True))

    def _json_refresh(self) -> _Reply:
        self._state.bump("json:refresh")
        self._token_preamble()
        self._require_post()
        token = self._json_object().get("refresh")
        try:
            if not isinstance(token, str):
                raise _GrantError("missing refresh token")
            return self._json_tokens(self._state.refresh(token, None))
        except _GrantError:
            self._state.bump("json:rejected")
            return _json_reply(401, {"code": 40102, "message": "refresh token invalid"})

    def _json_verify(self) -> _Reply:
        self._state.bump("json:verify")
        self._require_post()
        token = self._json_object().get("token")
        valid = isinstance(token, str) and self._state.active(token) is not None
        return _json_reply(200, {"isValid": valid})

    # -- resources ------------------------------------------------------------------------------

    def _presented_token(self) -> str | None:
        """Find the token wherever real-world APIs expect it, in a fixed priority order."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                user = ""
            if user.partition(":")[0]:
                return user.partition(":")[0]
        if self.headers.get("X-Auth-Token", "").strip():
            return self.headers["X-Auth-Token"].strip()
        values = parse_qs(self._query).get("access_token")
        return values[0] if values else None

    def _received(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return {
            "headers": headers,
            "query": self._query,
            "body_b64": base64.b64encode(self._body).decode("ascii"),
        }

    def _redirect(self) -> _Reply:
        params = parse_qs(self._query, keep_blank_values=True)
        target, code = params.get("to", [""])[0], params.get("code", ["302"])[0]
        if not target or not code.isdigit() or int(code) not in _REDIRECT_CODES:
            return _json_reply(400, {"error": "bad redirect parameters"})
        return _Reply(int(code), headers=[("Location", target)])

    def _api(self, path: str) -> _Reply:
        st = self._state
        st.bump("api")
        token = self._presented_token()
        record = st.active(token)
        if path == "/api/body-error":
            if record is None:
                st.bump("api:rejected", "api:body_error")
                return _json_reply(200, {"code": 401001, "message": "token expired"})
            st.bump("api:ok")
            return _json_reply(200, {"code": 0, "ok": True})
        if record is None or path == "/api/always-reject":
            st.bump("api:rejected")
            # RFC 6750 3.1: no error code when the request carried no token at all.
            challenge = 'Bearer realm="api"' + ("" if token is None else ', error="invalid_token"')
            return _json_reply(
                st.reject_status, {"error": "invalid_token"}, ("WWW-Authenticate", challenge)
            )
        if path == "/api/insufficient-scope":
            st.bump("api:insufficient_scope")
            challenge = 'Bearer error="insufficient_scope", scope="admin"'
            return _json_reply(
                403, {"error": "insufficient_scope"}, ("WWW-Authenticate", challenge)
            )
        if path == "/api/data":
            reply = _json_reply(200, {"ok": True, "user": record.subject, "path": path})
        elif path == "/api/echo":
            echo = {"method": self.command, "content_type": self.headers.get("Content-Type")}
            reply = _json_reply(200, {**echo, **self._received()})
        elif path == "/api/set-cookie":
            reply = _json_reply(200, {"ok": True}, ("Set-Cookie", "session=abc; Path=/"))
        elif path == "/api/redirect":
            reply = self._redirect()
        elif path == "/api/error":
            reply = self._api_error()
        else:
            return _json_reply(404, {"error": "not_found"})
        if reply.status < 400:
            st.bump("api:ok")
        return reply

    def _api_error(self) -> _Reply:
        """A seed-style API failure: ``/api/error?status=400&code=1005&message=...`` answers
        ``{"error_code": 1005, "msg": "..."}``; ``shape=nested`` puts them in ``{"error":
        {"code", "message"}}``, ``shape=text`` answers plain text; ``echo=1`` plays a careless
        server that quotes the presented token in its message."""
        params = parse_qs(self._query, keep_blank_values=True)
        status = params.get("status", ["400"])[0]
        if not status.isdigit() or not 200 <= int(status) <= 599:
            return _json_reply(400, {"error": "status must be 200-599"})
        code, message = params.get("code", [None])[0], params.get("message", [None])[0]
        if params.get("echo"):
            message = f"token {self._presented_token()} is not valid for this call"
        # A number stays a JSON number (negative ones too, up to the 4,300 digits json can
        # write); anything else ("²", "E01") is a string code.
        numeric = code is not None and code.lstrip("-").isascii() and code.lstrip("-").isdigit()
        value: int | str | None = code
        if numeric and code is not None and code.count("-") <= 1 and len(code) <= 4300:
            value = int(code)
        shape = params.get("shape", ["flat"])[0]
        if shape == "text":
            return _Reply(int(status), f"error {code}: {message}".encode(), "text/plain")
        if shape == "nested":
            return _json_reply(int(status), {"error": {"code": value, "message": message}})
        return _json_reply(int(status), {"error_code": value, "msg": message})

    def _public(self, path: str) -> _Reply:
        if path == "/public/headers":
            return _json_reply(200, {"method": self.command, **self._received()})
        if path == "/public/redirect":
            return self._redirect()
        if path == "/public/status":
            code = parse_qs(self._query).get("code", [""])[0]
            if not code.isdigit() or not 200 <= int(code) <= 599:
                return _json_reply(400, {"error": "code must be 200-599"})
            return _Reply(int(code))
        return _json_reply(404, {"error": "not_found"})


class _Server(ThreadingHTTPServer):
    """Tracks live connections so tests can detect leaks and ``stop()`` can cut keep-alives."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of 16 new connections overflowed it and the
    # kernel dropped SYNs, a one-second stall that looked like a slow request (issue 10)
    request_queue_size = 128

    def __init__(self, state: _State, port: int = 0) -> None:
        self.state = state
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self.state.lock:
                self.state.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self.state.lock:
                self.state.connections.discard(cast(socket.socket, request))

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Quiet: clients hanging up mid-response is routine in tests, and tracebacks leak."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            sys.stderr.write(f"TokenServer: unhandled {type(exc).__name__}\n")

    def drop_connections(self) -> None:
        with self.state.lock:
            live = list(self.state.connections)
        for conn in live:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)


class _Setting(Generic[_T]):
    """Forwards a knob to the shared state so running handler threads see changes at once."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Setting[_T]: ...
    @overload
    def __get__(self, obj: TokenServer, objtype: type | None = None) -> _T: ...
    def __get__(self, obj: TokenServer | None, objtype: type | None = None) -> _T | _Setting[_T]:
        if obj is None:
            return self
        with obj._state.lock:
            return cast(_T, getattr(obj._state, self._name))

    def __set__(self, obj: TokenServer, value: _T) -> None:
        with obj._state.lock:
            setattr(obj._state, self._name, value)


class _Endpoint:
    """``srv.<name>_url``: the base URL plus a fixed path, typed as ``str`` for callers."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __get__(self, obj: TokenServer | None, objtype: type | None = None) -> str:
        return self._path if obj is None else obj.url + self._path


class TokenServer:
    """A real OAuth2 / JSON-login / resource server on 127.0.0.1 for tests and demos.

    All constructor options are also live attributes: assigning ``srv.reject_status = 403``
    mid-test affects the very next request.
    """

    access_lifetime = _Setting[float]()
    refresh_lifetime = _Setting[float | None]()
    rotate_refresh = _Setting[bool]()
    omit_refresh_on_refresh = _Setting[bool]()
    reuse_detection = _Setting[bool]()
    reject_status = _Setting[int]()
    expires_in_mode = _Setting[ExpiresInMode]()
    client_auth = _Setting[ClientAuth]()
    token_delay = _Setting[float]()
    token_response_override = _Setting[TokenOverride]()
    #: Issue 8. Device flow: the ``interval`` and ``expires_in`` it hands out, and how many
    #: polls to answer ``slow_down``. Authorization: "approve" or "deny" every request at once.
    #: Discovery: which well-known documents exist, and fields to change in them.
    device_interval = _Setting[int]()
    device_expires_in = _Setting[int]()
    device_slow_down = _Setting[int]()
    authorize_mode = _Setting[Literal["approve", "deny"]]()
    authorize_subject = _Setting[str]()
    discovery = _Setting[Literal["both", "oidc", "oauth", "none"]]()
    discovery_override = _Setting[dict[str, Any] | None]()

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        clients: Mapping[str, str | None] | None = None,
        *,
        access_lifetime: float = 3600.0,
        refresh_lifetime: float | None = None,
        rotate_refresh: bool = True,
        omit_refresh_on_refresh: bool = False,
        reuse_detection: bool = False,
        reject_status: int = 401,
        expires_in_mode: ExpiresInMode = "int",
        client_auth: ClientAuth = "basic_or_body",
        port: int = 0,
    ) -> None:
        if expires_in_mode not in ("int", "omit", "jwt"):
            raise ValueError(f"unknown expires_in_mode {expires_in_mode!r}")
        if client_auth not in ("basic_or_body", "basic", "body"):
            raise ValueError(f"unknown client_auth {client_auth!r}")
        self._state = _State(users or {}, clients or {})
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.rotate_refresh = rotate_refresh
        self.omit_refresh_on_refresh = omit_refresh_on_refresh
        self.reuse_detection = reuse_detection
        self.reject_status = reject_status
        self.expires_in_mode = expires_in_mode
        self.client_auth = client_auth
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._wanted_port = port

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> TokenServer:
        with self._state.lock:
            if self._httpd is not None:
                return self
            httpd = self._httpd = _Server(self._state, self._wanted_port)
            self._port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"TokenServer-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections; safe to call repeatedly."""
        with self._state.lock:  # released before shutdown(): the accept loop needs the lock
            httpd, thread, self._httpd, self._thread = self._httpd, self._thread, None, None
            hold, self._state.hold = self._state.hold, None
        if hold is not None:
            hold.drop()
        if httpd is None:
            return
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses (still valid after stop(), which is handy for connection-refused tests) ----

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("TokenServer has not been started")
        return f"http://127.0.0.1:{self._port}"

    token_url = _Endpoint("/oauth/token")
    introspect_url = _Endpoint("/oauth/introspect")
    revoke_url = _Endpoint("/oauth/revoke")
    login_url = _Endpoint("/json/login")
    json_refresh_url = _Endpoint("/json/refresh")
    verify_url = _Endpoint("/json/verify")
    device_authorization_url = _Endpoint("/oauth/device")
    authorization_url = _Endpoint("/oauth/authorize")
    resource_url = _Endpoint("/api/data")
    echo_url = _Endpoint("/api/echo")

    # -- observation --------------------------------------------------------------------------

    @property
    def counts(self) -> Counter[str]:
        """A snapshot copy; a Counter so that keys never seen read as 0."""
        with self._state.lock:
            return Counter(self._state.counts)

    def reset_counts(self) -> None:
        with self._state.lock:
            self._state.counts = Counter(dict.fromkeys(_COUNTER_KEYS, 0))

    @property
    def open_connections(self) -> int:
        with self._state.lock:
            return len(self._state.connections)

    def wait_for_connections(self, at_most: int = 0, timeout: float = 2.0) -> bool:
        """Poll until ``open_connections <= at_most``; server-side close lags the client's."""
        deadline = time.monotonic() + timeout
        while self.open_connections > at_most:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def issued_access_tokens(self) -> int:
        with self._state.lock:
            return self._state.issued_access

    # -- server-side events -------------------------------------------------------------------

    def revoke_access_tokens(self) -> None:
        self._state.revoke_where(lambda t: t.kind == "access")

    def revoke_all(self) -> None:
        self._state.revoke_where(lambda t: True)

    def revoke(self, token: str) -> None:
        with self._state.lock:
            if token in self._state.tokens:
                self._state.tokens[token].revoked = True

    def expire_access_tokens(self) -> None:
        """Expire access tokens now; JWT ``exp`` claims already handed out cannot change."""
        now = time.time()
        with self._state.lock:
            for record in self._state.tokens.values():
                if record.kind == "access":
                    record.expires_at = min(record.expires_at or now, now - 0.001)

    @property
    def issuer(self) -> str:
        """The issuer its discovery documents name (both well-knowns are served)."""
        return self.url

    def _device(self, user_code: str | None) -> _Device:
        pending = [d for d in self._state.devices.values() if d.status == "pending"]
        chosen = [d for d in pending if user_code is None or d.user_code == user_code]
        if not chosen:
            raise LookupError(f"no pending device login with user code {user_code!r}")
        return chosen[-1]

    def approve_device(self, user_code: str | None = None, subject: str = "alice") -> None:
        """The person approves the device login (the newest pending one, or ``user_code``)."""
        with self._state.lock:
            device = self._device(user_code)
            device.status, device.subject = "approved", subject

    def deny_device(self, user_code: str | None = None) -> None:
        """The person refuses the device login: its next poll answers ``access_denied``."""
        with self._state.lock:
            self._device(user_code).status = "denied"

    def device_polls(self) -> list[list[float]]:
        """The ``time.monotonic()`` of every poll, per device authorization, oldest first."""
        with self._state.lock:
            return [list(d.polls) for d in self._state.devices.values()]

    def set_password(self, username: str, password: str) -> None:
        with self._state.lock:
            self._state.users[username] = password

    def hold_token_requests(self, limit: float = 60.0) -> Hold:
        """From now on every token-endpoint request waits at the door until the returned
        ``Hold`` is released (or dropped); ``release_token_requests()`` stops holding new ones."""
        hold = Hold(limit)
        with self._state.lock:
            self._state.hold = hold
        return hold

    def release_token_requests(self) -> None:
        """Stop holding new token requests and let the held ones through."""
        with self._state.lock:
            hold, self._state.hold = self._state.hold, None
        if hold is not None:
            hold.release()

    def fail_token_requests(
        self,
        count: int,
        status: int = 503,
        retry_after: str | None = None,
        body: bytes = b'{"error":"temporarily_unavailable"}',
        content_type: str = "application/json",
    ) -> None:
        """Replace any pending fault: the next ``count`` token-endpoint requests get this."""
        with self._state.lock:
            self._state.fault = _Fault(count, status, retry_after, body, content_type)


# -- ``python -m requests_silentauth.testing``: a server to try the CLI against -----------------

DEMO_USER, DEMO_PASSWORD = "alice", "demo-password"


def main(argv: list[str] | None = None) -> int:
    """Run a server in the foreground until Ctrl-C, printing its URLs and the demo account
    (issue 9): flushed at once, so a pipe (``| tee``) sees them too."""
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m requests_silentauth.testing",
        description="Run the embedded token server on 127.0.0.1 until Ctrl-C, to try "
        "silentauth and your scripts against it.",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    p.add_argument(
        "--lifetime", type=float, default=60.0, help="access token lifetime in seconds (60)"
    )
    args = p.parse_args(argv)
    server = TokenServer({DEMO_USER: DEMO_PASSWORD}, access_lifetime=args.lifetime, port=args.port)
    try:
        server.start()
    except OSError as exc:
        print(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    lines = [
        f"requests-silentauth test server on {server.url} (Ctrl-C stops it)",
        f"  OAuth2 token endpoint:  {server.token_url}",
        f"  JSON login endpoint:    {server.login_url}",
        f"  protected API:          {server.resource_url}",
        f"  demo account:           user {DEMO_USER}, password {DEMO_PASSWORD} (any client id)",
        f"  access tokens live {args.lifetime:g}s; nothing is kept after it stops",
        "try, in another terminal:",
        f"  silentauth login --profile try --url {server.token_url} --username {DEMO_USER}",
        "  (no keyring on this machine? add --store file:silentauth-try.json to login)",
        "  silentauth status --profile try",
        f'  curl -H "Authorization: Bearer $(silentauth token --profile try)" '
        f"{server.resource_url}",
        "  silentauth login --profile dev --issuer "
        f"{server.url} --client-id my-cli --device --store file:silentauth-dev.json",
        f"  (a device login: approve its code at {server.url}/device)",
    ]
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (kill, a container stopping) ends it as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, stop)
    try:
        print("\n".join(lines), flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("\nstopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
