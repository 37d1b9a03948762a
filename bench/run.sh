#!/bin/sh
# The benchmark in one command: bench/run.sh [--smoke] [bench.py options]. See docs/benchmarks.md.
# Installs the load generators when missing (Debian packages: wrk; h2load from nghttp2-client, for
# the HTTPS rows; openssl, whose s_time times handshakes), then runs bench/bench.py with djstack's Python.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v h2load >/dev/null 2>&1 || missing="$missing nghttp2-client"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
if [ -n "$missing" ]; then
    echo "[bench] installing$missing (apt)" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >&2
fi
python="${BENCH_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$here/../.venv/bin/python" ]; then python="$here/../.venv/bin/python"; else python=python3; fi
fi
exec "$python" "$here/bench.py" "$@"
