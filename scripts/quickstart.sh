#!/usr/bin/env bash
# Gets the example stack running on this machine and prints its URL: installs Docker Engine and
# Compose v2, installs djstack into .venv, copies examples/mysite to demo/mysite, then runs
# `djstack init` and `djstack up` there. Re-running reuses everything already done.
# DJSTACK_PORT (default 8000) is the host port nginx listens on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-docker.sh
# Editable, like scripts/dev-setup.sh: .venv runs this checkout's code, and re-running this script in
# a development checkout does not swap the editable install for a frozen copy.
scripts/venv.sh -e .
mkdir -p demo
[ -d demo/mysite ] || cp -r examples/mysite demo/mysite
.venv/bin/djstack init demo/mysite --port "${DJSTACK_PORT:-8000}"
.venv/bin/djstack up demo/mysite
