"""What SilentAuth costs per request, as ratios against a baseline in the same run.

    python benchmarks/bench_overhead.py [--requests N] [--rounds R]

Baseline: the same session sending the same valid token as a static header. Measured: the
`session.auth = SilentAuth(...)` fast path and the mounted `SilentAuthAdapter`. Rounds are
interleaved (A B C A B C ...) so drift on a shared machine hits all three alike; medians are
reported. Also the import cost of `requests_silentauth` against `requests` alone (keyring must
not be imported)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import requests

from requests_silentauth import MemoryStore, PasswordGrant, SilentAuth, SilentAuthAdapter
from requests_silentauth.testing import TokenServer


def _timed(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _import_time(module: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    with TokenServer(users={"alice": "pw"}, clients={}) as srv:
        auth = SilentAuth(
            PasswordGrant(srv.token_url), username="alice", password="pw", store=MemoryStore()
        )
        token = auth.get_token().access_token
        plain, with_auth, with_adapter = requests.Session(), requests.Session(), requests.Session()
        for s in (plain, with_auth, with_adapter):
            s.trust_env = False
        plain.headers["Authorization"] = f"Bearer {token}"
        with_auth.auth = auth
        with_adapter.mount(srv.url + "/", SilentAuthAdapter(auth))
        cases = {"static header": plain, "SilentAuth": with_auth, "SilentAuthAdapter": with_adapter}
        results: dict[str, list[float]] = {name: [] for name in cases}
        for s in cases.values():  # warm the connection pools
            s.get(srv.resource_url).raise_for_status()
        for _ in range(args.rounds):
            for name, s in cases.items():
                results[name].append(_timed(lambda s=s: s.get(srv.resource_url), args.requests))
        tokens_requested = srv.counts["token"]
    base = statistics.median(results["static header"])
    print(f"per request, median of {args.rounds} rounds x {args.requests} requests on loopback:")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"  {name:18s} {med * 1e6:8.1f} us   ratio {med / base:5.3f}")
    print(f"  token requests during the run: {tokens_requested} (the one login)")
    req = _import_time("requests", 5)
    ours = _import_time("requests_silentauth", 5)
    print(
        f"import: requests {req * 1e3:.0f} ms, requests_silentauth {ours * 1e3:.0f} ms, "
        f"ratio {ours / req:.2f}"
    )


if __name__ == "__main__":
    main()
