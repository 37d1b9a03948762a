"""Backup archives: the file format, naming, retention and verification. No Docker here.

An archive is `<project>-YYYYmmdd-HHMMSS.tar.gz` (UTC) holding three members, in this order:

- `manifest.json`: project, djstack version, database server version, creation time, and the size and
  sha256 of every other member;
- `db.sql`: the application database as mysqldump wrote it (tables, routines, triggers);
- `media.tar`: the media volume's contents, as tar wrote them inside the web container.

Verification reads the whole archive and checks every member against the manifest, so a truncated,
damaged or edited archive is refused before anything is touched.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from ..errors import DjstackError

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "db.sql"
MEDIA = "media.tar"
MEMBERS = (DUMP, MEDIA)
SUFFIX = ".tar.gz"
#: Safety backups taken by `restore` before it replaces anything.
PRE_RESTORE = "-pre-restore"
STAMP = "%Y%m%d-%H%M%S"
CHUNK = 1 << 20
_T = TypeVar("_T")


def archive_pattern(project: str) -> re.Pattern[str]:
    """File names of this project's archives (and of no other project's)."""
    return re.compile(rf"^{re.escape(project)}-(\d{{8}}-\d{{6}})({re.escape(PRE_RESTORE)})?{re.escape(SUFFIX)}$")


def archive_name(project: str, when: datetime, *, pre_restore: bool = False) -> str:
    return f"{project}-{when.astimezone(timezone.utc).strftime(STAMP)}{PRE_RESTORE if pre_restore else ''}{SUFFIX}"


def project_archives(folder: Path, project: str) -> list[Path]:
    """This project's archives in `folder`, oldest first (by the time in their names)."""
    if not folder.is_dir():
        return []
    files = {p.name: p for p in folder.iterdir() if p.is_file()}
    return [files[name] for name in by_age(files, project)]


def by_age(names: Iterable[str], project: str) -> list[str]:
    """The names of this project's archives among `names`, oldest first (by the time in them)."""
    pattern = archive_pattern(project)
    stamped = [(m.group(1), name) for name in names if (m := pattern.match(name))]
    return [name for _, name in sorted(stamped)]


def all_archives(folder: Path) -> list[Path]:
    """Every finished archive in `folder` (temporary files excluded), by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIX) and not p.name.startswith("."))


def apply_retention(folder: Path, project: str, keep: int) -> list[Path]:
    """Delete this project's archives older than the newest `keep`; return what was deleted.

    The newest archive is never deleted (keep must be at least 1), and other projects' files are
    never looked at.
    """
    doomed = beyond_newest(project_archives(folder, project), keep)
    for path in doomed:
        path.unlink()
    return doomed


def beyond_newest(archives: list[_T], keep: int) -> list[_T]:
    """Of a project's archives, oldest first, those older than the newest `keep`: what retention
    deletes, here and where --copy-to put copies."""
    check_keep(keep)
    return archives[:-keep] if len(archives) > keep else []


def check_keep(keep: int) -> None:
    if keep < 1:
        raise DjstackError(f"--keep {keep}: at least the newest archive must be kept.", "Use --keep 1 or more.")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def make_manifest(*, project: str, djstack_version: str, db_server_version: str, database: str,
                  created: datetime, files: dict[str, Path], media_files: int) -> dict:
    return {
        "format": FORMAT,
        "project": project,
        "djstack_version": djstack_version,
        "db_server_version": db_server_version,
        "database": database,
        "created": created.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "media_files": media_files,
        "files": {name: {"size": path.stat().st_size, "sha256": sha256_file(path)} for name, path in files.items()},
    }


def write_archive(target: Path, manifest: dict, files: dict[str, Path]) -> None:
    """Write the archive under a temporary name in the same folder, then rename it into place.

    A crash or a full disk leaves at most a hidden `.NAME.partial`, never half an archive under the
    final name.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                body = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(body))
                for name, path in files.items():
                    tar.add(path, arcname=name, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)  # the dump holds the site's data: readable by its owner only
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class ArchiveInvalid(DjstackError):
    """The archive at `path` cannot be trusted: unreadable, incomplete, or not matching its manifest;
    `problem` says which (the message is it after the path)."""

    def __init__(self, path: Path, problem: str, fix: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}", fix)


@dataclass(frozen=True)
class Verified:
    path: Path
    manifest: dict

    @property
    def project(self) -> str:
        return self.manifest.get("project", "")


def verify(path: Path, extract_to: Path | None = None,
           on_bytes: Callable[[int], None] | None = None) -> Verified:
    """Read the whole archive and check it against its manifest; optionally extract the members.

    Raises ArchiveInvalid naming the problem. Extracted files are only to be used when this returns.
    """
    if not path.is_file():
        raise ArchiveInvalid(path, "no such archive.", "Give the path of a .tar.gz made by `djstack backup`.")
    manifest = None
    seen: dict[str, tuple[int, str]] = {}
    try:
        # gzip.open, not tarfile's own gzip reader: it checks the stream's CRC and length at the end.
        with gzip.open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            try:
                for member in tar:
                    if member.name == MANIFEST and manifest is None and not seen:
                        manifest = _read_manifest(path, tar.extractfile(member).read())
                        continue
                    if manifest is None:
                        raise ArchiveInvalid(path, f"the archive does not start with {MANIFEST}.",
                                             "This is not an archive made by `djstack backup`.")
                    if member.name not in manifest["files"] or member.name in seen or not member.isfile():
                        raise ArchiveInvalid(path, f"unexpected member {member.name!r} (not in the manifest).",
                                             "The archive was altered after `djstack backup` wrote it; do not use it.")
                    seen[member.name] = _hash_member(tar.extractfile(member), extract_to, member.name, on_bytes)
            except ArchiveInvalid:
                # A flipped bit can turn a member's name or the manifest into nonsense that still
                # decompresses: when the stream fails its own checks, that damage is the finding.
                _read_to_end(raw)
                raise
            _read_to_end(raw)
    except ArchiveInvalid:
        raise
    except (EOFError, tarfile.ReadError, zlib.error, OSError) as exc:
        raise ArchiveInvalid(path, f"the archive is {_damage(exc)} ({exc}).",
                             "Use another archive (`djstack backups` shows which ones verify).") from exc
    if manifest is None:
        raise ArchiveInvalid(path, f"the archive has no {MANIFEST}.", "This is not an archive made by `djstack backup`.")
    for name, expected in manifest["files"].items():
        if name not in seen:
            raise ArchiveInvalid(path, f"{name} is listed in the manifest but missing from the archive.",
                                 "Use another archive (`djstack backups` shows which ones verify).")
        size, digest = seen[name]
        if size != expected["size"] or digest != expected["sha256"]:
            raise ArchiveInvalid(
                path, f"{name} does not match the manifest's checksum (sha256 {digest[:12]}…, expected "
                f"{expected['sha256'][:12]}…; {size} bytes, expected {expected['size']}): it was changed or damaged.",
                "Use another archive (`djstack backups` shows which ones verify).")
    return Verified(path, manifest)


def _read_to_end(raw: gzip.GzipFile) -> None:
    """Read the rest of the stream, so the gzip trailer's checks (CRC, length) run."""
    while raw.read(CHUNK):
        pass


def _damage(exc: Exception) -> str:
    text = str(exc).lower()
    if isinstance(exc, EOFError) or "unexpected end" in text or "truncated" in text or "end of file" in text:
        return "truncated (it ends before its last member is complete)"
    return "damaged (its compressed data fails its own checks)"


def _read_manifest(path: Path, body: bytes) -> dict:
    try:
        manifest = json.loads(body)
        files = manifest["files"]
        ok = (isinstance(manifest.get("project"), str) and manifest.get("format") == FORMAT
              and set(files) == set(MEMBERS)
              and all(isinstance(v.get("size"), int) and isinstance(v.get("sha256"), str) for v in files.values()))
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ArchiveInvalid(path, f"its {MANIFEST} is unreadable or incomplete.",
                             "This is not an archive made by this version of `djstack backup`.")
    return manifest


def _hash_member(source, extract_to: Path | None, name: str, on_bytes) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    sink = (extract_to / name).open("wb") if extract_to is not None else None
    try:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if sink:
                sink.write(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    finally:
        if sink:
            sink.close()
    return size, digest.hexdigest()


def tar_file_count(path: Path) -> int:
    """Regular files in a tar (the media count)."""
    with tarfile.open(path, mode="r:") as tar:
        return sum(1 for member in tar if member.isfile())


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
