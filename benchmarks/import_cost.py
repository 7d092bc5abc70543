"""The import cost of requests_silentauth, as issue 9 measures it.

    python benchmarks/import_cost.py [--runs 10]

Prints the median over ``--runs`` fresh interpreters of the cumulative microseconds on the
``requests_silentauth`` line of ``python -X importtime -c "import requests; import
requests_silentauth"`` (the issue's goal: at most 8 ms), then, for context, the median time
of ``from requests_silentauth import SilentAuth, PasswordGrant`` after ``import requests``
(what a script that builds an auth pays), both as a ratio to ``import requests`` alone in the
same run."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TIMED = "import time; t = time.perf_counter(); {stmt}; print((time.perf_counter() - t) * 1e6)"


def importtime_line(runs: int) -> float:
    values = []
    for _ in range(runs):
        err = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-c",
                "import requests; import requests_silentauth",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        for line in err.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == "requests_silentauth":
                values.append(float(parts[1]))
    return statistics.median(values)


def timed(setup: str, stmt: str, runs: int) -> float:
    code = setup + "; " + TIMED.format(stmt=stmt)
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout)
        for _ in range(runs)
    )  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    runs = p.parse_args().runs
    requests_us = timed("pass", "import requests", runs)
    line = importtime_line(runs)
    auth_us = timed("import requests", "from requests_silentauth import SilentAuth, PasswordGrant",
                    runs)  # fmt: skip
    print(f"import requests alone:                          {requests_us / 1000:6.1f} ms (1.00)")
    print(
        f"importtime line of requests_silentauth (goal 8): {line / 1000:6.1f} ms "
        f"({line / requests_us:.2f})"
    )
    print(
        f"from requests_silentauth import SilentAuth, ...: {auth_us / 1000:6.1f} ms "
        f"({auth_us / requests_us:.2f})"
    )


if __name__ == "__main__":
    main()
