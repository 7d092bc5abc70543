"""``SilentAuth``: the ``session.auth`` entry point. Assembles the pieces and hands each request
to the shared ``Flow``; the resend goes through the connection that answered, like
``HTTPDigestAuth.handle_401``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests
from requests import PreparedRequest, Response

from . import _profiles
from ._endpoint import TokenClient
from ._flow import Exchange, Flow, Policy, user_timeout
from ._grants import CallableLogin, Credentials, Grant
from ._manager import TokenManager
from ._origins import OriginSet, origin_of
from ._placement import Bearer, Placement
from ._store import Account, KeyringStore, Store
from ._token import Token

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
    ) -> None:
        if not isinstance(grant, Grant):
            if not callable(grant):
                raise TypeError(
                    "grant must be PasswordGrant, ClientCredentials, JsonLogin or a callable"
                )
            if origins is None:
                raise ValueError("with a login callable, say where the token may go: origins=[...]")
            # The callable has no URL: the origins it serves name its account in the store, so
            # two scripts with different callables never share (or swap) tokens.
            where = ",".join(str(o) for o in OriginSet.parse(origins))
            grant = CallableLogin(grant, endpoint=f"callable:{where}")
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
        self.username = username
        self.token_timeout = token_timeout
        account_user = username or getattr(grant, "client_id", None) or ""
        self.store: Store = store if store is not None else KeyringStore()
        self._client = TokenClient(token_session, allow_insecure_http=allow_insecure_http)
        self._manager = TokenManager(
            grant,
            account=Account(grant.endpoint, account_user),
            password=password,
            store=self.store,
            client=self._client,
            leeway=leeway,
            on_token=on_token,
            prompt=prompt,
            login_backoff=login_backoff,
        )
        self.policy = Policy(
            origins=origin_set,
            placement=placement if placement is not None else Bearer(),
            reauth_on=statuses,
            is_rejected=is_rejected,
            allow_insecure_http=allow_insecure_http,
        )
        self._flow = Flow(self._manager, self.policy)

    @classmethod
    def from_profile(cls, name: str, **overrides: Any) -> SilentAuth:
        """The auth saved by ``silentauth login --profile NAME`` (settings only; secrets come
        from the store). Keyword arguments override or add SilentAuth options."""
        grant, kwargs = _profiles.arguments(_profiles.load(name), **overrides)
        return cls(grant, **kwargs)

    # -- requests' AuthBase ---------------------------------------------------------------

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        token = self._flow.attach(r, self.token_timeout)
        # One hook per prepared request; requests shares the hooks dict with copies made for
        # redirects, so the same Exchange (and its "resent" flag) follows every hop.
        r.register_hook("response", functools.partial(self._on_response, Exchange(token)))
        return r

    def _on_response(self, exchange: Exchange, r: Response, **kwargs: Any) -> Response:
        connection = r.connection  # the adapter that answered: resend through the same one

        def send(prep: PreparedRequest) -> Response:
            response: Response = connection.send(prep, **kwargs)
            return response

        return self._flow.handle(r, exchange, send, user_timeout(kwargs, self.token_timeout))

    # -- public helpers -------------------------------------------------------------------

    @property
    def account(self) -> Account:
        """The account the tokens are kept under in the store."""
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
        """A valid token now, renewing as needed (what ``silentauth token`` prints)."""
        return self._manager.for_request(self.token_timeout)

    def login(self, password: str | None = None, *, remember: bool = True) -> Token:
        """Log in now. A ``password`` given here is verified by the login and, with
        ``remember``, stored only after the server accepted it."""
        return self._manager.login(password, self.token_timeout, remember=remember)

    def logout(self, *, forget_password: bool = False) -> None:
        """Forget the tokens, here and in the store; the stored password too if asked."""
        self._manager.forget(forget_password=forget_password)

    def close(self) -> None:
        """Close the session used for token requests."""
        self._client.close()

    def __repr__(self) -> str:
        return (
            f"SilentAuth({self.grant!r}, username={self.username!r}, store={self.store!r}, "
            f"origins={self.policy.origins!r}, placement={self.policy.placement!r})"
        )
