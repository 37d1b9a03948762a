"""Faults while the site takes writes: each service's main process killed (kill -9), each container
restarted, the Docker daemon restarted. Each time the stack must become healthy by itself, and every
note whose POST answered 201 must still be in the database.

Recovery times are printed (run with -s to see them), never asserted: the hosts are noisy.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from helpers import REPO, in_ci, unavailable
from stacks import stored_notes, wait_for

pytestmark = pytest.mark.e2e

#: The main process (PID 1) of each service's container, by its command name.
MAIN_PROCESS = {"db": ("mysqld", "mariadbd"), "web": ("uwsgi",), "redis": ("redis-server",), "nginx": ("nginx",),
                "broker": ("redis-server",), "worker": ("celery",), "beat": ("celery",)}
SERVICES = tuple(MAIN_PROCESS)
#: Restarted by `docker restart` as well: the services that hold state or serve requests (the worker's
#: stop is test_workers.py's, beat's restart its heartbeat test's).
RESTARTED = ("db", "web", "redis", "nginx", "broker")
RECOVERY_TIMEOUT = 240
RECOVERY: dict[str, float] = {}


class NoteWriter(threading.Thread):
    """Posts notes through nginx until stopped; remembers each note the site accepted (201).

    It only records: the test's own thread judges, with `check()` (an assertion failing in this
    thread would only end it, and the test would see a timeout instead of the failure)."""

    def __init__(self, stack, tag: str):
        super().__init__(daemon=True)
        self.url = stack.url + "/api/notes/"
        self.tag = tag
        self.accepted: list[tuple[float, str]] = []  # (monotonic time of the answer, text)
        self.echoed: list[tuple[str, str]] = []  # (text sent, text the 201 answer holds)
        self.refused = 0
        self.error: BaseException | None = None  # what ended this thread early
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # recorded for check(), in the test's thread
            self.error = exc

    def _write(self) -> None:
        n = 0
        while not self._halt.is_set():
            text = f"{self.tag}-{n}"
            n += 1
            try:
                answer = requests.post(self.url, data={"text": text}, timeout=10)
            except requests.RequestException:
                answer = None
            if answer is not None and answer.status_code == 201:
                self.echoed.append((text, answer.json()["text"]))
                self.accepted.append((time.monotonic(), text))
            else:
                self.refused += 1
                time.sleep(0.2)
            time.sleep(0.05)

    def check(self) -> None:
        """Fail the test if the writer died or the site answered 201 with another note's text."""
        if self.error is not None:
            raise AssertionError(f"the note writer stopped: {self.error!r}") from self.error
        for text, echoed in self.echoed:
            assert echoed == text, f"POST of {text!r} answered 201 with {echoed!r}"

    def accepted_after(self, moment: float) -> int:
        return sum(1 for when, _ in self.accepted if when > moment)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


def inspect(container: str, template: str) -> str:
    proc = subprocess.run(["docker", "inspect", "-f", template, container], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def all_healthy(stack) -> bool:
    try:
        rows = stack.services()
    except BaseException:  # compose itself fails while the daemon is down
        return False
    return set(rows) == stack.model_services() and all(
        r["State"] == "running" and r.get("Health") == "healthy" for r in rows.values())


def survive(stack, tag: str, fault, restarted: list[str]) -> float:
    """Run `fault()` while notes are being written; return the seconds until the stack serves again."""
    containers = {name: row["Name"] for name, row in stack.services().items()}
    started_before = {svc: inspect(containers[svc], "{{.State.StartedAt}}") for svc in restarted}
    writer = NoteWriter(stack, tag)
    writer.start()
    try:
        wait_for(lambda: len(writer.accepted) >= 5, 60, "notes accepted before the fault", watch=writer.check)
        t0 = time.monotonic()
        fault(containers)
        # The fault really happened: each affected container was started again.
        wait_for(lambda: all(inspect(containers[svc], "{{.State.StartedAt}}") not in ("", started_before[svc])
                             for svc in restarted), RECOVERY_TIMEOUT, f"{restarted} started again",
                 watch=writer.check)
        wait_for(lambda: all_healthy(stack), RECOVERY_TIMEOUT, "every service healthy again", poll=1,
                 watch=writer.check)
        healthy_at = time.monotonic()
        wait_for(lambda: writer.accepted_after(healthy_at - 0.001) >= 3, RECOVERY_TIMEOUT, "notes accepted again",
                 watch=writer.check)
        # Recovery: from the fault to the first note accepted once every service is healthy again.
        served_again = min(when for when, _ in writer.accepted if when >= healthy_at - 0.001) - t0
    finally:
        writer.stop()
    assert not writer.is_alive(), "the note writer did not stop within 30 s"
    writer.check()
    stored = stored_notes(stack, tag)
    accepted = {text for _, text in writer.accepted}
    lost = sorted(accepted - stored)
    RECOVERY[tag] = served_again
    print(f"\n[recovery] {tag}: healthy and serving writes {served_again:.1f} s after the fault "
          f"({len(accepted)} notes accepted, {writer.refused} refused during the fault, {len(lost)} lost)")
    assert not lost, f"{len(lost)} notes answered 201 but are gone: {lost[:10]}"
    return served_again


@pytest.mark.parametrize("service", SERVICES)
def test_kill_9_of_main_process_while_writing(module_stack, service):
    # A crash as the kernel delivers it: SIGKILL to the process from the host. Not `docker kill`: the
    # daemon records that as a deliberate stop, and restart policies then leave the container down.
    if os.geteuid() != 0:
        unavailable("killing a container's process from the host needs root (run the e2e tests as root)")

    def kill(containers):
        container = containers[service]
        pid = int(inspect(container, "{{.State.Pid}}"))
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        assert comm in MAIN_PROCESS[service], f"PID 1 of {service} is {comm!r}"
        os.kill(pid, signal.SIGKILL)

    survive(module_stack, f"kill9-{service}", kill, [service])


@pytest.mark.parametrize("service", RESTARTED)
def test_docker_restart_while_writing(module_stack, service):
    def restart(containers):
        subprocess.run(["docker", "restart", containers[service]], check=True, capture_output=True, timeout=180)

    survive(module_stack, f"restart-{service}", restart, [service])


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def dockerd_pid() -> int | None:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == "dockerd":
                    return int(proc.name)
            except OSError:
                continue
    return None


def start_engine() -> None:
    subprocess.run([str(REPO / "scripts" / "install-docker.sh")], check=True, capture_output=True, timeout=600)


def restart_daemon() -> None:
    """Restart the engine the way it runs here: systemd's unit, or the background dockerd that
    scripts/install-docker.sh started (stop it, then let the script start it and wait for it)."""
    if shutil.which("systemctl") and subprocess.run(["systemctl", "is-active", "--quiet", "docker"],
                                                capture_output=True).returncode == 0:
        subprocess.run(["systemctl", "restart", "docker"], check=True, timeout=300)
        return
    pid = dockerd_pid()
    assert pid, "no dockerd process to restart"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 180
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    start_engine()


def other_containers(stack) -> list[str]:
    names = subprocess.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True).stdout.split()
    return [n for n in names if not n.startswith(f"{stack.name}-")]


def test_docker_daemon_restart_while_writing(module_stack):
    # A daemon restart stops every container on the engine. CI runs tests one at a time on a host of
    # its own; on a shared development engine, only when no one else has containers running.
    others = other_containers(module_stack)
    if others and not in_ci():
        pytest.skip(f"other containers are running on this engine ({', '.join(others[:5])}…): not restarting it")
    if os.geteuid() != 0:
        unavailable("restarting the Docker daemon needs root (run the e2e tests as root)")
    try:
        survive(module_stack, "daemon-restart", lambda containers: restart_daemon(), list(SERVICES))
    finally:
        if not engine_answers():
            start_engine()
