"""`--copy-to DEST`: each verified archive also leaves the host, through rclone.

Why rclone: one well-kept program (Debian's package `rclone`) that speaks to a local path or mount,
SFTP, S3, B2 and some 70 other storages with the same commands and the same checks, so djstack needs
no client library per storage and the user configures credentials once, the rclone way
(`rclone config`, or RCLONE_* variables), never on djstack's command line.

DEST is one of:
- a local path or mount (`/mnt/backup`): as is;
- `user@host:path` (scp's form): rclone's on-the-fly SFTP remote; `sftp://user@host:port/path` gives a
  port. The key is RCLONE_SFTP_KEY_FILE, else ~/.ssh/id_ed25519 or id_rsa; the host key is checked
  against ~/.ssh/known_hosts when it exists (RCLONE_SFTP_KNOWN_HOSTS_FILE for another file);
- an rclone remote (`s3:bucket/site`, `b2:bucket/site`, `sftp:backups`), configured with `rclone config`.

A copy is checked after it is written: rclone reads it back and its sha256 must equal the archive's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import execute
from ..errors import DjstackError, ProgramMissing
from .archive import beyond_newest, by_age, sha256_file

_SCP = re.compile(r"^(?P<user>[^@/:\s]+)@(?P<host>[^:/\s]+):(?P<path>.*)$")
_SFTP_URL = re.compile(r"^sftp://(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+)(?::(?P<port>\d+))?(?P<path>/.*)?$")
TIMEOUT = 3600


class CopyFailed(DjstackError):
    """rclone could not write or read back `dest` (unreachable, refused, no space); `why` is its message."""

    exit_code = 3

    def __init__(self, dest: str, why: str, archive: Path | None = None):
        self.dest = dest
        self.why = why
        kept = f" The archive itself is in {archive}." if archive else ""
        super().__init__(f"Copying to {dest} failed: {why}{kept}",
                         "Check that the destination is reachable and writable (`rclone lsd DEST`), then run "
                         "the backup again.")


class CopyMismatch(CopyFailed):
    """The copy at `dest` reads back with another sha256 than the archive's."""


def rclone_target(dest: str) -> str:
    """DEST as rclone names it (see the module's docstring)."""
    if m := _SFTP_URL.match(dest):
        return _sftp(m["user"], m["host"], m["port"], m["path"] or ".")
    if m := _SCP.match(dest):
        return _sftp(m["user"], m["host"], None, m["path"] or ".")
    if dest.startswith(("/", ".", "~")) or ":" not in dest:
        return str(Path(dest).expanduser().resolve())
    return dest  # an rclone remote


def _sftp(user: str | None, host: str, port: str | None, path: str) -> str:
    options = [f"host={host}"] + ([f"user={user}"] if user else []) + ([f"port={port}"] if port else [])
    if "RCLONE_SFTP_KEY_FILE" not in os.environ:
        key = next((k for k in (Path.home() / ".ssh" / n for n in ("id_ed25519", "id_rsa")) if k.is_file()), None)
        if key:
            options.append(f"key_file={key}")
    known = Path.home() / ".ssh" / "known_hosts"
    if "RCLONE_SFTP_KNOWN_HOSTS_FILE" not in os.environ and known.is_file():
        options.append(f"known_hosts_file={known}")
    return f":sftp,{','.join(options)}:{path}"


def _join(target: str, name: str) -> str:
    return f"{target.rstrip('/')}/{name}" if not target.endswith(":") else f"{target}{name}"


def _rclone(*args: str, dest: str, archive: Path | None = None) -> str:
    try:
        proc = execute.run(execute.Command(("rclone", *args), timeout=TIMEOUT), check=False)
    except ProgramMissing as exc:
        raise ProgramMissing("rclone", "--copy-to needs rclone, which is not installed.",
                             "Install it: apt-get install rclone (Debian/Ubuntu).") from exc
    if proc.returncode != 0:
        said = [line for line in proc.stderr.splitlines() if line.strip()]
        raise CopyFailed(dest, (said[-1] if said else f"rclone exited {proc.returncode}")[-500:], archive)
    return proc.stdout


def remote_sha256(dest: str, name: str | None = None) -> dict[str, str]:
    """name → sha256 of the files in DEST (or of its file `name`), read back through rclone: downloaded
    and hashed here, since SFTP and some object stores keep no sha256 of their own."""
    target = rclone_target(dest)
    out = _rclone("hashsum", "sha256", "--download", _join(target, name) if name else target, dest=dest)
    found = {}
    for line in out.splitlines():
        digest, _, name = line.partition("  ")
        if name:
            found[name.strip()] = digest.strip()
    return found


def copy_archive(archive: Path, dest: str) -> str:
    """Copy a verified archive to DEST and check the copy; return where it is."""
    target = rclone_target(dest)
    _rclone("copyto", str(archive), _join(target, archive.name), dest=dest, archive=archive)
    copies = remote_sha256(dest, archive.name)
    expected = sha256_file(archive)
    if copies.get(archive.name) != expected:
        got = copies.get(archive.name)
        raise CopyMismatch(dest, f"the copy of {archive.name} reads back as "
                                 f"{'missing' if got is None else 'sha256 ' + got[:12] + '…'}, not {expected[:12]}…",
                           archive)
    return _join(dest, archive.name)


def prune_copies(dest: str, project: str, keep: int) -> list[str]:
    """Delete this project's copies in DEST older than the newest `keep` (--keep applies off the host
    too); return their names. Other files there, other projects' included, are never touched."""
    target = rclone_target(dest)
    names = _rclone("lsf", "--files-only", target, dest=dest).splitlines()
    doomed = beyond_newest(by_age(names, project), keep)
    for name in doomed:
        _rclone("deletefile", _join(target, name), dest=dest)
    return doomed


@dataclass(frozen=True)
class CopyState:
    name: str
    state: str  # matches, differs, missing


def check_copies(archives: list[Path], dest: str) -> list[CopyState]:
    copies = remote_sha256(dest)
    states = []
    for path in archives:
        got = copies.get(path.name)
        states.append(CopyState(path.name, "missing" if got is None else
                                "matches" if got == sha256_file(path) else "differs"))
    return states
