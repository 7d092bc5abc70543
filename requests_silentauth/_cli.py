"""``silentauth``: log in once, then every script is silent.

Exit codes: 0 success; 1 unexpected failure; 2 usage error; 3 not logged in or credentials
refused; 4 the store (keyring) failed; 5 the token endpoint failed."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import _cli_login, _profiles
from ._auth import SilentAuth
from ._errors import (
    CredentialsNotFound,
    InvalidCredentials,
    SilentAuthError,
    StoreError,
    TokenEndpointError,
)
from ._vault import Vault

EXIT_USAGE, EXIT_CREDENTIALS, EXIT_STORE, EXIT_ENDPOINT, EXIT_FAILURE = 2, 3, 4, 5, 1


def _account_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="a saved profile (see `login --profile`)")
    p.add_argument("--url", help="the token (or JSON login) endpoint URL")
    p.add_argument("--username", help="the account's user name")
    p.add_argument("--grant", choices=_profiles.GRANTS, help="login strategy (default: password)")
    p.add_argument("--client-id", help="OAuth2 client id")
    p.add_argument("--scope", help="OAuth2 scope to ask for")
    p.add_argument("--origin", action="append", dest="origins", help="where tokens may go (repeat)")
    p.add_argument("--placement", help="bearer (default), basic, header:NAME or query:NAME")
    p.add_argument("--store", help="keyring (default), keyring:SERVICE, file:PATH or memory")
    p.add_argument(
        "--allow-insecure-http", action="store_true", help="allow plain http to non-loopback hosts"
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="silentauth",
        description="Log in once; scripts using requests-silentauth stay logged in.",
        epilog="exit codes: 0 ok, 2 usage, 3 credentials, 4 store, 5 token endpoint, 1 other",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("login", help="ask for the password, verify it, store password and tokens")
    _account_args(p)
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    _cli_login.add_options(p)  # issue 8: --issuer, --device, --browser
    p = sub.add_parser("status", help="show the account and token state (no secrets)")
    _account_args(p)
    p = sub.add_parser("token", help="print a valid access token, refreshing as needed")
    _account_args(p)
    p = sub.add_parser(
        "logout", help="forget the tokens (and with --forget-password, the password)"
    )
    _account_args(p)
    p.add_argument("--forget-password", action="store_true", help="also delete the password")
    sub.add_parser("demo", help="run the demo against an embedded token server")
    return top


def _settings(args: argparse.Namespace, *, creating: bool = False) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if args.profile:
        if creating:  # `login --profile NEW` creates it; an existing one is updated
            settings.update(_profiles.load_all().get(args.profile, {}))
        else:
            settings.update(_profiles.load(args.profile))
    for key in _profiles.FIELDS:
        value = getattr(args, key, None)
        if value:
            settings[key] = value
    if not settings.get("url") and not settings.get("issuer"):
        raise ValueError("say which account: --profile NAME, or --url URL (and --username)")
    return settings


def _auth(settings: dict[str, Any], args: argparse.Namespace) -> SilentAuth:
    grant, kwargs = _profiles.arguments(
        settings, allow_insecure_http=args.allow_insecure_http, prompt=False
    )
    return SilentAuth(grant, **kwargs)


def _when(ts: float | None) -> str:
    if ts is None:
        return "unknown (used until the server rejects it)"
    left = ts - time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))
    return f"{stamp} (in {left:.0f}s)" if left > 0 else f"{stamp} (expired {-left:.0f}s ago)"


def _login(args: argparse.Namespace, out: Any) -> int:
    settings = _settings(args, creating=True)
    if _cli_login.wanted(args):
        return _cli_login.login(args, out, settings)
    auth = _auth(settings, args)
    who = settings.get("username") or settings.get("client_id") or "client"
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {who} at {settings['url']}: ")
    else:
        print(
            "silentauth: no terminal to ask for the password; use --password-stdin", file=sys.stderr
        )
        return EXIT_USAGE
    if not password:
        print("silentauth: empty password", file=sys.stderr)
        return EXIT_USAGE
    token = auth.login(password, remember=True)
    if args.profile:
        path = _profiles.save(args.profile, settings)
        print(f"saved profile {args.profile!r} in {path}", file=out)
    print(
        f"logged in as {who}; token {token.fingerprint} valid until {_when(token.expires_at)}",
        file=out,
    )
    return 0


def _status(args: argparse.Namespace, out: Any) -> int:
    settings = _settings(args)
    auth = _auth(settings, args)
    vault = Vault(auth.store, auth.account)
    token = vault.get_token()
    has_secret = vault.get_secret() is not None
    print(f"account:   {vault.account.username or '-'}", file=out)
    print(f"endpoint:  {vault.account.endpoint}", file=out)
    print(f"grant:     {settings.get('grant', 'password')}", file=out)
    print(f"store:     {vault.describe()}", file=out)
    print(f"password:  {'stored' if has_secret else 'not stored'}", file=out)
    if token is None:
        print("token:     none", file=out)
    else:
        print(f"token:     {token.fingerprint}, valid until {_when(token.expires_at)}", file=out)
        print(f"refresh:   {'present' if token.refresh_token else 'none'}", file=out)
    return 0 if (token is not None or has_secret) else EXIT_CREDENTIALS


def _token(args: argparse.Namespace, out: Any) -> int:
    auth = _auth(_settings(args), args)
    print(auth.get_token().access_token, file=out)
    return 0


def _logout(args: argparse.Namespace, out: Any) -> int:
    auth = _auth(_settings(args), args)
    revoked = auth.logout(forget_password=args.forget_password, revoke=True)
    print("tokens forgotten" + (" and password deleted" if args.forget_password else ""), file=out)
    if revoked in ("revoked", "failed"):  # issue 8: RFC 7009 where the server offers it
        print(
            f"revocation at the server: {revoked}", file=out if revoked == "revoked" else sys.stderr
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "demo":
            from . import _demo

            return _demo.run()
        handler = {"login": _login, "status": _status, "token": _token, "logout": _logout}
        return handler[args.command](args, out)
    except (CredentialsNotFound, InvalidCredentials) as exc:
        print(f"silentauth: {exc}", file=sys.stderr)
        return EXIT_CREDENTIALS
    except StoreError as exc:
        print(f"silentauth: {exc}", file=sys.stderr)
        return EXIT_STORE
    except TokenEndpointError as exc:
        print(f"silentauth: {exc}", file=sys.stderr)
        return EXIT_ENDPOINT
    except SilentAuthError as exc:
        print(f"silentauth: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, TypeError) as exc:
        print(f"silentauth: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
