"""The root filesystem image of a Debian suite: debootstrap, slimmed, `docker import`ed.

Slimmed the way the official debian:*-slim images are (debuerreotype's "slimify"); the config files
written into the tree are shipped in `rootfs-files/` beside this module.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from .. import execute
from ..commands import docker as dc
from ..commands import host
from ..errors import DjstackError, ProgramMissing
from ..imagesets import DEBIAN_SUITE, rootfs_image
from .log import BUILD_TIMEOUT, Log, fail, image_size
from .mirror import SuiteSources, security_mirror

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def config_file(name: str) -> str:
    """One of the files in rootfs-files/ (dpkg-excludes, apt.conf, policy-rc.d)."""
    return resources.files(__package__).joinpath("rootfs-files", name).read_text(encoding="utf-8")


def check_debootstrap() -> str:
    path = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if path is None:
        raise ProgramMissing(
            "debootstrap",
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


def sources_text(mirror: str, suite: str = DEBIAN_SUITE, *, updates: bool = True, security: bool = True) -> str:
    """The images' /etc/apt/sources.list.d/debian.sources (deb822, like the official images).

    `updates`/`security`: whether to list SUITE-updates and SUITE-security (the latter only when
    the mirror has a debian-security archive beside it); pass what the mirror serves.
    """
    mirror = mirror.rstrip("/")
    suites = f"{suite} {suite}-updates" if updates else suite
    text = (
        f"# djstack: the Debian mirror these images were built from.\n"
        f"Types: deb\nURIs: {mirror}\nSuites: {suites}\n"
        f"Components: main\nSigned-By: {KEYRING}\n"
    )
    if security and (archive := security_mirror(mirror)):
        text += (
            f"\nTypes: deb\nURIs: {archive}\nSuites: {suite}-security\n"
            f"Components: main\nSigned-By: {KEYRING}\n"
        )
    return text


def slim_rootfs(rootfs: Path, mirror: str, sources: SuiteSources) -> None:
    """Turn a fresh debootstrap tree into what the official slim images ship."""
    etc = rootfs / "etc"
    (etc / "dpkg" / "dpkg.cfg.d" / "docker-slim").write_text(config_file("dpkg-excludes"))
    (etc / "apt" / "apt.conf.d" / "docker").write_text(config_file("apt.conf"))
    policy = rootfs / "usr" / "sbin" / "policy-rc.d"
    policy.write_text(config_file("policy-rc.d"))
    policy.chmod(0o755)

    # Apt sources: deb822, like the official images; debootstrap's one-line file goes.
    (etc / "apt" / "sources.list").unlink(missing_ok=True)
    (etc / "apt" / "sources.list.d").mkdir(exist_ok=True)
    text = sources_text(mirror, sources.suite, updates=sources.updates, security=sources.security is not None)
    (etc / "apt" / "sources.list.d" / "debian.sources").write_text(text)

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
        execute.run(host.unmount(point), check=False)
    if _mounts_under(path):
        return  # never recurse into a live /proc or /dev: leave the directory for a human
    shutil.rmtree(path, ignore_errors=True)


def build_rootfs(mirror: str, sources: SuiteSources, log: Log, say: Callable[[str], None]) -> str:
    """debootstrap SUITE, slim it, import it as djstack.local/debian:SUITE; returns that name."""
    suite = sources.suite
    image = rootfs_image(suite)
    debootstrap = check_debootstrap()
    workdir = Path(tempfile.mkdtemp(prefix=f"djstack-rootfs-{suite}-", dir=_scratch_parent()))
    rootfs = workdir / "rootfs"
    env = {"LC_ALL": "C", "PATH": os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"}
    try:
        started = time.monotonic()
        say(f"debootstrap {suite} (minbase) from {mirror} ...")
        command = host.debootstrap(debootstrap, suite, rootfs, mirror, env)
        log.section("$ " + command.shown)
        code = execute.stream(command, lambda line: None, log.path, append=True)
        if code != 0:
            detail = rootfs / "debootstrap" / "debootstrap.log"
            if detail.exists():  # the real error is often only there
                log.section(f"{detail}")
                log.write(detail.read_text(errors="replace"))
            raise fail(
                f"debootstrap failed (exit {code})",
                log.path.read_text(errors="replace"),
                log,
                f"Check that {mirror} serves Debian {suite} for this architecture, or pass another mirror.",
            )
        slim_rootfs(rootfs, mirror, sources)
        say(f"  root filesystem ready ({time.monotonic() - started:.0f} s)")

        started = time.monotonic()
        say(f"importing {image} ...")
        tarball = workdir / "rootfs.tar"
        # Written to a file and imported from it (the CLI streams it to the engine).
        command = host.pack_tree(rootfs, tarball)
        log.section("$ " + command.shown)
        proc = execute.run(command, check=False)
        log.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise fail("tar of the root filesystem failed", proc.stderr, log, "Check free disk space.")
        _import(tarball, image, suite, mirror, log)
        say(f"  {image} imported ({time.monotonic() - started:.0f} s, {image_size(image)})")
        return image
    finally:
        _remove_tree(workdir)


def _import(tarball: Path, image: str, suite: str, mirror: str, log: Log) -> None:
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        f"LABEL org.djstack.debian.suite={suite} org.djstack.debian.mirror={mirror}",
        'CMD ["bash"]',
    ]
    message = f"djstack: debootstrap --variant=minbase {suite} {mirror}"
    command = dc.import_rootfs(tarball, image, changes, message, BUILD_TIMEOUT)
    proc = log.run(command)
    if proc.returncode != 0:
        raise fail(
            f"docker import of {image} failed",
            proc.stderr,
            log,
            "Check the Docker engine's log and free disk space.",
        )
