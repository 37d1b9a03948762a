"""Running the docker CLI: the only place djstack starts docker processes.

Everything goes through the `docker` command (and its `compose` plugin) rather than the Engine API,
so what djstack does is what a person could type, and works with any engine the CLI can reach.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .errors import CommandFailed, CommandTimedOut, EngineMissing, EngineUnreachable


def docker_binary() -> str:
    path = shutil.which("docker")
    if path is None:
        raise EngineMissing()
    return path


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    capture: bool = True,
    input: str | bytes | None = None,
    timeout: float | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run `docker ARGS`. With check, a failure raises CommandFailed carrying docker's own message.
    `env` adds variables to the environment (Compose lets them override `.env`)."""
    text = not isinstance(input, bytes)
    try:
        proc = subprocess.run(
            [docker_binary(), *args],
            input=input,
            capture_output=capture,
            text=text,
            timeout=timeout,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandTimedOut(["docker", *args], timeout or 0) from exc
    if check and proc.returncode != 0:
        detail = proc.stderr if capture else ""
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise CommandFailed(["docker", *args], proc.returncode, detail)
    return proc


@functools.cache
def require_engine() -> str:
    """Return the engine's version, or explain that there is no engine to talk to."""
    proc = run(["version", "--format", "{{json .Server}}"], check=False, timeout=30)
    server = None
    if proc.returncode == 0:
        try:
            server = json.loads(proc.stdout)
        except json.JSONDecodeError:
            server = None
    if not server:
        reason = (proc.stderr or "").strip().splitlines()
        raise EngineUnreachable(reason[-1] if reason else "")
    return server.get("Version", "unknown")


@functools.cache
def require_compose() -> str:
    """Return the Compose v2 version, or explain how to get it."""
    proc = run(["compose", "version", "--short"], check=False, timeout=30)
    version = proc.stdout.strip().lstrip("v") if proc.returncode == 0 else ""
    if not version or not version[0].isdigit() or int(version.split(".")[0]) < 2:
        raise EngineMissing("Docker Compose v2 (`docker compose`) is not installed"
                            + (f" (found {version})." if version else "."))
    return version


def image_exists(name: str) -> bool:
    return run(["image", "inspect", name], check=False, timeout=60).returncode == 0
