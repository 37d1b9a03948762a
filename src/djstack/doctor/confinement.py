"""Findings of the containers' confinement (model.CONFINEMENT): every service's root filesystem is
read-only, and it writes only to its volumes and its tmpfs mounts, which are memory of a fixed size.

A failed write says where it went (evidence.py's `disk-full` and `read-only-fs` facts name the path);
the model says what is there. errno 28 on a path under one of the service's tmpfs mounts is that tmpfs
full, not the host's disk; errno 30 is a write outside every place the service may write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..model import Confinement, Stack, limit_keys
from .evidence import DB, TEMPORARY, WEB, Evidence, Fact
from .finding import CONFIG, ERROR, MEMORY, Finding

#: Facts of a write refused for want of space: ENOSPC in any service's words, and the MySQL codes
#: web receives for it (db-disk-full's triggers too).
NO_SPACE = ("disk-full", "os-error:28", "mysql:1021", "mysql:1114")
READ_ONLY = ("read-only-fs",)


@dataclass(frozen=True)
class Write:
    """One line's failed write: the service whose filesystem it was on, and the path ("" when the
    line names none)."""

    service: str  # a model service key
    path: str
    fact: Fact


def failed_writes(stack: Stack, evidence: Evidence, keys: tuple[str, ...]) -> list[Write]:
    """One per line that states a fact of `keys`, with the path one of its facts names (a line may
    state several: MariaDB's `Errcode: 28` is an os-error and a disk-full)."""
    by_line: dict[tuple[str, int, str], Write] = {}
    for fact in evidence.of(*keys):
        line = (fact.source, fact.index, fact.line)
        service = DB if fact.kind == "mysql" else fact.source
        write = Write(service, _absolute(stack, service, fact.subject), fact)
        if line not in by_line or (write.path and not by_line[line].path):
            by_line[line] = write
    return list(by_line.values())


def _absolute(stack: Stack, service: str, path: str) -> str:
    # A MySQL error's subject is a database unless it is a path. MariaDB names a temporary table
    # without its folder, the tmpdir; InnoDB its files from its data folder.
    if service == DB and re.fullmatch(TEMPORARY, path):
        return f"{stack.paths.mysql_tmp}/#sql… (a temporary table)"
    if service == DB and path.startswith("./"):
        return f"{stack.paths.mysql_data}/{path.removeprefix('./')}"
    return path if path.startswith("/") else ""


def tmpfs_at(stack: Stack, service: str, path: str) -> tuple[str, str, str] | None:
    """The tmpfs (mount, size, what it holds) of `service` that holds `path`: the deepest mount over it."""
    mounts = [m for m in stack.confinement.get(service, Confinement()).tmpfs
              if path == m[0] or path.startswith(m[0].rstrip("/") + "/")]
    return max(mounts, key=lambda m: len(m[0]), default=None)


def host_disk_ruled_out(stack: Stack, evidence: Evidence, sources: tuple[str, ...]) -> bool:
    """Every errno 28 of `sources` that names its path names one on a tmpfs (and one does): what
    filled is memory the service was given, not the host's disk."""
    placed = [w for w in failed_writes(stack, evidence, NO_SPACE) if w.path and w.fact.source in sources]
    return bool(placed) and all(tmpfs_at(stack, w.service, w.path) for w in placed)


def tmpfs_full(stack: Stack, evidence: Evidence, names: Mapping[str, str]) -> list[Finding]:
    """A tmpfs a service writes to is full: its size (and the memory limit it counts in) is too small
    for what the service keeps there."""
    by_mount: dict[tuple[str, tuple[str, str, str]], list[Write]] = {}
    for write in failed_writes(stack, evidence, NO_SPACE):
        mount = tmpfs_at(stack, write.service, write.path) if write.path else None
        if mount is not None:
            by_mount.setdefault((write.service, mount), []).append(write)
    found = []
    for (key, (mount, size, holds)), writes in by_mount.items():
        name, compose = names[key], stack.from_root(stack.files.compose)
        memory = limit_keys(key)[0]
        found.append(Finding(
            f"{key}-tmpfs-full", ERROR,
            f"{name}'s tmpfs {mount} ({size} of memory) is full: writing {writes[-1].path} fails "
            "(errno 28, not the host's disk)",
            f"{mount} holds {holds}. Raise its size in {compose} (`- {mount}:size={size}` under {name}'s "
            f"tmpfs) and {name}'s memory limit by as much ({memory} in {stack.from_root(stack.files.env)}, "
            f"{stack.limits[key][0]} now: a tmpfs is memory and counts in mem_limit); then "
            f"`docker compose up -d --force-recreate {name}`.", MEMORY, name, _lines(writes, names)))
    return found


def read_only_writes(stack: Stack, evidence: Evidence, names: Mapping[str, str]) -> list[Finding]:
    """A service writes where its confinement lets it not: on its read-only root filesystem."""
    by_service: dict[str, list[Write]] = {}
    for write in failed_writes(stack, evidence, READ_ONLY):
        by_service.setdefault(write.service, []).append(write)
    found = []
    for key, writes in by_service.items():
        name = names[key]
        paths = list(dict.fromkeys(w.path for w in writes if w.path))
        where = paths[-1] if paths else ""
        found.append(Finding(
            f"{key}-read-only-write", ERROR,
            f"{name} writes {where or 'outside its tmpfs and volumes'} on its read-only root filesystem "
            "(errno 30)", _read_only_fix(stack, key, name, where), CONFIG, name, _lines(writes, names)))
    return found


def _read_only_fix(stack: Stack, key: str, name: str, where: str) -> str:
    compose = stack.from_root(stack.files.compose)
    tmpfs = stack.confinement.get(key, Confinement()).tmpfs
    writable = "; ".join(f"{mount}, {size} of memory" for mount, size, _ in tmpfs) or "none"
    # The line says which path failed, not whether it is a file or the folder being made.
    folder = f"{where} if it is one, else the folder it is in" if where else "the one its log names"
    own = (f"or mount a tmpfs or a volume on the folder it writes in ({folder}; a tmpfs is a line "
           f"`- FOLDER:size=64m` under {name}'s tmpfs in {compose}, memory counted in {limit_keys(key)[0]})")
    restart = f"then `docker compose up -d --force-recreate {name}`."
    app = stack.paths.app
    if key == WEB and (where == app or where.startswith(app + "/")):
        # The image's code folder: the project writes into it at run time (a cache, exports, a log),
        # as it may under runserver.
        return (f"The project writes into its code folder ({app}) at run time, which is the image and "
                f"read-only: point that setting at a place web may write — a volume for what must last "
                f"(MEDIA_ROOT, {stack.paths.media}), its tmpfs for what need not ({writable}) — {own}; never on "
                f"{app} itself, which would hide the code; {restart}")
    return (f"{name}'s root filesystem is read-only (`read_only: true` in {compose}): it writes only to its "
            f"volumes and its tmpfs ({writable}). Make it write there, {own}; {restart}")


EVIDENCE_LINES = 3


def _lines(writes: list[Write], names: Mapping[str, str]) -> list[str]:
    """The last distinct lines, each after the name of the service whose log it is."""
    lines = dict.fromkeys(f"{names.get(w.fact.source, w.fact.source)}: {w.fact.line}"[:200] for w in writes)
    return list(lines)[-EVIDENCE_LINES:]
