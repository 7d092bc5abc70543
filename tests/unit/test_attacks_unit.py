"""Pure attacks on the core (no sockets). A test here fails on the code it was written against
because of a real defect, unless marked "defence holds"."""

from __future__ import annotations

import pytest

from requests_silentauth._chunking import Chunked
from requests_silentauth._store import Account

ACCOUNT = Account("https://idp.example/token", "alice")


class CountingKV:
    def __init__(self) -> None:
        self.values: dict[tuple[Account, str], str] = {}
        self.calls = 0

    def get(self, account: Account, name: str) -> str | None:
        self.calls += 1
        return self.values.get((account, name))

    def set(self, account: Account, name: str, value: str) -> None:
        self.calls += 1
        self.values[(account, name)] = value

    def delete(self, account: Account, name: str) -> None:
        self.calls += 1
        self.values.pop((account, name), None)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("operation", ["set", "delete"])
def test_a_garbage_parts_index_does_not_cost_hundreds_of_thousands_of_keyring_calls(
    operation: str,
) -> None:
    """A damaged or hostile ``token#gens`` keyring entry (64 generations of 10,000 parts each,
    which ``parse_generations`` accepts) makes the next token write, or a logout, issue
    64 x 9,999 = 639,936 keyring deletes: each is a D-Bus round trip (or a Windows Credential
    Manager call), so the renewal or ``silentauth logout`` hangs for many minutes. Nothing we
    write ever needs more than a handful of parts for a token set; the count should be capped
    to what a value of plausible size needs (or checked against the head that wrote it)."""
    kv = CountingKV()
    garbage = ",".join(f"{i:08x}:10000" for i in range(64))
    kv.values[(ACCOUNT, "token#gens")] = garbage
    chunked = Chunked(kv, 2400)
    if operation == "set":
        chunked.set(ACCOUNT, "token", '{"access_token":"x"}')
    else:
        chunked.delete(ACCOUNT, "token")
    assert kv.calls < 2_000, f"{kv.calls} keyring calls for one {operation} of a small value"


# -- 1. leaks: a token URL with credentials in it ----------------------------------------------


@pytest.mark.timeout(30)
def test_credentials_in_the_token_url_never_reach_a_repr() -> None:
    """A careless user writes the client credentials into the token URL
    (``https://client:secret@idp/token``, a common pattern for Basic client auth). The library
    never sends them (explicit auth wins), yet ``repr(auth)`` (what a debugger, a log of the
    session or an error report shows) prints the URL whole, secret included; so do the keyring
    service name, the FileStore's ``endpoint`` field and ``silentauth status``, which all use
    the raw URL as the account's endpoint."""
    from requests_silentauth import PasswordGrant

    # Fixed by refusing such a URL at once, with a message that does not quote the secret.
    with pytest.raises(ValueError, match="never in the URL") as caught:
        PasswordGrant("https://cli:URL-SECRET-123@idp.example/oauth/token")
    assert "URL-SECRET-123" not in str(caught.value)


@pytest.mark.timeout(30)
def test_a_bad_token_url_error_does_not_quote_its_password() -> None:
    """Behaviour 10 (no secret in an exception message): a token URL with a typo in its port
    is reported with its ``user:password@`` part quoted verbatim."""
    from requests_silentauth import MemoryStore, PasswordGrant, SilentAuth

    with pytest.raises(ValueError) as caught:
        SilentAuth(
            PasswordGrant("https://cli:URL-SECRET-123@idp.example:99999/oauth/token"),
            username="alice",
            store=MemoryStore(),
        )
    assert "URL-SECRET-123" not in str(caught.value)


# -- 1. plain http: the loopback exemption by name -------------------------------------------


@pytest.mark.timeout(30)
def test_plain_http_exemption_is_not_granted_to_a_name_the_resolver_decides() -> None:
    """Behaviour 9: "the plain-http exemption for loopback never sends a secret elsewhere".
    ``is_loopback`` exempts every ``*.localhost`` name by its spelling, but requests resolves
    it with the system resolver, and glibc without nss-myhostname/systemd-resolved sends
    ``idp.localhost`` to DNS (search domains included): whoever answers decides where the
    password goes in clear text. Only literal loopback addresses (and ``localhost`` itself,
    which /etc/hosts pins) are safe to exempt without resolving and checking."""
    from requests_silentauth._origins import origin_of, transport_ok

    assert not transport_ok(origin_of("http://idp.localhost:8080"), allow_insecure=False)


# -- 1. leaks: a keyring backend's error message --------------------------------------------------


@pytest.mark.timeout(30)
def test_a_keyring_backend_error_quoting_the_value_does_not_reach_the_message(
    tmp_path: object,
) -> None:
    """``_install``/``log_in`` say "a custom store's message may quote what it was given: only
    ours are logged whole", but ``KeyringStore`` wraps a keyring *backend's* message (third
    party code, some of which echo what they were asked to store) into its own StoreError
    text, and chains the backend exception as ``__cause__``. The password that
    ``auth.login(remember=True)`` or a prompted login stores then reaches the exception
    message (printed by the CLI), the WARNING log, and ``__cause__`` (behaviour 10)."""
    import keyring
    import keyring.backend

    from requests_silentauth import KeyringStore, StoreError

    class Echoing(keyring.backend.KeyringBackend):
        priority = 0

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise RuntimeError(f"backend refused to store {password!r} for {username}")

        def delete_password(self, service: str, username: str) -> None:
            pass

    previous = keyring.get_keyring()
    keyring.set_keyring(Echoing())  # type: ignore[no-untyped-call]
    try:
        store = KeyringStore(attempts=1, lock_dir=str(tmp_path))
        with pytest.raises(StoreError) as caught:
            store.set(ACCOUNT, "secret", "PASSWORD-XYZ-123")
    finally:
        keyring.set_keyring(previous)
    exc: BaseException | None = caught.value
    chain = []
    while exc is not None:
        chain.append(f"{exc!s} {exc!r}")
        exc = exc.__cause__ or exc.__context__
    assert not any("PASSWORD-XYZ-123" in text for text in chain), chain


# -- 3. lost refresh tokens: a wall clock that steps back --------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason=(
        "known limit: which stored token is newer is decided by wall-clock issued_at; after the"
        " clock steps back a process may refresh with a refresh token another one spent (one "
        "invalid_grant, then a login)"
    ),
)
@pytest.mark.timeout(30)
def test_a_token_another_process_stored_is_used_even_if_the_clock_stepped_back() -> None:
    """``plan`` ignores a stored token whose ``issued_at`` (wall clock) is older than ours. But
    every write happens under the store lock after re-reading the store, so a stored token
    that differs from the one we last saw was written *after* ours and holds the newest
    refresh token, whatever the clocks said. After an NTP step or a VM resume that moves the
    wall clock back, another process's refresh looks "older": we refresh again with our
    refresh token, which that process already spent (rotation): ``invalid_grant``, a fresh
    login, and with reuse detection the whole family revoked (the other process's token
    too)."""
    from requests_silentauth._ladder import Adopt, Refresh, plan
    from requests_silentauth._token import Token

    ours = Token(
        "at-ours", refresh_token="rt-spent-by-other", expires_at=1_100.0, issued_at=1_000.0
    )
    theirs = Token("at-theirs", refresh_token="rt-newest", expires_at=4_000.0, issued_at=400.0)
    step = plan(
        ours=ours,
        saved=ours,
        stored=theirs,
        rejected=None,
        now=1_090.0,
        leeway=30.0,
        reason="token expires soon",
    )
    assert isinstance(step, Adopt | Refresh)
    used = step.token if isinstance(step, Adopt) else step.base
    assert used.refresh_token == "rt-newest", step


# -- 1/3. behaviour 2 through login callables ----------------------------------------------------


@pytest.mark.timeout(30)
def test_two_login_callables_for_the_same_api_never_share_tokens() -> None:
    """Behaviour 2: "a read-only client silently uses an admin client's token stored by another
    tool" must not happen. ``SilentAuth`` says of callables: "the origins it serves name its
    account in the store, so two scripts with different callables never share (or swap)
    tokens". But two callables for the same API (an admin login and a read-only login, no
    username) get the same account ``callable:<origins>``: with the default KeyringStore the
    read-only script silently uses the admin token the other script stored."""
    from requests_silentauth import MemoryStore, SilentAuth

    store = MemoryStore()  # stands for the shared default keyring
    admin = SilentAuth(
        lambda c: "ADMIN-TOKEN", origins=["https://api.example"], store=store, prompt=False
    )
    readonly = SilentAuth(
        lambda c: "READONLY-TOKEN", origins=["https://api.example"], store=store, prompt=False
    )
    assert admin.get_token().access_token == "ADMIN-TOKEN"
    assert readonly.get_token().access_token == "READONLY-TOKEN"
