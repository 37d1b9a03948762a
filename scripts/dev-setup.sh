#!/usr/bin/env bash
# Sets up a development checkout on Debian/Ubuntu: .venv with djstack (editable) and the test tools,
# plus nginx, whose `nginx -t` checks the generated config in the fast tests. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh -e '.[test]'

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null; then
    # Installed for `nginx -t` only: policy-rc.d stops the package from starting a server on port 80.
    echo 'exit 101' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
# rclone: `backup --copy-to`'s transport; openssh-server: the e2e's SFTP target (an sshd the test starts on
# 127.0.0.1, never the system's); cron: where `backup --schedule` goes on a host without systemd;
# pebble: the ACME test server (and pebble-challtestsrv, its DNS) the e2e runs for `--tls acme`.
missing=()
command -v rclone >/dev/null || missing+=(rclone)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v crontab >/dev/null || missing+=(cron)
command -v pebble >/dev/null || missing+=(pebble)
if [ ${#missing[@]} -gt 0 ]; then
    # policy-rc.d: the packages' own sshd and cron daemons are not started.
    echo 'exit 101' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "dev setup ready: .venv/bin/djstack, .venv/bin/pytest"
