"""`djstack doctor` on a real stack with background work (issue 15): a stopped worker, a broker whose
password is not its clients' any more, and a task that fails, each named first, the task by its name
and exception.

The stack is the module's own (examples/mysite, whose Celery app gives it a worker, beat and a
broker). Each test breaks it through `broken`, which puts the files back and recreates what the test
touched, so the services' logs start afresh. With DJSTACK_KEEP_EVIDENCE=DIR, what doctor gathered
for each fault is also written to DIR (the fast tests' log lines in tests/test_doctor_background.py are
lines such files hold).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import DJSTACK
from stacks import LiveStack
from djstack.compose import Compose
from djstack.envfile import read_env
from djstack.initialise import load_stack
from djstack.lifecycle import wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(module_stack: LiveStack) -> LiveStack:
    made = load_stack(module_stack.root)
    assert made.workers is not None, "examples/mysite has a Celery app: its stack has a worker"
    (module_stack.root.parent / "pristine.env").write_text((module_stack.root / ".env").read_text())
    return module_stack


class Broken:
    """The module's stack for one test to break: `recreate` lists what the repair recreates."""

    def __init__(self, stack: LiveStack):
        self.stack = stack
        self.recreate: set[str] = set()

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.stack.compose(*args, check=check)

    def set_env(self, key: str, value: str) -> None:
        path = self.stack.root / ".env"
        lines = [f"{key}={value}" if line.startswith(f"{key}=") else line
                 for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def wait_for_log(self, service: str, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if text in self.compose("logs", "--no-color", service, check=False).stdout:
                return
            time.sleep(2)
        pytest.fail(f"{text!r} never appeared in {service}'s log:\n"
                    + self.compose("logs", "--no-color", "--tail", "40", service, check=False).stdout)


@pytest.fixture
def broken(stack):
    scene = Broken(stack)
    yield scene
    shutil.copy2(stack.root.parent / "pristine.env", stack.root / ".env")
    if scene.recreate:
        stack.compose("up", "--detach", "--force-recreate", *sorted(scene.recreate))
    assert wait_ready(Compose(stack.root), lambda waiting: None) is None


def doctor(scene: Broken, fault: str) -> list[dict]:
    """doctor's findings (JSON) on the broken stack; the evidence kept in DJSTACK_KEEP_EVIDENCE."""
    keep = os.environ.get("DJSTACK_KEEP_EVIDENCE")
    extra = ["--save-evidence", str(Path(keep) / f"{fault}.json")] if keep else []
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([*DJSTACK, "doctor", str(scene.stack.root), "--json", *extra], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_a_healthy_stack_with_workers(stack):
    proc = stack.djstack("doctor", str(stack.root), check=False)
    assert proc.returncode == 0, proc.stdout
    assert "workers from web: worker@" in proc.stdout and "answered a ping through the broker" in proc.stdout


def test_a_stopped_worker_is_named(broken):
    broken.recreate.add("worker")
    broken.compose("stop", "worker")
    # web still takes work, which waits in the broker for the worker.
    assert broken.stack.post("/api/jobs/", json={"seconds": 0}).status_code == 201
    findings = doctor(broken, "worker-stopped")
    assert findings[0]["id"] == "worker-not-running", findings
    assert "docker compose up -d worker" in findings[0]["fix"]
    assert "task(s) waiting in the broker's queue for a worker" in findings[0]["evidence"][1]
    # web still takes work: the ping through the broker finds no worker, as a consequence.
    assert "workers-no-reply" in [f["id"] for f in findings[1:]]


def test_a_broker_with_another_password_is_named(broken):
    broken.recreate |= {"broker", "worker", "beat"}
    broken.set_env("BROKER_PASSWORD", "a-new-broker-password-its-clients-lack-0123")
    broken.compose("up", "--detach", "--no-deps", "--wait", "broker")
    broken.wait_for_log("worker", "invalid username-password pair")
    findings = doctor(broken, "broker-password-changed")
    assert findings[0]["id"] == "broker-auth-refused", findings
    assert "BROKER_PASSWORD" in findings[0]["fix"] and "--force-recreate broker" in findings[0]["fix"]
    assert "redis-auth" not in [f["id"] for f in findings]  # the cache's Redis is fine


def test_a_failing_task_is_named_with_its_exception(broken):
    broken.recreate.add("worker")  # its log starts afresh for the next test
    answer = broken.stack.post("/api/jobs/", json={"seconds": 0, "fail": True})
    assert answer.status_code == 201, answer.text
    broken.wait_for_log("worker", "raised unexpected")
    findings = doctor(broken, "task-fails")
    first = findings[0]
    assert first["id"] == "task-failing", findings
    assert "gallery.tasks.run_job" in first["title"] and "JobFailed" in first["title"]
    assert "gallery/tasks.py:" in first["fix"]
    assert read_env(broken.stack.root / ".env")  # the stack's files are untouched
