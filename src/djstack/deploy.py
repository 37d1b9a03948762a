"""`djstack deploy` and `rollback`: a new release of web goes live without dropping a request.

The live release keeps serving throughout. A deploy builds the new image (tagged as a release, see
releases.py), checks its pending migrations for operations the live code cannot survive, applies
them once in a one-off container of the new image, then switches:

1. nginx is pinned to the live container (compose/nginx/upstream/web.conf names it; nginx reloads,
   its old workers finishing the requests they hold), so it never sends a request to the service
   name while that also means a container still starting;
2. the new release's container starts beside the live one and must pass its healthcheck (a real
   request through uWSGI's socket); then web.conf names it instead, nginx reloads, and a page
   through nginx must answer;
3. the old release's container gets uWSGI's graceful stop (requests in flight finish) and goes;
4. web.conf goes too and nginx reloads once more, back to the service name, which now means only
   the new container. `.env` records the new release (WEB_RELEASE).
5. The background services (Celery's worker and beat, the Procfile's other processes) move to the
   new release too, once web serves it (a task web's new code enqueues may need the new code):
   Compose recreates each, stopping the old container first — SIGTERM is Celery's warm shutdown, so
   the tasks in flight finish within its stop_grace_period while new ones wait in the broker — and
   only then starting the new one, so two beats never run at once (each due task would be sent
   twice). They must pass their healthchecks.

Anything failing before step 3 removes the new container and leaves the live release as it was;
the error shows the new container's last log lines and doctor's first finding.
"""

from __future__ import annotations

import fcntl
import json
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import execute, releases, ui
from .commands import compose as cc
from .commands import docker as dc
from .commands import web as in_web
from .compose import Compose, ServiceState, passes_healthcheck
from .doctor import run_doctor
from .envfile import read_env, set_value
from .files import atomic_write
from .errors import DjstackError
from .lifecycle import build_failure, build_log, http_status, notable_log_lines, validate_env
from .migrations import breaking, parse_plan
from .model import PREVIOUS_KEY, Stack
from .releases import DEFAULT_KEEP, DEFAULT_TIMEOUT

#: How long uWSGI may take to finish the requests it holds when its container stops.
GRACE_SECONDS = 30
#: How long the old nginx workers may take to finish their requests after a reload.
NGINX_DRAIN_SECONDS = 70  # a little over uwsgi_read_timeout: no request is held longer


class DeployFailed(DjstackError):
    """The new release did not go live; the live one still serves, untouched."""

    said = ""  # the new release's last log lines
    diagnosis = ""  # doctor's first finding


@dataclass
class Switched:
    tag: str
    previous: str
    seconds: float  # from the command to the new release serving alone
    migrations: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    static_pruned: int = 0  # hashed static files no kept release references any more
    restarted: list[str] = field(default_factory=list)  # background services moved to the release


def deploy(stack: Stack, *, tag: str | None = None, timeout: float = DEFAULT_TIMEOUT,
           allow_breaking: bool = False, keep: int = DEFAULT_KEEP) -> Switched:
    started = time.monotonic()
    with _one_at_a_time(stack):
        live = _live(stack)
        _require_variables(stack)
        known = {r.tag for r in releases.listed(stack.web_image, set())}
        if tag:
            tag = releases.validate_tag(tag)
            if tag in known:
                raise DjstackError(f"Release {tag} exists already.",
                                   f"Give another --tag, or put it back with `djstack rollback {stack.project.root} {tag}`.")
        else:
            tag = releases.new_tag(stack.project.root)
            if tag in known:  # the same commit again (untracked files changed, or a rebuild): keep both
                tag = f"{tag}-{releases.time_tag()}"
        new = Compose(stack.dir, env={"WEB_RELEASE": tag})
        log = build_log(stack, "deploy-build")
        try:
            with ui.step(f"Building release {tag}") as progress:
                if execute.stream(cc.build(new.project, [stack.services.web]), progress.update, log) != 0:
                    failed = build_failure(stack, log, rerun="djstack deploy")
                    raise DeployFailed(f"{failed.message}\nThe new release did not build; the live release still "
                                       "serves.", failed.fix)
            applied = _migrate(stack, new, allow_breaking)
            result = _switch(stack, new, live, tag, timeout, started)
        except BaseException:
            # A release that never went live is no release: rollback must never pick it.
            execute.run(dc.remove_image(f"{stack.web_image}:{tag}"), check=False)
            raise
        result.migrations = applied
        result.pruned = _prune(stack, keep, tag)
        result.static_pruned = _prune_static(stack)
        return result


def rollback(stack: Stack, *, tag: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Switched:
    """Put an earlier release back the same way: by default the one live before the current one
    (PREVIOUS_KEY in .env). Migrations are not reversed: the database stays as the newer release left
    it (which is why breaking migrations need a deploy of their own)."""
    started = time.monotonic()
    with _one_at_a_time(stack):
        live = _live(stack)
        known = {r.tag for r in releases.listed(stack.web_image, set())}
        tag = tag or stack.previous_release
        if not tag:
            raise DjstackError(f"No earlier release of {stack.web_image} went live here: nothing to roll back to.",
                               "`djstack releases` lists the kept ones: `djstack rollback DIR TAG` puts one back.")
        if tag not in known:
            raise DjstackError(f"No release {tag!r} of {stack.web_image}.",
                               f"Choose one of: {', '.join(sorted(known)) or 'none'} (`djstack releases`).")
        return _switch(stack, Compose(stack.dir, env={"WEB_RELEASE": tag}), live, tag, timeout, started)


@contextmanager
def _one_at_a_time(stack: Stack):
    """One deploy or rollback per stack at a time: two would undo each other's switch."""
    path = Path(tempfile.gettempdir()) / f"djstack-{stack.name}.lock"
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DjstackError(f"Another deploy or rollback of {stack.name} is running.",
                               "Wait for it to finish, then run this one again.") from None
        yield


def _require_variables(stack: Stack) -> None:
    """The new code's settings may read a variable the stack's files do not pass on yet."""
    compose_text = stack.compose_path.read_text(encoding="utf-8")
    new = [v for v in stack.project_env if f"{v.name}:" not in compose_text]
    if new:
        listed = ", ".join(f"{v.name} ({v.where})" for v in new)
        raise DjstackError(f"The new code's settings read variables the stack does not pass to web yet: {listed}.",
                           f"Run `djstack init {stack.project.root}` (your edits are kept), fill them in "
                           f"{stack.env_path}, then deploy again.")
    validate_env(stack, read_env(stack.env_path))


def _live(stack: Stack) -> list[ServiceState]:
    """The live release's container. Stopped leftovers of an interrupted deploy are removed; two
    running web containers (an interrupted switch) are for a person to settle."""
    compose = Compose(stack.dir)
    states = compose.states()
    web = [s for s in states if s.service == stack.services.web]
    for leftover in (s for s in web if s.state != "running"):
        execute.run(dc.remove_container(leftover.container, force=True), check=False)
    running = [s for s in web if s.state == "running"]
    if not running:
        raise DjstackError(f"{stack.name}'s web service is not running: there is no live release to replace.",
                           f"Start the stack first: djstack up {stack.project.root}")
    if len(running) > 1:
        listed = ", ".join(f"{s.container} ({_release_of(s.container)})" for s in running)
        raise DjstackError(f"{len(running)} web containers are running ({listed}): an earlier deploy was interrupted.",
                           f"Keep the one running WEB_RELEASE={stack.web_release} (.env): remove the other with "
                           "`docker rm -f NAME`, then deploy again.")
    if not any(s.service == stack.services.nginx and s.state == "running" for s in states):
        raise DjstackError(f"{stack.name}'s nginx is not running.", f"djstack up {stack.project.root}")
    return running


def _release_of(container: str) -> str:
    return execute.run(dc.release_label(container), check=False).stdout.strip() or "?"


def _image_of(container: str) -> str:
    return execute.run(dc.container_image(container)).stdout.strip()


def _migrate(stack: Stack, new: Compose, allow_breaking: bool) -> list[str]:
    """Check and apply the new release's migrations in a one-off container, the live one serving."""
    web = stack.services.web
    with ui.step("Reading the new release's pending migrations"):
        proc = execute.run(in_web.migration_plan(new.project, web, stack.in_image(stack.files.migration_plan)), check=False)
    if proc.returncode != 0:
        raise DeployFailed("The new release cannot read its migrations; nothing was changed and the live "
                           f"release still serves.\n{notable_log_lines(proc.stdout + proc.stderr)}",
                           "Fix the error above (it is the new code's), then deploy again.")
    try:
        plan = parse_plan(proc.stdout)
    except DjstackError as exc:
        raise DeployFailed(f"{exc.message}\nNothing was changed; the live release still serves.", exc.fix) from None
    found = breaking(plan)
    pending = plan.get("plan", [])
    if found and not allow_breaking:
        listed = "\n".join(f"  {b.app}.{b.migration}: {b.operation}: {b.why}" for b in found)
        raise DeployFailed(
            "The new release's migrations change the database in ways the live release cannot survive "
            f"while both run:\n{listed}\nNothing was applied; the live release still serves.",
            found[0].fix + " Or accept the errors the live release will give meanwhile: "
            "djstack deploy --allow-breaking-migrations.")
    if not pending:
        return []
    with ui.step(f"Applying {len(pending)} migration(s) with the new release, the live one serving"):
        proc = execute.run(in_web.migrate(new.project, web), check=False)
    if proc.returncode != 0:
        raise DeployFailed("A migration of the new release failed; no traffic moved and the live release "
                           f"still serves.\n{notable_log_lines(proc.stdout + proc.stderr)}",
                           "Fix the migration, then deploy again (MySQL does not roll back schema changes: "
                           "check what the failed migration already did with `djstack dbshell`).")
    return [f"{m['app']}.{m['name']}" for m in pending]


def _switch(stack: Stack, new: Compose, live: list[ServiceState], tag: str, timeout: float,
            started: float) -> Switched:
    web = stack.services.web
    previous = stack.web_release
    before = sorted(s.container for s in live)
    upstream = stack.path(stack.files.upstream_conf)
    # From here until the old release is gone nginx never asks DNS for the service name, which
    # would also give it the new container while that one is still starting (or failing to).
    with ui.step("Pinning nginx to the live release"):
        _point_nginx(stack, new, upstream, before[0])
    fresh: list[ServiceState] = []
    try:
        with ui.step(f"Starting release {tag} beside the live one") as progress:
            execute.run(cc.scale_up(new.project, web, len(before) + 1))
            fresh = [s for s in new.states() if s.service == web and s.container not in before]
            if not fresh:
                raise DeployFailed("Compose started no new web container.", "Run `djstack doctor`.")
            _wait_healthy(new, fresh, timeout, progress.update)
        with ui.step("Switching nginx to the new release"):
            _point_nginx(stack, new, upstream, fresh[0].container)
            # A session cookie makes nginx pass the request to Django (never its page cache).
            status = http_status(stack.base_url, stack.request_host, cookie="sessionid=djstack-deploy-check")
            if status is None or status >= 500:
                _point_nginx(stack, new, upstream, before[0])
                raise DeployFailed(f"Through nginx, the new release answered {status or 'nothing'} at "
                                   f"{stack.base_url}.", "Run `djstack doctor`.")
    except BaseException as exc:
        # Whatever stopped the switch (a failure, an engine error, Ctrl-C), the live release stays
        # the only one nginx knows.
        failure = exc if isinstance(exc, DeployFailed) else DeployFailed(str(exc), "Run `djstack doctor`.")
        _discard(stack, fresh, failure)
        _point_nginx(stack, new, upstream, None)  # the service name: the live release alone again
        if isinstance(exc, DeployFailed):
            raise _failure(exc, fresh) from None
        raise
    # The new release serves: .env says so before anything else can go wrong.
    set_value(stack.env_path, "WEB_RELEASE", tag)
    set_value(stack.env_path, PREVIOUS_KEY, previous)
    with ui.step("Retiring the old release (its requests in flight finish first)"):
        for container in before:
            execute.run(dc.stop_container(container, GRACE_SECONDS))
            execute.run(dc.remove_container(container, force=False))
        _point_nginx(stack, new, upstream, None)
    restarted = _restart_background(stack, new, tag, timeout)
    return Switched(tag, previous, time.monotonic() - started, restarted=restarted)


#: How long, beyond its longest task, Compose may take to replace a background service's container.
RECREATE_SECONDS = 300


def _restart_background(stack: Stack, new: Compose, tag: str, timeout: float) -> list[str]:
    """Step 5: the background services on the release web now serves (see the module's docstring)."""
    services = list(stack.background_services)
    if not services:
        return []
    grace = stack.workers.stop_grace_seconds if stack.workers is not None else 0
    try:
        with ui.step(f"Restarting {', '.join(services)} on release {tag} (tasks in flight finish first)") as progress:
            execute.run(cc.recreate(new.project, services, timeout=grace + RECREATE_SECONDS))
            fresh = [s for s in new.states() if s.service in services]
            _wait_healthy(new, fresh, timeout, progress.update)
    except DjstackError as exc:
        raise DeployFailed(f"web serves release {tag}, but {', '.join(services)} did not come back healthy on it: "
                           f"{exc.message}", f"Run `djstack doctor`; `djstack rollback {stack.project.root}` puts "
                           "the previous release back, for web and them.") from None
    return services


def _wait_healthy(compose: Compose, fresh: list[ServiceState], timeout: float, progress) -> None:
    deadline = time.monotonic() + timeout
    pending = {s.container: compose.healthcheck(s) for s in fresh}
    while pending:
        states = {s.container: s for s in compose.states()}
        for container, command in list(pending.items()):
            state = states.get(container)
            if state is None or state.state in ("exited", "dead", "restarting"):
                raise DeployFailed(f"The new release's container {container} stopped while starting.",
                                   "Run `djstack doctor`.")
            if state.state == "running" and (command is None or passes_healthcheck(container, command)):
                del pending[container]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise DeployFailed(f"The new release did not pass its healthcheck within {timeout:.0f} s.",
                               "Run `djstack doctor`, or give it longer with --timeout.")
        progress(f"waiting for {', '.join(pending)} to pass its healthcheck")
        time.sleep(0.5)


def _point_nginx(stack: Stack, compose: Compose, upstream: Path, container: str | None) -> None:
    """Send nginx's new requests to `container` (None: back to the service name), explicitly: write
    or remove web.conf, reload, and wait until the old workers have handed over."""
    old_workers = _nginx_workers(stack, compose)
    if container is None:
        upstream.unlink(missing_ok=True)
    else:
        atomic_write(upstream, "# Written by `djstack deploy`: nginx sends requests to this release's "
                     f"container.\nset $web {stack.web_upstream(container)};\n", 0o644)
    # `nginx -s reload` exits 0 even when the master then rejects the config: test it first.
    proc = execute.run(in_web.nginx_test(compose.project, stack.services.nginx), check=False)
    if proc.returncode == 0:
        proc = execute.run(in_web.nginx_reload(compose.project, stack.services.nginx), check=False)
    if proc.returncode != 0:
        # Left in place, a rejected web.conf would be what nginx loads at its next restart, and refuses.
        if container is not None:
            upstream.unlink(missing_ok=True)
        raise DeployFailed(f"nginx refused to reload: {(proc.stdout + proc.stderr).strip()[-400:]}",
                           "Run `djstack check` and `djstack doctor`.")
    # Old workers stop taking requests at once and finish the ones they hold; wait for that, so the
    # next step (retiring a container) can no longer meet a request sent to it.
    deadline = time.monotonic() + NGINX_DRAIN_SECONDS
    while old_workers & _nginx_workers(stack, compose, shutting_down=True) and time.monotonic() < deadline:
        time.sleep(0.2)


def _nginx_workers(stack: Stack, compose: Compose, *, shutting_down: bool = False) -> set[str]:
    """PIDs of nginx's worker processes (with shutting_down, also those finishing after a reload)."""
    proc = execute.run(in_web.processes(compose.project, stack.services.nginx), check=False)
    workers = set()
    for line in proc.stdout.splitlines():
        pid, _, command = line.partition(" ")
        if "nginx: worker process" in command and (shutting_down or "shutting down" not in command):
            workers.add(pid)
    return workers


def _discard(stack: Stack, fresh: list[ServiceState], failure: DeployFailed) -> None:
    """Note what the new release's containers said and doctor's first finding (on `failure`), then
    remove them."""
    failure.said = "\n".join(f"{s.container}:\n{notable_log_lines(_logs(s.container))}" for s in fresh)
    try:
        first = run_doctor(stack.project.root).findings[:1] if fresh else []
    except DjstackError:
        first = []
    failure.diagnosis = f"\ndoctor's first finding: {first[0].title}\n  fix: {first[0].fix}" if first else ""
    for s in fresh:
        execute.run(dc.remove_container(s.container, force=True), check=False)


def _failure(failure: DeployFailed, fresh: list[ServiceState]) -> DeployFailed:
    gone = "The new release was removed; " if fresh else ""
    return DeployFailed(f"{failure.message} {gone}the live release still serves.\n"
                        f"{failure.said}{failure.diagnosis}", failure.fix)


def _logs(container: str) -> str:
    proc = execute.run(dc.container_logs(container, 60), check=False)
    return proc.stdout + proc.stderr


def running_images(compose: Compose) -> set[str]:
    """The image IDs the stack's running containers use."""
    return {_image_of(s.container) for s in compose.states() if s.state == "running"}


def _prune_static(stack: Stack) -> int:
    """Delete the hashed static files that no kept release's manifest names (old releases' pages
    still in browsers keep theirs while the release is kept)."""
    if stack.project.own_static_storage:
        return 0  # the project's own storage: its files are its business
    manifests = []
    for release in releases.listed(stack.web_image, set()):
        proc = execute.run(dc.read_from_image(f"{stack.web_image}:{release.tag}",
                                              f"{stack.paths.static_build}/staticfiles.json"), check=False)
        if proc.returncode == 0:
            manifests.append(json.loads(proc.stdout))
    if not manifests:
        return 0
    proc = execute.run(in_web.prune_static(Compose(stack.dir).project, stack.services.web,
                                           stack.in_image(stack.files.prune_static), json.dumps(manifests)), check=False)
    try:
        return len(json.loads(proc.stdout.strip().splitlines()[-1])["deleted"])
    except (ValueError, IndexError, KeyError):
        ui.warn(f"Pruning old static files failed (nothing was deleted): {(proc.stdout + proc.stderr).strip()[-300:]}")
        return 0


def _prune(stack: Stack, keep: int, live_tag: str) -> list[str]:
    known = releases.listed(stack.web_image, running_images(Compose(stack.dir)))
    gone = releases.to_prune(known, keep, live_tag)
    for release in gone:
        execute.run(dc.remove_image(f"{stack.web_image}:{release.tag}"), check=False)
    return [r.tag for r in gone]
