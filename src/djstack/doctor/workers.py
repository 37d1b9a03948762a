"""Findings of the stack's background work: Celery's worker and beat, and the broker they share with web.

The worker's and beat's logs say what they did (a task received, succeeded or raised; a due task sent)
and what kept them from the broker: kombu's "Cannot connect to URL: REASON", where the reason is
redis-py's — a name or port that does not answer (`Error -2 connecting to broker:6379`), or a password
the broker refuses (`invalid username-password pair`, Redis's WRONGPASS). A failure a later line
undoes (the consumer "Connected to" the broker again, beat sending a due task) is history, as is one
a worker answering web's ping through the broker (the `workers` probe) disproves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..model import Stack
from .app_errors import in_project
from .evidence import BEAT, CELERY, FLOWER, PROBE, WEB, WORKER, Evidence, Fact, parse
from .facts import Facts, Probe, celery_said
from .finding import APP, CREDENTIALS, ERROR, REQUEST, WARNING, Finding
from .tracebacks import project_frame, raised_in

#: The probe's detail starts with this (facts.probe_workers): only its lines are the broker's for sure.
PROBE_PREFIX = "workers from web:"
#: A reply of the broker that refuses the client's user or password.
AUTH = ("redis:WRONGPASS", "redis:NOAUTH")
#: What the services' Celery code is called in findings.
WHO = {WEB: "web", PROBE: "web", WORKER: "the worker", BEAT: "beat", FLOWER: "Flower"}
#: MySQL client errors of a connection that broke mid-query (2006 gone away, 2013 lost): the worker
#: reconnects for its next task, and db's own findings (a restart, a kill) say why it broke.
CONNECTION_LOST = ("mysql:2006", "mysql:2013")
#: MySQL client errors of a server the worker could not reach (2002/2003 no answer, 2005 no such name):
#: while db was stopped or being recreated, or for good when the worker is not on db's network. The
#: log alone cannot tell which, so the failure is a warning that says both, never an error of the task.
DB_UNREACHED = ("mysql:2002", "mysql:2003", "mysql:2005")


@dataclass(frozen=True)
class Failed:
    """A client of the broker that could not use it: who, the line, and why."""

    source: str
    fact: Fact
    auth: bool  # the broker refused the password (else it did not answer)
    host: str  # the host:port redis-py tried, when the line names it


def broker_failures(stack: Stack, evidence: Evidence, facts: Facts) -> list[Failed]:
    """Every client's last failure to use the broker that nothing since undoes."""
    probe = facts.probes.get("workers")
    if probe is not None and probe.ok:
        return []  # a worker answered web through the broker just now
    found = _health_failures(stack, facts)
    for source in (*CELERY, WEB, PROBE):
        # kombu's words, beat's, and redis-py's exceptions naming the broker in their tracebacks.
        candidates = [f for f in evidence.of("celery-cannot-connect", "beat-send-failed", "redis-connect-failed",
                                             source=source)
                      if f.kind != "redis-connect-failed" or f.subject == stack.services.broker]
        if source in (WEB, PROBE):
            # web's own lines name the broker's host (the cache's Redis is another server); the
            # probe's are the broker's whatever they say.
            candidates = [f for f in evidence.of("redis-connect-failed", *AUTH, source=source)
                          if (source == PROBE and f.line.startswith(PROBE_PREFIX))
                          or (f.kind == "redis-connect-failed" and f.subject == stack.services.broker)]
        if not candidates or any(f.source == source for f in found):
            continue
        last = candidates[-1]
        if _recovered(evidence, source, last.index):
            continue
        auth, connect = _reason(evidence, last)
        if last.kind == "beat-send-failed" and not auth and connect is None:
            continue  # not the broker's: beat_findings says it
        found.append(Failed(source, last, auth, f"{connect.subject}:{connect.code}" if connect else ""))
    return found


def _reason(evidence: Evidence, fact: Fact) -> tuple[bool, Fact | None]:
    """What the line of `fact` says of the broker: a password refused, and where redis-py could not connect."""
    same_line = [f for f in evidence.facts if f.source == fact.source and f.index == fact.index]
    return (any(f.key in AUTH for f in same_line),
            next((f for f in same_line if f.kind == "redis-connect-failed"), None))


def _health_failures(stack: Stack, facts: Facts) -> list[Failed]:
    """The worker's healthcheck pings through the broker: when it fails, its output (Celery's
    "Could not connect to the message broker … Reason: …") says why now, whatever the log says
    (a connection cut silently leaves nothing there)."""
    found = []
    for source in CELERY:
        c = facts.containers.get(getattr(stack.services, source))
        if c is None or not c.up or c.health != "unhealthy" or not c.health_output:
            continue
        output = celery_said(c.health_output.strip().splitlines()[-1])
        said = parse(source, [f"last healthcheck: {output}"])
        failed = next((f for f in said if f.kind == "celery-cannot-connect" or f.key in AUTH
                       or (f.kind == "redis-connect-failed" and f.subject == stack.services.broker)), None)
        if failed is not None:
            connect = next((f for f in said if f.kind == "redis-connect-failed"), None)
            found.append(Failed(source, failed, any(f.key in AUTH for f in said),
                                f"{connect.subject}:{connect.code}" if connect else ""))
    return found


def _recovered(evidence: Evidence, source: str, index: int) -> bool:
    """A line after `index` shows the client using the broker again."""
    again = {WORKER: ("celery-connected", "celery-ready", "celery-task-received"), BEAT: ("beat-sent",)}
    return any(f.index > index for f in evidence.of(*again.get(source, ()), source=source))


def broker_findings(stack: Stack, evidence: Evidence, facts: Facts, values: Mapping[str, str],
                    names: Mapping[str, str]) -> list[Finding]:
    failed = broker_failures(stack, evidence, facts)
    found = []
    for auth in (True, False):
        these = [f for f in failed if f.auth == auth]
        if not these:
            continue
        who = _listed(list(dict.fromkeys(WHO.get(f.source, f.source) for f in these)))
        evidence_lines = [f"{values.get(f.source, 'web') if f.source != PROBE else 'probe'}: {f.fact.line}"[:200]
                          for f in these]
        broker, env = values["broker"], values["env"]
        clients = " ".join(names[k] for k in (WEB, *CELERY) if k in names)
        if auth:
            found.append(Finding(
                "broker-auth-refused", ERROR, f"The broker refuses the password (BROKER_PASSWORD) of {who}",
                f"The broker and its clients ({clients}) must use the same BROKER_PASSWORD from {env}: the "
                f"broker takes it when it is created, each client when it is. Recreate them all: "
                f"`docker compose up -d --force-recreate {broker} {clients}`.", CREDENTIALS, broker,
                evidence_lines))
        else:
            tried = next((f.host for f in these if f.host), f"{broker}:{values['broker_port']}")
            found.append(Finding(
                "broker-unreachable", ERROR, f"The broker ({tried}) does not answer {who}",
                f"Start the broker (`docker compose up -d {broker}`); if it runs, {who} and {broker} must share "
                f"the {values['broker_network']} network in {values['compose']}, and CELERY_BROKER_URL name "
                f"{broker}:{values['broker_port']}.", CREDENTIALS, broker, evidence_lines))
    return found


def _listed(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def task_findings(stack: Stack, evidence: Evidence, values: Mapping[str, str]) -> list[Finding]:
    """One finding per task and exception the worker's log shows failing, with the project's line."""
    lines = evidence.lines.get(WORKER, [])
    raised = raised_in(lines)
    groups: dict[tuple[str, str], list[Fact]] = {}
    for fact in evidence.of("celery-task-failed", source=WORKER):
        groups.setdefault((fact.subject, fact.code), []).append(fact)
    found = []
    successes = evidence.of("celery-task-succeeded", source=WORKER)
    for (task, exception), failures in groups.items():
        last = failures[-1]
        # The task ran well since (a periodic task failing only while db was down): that failure is
        # history, not what is wrong now.
        if any(f.subject == task and f.index > last.index for f in successes):
            continue
        said = last.line.split("] ", 1)[-1] if last.line.startswith("[") else last.line
        # Celery logs the traceback right after the line: the latest failure's that has one.
        after = [next((r for r in raised if r.index > f.index), None) for f in failures]
        traceback = next((r for f, r in reversed(list(zip(failures, after))) if r and r.index - f.index < 100), None)
        where = in_project(stack, project_frame(traceback)) if traceback else ""
        succeeded = len([f for f in successes if f.subject == task])
        tally = f"{len(failures)} failure(s)" + (f", {succeeded} success(es)" if succeeded else "")
        worker = values["worker"]
        lost, unreached = (_failed_with(evidence, last, codes) for codes in (CONNECTION_LOST, DB_UNREACHED))
        if lost or unreached:
            db, network = values["db"], values["db_network"]
            title, why = ((f"its database connection broke mid-query ({lost.code}, {tally})",
                           f"Celery closes a broken connection after the task, so the next run reconnects: see "
                           f"{db}'s findings for why it broke (a restart, a kill).") if lost else
                          (f"it could not reach {db} ({unreached.code}, {tally})",
                           f"If {db} was stopped or restarting then, the next run reconnects. If the task keeps "
                           f"failing while {db} is up, {worker} and {db} must share the {network} network in "
                           f"{values['compose']} (`docker compose up -d --force-recreate {worker}`)."))
            found.append(Finding(
                "task-failing", WARNING, f"Task {task} failed: {title}", f"{why} A task that must not fail for "
                "that can retry: `autoretry_for=(OperationalError,)` with `retry_backoff`.",
                REQUEST, worker, [f"{worker}: {said}"[:200]], symptom=True))
            continue
        fix = (f"Fix {where or 'the task in the traceback'} (`djstack logs {worker}` shows the whole traceback), "
               f"then `djstack deploy` (it restarts {worker} on the new release). A task that may fail for a "
               "while (a service it calls) can retry: `autoretry_for` with `retry_backoff` on the task.")
        if exception == "TimeLimitExceeded":
            fix = (f"{task} ran longer than TASK_TIME_LIMIT ({values['env']}) and was killed: make it faster or "
                   f"split it, or raise TASK_TIME_LIMIT; then `djstack init --force` rewrites the files that carry "
                   f"it, and `docker compose up -d {worker}`.")
        found.append(Finding(
            "task-failing", ERROR, f"Task {task} fails with {exception} ({tally})", fix, REQUEST, worker,
            [f"{worker}: {said}"[:200], *([f"{worker}: raised at {where}"] if where else [])]))
    return found


def _failed_with(evidence: Evidence, failure: Fact, codes: tuple[str, ...]) -> Fact | None:
    """The MySQL error among `codes` on the failure's own line (Celery's `raised unexpected:
    OperationalError(2013, …)`), if that is what it failed with."""
    return next((f for f in evidence.of(*codes, source=WORKER) if f.index == failure.index), None)


def beat_findings(stack: Stack, evidence: Evidence, facts: Facts, values: Mapping[str, str]) -> list[Finding]:
    """beat does not send what is due: due tasks it could not send (not for want of the broker: that
    is broker_findings'), or its liveness check failing."""
    beat = values["beat"]
    found = []
    sends = evidence.of("beat-send-failed", source=BEAT)
    # A due task beat could not send for want of the broker is the broker's (broker_findings).
    failed = [f for f in sends if not any(g.index > f.index for g in evidence.of("beat-sent", source=BEAT))
              and _reason(evidence, f) == (False, None)]
    brokerless = any(x.source == BEAT for x in broker_failures(stack, evidence, facts))
    container = facts.containers.get(beat)
    sent = evidence.of("beat-sent", source=BEAT)
    last_sent = [f"{beat}: last sent: {sent[-1].line}"[:200]] if sent else [f"{beat}: no due task sent in its log"]
    if failed:
        found.append(Finding(
            "beat-not-scheduling", ERROR, f"beat cannot send due tasks: {failed[-1].subject[:120]}",
            f"Read beat's log (`djstack logs {beat}`): the error is the schedule's or its task's; then "
            f"`docker compose up -d {beat}`.", APP, beat, [f"{beat}: {failed[-1].line}"[:200], *last_sent]))
    elif container is not None and container.up and container.health == "unhealthy" and not brokerless:
        found.append(Finding(
            "beat-not-scheduling", ERROR, "beat is not scheduling: its liveness check fails",
            f"beat runs but its scheduler does not advance. See `djstack logs {beat}`, then "
            f"`docker compose restart {beat}` (one beat only: never scale it).", APP, beat,
            [f"{beat}: last healthcheck: {container.health_output or '(no output)'}"[:200], *last_sent]))
    return found


#: The worker's own findings that the tasks waiting for it make more pressing.
WORKER_DOWN = ("-not-running", "-crash-loop", "-crash-exception", "-unhealthy", "-paused", "-killed")


def with_queue(found: list[Finding], facts: Facts, values: Mapping[str, str]) -> None:
    """The tasks waiting in the broker, as evidence of the finding that says the worker does not work."""
    waiting = (facts.probes.get("queue") or Probe("queue", None, "")).data.get("waiting")
    if not waiting:
        return
    for f in found:
        if f.service == values["worker"] and f.id.startswith(WORKER) and f.id.endswith(WORKER_DOWN):
            f.evidence.insert(1, f"probe: {waiting} task(s) waiting in the broker's queue for a worker")


def background_findings(stack: Stack, evidence: Evidence, facts: Facts, values: Mapping[str, str],
                        names: Mapping[str, str]) -> list[Finding]:
    """Everything this module finds, for a stack with background work (`names`: the present services
    by model key)."""
    if stack.workers is None:
        return []
    found = broker_findings(stack, evidence, facts, values, names) + task_findings(stack, evidence, values)
    return found + (beat_findings(stack, evidence, facts, values) if BEAT in names else [])
