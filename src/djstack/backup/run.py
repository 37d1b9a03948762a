"""`djstack backup`, `backups` and `restore` against a running stack.

Everything runs inside the stack's own containers with their own tools and credentials: mysqldump and
mysql in db as root (the password is db's MYSQL_ROOT_PASSWORD, read inside the container, never on a
host command line), tar in web for the media volume. The host only moves bytes and checks them.

What an archive does not hold: the broker's queue (Celery's tasks waiting or in flight) and results.
The broker is no store of record: a task is a message the code sends about data that is in the
database (a row, an upload), and the code sends it again — beat at its next due time, a view or a
task on the next event. A restored database is older than any queue would be, so yesterday's
messages would name rows that are gone or already handled; tasks run at least once (a redelivered one
runs again), so task code must be safe to repeat anyway, which is also what makes a lost message
harmless once something enqueues it again.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from .. import __version__, execute, ui
from ..commands import compose as cc
from ..commands import db as commands
from ..compose import Compose, require_running
from ..errors import CommandFailed, DjstackError, StackUnhealthy
from ..lifecycle import wait_ready
from ..model import BACKUP_FILES, Stack
from . import archive


def project_name(stack: Stack) -> str:
    """The Compose project name, as docker-compose.yml says (it may differ from the folder's name)."""
    try:
        data = yaml.safe_load(stack.compose_path.read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
    except (OSError, yaml.YAMLError):
        name = None
    return name if isinstance(name, str) and name else stack.name


#: What `djstack backup` says it leaves out, with background work (see the module's docstring).
NOT_IN_ARCHIVE = ("Queued tasks are not in the archive: the broker is no store of record (the code enqueues "
                  "them again from the data the archive holds).")


def default_folder(stack: Stack) -> Path:
    return stack.dir / "backups"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    dump_size: int
    media_size: int
    media_files: int
    deleted: tuple[Path, ...]


def backup(stack: Stack, folder: Path, *, keep: int | None = None, pre_restore: bool = False) -> BackupResult:
    """Dump the database and the media of the running stack into one verified archive in `folder`."""
    try:
        return _backup(stack, folder, keep=keep, pre_restore=pre_restore)
    except OSError as exc:  # a full disk, a folder we may not write: no traceback, and no archive
        raise DjstackError(f"Writing the backup in {folder} failed: {exc}. No archive was written.",
                           "Free some space or choose another folder with --to.") from exc


def _backup(stack: Stack, folder: Path, *, keep: int | None, pre_restore: bool) -> BackupResult:
    if keep is not None:
        archive.check_keep(keep)
    folder.mkdir(parents=True, exist_ok=True)  # first: a folder we cannot write fails before anything runs
    compose = Compose(stack.dir)
    for service in (stack.services.db, stack.services.web):
        require_running(compose, service)
    name = project_name(stack)
    created = datetime.now(timezone.utc)
    target = folder / archive.archive_name(name, created, pre_restore=pre_restore)
    while target.exists():  # two backups in the same second: the second waits for the next one
        time.sleep(0.2)
        created = datetime.now(timezone.utc)
        target = folder / archive.archive_name(name, created, pre_restore=pre_restore)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as tmp:
        dump, media = Path(tmp) / archive.DUMP, Path(tmp) / archive.MEDIA
        with _status("Dumping the database"):
            _exec_to_file(commands.dump(compose.project, stack.services.db), stack.services.db, dump, "mysqldump")
        if not _ends_with(dump, commands.DUMP_END):
            raise DjstackError("mysqldump stopped before the end of the dump (no 'Dump completed' line).",
                               f"See `djstack logs {stack.services.db}`; nothing was written to {folder}.")
        version = execute.run(commands.server_version(compose.project, stack.services.db))
        media_total = _media_size(compose, stack)
        with _progress("Copying the media files", media_total) as advance:
            _exec_to_file(commands.media_tar(compose.project, stack.services.web, stack.paths.media),
                          stack.services.web, media, "tar", on_bytes=advance)
        files = {archive.DUMP: dump, archive.MEDIA: media}
        media_files = archive.tar_file_count(media)
        manifest = archive.make_manifest(
            project=name, djstack_version=__version__, db_server_version=version.stdout.strip(),
            database=stack.db_name, created=created, files=files, media_files=media_files)
        with _status("Writing the archive"):
            archive.write_archive(target, manifest, files)
            archive.verify(target)  # what was written reads back and matches, or this is no backup
    deleted = tuple(archive.apply_retention(folder, name, keep)) if keep else ()
    sizes = manifest["files"]
    return BackupResult(target, target.stat().st_size, sizes[archive.DUMP]["size"], sizes[archive.MEDIA]["size"],
                        media_files, deleted)


@dataclass(frozen=True)
class Listed:
    path: Path
    created: str
    size: int
    problem: str | None  # None when the archive verifies


def list_backups(folder: Path) -> list[Listed]:
    rows = []
    for path in archive.all_archives(folder):
        try:
            verified = archive.verify(path)
            created, problem = verified.manifest["created"], None
        except archive.ArchiveInvalid as exc:
            created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(path.stat().st_mtime)) + " (file time)"
            problem = exc.problem
        rows.append(Listed(path, created, path.stat().st_size, problem))
    return rows


@dataclass(frozen=True)
class RestoreResult:
    archive: Path
    safety: Path
    tables: int
    rows: int
    dump_size: int
    media_files: int
    media_size: int


def restore(stack: Stack, path: Path, *, yes: bool, allow_other_project: bool,
            confirm=None, folder: Path | None = None) -> RestoreResult:
    """Verify `path`, take a safety backup, then replace the database and the media with the archive's."""
    name = project_name(stack)
    folder = folder or default_folder(stack)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".restore-") as tmp:
        # The archive first: a bad one is refused before anything else is looked at or touched.
        with _status(f"Verifying {path.name}"):
            verified = archive.verify(path, extract_to=Path(tmp))
        if verified.project != name and not allow_other_project:
            raise DjstackError(
                f"{path} is a backup of project {verified.project!r}, not of {name!r}. Nothing was changed.",
                "Restore one of this project's archives, or pass --allow-other-project if you mean to load "
                "another project's data into this one.")
        compose = Compose(stack.dir)
        for service in (stack.services.db, stack.services.web):
            require_running(compose, service)
        manifest = verified.manifest
        what = (f"Replace {name}'s database {stack.db_name!r} and all its media with the backup of "
                f"{manifest['created']} ({manifest['media_files']} media files)?")
        if not yes:
            if not sys.stdin.isatty():
                raise DjstackError("Restoring replaces the database and the media, and there is no terminal to "
                                   "confirm. Nothing was changed.", "Add --yes to confirm.")
            if not (confirm or _confirm)(what):
                raise DjstackError("Restore cancelled; nothing was changed.")
        safety = backup(stack, folder, pre_restore=True)
        ui.say(f"Safety backup of the current data: {safety.path}")
        dump, media = Path(tmp) / archive.DUMP, Path(tmp) / archive.MEDIA
        # web is stopped while its database and files are swapped: no request sees half a restore, and
        # its start afterwards applies any migration the restored database lacks. The background
        # services too: no task writes into the half-loaded database, beat sends nothing meanwhile.
        stopped = [stack.services.web, *stack.background_services]
        # A worker's warm shutdown lets its tasks in flight finish: up to the longest a task may run.
        grace = 120 + (stack.workers.stop_grace_seconds if stack.workers is not None else 0)
        with _status(f"Stopping {', '.join(stopped)}"):
            for service in stopped:
                execute.run(cc.stop(compose.project, service, timeout=grace))
        try:
            with _status("Loading the database"):
                _load_database(compose, stack, dump)
            with _status("Replacing the media files"):
                media_count = _replace_media(compose, stack, media)
        except DjstackError as exc:
            raise DjstackError(f"{exc.message}\nThe stack may hold a partial restore.",
                               f"Restore the safety backup: djstack restore {stack.project.root} {safety.path} --yes"
                               ) from exc
        finally:
            with _status(f"Starting {', '.join(stopped)} and waiting until every service passes its healthcheck"):
                started = execute.run(cc.start_missing(compose.project), check=False)
                failure = wait_ready(compose, lambda _: None) if started.returncode == 0 else None
        if started.returncode != 0 or failure:
            said = failure[0] if failure else (started.stdout + started.stderr).strip()[-2000:]
            raise StackUnhealthy(f"The data was restored, but the stack did not come back healthy:\n{said}",
                                 "See `djstack ps` and `djstack logs web`.")
        tables, rows = _count_rows(compose, stack)
    return RestoreResult(path, safety.path, tables, rows, manifest["files"][archive.DUMP]["size"], media_count,
                         manifest["files"][archive.MEDIA]["size"])


def _confirm(question: str) -> bool:
    import click

    return click.confirm(question, default=False)


def _load_database(compose: Compose, stack: Stack, dump: Path) -> None:
    _run_fed(commands.load(compose.project, stack.services.db, dump), "loading the dump")


def _replace_media(compose: Compose, stack: Stack, media: Path) -> int:
    """Unpack into a staging folder inside the volume, then swap it in, as the app user."""
    # web is stopped: a one-off container of the same service mounts the same media volume.
    out = _run_fed(commands.replace_media(compose.project, stack.services.web, stack.paths.media, media),
                   "unpacking the media")
    return int(out.split()[-1]) if out.split() else 0


def _count_rows(compose: Compose, stack: Stack) -> tuple[int, int]:
    listing = execute.run(commands.tables(compose.project, stack.services.db))
    tables = listing.stdout.split()
    if not tables:
        return 0, 0
    counted = execute.run(commands.count_rows(compose.project, stack.services.db, tables))
    return len(tables), sum(int(n) for n in counted.stdout.split())


def _exec_to_file(command: execute.Command, service: str, target: Path, what: str, on_bytes=None) -> None:
    """Run a command in `service` with its output going to `target` (binary, streamed)."""
    try:
        with target.open("wb") as sink:
            execute.to_sink(command, sink, on_bytes)
    except CommandFailed as exc:
        raise DjstackError(f"{what} in {service} failed (exit {exc.returncode}):\n{exc.stderr.strip()[-2000:]}",
                           f"See `djstack logs {service}`. No archive was written.") from exc


def _run_fed(command: execute.Command, what: str) -> str:
    proc = execute.run(command, check=False)
    if proc.returncode != 0:
        raise DjstackError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _media_size(compose: Compose, stack: Stack) -> int | None:
    proc = execute.run(commands.media_size(compose.project, stack.services.web, stack.paths.media), check=False)
    try:
        return int(proc.stdout.split()[0])
    except (IndexError, ValueError):
        return None


def _ends_with(path: Path, marker: bytes) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 512))
        return marker in handle.read()


@contextmanager
def _status(title: str):
    """A spinner on a terminal; silent otherwise (cron mail gets only the result line)."""
    if ui.console.is_terminal:
        with ui.console.status(title):
            yield
    else:
        yield


@contextmanager
def _progress(title: str, total: int | None):
    """A byte progress bar for the media copy on a terminal; a no-op otherwise."""
    if not ui.console.is_terminal:
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeElapsedColumn(), console=ui.console, transient=True) as bar:
        task = bar.add_task(title, total=total)
        yield lambda n: bar.advance(task, n)


#: The last run's outcome, in the archive folder: what `djstack backups` and doctor read.
LAST_RUN = BACKUP_FILES.last_run


def record_run(folder: Path, *, ok: bool, archive_path: Path | None, error: str | None,
               copies: dict[str, str] | None = None) -> None:
    """Note this run (its time, whether its archive verified, where its copies went); the last good
    run's time stays when this one failed."""
    previous = last_run(folder) or {}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    state = {"finished": now, "ok": ok, "verified": archive_path is not None,
             "archive": archive_path.name if archive_path else None, "error": error, "copies": copies or {},
             "last_good": now if ok else previous.get("last_good")}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / LAST_RUN).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass  # a folder we cannot write already failed the backup with its own message


def last_run(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / LAST_RUN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
