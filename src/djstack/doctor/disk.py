"""Disk and growth: what fills the host's disk slowly, measured before it is full.

gather_disk (live) records free space of Docker's data root and of the backup folder, the size of
each of the stack's volumes, of each service's container log and of the build cache; disk_findings
(pure, on the recorded numbers) judges them. The thresholds, each documented in the README:

- Free space (Docker's data root; the backup folder when it is on another filesystem): a WARNING
  below LOW_FREE_BYTES or LOW_FREE_FRACTION of the filesystem, whichever comes first; an ERROR below
  FULL_FREE_BYTES or FULL_FREE_FRACTION. MySQL stops writing at 0 and InnoDB needs room to extend its
  files, so the error comes while a little is left.
- A volume larger than the free space left: if it doubled (a year of uploads, a table rebuilt by a
  migration: ALTER TABLE copies it) the disk would be full. A WARNING.
- The build cache above BUILD_CACHE_BYTES: every `djstack deploy` adds layers. A WARNING.
- A service's container log larger than the stack's cap allows (LOG_MAX_SIZE x LOG_MAX_FILES):
  its container was created without the cap (a docker-compose.yml from before it). A WARNING.

A disk that is full is a cause: the finding ranks with db-disk-full (MEMORY), ahead of the db and web
failures it makes. When db-disk-full is found in the logs too, the measurement joins its evidence
instead of a second finding.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .. import execute
from ..commands import compose as cc
from ..commands import docker as dc
from ..compose import Compose
from ..model import Stack
from .finding import ERROR, MEMORY, WARNING, Finding

GB = 10**9
LOW_FREE_BYTES = 5 * GB
LOW_FREE_FRACTION = 0.10
FULL_FREE_BYTES = 1 * GB
FULL_FREE_FRACTION = 0.02
BUILD_CACHE_BYTES = 10 * GB
#: A log within this much of its cap is within it (Docker rotates after the write that crossed it).
LOG_SLACK = 1.1

_SIZE = re.compile(r"^([0-9.]+)\s*([kKMGTP]?)i?B$")
_SIZE_UNITS = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}


def parse_size(text: str) -> int:
    """Docker's human sizes ("126.1MB", "0B", "12kB": powers of 1000) in bytes; 0 when unreadable."""
    match = _SIZE.match((text or "").strip())
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)]) if match else 0


def human(size: int) -> str:
    """Bytes in powers of 1000, as `docker system df` and the thresholds above count them (backup's
    human_size counts in 1024s, as `ls -h` does for its archives)."""
    for unit, scale in (("GB", GB), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _engine_is_local() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return not host or host.startswith("unix://")


def free_space(path: Path) -> dict:
    """Free and total bytes of the filesystem holding `path` (its nearest existing folder)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        st = os.statvfs(path)
    except OSError as exc:
        return {"path": str(path), "error": str(exc)}
    return {"path": str(path), "free": st.f_bavail * st.f_frsize, "total": st.f_blocks * st.f_frsize,
            "device": os.stat(path).st_dev}


def gather_disk(stack: Stack, compose: Compose) -> dict:
    """The numbers disk_findings judges, as JSON-ready data (saved with the evidence)."""
    from ..backup.run import default_folder  # backup imports doctor's neighbours: late, no cycle

    found: dict = {"log_cap": stack.logs.service_bytes}
    info = execute.run(dc.docker("info", "--format", "{{json .DockerRootDir}}", timeout=30), check=False)
    root = json.loads(info.stdout) if info.returncode == 0 and info.stdout.strip() else ""
    if root and _engine_is_local():
        found["root"] = free_space(Path(root))
    elif root:
        found["root"] = {"path": root, "error": "the engine is on another host (DOCKER_HOST)"}
    found["backups"] = free_space(default_folder(stack))
    df = execute.run(dc.docker("system", "df", "-v", "--format", "{{json .}}", timeout=120), check=False)
    if df.returncode == 0 and df.stdout.strip():
        data = json.loads(df.stdout)
        prefix = f"{stack.name}_"  # Compose names a volume <project>_<volume>
        found["volumes"] = {v["Name"]: parse_size(v.get("Size", "")) for v in data.get("Volumes") or []
                            if v.get("Name", "").startswith(prefix)}
        found["build_cache"] = sum(parse_size(c.get("Size", "")) for c in data.get("BuildCache") or [])
    found["logs"] = _log_sizes(compose)
    return found


def _log_sizes(compose: Compose) -> dict[str, int]:
    """Each service's json-file log (all its rotated files), where this user may see them."""
    ids = execute.run(cc.container_ids(compose.project), check=False).stdout.split()
    if not ids or not _engine_is_local():
        return {}
    rows = execute.run(dc.docker("inspect", "--format",
                                 '{{index .Config.Labels "com.docker.compose.service"}} {{.LogPath}}', *ids,
                                 timeout=60), check=False).stdout.splitlines()
    sizes: dict[str, int] = {}
    for row in rows:
        service, _, log_path = row.partition(" ")
        if not log_path:
            continue
        path = Path(log_path)
        try:
            files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
            sizes[service] = sizes.get(service, 0) + sum(p.stat().st_size for p in files)
        except OSError:
            continue  # /var/lib/docker is root's: not measured
    return sizes


def _short(space: dict) -> str | None:
    """ERROR, WARNING or None for a free-space record."""
    if "free" not in space or not space.get("total"):
        return None
    free, total = space["free"], space["total"]
    if free < FULL_FREE_BYTES or free < FULL_FREE_FRACTION * total:
        return ERROR
    if free < LOW_FREE_BYTES or free < LOW_FREE_FRACTION * total:
        return WARNING
    return None


def _space_line(what: str, space: dict) -> str:
    return (f"{what} {space['path']}: {human(space['free'])} free of {human(space['total'])} "
            f"({100 * space['free'] / space['total']:.1f} %)")


def disk_findings(stack: Stack, disk: dict) -> list[Finding]:
    """What the recorded numbers say (see the module's thresholds)."""
    found = []
    root, backups = disk.get("root") or {}, disk.get("backups") or {}
    level = _short(root)
    if level:
        full = level == ERROR
        found.append(Finding(
            "host-disk-full" if full else "host-disk-low", level,
            f"The disk under Docker's data (volumes, images, logs) is {'full' if full else 'running low'}"
            + (": db and web fail to write" if full else ""),
            f"Free space on {root['path']}'s disk: `docker system df -v` shows what takes it; "
            "`docker builder prune` drops the build cache, `docker image prune` unused images; old backups "
            f"in {backups.get('path', 'the backup folder')} can move off the host. Then `docker compose restart "
            f"{stack.services.db} {stack.services.web}`.", MEMORY if full else MEMORY + 1,
            evidence=[_space_line("Docker's data root", root)]))
    if "free" in backups and backups.get("device") != root.get("device"):
        level = _short(backups)
        if level:
            found.append(Finding(
                "backup-disk-low", level, "The disk of the backup folder is running out: the next backups may fail",
                f"Free space there or back up elsewhere (`djstack backup --to FOLDER`).", MEMORY + 2,
                evidence=[_space_line("backup folder", backups)]))
    free = root.get("free")
    for name, size in sorted((disk.get("volumes") or {}).items()):
        if free is not None and size > free:
            found.append(Finding(
                "volume-outgrows-disk", WARNING, f"Volume {name} ({human(size)}) is larger than the free space left",
                f"Were it to double (uploads, a migration that rebuilds a table) the disk would be full: give "
                f"Docker's data root more room, or move the data. `docker system df -v` lists the volumes.",
                MEMORY + 3, evidence=[f"{name}: {human(size)}", _space_line("Docker's data root", root)]))
    cache = disk.get("build_cache", 0)
    if cache > BUILD_CACHE_BYTES:
        found.append(Finding(
            "build-cache-large", WARNING, f"Docker's build cache takes {human(cache)}",
            "Every deploy adds layers: `docker builder prune --filter until=168h` drops those unused for a "
            "week (the next build takes longer).", MEMORY + 4, evidence=[f"build cache: {human(cache)}"]))
    cap = disk.get("log_cap", 0)
    for service, size in sorted((disk.get("logs") or {}).items()):
        if cap and size > cap * LOG_SLACK:
            found.append(Finding(
                "log-unbounded", WARNING, f"{service}'s container log ({human(size)}) exceeds its cap ({human(cap)})",
                f"The container was created without the log rotation docker-compose.yml now sets: "
                f"`docker compose up -d --force-recreate {service}` (the old log goes with the container).",
                MEMORY + 5, service, [f"{service}: {human(size)} of log, cap {human(cap)}"]))
    return found


def with_disk(stack: Stack, disk: dict, found: list[Finding]) -> list[Finding]:
    """`found` with the disk's findings; a full disk the logs already name (db-disk-full) gets the
    measurement as evidence rather than a second finding."""
    mine = disk_findings(stack, disk)
    logged = next((f for f in found if f.id == "db-disk-full"), None)
    if logged is not None:
        for f in [f for f in mine if f.id == "host-disk-full"]:
            logged.evidence = [*f.evidence, *logged.evidence]
            mine.remove(f)
    return [*found, *mine]


def disk_checked(disk: dict) -> list[str]:
    """What was measured, for the report's list of what was checked."""
    items = []
    for what, key in (("Docker's data root", "root"), ("backup folder", "backups")):
        space = disk.get(key) or {}
        if "free" in space and space.get("total"):
            items.append(_space_line(what, space))
        elif space:
            items.append(f"{what} {space.get('path', '')}: not measured ({space.get('error', '')})")
    volumes = disk.get("volumes") or {}
    if volumes:
        items.append("volumes: " + ", ".join(f"{n} {human(s)}" for n, s in sorted(volumes.items())))
    if "build_cache" in disk:
        items.append(f"build cache: {human(disk['build_cache'])}")
    logs = disk.get("logs") or {}
    if logs:
        items.append(f"container logs (cap {human(disk.get('log_cap', 0))} each): "
                     + ", ".join(f"{n} {human(s)}" for n, s in sorted(logs.items())))
    return items
