"""doctor on a stack with background work (issue 15): Celery's worker and beat and the broker they
share with web, as their logs say it (Celery 5.6 with kombu 5.6 and redis-py on the Debian images,
Redis 8 as the broker), and the one cause doctor must name for each — never the cache's Redis for the
broker's, never the network for a broker that is down."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers import copy_example
from djstack.doctor.diagnose import diagnose, service_keys
from djstack.doctor.evidence import parse
from djstack.doctor.facts import Container, Facts, Probe
from djstack.doctor.finding import ERROR
from djstack.initialise import run_init
from djstack.model import StackOptions, WorkerPlan

# Lines as a live stack printed them (Celery 5.7.0; tests/e2e/test_doctor_workers.py makes each fault).
HOST = "worker@c1517e1d1363"  # the worker's --hostname worker@%h
CONNECTED = [
    "[2026-12-02 04:27:42,277: INFO/MainProcess] Connected to redis://app:**@broker:6379/0",
    "[2026-12-02 04:27:42,283: INFO/MainProcess] mingle: searching for neighbors",
    "[2026-12-02 04:27:43,293: INFO/MainProcess] mingle: all alone",
    f"[2026-12-02 04:27:43,308: INFO/MainProcess] {HOST} ready.",
]
RECEIVED = ("[2026-12-02 04:28:45,000: INFO/MainProcess] Task gallery.tasks.run_job[0ae9b845-ccc7-462a-93f1-ead49ac36247] "
            "received")
SUCCEEDED = ("[2026-12-02 04:28:42,288: INFO/ForkPoolWorker-2] Task gallery.tasks.heartbeat"
             "[9928bcf5-67df-402c-a541-f748ddf3bb5c] succeeded in 0.01507663000006687s: None")
FAILED = [
    RECEIVED,
    "[2026-12-02 04:28:45,011: ERROR/ForkPoolWorker-2] Task gallery.tasks.run_job[0ae9b845-ccc7-462a-93f1-ead49ac36247] "
    "raised unexpected: JobFailed('job 1 was asked to fail')",
    "Traceback (most recent call last):",
    '  File "/opt/venv/lib/python3.13/site-packages/celery/app/trace.py", line 564, in trace_task',
    "    R = retval = fun(*args, **kwargs)",
    "                 ~~~^^^^^^^^^^^^^^^^^",
    '  File "/opt/venv/lib/python3.13/site-packages/celery/app/trace.py", line 883, in __protected_call__',
    "    return self.run(*args, **kwargs)",
    "           ~~~~~~~~^^^^^^^^^^^^^^^^^",
    '  File "/app/gallery/tasks.py", line 49, in run_job',
    '    raise JobFailed(f"job {job_id} was asked to fail")',
    "gallery.tasks.JobFailed: job 1 was asked to fail",
]
LOST = ("[2026-12-02 04:29:25,385: WARNING/MainProcess] consumer: Connection to broker lost. Trying to re-establish "
        "the connection... (network:ConnectionError)")
REFUSED = [
    LOST,
    "[2026-12-02 04:29:25,396: ERROR/MainProcess] consumer: Cannot connect to redis://app:**@broker:6379/0: Error 111 "
    "connecting to broker:6379. Connection refused..",
    "Trying again in 2.00 seconds... (1/100)",
]
WRONG_PASSWORD = [
    *REFUSED,  # the broker restarting with its new password
    "[2026-12-02 04:29:27,402: ERROR/MainProcess] consumer: Cannot connect to redis://app:**@broker:6379/0: invalid "
    "username-password pair or user is disabled..",
    "Trying again in 4.00 seconds... (2/100)",
]
BEAT_START = [
    "[2026-12-02 04:27:42,233: INFO/MainProcess] beat: Starting...",
    "[2026-12-02 04:28:42,261: INFO/MainProcess] Scheduler: Sending due task heartbeat (gallery.tasks.heartbeat)",
]
BEAT_WRONG_PASSWORD = ("[2026-12-02 04:29:42,893: ERROR/MainProcess] Message Error: Couldn't apply scheduled task "
                       "heartbeat: invalid username-password pair or user is disabled.")
# web enqueuing while the broker is stopped: the chain's last two exceptions, as its traceback ends.
WEB_ENQUEUE_REFUSED = [
    "2026-12-02 04:35:11,012 ERROR django.request: Internal Server Error: /api/jobs/",
    "Traceback (most recent call last):",
    "redis.exceptions.ConnectionError: Error -2 connecting to broker:6379. Name or service not known.",
    "",
    "The above exception was the direct cause of the following exception:",
    "",
    "Traceback (most recent call last):",
    '  File "/opt/venv/lib/python3.13/site-packages/celery/backends/redis.py", line 152, in reconnect_on_error',
    "    raise RuntimeError(",
    "RuntimeError: ",
    "Retry limit exceeded while trying to reconnect to the Celery result store",
    "backend. The Celery application must be restarted.",
]
# The worker's healthcheck and doctor's probe: `celery inspect ping`, through the broker.
NOT_RESOLVED = ("Error: Could not connect to the message broker. Please make sure your broker (e.g., RabbitMQ or Redis) "
                "is running and the connection settings are correct. Reason: Error -2 connecting to broker:6379. Name "
                "or service not known.")
PING_OK = Probe("workers", True, f"workers from web: {HOST} answered a ping through the broker", {"workers": [HOST]})
NO_REPLY = Probe("workers", False, "workers from web: none answered a ping: Error: No nodes replied within time constraint")
PING_REFUSED = Probe("workers", False, "workers from web: none answered a ping: Error: Could not connect to the message "
                     "broker. Reason: invalid username-password pair or user is disabled.")
#: beat's healthcheck (compose/web/beat_health.py) on a scheduler whose loop stopped.
BEAT_STUCK = "beat last wrote its schedule 412 s ago (more than 300 s): its loop is stuck"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """mysite initialised, with a worker and a file-scheduled beat (as its Celery app gives it)."""
    root = copy_example(tmp_path_factory.mktemp("workers") / "mysite")
    made, _ = run_init(root, StackOptions(), force=False)
    plan = WorkerPlan(app="mysite", namespace="CELERY_", beat="file", flower=False, concurrency=2,
                      task_seconds=300, extra=())
    return replace(made, workers=plan)


def container(service: str, **changes) -> Container:
    healthy = dict(state="running", health="healthy", exit_code=0, restarts=0, oom_killed=False,
                   started_at="2026-12-02T05:20:00.1Z", restart_policy="unless-stopped", memory_limit=0,
                   health_output="")
    return Container(service=service, **{**healthy, **changes})


def facts(stack, states: dict[str, dict | None] | None = None, logs: dict[str, list[str]] | None = None,
          probes: tuple[Probe, ...] = (PING_OK,)) -> Facts:
    """Every service of the stack running and healthy but for `states` (by model key; None: no
    container); `logs` by model key."""
    names = service_keys(stack)
    containers = {}
    for key, name in names.items():
        changes = (states or {}).get(key, {})
        if changes is not None:
            containers[name] = container(name, **changes)
    lines = {names[key]: value for key, value in (logs or {}).items()}
    return Facts(containers, lines, [], {p.name: p for p in probes})


def ids(stack, found: Facts) -> list[str]:
    return [f.id for f in diagnose(stack, found).findings]


def test_the_background_services_are_doctors_too(stack):
    assert service_keys(stack) == {"web": "web", "nginx": "nginx", "db": "db", "redis": "redis",
                                   "broker": "broker", "worker": "worker", "beat": "beat"}
    assert "worker" not in service_keys(replace(stack, workers=None))


def test_a_healthy_stack_with_workers_has_no_findings(stack):
    logs = {"worker": [*CONNECTED, RECEIVED, SUCCEEDED], "beat": BEAT_START}
    report = diagnose(stack, facts(stack, logs=logs))
    assert report.findings == [] and report.healthy
    assert PING_OK.detail in report.checked


@pytest.mark.parametrize("source,line,key,subject", [
    ("worker", RECEIVED, "celery-task-received", "gallery.tasks.run_job"),
    ("worker", SUCCEEDED, "celery-task-succeeded", "gallery.tasks.heartbeat"),
    ("worker", FAILED[1], "celery-task-failed:JobFailed", "gallery.tasks.run_job"),
    ("worker", "[2026-12-02 05:30:00,000: ERROR/MainProcess] Hard time limit (300s) exceeded for "
               "gallery.tasks.run_job[6c1f0d2a-8e57-4c55-9f0e-3a2b1c0d9e8f]",
     "celery-task-failed:TimeLimitExceeded", "gallery.tasks.run_job"),
    ("worker", REFUSED[1], "celery-cannot-connect", "redis://app:**@broker:6379/0"),
    ("worker", REFUSED[1], "redis-connect-failed:6379", "broker"),
    ("worker", WRONG_PASSWORD[-2], "redis:WRONGPASS", ""),
    ("worker", f"last healthcheck: {NOT_RESOLVED}", "celery-cannot-connect", ""),
    ("beat", BEAT_WRONG_PASSWORD, "beat-send-failed", "Couldn't apply scheduled task heartbeat: invalid "
                                                      "username-password pair or user is disabled."),
    ("beat", BEAT_WRONG_PASSWORD, "redis:WRONGPASS", ""),
    ("worker", CONNECTED[0], "celery-connected", "redis://app:**@broker:6379/0"),
    ("worker", CONNECTED[-1], "celery-ready", HOST),
    ("beat", "[2026-12-02 04:40:12,431: ERROR/MainProcess] Connection to Redis lost: Retry (0/20) now.",
     "celery-cannot-connect", ""),
    ("beat", BEAT_START[0], "beat-starting", ""),
    ("beat", BEAT_START[1], "beat-sent", "heartbeat"),
    ("web", WEB_ENQUEUE_REFUSED[2], "redis-connect-failed:6379", "broker"),
])
def test_celerys_lines_state_typed_facts(source, line, key, subject):
    found = [f for f in parse(source, [line]) if f.key == key]
    assert found and found[0].subject == subject, parse(source, [line])


def test_a_stopped_worker_is_named_not_the_ping_that_goes_unanswered(stack):
    found = facts(stack, states={"worker": {"state": "exited", "exit_code": 0, "health": "unhealthy"}},
                  probes=(NO_REPLY,), logs={"worker": [*CONNECTED, "worker: Warm shutdown (MainProcess)"]})
    order = ids(stack, found)
    assert order[0] == "worker-not-running" and "workers-no-reply" in order
    first = diagnose(stack, found).findings[0]
    assert "docker compose up -d worker" in first.fix


def test_a_worker_with_no_container_is_not_running(stack):
    assert ids(stack, facts(stack, states={"worker": None}, probes=(NO_REPLY,)))[0] == "worker-not-running"


def test_a_broker_that_refuses_the_password_is_named_with_who_it_refuses(stack):
    found = facts(stack, states={"worker": {"health": "starting"}}, probes=(PING_REFUSED,),
                  logs={"worker": [*CONNECTED, *WRONG_PASSWORD], "beat": [*BEAT_START, BEAT_WRONG_PASSWORD]})
    report = diagnose(stack, found)
    first = report.findings[0]
    assert first.id == "broker-auth-refused"
    assert first.title == "The broker refuses the password (BROKER_PASSWORD) of the worker, beat and web"
    assert "BROKER_PASSWORD" in first.fix and "--force-recreate broker web worker beat" in first.fix
    assert "invalid username-password pair" in first.evidence[0] and first.evidence[1].startswith("beat: ")
    # Not the cache's Redis: its password is another.
    assert "redis-auth" not in [f.id for f in report.findings]


def test_a_broker_error_later_lines_undo_is_history(stack):
    logs = {"worker": [*WRONG_PASSWORD, *CONNECTED], "beat": [BEAT_WRONG_PASSWORD, *BEAT_START]}
    assert ids(stack, facts(stack, logs=logs, probes=(NO_REPLY,))) == ["cause-unknown", "workers-no-reply"]
    # A worker answering web's ping through the broker now says the same.
    assert ids(stack, facts(stack, logs={"worker": WRONG_PASSWORD, "beat": [BEAT_WRONG_PASSWORD]})) == []


def test_an_unreachable_broker_while_it_runs_is_the_network(stack):
    """The worker taken off the broker's network: its log says nothing (the connection hangs), its
    healthcheck does."""
    found = facts(stack, states={"worker": {"health": "unhealthy", "health_output": NOT_RESOLVED + "\n"}},
                  probes=(NO_REPLY,), logs={"worker": [*CONNECTED, RECEIVED, SUCCEEDED]})
    first = diagnose(stack, found).findings[0]
    assert (first.id, first.title) == ("broker-unreachable", "The broker (broker:6379) does not answer the worker")
    assert "broker_network" in first.fix
    assert first.evidence == ["worker: last healthcheck: Error: Could not connect to the message broker. Reason: "
                              "Error -2 connecting to broker:6379. Name or service not known."]


def test_an_unresolved_broker_while_it_restarts_is_the_brokers_own_failure(stack):
    """Docker's DNS drops a container's name while it is not running: the worker's "Name or service
    not known" then says the broker is down, not that the network is wrong."""
    restarting = {"state": "restarting", "exit_code": 1, "restarts": 4, "health": ""}
    found = facts(stack, states={"broker": restarting, "worker": {"health": "unhealthy", "health_output": NOT_RESOLVED}},
                  probes=(NO_REPLY,), logs={"worker": REFUSED,
                                            "broker": ["1:M 02 Dec 2026 05:22:39.001 # >>> 'maxmemroy 100mb'"]})
    order = ids(stack, found)
    assert order[0] == "broker-config-invalid" and "broker-unreachable" not in order
    first = diagnose(stack, found).findings[0]
    assert "compose/redis/broker.conf" in first.fix and "maxmemroy" in first.title
    # Without a line that says why, doctor says it does not know rather than blame the network.
    found.logs.pop("broker")
    order = ids(stack, found)
    assert order[:2] == ["cause-unknown", "broker-crash-loop"] and "broker-unreachable" not in order


def test_web_failing_to_enqueue_on_a_broker_that_is_down_is_not_the_cache(stack):
    found = facts(stack, states={"broker": {"state": "exited", "exit_code": 0, "health": "unhealthy"}},
                  probes=(NO_REPLY,), logs={"web": WEB_ENQUEUE_REFUSED, "worker": REFUSED})
    order = ids(stack, found)
    assert order[0] == "broker-not-running"
    assert not {"redis-unreachable", "view-exception", "broker-unreachable"} & set(order), order


def test_a_failing_task_is_named_with_its_exception_and_the_projects_line(stack):
    found = facts(stack, logs={"worker": [*CONNECTED, *FAILED, *FAILED[:2], SUCCEEDED]})
    report = diagnose(stack, found)
    [first] = report.findings
    assert (first.id, first.severity, first.service) == ("task-failing", ERROR, "worker")
    assert first.title == "Task gallery.tasks.run_job fails with JobFailed (2 failure(s))"
    assert "gallery/tasks.py:49" in first.fix and "djstack deploy" in first.fix
    assert "raised unexpected: JobFailed('job 1 was asked to fail')" in first.evidence[0]
    assert first.evidence[1] == "worker: raised at gallery/tasks.py:49"


def test_a_task_that_succeeded_after_it_failed_is_history(stack):
    """CI's case: the example's heartbeat failed while an earlier fault held db down, then ran well
    for minutes; its old failures came before the fault under test (an error outranks a warning)."""
    ran_again = FAILED[1].replace("ERROR/ForkPoolWorker-2", "INFO/ForkPoolWorker-1").split("] raised")[0] + \
        "] succeeded in 0.004s: None"
    assert ids(stack, facts(stack, logs={"worker": [*CONNECTED, *FAILED, ran_again]})) == []
    assert ids(stack, facts(stack, logs={"worker": [*CONNECTED, ran_again, *FAILED]})) == ["task-failing"]


def test_a_task_whose_db_connection_broke_is_the_databases_symptom(stack):
    """CI's case: KILL USER in db broke web's query and the heartbeat's connection alike; the task's
    failure is a warning after db-connection-lost, never an error ahead of it."""
    heartbeat = SUCCEEDED.split("] succeeded")[0].replace("INFO", "ERROR") + "] raised unexpected: "
    broke = [heartbeat + "OperationalError(2013, 'Lost connection to server during query')",
             heartbeat + "OperationalError(2006, 'Server has gone away')"]
    web = ["django.db.utils.OperationalError: (2013, 'Lost connection to server during query')"]
    report = diagnose(stack, facts(stack, logs={"worker": [*CONNECTED, *broke], "web": web}))
    assert [f.id for f in report.findings] == ["db-connection-lost", "task-failing"]
    task = report.findings[1]
    assert task.severity == "warning" and task.symptom and "2006" in task.title and "2 failure(s)" in task.title
    # CI's next case: db was stopped (its name gone from DNS) while the heartbeat ran, and no run since.
    unreached = heartbeat + "OperationalError(2005, \"Unknown server host 'db' (-2)\")"
    [after_stop] = [f for f in diagnose(stack, facts(stack, logs={"worker": [*CONNECTED, unreached], "web": web}))
                    .findings if f.id == "task-failing"]
    assert after_stop.severity == "warning" and "could not reach db (2005" in after_stop.title
    assert "share the" in after_stop.fix and "network" in after_stop.fix
    # A task's own OperationalError (a table it needs) stays an error of the task.
    missing = heartbeat + "OperationalError(1146, \"Table 'app.gallery_heartbeat' doesn't exist\")"
    [own] = [f for f in diagnose(stack, facts(stack, logs={"worker": [*CONNECTED, missing]})).findings
             if f.id == "task-failing"]
    assert own.severity == ERROR


def test_beat_whose_liveness_check_fails_is_not_scheduling(stack):
    stale = {"health": "unhealthy", "health_output": BEAT_STUCK}
    found = facts(stack, states={"beat": stale}, logs={"beat": BEAT_START})
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["beat-not-scheduling"]
    first = report.findings[0]
    assert BEAT_STUCK in first.evidence[0] and "Sending due task heartbeat" in first.evidence[1]


def test_beat_failing_to_reach_the_broker_is_the_brokers(stack):
    line = BEAT_WRONG_PASSWORD.replace("invalid username-password pair or user is disabled",
                                       "Error 111 connecting to broker:6379. Connection refused")
    found = facts(stack, states={"beat": {"health": "unhealthy", "health_output": BEAT_STUCK}}, probes=(NO_REPLY,),
                  logs={"beat": [*BEAT_START, line]})
    order = ids(stack, found)
    assert order[0] == "broker-unreachable" and "beat-not-scheduling" not in order
    assert diagnose(stack, found).findings[0].title == "The broker (broker:6379) does not answer beat"


def test_flower_and_a_procfiles_other_process_are_services_doctor_reads(stack):
    from djstack.detect.workers import Process

    clock = Process("clock", "python manage.py run_clock", "other")
    more = replace(stack, workers=replace(stack.workers, flower=True, extra=(clock,)))
    names = service_keys(more)
    assert names["flower"] == "flower" and list(names)[-1] == more.workers.service_of(clock)
    stopped = facts(more, states={more.workers.service_of(clock): {"state": "exited", "exit_code": 1, "health": ""}})
    first = diagnose(more, stopped).findings[0]
    assert (first.id, first.service) == (f"{more.workers.service_of(clock)}-not-running", more.workers.service_of(clock))


def test_a_task_past_its_time_limit_says_task_time_limit(stack):
    line = ("[2026-12-02 04:45:00,002: ERROR/MainProcess] Hard time limit (300s) exceeded for "
            "gallery.tasks.run_job[0ae9b845-ccc7-462a-93f1-ead49ac36247]")
    [first] = diagnose(stack, facts(stack, logs={"worker": [*CONNECTED, RECEIVED, line]})).findings
    assert first.title == "Task gallery.tasks.run_job fails with TimeLimitExceeded (1 failure(s))"
    assert "TASK_TIME_LIMIT" in first.fix and "djstack init --force" in first.fix


def test_a_worker_that_crashes_at_start_says_the_exception_it_ends_with(stack):
    """The worker imports the project's tasks when it starts: an error there ends each run."""
    crash = ["Traceback (most recent call last):",
             '  File "/opt/venv/lib/python3.13/site-packages/celery/app/base.py", line 784, in import_default_modules',
             "    self.loader.import_default_modules()",
             '  File "/app/gallery/tasks.py", line 14, in <module>',
             "    from .thumbnails import make",
             "ModuleNotFoundError: No module named 'gallery.thumbnails'"]
    restarting = {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}
    report = diagnose(stack, facts(stack, states={"worker": restarting}, probes=(NO_REPLY,), logs={"worker": crash * 2}))
    first = report.findings[0]
    assert first.id == "worker-crash-exception" and "No module named 'gallery.thumbnails'" in first.title
    assert "gallery/tasks.py:14" in first.fix and "--build web worker" in first.fix
    assert "worker-crash-loop" in [f.id for f in report.findings]


def test_the_tasks_waiting_for_a_stopped_worker_are_its_evidence(stack):
    waiting = Probe("queue", True, "3 task(s) waiting in the broker's queue", {"waiting": 3})
    found = facts(stack, states={"worker": {"state": "exited", "exit_code": 0, "health": "unhealthy"}},
                  probes=(NO_REPLY, waiting))
    first = diagnose(stack, found).findings[0]
    assert first.id == "worker-not-running"
    assert first.evidence[1] == "probe: 3 task(s) waiting in the broker's queue for a worker"
    # Running and healthy with work waiting is no finding: the worker takes it.
    assert ids(stack, facts(stack, probes=(PING_OK, waiting))) == []
