"""Local base images built from a Debian mirror alone: the `debian` image source.

For hosts that reach no container registry (China, air-gapped networks, our CI hosts), djstack
builds every base image a stack uses from nothing but a Debian mirror:

1. the root filesystem image (`DEBIAN_ROOTFS_IMAGE`): `debootstrap --variant=minbase` into a
   temporary directory, slimmed the way the official `debian:*-slim` images are, then
   `docker import`ed;
2. one image per service (`IMAGE_SETS["debian"]`), each built `FROM` the root filesystem image with
   a Dockerfile shipped in this package (`<dir>/Dockerfile`, see `_SERVICES`). Each honours the
   contract of the official image it stands in for, so one set of generated project files runs on
   either image source.

Builds take tens of seconds per step: progress goes to `say` one short line at a time, and the
full output of debootstrap and docker to a log file, named in any error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from .. import docker
from ..errors import DjstackError
from ..imagesets import DEBIAN_ROOTFS_IMAGE, DEBIAN_SUITE, IMAGE_SETS

__all__ = ["default_mirror", "missing_base_images", "build_base_images"]

FALLBACK_MIRROR = "http://deb.debian.org/debian"

#: Debian code names and archive names; a source whose suite (minus -updates, -security, ...) is
#: one of these is a Debian mirror (Ubuntu's jammy/noble and third-party repositories are not).
_DEBIAN_SUITES = frozenset(
    "buster bullseye bookworm trixie forky duke sid experimental "
    "oldoldstable oldstable stable testing unstable".split()
)

#: Image field -> package directory holding its Dockerfile, in build order (python-build is built
#: FROM python; the others FROM the root filesystem image).
_SERVICES: tuple[tuple[str, str], ...] = (
    ("python", "python"),
    ("python_build", "python-build"),
    ("db", "mariadb"),
    ("redis", "redis"),
    ("nginx", "nginx"),
)

_BUILD_TIMEOUT = 1800  # seconds; a cold mariadb build is about a minute on our CI hosts
_TAIL_LINES = 25


# --------------------------------------------------------------------------- mirror detection


def _suite_is_debian(suite: str) -> bool:
    base = suite.strip().rstrip("/").split("/")[0]
    for suffix in ("-proposed-updates", "-updates", "-backports-sloppy", "-backports", "-security"):
        if base.endswith(suffix):
            if suffix == "-security":
                return False  # the security archive is not the main mirror
            base = base[: -len(suffix)]
            break
    return base in _DEBIAN_SUITES


def _usable_uri(uri: str) -> str | None:
    """The mirror URL without its trailing slash, if containers can use it (http or https)."""
    uri = uri.strip()
    if not re.match(r"^https?://\S+$", uri):
        return None  # file:, cdrom:, mirror+file: ... are not reachable from containers
    return uri.rstrip("/")


def _deb822_mirrors(text: str) -> Iterator[str]:
    """URIs of enabled `Types: deb` stanzas with a Debian suite, from a deb822 .sources file."""
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is not None:  # continuation line of a multi-line field
                fields[last] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip().lower()
            fields[last] = value.strip()
    for st in stanzas:
        if st.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in st.get("types", "").split():
            continue
        if not any(_suite_is_debian(s) for s in st.get("suites", "").split()):
            continue
        if "main" not in st.get("components", "").split():
            continue  # e.g. download.docker.com's "bookworm stable": not the Debian archive
        for uri in st.get("uris", "").split():
            if usable := _usable_uri(uri):
                yield usable


def _one_line_mirrors(text: str) -> Iterator[str]:
    """URIs of `deb` lines with a Debian suite, from a one-line-style sources.list."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)  # drop options: deb [arch=amd64 signed-by=...] URI
        parts = line.split()
        if len(parts) < 4 or parts[0] != "deb" or "main" not in parts[3:]:
            continue
        if _suite_is_debian(parts[2]) and (usable := _usable_uri(parts[1])):
            yield usable


def default_mirror(root: str | os.PathLike[str] = "/") -> str:
    """The host's Debian mirror URL (no trailing slash), else http://deb.debian.org/debian.

    Looks, in this order, at the deb822 files /etc/apt/sources.list.d/*.sources (Debian 12+), at
    /etc/apt/sources.list, then at /etc/apt/sources.list.d/*.list, and takes the first http(s) URI
    of a `deb` entry whose suite is Debian's (bookworm, trixie, stable...; not -security) with the
    `main` component (third-party repositories naming a Debian suite rarely have one). An
    Ubuntu host, or one with no readable apt configuration, gets the fallback. `root` is prefixed
    to those paths (for tests).
    """
    apt = Path(root) / "etc" / "apt"
    candidates: list[tuple[Path, Callable[[str], Iterator[str]]]] = []
    candidates += [(p, _deb822_mirrors) for p in sorted((apt / "sources.list.d").glob("*.sources"))]
    candidates.append((apt / "sources.list", _one_line_mirrors))
    candidates += [(p, _one_line_mirrors) for p in sorted((apt / "sources.list.d").glob("*.list"))]
    for path, parse in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for uri in parse(text):
            return uri
    return FALLBACK_MIRROR


def security_mirror(mirror: str) -> str | None:
    """The debian-security archive next to `mirror`, when the mirror follows Debian's layout."""
    mirror = mirror.rstrip("/")
    return mirror + "-security" if mirror.endswith("/debian") else None


# --------------------------------------------------------------------------- image inventory


def _service_images() -> list[tuple[str, str]]:
    """(image name, package directory) for every service image, in build order, deduplicated."""
    images = IMAGE_SETS["debian"]
    seen: dict[str, str] = {}
    for field, directory in _SERVICES:
        seen.setdefault(getattr(images, field), directory)
    return list(seen.items())


def missing_base_images() -> list[str]:
    """Names from IMAGE_SETS["debian"] that are not present in the local engine."""
    return [name for name, _ in _service_images() if not docker.image_exists(name)]


# --------------------------------------------------------------------------- building


@dataclass
class _Log:
    """The one log file of a build run: every command's full output is appended to it."""

    path: Path

    def write(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8", errors="replace") as f:
            f.write(text if text.endswith("\n") else text + "\n")

    def section(self, title: str) -> None:
        self.write(f"\n===== {datetime.now():%Y-%m-%d %H:%M:%S} {title}\n")


def _new_log() -> _Log:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for directory in (Path(base) / "djstack" / "logs", Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"djstack-images-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
            path.touch()
            return _Log(path)
        except OSError:
            continue
    raise DjstackError(
        "Cannot create a log file for the image build.",
        "Check that $HOME/.cache or the temp dir is writable.",
    )


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join("    " + line for line in kept)


def _fail(what: str, output: str, log: _Log, fix: str) -> DjstackError:
    return DjstackError(
        f"{what}. Last lines of its output:\n{_tail(output)}\nFull output: {log.path}",
        fix,
    )


def _check_mirror(mirror: str) -> None:
    """Fail early, with a clear message, when MIRROR does not serve the suite we need."""
    if not re.match(r"^https?://\S+$", mirror):
        raise DjstackError(
            f"The Debian mirror must be an http(s) URL (containers use it too), not {mirror!r}.",
            "Pass the URL of an http(s) Debian mirror, e.g. http://deb.debian.org/debian.",
        )
    url = f"{mirror.rstrip('/')}/dists/{DEBIAN_SUITE}/Release"
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            head = resp.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        raise DjstackError(
            f"The Debian mirror {mirror} does not serve Debian {DEBIAN_SUITE}: {url} gave HTTP {exc.code}.",
            f"Pass the URL of a Debian mirror (the directory holding dists/{DEBIAN_SUITE}/).",
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DjstackError(
            f"The Debian mirror {mirror} is not reachable: {url} gave {reason}.",
            f"Check the network, or pass a mirror that serves Debian {DEBIAN_SUITE} "
            "(the host's own mirror is the default; see /etc/apt/sources.list.d/).",
        ) from exc
    if f"Codename: {DEBIAN_SUITE}" not in head:
        raise DjstackError(
            f"{url} does not look like the Release file of Debian {DEBIAN_SUITE}.",
            f"Pass the URL of a Debian mirror (the directory holding dists/{DEBIAN_SUITE}/).",
        )


def _check_debootstrap() -> str:
    path = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if path is None:
        raise DjstackError(
            "debootstrap is not installed; it builds the Debian root filesystem of the local images.",
            "Install it: `apt-get install -y debootstrap` (or run scripts/install-docker.sh).",
        )
    if os.geteuid() != 0:
        raise DjstackError(
            "Building the Debian root filesystem needs root (debootstrap creates device files "
            "and changes file owners).",
            "Run the command as root, e.g. with sudo.",
        )
    return path


def _scratch_parent() -> str:
    # /var/tmp rather than /tmp: /tmp is often a small tmpfs, sometimes mounted noexec or nodev,
    # and debootstrap has to execute programs and create device files in the tree.
    var_tmp = "/var/tmp"
    return var_tmp if os.access(var_tmp, os.W_OK) else tempfile.gettempdir()


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()).rstrip("/") + "/"
    found = []
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            point = line.split()[1].replace("\\040", " ")
            if point.startswith(prefix):
                found.append(point)
    except OSError:
        pass
    return sorted(found, reverse=True)


def _remove_tree(path: Path) -> None:
    """Remove a debootstrap tree, after unmounting anything a failed run left mounted in it."""
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True)
    if _mounts_under(path):
        return  # never recurse into a live /proc or /dev: leave the directory for a human
    shutil.rmtree(path, ignore_errors=True)


# Files the official slim images keep out of every package (debuerreotype's "slimify").
_DPKG_EXCLUDES = """\
# djstack: keep images slim the way the official debian:*-slim images are. dpkg skips these
# paths in every package installed from now on; copyright files stay (licences).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""

_APT_CONF = """\
// djstack: apt settings of the official Debian images, for building container images.
// Install only what is required: no recommended or suggested packages.
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::AutoRemove::SuggestsImportant "false";
// Keep no caches: downloaded .deb files and the binary package caches are deleted after each run.
// The package lists (/var/lib/apt/lists) are shipped empty; every Dockerfile RUN that calls
// `apt-get update` removes them again at its end, as with the official images.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
// No translated package descriptions; compressed lists while they exist.
Acquire::Languages "none";
Acquire::GzipIndexes "true";
// Mirrors are often frozen snapshots (air-gapped hosts, CI): the Release file of the security
// suite carries a Valid-Until date only 7 days ahead, after which apt would refuse the whole
// mirror. Signatures are still checked; only the expiry date is ignored.
Acquire::Check-Valid-Until "false";
"""

# invoke-rc.d consults this: exit 101 = "action forbidden", so package postinst scripts do not
# try to start daemons (mariadb, nginx, redis) during `docker build`. The official images ship it.
_POLICY_RC_D = """\
#!/bin/sh
# djstack: no daemons are started by package scripts inside container images.
exit 101
"""


def _sources(mirror: str) -> str:
    mirror = mirror.rstrip("/")
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    text = (
        f"# djstack: the Debian mirror these images were built from.\n"
        f"Types: deb\nURIs: {mirror}\nSuites: {DEBIAN_SUITE} {DEBIAN_SUITE}-updates\n"
        f"Components: main\nSigned-By: {keyring}\n"
    )
    if security := security_mirror(mirror):
        text += (
            f"\nTypes: deb\nURIs: {security}\nSuites: {DEBIAN_SUITE}-security\n"
            f"Components: main\nSigned-By: {keyring}\n"
        )
    return text


def _slim_rootfs(rootfs: Path, mirror: str) -> None:
    """Turn a fresh debootstrap tree into what the official slim images ship."""
    etc = rootfs / "etc"
    (etc / "dpkg" / "dpkg.cfg.d" / "docker-slim").write_text(_DPKG_EXCLUDES)
    (etc / "apt" / "apt.conf.d" / "docker").write_text(_APT_CONF)
    policy = rootfs / "usr" / "sbin" / "policy-rc.d"
    policy.write_text(_POLICY_RC_D)
    policy.chmod(0o755)

    # Apt sources: deb822, like the official images; debootstrap's one-line file goes.
    (etc / "apt" / "sources.list").unlink(missing_ok=True)
    (etc / "apt" / "sources.list.d").mkdir(exist_ok=True)
    (etc / "apt" / "sources.list.d" / "debian.sources").write_text(_sources(mirror))

    # What dpkg would now exclude, removed from the packages debootstrap already installed.
    share = rootfs / "usr" / "share"
    for name in ("man", "groff", "info", "lintian", "linda"):
        _empty_dir(share / name)
    for entry in _listdir(share / "locale"):
        if entry.name != "locale.alias":
            _remove(entry)
    for pkgdoc in _listdir(share / "doc"):
        if pkgdoc.is_dir() and not pkgdoc.is_symlink():
            for entry in _listdir(pkgdoc):
                if entry.name != "copyright":
                    _remove(entry)

    # No package lists, no downloaded packages, no logs, no host identity. Docker supplies
    # /dev, /etc/hostname, /etc/hosts and /etc/resolv.conf at run time.
    for directory in ("var/lib/apt/lists", "var/cache/apt", "dev", "tmp", "var/tmp", "run/mount"):
        _empty_dir(rootfs / directory)
    for dirpath, _dirs, files in os.walk(rootfs / "var" / "log"):  # keep the directories
        for name in files:
            _remove(Path(dirpath) / name)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "var/tmp").chmod(0o1777)
    for name in ("etc/resolv.conf", "etc/hostname", "var/cache/ldconfig/aux-cache", "etc/machine-id"):
        _remove(rootfs / name)
    shutil.rmtree(rootfs / "debootstrap", ignore_errors=True)


def _listdir(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except OSError:
        return []


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _empty_dir(path: Path) -> None:
    for entry in _listdir(path):
        _remove(entry)


def _build_rootfs(mirror: str, log: _Log, say: Callable[[str], None]) -> None:
    debootstrap = _check_debootstrap()
    workdir = Path(tempfile.mkdtemp(prefix="djstack-rootfs-", dir=_scratch_parent()))
    rootfs = workdir / "rootfs"
    env = dict(os.environ, LC_ALL="C")
    env["PATH"] = env.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    try:
        started = time.monotonic()
        say(f"debootstrap {DEBIAN_SUITE} (minbase) from {mirror} ...")
        cmd = [
            debootstrap, "--variant=minbase", "--include=ca-certificates",
            DEBIAN_SUITE, str(rootfs), mirror,
        ]  # fmt: skip
        log.section("$ " + " ".join(cmd))
        with log.path.open("a", encoding="utf-8") as out:
            proc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        if proc.returncode != 0:
            detail = rootfs / "debootstrap" / "debootstrap.log"
            if detail.exists():  # the real error is often only there
                log.section(f"{detail}")
                log.write(detail.read_text(errors="replace"))
            raise _fail(
                f"debootstrap failed (exit {proc.returncode})",
                log.path.read_text(errors="replace"),
                log,
                f"Check that {mirror} serves Debian {DEBIAN_SUITE} for this architecture, or pass "
                "another mirror.",
            )
        _slim_rootfs(rootfs, mirror)
        say(f"  root filesystem ready ({time.monotonic() - started:.0f} s)")

        started = time.monotonic()
        say(f"importing {DEBIAN_ROOTFS_IMAGE} ...")
        tarball = workdir / "rootfs.tar"
        # `tar --numeric-owner`: owners by number, so the image does not depend on the host's
        # /etc/passwd. Written to a file and imported from it (the CLI streams it to the engine).
        cmd = ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."]
        log.section("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        log.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise _fail("tar of the root filesystem failed", proc.stderr, log, "Check free disk space.")
        _import(tarball, mirror, log)
        elapsed = time.monotonic() - started
        say(f"  {DEBIAN_ROOTFS_IMAGE} imported ({elapsed:.0f} s, {_size(DEBIAN_ROOTFS_IMAGE)})")
    finally:
        _remove_tree(workdir)


def _import(tarball: Path, mirror: str, log: _Log) -> None:
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        f"LABEL org.djstack.debian.suite={DEBIAN_SUITE} org.djstack.debian.mirror={mirror}",
        'CMD ["bash"]',
    ]
    args = ["import"]
    for change in changes:
        args += ["--change", change]
    message = f"djstack: debootstrap --variant=minbase {DEBIAN_SUITE} {mirror}"
    args += ["--message", message, str(tarball), DEBIAN_ROOTFS_IMAGE]
    log.section("$ docker " + " ".join(args))
    proc = docker.run(args, check=False, timeout=_BUILD_TIMEOUT)
    log.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise _fail(
            f"docker import of {DEBIAN_ROOTFS_IMAGE} failed",
            proc.stderr,
            log,
            "Check the Docker engine's log and free disk space.",
        )


def _copy_context(directory: str, dest: Path) -> None:
    """Copy a Dockerfile directory out of the package (works for any importlib loader)."""

    def copy(src, dst: Path) -> None:
        dst.mkdir(parents=True, exist_ok=True)
        for entry in src.iterdir():
            if entry.name == "__pycache__":
                continue
            if entry.is_dir():
                copy(entry, dst / entry.name)
            else:
                target = dst / entry.name
                target.write_bytes(entry.read_bytes())
                # Package data loses file modes: scripts are made executable here (the build
                # context's modes are what COPY puts in the image).
                target.chmod(0o755 if entry.name.endswith(".sh") else 0o644)

    src = resources.files(__name__).joinpath(directory)
    if not src.is_dir():
        raise DjstackError(
            f"djstack is incomplete: its Dockerfile directory {directory!r} is missing.",
            "Reinstall djstack.",
        )
    copy(src, dest)


def _build_service(name: str, directory: str, base: str, mirror: str, log: _Log) -> None:
    with tempfile.TemporaryDirectory(prefix=f"djstack-{directory}-") as tmp:
        context = Path(tmp)
        _copy_context(directory, context)
        args = [
            "build",
            "--build-arg", f"BASE_IMAGE={base}",
            "--label", f"org.djstack.debian.mirror={mirror}",
            "--tag", name,
            str(context),
        ]  # fmt: skip
        log.section("$ docker " + " ".join(args))
        proc = docker.run(args, check=False, timeout=_BUILD_TIMEOUT)
        log.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise _fail(
                f"Building {name} failed (docker build exit {proc.returncode})",
                proc.stdout + proc.stderr,
                log,
                f"If apt failed, check that containers reach the mirror {mirror}; otherwise see the "
                "log. Then run the command again: images already built are kept.",
            )


def _size(name: str) -> str:
    proc = docker.run(["image", "inspect", "--format", "{{.Size}}", name], check=False, timeout=60)
    try:
        return f"{int(proc.stdout.strip()) / 1e6:.0f} MB"
    except ValueError:
        return "size unknown"


def build_base_images(
    mirror: str | None = None,
    *,
    rebuild: bool = False,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Build the local `debian` base images that are missing (all of them with `rebuild`).

    Returns the names built, the root filesystem image included when it was built. Nothing to
    build means no debootstrap, no mirror access and an empty list. `mirror` defaults to the
    host's Debian mirror (`default_mirror()`); it must serve Debian trixie over http(s), and is
    also what apt inside the images uses. The root filesystem step needs debootstrap and root.
    Images already present are kept when a later step fails, so a rerun resumes.
    """
    docker.require_engine()
    wanted = [(n, d) for n, d in _service_images() if rebuild or not docker.image_exists(n)]
    if not wanted:
        return []
    # python-build is built FROM python; every other image FROM the root filesystem image.
    need_rootfs = rebuild or (
        any(d != "python-build" for _, d in wanted) and not docker.image_exists(DEBIAN_ROOTFS_IMAGE)
    )

    mirror = (mirror or default_mirror()).rstrip("/")
    if need_rootfs:
        _check_debootstrap()  # fail before anything slow
    _check_mirror(mirror)
    log = _new_log()
    say(f"Building {len(wanted) + need_rootfs} image(s) from {mirror}; full output in {log.path}")

    built: list[str] = []
    if need_rootfs:
        _build_rootfs(mirror, log, say)
        built.append(DEBIAN_ROOTFS_IMAGE)

    images = IMAGE_SETS["debian"]
    for name, directory in wanted:
        base = images.python if directory == "python-build" else DEBIAN_ROOTFS_IMAGE
        started = time.monotonic()
        say(f"building {name} ...")
        _build_service(name, directory, base, mirror, log)
        built.append(name)
        say(f"  {name} built ({time.monotonic() - started:.0f} s, {_size(name)})")
    return built
