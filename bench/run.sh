#!/bin/sh
# The benchmark in one command: bench/run.sh [--smoke] [bench.py options]. See docs/benchmarks.md.
# Installs wrk (Debian package) when missing, then runs bench/bench.py with djstack's Python.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v wrk >/dev/null 2>&1; then
    echo "[bench] installing wrk (apt)" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2
fi
python="${BENCH_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$here/../.venv/bin/python" ]; then python="$here/../.venv/bin/python"; else python=python3; fi
fi
exec "$python" "$here/bench.py" "$@"
