"""doctor's backup finding: the last good backup is older than the installed schedule allows."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ..backup.run import last_run
from ..backup.schedule import RECORD, parse_schedule, read_record
from ..errors import DjstackError
from ..model import Stack
from .finding import FILES, WARNING, Finding


def stale_backup(stack: Stack, now: datetime | None = None) -> list[Finding]:
    """A warning when a backup is scheduled and its last good run is older than the interval and a
    half (or there never was one since it was scheduled a while ago); nothing without a schedule."""
    record = read_record(stack.dir)
    if record is None:
        return []
    try:
        allowed = parse_schedule(record.schedule).allowed_age
    except DjstackError:
        return []
    now = now or datetime.now(timezone.utc)
    run = last_run(Path(record.folder)) or {}
    good = run.get("last_good")
    if good:
        age = (now - datetime.fromisoformat(good)).total_seconds()
        if age <= allowed:
            return []
        title = f"The last good backup is {age / 3600:.1f} h old; the {record.schedule} schedule allows {allowed / 3600:.1f} h."
    else:
        since = (stack.dir / RECORD).stat().st_mtime
        if now.timestamp() - since <= allowed:
            return []
        title = f"No backup has succeeded since the {record.schedule} schedule was installed."
    evidence = [f"schedule: {record.schedule} ({record.kind}: {record.where})", f"archives: {record.folder}"]
    if run and not run.get("ok"):
        evidence.append(f"last run {run.get('finished')} failed: {run.get('error')}"[:500])
    return [Finding("backup-stale", WARNING, title,
                    f"Run the scheduled command once to see why: {' '.join(record.command)} (and check that "
                    f"{'cron' if record.kind != 'systemd' else 'the timer'} runs).", FILES, "", evidence)]
