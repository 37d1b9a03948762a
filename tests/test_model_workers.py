"""The background services in the model (issue 15): the WorkerPlan a Celery app gets, its .env keys
and their parsers, and the values derived from the task time limit. Built in-process from a detected
project given a Celery app, so each case costs milliseconds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from djstack.detect import detect
from djstack.detect.workers import CeleryApp, Process
from djstack.errors import BadEnvEntry
from djstack.model import (DEFAULT_TASK_SECONDS, PARSERS, SECRET_KEYS, StackOptions, WorkerPlan, bad_env_entries,
                           build_stack, memory_bytes)

APP = CeleryApp(module="mysite", file=Path("mysite/celery.py"), namespace="CELERY", beat="file")


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    from helpers import copy_example

    root = tmp_path_factory.mktemp("workers") / "mysite"
    copy_example(root)
    return replace(detect(root, None), celery=None, processes=())  # the example has Celery: taken away


@pytest.fixture(scope="module")
def celery(plain):
    return replace(plain, celery=APP)


def build(project, recorded=None, **options):
    return build_stack(project, StackOptions(**options), dict(recorded or {}))


def test_the_example_is_detected_with_its_celery_app(tmp_path):
    from helpers import copy_example

    stack = build(detect(copy_example(tmp_path / "mysite"), None))
    assert (stack.workers.app, stack.workers.namespace, stack.workers.beat) == ("mysite", "CELERY_", "file")


def test_no_celery_app_no_workers_and_nothing_in_env(plain):
    stack = build(plain)
    assert stack.workers is None and stack.background_services == ()
    assert not {"WORKERS", "FLOWER", "WORKER_CONCURRENCY", "TASK_TIME_LIMIT", "BROKER_PASSWORD"} & set(stack.env())
    assert stack.secret_keys == SECRET_KEYS
    assert "worker" not in stack.limits and "broker" not in stack.limits
    assert stack.conventional_env()["CELERY_BROKER_URL"].endswith("@redis:6379/1")


def test_a_celery_app_gets_worker_beat_and_broker(celery):
    stack = build(celery, {"WORKER_CONCURRENCY": "3"})
    w = stack.workers
    assert (w.app, w.namespace, w.beat, w.flower, w.concurrency, w.task_seconds) == (
        "mysite", "CELERY_", "file", False, 3, DEFAULT_TASK_SECONDS)
    assert stack.background_services == ("worker", "beat")
    assert {"worker", "beat", "broker"} <= set(stack.limits) and "flower" not in stack.limits
    env = stack.env()
    assert (env["WORKERS"], env["FLOWER"], env["WORKER_CONCURRENCY"], env["TASK_TIME_LIMIT"]) == ("on", "off", "3", "300")
    assert "BROKER_PASSWORD" in stack.secret_keys and "FLOWER_PASSWORD" not in stack.secret_keys
    assert len(stack.secrets["BROKER_PASSWORD"]) >= 32
    conventional = stack.conventional_env()
    assert conventional["CELERY_BROKER_URL"] == "redis://app:${BROKER_PASSWORD}@broker:6379/0"
    assert conventional["CELERY_RESULT_BACKEND"] == "redis://app:${BROKER_PASSWORD}@broker:6379/1"


def test_no_beat_without_periodic_work_and_flower_with_its_password(celery):
    stack = build(replace(celery, celery=replace(APP, beat="")), flower=True)
    assert stack.background_services == ("worker", "flower")
    assert stack.secret_keys[-2:] == ("BROKER_PASSWORD", "FLOWER_PASSWORD")
    # Recorded: FLOWER=on stays on, and its password is kept.
    again = build(replace(celery, celery=replace(APP, beat="")), stack.env())
    assert again.workers.flower and again.secrets["FLOWER_PASSWORD"] == stack.secrets["FLOWER_PASSWORD"]


def test_no_workers_is_recorded_and_kept(celery):
    off = build(celery, workers=False)
    assert off.workers is None and off.env()["WORKERS"] == "off"
    assert "WORKER_CONCURRENCY" not in off.env() and "BROKER_PASSWORD" not in off.secret_keys
    assert build(celery, off.env()).workers is None
    assert build(celery, off.env(), workers=True).workers is not None


def test_the_task_time_limit_decides_the_grace_period_and_the_visibility_timeout():
    plan = WorkerPlan(app="a", namespace="CELERY_", beat="", flower=False, concurrency=1, task_seconds=20)
    assert plan.time_limit == 20
    assert plan.stop_grace_seconds > plan.time_limit  # a warm shutdown outlasts the longest task
    assert plan.visibility_timeout > plan.stop_grace_seconds  # never redelivered while still running
    assert plan.visibility_timeout >= plan.time_limit + plan.stop_grace_seconds


def test_procfile_other_processes_are_services_of_their_own(celery):
    processes = (Process("worker", "celery -A mysite worker", "celery-worker"),
                 Process("clock", "python clock.py", "other"), Process("web", "python other_web.py", "other"))
    stack = build(replace(celery, processes=processes))
    assert [name for name, _ in stack.workers.extra_services] == ["clock", "web-process"]
    assert stack.background_services == ("worker", "beat", "clock", "web-process")
    assert stack.limits["clock"] == ("512m", 256) and "CLOCK_MEM_LIMIT" in stack.env()
    assert stack.confinement["clock"] == stack.confinement["worker"]


def test_broker_maxmemory_is_under_its_memory_limit(celery):
    stack = build(celery, {"BROKER_MEM_LIMIT": "1g"})
    assert stack.broker_maxmemory_mb == 512
    assert stack.broker_maxmemory_mb * 2**20 < memory_bytes(stack.limits["broker"][0])
    assert memory_bytes("512m") == 512 * 2**20 and memory_bytes("64k") == 65536 and memory_bytes("7") == 7


@pytest.mark.parametrize("key, text", [
    ("WORKERS", "yes"), ("FLOWER", "1"), ("WORKER_CONCURRENCY", "0"), ("WORKER_CONCURRENCY", "four"),
    ("TASK_TIME_LIMIT", "-5"), ("TASK_TIME_LIMIT", "5m"), ("BROKER_PASSWORD", "p@ss:word"),
    ("FLOWER_PASSWORD", "a,b"), ("WORKER_MEM_LIMIT", "lots"), ("BEAT_PIDS_LIMIT", "3"),
    ("BROKER_MEM_LIMIT", "1t"), ("FLOWER_PIDS_LIMIT", "x"),
])
def test_each_new_key_has_a_parser_naming_it(celery, key, text):
    with pytest.raises(BadEnvEntry) as caught:
        PARSERS[key](text)
    assert caught.value.key == key
    [bad] = bad_env_entries({key: text})
    assert bad.key == key
    with pytest.raises(BadEnvEntry):  # build_stack refuses it too (Flower on, for its keys to count)
        build(celery, {"FLOWER": "on", key: text})


@pytest.mark.parametrize("key, text", [("WORKERS", "off"), ("FLOWER", "on"), ("WORKER_CONCURRENCY", "8"),
                                       ("TASK_TIME_LIMIT", "3600"), ("BROKER_PASSWORD", "a-Z_09" * 6)])
def test_good_values_pass(key, text):
    PARSERS[key](text)
    assert bad_env_entries({key: text}) == []
