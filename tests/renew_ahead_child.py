"""A process that makes one request with a token due for renewal and exits at once, while the
renewal ahead it started is in flight (tests/test_renew_ahead.py).

    python -m tests.renew_ahead_child TOKEN_URL API_URL STORE_PATH TOKEN_TIMEOUT [MODE]

With ``atexit``, the request is made in an ``atexit`` handler (the interpreter is shutting
down), which then prints how many renewal threads are alive; with ``worker``, in a non-daemon
thread once the main thread has ended; with ``sigint``, the main thread ends by Ctrl-C
(KeyboardInterrupt) right after its request."""

from __future__ import annotations

import atexit
import signal
import sys
import threading

import requests

from requests_silentauth import FileStore, PasswordGrant, SilentAuth

from .conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER


def main() -> None:
    token_url, api_url, store_path, token_timeout = sys.argv[1:5]
    auth = SilentAuth(
        PasswordGrant(token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        username=USER,
        password=PASSWORD,
        store=FileStore(store_path),
        prompt=False,
        token_timeout=float(token_timeout),
    )
    if sys.argv[5:] == ["atexit"]:
        atexit.register(at_exit, auth, api_url)
        return
    if sys.argv[5:] == ["worker"]:  # a non-daemon thread that goes on after the main one
        threading.Thread(target=worker, args=(auth, api_url)).start()
        return
    with requests.Session() as s:
        s.trust_env = False
        r = s.get(api_url, auth=auth, timeout=10)
    print(f"status {r.status_code}", flush=True)
    if sys.argv[5:] == ["sigint"]:  # Ctrl-C in the main thread, the renewal still in flight
        signal.raise_signal(signal.SIGINT)
    # the main thread ends here, with the renewal ahead still in flight


def worker(auth: SilentAuth, api_url: str) -> None:
    threading.main_thread().join()  # Python is exiting: it joins this thread, then others
    at_exit(auth, api_url)


def at_exit(auth: SilentAuth, api_url: str) -> None:
    with requests.Session() as s:
        s.trust_env = False
        r = s.get(api_url, auth=auth, timeout=10)
    name = "silentauth-renew-ahead"
    alive = [t for t in threading.enumerate() if t.name == name and t.is_alive()]
    print(f"status {r.status_code} {name} {len(alive)}", flush=True)


if __name__ == "__main__":
    main()
