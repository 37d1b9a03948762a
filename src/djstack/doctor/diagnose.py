"""From facts to findings: container states, probe results, log signatures and `djstack check`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import tls
from ..check import run_check
from ..compose import stack_services
from ..errors import ENGINE_START_HINT, DjstackError
from ..lifecycle import notable_log_lines
from ..model import STACK_FILES, Stack
from .app_errors import crash_exception, request_findings, start_findings
from .certificates import acme_failed
from .causes import (cause_unknown, exit_meaning, host_port_taken, killed, nginx_config_invalid, start_refused,
                     static_files_missing)
from .conditions import hold
from .confinement import read_only_writes, tmpfs_full
from .evidence import BEAT, BROKER, FLOWER, PROBE, WORKER, Evidence, read_evidence
from .facts import Container, Facts
from .finding import (APP, BACKING, CONFIG, CREDENTIALS, ENGINE, ERROR, FILES, FRONT, MEMORY,
                      SITE, UPSTREAM, WARNING, Finding, rank)
from .signatures import SETTLED_BY, finding_for, match, placeholders
from .workers import background_findings, with_queue


@dataclass
class Report:
    findings: list[Finding]  # the most likely root cause first
    checked: list[str]  # what was looked at, for the "healthy" summary

    @property
    def healthy(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)


def engine_unreachable(reason: str, fix: str = ENGINE_START_HINT) -> Report:
    """No engine answers: `reason` is what docker said (EngineUnreachable.reason), the evidence."""
    return Report([Finding(
        "engine-unreachable", ERROR, "The Docker engine is not running or not reachable", fix, ENGINE,
        evidence=[reason] if reason else [])], [])


def not_running(folder: Path, containers: dict[str, Container]) -> Report:
    """Nothing runs: every container is missing or stopped, so there is nothing to diagnose live."""
    evidence = [f"{c.service}: {c.state}, exit code {c.exit_code}" for c in containers.values()]
    return Report([Finding(
        "stack-not-running", ERROR, "The stack is not running" + ("" if containers else ": no containers"),
        f"djstack up {folder}", ENGINE, evidence=evidence or ["docker compose ps --all: no containers"])], [])


def env_file_missing(env: Path) -> Finding:
    """The stack's `.env` is gone or unreadable: Compose cannot fill in the services' settings."""
    why = "missing" if not env.exists() else f"not readable by this user (uid {os.getuid()})"
    return Finding(
        "env-file-missing", ERROR, f"The stack's .env is {why}: Compose cannot configure the services",
        f"Put {env} back (it holds the secrets the db and redis volumes were made with: a new one from "
        f"`djstack init` would not match them), readable by you (`chmod 600 {env}` as its owner); "
        "then `djstack up`.", ENGINE, "", [f"{env}: {why}"])


def diagnose_ungathered(facts: Facts) -> Report:
    """Evidence with no container, log or probe: what kept doctor from gathering any is all it says."""
    return Report(rank(list(facts.check)), [])


def diagnose(stack: Stack, facts: Facts) -> Report:
    if not (facts.containers or facts.logs or facts.probes):
        return diagnose_ungathered(facts)
    values = placeholders(stack, facts.containers.get(stack.services.web))
    names = service_keys(stack)
    keys = {name: key for key, name in names.items()}
    evidence = read_evidence(facts, names)
    found: list[Finding] = list(facts.check)
    for key, name in sorted(names.items(), key=lambda item: TIERS.get(item[0], APP)):  # the deepest first
        c = facts.containers.get(name)
        found += container_findings(key, name, c, facts.logs, values) + killed(key, name, c)
    for probe in facts.probes.values():
        if probe.ok is False:
            found += probe_findings(stack, probe.name, probe.detail, probe.data, values)
    logged = logged_findings(stack, facts, evidence, values, keys)
    found += host_port_taken(stack, evidence) + start_refused(stack, facts, names)
    found += tmpfs_full(stack, evidence, names) + read_only_writes(stack, evidence, names)
    found += [f for f in logged if not settled(f.id, facts)]
    for key in ("web", *(k for k in names if k not in ("web", "nginx", "db", "redis", BROKER, FLOWER))):
        found += crash_reason(stack, facts, evidence, found, values, key)
    found += background_findings(stack, evidence, facts, values, names)
    if stack.acme:
        found += acme_failed(stack, facts.logs.get(stack.services.certbot, []), tls.is_stand_in(stack))
    with_queue(found, facts, values)
    findings = rank(hold(stack, found, evidence, facts, names))
    if findings and findings[0].symptom and findings[0].is_error:
        findings.insert(0, cause_unknown(evidence, names, facts.nginx_error_log))
    return Report(findings, checked(facts, clean=not findings))


def logged_findings(stack: Stack, facts: Facts, evidence: Evidence, values: Mapping[str, str],
                    keys: Mapping[str, str]) -> list[Finding]:
    """What the services' logs say: signatures, Python exceptions in web's, nginx's emergencies and 404s."""
    logged = match("nginx", facts.nginx_error_log, dict(values))
    for name, lines in facts.logs.items():
        if name in keys:
            logged += match(keys[name], lines, dict(values))
    web_lines = evidence.lines["web"]
    logged += request_findings(stack, web_lines, values) + start_findings(stack, web_lines, values)
    logged += nginx_config_invalid(stack, evidence, facts.containers.get(values["nginx"]))
    return logged + static_files_missing(stack, evidence)


def crash_reason(stack: Stack, facts: Facts, evidence: Evidence, found: list[Finding],
                 values: Mapping[str, str], key: str = "web") -> list[Finding]:
    """Why the runs of `key`'s service (web, or a background service running the project's code)
    end, when no finding from its log says it already: the last exception of its ended runs (all its
    lines when it is down for good)."""
    name = values.get(key, key)
    c = facts.containers.get(name)
    crashing = c is not None and (c.state == "restarting" or c.restarts > 0 or
                                  (c.state in ("exited", "dead") and c.exit_code not in (0, 143)))
    # A finding from its log that says why wins; its own state (not running, killed) says less.
    states = {f"{key}-not-running", f"{key}-killed", f"{key}-exited-0"}
    explained = any(f.service == name and not f.symptom and f.id not in states for f in found)
    if not crashing or explained:
        return []
    lines = evidence.lines.get(key, []) if not c.up else evidence.ended_lines(key)
    return crash_exception(stack, lines, values, key)


def settled(finding_id: str, facts: Facts) -> bool:
    """Whether a live probe shows that what a log line says is no longer so."""
    probe = facts.probes.get(SETTLED_BY.get(finding_id, ""))
    return probe is not None and probe.ok is True


def check_findings(folder: Path) -> list[Finding]:
    """`djstack check`'s errors: mistakes in the files, which explain what the containers do."""
    try:
        results = run_check(folder)
    except DjstackError:
        return []
    return [Finding.from_check(f, CONFIG) for f in results if f.is_error]


#: How deep each service sits: db, redis and the broker under web and Celery's worker and beat,
#: under nginx (and Flower, a page behind it). The project's other processes sit with web.
TIERS = {"db": BACKING, "redis": BACKING, BROKER: BACKING, "web": APP, WORKER: APP, BEAT: APP, "nginx": FRONT,
         FLOWER: FRONT}


def service_keys(stack: Stack) -> dict[str, str]:
    """The stack's services by model key (web, nginx, db, redis; worker, beat, broker, flower when it
    has them; each other process of its Procfile under its own name)."""
    s = stack.services
    keys = {s.web: "web", s.nginx: "nginx", s.db: "db", s.redis: "redis", s.broker: BROKER, s.worker: WORKER,
            s.beat: BEAT, s.flower: FLOWER}
    return {keys.get(name, name): name for name in stack_services(stack)}


#: The files container findings name, for a stack at the project root (placeholders() has them for any stack).
ROOT_STACK_FILES = {"compose": STACK_FILES.compose, "uwsgi_ini": STACK_FILES.uwsgi_ini}


def container_findings(key: str, name: str, c: Container | None, logs: dict[str, list[str]],
                       values: Mapping[str, str] = ROOT_STACK_FILES) -> list[Finding]:
    """What `c`'s state says about service `name`; `values` (placeholders()) names the stack's files."""
    tier = TIERS.get(key, APP)
    start = f"`docker compose up -d {name}` (or `djstack up`)"
    if c is None:
        return [Finding(f"{key}-not-running", ERROR, f"{name} has no container", start, tier, name,
                        ["docker compose ps --all: no container for this service"])]
    found = []
    lines = notable_log_lines("\n".join(logs.get(name, []))).splitlines()
    state = f"{name}: state {c.state}, exit code {c.exit_code} ({exit_meaning(c.exit_code)}), restarts {c.restarts}"
    if c.oom_killed:
        limit = f"{c.memory_limit // 2**20} MiB" if c.memory_limit else "none (the host ran out)"
        found.append(Finding(
            "oom-killed", ERROR, f"{name} was killed for lack of memory (OOM)",
            f"Give {name} more memory (its mem_limit in {values['compose']}, or the host's), or make it "
            f"use less (fewer `processes` in {values['uwsgi_ini']} for web); then "
            f"`docker compose up -d --force-recreate {name}`.", MEMORY, name,
            [f"{state}, OOMKilled true, memory limit {limit}"]))
    if c.state == "paused":
        # Frozen, not failed: it answers nothing, so every service above it times out or reads
        # stale errors; its own log says nothing about why. The pause is the cause.
        found.append(Finding(f"{key}-paused", ERROR, f"{name} is paused: its processes are frozen (`docker pause`)",
                             f"`docker compose unpause {name}`.", tier, name,
                             [f"{name}: state paused (docker compose ps shows it as Paused)"]))
    elif c.state in ("exited", "dead", "created"):
        if c.exit_code == 0 and c.restart_policy in ("", "no", "on-failure"):
            found.append(Finding(
                f"{key}-exited-0", ERROR, f"{name} exited with code 0: its main process ended",
                "The container's command must stay in the foreground: `exec` the server as the last "
                "line of the entrypoint (no daemonize, no `&`), and keep `restart: unless-stopped`.",
                tier, name, [state, *lines[-4:]]))
        else:
            why = "stopped" if c.exit_code in (0, 143) else f"crashed (exit code {c.exit_code})"
            # Not a symptom: a container that stays down is where what follows starts, and its exit
            # code's meaning is the last fallback for why (a log signature, when one holds, ranks first).
            found.append(Finding(f"{key}-not-running", ERROR, f"{name} is not running: it {why}",
                                 f"Read its log (`djstack logs {name}`), then {start}.", tier, name,
                                 [state, *lines[-6:]]))
    elif c.state == "restarting" or (c.restarts > 0 and c.health not in ("", "healthy") and not c.oom_killed):
        found.append(Finding(f"{key}-crash-loop", ERROR, f"{name} keeps crashing and restarting",
                             f"Fix the error in its log (`djstack logs {name}`); Docker restarts it.",
                             tier + 1, name, [state, *lines[-6:]]))
    elif c.health == "unhealthy":
        found.append(Finding(f"{key}-unhealthy", ERROR, f"{name} is running but its healthcheck fails",
                             f"See why in its log (`djstack logs {name}`).", tier + 3, name,
                             [state, f"last healthcheck: {c.health_output or '(no output)'}", *lines[-4:]]))
    elif c.health == "starting":
        found.append(Finding(f"{key}-starting", WARNING, f"{name} is still starting",
                             "Wait, then run `djstack doctor` again.", tier + 4, name, [state]))
    return found


def probe_findings(stack: Stack, name: str, detail: str, data: dict, values: dict[str, str]) -> list[Finding]:
    web, nginx = stack.services.web, stack.services.nginx
    evidence = [f"probe: {detail}"]
    if name in ("db", "cache"):
        # The error text says why (password, host…): the log signatures name it.
        known = match(PROBE, [detail], values)
        if known:
            return known
        return [Finding(f"{name}-probe-failed", ERROR, f"web cannot use the {'database' if name == 'db' else 'cache'}",
                        f"Read the error above; `djstack logs {web}` shows more.", CREDENTIALS + 2, web, evidence)]
    if name == "site":
        status = data.get("status")
        if status is None:
            return [Finding("site-unreachable", ERROR, f"Nothing answers at {stack.base_url}",
                            f"nginx publishes HTTP_PORT from .env: check `docker compose ps {nginx}` and "
                            f"`djstack logs {nginx}`.", SITE, nginx, evidence)]
        return [Finding("site-error", ERROR, f"The site answers {status} through nginx",
                        f"See the findings above; `djstack logs {web}` shows Django's traceback.",
                        SITE, nginx, evidence)]
    if name == "nginx→web":
        return [Finding("nginx-cannot-reach-web", ERROR, f"nginx cannot open a connection to {web}:{stack.ports.uwsgi}",
                        f"uWSGI must listen on :{stack.ports.uwsgi} ({values['uwsgi_ini']}) and web must be on the "
                        f"{stack.networks.front} network with nginx.", UPSTREAM - 2, nginx, evidence)]
    if name == "workers":
        # Why (the broker's answer, a worker down) is in the findings of the worker and the broker.
        return [Finding("workers-no-reply", ERROR, "No Celery worker answers web's ping through the broker",
                        f"See the worker's and the broker's findings; `djstack logs {values['worker']}`.",
                        APP + 3, values["worker"], evidence)]
    if name == "migrations":
        return [finding_for("migrations-unapplied", values, evidence, web)]
    if name == "models":
        return [finding_for("migrations-missing", values, evidence, web)]
    if name == "static":
        if not data.get("files"):
            return [Finding("static-missing", ERROR, "The static volume is empty: pages load without CSS/JS",
                            f"web copies the collected files into it at start: "
                            f"`docker compose up -d --force-recreate {web}`; if the image has none, check "
                            "STATIC_ROOT and collectstatic in the Dockerfile.", FILES, web, evidence)]
        return [Finding("static-not-served", ERROR, "nginx does not serve a collected static file",
                        f"Check the static location (alias {stack.paths.static}/) in {values['nginx_conf']} "
                        "and the volume's permissions.", FILES + 1, nginx, evidence)]
    if name == "media":
        return [Finding("media-not-writable", ERROR, "Uploads fail: the media volume is not writable by web",
                        f"Give the volumes back to the app user ({stack.user.name}): "
                        f"`{values['chown_volumes']}`", FILES, web, evidence)]
    return []


def checked(facts: Facts, clean: bool) -> list[str]:
    items = []
    for name, c in facts.containers.items():
        items.append(f"{name}: {c.state}{', ' + c.health if c.health else ''}, restarts {c.restarts}")
    items += [p.detail for p in facts.probes.values()]
    logs = f"logs of {len(facts.logs)} service(s) and nginx's error.log"
    items.append(f"{logs}: no known error signature" if clean else f"{logs} read")
    items.append("djstack check: no errors in the stack's files")
    return items
