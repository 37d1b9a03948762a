"""`djstack up` and `down`: build, start, wait for health, prove the site serves."""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import baseimages, docker, execute, tls, ui
from .commands import compose as cc
from .commands import web as in_web
from .compose import Compose, passes_healthcheck, stack_services, strip_ansi
from .buildhints import missing_system_library
from .commands import docker as dc
from .errors import AcmeFailed, BadEnvEntry, BuildFailed, MissingVariables, StackUnhealthy
from .model import MIN_SECRET_LENGTH, Stack
from .releases import DEFAULT_TAG

WAIT_SECONDS = 300


def validate_env(stack: Stack, recorded: dict[str, str]) -> None:
    """Refuse to start with a missing or short secret in .env: name the key and the file."""
    env_path = stack.env_path
    empty = [v for v in stack.project_env if not recorded.get(v.name, "").strip()]
    if empty:
        raise MissingVariables(env_path, empty)
    for key in stack.secret_keys:  # with Celery, the broker's (and Flower's) too
        value = recorded.get(key, "")
        if not value:
            raise BadEnvEntry(
                key, f"{key} is missing or empty.",
                f"Set {key} to a random value of at least {MIN_SECRET_LENGTH} characters, or delete the "
                "line and run `djstack init` to generate one.", path=env_path,
            )
        if len(value) < MIN_SECRET_LENGTH:
            raise BadEnvEntry(
                key, f"{key} is only {len(value)} characters long.",
                f"Use at least {MIN_SECRET_LENGTH} random characters (delete the line and run `djstack init`).",
                path=env_path,
            )


def build_log(stack: Stack, name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"djstack-{stack.name}-{name}.log"


def ensure_base_images(stack: Stack) -> None:
    """Build the local base images this stack names and the engine lacks (its Python's, once per host)."""
    if stack.image_source != "debian" or not baseimages.missing_images(stack.base_images):
        return
    ui.say("Building the local base images from a Debian mirror (once per host; a few minutes).")
    baseimages.ensure_images(stack.base_images, stack.debian_mirror or None, say=ui.say)


def build(stack: Stack, compose: Compose) -> None:
    """Build the stack's images. A release that `deploy` put live is never rebuilt here: its tag
    would then hold other code, and `rollback` to it would not give back what ran."""
    services: list[str] = []
    if stack.web_release != DEFAULT_TAG and docker.image_exists(f"{stack.web_image}:{stack.web_release}"):
        services = [stack.services.nginx]
        ui.say(f"web runs release {stack.web_release} (WEB_RELEASE in .env), as built: "
               "`djstack deploy` puts new code live.")
    log = build_log(stack, "build")
    with ui.step("Building images") as progress:
        if execute.stream(cc.build(compose.project, services), progress.update, log) != 0:
            raise build_failure(stack, log)


def build_failure(stack: Stack, log: Path, rerun: str = "djstack up") -> BuildFailed:
    """The failed build in `log`, and how to fix it; `rerun` is the command to run again after."""
    text = log.read_text(encoding="utf-8", errors="replace")
    tail = "\n".join(text.splitlines()[-25:])
    fix = f"Fix the error shown above, then run `{rerun}` again."
    missing = missing_system_library(text)
    if missing:
        package, said = missing
        apt = stack.from_root(stack.files.apt_packages)
        fix = (f"A dependency is compiled from source and needs the Debian package {package} ({said!r} in the "
               f"log). Add `{package}` to the [build] section of {apt} (and its shared library to [runtime]), "
               f"then run `{rerun}` again.")
    if "CERTIFICATE_VERIFY_FAILED" in text or "self-signed certificate" in text:
        fix = ("pip in the build does not trust this network's TLS certificates. Give it your CA bundle: "
               f"`djstack init --ca-bundle /path/to/ca.pem` (PIP_CA_BUNDLE in .env), then `{rerun}`.")
    return BuildFailed(f"Building the images failed. Last lines (full log: {log}):\n{tail}", fix)


def start(stack: Stack, compose: Compose) -> None:
    log = build_log(stack, "up")
    what = "every service passes its healthcheck"
    if stack.workers is not None:
        what += f" ({', '.join(_background(stack))} too)"
    with ui.step(f"Starting and waiting until {what}") as progress:
        if execute.stream(cc.up(compose.project), progress.update, log) != 0:
            raise StackUnhealthy(_failure_report(compose, log))
        failure = wait_ready(compose, progress.update)
        if failure:
            raise StackUnhealthy(_failure_report(compose, log, *failure), service=", ".join(failure[1]))


def _background(stack: Stack) -> list[str]:
    """The broker and the background services, as `up` names what it waits for."""
    return [stack.services.broker, *stack.background_services]


def wait_ready(compose: Compose, on_progress: Callable[[str], None],
               timeout: float = WAIT_SECONDS) -> tuple[str, list[str]] | None:
    """Wait until every service runs and passes its own healthcheck: None, or what went wrong and
    the services concerned.

    The services' healthcheck commands are run here, twice a second, rather than waiting for Docker:
    its first check comes one `interval` after the start, and the intervals are long because each
    check costs CPU for as long as the stack runs (see docker-compose.yml).
    """
    deadline = time.monotonic() + timeout
    ready: set[str] = set()
    checks: dict[str, list[str] | None] = {}
    while True:
        states = compose.states()
        for s in states:
            if s.state in ("exited", "dead", "restarting"):
                return f"{s.service} stopped while starting.", [s.service]
            if s.service in ready or s.state != "running":
                continue
            if s.service not in checks:
                checks[s.service] = compose.healthcheck(s)
            command = checks[s.service]
            if s.health == "healthy" or command is None or passes_healthcheck(s.container, command):
                ready.add(s.service)
        waiting = sorted({s.service for s in states} - ready)
        if states and not waiting:
            return None
        if time.monotonic() > deadline:
            return f"not ready after {timeout:.0f} s: {', '.join(waiting) or 'no service started'}.", waiting
        on_progress(f"waiting for {', '.join(waiting)}")
        time.sleep(0.5)


def _failure_report(compose: Compose, log: Path, reason: str | None = None,
                    services: Sequence[str] = ()) -> str:
    if reason:
        parts = [f"Starting the stack failed: {reason}"]
    else:
        # Compose's own last words: a taken port or a missing image never reaches a service's log.
        said = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip()][-3:]
        parts = ["Starting the stack failed. Compose said:\n" + "\n".join(f"  {line}" for line in said)
                 + f"\n(full output: {log})"]
    bad = [s for s in compose.states() if s.state != "running" or s.health == "unhealthy" or s.service in services]
    for s in bad:
        what = f"{s.state}, exit code {s.exit_code}" if s.state != "running" else (s.health or "not ready")
        parts.append(f"Service {s.service} is {what}.\n{notable_log_lines(compose.logs(s.service, 300))}")
    return "\n\n".join(parts)


_ERROR_LINE = re.compile(r"error|fatal|traceback|exception|denied|refused|unknown option", re.IGNORECASE)


def notable_log_lines(log: str, errors: int = 8, tail: int = 8) -> str:
    """The last few error-looking lines, then the last lines: what a person needs to see first."""
    lines = [line for line in log.splitlines() if line.strip()]
    if not lines:
        return "(no log output)"
    found = [line for line in lines[:-tail] if _ERROR_LINE.search(line)][-errors:]
    indent = [f"  {line}" for line in found]
    shown = ["Errors in its log:", *indent, "Last lines:"] if found else ["Last log lines:"]
    return "\n".join(shown + [f"  {line}" for line in lines[-tail:]])


@dataclass(frozen=True)
class SmokeResult:
    page_status: int
    static_path: str | None
    static_status: int | None
    probe: dict
    workers: tuple[str, ...] = ()  # the Celery workers that answered web's ping through the broker


def smoke_check(stack: Stack, compose: Compose) -> SmokeResult:
    """Through nginx: a dynamic page and a static file. Inside web: the database and the cache."""
    host = stack.request_host
    page = http_status(stack.base_url, host)
    if page is None or page >= 500:
        raise StackUnhealthy(
            f"The site answered {page or 'nothing'} at {stack.base_url} through nginx.\n"
            f"web's last log lines:\n{compose.logs(stack.services.web, 20)}",
            service=stack.services.web,
        )
    static_path = a_static_file(stack, compose)
    static_status = None
    if static_path:
        static_status = http_status(stack.base_url.rstrip("/") + static_path, host)
        if static_status != 200:
            raise StackUnhealthy(f"nginx answered {static_status} for the static file {static_path}.",
                                 service=stack.services.nginx)
    proc = execute.run(in_web.probe(compose.project, stack.services.web, stack.in_image(stack.files.probe)), check=False)
    try:
        probe = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        probe = {"error": (proc.stdout + proc.stderr).strip()[-500:]}
    if proc.returncode != 0:
        raise StackUnhealthy(f"From inside web, the database or cache check failed: {probe}",
                             service=stack.services.web)
    workers: list[str] = []
    if stack.workers is not None:
        # The worker's healthcheck asks it directly; this asks as web enqueues: through the broker.
        workers, said = ping_workers(stack, compose)
        if not workers:
            raise StackUnhealthy(
                f"No Celery worker answered a ping from web through the broker: tasks web enqueues would wait."
                f"\n{notable_log_lines(said)}\n{stack.services.worker}'s last log lines:\n"
                f"{compose.logs(stack.services.worker, 20)}", service=stack.services.worker)
    return SmokeResult(page, static_path, static_status, probe, tuple(workers))


def ping_workers(stack: Stack, compose: Compose) -> tuple[list[str], str]:
    """The Celery workers that answer a ping from web through the broker — what web enqueues to
    reaches a worker — and what the command said when none did."""
    proc = execute.run(in_web.celery_ping(compose.project, stack.services.web, stack.workers.app), check=False)
    said = (proc.stdout + proc.stderr).strip()
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            replies = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(replies, dict):
            return sorted(name for name, reply in replies.items() if (reply or {}).get("ok") == "pong"), said
    return [], said


def http_status(url: str, host: str, timeout: float = 10, cookie: str | None = None) -> int | None:
    request = urllib.request.Request(url, headers={"Host": host, **({"Cookie": cookie} if cookie else {})})
    # Our own stack on loopback: the smoke check proves it serves, not that this host trusts the
    # certificate (a self-signed one, or a real one for a name that is not 127.0.0.1).
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def a_static_file(stack: Stack, compose: Compose) -> str | None:
    """The URL of one collected static file (a stylesheet if there is one), or None."""
    location = stack.url_path(stack.project.static_url)
    if location is None:
        return None
    root = stack.paths.static_build
    proc = execute.run(in_web.stylesheets(compose.project, stack.services.web, root), check=False)
    files = sorted(proc.stdout.split())
    if not files:
        return None
    return location + files[0][len(root) + 1 :]


def up(stack: Stack, recorded: dict[str, str]) -> SmokeResult:
    validate_env(stack, recorded)
    tls.validate(stack)
    compose = Compose(stack.dir)
    ensure_base_images(stack)
    build(stack, compose)
    began = time.time()
    started = time.monotonic()
    start(stack, compose)
    healthy_after = time.monotonic() - started
    _forget_interrupted_switch(stack, compose)
    with ui.step("Checking the site through nginx" + (" and the workers through the broker" if stack.workers else "")):
        result = smoke_check(stack, compose)
    background = ""
    if stack.workers is not None:
        background = f", {len(result.workers)} Celery worker(s) answering through the broker"
        if stack.services.beat in stack.background_services:
            background += f", {stack.services.beat}'s scheduler running"
    ui.ok(f"All services ({', '.join(stack_services(stack))}) passed their healthchecks {healthy_after:.0f} s "
          f"after start; page {result.page_status}, static {result.static_status or 'n/a'}, database and cache "
          f"reachable{background}.")
    issued = wait_for_certificate(stack, compose, began)
    if issued:
        ui.ok(f"Certificate from {stack.acme_server}: {issued}.")
    return result


def acme_outcome(log: str) -> tuple[str, str] | None:
    """The last `acme: issued|renewed|failed` line of certbot's log as (outcome, the rest), or None."""
    for line in reversed(log.splitlines()):
        m = tls.ACME_OUTCOME.match(line)
        if m:
            return ("failed", m.group(5)) if m.group(4) else (m.group(1), f"{m.group(2)} until {m.group(3)}")
    return None


def _utc(stamp: str) -> float:
    """Docker's RFC 3339 time (nanoseconds, Z) as seconds since the epoch."""
    from datetime import datetime, timezone
    day, _, rest = stamp.strip().partition("T")
    clock = rest.rstrip("Z").split(".")[0].split("+")[0]
    return datetime.strptime(f"{day}T{clock}", "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


def _certbot_said(compose: Compose, service: str, since: float) -> tuple[str, str] | None:
    """The last outcome line the certbot service printed since `since` (seconds since the epoch)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since - 1))
    proc = execute.run(cc.logs(compose.project, service, 2000, since=stamp), check=False)
    return acme_outcome(strip_ansi(proc.stdout + proc.stderr))


def wait_for_certificate(stack: Stack, compose: Compose, since: float,
                         now: Callable[[], float] = time.time, pause: Callable[[float], None] = time.sleep) -> str | None:
    """acme: while nginx still serves the stand-in, wait for the certbot service's first outcome (its
    `acme: issued` or `acme: failed:` line) and raise AcmeFailed on a failure; nothing is stopped. A
    certbot already running when `up` began (waiting to retry) is restarted: `up` tries now. Returns
    the issued line's rest (names until date), or None when a certificate was already in place."""
    if not stack.acme:
        return None
    service = stack.services.certbot
    if not tls.is_stand_in(stack):  # in place: what certbot said since this `up` began, if anything
        found = _certbot_said(compose, service, since)
        return found[1] if found and found[0] != "failed" else None
    state = next((s for s in compose.states() if s.service == service), None)
    if state is not None:
        started = execute.run(dc.inspect_field(state.container, "{{.State.StartedAt}}"), check=False).stdout
        if started.strip() and _utc(started) < since:
            execute.run(cc.restart(compose.project, service), check=False)
            since = now()
    deadline = now() + stack.acme_wait_seconds
    fix = (f"Check that each domain ({', '.join(stack.domains)}) resolves to this host, that port 80 reaches "
           f"nginx here from the internet, and that --acme-server ({stack.acme_server}) is right; then run "
           f"`djstack up` again (it retries at once; certbot itself retries every ACME_RETRY_SECONDS). The site "
           f"keeps serving the self-signed stand-in meanwhile; `djstack logs {service}` shows certbot's output.")
    with ui.step(f"Waiting for the first certificate from {stack.acme_server}") as progress:
        while True:
            found = _certbot_said(compose, service, since)
            if found and found[0] == "failed":
                raise AcmeFailed(f"certbot could not get the certificate: {found[1]}", fix, found[1])
            if found:
                return found[1]
            if now() > deadline:
                raise AcmeFailed(f"certbot got no certificate within {stack.acme_wait_seconds} s (no outcome in its "
                                 "log yet).", fix)
            progress.update(f"{service}: waiting for {', '.join(stack.domains)}")
            pause(2)


def _forget_interrupted_switch(stack: Stack, compose: Compose) -> None:
    """A web.conf left by an interrupted deploy may name a container that is gone: `up` converges to
    the service name (see compose/nginx/upstream/README.md)."""
    left = stack.path(stack.files.upstream_conf)
    if left.exists():
        left.unlink()
        execute.run(in_web.nginx_reload(compose.project, stack.services.nginx), check=False)
        ui.say(f"Removed {left.relative_to(stack.dir)}, left by an interrupted deploy: nginx sends to "
               f"the {stack.services.web} service again.")


def down(stack: Stack, *, volumes: bool) -> None:
    compose = Compose(stack.dir)
    with ui.step("Stopping the stack" + (" and deleting its volumes" if volumes else "")):
        execute.run(cc.down(compose.project, volumes=volumes))
