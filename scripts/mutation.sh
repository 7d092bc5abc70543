#!/usr/bin/env bash
# Mutation testing (mutmut) of the decision modules against the unit layer (tests/unit).
# The modules are listed in pyproject.toml under [tool.mutmut]; docs/quality.md records the
# score and explains every surviving mutant. Not part of CI (about a minute or two on 2 cores).
#
#   scripts/mutation.sh        run, print the survivors, end with "mutation: K killed of N (P%)"
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/mutmut ]; then
    # mutmut is in the dev dependency group (PEP 735), which pip reads from 25.1 on.
    if [ ! -x .venv/bin/python ]; then "${PYTHON:-python3}" -m venv .venv; fi
    .venv/bin/python -m pip install -q --disable-pip-version-check 'pip>=25.1'
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' --group dev
fi
rm -rf mutants  # mutmut keeps its own copy of the tests: start from the current ones
.venv/bin/mutmut run >mutants.log 2>&1 || { tail -20 mutants.log; exit 1; }
results=$(.venv/bin/mutmut results --all true 2>/dev/null)
echo "== surviving mutants"
echo "$results" | grep -v ': killed$' | grep -v ': timeout$' | while read -r name status; do
    echo "-- ${name%:} ($status)"
    .venv/bin/mutmut show "${name%:}" 2>/dev/null | grep -E '^[-+][^-+]' || true
done
total=$(echo "$results" | grep -c ': ' || true)
# A mutant that makes the unit layer hang (bounded by mutmut's timeout) is detected too.
killed=$(echo "$results" | grep -c -E ': (killed|timeout)$' || true)
rm -f mutants.log
awk -v k="$killed" -v n="$total" 'BEGIN { printf "mutation: %d killed of %d (%.1f%%)\n", k, n, (n ? 100 * k / n : 0) }'
