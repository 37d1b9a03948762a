#!/usr/bin/env bash
# Runs every test, fast and end-to-end, after installing what they need: Docker Engine and
# Compose v2 (install-docker.sh), a virtualenv with djstack and nginx for `nginx -t` (dev-setup.sh).
# Arguments go to pytest: `scripts/test.sh -m "not e2e"` runs only the fast tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-docker.sh
scripts/dev-setup.sh
exec .venv/bin/pytest "$@"
