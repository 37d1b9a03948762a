"""Gathering facts about a running stack: containers, logs, probes. Nothing here judges them."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .. import execute
from ..commands import compose as cc
from ..commands import docker as dc
from ..commands import web as in_web
from ..compose import Compose, healthcheck_command, passes_healthcheck, strip_ansi
from ..lifecycle import a_static_file, http_status, ping_workers
from ..errors import CommandTimedOut
from ..model import Stack
from .disk import gather_disk
from .finding import Finding

LOG_TAIL = 300


@dataclass
class Container:
    service: str
    state: str  # running, exited, restarting, created, dead, paused
    health: str  # healthy, unhealthy, starting, "" without a healthcheck
    exit_code: int
    restarts: int
    oom_killed: bool
    started_at: str  # RFC 3339, as Docker reports it
    restart_policy: str
    memory_limit: int  # bytes, 0 = none
    health_output: str  # the last healthcheck's output
    image: str = ""
    volumes: dict[str, str] = field(default_factory=dict)  # mount point → volume name
    error: str = ""  # why Docker could not start it (State.Error), e.g. a host port already taken

    @property
    def up(self) -> bool:
        return self.state == "running"


@dataclass
class Probe:
    name: str
    ok: bool | None  # None: could not be run (the container it needs is down)
    detail: str
    data: dict = field(default_factory=dict)


@dataclass
class Facts:
    containers: dict[str, Container]  # by service name
    logs: dict[str, list[str]]  # by service name; see service_logs for which lines
    nginx_error_log: list[str]
    probes: dict[str, Probe]
    check: list[Finding] = field(default_factory=list)  # djstack check's errors in the stack's files
    # By service name: the index in `logs` of the first line the current container wrote (its last
    # start); earlier lines are from runs that ended. Absent when Docker gave no times.
    current_from: dict[str, int] = field(default_factory=dict)
    disk: dict = field(default_factory=dict)  # doctor/disk.py's measurements

    def to_json(self) -> str:
        """Everything doctor saw, for `--save-evidence` and as recorded test data."""
        return json.dumps({"format": EVIDENCE_FORMAT, **asdict(self)}, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Facts:
        """Facts saved by to_json; ValueError when `text` is not such a file."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != EVIDENCE_FORMAT:
            raise ValueError(f"not a djstack evidence file (format {EVIDENCE_FORMAT})")
        return cls({name: Container(**c) for name, c in data["containers"].items()}, data["logs"],
                   data["nginx_error_log"], {name: Probe(**p) for name, p in data["probes"].items()},
                   [Finding(**f) for f in data["check"]], data["current_from"], data.get("disk", {}))


#: The evidence file's version: raised when a field changes meaning.
EVIDENCE_FORMAT = 1


def inspect_containers(compose: Compose) -> dict[str, Container]:
    ids = execute.run(cc.container_ids(compose.project)).stdout.split()
    if not ids:
        return {}
    rows = json.loads(execute.run(dc.inspect(*ids)).stdout)
    found = {}
    for row in rows:
        state = row.get("State") or {}
        health = state.get("Health") or {}
        checks = health.get("Log") or []
        service = (row.get("Config", {}).get("Labels") or {}).get("com.docker.compose.service", "")
        status = health.get("Status", "")
        if status == "starting" and state.get("Status") == "running":
            # Docker's first check comes one interval after the start; run the same command now.
            command = healthcheck_command(row.get("Config", {}).get("Healthcheck"))
            if command and passes_healthcheck(row["Id"], command):
                status = "healthy"
        found[service] = Container(
            service=service,
            state=state.get("Status", ""),
            health=status,
            exit_code=int(state.get("ExitCode") or 0),
            restarts=int(row.get("RestartCount") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            started_at=state.get("StartedAt", ""),
            restart_policy=(row.get("HostConfig", {}).get("RestartPolicy") or {}).get("Name", ""),
            memory_limit=int(row.get("HostConfig", {}).get("Memory") or 0),
            health_output=(checks[-1].get("Output") or "").strip() if checks else "",
            image=row.get("Config", {}).get("Image", ""),
            volumes={m.get("Destination", ""): m.get("Name", "") for m in row.get("Mounts") or []
                     if m.get("Type") == "volume"},
            error=state.get("Error", ""),
        )
    return found


def service_logs(compose: Compose, container: Container) -> tuple[list[str], int | None]:
    """A healthy container's lines since it started (older lines are about problems already gone);
    all recent lines of one that crashed, restarted or stopped (its errors are from before). With
    them, the index of the first line of the container's current run (None: Docker gave no times)."""
    settled = container.up and container.restarts == 0 and not container.oom_killed
    since = container.started_at if settled and container.started_at else None
    proc = execute.run(cc.logs(compose.project, container.service, LOG_TAIL, since, timeout=60,
                               timestamps=True), check=False)
    return split_times(strip_ansi(proc.stdout + proc.stderr).splitlines(), parse_time(container.started_at))


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?\S* ?")


def split_times(stamped: list[str], started: float | None) -> tuple[list[str], int | None]:
    """`docker logs --timestamps` lines without their times, and the index of the first written at or
    after `started` (the current run's first line; len(lines) when it wrote none yet), or None when
    `started` is unknown."""
    lines, first_current = [], None
    for raw in stamped:
        match = _STAMP.match(raw)
        text = raw[match.end():] if match else raw
        if not text.strip():
            continue
        if first_current is None and match and started is not None and _seconds(*match.groups("")) >= started:
            first_current = len(lines)
        lines.append(text)
    if started is None:
        return lines, None
    return lines, len(lines) if first_current is None else first_current


_NGINX_TIME = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ")


def parse_time(text: str) -> float | None:
    """Seconds since the epoch of Docker's RFC 3339 time (nanoseconds, Z), or None."""
    match = _STAMP.match(text or "")
    if not match or text.startswith("0001-"):
        return None
    return _seconds(*match.groups(""))


def _seconds(stamp: str, fraction: str = "") -> float:
    # The fraction counts: Docker restarts a crashed container within 100 ms, so its last run's final
    # lines and the next run's start often fall in the same second.
    whole = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return whole + float("0" + fraction)


def nginx_error_lines(lines: list[str]) -> list[str]:
    """nginx's error log among its container's output (its access lines beside them): the lines in
    the error log's format, `2026/12/02 12:00:00 [error] …`. nginx writes both to its output only."""
    return [line for line in lines if _NGINX_TIME.match(line)]


# --- probes -----------------------------------------------------------------------------------------

class Unavailable(Exception):
    """The container went away (restarting, stopped) under a probe: the probe says nothing."""


def _exec(command: execute.Command) -> execute.Result:
    try:
        proc = execute.run(command, check=False)
    except CommandTimedOut as exc:
        # A container that hangs while it crash-loops: the probe says nothing, doctor goes on.
        raise Unavailable(exc.message) from exc
    if proc.returncode != 0 and "Error response from daemon" in proc.stderr:
        raise Unavailable(_last(proc.stderr))
    return proc


def probe_site(stack: Stack) -> Probe:
    """One request through nginx on the published port, from this host."""
    host = stack.request_host
    status = http_status(stack.base_url, host)
    detail = f"GET {stack.base_url} (Host: {host}) → {status or 'no answer'}"
    return Probe("site", status is not None and status < 500, detail, {"status": status})


def probe_nginx_to_web(stack: Stack, compose: Compose) -> Probe:
    target = f"{stack.services.web}:{stack.ports.uwsgi}"
    proc = _exec(in_web.tcp_open(compose.project, stack.services.nginx, stack.services.web, stack.ports.uwsgi))
    reason = (proc.stderr.strip().splitlines() or ["connection failed"])[-1]
    return Probe("nginx→web", proc.returncode == 0,
                 f"TCP {target} from nginx: " + ("open" if proc.returncode == 0 else reason))


def probe_django(stack: Stack, compose: Compose) -> list[Probe]:
    """Django's own view from inside web: its database and cache connections, its migrations."""
    proc = _exec(in_web.django_probes(compose.project, stack.services.web, stack.in_image(stack.files.probe)))
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        text = (proc.stdout + proc.stderr).strip().splitlines()
        return [Probe("db", False, f"Django failed in web (exit {proc.returncode}): " + " | ".join(text[-3:]))]
    return [*_db_and_cache(result["probe"]), _migrations(result["plan"]), _models(result["models"])]


def _db_and_cache(run: dict) -> list[Probe]:
    try:
        result = json.loads(run["output"].strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return [Probe("db", False, f"probe.py failed (exit {run['code']}): {_last(run['output'])}")]
    probes = []
    for name, what in (("db", "database"), ("cache", "cache")):
        part = result.get(name) or {}
        detail = f"{what} from web: " + ("ok" if part.get("ok") else part.get("error", "failed"))
        probes.append(Probe(name, bool(part.get("ok")), detail, part))
    return probes


def _migrations(run: dict) -> Probe:
    """Unapplied migrations: `[ ]` lines of showmigrations --plan."""
    if run["code"] != 0:
        return Probe("migrations", None, "showmigrations failed: " + _last(run["output"]))
    pending = [line.strip()[4:] for line in run["output"].splitlines() if line.strip().startswith("[ ]")]
    return Probe("migrations", not pending, f"{len(pending)} unapplied migration(s)" +
                 (": " + ", ".join(pending[:5]) if pending else ""))


def _models(run: dict) -> Probe:
    """Model changes without a migration: makemigrations --check --dry-run exits 1 and lists them."""
    lines = [line.strip() for line in run["output"].splitlines() if line.strip()]
    if run["code"] == 0:
        return Probe("models", True, "every model change has a migration")
    if any(line.startswith("Migrations for") for line in lines):
        return Probe("models", False, "makemigrations --check: " + " | ".join(lines[:4]))
    return Probe("models", None, "makemigrations --check failed: " + _last(run["output"]))


def probe_static(stack: Stack, compose: Compose, service: str, through_nginx: bool) -> Probe:
    """Files in the static volume (web copies them in at start; nginx serves them)."""
    root = stack.paths.static
    proc = _exec(in_web.count_files(compose.project, service, root))
    count = int(proc.stdout.strip() or 0) if proc.stdout.strip().isdigit() else 0
    probe = Probe("static", count > 0, f"{count} file(s) in the static volume ({root}, seen from {service})",
                  {"files": count})
    if count and service == stack.services.web and through_nginx:
        path = a_static_file(stack, compose)
        if path:
            host = stack.request_host
            status = http_status(stack.base_url.rstrip("/") + path, host)
            probe.detail += f"; GET {path} through nginx → {status or 'no answer'}"
            probe.data["status"] = status
    return probe


def probe_media(stack: Stack, compose: Compose) -> Probe:
    """Whether the app user (web's default user) can create a file in the media volume."""
    media = stack.paths.media
    proc = _exec(in_web.media_writable(compose.project, stack.services.web, media))
    if proc.returncode == 0:
        return Probe("media", True, f"{media} writable by web's user")
    text = " | ".join(line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip())
    return Probe("media", False, f"{media} not writable by web's user: {text}")


#: What Celery's command line adds to "Could not connect to the message broker", before its reason.
_CELERY_BOILERPLATE = re.compile(r"\. Please make sure your broker .*? are correct\.")


def celery_said(line: str) -> str:
    """A line of Celery's command line without its advice, so its reason stays in a line of evidence."""
    return _CELERY_BOILERPLATE.sub(".", line)


def probe_workers(stack: Stack, compose: Compose) -> Probe:
    """A ping from web to Celery's workers through the broker: web's view of its background work."""
    try:
        answered, said = ping_workers(stack, compose)
    except CommandTimedOut as exc:
        return Probe("workers", False, f"workers from web: no answer ({exc.message})")
    if answered:
        return Probe("workers", True, f"workers from web: {', '.join(answered)} answered a ping through the broker",
                     {"workers": answered})
    return Probe("workers", False, f"workers from web: none answered a ping: {celery_said(_last(said))[:300]}")


def probe_queue(stack: Stack, compose: Compose) -> Probe:
    """The tasks waiting in the broker's default queue: work that no worker has taken yet."""
    proc = _exec(in_web.queue_length(compose.project, stack.services.broker, stack.redis_acl.user))
    text = proc.stdout.strip().split()[-1:] if proc.returncode == 0 else []
    if not text or not text[0].isdigit():
        return Probe("queue", None, f"the broker's queue could not be read: {_last(proc.stdout + proc.stderr)}")
    return Probe("queue", True, f"{text[0]} task(s) waiting in the broker's queue", {"waiting": int(text[0])})


def _last(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def gather(stack: Stack, compose: Compose, containers: dict[str, Container], check: list[Finding]) -> Facts:
    """Probes first, so the logs read afterwards hold what the probes' requests caused. `check` is
    djstack check's findings for the stack's files, kept with the rest."""
    s = stack.services
    up = {name for name, c in containers.items() if c.up}
    web = containers.get(s.web)
    # A container that crashed and restarts may be gone again by the time a probe runs in it.
    web_settled = s.web in up and not (web.restarts > 0 and web.health not in ("", "healthy"))
    probes: dict[str, Probe] = {}
    started = time.time()
    # A paused container takes connections and never answers: every probe through it would wait out
    # its timeout (minutes in all). Its state says enough.
    paused = sorted(name for name, c in containers.items() if c.state == "paused")
    try:
        if paused:
            raise Unavailable(f"{', '.join(paused)} paused, nothing probed")
        if s.nginx in up:
            probes["site"] = probe_site(stack)
            probes["nginx→web"] = probe_nginx_to_web(stack, compose)
        if web_settled:
            for probe in probe_django(stack, compose):
                probes[probe.name] = probe
            probes["static"] = probe_static(stack, compose, s.web, s.nginx in up)
            probes["media"] = probe_media(stack, compose)
            if stack.workers is not None:
                probes["workers"] = probe_workers(stack, compose)
        elif s.nginx in up:
            probes["static"] = probe_static(stack, compose, s.nginx, False)
        if stack.workers is not None and s.broker in up:
            probes["queue"] = probe_queue(stack, compose)
    except Unavailable as exc:
        probes["unavailable"] = Probe("unavailable", None, f"probes stopped: {exc}")
    logs, current_from = {}, {}
    for name, c in containers.items():
        logs[name], first = service_logs(compose, c)
        if first is not None:
            current_from[name] = first
    error_log = nginx_error_lines(logs.get(s.nginx, []))
    return Facts(containers, logs, error_log, probes, check, current_from, gather_disk(stack, compose))
