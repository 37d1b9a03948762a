#!/usr/bin/env bash
# install-docker.sh - host prerequisites for djstack:
#   Docker Engine (distribution package docker.io), Compose v2 + buildx as CLI plugins,
#   debootstrap (djstack builds its local base images with it) and ca-certificates.
# Supported: Debian 12, Debian 13, Ubuntu 22.04 / 24.04. Idempotent: each step is skipped when
# its result is already present, so a second run changes nothing and takes about a second.
set -euo pipefail

PROG=${0##*/}
# djstack's sources beside this script: the Debian-mirror rules are read from there.
DJSTACK_SRC=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../src
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins   # read by Debian's docker 20.10 CLI and upstream CLIs alike
DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG=/var/log/dockerd.log
DOCKERD_PIDFILE=/var/run/docker.pid             # dockerd's default --pidfile
START_TIMEOUT=60                                # seconds to wait for `docker info` to answer
# The suite whose docker-compose/docker-buildx are v2 and a consistent pair (2.26.1 + 0.13.1).
COMPOSE_SUITE=trixie

usage() {
    cat <<EOF
Usage: $PROG [--apt-mirror URL] [--registry-mirror URL]... [--help]

Installs and starts what djstack needs on the host: Docker Engine (docker.io), Docker Compose v2
and buildx (CLI plugins), debootstrap and ca-certificates. Safe to run again: every step whose
result is already present is skipped. Re-executes itself with sudo when not run as root.

Options:
  --apt-mirror URL       Debian mirror for the private download of Compose/buildx from
                         $COMPOSE_SUITE (Debian 12 only). Default: the host's own Debian mirror, as
                         configured in /etc/apt, else http://deb.debian.org/debian.
  --registry-mirror URL  Docker Hub mirror (for example in China). Merged into "registry-mirrors"
                         of $DAEMON_JSON (other keys kept, old file saved as daemon.json.bak);
                         a running engine is restarted to apply it. May be given several times.
  -h, --help             Show this help and exit.
EOF
}

log()  { printf '==> %s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# ---------------------------------------------------------------- options
ORIG_ARGS=("$@")
APT_MIRROR=""
REGISTRY_MIRRORS=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --apt-mirror|--registry-mirror)
            if [ $# -lt 2 ] || [ -z "$2" ]; then
                printf '%s: %s needs a URL\n' "$PROG" "$1" >&2; usage >&2; exit 2
            fi
            if [ "$1" = --apt-mirror ]; then APT_MIRROR=$2; else REGISTRY_MIRRORS+=("$2"); fi
            shift 2 ;;
        --apt-mirror=*)      APT_MIRROR=${1#*=}; shift ;;
        --registry-mirror=*) REGISTRY_MIRRORS+=("${1#*=}"); shift ;;
        *) printf '%s: unknown option: %s\n' "$PROG" "$1" >&2; usage >&2; exit 2 ;;
    esac
done
for url in "$APT_MIRROR" ${REGISTRY_MIRRORS[@]+"${REGISTRY_MIRRORS[@]}"}; do
    [ -z "$url" ] || [[ "$url" =~ ^https?://[^[:space:]]+$ ]] \
        || { printf '%s: not an http(s) URL: %s\n' "$PROG" "$url" >&2; usage >&2; exit 2; }
done

# ---------------------------------------------------------------- root
# Everything below changes the system; re-run as root through sudo rather than fail halfway.
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "must be run as root (sudo is not installed)"
    exec sudo -- bash "$(readlink -f "${BASH_SOURCE[0]}")" ${ORIG_ARGS[@]+"${ORIG_ARGS[@]}"}
fi

export DEBIAN_FRONTEND=noninteractive
# sudo's secure_path may lack /usr/local/bin; the plugins and the upstream CLI live there.
case ":$PATH:" in *:/usr/local/bin:*) ;; *) PATH=/usr/local/bin:$PATH ;; esac

# ---------------------------------------------------------------- distribution
[ -r /etc/os-release ] || die "/etc/os-release not found: unsupported system"
# shellcheck disable=SC1091
OS_ID=$(. /etc/os-release && echo "${ID:-}")
# shellcheck disable=SC1091
OS_VERSION=$(. /etc/os-release && echo "${VERSION_ID:-}")
# shellcheck disable=SC1091
OS_CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
case "$OS_ID" in
    debian)
        # testing/sid have no VERSION_ID: they are newer than 13, treat them so.
        OS_MAJOR=${OS_VERSION%%.*}; OS_MAJOR=${OS_MAJOR:-99}
        [ "$OS_MAJOR" -ge 12 ] || warn "Debian $OS_VERSION is older than 12: not tested" ;;
    ubuntu)
        case "$OS_VERSION" in 22.04|24.04) ;; *) warn "Ubuntu $OS_VERSION is not 22.04/24.04: not tested" ;; esac ;;
    *) die "unsupported distribution '$OS_ID' (need Debian 12/13 or Ubuntu 22.04/24.04)" ;;
esac
log "host: $OS_ID ${OS_VERSION:-$OS_CODENAME}"
APT_HINT=""
[ "$OS_ID" != ubuntu ] || APT_HINT=" (on Ubuntu, docker.io and docker-compose-v2 are in the universe component: is it enabled?)"

# ---------------------------------------------------------------- apt helpers
# Wait for a lock held by another apt/dpkg (shared machines) instead of failing at once.
APT_OPTS=(-q -o DPkg::Lock::Timeout=300)
APT_UPDATED=no

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

apt_update_once() {
    [ "$APT_UPDATED" = yes ] && return 0
    log "apt-get update"
    apt-get "${APT_OPTS[@]}" -qq update || die "apt-get update failed (see messages above)"
    APT_UPDATED=yes
}

# Installs the packages given that are not installed yet; no-op (and no apt-get update) otherwise.
apt_install() {
    local p missing=()
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    apt_update_once
    log "apt-get install ${missing[*]}"
    apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed${APT_HINT:-}"
}

apt_has_candidate() {
    local c
    c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    [ -n "$c" ] && [ "$c" != "(none)" ]
}

# ---------------------------------------------------------------- 1. packages
engine_answers() { docker info >/dev/null 2>&1; }

pkgs=(ca-certificates debootstrap)
# docker-ce/moby from other repositories conflict with docker.io: keep an engine that is there.
if pkg_installed docker-ce || pkg_installed moby-engine; then
    log "Docker Engine from docker-ce/moby-engine already installed: not installing docker.io"
else
    # xz-utils: `docker load/import` of .xz archives shells out to xz (a Recommends we skip).
    pkgs+=(docker.io xz-utils)
    # We skip Recommends (git, needrestart...), but with AppArmor active dockerd needs apparmor_parser.
    if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || true)" = Y ]; then
        pkgs+=(apparmor)
    fi
fi
apt_install "${pkgs[@]}"
# Debian 13 moved the client out of docker.io into docker-cli (a Recommends, which we skip).
if pkg_installed docker.io && [ ! -x /usr/bin/docker ]; then
    apt_install docker-cli
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"
command -v docker >/dev/null 2>&1 || die "docker CLI not found after installing docker.io"

# ---------------------------------------------------------------- 2. daemon.json (registry mirrors)
DAEMON_JSON_CHANGED=no
if [ ${#REGISTRY_MIRRORS[@]} -gt 0 ]; then
    apt_install jq   # merge JSON safely, keeping the other keys
    mkdir -p "$(dirname "$DAEMON_JSON")"
    mirrors_json=$(printf '%s\n' "${REGISTRY_MIRRORS[@]}" | jq -R . | jq -s .)
    if [ -s "$DAEMON_JSON" ]; then
        old=$(jq -S . "$DAEMON_JSON") || die "$DAEMON_JSON is not valid JSON: fix it or remove it"
        # Given mirrors first (tried first), then the ones already there; no duplicates.
        new=$(jq -S --argjson m "$mirrors_json" \
            '.["registry-mirrors"] = ([$m[], ((.["registry-mirrors"] // [])[])] | reduce .[] as $x ([]; if index([$x]) then . else . + [$x] end))' \
            "$DAEMON_JSON")
    else
        old=""
        new=$(jq -nS --argjson m "$mirrors_json" '{"registry-mirrors": $m}')
    fi
    if [ "$new" != "$old" ]; then
        if [ -e "$DAEMON_JSON" ]; then
            cp -p "$DAEMON_JSON" "$DAEMON_JSON.bak"
            log "saved previous $DAEMON_JSON as $DAEMON_JSON.bak"
        fi
        printf '%s\n' "$new" > "$DAEMON_JSON.tmp" && mv -f "$DAEMON_JSON.tmp" "$DAEMON_JSON"
        log "registry-mirrors in $DAEMON_JSON: ${REGISTRY_MIRRORS[*]}"
        DAEMON_JSON_CHANGED=yes
    else
        log "registry-mirrors already set in $DAEMON_JSON"
    fi
fi

# ---------------------------------------------------------------- 3. engine
if [ "$(cat /proc/1/comm 2>/dev/null || true)" = systemd ] && [ -d /run/systemd/system ]; then
    INIT=systemd
else
    INIT=none   # containers, WSL1, micro-VMs: no service manager, run dockerd ourselves
fi

ENGINE_FAILURE="did not answer \"docker info\" within ${START_TIMEOUT}s"
wait_for_engine() {   # $1: pid of our dockerd, if we started one (to stop waiting when it dies)
    local i
    for ((i = 0; i < START_TIMEOUT; i++)); do
        engine_answers && return 0
        if [ -n "${1:-}" ] && ! kill -0 "$1" 2>/dev/null; then
            ENGINE_FAILURE="exited while starting (dockerd pid $1)"
            return 1
        fi
        sleep 1
    done
    return 1
}

engine_failed() {
    printf '%s: error: Docker Engine %s\n' "$PROG" "$ENGINE_FAILURE" >&2
    if [ "$INIT" = systemd ]; then
        systemctl --no-pager status docker >&2 || true
        journalctl --no-pager -u docker -n 30 >&2 || true
    else
        printf -- '--- last lines of %s ---\n' "$DOCKERD_LOG" >&2
        tail -n 30 "$DOCKERD_LOG" >&2 || true
    fi
    exit 1
}

dockerd_pid() {   # pid of a running dockerd, if any
    local pid
    pid=$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
    # Else scan /proc (procps/pgrep is not on minimal systems).
    for pid in /proc/[0-9]*; do
        if [ "$(cat "$pid/comm" 2>/dev/null || true)" = dockerd ]; then echo "${pid#/proc/}"; return 0; fi
    done
    return 1
}

start_engine() {
    if [ "$INIT" = systemd ]; then
        log "systemctl enable --now docker"
        systemctl enable --now docker || engine_failed
        wait_for_engine || engine_failed
        return 0
    fi
    local pid
    pid=$(dockerd_pid || true)
    if [ -n "$pid" ]; then
        # Someone (another run, a colleague) is starting it already: wait, do not start a second one.
        log "dockerd (pid $pid) is running but not answering yet: waiting"
        wait_for_engine "$pid" && return 0
        kill -0 "$pid" 2>/dev/null && engine_failed   # alive but still silent after the timeout
        # It exited instead (it was shutting down, or failed): start our own.
        ENGINE_FAILURE="did not answer \"docker info\" within ${START_TIMEOUT}s"
    fi
    log "starting dockerd in the background (log: $DOCKERD_LOG)"
    # New session + nohup: dockerd outlives this script and the terminal that ran it.
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    pid=$!
    wait_for_engine "$pid" || engine_failed
}

stop_engine() {   # no service manager: SIGTERM dockerd and wait until it is gone
    local pid i
    pid=$(dockerd_pid || true)
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    die "dockerd (pid $pid) did not stop within 30s"
}

if engine_answers; then
    if [ "$DAEMON_JSON_CHANGED" = yes ]; then
        log "restarting Docker Engine to apply $DAEMON_JSON"
        if [ "$INIT" = systemd ]; then
            systemctl restart docker || engine_failed
            wait_for_engine || engine_failed
        else
            stop_engine
            start_engine
        fi
    else
        log "Docker Engine is running"
    fi
else
    start_engine
fi

# ---------------------------------------------------------------- 4. Compose v2 + buildx
# Major version of `docker compose` (0 when absent). Debian builds print "2.26.1", upstream "v2.26.1".
compose_major() {
    { docker compose version --short 2>/dev/null || true; } | sed -n 's/^v\{0,1\}\([0-9][0-9]*\)\..*/\1/p' | head -n 1
}
compose_ok() { local m; m=$(compose_major); [ "${m:-0}" -ge 2 ]; }
buildx_ok()  { docker buildx version >/dev/null 2>&1; }

# The host's Debian mirror, chosen by djstack's own rules: default_mirror() of
# src/djstack/baseimages/mirror.py, the mirror `djstack images` builds from (one set of rules, tested
# in tests/test_baseimages.py). Run by the system python3 with its standard library alone (-I -S):
# djstack's virtualenv does not exist yet. $1: the root whose etc/apt is read (default /).
detect_debian_mirror() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -I -S -c 'import sys; sys.path.insert(0, sys.argv[1])
from djstack.baseimages.mirror import default_mirror
print(default_mirror(sys.argv[2]))' "$DJSTACK_SRC" "${1:-/}" && return 0
    fi
    warn "python3 cannot read the host's Debian mirror: using http://deb.debian.org/debian (--apt-mirror URL chooses another)"
    echo http://deb.debian.org/debian
}

# Debian 12 only ships Compose v1: fetch the v2 packages of $COMPOSE_SUITE with a private apt
# configuration (own state, cache and sources; the host's apt sources are not touched) and install
# just their binaries as CLI plugins (Go programs that need only glibc >= 2.34: fine on Debian 12).
install_plugins_from_debian_suite() {   # $@: packages (docker-compose and/or docker-buildx)
    local mirror keyring work aptc out rc pkg deb bin
    mirror=${APT_MIRROR:-$(detect_debian_mirror)}
    mirror=${mirror%/}
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -r "$keyring" ] || apt_install debian-archive-keyring
    log "downloading $* from $COMPOSE_SUITE at $mirror (private apt configuration)"

    work=$(mktemp -d /tmp/djstack-compose.XXXXXX)
    # shellcheck disable=SC2064   # expand $work now: it is local
    trap "rm -rf '$work'" EXIT
    mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/sources.list.d" \
             "$work/preferences.d" "$work/debs"
    touch "$work/state/status"
    printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$COMPOSE_SUITE" > "$work/sources.list"
    # apt downloads as user _apt: let it write there (else it warns and downloads unsandboxed).
    chmod 0755 "$work"
    if id _apt >/dev/null 2>&1; then
        chown _apt "$work/state/lists/partial" "$work/cache/archives/partial" "$work/debs"
    fi
    # The host's apt.conf.d is kept on purpose (proxy settings); sources and pins are ours.
    aptc=(-o "Dir::State=$work/state" -o "Dir::State::status=$work/state/status"
          -o "Dir::Cache=$work/cache"
          -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/sources.list.d"
          -o "Dir::Etc::Preferences=$work/preferences" -o "Dir::Etc::PreferencesParts=$work/preferences.d"
          -o "DPkg::Lock::Timeout=300")

    rc=0
    out=$(apt-get -q "${aptc[@]}" update 2>&1) || rc=$?
    if [ $rc -ne 0 ] || grep -Eq 'NO_PUBKEY|EXPKEYSIG|BADSIG|not signed|signature|^(E|W): ' <<<"$out"; then
        printf '%s\n' "$out" >&2
        if grep -Eq 'NO_PUBKEY|EXPKEYSIG|BADSIG|not signed|signature' <<<"$out"; then
            die "cannot verify the $COMPOSE_SUITE Release file at $mirror with $keyring: the host's debian-archive-keyring is too old for $COMPOSE_SUITE (upgrade it: apt-get install debian-archive-keyring) or the mirror is bad"
        fi
        [ $rc -eq 0 ] || die "apt-get update of $COMPOSE_SUITE at $mirror failed"
    fi
    log "$COMPOSE_SUITE Release file verified with $keyring"

    (cd "$work/debs" && apt-get -q "${aptc[@]}" download "$@") \
        || die "could not download $* from $COMPOSE_SUITE at $mirror"

    mkdir -p "$PLUGIN_DIR"
    for pkg in "$@"; do
        deb=$(find "$work/debs" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
        [ -n "$deb" ] || die "download of $pkg produced no .deb"
        dpkg-deb -x "$deb" "$work/x-$pkg"
        bin=$(find "$work/x-$pkg" -type f -path '*/cli-plugins/*' -name "$pkg" | head -n 1)
        [ -n "$bin" ] || die "no cli-plugins/$pkg binary inside $(basename "$deb")"
        # Check it runs here (glibc, architecture) before putting it in place.
        "$bin" version >/dev/null 2>&1 || "$bin" docker-cli-plugin-metadata >/dev/null 2>&1 \
            || die "$pkg from $(basename "$deb") does not run on this host"
        # Copy then rename: never a half-written plugin, even if a docker command reads it meanwhile.
        install -m 0755 "$bin" "$PLUGIN_DIR/.$pkg.new"
        mv -f "$PLUGIN_DIR/.$pkg.new" "$PLUGIN_DIR/$pkg"
        log "installed $PLUGIN_DIR/$pkg from $(basename "$deb")"
    done
    rm -rf "$work"
    trap - EXIT
}

# A packaged plugin that the `docker` first on PATH does not see (e.g. an unusual CLI build):
# link it into $PLUGIN_DIR, which every docker CLI reads.
link_packaged_plugin() {   # $1: docker-compose or docker-buildx
    local d
    for d in /usr/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins; do
        if [ -x "$d/$1" ] && [ ! -e "$PLUGIN_DIR/$1" ]; then
            mkdir -p "$PLUGIN_DIR"
            ln -s "$d/$1" "$PLUGIN_DIR/$1"
            log "linked $PLUGIN_DIR/$1 -> $d/$1"
            return 0
        fi
    done
}

need=()
if compose_ok; then
    log "Compose v2 present: $(docker compose version --short 2>/dev/null)"
else
    need+=(docker-compose)
fi
if buildx_ok; then
    log "buildx present: $(docker buildx version 2>/dev/null | head -n 1)"
else
    need+=(docker-buildx)
fi

if [ ${#need[@]} -gt 0 ]; then
    case "$OS_ID" in
        ubuntu)
            pkgs=()
            for p in "${need[@]}"; do
                case "$p" in
                    docker-compose) pkgs+=(docker-compose-v2) ;;   # Ubuntu's docker-compose is v1
                    docker-buildx)
                        apt_update_once
                        if apt_has_candidate docker-buildx; then pkgs+=(docker-buildx)
                        else warn "no docker-buildx package on this Ubuntu: compose builds use the engine's builder"; fi ;;
                esac
            done
            [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}" ;;
        debian)
            if [ "$OS_MAJOR" -ge 13 ]; then
                apt_install "${need[@]}"   # docker-compose is v2 from Debian 13 on
            else
                install_plugins_from_debian_suite "${need[@]}"
            fi ;;
    esac
    for p in "${need[@]}"; do
        case "$p" in
            docker-compose) compose_ok || link_packaged_plugin docker-compose ;;
            docker-buildx)  buildx_ok  || link_packaged_plugin docker-buildx ;;
        esac
    done
fi

compose_ok || die "\`docker compose version\` does not report v2 after installation ($(command -v docker))"

# Compose >= 2.40 refuses to build with buildx < 0.17: warn about a mixed pair.
compose_v=$(docker compose version --short 2>/dev/null | sed 's/^v//')
buildx_v=$(docker buildx version 2>/dev/null | awk '{print $2}' | sed 's/^v//; s/[+-].*//' || true)
if [ -n "$buildx_v" ] && [ "$(printf '%s\n' 2.40 "$compose_v" | sort -V | head -n 1)" = 2.40 ] \
        && [ "$(printf '%s\n' 0.17 "$buildx_v" | sort -V | head -n 1)" != 0.17 ]; then
    warn "Compose $compose_v needs buildx >= 0.17 to build, found $buildx_v"
fi

# ---------------------------------------------------------------- 5. summary
echo
echo "docker CLI:     $(command -v docker) $(docker version --format '{{.Client.Version}}' 2>/dev/null || true)"
echo "Docker Engine:  $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
echo "Compose:        $(docker compose version)"
echo "buildx:         $(docker buildx version 2>/dev/null || echo 'not installed')"
echo "debootstrap:    $(dpkg-query -W -f='${Version}' debootstrap)"
echo "ready: Docker Engine, Compose v2 and debootstrap are installed and the engine is running"
