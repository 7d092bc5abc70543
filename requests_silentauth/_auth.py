"""``SilentAuth``: the ``session.auth`` entry point. Assembles the pieces and hands each request
to the shared ``Flow``; the resend goes through the connection that answered, like
``HTTPDigestAuth.handle_401``."""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import requests
from requests import PreparedRequest, Response

from ._endpoint import Timeout, TokenClient, token_request_active
from ._flow import Policy, attach, drive, respond
from ._grants import CallableLogin, Credentials, Grant, callable_identity
from ._hints import login_command, profile_login_command
from ._manager import TokenManager
from ._origins import OriginSet, origin_of
from ._placement import Bearer, Placement
from ._store import Account, KeyringStore, Store
from ._token import Token
from ._vault import Vault

if TYPE_CHECKING:
    from ._apierrors import ApiErrors

__all__ = ["SilentAuth"]

LoginCallable = Callable[[Credentials], Token | str | Mapping[str, Any]]


class SilentAuth(requests.auth.AuthBase):
    """Attach a token, renew it before it expires, and recover once when the server rejects it.

    ``session.auth = SilentAuth(PasswordGrant(token_url), username="alice")``
    """

    def __init__(
        self,
        grant: Grant | LoginCallable,
        username: str | None = None,
        password: str | None = None,
        *,
        store: Store | None = None,
        origins: Iterable[str] | None = None,
        placement: Placement | None = None,
        reauth_on: Iterable[int] = (401,),
        is_rejected: Callable[[Response], bool] | None = None,
        leeway: float = 30.0,
        on_token: Callable[[Token], object] | None = None,
        token_timeout: float = 10.0,
        allow_insecure_http: bool = False,
        prompt: bool | None = None,
        token_session: requests.Session | None = None,
        login_backoff: float = 60.0,
        errors: ApiErrors | Mapping[Any, str] | None = None,
        renew_ahead: bool = True,
    ) -> None:
        if not isinstance(grant, Grant):
            if not callable(grant):
                raise TypeError(
                    "grant must be PasswordGrant, ClientCredentials, JsonLogin or a callable"
                )
            if origins is None:
                raise ValueError("with a login callable, say where the token may go: origins=[...]")
            # The callable has no URL: the function itself and the origins it serves name its
            # account in the store, so two scripts with different callables (an admin and a
            # read-only login for one API) never share (or swap) tokens.
            where = ",".join(str(o) for o in OriginSet.parse(origins))
            grant = CallableLogin(grant, endpoint=f"callable:{callable_identity(grant)}:{where}")
        if grant.needs_username and not username:
            raise ValueError(f"{type(grant).__name__} needs a username")
        if leeway < 0 or token_timeout <= 0 or login_backoff < 0:
            raise ValueError("leeway and login_backoff must be >= 0, token_timeout > 0")
        statuses = frozenset(int(s) for s in reauth_on)
        if any(s < 400 or s > 599 for s in statuses):
            raise ValueError("reauth_on must hold 4xx/5xx status codes, such as 401 or 403")
        if origins is None:
            origin_set = OriginSet([origin_of(grant.endpoint)])
        else:
            origin_set = OriginSet.parse(origins)
        self.grant = grant
        #: Raises ApiError for 4xx/5xx answers after the token work (issue 12), or None.
        self.errors = _api_errors(errors)
        self.username = username
        self.token_timeout = token_timeout
        account_user = username or getattr(grant, "client_id", None) or ""
        self.store: Store = store if store is not None else KeyringStore()
        self._client = TokenClient(token_session, allow_insecure_http=allow_insecure_http)
        self._manager = TokenManager(
            grant,
            vault=Vault(
                self.store,
                Account(
                    grant.endpoint,
                    account_user,
                    client_id=getattr(grant, "client_id", None),
                    scope=getattr(grant, "scope", None),
                ),
            ),
            password=password,
            client=self._client,
            leeway=leeway,
            on_token=on_token,
            prompt=prompt,
            login_backoff=login_backoff,
            token_timeout=token_timeout,
            background=renew_ahead,
        )
        self._manager.vault.login_command = login_command(
            grant, username, self.store, allow_insecure_http=allow_insecure_http
        )
        self.policy = Policy(
            origins=origin_set,
            placement=placement if placement is not None else Bearer(),
            reauth_on=statuses,
            is_rejected=is_rejected,
            allow_insecure_http=allow_insecure_http,
        )

    @classmethod
    def from_profile(cls, name: str, **overrides: Any) -> SilentAuth:
        """The auth saved by ``silentauth login --profile NAME`` (settings only; secrets come
        from the store). Keyword arguments override or add SilentAuth options."""
        from . import _profiles

        grant, kwargs = _profiles.arguments(_profiles.load(name), **overrides)
        auth = cls(grant, **kwargs)
        auth._manager.vault.login_command = profile_login_command(name)
        return auth

    # -- requests' AuthBase: a thin driver of the flow -------------------------------------

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        if token_request_active():
            # Token work of our own (a token POST, a login callable) through the application's
            # session: it is how a token is made, so it never waits for one.
            return r
        timeout = _request_timeout(self.token_timeout)
        hop = _Hop(drive(attach(self.policy, r), self._manager, _no_send, timeout))
        # One hook per prepared request; requests shares the hooks dict with the copies it
        # makes for redirects, so the same _Hop follows every hop of the chain.
        r.register_hook("response", functools.partial(self._on_response, hop))
        if self.errors is not None:
            # After ours, so it sees the answer to a recovered rejection's resend.
            r.register_hook("response", self._api_errors)
        return r

    def _api_errors(self, r: Response, **kwargs: Any) -> None:
        # This API's error table is for this API's answers: another origin the session talks
        # to (or a redirect leads to) has codes of its own, as the adapter's mounted origin is.
        if self.errors is not None and self.policy.origins.match(r.url) is not None:
            stream = bool(kwargs.get("stream", False))
            self.errors.check(r, stream=stream, rejected=self.still_rejected(r))

    def still_rejected(self, r: Response) -> bool:
        """``is_rejected`` says a final answer (a 2xx or 3xx one) is still a rejected token:
        the one resend did not cure it, and it must not pass as a success."""
        return (
            r.status_code < 400
            and self.policy.is_rejected is not None
            and (self.policy.is_rejected(r))
        )

    def _on_response(self, hop: _Hop, r: Response, **kwargs: Any) -> Response:
        connection = r.connection  # the adapter that answered: resend through the same one

        def send(prep: PreparedRequest) -> Response:
            response: Response = connection.send(prep, **kwargs)
            return response

        # A fresh flow (and budget) for each send: requests calls this hook once per hop.
        timeout = user_timeout(kwargs, self.token_timeout)
        outcome = drive(respond(self.policy, r, hop.carried), self._manager, send, timeout)
        hop.carried = outcome.carried
        return outcome.response

    # -- public helpers -------------------------------------------------------------------

    @property
    def account(self) -> Account:
        """Whose tokens these are in the store: (endpoint, user, client id, scope)."""
        return self._manager.account

    @property
    def token(self) -> Token | None:
        """The current token, or None before the first request."""
        return self._manager.token

    def verify(self) -> Token:
        """The start-up check: ask the server whether the current token is valid (JsonLogin's
        verify_url, or RFC 7662 introspection), renew it if not, and return the valid token."""
        return self._manager.verify(self.token_timeout)

    def get_token(self) -> Token:
        """A valid token now, renewing as needed (what ``silentauth token`` prints). It is
        handed away, so a token due for renewal is renewed first (not in the background)."""
        return self._manager.for_request(self.token_timeout, fresh=True)

    def login(self, password: str | None = None, *, remember: bool = True) -> Token:
        """Log in now. A ``password`` given here is verified by the login and, with
        ``remember``, stored only after the server accepted it."""
        return self._manager.login(password, self.token_timeout, remember=remember)

    def logout(self, *, forget_password: bool = False, revoke: bool = False) -> str | None:
        """Forget the tokens, here and in the store; the stored password too if asked. With
        ``revoke`` the refresh and access tokens are first revoked at the server (RFC 7009;
        the grant's ``revocation_url`` or its issuer's metadata) and the outcome is returned:
        ``"revoked"``, ``"no_token"``, ``"unsupported"`` (no revocation endpoint) or
        ``"failed"`` (logged; the local logout happens all the same)."""
        before = None
        if revoke:
            from . import _revocation  # only a logout that revokes needs it (import cost)

            def before() -> _revocation.Outcome:  # once a renewal in flight has landed
                return _revocation.revoke(
                    self.grant, self._client, self._manager, self.token_timeout
                )

        outcome = self._manager.forget(forget_password=forget_password, before=before)
        return outcome  # type: ignore[return-value]  # what ``before`` returned, or None

    def close(self) -> None:
        """Wait for a background renewal in progress (at most ``token_timeout``; its token is
        stored first), then close the session used for token requests. The auth stays usable:
        a later request opens a new session (and renews ahead again when due)."""
        self._manager.close()
        self._client.close()

    def __repr__(self) -> str:
        return (
            f"SilentAuth({self.grant!r}, username={self.username!r}, store={self.store!r}, "
            f"origins={self.policy.origins!r}, placement={self.policy.placement!r})"
        )


class _Hop:
    """What the next send of a redirect chain carries (the redirect guard decides it)."""

    __slots__ = ("carried",)

    def __init__(self, carried: Token | None) -> None:
        self.carried = carried


def _no_send(request: PreparedRequest) -> Response:
    raise AssertionError("attaching a token never sends")  # pragma: no cover


def user_timeout(kwargs: Mapping[str, Any], default: float) -> Timeout:
    """A user's ``timeout=`` wins for token requests made on their request's behalf."""
    timeout = kwargs.get("timeout")
    return default if timeout is None else timeout


_SESSION_REQUEST = requests.Session.request.__code__


def _request_timeout(default: float) -> Timeout:
    """The ``timeout=`` of the ``Session.request`` call preparing this request (issue 7: a
    request's own timeout bounds the token request made for it). requests applies auth while
    preparing, before it passes the timeout on, so it is read from that call's frame; a
    request prepared by hand gets ``token_timeout``."""
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            break
        if frame.f_code is _SESSION_REQUEST:
            timeout = frame.f_locals.get("timeout")
            return default if timeout is None else timeout
        frame = frame.f_back
    return default


def _api_errors(errors: ApiErrors | Mapping[Any, str] | None) -> ApiErrors | None:
    """The ``errors=`` option; ``_apierrors`` is imported only by an auth that uses it."""
    if errors is None:
        return None
    from ._apierrors import ApiErrors

    return ApiErrors.coerce(errors)
