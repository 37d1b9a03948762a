"""The command line's answers to bad input and a missing engine: a message, a fix, a non-zero exit."""

from __future__ import annotations

import os
import subprocess

from helpers import DJSTACK, require_tool, unique_name

from djstack.initialise import run_init
from djstack.model import StackOptions


def djstack(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*DJSTACK, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_engine_unreachable_is_explained(example_copy):
    require_tool("docker")
    run_init(example_copy, StackOptions(image_source="debian", name=unique_name()), force=False)
    proc = djstack("up", str(example_copy), env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 2
    assert "Docker engine is not running or not reachable" in proc.stderr
    assert "scripts/install-docker.sh" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_docker_command_missing_is_explained(example_copy, tmp_path):
    run_init(example_copy, StackOptions(image_source="debian", name=unique_name()), force=False)
    proc = djstack("ps", str(example_copy), env={"PATH": str(tmp_path)})
    assert proc.returncode == 2
    assert "docker command is not installed" in proc.stderr


def test_up_before_init_says_to_run_init(example_copy):
    proc = djstack("up", str(example_copy))
    assert proc.returncode == 2
    assert "djstack init" in proc.stderr


def test_not_a_project(tmp_path):
    proc = djstack("init", str(tmp_path))
    assert proc.returncode == 2
    assert "is not a Django project" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_env_with_empty_secret_refused_before_anything_starts(example_copy):
    run_init(example_copy, StackOptions(image_source="debian", name=unique_name()), force=False)
    env_file = example_copy / ".env"
    text = "\n".join("REDIS_PASSWORD=" if line.startswith("REDIS_PASSWORD=") else line
                     for line in env_file.read_text().splitlines())
    env_file.write_text(text + "\n")
    proc = djstack("up", str(example_copy), env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 2
    assert f"{env_file}: REDIS_PASSWORD is missing or empty" in proc.stderr


def test_down_volumes_without_terminal_needs_yes(example_copy):
    # A project name of its own, and (conftest.py) no engine to reach: were the guard to fail, the
    # `down --volumes` would delete nothing of anyone's.
    run_init(example_copy, StackOptions(image_source="debian", name=unique_name()), force=False)
    proc = djstack("down", str(example_copy), "--volumes")
    assert proc.returncode == 2
    assert "--yes" in proc.stderr
    assert "not reachable" not in proc.stderr  # refused before any docker command


def test_help_lists_every_command():
    proc = djstack("--help")
    assert proc.returncode == 0
    for command in ("init", "up", "down", "ps", "logs", "manage", "dbshell", "images", "check"):
        assert f"  {command}" in proc.stdout
