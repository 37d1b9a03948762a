"""`docker compose` for one stack folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import docker
from .errors import DjstackError

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class ServiceState:
    service: str
    container: str
    state: str  # running, exited, restarting, created…
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    exit_code: int
    publishers: tuple[dict, ...]


class Compose:
    def __init__(self, root: Path, files: Sequence[str] = ("docker-compose.yml",), env: dict[str, str] | None = None):
        self.root = root
        self.files = files  # more than one: overrides on top of the stack's own (the benchmark's)
        self.env = env or {}  # variables that override .env's (deploy: WEB_RELEASE of the new release)
        docker.require_engine()
        docker.require_compose()

    def _args(self, args: Sequence[str]) -> list[str]:
        files = [arg for name in self.files for arg in ("-f", str(self.root / name))]
        return ["compose", "--project-directory", str(self.root), *files, *args]

    def argv(self, args: Sequence[str]) -> list[str]:
        """The full command line of `docker compose ARGS` for this stack (for callers that stream bytes)."""
        return [docker.docker_binary(), *self._args(args)]

    def run(self, args: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        return docker.run(self._args(args), cwd=self.root, env=self.env, **kwargs)

    def stream(self, args: Sequence[str], on_line: Callable[[str], None], log: Path) -> int:
        """Run with output going to `log` line by line (and to on_line for progress); return the exit code."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as sink:
            proc = subprocess.Popen(
                [docker.docker_binary(), *self._args(args)],
                cwd=self.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env={**os.environ, **self.env},
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                sink.write(line)
                on_line(line)
            return proc.wait()

    def interactive(self, args: Sequence[str]) -> int:
        """Run attached to the terminal (logs -f, exec with a TTY)."""
        return subprocess.call([docker.docker_binary(), *self._args(args)], cwd=self.root)

    def states(self) -> list[ServiceState]:
        proc = self.run(["ps", "--all", "--format", "json"])
        text = proc.stdout.strip()
        if not text:
            return []
        # Compose prints a JSON array in some versions and one object per line in others.
        rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines()]
        return [
            ServiceState(
                service=row.get("Service", ""),
                container=row.get("Name", ""),
                state=row.get("State", ""),
                health=row.get("Health", ""),
                exit_code=int(row.get("ExitCode") or 0),
                publishers=tuple(row.get("Publishers") or ()),
            )
            for row in rows
        ]

    def logs(self, service: str, tail: int = 30) -> str:
        proc = self.run(["logs", "--no-color", "--no-log-prefix", "--tail", str(tail), service], check=False)
        return _ANSI.sub("", proc.stdout + proc.stderr).rstrip()

    def exec(self, service: str, command: Sequence[str], *, check: bool = True, timeout: float = 120,
             input: str | None = None):
        return self.run(["exec", "-T", service, *command], check=check, timeout=timeout, input=input)

    def healthcheck(self, state: ServiceState) -> list[str] | None:
        """The command of a container's healthcheck as `exec` runs it; None when it has none."""
        proc = docker.run(["inspect", "--format", "{{json .Config.Healthcheck}}", state.container],
                          check=False, timeout=60)
        return healthcheck_command(json.loads(proc.stdout or "null") if proc.returncode == 0 else None)


def healthcheck_command(config: dict | None) -> list[str] | None:
    """A container's Config.Healthcheck as a command for `exec`; None when it has none (or NONE)."""
    test = (config or {}).get("Test") or []
    if test[:1] == ["CMD"]:
        return test[1:]
    if test[:1] == ["CMD-SHELL"]:
        return ["sh", "-c", test[1]]
    return None


def passes_healthcheck(container: str, command: list[str]) -> bool:
    """Run a healthcheck's command in a container now, as Docker would."""
    return docker.run(["exec", container, *command], check=False, timeout=30).returncode == 0


def require_running(compose: Compose, service: str) -> None:
    running = {s.service for s in compose.states() if s.state == "running"}
    if service not in running:
        raise DjstackError(f"The {service} service is not running.", "Start the stack with `djstack up`.")
