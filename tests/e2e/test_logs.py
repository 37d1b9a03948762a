"""Bounded logs: a service's container log stays under its cap however much it writes; nginx logs to
its container output, where `djstack logs` and `djstack doctor` read it; doctor measures the disk."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from djstack.initialise import load_stack
from stacks import wait_for

pytestmark = pytest.mark.e2e

LINE = "a log line of a service that logs heavily, " + "x" * 56  # 100 bytes with the newline
WRITTEN = 20 * 10**6  # ten times the cap below


def _log_files(container: str) -> list[Path]:
    """A container's json-file log: the current file and the rotated ones beside it (.1, .2 …)."""
    log_path = Path(subprocess.run(["docker", "inspect", "--format", "{{.LogPath}}", container],
                                   capture_output=True, text=True, check=True).stdout.strip())
    return [p for p in log_path.parent.iterdir() if p.name.startswith(log_path.name)]


def test_a_service_logging_heavily_stays_under_its_log_cap(live_stack):
    # A one-off container of web, with web's logging options at a small cap: the shared stack's own
    # containers and their logs are left alone.
    env = {**os.environ, "LOG_MAX_SIZE": "1m", "LOG_MAX_FILES": "2"}
    script = f"yes '{LINE}' | head -c {WRITTEN}; echo END-OF-FLOOD; sleep 300"
    name = f"{live_stack.name}-logflood"
    subprocess.run(["docker", "compose", "run", "-d", "--no-deps", "--name", name, "--entrypoint", "sh",
                    "web", "-c", script], cwd=live_stack.root, env=env, check=True, capture_output=True,
                   timeout=120)
    try:
        # The newest line is kept (the oldest went).
        wait_for(lambda: "END-OF-FLOOD" in subprocess.run(["docker", "logs", "--tail", "1", name],
                                                          capture_output=True, text=True).stdout,
                 120, "the flood's last line in the log", poll=1)
        files = _log_files(name)
        size = sum(p.stat().st_size for p in files)
        assert len(files) <= 2 and size <= 2 * 2**20 * 1.1, (files, size)
        shown = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stdout
        assert 0 < len(shown) < 2 * 2**20 < WRITTEN
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_nginx_log_rotates_and_nginx_keeps_writing(live_stack):
    # nginx recreated with a 1 MB x 2 cap, flooded with ~3 MB of access lines, then put back as the
    # stack has it (the shared stack must be left as found).
    nginx = load_stack(live_stack.root).services.nginx

    def recreate(**env: str) -> None:
        subprocess.run(["docker", "compose", "up", "--detach", "--no-deps", "--force-recreate", "--wait", nginx],
                       cwd=live_stack.root, env={**os.environ, **env}, check=True, capture_output=True, timeout=180)

    recreate(LOG_MAX_SIZE="1m", LOG_MAX_FILES="2")
    try:
        container = live_stack.compose("ps", "--quiet", nginx).stdout.strip()
        # An editor's backup copy: nginx answers 404 itself, each access line ~8 KB (the request line).
        path = "/" + "a" * 7900 + ".bak"
        with requests.Session() as session:
            for _ in range(400):
                assert session.get(live_stack.url + path, timeout=30).status_code == 404
        wait_for(lambda: len(_log_files(container)) == 2, 10, "nginx's log rotated")
        marker = f"/after-rotation-{time.time_ns()}.bak"
        assert live_stack.get(marker).status_code == 404

        def newest() -> str:
            return subprocess.run(["docker", "logs", "--tail", "5", container], capture_output=True, text=True).stdout

        wait_for(lambda: marker in newest(), 10, "nginx's line after the rotation in its log")
        assert f'"GET {marker} HTTP/1.1" 404' in newest()
        size = sum(p.stat().st_size for p in _log_files(container))
        assert size <= 2 * 2**20 * 1.1, size  # ~3 MB written, the oldest dropped
        print(f"nginx's log after ~3.2 MB of access lines: {size} bytes in {len(_log_files(container))} files")
    finally:
        recreate()
    assert live_stack.get("/").status_code == 200


def test_nginx_logs_to_its_output_and_doctor_reads_its_errors(live_stack, tmp_path):
    assert not (live_stack.root / "compose" / "nginx" / "log").exists()  # no file grows on the host
    page, marker = f"/no-such-page-{time.time_ns()}/", f"/static/no-such-file-{time.time_ns()}.css"
    assert live_stack.get(page).status_code == 404  # Django's 404: an access line
    assert live_stack.get(marker).status_code == 404  # a static file nginx cannot open: an error line
    time.sleep(1)
    logs = live_stack.djstack("logs", "nginx", "--dir", str(live_stack.root), "--tail", "50").stdout
    assert f'"GET {page} HTTP/1.1" 404' in logs and f"request: \"GET {marker} HTTP/1.1\"" in logs
    evidence = tmp_path / "evidence.json"
    live_stack.djstack("doctor", str(live_stack.root), "--save-evidence", str(evidence), check=False)
    facts = json.loads(evidence.read_text())
    assert any(marker in line and "[error]" in line for line in facts["nginx_error_log"]), facts["nginx_error_log"]
    disk = facts["disk"]
    assert disk["root"]["free"] > 0 and disk["root"]["total"] >= disk["root"]["free"]
    assert disk["backups"]["free"] > 0
    db_volume = f"{live_stack.name}_{load_stack(live_stack.root).volumes.db}"
    assert disk["volumes"][db_volume] > 0
    assert disk["logs"]["nginx"] <= disk["log_cap"]
