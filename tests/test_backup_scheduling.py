"""`backup --schedule`: parsing, the rendered timer and cron entries, where they go; copy targets;
doctor's stale-backup warning. No Docker, no scheduler run (tests/e2e/test_backup_schedule.py does)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from djstack.backup import schedule as sched
from djstack.backup.copy import prune_copies, rclone_target
from djstack.backup.run import LAST_RUN
from djstack.doctor.backups import stale_backup


@pytest.mark.parametrize("text, cron, calendar, interval", [
    ("daily", "17 3 * * *", "*-*-* 03:17:00", 86400),
    ("hourly", "17 * * * *", "*-*-* *:17:00", 3600),
    ("30  2 * * *", "30 2 * * *", "*-*-* 2:30:00", 86400),
    ("*/15 * * * *", "*/15 * * * *", "*-*-* *:0/15:00", 900),
    ("0 4 * * 1-5", "0 4 * * 1-5", "Mon..Fri *-*-* 4:0:00", 7 * 86400),
    ("0 3 1 * *", "0 3 1 * *", "*-*-1 3:0:00", 31 * 86400),
])
def test_parse_schedule(text, cron, calendar, interval):
    parsed = sched.parse_schedule(text)
    assert (parsed.cron, parsed.calendar, parsed.interval) == (cron, calendar, interval)
    assert parsed.allowed_age == interval * 3 // 2


@pytest.mark.parametrize("text, why", [
    ("weekly", "5 fields"), ("0 3 * *", "not 4"), ("61 3 * * *", "outside 0-59"), ("0 24 * * *", "outside 0-23"),
    ("0 3 * * mon", "weekday field 'mon'"), ("0 3 * * * rm", "not 6"),
])
def test_bad_schedule_is_refused_with_reason(text, why):
    with pytest.raises(sched.ScheduleInvalid) as info:
        sched.parse_schedule(text)
    assert why in info.value.message and "daily, hourly" in info.value.fix


ARGV = ["/opt/venv/bin/python", "-m", "djstack", "backup", "/srv/my site", "--to", "/srv/b", "--keep", "7"]


def test_cron_d_entry_runs_the_absolute_command_as_its_user():
    text = sched.render_cron("djstack-backup-site", sched.parse_schedule("daily"), ARGV, user="root")
    lines = text.splitlines()
    assert lines[0].startswith(sched.MARK + "djstack-backup-site ")
    assert lines[1] == f"PATH={sched.CRON_PATH}"
    assert lines[2] == ("17 3 * * * root /opt/venv/bin/python -m djstack backup '/srv/my site' --to /srv/b --keep 7"
                        " >/dev/null")


def test_user_crontab_lines_are_marked_and_set_path_for_themselves_only():
    lines = sched.render_cron("djstack-backup-site", sched.parse_schedule("hourly"), ARGV, user=None).splitlines()
    assert not any(line.startswith("PATH=") for line in lines)
    assert lines[1].startswith(f"17 * * * * env PATH={sched.CRON_PATH} /opt/venv/bin/python -m djstack backup")
    assert lines[1].endswith(f"{sched.MARK}djstack-backup-site")


def test_systemd_units():
    service = sched.render_service(ARGV, Path("/srv/my site"))
    assert "Type=oneshot" in service and "ExecStart=/opt/venv/bin/python -m djstack backup '/srv/my site'" in service
    timer = sched.render_timer(sched.parse_schedule("30 2 * * *"))
    assert "OnCalendar=*-*-* 2:30:00" in timer and "Persistent=true" in timer and "WantedBy=timers.target" in timer


def test_install_and_remove_in_cron_d_without_systemd(tmp_path, monkeypatch):
    monkeypatch.setattr(sched, "SYSTEMD_RUNNING", tmp_path / "no-systemd")
    monkeypatch.setattr(sched, "CRON_D", tmp_path / "cron.d")
    monkeypatch.setattr(sched.shutil, "which", lambda name: "/usr/bin/rclone" if name == "rclone" else None)
    (tmp_path / "cron.d").mkdir()
    stack_dir = tmp_path / "site"
    stack_dir.mkdir()
    first = sched.install(stack_dir, stack_dir, "site", sched.parse_schedule("daily"), tmp_path / "b", 5, None)
    assert first.kind == "cron.d" and (tmp_path / "cron.d" / "djstack-backup-site").is_file()
    # A new schedule without --keep keeps the retention chosen before, and replaces the entry.
    again = sched.install(stack_dir, stack_dir, "site", sched.parse_schedule("hourly"), tmp_path / "b", None, "/mnt/x")
    assert again.keep == 5 and again.command[-4:] == ["--keep", "5", "--copy-to", "/mnt/x"]
    assert (tmp_path / "cron.d" / "djstack-backup-site").read_text().count(" * * * * ") == 1
    assert sched.read_record(stack_dir) == again
    # --keep-copies goes into the command, and stays like --keep when a new schedule does not say.
    pruning = sched.install(stack_dir, stack_dir, "site", sched.parse_schedule("daily"), tmp_path / "b", None,
                            "/mnt/x", 30)
    assert pruning.command[-2:] == ["--keep-copies", "30"] and pruning.keep_copies == 30
    kept = sched.install(stack_dir, stack_dir, "site", sched.parse_schedule("hourly"), tmp_path / "b", None, "/mnt/x")
    assert kept.command == pruning.command and sched.read_record(stack_dir) == kept
    assert sched.remove(stack_dir, "site") == [str(tmp_path / "cron.d" / "djstack-backup-site")]
    assert not (tmp_path / "cron.d" / "djstack-backup-site").exists() and sched.read_record(stack_dir) is None


def test_no_scheduler_is_a_typed_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sched, "SYSTEMD_RUNNING", tmp_path / "no-systemd")
    monkeypatch.setattr(sched, "CRON_D", tmp_path / "no-cron.d")
    monkeypatch.setattr(sched.shutil, "which", lambda name: None)
    with pytest.raises(sched.NoScheduler) as info:
        sched.install(tmp_path, tmp_path, "site", sched.parse_schedule("daily"), tmp_path / "b", None, None)
    assert "apt-get install cron" in info.value.fix and not (tmp_path / sched.RECORD).exists()


def test_schedule_with_copy_to_needs_rclone_now(tmp_path, monkeypatch):
    monkeypatch.setattr(sched.shutil, "which", lambda name: None)
    with pytest.raises(sched.ProgramMissing) as info:
        sched.install(tmp_path, tmp_path, "site", sched.parse_schedule("daily"), tmp_path / "b", None, "s3:b/x")
    assert info.value.program == "rclone" and "apt-get install rclone" in info.value.fix


def test_copy_targets(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert rclone_target("/mnt/backup") == "/mnt/backup"
    assert rclone_target("backup@nas:site") == ":sftp,host=nas,user=backup:site"
    assert rclone_target("sftp://u@127.0.0.1:2222/srv/b") == ":sftp,host=127.0.0.1,user=u,port=2222:/srv/b"
    assert rclone_target("s3:bucket/site") == "s3:bucket/site"
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519").write_text("key")
    assert rclone_target("u@h:p") == f":sftp,host=h,user=u,key_file={tmp_path}/.ssh/id_ed25519:p"


class _Stack:
    def __init__(self, folder: Path):
        self.dir = folder


def test_doctor_warns_when_the_last_good_backup_is_older_than_the_schedule_allows(tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    record = sched.Installed("cron.d", "/etc/cron.d/x", "daily", None, str(folder), None, ["djstack", "backup"])
    (tmp_path / sched.RECORD).write_text(json.dumps(record.__dict__))
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)

    def last_good(hours: float, ok: bool = True) -> None:
        (folder / LAST_RUN).write_text(json.dumps({
            "finished": now.isoformat(), "ok": ok, "error": None if ok else "mysqldump in db failed",
            "last_good": (now - timedelta(hours=hours)).isoformat()}))

    last_good(35)
    assert stale_backup(_Stack(tmp_path), now) == []
    last_good(37, ok=False)
    (found,) = stale_backup(_Stack(tmp_path), now)
    assert found.id == "backup-stale" and found.severity == "warning" and "37.0 h old" in found.title
    assert any("mysqldump in db failed" in line for line in found.evidence)
    (tmp_path / sched.RECORD).unlink()
    assert stale_backup(_Stack(tmp_path), now) == []  # nothing scheduled, nothing expected


def test_keep_prunes_this_projects_copies_and_nothing_else(tmp_path):
    """rclone itself, on a local folder as DEST: --keep N leaves the newest N copies of this project's
    archives there, and every other file (another project's, the user's own) untouched."""
    dest = tmp_path / "offsite"
    dest.mkdir()
    ours = [f"site-2026120{day}-031700.tar.gz" for day in (1, 2, 3, 4)]
    others = ["site-old-20261201-031700.tar.gz", "shop-20261201-031700.tar.gz", "README"]
    for name in ours + others:
        (dest / name).write_text(name)
    assert prune_copies(str(dest), "site", 2) == ours[:2]
    assert sorted(p.name for p in dest.iterdir()) == sorted(ours[2:] + others)
    assert prune_copies(str(dest), "site", 2) == []
