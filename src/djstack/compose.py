"""A stack's Compose project on the engine: its services' states (the one reader of `docker compose
ps`), their logs and healthchecks. The commands themselves are in commands/compose.py."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import docker, execute
from .commands import compose as cc
from .commands import docker as dc
from .errors import DjstackError
from .model import STACK_FILES, Stack

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Text without terminal colour codes (Compose colours logs even with --no-color in some versions)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class ServiceState:
    service: str
    container: str
    state: str  # running, exited, restarting, created…
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    exit_code: int
    publishers: tuple[dict, ...]


def ps_rows(text: str) -> list[dict]:
    """`docker compose ps --format json` as Compose printed it: one dict per container."""
    text = text.strip()
    if not text:
        return []
    # Compose prints a JSON array in some versions and one object per line in others.
    return json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines()]


def parse_ps(text: str) -> list[ServiceState]:
    """`docker compose ps --format json` as the states djstack reads."""
    return [
        ServiceState(
            service=row.get("Service", ""),
            container=row.get("Name", ""),
            state=row.get("State", ""),
            health=row.get("Health", ""),
            exit_code=int(row.get("ExitCode") or 0),
            publishers=tuple(row.get("Publishers") or ()),
        )
        for row in ps_rows(text)
    ]


class Compose:
    """The project of the stack in `root`, once the engine and Compose v2 answer."""

    def __init__(self, root: Path, files: Sequence[str] = (STACK_FILES.compose,), env: dict[str, str] | None = None):
        self.project = cc.Project(root, tuple(files), dict(env or {}))
        docker.require_engine()
        docker.require_compose()

    def states(self) -> list[ServiceState]:
        return parse_ps(execute.run(cc.ps(self.project)).stdout)

    def logs(self, service: str, tail: int = 30) -> str:
        proc = execute.run(cc.logs(self.project, service, tail), check=False)
        return strip_ansi(proc.stdout + proc.stderr).rstrip()

    def healthcheck(self, state: ServiceState) -> list[str] | None:
        """The command of a container's healthcheck as `exec` runs it; None when it has none."""
        proc = execute.run(dc.healthcheck_config(state.container), check=False)
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
    return execute.run(dc.exec_in(container, command), check=False).returncode == 0


def stack_services(stack: Stack) -> list[str]:
    """The services the model gives the stack, as docker-compose.yml names them: web, nginx, db and
    redis; with background work the broker, then worker, beat, Flower and the Procfile's processes."""
    s = stack.services
    background = [s.broker, *stack.background_services] if stack.workers is not None else []
    return [s.web, s.nginx, *([s.certbot] if stack.acme else []), s.db, s.redis, *background]


def require_running(compose: Compose, service: str) -> None:
    running = {s.service for s in compose.states() if s.state == "running"}
    if service not in running:
        raise DjstackError(f"The {service} service is not running.", "Start the stack with `djstack up`.")
