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


def debootstrap(argv: Sequence[str], env: Mapping[str, str]) -> Command:
    """rootfs.debootstrap_command's argv, reading nothing (no prompt can wait for an answer)."""
    return Command(tuple(argv), stdin=b"", env=dict(env))


def pack_tree(tree: Path, tarball: Path) -> Command:
    """`tar --numeric-owner`: owners by number, so the image does not depend on the host's /etc/passwd."""
    return Command(("tar", "--numeric-owner", "-C", str(tree), "-cf", str(tarball), "."))


def unmount(point: str) -> Command:
    return Command(("umount", "-l", point))
