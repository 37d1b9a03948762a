#!/usr/bin/env bash
# Creates .venv (installing Debian's python3-venv when needed) and pip-installs the given
# requirement into it, e.g. `scripts/venv.sh .` or `scripts/venv.sh -e '.[test]'`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "djstack needs Python 3.11 or newer; python3 is $(python3 --version 2>&1)." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    if ! python3 -m venv .venv 2>/dev/null; then
        rm -rf .venv
        as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv .venv
    fi
fi
.venv/bin/pip install -q --disable-pip-version-check "$@"
