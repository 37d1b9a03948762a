"""Background work end to end: examples/mysite's Celery tasks through a real worker, beat and broker.

On the shared stack (live_stack, only read and added to): an upload's thumbnail, made by the worker
and served through nginx, and the time from enqueueing a task to its start on an idle stack.

On a stack of this module's own, where the tests stop, kill and restart services: TASK_TIME_LIMIT
is short in its .env (so is the broker's visibility timeout, which the model derives from it) and
beat sends the example's heartbeat every HEARTBEAT_SECONDS. A task in flight when the worker is
stopped finishes first; one whose worker is killed with SIGKILL runs again once the worker is back;
beat restarted between two runs neither repeats nor skips one; tasks queued while the cache Redis
is filled past its memory limit all run.

Times are printed (run with -s) and recorded as test properties, never held to tight bounds: the
hosts are noisy.
"""

from __future__ import annotations

import io
import os
import signal
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from djstack.envfile import set_value
from djstack.initialise import load_stack
from djstack.model import RedisAcl
from stacks import container, new_stack, remove, wait_for

pytestmark = pytest.mark.e2e

#: TASK_TIME_LIMIT of this module's stack: the jobs below take less; the worker's stop grace and the
#: broker's visibility timeout (2 x 20 + 30 = 70 s) follow from it.
TASK_SECONDS = 20
#: How long the jobs of the stop and kill tests take: long enough to be caught in flight.
LONG_JOB = 8
#: The heartbeat's interval on this module's stack (the example's default is a minute).
HEARTBEAT = 6
#: Compose reads this file beside docker-compose.yml by itself: the tests' `docker compose` commands
#: give beat the short interval; djstack's own commands name their files and never read it.
OVERRIDE = "docker-compose.override.yml"


# The example's API -------------------------------------------------------------------------------

def queue_job(stack, seconds: float = 0, fail: bool = False) -> int:
    answer = stack.post("/api/jobs/", json={"seconds": seconds, "fail": fail})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def job(stack, job_id: int) -> dict:
    answer = stack.get(f"/api/jobs/{job_id}/")
    assert answer.status_code == 200, answer.text
    return answer.json()


def finished(stack, job_id: int, timeout: float) -> dict:
    return wait_for(lambda: (j := job(stack, job_id))["state"] == "finished" and j, timeout,
                    f"job {job_id} finished")


def started(stack, job_id: int, timeout: float = 60) -> dict:
    return wait_for(lambda: (j := job(stack, job_id))["started"] and j, timeout, f"job {job_id} started")


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def now() -> datetime:
    return datetime.now(timezone.utc)


def clock(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def heartbeats(stack) -> list[datetime]:
    """The heartbeat's runs, oldest first."""
    return sorted(moment(at) for at in stack.get("/api/heartbeats/").json()["runs"])


def docker_time(stamp: str) -> datetime:
    """A time as `docker inspect` gives it (RFC 3339, nanoseconds)."""
    whole, _, rest = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(rest + '000000')[:6]}+00:00")


def in_broker(stack) -> int:
    """How many tasks wait in the broker's default queue, asked from web with the app's own settings."""
    code = ("from mysite.celery import app\n"
            "with app.connection_for_write() as connection:\n"
            "    print(connection.default_channel.client.llen(app.conf.task_default_queue))\n")
    return int(stack.compose("exec", "-T", "web", "python", "manage.py", "shell", "-c", code).stdout.split()[-1])


def log_tail(stack, service: str) -> str:
    return stack.compose("logs", "--no-color", "--tail", "40", service, check=False).stdout


def require_workers(stack) -> None:
    services = set(stack.services())
    assert {"worker", "beat", "broker"} <= services, f"examples/mysite's stack runs {sorted(services)}"


# The shared stack ---------------------------------------------------------------------------------

def test_an_upload_gets_its_thumbnail_made_by_the_worker(live_stack):
    require_workers(live_stack)
    image = io.BytesIO()
    Image.new("RGB", (300, 200), "teal").save(image, format="PNG")
    sent = time.monotonic()
    answer = live_stack.post("/api/photos/", files={"image": ("teal.png", image.getvalue(), "image/png")})
    assert answer.status_code == 201, answer.text
    photo = answer.json()["id"]
    try:
        thumbnail = wait_for(lambda: live_stack.get(f"/api/photos/{photo}/").json()["thumbnail"], 60,
                             "the thumbnail of the uploaded photo")
    except pytest.fail.Exception:
        pytest.fail(f"no thumbnail within 60 s; the worker's log ends:\n{log_tail(live_stack, 'worker')}")
    print(f"\n[workers] thumbnail visible through nginx {time.monotonic() - sent:.2f} s after the upload: "
          f"{thumbnail}")
    assert thumbnail.startswith("/media/thumbnails/")
    served = live_stack.get(thumbnail)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(served.content)) as made:
        assert (made.format, made.size) == ("JPEG", (128, 85))


def test_enqueue_to_start_on_an_idle_stack(live_stack, record_property):
    """From the moment web queues a job (its row's `queued`) to the moment a worker starts it (the
    job's `started`): both are container clocks, the host's."""
    require_workers(live_stack)
    delays = []
    for _ in range(10):
        done = finished(live_stack, queue_job(live_stack), 60)
        delays.append((moment(done["started"]) - moment(done["queued"])).total_seconds())
    later = delays[1:]
    print(f"\n[workers] enqueue -> start, idle stack, 10 jobs one after another: first {delays[0] * 1000:.0f} ms, "
          f"then median {statistics.median(later) * 1000:.0f} ms, min {min(later) * 1000:.0f} ms, "
          f"max {max(later) * 1000:.0f} ms")
    record_property("enqueue_to_start_ms", [round(d * 1000, 1) for d in delays])
    assert max(delays) < 10


# A stack of this module's own ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory):
    stack = new_stack(tmp_path_factory.mktemp("e2e-workers"))
    try:
        set_value(stack.root / ".env", "TASK_TIME_LIMIT", str(TASK_SECONDS))
        # The files again from the new limit (.env is kept); --force: init takes the files the first
        # init wrote, which the new limit changes, for edits of one's own.
        stack.djstack("init", str(stack.root), "--force")
        stack.djstack("up", str(stack.root))
        (stack.root / OVERRIDE).write_text(f"services:\n  beat:\n    environment:\n"
                                           f"      HEARTBEAT_SECONDS: \"{HEARTBEAT}\"\n")
        stack.compose("up", "--detach", "--no-deps", "beat")
        require_workers(stack)
        yield stack
    finally:
        remove(stack)


def test_the_limits_follow_task_time_limit(worker_stack):
    plan = load_stack(worker_stack.root).workers
    print(f"\n[workers] TASK_TIME_LIMIT {plan.task_seconds} s: stop grace {plan.stop_grace_seconds} s, "
          f"visibility timeout {plan.visibility_timeout} s")
    assert plan.task_seconds == TASK_SECONDS
    assert LONG_JOB < plan.task_seconds < plan.visibility_timeout
    assert container(worker_stack, "worker")["Config"].get("StopTimeout") == plan.stop_grace_seconds
    code = ("from django.conf import settings as s\n"
            "print(s.CELERY_TASK_TIME_LIMIT, s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'])\n")
    live = worker_stack.compose("exec", "-T", "worker", "python", "manage.py", "shell", "-c", code).stdout.split()
    assert live[-2:] == [str(plan.task_seconds), str(plan.visibility_timeout)]


def test_the_heartbeat_runs_once_per_interval_across_a_beat_restart(worker_stack, record_property):
    stack = worker_stack
    wait_for(lambda: len(heartbeats(stack)) >= 2, 4 * HEARTBEAT + 120, "two heartbeats on the short interval",
             poll=1)
    # Right after a run, so the restart falls between two runs.
    last = heartbeats(stack)[-1]
    before = wait_for(lambda: (at := heartbeats(stack)[-1]) > last and at, 3 * HEARTBEAT, "the next heartbeat",
                      poll=0.2)
    restart_from = now()
    stack.compose("restart", "beat")
    restart_to = now()
    wait_for(lambda: len([at for at in heartbeats(stack) if at > restart_to]) >= 3, 6 * HEARTBEAT + 120,
             "three heartbeats after beat's restart", poll=1)
    runs = [at for at in heartbeats(stack) if at >= before]
    gaps = [(b - a).total_seconds() for a, b in zip(runs, runs[1:])]
    print(f"\n[workers] heartbeat every {HEARTBEAT} s; beat restarted {clock(restart_from)}-{clock(restart_to)}; "
          f"runs at {', '.join(clock(at) for at in runs)}; gaps {', '.join(f'{g:.2f}' for g in gaps)} s")
    record_property("heartbeat_gaps_s", [round(g, 2) for g in gaps])
    # Once per interval: never two runs within one (a little slack for the worker's own latency).
    assert min(gaps) > HEARTBEAT - 1, gaps
    # On schedule: no run skipped, the restart's included (its state says when the last run was).
    restart = (restart_to - restart_from).total_seconds()
    assert max(gaps) < HEARTBEAT + restart + 6, gaps


def test_a_task_in_flight_finishes_before_the_worker_stops(worker_stack):
    stack = worker_stack
    job_id = queue_job(stack, seconds=LONG_JOB)
    first = started(stack, job_id)
    stop_from = now()
    stack.compose("stop", "worker")  # SIGTERM: Celery's warm shutdown
    stop_to = now()
    state = container(stack, "worker")["State"]
    try:
        done = job(stack, job_id)
        exited = docker_time(state["FinishedAt"])
        print(f"\n[workers] stop during a {LONG_JOB} s job: started {clock(moment(first['started']))}, "
              f"stop {clock(stop_from)}, job finished {clock(moment(done['finished'])) if done['finished'] else '-'}, "
              f"worker exited {clock(exited)} with {state['ExitCode']} (stop took {(stop_to - stop_from).total_seconds():.1f} s)")
        assert done["state"] == "finished" and done["starts"] == 1, done
        assert moment(done["finished"]) <= exited
        assert state["ExitCode"] == 0, state
    finally:
        stack.compose("start", "worker")
    finished(stack, queue_job(stack), 120)  # back at work


def test_a_task_whose_worker_is_killed_runs_again_and_finishes(worker_stack, record_property):
    # A crash as the kernel delivers it: SIGKILL to the worker's main process (PID 1) from the host,
    # not `docker kill`, which Docker records as a deliberate stop (no restart).
    if os.geteuid() != 0:
        pytest.fail("killing a container's process from the host needs root (run the e2e tests as root)")
    stack = worker_stack
    plan = load_stack(stack.root).workers
    job_id = queue_job(stack, seconds=LONG_JOB)
    first = started(stack, job_id)
    before = container(stack, "worker")["State"]
    assert Path(f"/proc/{before['Pid']}/comm").read_text().strip() == "celery"
    time.sleep(1)  # well into the job
    killed = now()
    os.kill(before["Pid"], signal.SIGKILL)
    back = wait_for(lambda: (s := container(stack, "worker")["State"])["StartedAt"] != before["StartedAt"]
                    and s["Running"] and s, 120, "the worker started again")
    # Redelivered once the visibility timeout has passed, at the broker transport's next sweep of
    # unacknowledged tasks (kombu sweeps at the worker's start, then every 100 s by default).
    done = finished(stack, job_id, plan.visibility_timeout + 100 + LONG_JOB + 90)
    restarted = docker_time(back["StartedAt"])
    sequence = [("queued", moment(first["queued"])), ("started", moment(first["started"])),
                ("worker SIGKILLed", killed), ("worker restarted", restarted),
                ("started again", moment(done["started"])), ("finished", moment(done["finished"]))]
    print(f"\n[workers] SIGKILL during a {LONG_JOB} s job (visibility timeout {plan.visibility_timeout} s):")
    for what, when in sequence:
        print(f"[workers]   {clock(when)}  {(when - killed).total_seconds():+8.2f} s  {what}")
    record_property("sigkill_sequence", [(what, when.isoformat()) for what, when in sequence])
    assert done["starts"] == 2, done
    assert moment(done["started"]) > restarted > killed


def redis_cli(stack, *args: str) -> str:
    """redis-cli in the cache's container, as the app's user (its password is in that container)."""
    return stack.compose("exec", "-T", "redis", "sh", "-c", 'redis-cli --user "$0" "$@"', RedisAcl().user,
                         *args).stdout.strip()


def cache_stat(stack, name: str) -> int:
    stats = dict(line.split(":", 1) for line in redis_cli(stack, "INFO", "all").splitlines() if ":" in line)
    return int(stats[name])


def test_queued_tasks_survive_the_cache_filling_up(worker_stack):
    stack = worker_stack
    stack.compose("stop", "worker")
    try:
        jobs = [queue_job(stack) for _ in range(20)]
        waiting = in_broker(stack)
        assert waiting >= len(jobs)
        evicted = cache_stat(stack, "evicted_keys")
        maxmemory = cache_stat(stack, "maxmemory")
        # 1.25 x maxmemory of 1 MiB values, past the cache's limit: allkeys-lru evicts as it goes.
        count = maxmemory * 5 // 4 // 2**20
        stack.compose("exec", "-T", "redis", "sh", "-c",
                      'i=0; while [ $i -lt "$1" ]; do head -c 1048576 /dev/zero | '
                      'redis-cli --user "$0" -x SET "djstack:fill:$i" >/dev/null; i=$((i+1)); done',
                      RedisAcl().user, str(count))
        evicted_now = cache_stat(stack, "evicted_keys")
        print(f"\n[workers] cache filled with {count} MiB (maxmemory {maxmemory // 2**20} MiB): "
              f"{evicted_now - evicted} keys evicted; {waiting} tasks waited in the broker, "
              f"{in_broker(stack)} still do")
        assert evicted_now > evicted
        assert in_broker(stack) >= len(jobs)
    finally:
        stack.compose("start", "worker")
    for job_id in jobs:
        finished(stack, job_id, 180)
