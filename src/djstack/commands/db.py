"""What backup, restore and dbshell run in the stack's containers: mysqldump and mysql in db (as
root with the container's own root password, read inside it, never on a host command line), tar in
web for the media volume. Scripts: djstack/incontainer/."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import shell
from .compose import Project, exec, one_off
from ..execute import Command

#: The last line of a complete mysqldump.
DUMP_END = b"-- Dump completed"


def dump(project: Project, db: str) -> Command:
    """The application database as SQL on stdout (to be piped into a file)."""
    return exec(project, db, shell("db-dump.sh"), timeout=None)


def server_version(project: Project, db: str) -> Command:
    return exec(project, db, shell("db-version.sh"))


def load(project: Project, db: str, dump_file: Path) -> Command:
    """Replace the application database with the dump in `dump_file`."""
    return exec(project, db, shell("db-load.sh"), stdin=dump_file, timeout=None)


def tables(project: Project, db: str) -> Command:
    return exec(project, db, shell("db-tables.sh"))


def quote_identifier(name: str) -> str:
    """A MySQL identifier in backticks, a backtick inside it doubled (a table name may hold any character)."""
    return "`" + name.replace("`", "``") + "`"


def count_rows(project: Project, db: str, names: Sequence[str]) -> Command:
    """One count per table of `names`, one a line."""
    union = " UNION ALL ".join(f"SELECT COUNT(*) FROM {quote_identifier(name)}" for name in names)
    return exec(project, db, shell("db-query.sh"), stdin=union + ";\n", timeout=600)


def dbshell(project: Project, db: str, *, tty: bool) -> Command:
    """A MySQL shell on the application database as the application's user."""
    return exec(project, db, shell("dbshell.sh"), tty=tty, timeout=None)


def media_size(project: Project, web: str, media: str) -> Command:
    return exec(project, web, ["du", "-sb", media])


def media_tar(project: Project, web: str, media: str) -> Command:
    """The media folder as a tar on stdout."""
    return exec(project, web, ["tar", "-C", media, "-c", "."], timeout=None)


def replace_media(project: Project, web: str, media: str, tar_file: Path) -> Command:
    """Replace the media folder with the tar in `tar_file`; prints the file count. A one-off container
    as web's user (who then owns every file): web is stopped meanwhile, and the volume is the same."""
    return one_off(project, web, shell("media-replace.sh", media)[1:], stdin=tar_file, sh_entrypoint=True)
