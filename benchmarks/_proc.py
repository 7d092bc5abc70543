"""A child process of ``benchmarks/run.py``: one library, a persisted token, one GET.

    python benchmarks/_proc.py race LIB STATE_DIR SERVER_JSON     # waits for "go" on stdin
    python benchmarks/_proc.py oneshot LIB STATE_DIR SERVER_JSON  # a one-request script
    python benchmarks/_proc.py plain - TOKEN SERVER_JSON          # fixed header baseline

Prints one JSON line: {"status": ..., "error": ...}."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    mode, key, state, server_json = sys.argv[1:5]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from peers import BY_KEY, Server

    srv = Server(**json.loads(server_json))
    if mode == "plain":
        import requests

        s = requests.Session()
        s.trust_env = False
        r = s.get(srv.api_url, headers={"Authorization": f"Bearer {state}"}, timeout=30)
        print(json.dumps({"status": r.status_code, "error": None}), flush=True)
        return
    session = BY_KEY[key].make(srv, Path(state))
    if mode == "race":
        print("ready", flush=True)
        sys.stdin.readline()
    status, error = None, None
    try:
        status = session.get(srv.api_url, timeout=30).status_code
    except Exception as exc:  # the library's failure is the measurement
        error = type(exc).__name__
    close = getattr(session.auth, "close", None)
    if callable(close):
        close()
    print(json.dumps({"status": status, "error": error}), flush=True)


if __name__ == "__main__":
    main()
