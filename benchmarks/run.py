"""Side by side with the libraries users pick instead (issue 10): one command, one run.

    python benchmarks/run.py            # every scenario, every library (< 10 min on 2 cores)
    python benchmarks/run.py --quick    # shorter blocks and runs (< 2 min)

Needs the ``bench`` dependency group (``pip install --group bench``, pip >= 25.1; or
``pip install -e . requests-oauthlib authlib requests-auth google-auth matplotlib
django-oauth-toolkit waitress pytest``). Servers: django-oauth-toolkit from
tests/integration (started here, rotation and reuse protection on), and the embedded
``TokenServer`` where a fault is injected (revocation, a 500 ms token endpoint). Every figure is
a ratio or a count measured in this run. Writes benchmarks/results.md and benchmarks/results.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
# oauthlib refuses plain http unless told (its docs' way for local testing); the servers here are
# on loopback
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

import requests  # noqa: E402
from peers import LIBS, Server, access_token, password_login  # noqa: E402

from requests_silentauth.testing import TokenServer  # noqa: E402

THREADS = 16
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


# -- django-oauth-toolkit, as tests/integration starts it -----------------------------------------


@dataclass
class Dot:
    srv: Server
    api: Any  # tests.integration.conftest.DotServer

    def token_events(self, since: int) -> list[tuple[str | None, int]]:
        return list(self.api.token_requests(since))


@contextlib.contextmanager
def dot_server(workdir: Path) -> Iterator[Dot]:
    from tests.integration import conftest as it

    (workdir / "silentauth_dot_settings.py").write_text(it.LIFETIME_SETTINGS, encoding="utf-8")
    lifetime_file = workdir / "access-lifetime"
    lifetime_file.write_text(str(it.LONG_LIFETIME), encoding="ascii")
    username, password = "alice", secrets.token_urlsafe(12)
    client = it.Client("bench-password", secrets.token_urlsafe(24))
    seed = {
        "users": {username: password},
        "applications": [{**vars(client), "grant": "password"}],
    }
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": it.SETTINGS,
        "DOTPROJECT_DB": str(workdir / "db.sqlite3"),
        "DOTPROJECT_SECRET_KEY": secrets.token_urlsafe(32),
        "DOTPROJECT_LIFETIME_FILE": str(lifetime_file),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(workdir)])),
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "tests.integration.dotproject.setup_db"],
        cwd=ROOT,
        env={**env, "DOTPROJECT_SEED": json.dumps(seed)},
        capture_output=True,
        check=True,
        timeout=it.SETUP_TIMEOUT,
    )
    log_path = workdir / "server.log"
    port = it._free_port()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=8", it.APP],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "silentauth_dot_settings"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        if not it._wait_ready(proc, port, log_path):
            raise RuntimeError(f"django-oauth-toolkit did not start:\n{it._tail(log_path)}")
        http = requests.Session()
        http.trust_env = False
        base = f"http://127.0.0.1:{port}"
        api = it.DotServer(
            base=base,
            username=username,
            password=password,
            password_client=client,
            cc_client=client,
            odd_client=client,
            log_path=log_path,
            http=http,
            lifetime_file=lifetime_file,
        )
        api.mark()
        srv = Server(
            base, base + "/o/token/", base + "/api/me", client.client_id, client.client_secret,
            username, password,
        )  # fmt: skip
        yield Dot(srv, api)
    finally:
        it._stop(proc)


@contextlib.contextmanager
def embedded(**kwargs: Any) -> Iterator[tuple[TokenServer, Server]]:
    user, pw, cid, secret = "alice", secrets.token_urlsafe(12), "bench", secrets.token_urlsafe(16)
    with TokenServer(users={user: pw}, clients={cid: secret}, **kwargs) as ts:
        yield ts, Server(ts.url, ts.token_url, ts.resource_url, cid, secret, user, pw)


def close(s: requests.Session) -> None:
    closer = getattr(s.auth, "close", None)
    if callable(closer):
        closer()
    s.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- 1. overhead ----------------------------------------------------------------------------------


class Canned(requests.adapters.BaseAdapter):
    """A transport that answers 200 without a network: what is left is the client's cost."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        r = requests.Response()
        r.status_code = 200
        r._content = b"{}"
        r.headers["Content-Type"] = "application/json"
        r.url = request.url or ""
        r.request = request
        r.connection = self
        return r

    def close(self) -> None:
        pass


def scenario_overhead(dot: Dot, quick: bool) -> dict[str, Any]:
    n, rounds = (60, 3) if quick else (200, 7)
    n_canned = 300 if quick else 2000
    sessions = {lib.key: lib.make(dot.srv) for lib in LIBS}
    plain = requests.Session()
    plain.trust_env = False
    plain.headers["Authorization"] = f"Bearer {access_token(sessions['silentauth'])}"
    cases: dict[str, requests.Session] = {"plain": plain, **sessions}
    for s in cases.values():
        for _ in range(5):
            assert s.get(dot.srv.api_url, timeout=30).status_code == 200

    def block(s: requests.Session, url: str, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            s.get(url, timeout=30)
        return count / (time.perf_counter() - start)

    rps: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(rounds):
        for key, s in cases.items():  # interleaved: drift hits every case alike
            rps[key].append(block(s, dot.srv.api_url, n))
        say(f"  overhead over loopback: round {r + 1}/{rounds}")
    # the client-side cost: the same sessions over a canned transport (no network)
    for s in cases.values():
        s.mount(dot.srv.base + "/", Canned())
    canned: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(rounds):
        for key, s in cases.items():
            canned[key].append(1e6 / block(s, dot.srv.api_url, n_canned))  # us per get
        say(f"  client-side cost (canned transport): round {r + 1}/{rounds}")
    for s in sessions.values():
        close(s)
    base_rps, base_us = statistics.median(rps["plain"]), statistics.median(canned["plain"])
    spread = (max(rps["plain"]) - min(rps["plain"])) / base_rps
    return {
        "rounds": rounds,
        "requests": n,
        "plain_noise": spread,
        "rows": {
            key: {
                "rps_ratio": statistics.median(rps[key]) / base_rps,
                "us_ratio": statistics.median(canned[key]) / base_us,
                "us_extra_ratio_of_plain": (statistics.median(canned[key]) - base_us) / base_us,
            }
            for key in sessions
        },
    }


# -- 2 and 3. 16 threads across expiry, rotation with reuse protection ----------------------------


def hammer(
    s: requests.Session, url: str, seconds: float, threads: int = THREADS
) -> tuple[list[tuple[float, int | None, str | None]], float]:
    """``threads`` threads GET ``url`` for ``seconds``; (latency, status, error) per request."""
    # one pooled connection per thread (requests' default pool keeps 10): the same transport
    # setting for every library, so no thread reconnects between requests
    origin = "/".join(url.split("/")[:3]) + "/"
    s.mount(origin, requests.adapters.HTTPAdapter(pool_maxsize=threads))
    results: list[tuple[float, int | None, str | None]] = []
    lock = threading.Lock()
    start = time.monotonic()
    end = start + seconds
    go = threading.Barrier(threads)

    def worker() -> None:
        go.wait()
        mine: list[tuple[float, int | None, str | None]] = []
        while time.monotonic() < end:
            t = time.perf_counter()
            try:
                status: int | None = s.get(url, timeout=30).status_code
                err = None
            except Exception as exc:  # a library's failure is what is measured
                status, err = None, type(exc).__name__
            mine.append((time.perf_counter() - t, status, err))
            if err is not None:
                time.sleep(0.01)  # a dead session fails at once: do not spin
        with lock:
            results.extend(mine)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results, time.monotonic() - start


def scenario_expiry(dot: Dot, quick: bool) -> dict[str, Any]:
    seconds, lifetime = (3.0 if quick else 10.0), 2
    rows: dict[str, Any] = {}
    for lib in LIBS:
        with dot.api.access_lifetime(lifetime):
            try:
                s = lib.make(dot.srv)
            except Exception as exc:
                rows[lib.key] = {"error": f"first login failed: {type(exc).__name__}"}
                continue
            mark = dot.api.mark()
            results, took = hammer(s, dot.srv.api_url, seconds)
        events = dot.token_events(mark)
        api_statuses = dot.api.calls(mark, "/api/me")
        # scenario 3: after the run, does the session still work (a new client and login
        # is what a user would otherwise need)?
        try:
            after = s.get(dot.srv.api_url, timeout=30).status_code
        except Exception as exc:
            after = type(exc).__name__
        close(s)
        failed = sum(1 for _, status, _ in results if status != 200)
        rows[lib.key] = {
            "requests": len(results),
            "failed": failed,
            "token_requests": len(events),
            "per_lifetime": len(events) / (took / lifetime),
            "refused": sum(1 for _, st in events if st != 200),
            "logins": sum(1 for g, _ in events if g == "password"),
            "server_401": sum(1 for st in api_statuses if st == 401),
            "after": after,
            "seconds": took,
        }
        say(f"  {lib.name}: {rows[lib.key]['token_requests']} token requests, {failed} failed")
    return {"seconds": seconds, "lifetime": lifetime, "rows": rows}


# -- 4. revocation --------------------------------------------------------------------------------


def scenario_revocation(quick: bool) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for lib in LIBS:
        with embedded() as (ts, srv):
            s = lib.make(srv)
            assert s.get(srv.api_url, timeout=30).status_code == 200
            ts.reset_counts()
            ts.revoke_access_tokens()
            statuses: list[int | str] = []
            go = threading.Barrier(THREADS)

            def one(
                s: requests.Session = s,
                srv: Server = srv,
                go: threading.Barrier = go,
                statuses: list[int | str] = statuses,
            ) -> None:
                go.wait()
                try:
                    statuses.append(s.get(srv.api_url, timeout=30).status_code)
                except Exception as exc:
                    statuses.append(type(exc).__name__)

            threads = [threading.Thread(target=one) for _ in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            close(s)
            c = ts.counts
            rows[lib.key] = {
                "ok": sum(1 for st in statuses if st == 200),
                "token_requests": c["token"],
                "server_401": c["api:rejected"],
            }
        say(f"  {lib.name}: {rows[lib.key]['ok']}/{THREADS} succeeded")
    return {"rows": rows}


# -- 5. parallel processes ------------------------------------------------------------------------


def proc_cmd(mode: str, key: str, state: str, srv: Server) -> list[str]:
    return [sys.executable, str(HERE / "_proc.py"), mode, key, state, json.dumps(asdict(srv))]


def scenario_processes(dot: Dot, quick: bool, workdir: Path) -> dict[str, Any]:
    n = 10
    rows: dict[str, Any] = {}
    for lib in LIBS:
        state = workdir / f"procs-{lib.key}"
        state.mkdir()
        token = password_login(dot.srv)
        token["expires_at"] = time.time() - 10  # persisted, expired
        lib.persist(dot.srv, state, token)
        mark = dot.api.mark()
        procs = [
            subprocess.Popen(
                proc_cmd("race", lib.key, str(state), dot.srv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(n)
        ]
        ready = 0
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() == "ready":
                ready += 1
        for p in procs:  # as close to together as a parent can start them
            assert p.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                p.stdin.write("go\n")
                p.stdin.flush()
        ok = 0
        for p in procs:
            out, _err = p.communicate(timeout=120)
            with contextlib.suppress(ValueError, IndexError):
                if json.loads(out.strip().splitlines()[-1])["status"] == 200:
                    ok += 1
        events = dot.token_events(mark)
        rows[lib.key] = {
            "ready": ready,
            "ok": ok,
            "token_requests": len(events),
            "refused": sum(1 for _, st in events if st != 200),
        }
        say(f"  {lib.name}: {len(events)} token requests, {ok}/{n} processes succeeded")
    return {"processes": n, "rows": rows}


# -- 6. renewal latency ---------------------------------------------------------------------------


def scenario_latency(quick: bool) -> dict[str, Any]:
    seconds, lifetime, delay = (3.0 if quick else 12.0), 4.0, 0.5
    rows: dict[str, Any] = {}
    for lib in LIBS:
        row: dict[str, Any] = {}
        for label, endpoint_delay in (("slow", delay), ("instant", 0.0)):
            with embedded(access_lifetime=lifetime) as (ts, srv):
                s = lib.make(srv)
                ts.token_delay = endpoint_delay
                ts.reset_counts()
                results, took = hammer(s, srv.api_url, seconds)
                close(s)
                lat = [t for t, status, _ in results if status == 200]
                row[label] = {
                    "requests": len(results),
                    "failed": sum(1 for _, st, _ in results if st != 200),
                    "p50": pct(lat, 50),
                    "p99": pct(lat, 99),
                    "max": max(lat, default=float("nan")),
                    # a request that took the token endpoint's delay waited for a token request
                    "waited": sum(1 for t, _, _ in results if t >= delay) if endpoint_delay else 0,
                    "token_requests": ts.counts["token"],
                    "renewals_expected": took / (lifetime / 2),
                }
        rows[lib.key] = row
        slow = row["slow"]
        say(
            f"  {lib.name}: p99 {slow['p99'] * 1000:.0f} ms (instant endpoint "
            f"{row['instant']['p99'] * 1000:.0f} ms), {slow['waited']} waited"
        )
    return {"seconds": seconds, "lifetime": lifetime, "delay": delay, "rows": rows}


# -- 7. start-up ----------------------------------------------------------------------------------

IMPORTS = {
    "silentauth": "requests_silentauth",
    "oauthlib": "requests_oauthlib",
    "authlib": "authlib.integrations.requests_client",
    "requests_auth": "requests_auth",
    "google": "google.auth.transport.requests",
}


def timed_run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def scenario_startup(dot: Dot, quick: bool, workdir: Path) -> dict[str, Any]:
    runs = 2 if quick else 7
    py = [sys.executable, "-c"]
    imports: dict[str, list[float]] = {k: [] for k in ["requests", *IMPORTS]}
    for _ in range(runs):  # interleaved
        imports["requests"].append(timed_run([*py, "import requests"]))
        for key, module in IMPORTS.items():
            imports[key].append(timed_run([*py, f"import requests, {module}"]))
    say("  imports timed")
    token = password_login(dot.srv)
    states = {}
    for lib in LIBS:
        state = workdir / f"oneshot-{lib.key}"
        state.mkdir()
        lib.persist(dot.srv, state, token)  # a valid persisted token
        states[lib.key] = state
    one: dict[str, list[float]] = {k: [] for k in ["plain", *states]}
    for _ in range(runs):
        one["plain"].append(timed_run(proc_cmd("plain", "-", token["access_token"], dot.srv)))
        for key, state in states.items():
            one[key].append(timed_run(proc_cmd("oneshot", key, str(state), dot.srv)))
    say("  one-request scripts timed")
    base_import, base_one = statistics.median(imports["requests"]), statistics.median(one["plain"])
    return {
        "runs": runs,
        "rows": {
            key: {
                "import_ratio": statistics.median(imports[key]) / base_import,
                "script_ratio": statistics.median(one[key]) / base_one,
            }
            for key in IMPORTS
        },
    }


# -- the report -----------------------------------------------------------------------------------


@dataclass
class Run:
    quick: bool
    started: str
    load_before: str
    load_after: str = ""
    took: float = 0.0
    results: dict[str, Any] = field(default_factory=dict)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds == seconds else "-"


#: What a library cannot do in a scenario (its documented feature set), said with the figure.
CANNOT = {
    ("revocation", "oauthlib"): "cannot: no refresh on a rejected token",
    ("revocation", "authlib"): "cannot: no refresh on a rejected token",
    ("revocation", "requests_auth"): "cannot: no refresh on a rejected token",
    ("processes", "oauthlib"): "no persistence of its own: a user callback, no lock",
    ("processes", "authlib"): "no persistence of its own: a user callback, no lock",
    ("processes", "google"): "no persistence of its own: the credentials class writes a file",
    ("revocation", "google"): "refreshes on 401, but each thread its own: the first rotation "
    "spends the refresh token the others send",
    ("processes", "requests_auth"): "a JSON file cache, no lock across processes",
}


def cannot(scenario: str, key: str) -> str:
    why = CANNOT.get((scenario, key))
    return f" ({why})" if why else ""


def render(run: Run) -> str:
    r = run.results
    name = {lib.key: lib.name for lib in LIBS}
    out: list[str] = []
    w = out.append
    w("# Benchmarks: requests-silentauth side by side (generated by `python benchmarks/run.py`)")
    w("")
    w(
        f"Run {run.started} UTC{' (--quick)' if run.quick else ''}, {run.took:.0f} s, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
        f"{run.load_before} before, {run.load_after} after (1, 5 and 15 min; the 2 CPUs are "
        "shared with other sessions, whose load comes and goes: a ratio compares runs "
        "interleaved or back to back, so the load hits both sides). Every figure is a ratio or a "
        "count from this one run; servers on 127.0.0.1: django-oauth-toolkit (rotation and reuse "
        "protection on) for 1, 2/3, 5, 7; the embedded `TokenServer` for 4 (revocation) and 6 "
        "(a 500 ms token endpoint), in the benchmark's process."
    )
    w("")
    w("![chart](results.png)")
    w("")
    if "overhead" in r:
        o = r["overhead"]
        w("## 1. Overhead (valid token, keep-alive, sequential)")
        w("")
        w(
            f"Requests per second against plain `requests` with a fixed `Authorization` header "
            f"(median of {o['rounds']} interleaved rounds of {o['requests']} GETs; the baseline's "
            f"own spread between rounds: {o['plain_noise'] * 100:.0f} %), and the client-side "
            "cost of one `get()` over a canned transport (no network) as a multiple of the "
            "plain session's. requests-silentauth's extra client cost on plain-http loopback "
            "includes the check that no proxy from the environment stands in front of the "
            "loopback address (over https it is not needed)."
        )
        w("")
        w("| library | req/s vs fixed header | client cost of one get() vs fixed header |")
        w("|---|---|---|")
        for key, row in o["rows"].items():
            w(f"| {name[key]} | {row['rps_ratio']:.2f} | {row['us_ratio']:.2f} x |")
        w("")
    if "expiry" in r:
        e = r["expiry"]
        w("## 2. Concurrency across expiry, and 3. rotation with reuse protection")
        w("")
        w(
            f"{THREADS} threads share one session for {e['seconds']:.0f} s; access tokens live "
            f"{e['lifetime']} s; the server rotates refresh tokens and revokes the whole family "
            "when a spent one is presented. Token requests per token lifetime (run time / "
            f"{e['lifetime']} s), failed requests (not 200, or an exception), 401s the server "
            "sent, refused token requests (invalid_grant), and whether the session still works "
            "after the run (scenario 3)."
        )
        sa = e["rows"].get("silentauth", {})
        if "token_requests" in sa:
            window = e["lifetime"] - min(30.0, e["lifetime"] / 2)
            windows = sa["seconds"] / window
            w("")
            w(
                f"requests-silentauth renews a token once it has {window:.0f} s left (its 30 s "
                f"leeway is capped at half of a {e['lifetime']} s life), so its goal is one token "
                f"request per renewal window of lifetime minus leeway: {windows:.1f} windows in "
                f"this run, {sa['token_requests']} token requests "
                f"({sa['token_requests'] / windows:.2f} per window). Its 401s are not failures: "
                "django-oauth-toolkit revokes the previous access token as it rotates (before the "
                "client has the new one), so requests already sent with it are rejected; each is "
                "sent again once with the new token, without a token request of its own."
            )
        w("")
        w(
            "| library | requests | failed | token requests | per lifetime | refused | "
            "password logins | 401s at the server | GET after the run |"
        )
        w("|---|---|---|---|---|---|---|---|---|")
        for key, row in e["rows"].items():
            if "error" in row:
                w(f"| {name[key]} | {row['error']} | | | | | | | |")
                continue
            pctf = 100 * row["failed"] / max(1, row["requests"])
            w(
                f"| {name[key]} | {row['requests']} | {row['failed']} ({pctf:.0f} %) | "
                f"{row['token_requests']} | {row['per_lifetime']:.1f} | {row['refused']} | "
                f"{row['logins']} | {row['server_401']} | {row['after']} |"
            )
        w("")
    if "revocation" in r:
        w(f"## 4. Revocation: {THREADS} simultaneous requests right after it")
        w("")
        w("| library | succeeded | token requests | 401s at the server |")
        w("|---|---|---|---|")
        for key, row in r["revocation"]["rows"].items():
            w(
                f"| {name[key]} | {row['ok']}/{THREADS}{cannot('revocation', key)} | "
                f"{row['token_requests']} | {row['server_401']} |"
            )
        w("")
    if "processes" in r:
        p = r["processes"]
        w(f"## 5. Parallel processes: {p['processes']} with a persisted expired token")
        w("")
        w(
            "Each library persists the way its docs show (requests-silentauth: `FileStore`, with "
            "its lock; requests-auth: `JsonTokenFileCache`; requests-oauthlib, authlib and "
            "google-auth: a JSON file written by the token-update callback, with no lock "
            "between processes). All processes are started, load the token, then send together."
        )
        w("")
        w("| library | token requests | refused | processes that got 200 |")
        w("|---|---|---|---|")
        for key, row in p["rows"].items():
            w(
                f"| {name[key]} | {row['token_requests']} | {row['refused']} | "
                f"{row['ok']}/{p['processes']}{cannot('processes', key)} |"
            )
        w("")
    if "latency" in r:
        la = r["latency"]
        w("## 6. Renewal latency")
        w("")
        w(
            f"{THREADS} threads for {la['seconds']:.0f} s, tokens living {la['lifetime']:.0f} s, "
            f"the token endpoint answering in {la['delay'] * 1000:.0f} ms, against the same run "
            "with an instant endpoint. 'Waited' counts requests that took at least the "
            "endpoint's delay (on loopback only a token request makes a request that slow). "
            "This server keeps the previous access token valid after a refresh (unlike "
            "django-oauth-toolkit above), so no request is rejected during a renewal. Each "
            "session's API connections are pooled one per thread (the same `HTTPAdapter("
            "pool_maxsize=16)` for every library)."
        )
        w("")
        w(
            "| library | p50 | p99 | max | p99, instant endpoint | max, instant | "
            "waited for a token request | token requests | failed |"
        )
        w("|---|---|---|---|---|---|---|---|---|")
        for key, row in la["rows"].items():
            s, i = row["slow"], row["instant"]
            w(
                f"| {name[key]} | {fmt_ms(s['p50'])} | {fmt_ms(s['p99'])} | {fmt_ms(s['max'])} | "
                f"{fmt_ms(i['p99'])} | {fmt_ms(i['max'])} | {s['waited']} of {s['requests']} | "
                f"{s['token_requests']} | {s['failed']} |"
            )
        w("")
    if "startup" in r:
        st = r["startup"]
        w("## 7. Start-up")
        w("")
        w(
            f"Median of {st['runs']} interleaved runs: `python -c 'import requests, X'` over "
            "`python -c 'import requests'`, and a one-request script loading a persisted valid "
            "token over the same script with a fixed header."
        )
        w("")
        w("| library | import time vs requests alone | one-request script vs fixed header |")
        w("|---|---|---|")
        for key, row in st["rows"].items():
            w(f"| {name[key]} | {row['import_ratio']:.2f} | {row['script_ratio']:.2f} |")
        w("")
    w("## How each library is configured")
    w("")
    for lib in LIBS:
        w(f"- **{lib.name}**: {lib.config}")
    w("")
    return "\n".join(out)


def chart(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = run.results
    names = [lib.name.split(" ")[0] for lib in LIBS]
    keys = [lib.key for lib in LIBS]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    colors = ["tab:green" if k == "silentauth" else "tab:gray" for k in keys]

    def bars(ax: Any, values: list[float], title: str, log: bool = False) -> None:
        ax.bar(names, values, color=colors)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        if log:
            ax.set_yscale("symlog")

    if "expiry" in r:
        rows = r["expiry"]["rows"]
        bars(
            axes[0][0],
            [rows[k].get("per_lifetime", 0) for k in keys],
            "2. token requests per 2 s token lifetime, 16 threads (log)",
            log=True,
        )
        bars(
            axes[0][1],
            [100 * rows[k].get("failed", 0) / max(1, rows[k].get("requests", 1)) for k in keys],
            "2. failed requests, % (rotation + reuse protection)",
        )
    if "revocation" in r:
        bars(
            axes[1][0],
            [r["revocation"]["rows"][k]["ok"] for k in keys],
            f"4. of {THREADS} simultaneous requests after a revocation, succeeded",
        )
    if "latency" in r:
        rows = r["latency"]["rows"]
        ax = axes[1][1]
        xs = range(len(keys))
        ax.bar([x - 0.2 for x in xs], [1000 * rows[k]["slow"]["p99"] for k in keys], 0.4,
               color=colors, label="500 ms token endpoint")  # fmt: skip
        ax.bar([x + 0.2 for x in xs], [1000 * rows[k]["instant"]["p99"] for k in keys], 0.4,
               color="tab:blue", alpha=0.5, label="instant token endpoint")  # fmt: skip
        for x, k in zip(xs, keys, strict=True):
            slow = rows[k]["slow"]
            where = (x - 0.2, 1000 * slow["p99"])
            ax.annotate(f"{slow['waited']} waited", where, ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(xs), names)
        ax.set_yscale("symlog")
        top = max(1000 * max(rows[k]["slow"]["p99"], rows[k]["instant"]["p99"]) for k in keys)
        ax.set_ylim(0, top * 4)
        ax.legend(fontsize=7)
        ax.set_title(
            "6. p99 latency (ms), 16 threads, tokens due during the run (log)", fontsize=10
        )
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle(f"requests-silentauth vs peers ({run.started} UTC, one run)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


SCENARIOS = ["overhead", "expiry", "revocation", "processes", "latency", "startup"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs (< 2 min)")
    ap.add_argument("--only", choices=SCENARIOS, action="append", help="run only these")
    ap.add_argument("--out", type=Path, default=HERE, help="where results.md/.png go")
    ap.add_argument(
        "--render", type=Path, help="only rewrite results.md/.png from a results.json of a run"
    )
    args = ap.parse_args()
    if args.render:
        run = Run(**json.loads(args.render.read_text(encoding="utf-8")))
        (args.out / "results.md").write_text(render(run), encoding="utf-8")
        chart(run, args.out / "results.png")
        return
    missing = []
    for module in ("requests_oauthlib", "authlib", "requests_auth", "google.auth", "matplotlib",
                   "oauth2_provider", "waitress", "pytest"):  # fmt: skip
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        sys.exit(
            f"missing {', '.join(missing)}: install the bench dependency group "
            "(pip install --group bench, pip >= 25.1)"
        )
    wanted = args.only or SCENARIOS
    run = Run(args.quick, time.strftime("%Y-%m-%d %H:%M", time.gmtime()), loadavg())
    say(f"load average {run.load_before}; scenarios: {', '.join(wanted)}")
    with tempfile.TemporaryDirectory(prefix="silentauth-bench-") as tmp:
        work = Path(tmp)
        say("starting django-oauth-toolkit")
        (work / "dot").mkdir()
        with dot_server(work / "dot") as dot:
            steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                ("overhead", lambda: scenario_overhead(dot, args.quick)),
                ("expiry", lambda: scenario_expiry(dot, args.quick)),
                ("revocation", lambda: scenario_revocation(args.quick)),
                ("processes", lambda: scenario_processes(dot, args.quick, work)),
                ("latency", lambda: scenario_latency(args.quick)),
                ("startup", lambda: scenario_startup(dot, args.quick, work)),
            ]
            for number, (key, step) in enumerate(steps, 1):
                if key in wanted:
                    say(f"scenario {key} ({number}/{len(steps)})")
                    run.results[key] = step()
    run.load_after = loadavg()
    run.took = time.monotonic() - T0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(render(run), encoding="utf-8")
    (args.out / "results.json").write_text(json.dumps(asdict(run), indent=1), encoding="utf-8")
    chart(run, args.out / "results.png")
    say(f"wrote {args.out / 'results.md'} and results.png in {run.took:.0f} s")


if __name__ == "__main__":
    main()
