"""Releases of web: image tags of `<project>-web`, which one is live, and which old ones to prune.

A release is a build of the project's code, tagged `<project>-web:<tag>`: the git commit when the
project is a git checkout with no uncommitted change, else the time of the build. WEB_RELEASE in
`.env` names the live one. Choosing tags and what to prune are pure functions; listing asks docker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import execute
from .commands import docker as dc
from .commands import host
from .errors import CommandTimedOut, DjstackError, ProgramMissing

#: Docker's tag grammar: a word character first, then up to 127 word characters, dots and dashes.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
#: The tag `djstack up` builds when no deploy has named one.
DEFAULT_TAG = "latest"
#: Seconds a new release has to pass its healthcheck (deploy's and rollback's --timeout).
DEFAULT_TIMEOUT = 180
#: Old releases kept besides the live one (deploy's --keep).
DEFAULT_KEEP = 3


@dataclass(frozen=True)
class Release:
    tag: str
    image_id: str
    created: str  # as docker reports it, e.g. "2026-12-01 16:02:45 +0000 UTC"
    live: bool  # a running web container uses it


def validate_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise DjstackError(f"--tag {tag!r} is not a valid image tag.",
                           "Use letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-').")
    return tag


def new_tag(root: Path, now: datetime | None = None) -> str:
    """The git commit of a clean checkout (its short hash), else the build's UTC time."""
    return _clean_commit(root) or time_tag(now)


def time_tag(now: datetime | None = None) -> str:
    """The build's UTC time as a tag: 20261201-160245."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")


def _clean_commit(root: Path) -> str | None:
    """HEAD's short hash when `root` is in a git checkout with nothing uncommitted; else None.

    git is asked directly (no engine involved); a host without git simply gets time tags."""
    def git(command: execute.Command) -> execute.Result | None:
        try:
            return execute.run(command, check=False)
        except (OSError, ProgramMissing, CommandTimedOut):
            return None

    head = git(host.git_head(root))
    if head is None or head.returncode != 0:
        return None
    status = git(host.git_changes(root))
    if status is None or status.returncode != 0 or status.stdout.strip():
        return None
    return head.stdout.strip()


def listed(repository: str, running_images: set[str]) -> list[Release]:
    """The releases whose images the engine holds, newest first."""
    proc = execute.run(dc.images(repository))
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    releases = [Release(row["Tag"], row["ID"], row.get("CreatedAt", ""), row["ID"] in running_images)
                for row in rows if row.get("Tag") not in (None, "", "<none>")]
    return sorted(releases, key=lambda r: r.created, reverse=True)


def to_prune(releases: list[Release], keep: int, live_tag: str) -> list[Release]:
    """Releases beyond the `keep` newest, never the live one nor one a running container uses.

    Tags of one image share its fate: an image is pruned only when all its tags are."""
    kept_ids = {r.image_id for r in releases if r.live or r.tag == live_tag}
    newest = [r for r in releases if r.image_id not in kept_ids]
    for release in newest:
        if len(kept_ids) >= keep + 1:  # the live release plus `keep` older ones
            break
        kept_ids.add(release.image_id)
    return [r for r in releases if r.image_id not in kept_ids]
