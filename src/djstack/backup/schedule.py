"""`djstack backup --schedule`: a systemd timer where systemd runs, else a cron entry.

The entry runs the real command with absolute paths (this Python, `-m djstack`, the project folder,
the archive folder, the retention and the copy destination the user chose), so it does not depend
on the scheduler's PATH or working directory. What was scheduled is also recorded in the stack's
folder (RECORD) for `djstack backups` and `djstack doctor`, which warn when the last good backup is
older than the schedule allows: its interval plus half of it (one late run is no alarm, a missed one is).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import execute
from ..errors import DjstackError, ProgramMissing
from ..model import BACKUP_FILES

#: The record of the installed schedule, in the stack's folder.
RECORD = BACKUP_FILES.schedule
SYSTEMD_RUNNING = Path("/run/systemd/system")
SYSTEMD_UNITS = Path("/etc/systemd/system")
CRON_D = Path("/etc/cron.d")
#: Marks djstack's lines in a user crontab, so --unschedule removes those and nothing else.
MARK = "# djstack-backup:"
#: cron's default PATH lacks /usr/local/bin; docker may live there.
CRON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

HOUR, DAY = 3600, 86400
# Named schedules run at minute 17 (03:17 for daily): away from the top of the hour most jobs pick.
NAMED = {"hourly": ("17 * * * *", "*-*-* *:17:00", HOUR), "daily": ("17 3 * * *", "*-*-* 03:17:00", DAY)}
_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ScheduleInvalid(DjstackError):
    """--schedule is neither daily, hourly nor a five-field cron expression; `text` is what was given."""

    def __init__(self, text: str, why: str):
        self.text = text
        super().__init__(f"--schedule {text!r}: {why}",
                         "Use daily, hourly, or five cron fields such as '30 2 * * *' (02:30 every day).")


class NoScheduler(DjstackError):
    """Neither a running systemd, /etc/cron.d we may write, nor a crontab program is available."""

    def __init__(self):
        super().__init__("No scheduler to install the backup in: systemd is not running, /etc/cron.d is not "
                         "writable and there is no crontab command.",
                         "Install cron (Debian: apt-get install cron) or run as root, then try again.")


@dataclass(frozen=True)
class Schedule:
    text: str  # what the user gave
    cron: str  # five cron fields
    calendar: str  # systemd's OnCalendar=
    interval: int  # seconds between two runs (the longest gap, for an irregular expression)

    @property
    def allowed_age(self) -> int:
        """How old the last good backup may be before doctor warns."""
        return self.interval + self.interval // 2


def parse_schedule(text: str) -> Schedule:
    text = " ".join(text.split())
    if text in NAMED:
        cron, calendar, interval = NAMED[text]
        return Schedule(text, cron, calendar, interval)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ScheduleInvalid(text, f"a cron expression has 5 fields (minute hour day month weekday), not {len(fields)}.")
    for name, value, (low, high) in zip(("minute", "hour", "day", "month", "weekday"), fields, _RANGES):
        if not _FIELD.match(value):
            raise ScheduleInvalid(text, f"the {name} field {value!r} is not a number, range, list, step or *.")
        for number in re.findall(r"\d+", re.sub(r"/\d+", "", value)):
            if not low <= int(number) <= high:
                raise ScheduleInvalid(text, f"the {name} field's {number} is outside {low}-{high}.")
    return Schedule(text, text, _calendar(fields), _interval(fields))


def _interval(fields: list[str]) -> int:
    minute, hour, day, month, weekday = fields
    if month != "*":
        return 366 * DAY
    if day != "*":
        return 31 * DAY
    if weekday != "*":
        return 7 * DAY
    if minute == "*":
        return 60
    if hour == "*" and minute.startswith("*/"):
        return int(minute[2:]) * 60
    if hour == "*" or "/" in hour or "," in hour or "-" in hour:
        return HOUR  # several runs a day: at most an hour apart is the common case; doctor errs early
    return DAY


def _calendar(fields: list[str]) -> str:
    """The cron fields as systemd's OnCalendar= (ranges a..b, steps start/n, weekdays by name)."""
    minute, hour, day, month, weekday = (_systemd_field(f) for f in fields)
    days = ""
    if fields[4] != "*":
        days = ",".join(_weekdays(part) for part in fields[4].split(",")) + " "
    return f"{days}*-{month}-{day} {hour}:{minute}:00"


def _systemd_field(value: str) -> str:
    return ",".join(p.replace("*/", "0/").replace("-", "..") for p in value.split(","))


def _weekdays(part: str) -> str:
    if part == "*":
        return "Mon..Sun"
    low, _, high = part.partition("-")
    return _DAYS[int(low)] + (f"..{_DAYS[int(high)]}" if high else "")


def unit_name(project: str) -> str:
    return "djstack-backup-" + re.sub(r"[^A-Za-z0-9_-]", "-", project)


def backup_command(root: Path, folder: Path, keep: int | None, copy_to: str | None,
                   keep_copies: int | None = None) -> list[str]:
    """The command the scheduler runs: this Python's djstack, every path absolute."""
    argv = [sys.executable, "-m", "djstack", "backup", str(root.resolve()), "--to", str(folder.resolve())]
    if keep is not None:
        argv += ["--keep", str(keep)]
    if copy_to:
        argv += ["--copy-to", copy_to]
    if copy_to and keep_copies is not None:
        argv += ["--keep-copies", str(keep_copies)]
    return argv


def render_service(argv: list[str], root: Path) -> str:
    return (f"# Written by `djstack backup --schedule`; removed by `djstack backup --unschedule`.\n"
            f"[Unit]\nDescription=djstack backup of {root}\nWants=docker.service\nAfter=docker.service\n\n"
            f"[Service]\n# oneshot: the timer's next run waits until this one has finished.\nType=oneshot\n"
            f"WorkingDirectory={root}\nExecStart={shlex.join(argv)}\n")


def render_timer(schedule: Schedule) -> str:
    return (f"# Written by `djstack backup --schedule {schedule.text}`.\n[Unit]\nDescription=djstack backup "
            f"({schedule.text})\n\n[Timer]\nOnCalendar={schedule.calendar}\n"
            f"# A run missed while the host was off happens at the next boot.\nPersistent=true\n"
            f"# Up to 5 minutes later: many hosts on one schedule do not all hit one storage at once.\n"
            f"RandomizedDelaySec=300\n\n[Install]\nWantedBy=timers.target\n")


def render_cron(name: str, schedule: Schedule, argv: list[str], *, user: str | None) -> str:
    """A cron.d file (user given: its sixth field) or the lines for a user crontab (user None)."""
    who = f"{user} " if user else ""
    command = f"{shlex.join(argv)} >/dev/null"  # only a failure's message goes to cron's mail
    lines = [f"{MARK}{name} written by `djstack backup --schedule`; `--unschedule` removes it"]
    if user:
        lines.append(f"PATH={CRON_PATH}")
        return "\n".join([*lines, f"{schedule.cron} {who}{command}", ""])
    # A user crontab: PATH= would apply to the user's other lines too; env sets it for this one only.
    return "\n".join([*lines, f"{schedule.cron} env PATH={CRON_PATH} {command} {MARK}{name}", ""])


@dataclass(frozen=True)
class Installed:
    kind: str  # systemd, cron.d, crontab
    where: str
    schedule: str
    keep: int | None
    folder: str
    copy_to: str | None
    command: list[str]
    keep_copies: int | None = None  # records written before --keep-copies have none


def read_record(stack_dir: Path) -> Installed | None:
    try:
        return Installed(**json.loads((stack_dir / RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def install(stack_dir: Path, root: Path, project: str, schedule: Schedule, folder: Path, keep: int | None,
            copy_to: str | None, keep_copies: int | None = None) -> Installed:
    if (previous := read_record(stack_dir)) is not None:
        # The retention chosen before stays unless told otherwise.
        keep = previous.keep if keep is None else keep
        keep_copies = previous.keep_copies if keep_copies is None else keep_copies
    if copy_to and not shutil.which("rclone"):  # told now, not at 03:17 in cron's mail
        raise ProgramMissing("rclone", "--copy-to needs rclone, which is not installed.",
                             "Install it: apt-get install rclone (Debian/Ubuntu).")
    name = unit_name(project)
    argv = backup_command(root, folder, keep, copy_to, keep_copies)
    remove(stack_dir, project, forget=False)  # one schedule per project: a new one replaces the old
    if SYSTEMD_RUNNING.is_dir():
        service, timer = SYSTEMD_UNITS / f"{name}.service", SYSTEMD_UNITS / f"{name}.timer"
        service.write_text(render_service(argv, root.resolve()), encoding="utf-8")
        timer.write_text(render_timer(schedule), encoding="utf-8")
        execute.run(execute.Command(("systemctl", "daemon-reload")))
        execute.run(execute.Command(("systemctl", "enable", "--now", f"{name}.timer")))
        kind, where = "systemd", str(timer)
    elif CRON_D.is_dir() and os.access(CRON_D, os.W_OK):
        path = CRON_D / name  # cron.d ignores names with dots: unit_name has none
        path.write_text(render_cron(name, schedule, argv, user="root" if os.geteuid() == 0 else _user()),
                        encoding="utf-8")
        path.chmod(0o644)
        kind, where = "cron.d", str(path)
    elif shutil.which("crontab"):
        lines = _crontab_lines()
        _write_crontab([*lines, *render_cron(name, schedule, argv, user=None).splitlines()])
        kind, where = "crontab", f"crontab of {_user()}"
    else:
        raise NoScheduler()
    installed = Installed(kind, where, schedule.text, keep, str(folder.resolve()), copy_to, argv,
                          keep_copies if copy_to else None)
    (stack_dir / RECORD).write_text(json.dumps(asdict(installed), indent=2) + "\n", encoding="utf-8")
    return installed


def remove(stack_dir: Path, project: str, *, forget: bool = True) -> list[str]:
    """Remove this project's timer or cron entry wherever it is; return what was removed."""
    name = unit_name(project)
    removed = []
    timer = SYSTEMD_UNITS / f"{name}.timer"
    if timer.exists():
        if SYSTEMD_RUNNING.is_dir():
            execute.run(execute.Command(("systemctl", "disable", "--now", f"{name}.timer")), check=False)
        for unit in (timer, SYSTEMD_UNITS / f"{name}.service"):
            unit.unlink(missing_ok=True)
        removed.append(str(timer))
    if (CRON_D / name).exists():
        (CRON_D / name).unlink()
        removed.append(str(CRON_D / name))
    if shutil.which("crontab"):
        lines = _crontab_lines()
        kept = [line for line in lines if not line.startswith(f"{MARK}{name} ") and not line.endswith(f"{MARK}{name}")]
        if kept != lines:
            _write_crontab(kept)
            removed.append(f"crontab of {_user()}")
    if forget:
        (stack_dir / RECORD).unlink(missing_ok=True)
    return removed


def _crontab_lines() -> list[str]:
    listed = execute.run(execute.Command(("crontab", "-l")), check=False)
    return listed.stdout.splitlines() if listed.returncode == 0 else []  # exit 1: no crontab yet


def _write_crontab(lines: list[str]) -> None:
    execute.run(execute.Command(("crontab", "-"), stdin="\n".join(lines) + "\n"))


def _user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name
