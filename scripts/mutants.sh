#!/usr/bin/env bash
# Mutation testing of the modules named in [tool.mutmut] (pyproject.toml), with mutmut 3 from PyPI:
#   scripts/mutants.sh [MODULE...]     e.g. scripts/mutants.sh envfile doctor.diagnose check.models.redis
# Each MODULE (dotted, under djstack; a prefix of mutant names, so `model.x_build_stack` takes one
# function) is run on its own, in the order given; no MODULE: all of them. mutmut runs only the
# fast tests that cover each mutated function (`-m "not e2e"`, no Docker).
# Then prints killed/survived per module. Results stay in mutants/ (git-ignored): `mutmut results`
# lists the survivors, `mutmut show NAME` shows one, and
# `PYTHONPATH=$PWD/mutants/src python -m mutmut run NAME...` retests only those.
# Environment: MUTMUT_JOBS (default 2 workers), MUTMUT_CAP (seconds per module, default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -n "${PYTHON:-}" ] || [ ! -x .venv/bin/python ] || PY=.venv/bin/python
"$PY" -c "import mutmut" 2>/dev/null || { echo "mutmut is not installed: $PY -m pip install 'mutmut>=3.8'" >&2; exit 2; }
# Tests that run `python -m djstack` in a child process must import the mutated copy too.
# The folder must exist before Python starts: a PYTHONPATH entry missing at startup is never looked
# in again, and the tests would import the unmutated package installed in the venv.
mkdir -p mutants/src
export PYTHONPATH="$PWD/mutants/src"
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(envfile doctor.diagnose render model check)
for module in "${modules[@]}"; do
  echo "== djstack.$module"
  # A cap, not a verdict: mutants not reached by then keep an earlier run's result, or count as not run.
  timeout "${MUTMUT_CAP:-900}" "$PY" -m mutmut run --max-children "${MUTMUT_JOBS:-2}" "djstack.$module*" \
    >"mutants/run-$module.log" 2>&1 || echo "   stopped (exit $?): see mutants/run-$module.log"
done
"$PY" - <<'PYTHON'
# Counts per mutated file, from the .meta files mutmut writes beside each mutated copy.
import json
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

print(f"{'module':34} {'mutants':>7} {'killed':>7} {'survived':>8} {'timeout':>7} {'not run':>7}")
for meta in sorted(Path("mutants/src").rglob("*.py.meta")):
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    counts = Counter(status_by_exit_code[code] for code in codes.values())
    module = meta.relative_to("mutants/src").as_posix().removesuffix(".py.meta").replace("/", ".")
    print(f"{module:34} {len(codes):7} {counts['killed']:7} {counts['survived']:8} {counts['timeout']:7} "
          f"{counts['not checked'] + counts['no tests']:7}")
PYTHON
