"""Programs djstack runs on the host besides docker: git (release tags), openssl (certificates),
the root filesystem's tools (debootstrap's tree packed with tar, unmounted when a run failed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..execute import Command


def git(root: Path, *args: str) -> Command:
    return Command(("git", "-C", str(root), *args), timeout=30)


def git_head(root: Path) -> Command:
    return git(root, "rev-parse", "--short=12", "HEAD")


def git_changes(root: Path) -> Command:
    """Uncommitted changes, untracked files too (a new migration is a change)."""
    return git(root, "status", "--porcelain")


def openssl(*args: str) -> Command:
    return Command(("openssl", *args), timeout=60)


def self_signed(cert: Path, key: Path, days: int, domains: Sequence[str]) -> Command:
    """A new P-256 key and a certificate for `domains` (the first is the subject's CN), fit for a
    server only (not a CA), without a passphrase: nginx starts with nobody to type one."""
    san = ",".join(f"DNS:{d}" for d in domains)
    return openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                   "-keyout", str(key), "-out", str(cert), "-days", str(days),
                   "-subj", f"/CN={domains[0]}", "-addext", f"subjectAltName={san}",
                   "-addext", "basicConstraints=critical,CA:FALSE",
                   "-addext", "extendedKeyUsage=serverAuth")


def x509_pubkey(cert: Path) -> Command:
    """The certificate's public key (PEM); fails when the file is no PEM certificate."""
    return openssl("x509", "-in", str(cert), "-noout", "-pubkey")


def key_pubkey(key: Path) -> Command:
    """The private key's public half (PEM); an empty passphrase makes an encrypted key fail, not prompt."""
    return openssl("pkey", "-in", str(key), "-pubout", "-passin", "pass:")


def x509_expired(cert: Path) -> Command:
    """Exits non-zero when the certificate has expired (`-checkend 0`: expires within 0 seconds)."""
    return openssl("x509", "-in", str(cert), "-noout", "-checkend", "0")


def x509_end(cert: Path) -> Command:
    """`notAfter=…`: the end of the certificate's validity (openssl's English date, GMT)."""
    return openssl("x509", "-in", str(cert), "-noout", "-enddate")


def x509_issuer_subject(cert: Path) -> Command:
    """Two lines: `issuer=…` and `subject=…` of the certificate."""
    return openssl("x509", "-noout", "-issuer", "-subject", "-in", str(cert))


def x509_names(cert: Path) -> Command:
    """The certificate's subjectAltName extension, as text."""
    return openssl("x509", "-in", str(cert), "-noout", "-ext", "subjectAltName")


DEBOOTSTRAP_SCRIPTS = Path("/usr/share/debootstrap/scripts")

#: Suites newer than the host's debootstrap may be: their bootstrap is sid's (Debian 12's
#: debootstrap has no forky script; `debootstrap forky ROOT MIRROR .../scripts/sid` works).
_LIKE_SID = ("forky", "duke", "testing", "unstable")


def debootstrap(program: str, suite: str, rootfs: Path, mirror: str, env: Mapping[str, str],
                scripts: Path = DEBOOTSTRAP_SCRIPTS) -> Command:
    """A minbase tree of `suite` from `mirror` in `rootfs`, by `program` (debootstrap's resolved
    path), reading nothing (no prompt can wait for an answer)."""
    argv = [program, "--variant=minbase", "--include=ca-certificates", suite, str(rootfs), mirror]
    if not (scripts / suite).exists() and suite in _LIKE_SID and (scripts / "sid").exists():
        argv.append(str(scripts / "sid"))
    return Command(tuple(argv), stdin=b"", env=dict(env))


def pack_tree(tree: Path, tarball: Path) -> Command:
    """`tar --numeric-owner`: owners by number, so the image does not depend on the host's /etc/passwd."""
    return Command(("tar", "--numeric-owner", "-C", str(tree), "-cf", str(tarball), "."))


def unmount(point: str) -> Command:
    return Command(("umount", "-l", point))
