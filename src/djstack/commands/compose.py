"""Commands of `docker compose` for one stack's project: its lifecycle, and running in its services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..execute import Command
from ..model import STACK_FILES


@dataclass(frozen=True)
class Project:
    """A stack's Compose project: its folder, its compose files (more than one: overrides on top of
    the stack's own, as the benchmark's), and variables that override `.env`'s (deploy:
    WEB_RELEASE of the new release)."""

    root: Path
    files: tuple[str, ...] = (STACK_FILES.compose,)
    env: Mapping[str, str] = field(default_factory=dict, hash=False)


def compose(project: Project, *args: str, stdin: bytes | str | Path | None = None,
            timeout: float | None = None) -> Command:
    """`docker compose ARGS` for the project, run in its folder."""
    files = [arg for name in project.files for arg in ("-f", str(project.root / name))]
    return Command(("docker", "compose", "--project-directory", str(project.root), *files, *args),
                   stdin=stdin, cwd=project.root, env=dict(project.env), timeout=timeout)


def ps(project: Project) -> Command:
    """Every container of the project, stopped ones too, as JSON (read by compose.parse_ps)."""
    return compose(project, "ps", "--all", "--format", "json")


def container_ids(project: Project) -> Command:
    return compose(project, "ps", "--all", "--quiet")


def build(project: Project, services: Sequence[str] = ()) -> Command:
    """Build the images (all, or those of `services`), in plain lines a log can keep."""
    return compose(project, "--progress", "plain", "build", *services)


def up(project: Project) -> Command:
    return compose(project, "up", "--detach")


def start_missing(project: Project) -> Command:
    """Start what is stopped, touching neither images nor running containers (after a restore)."""
    return compose(project, "up", "--detach", "--no-build", "--no-recreate", timeout=300)


def scale_up(project: Project, service: str, count: int) -> Command:
    """Run `count` containers of `service`, the running ones kept (a new release beside the live one)."""
    return compose(project, "up", "--detach", "--no-deps", "--no-recreate", "--scale", f"{service}={count}",
                   service, timeout=600)


def recreate(project: Project, services: Sequence[str], timeout: float) -> Command:
    """New containers of `services` from the project's images as they are (a release deploy built):
    Compose stops each old one first (SIGTERM, then SIGKILL after its stop_grace_period), then
    starts its new one. `timeout`: longer than the longest stop_grace_period."""
    return compose(project, "up", "--detach", "--no-deps", "--no-build", "--force-recreate", *services,
                   timeout=timeout)


def restart(project: Project, service: str, timeout: float = 120) -> Command:
    return compose(project, "restart", service, timeout=timeout)


def stop(project: Project, service: str, timeout: float = 120) -> Command:
    """Stop the service's containers (each gets its stop_grace_period: `timeout` must be longer)."""
    return compose(project, "stop", service, timeout=timeout)


def down(project: Project, *, volumes: bool) -> Command:
    return compose(project, "down", "--remove-orphans", *(["--volumes"] if volumes else []), timeout=300)


def logs(project: Project, service: str, tail: int, since: str | None = None,
         timeout: float | None = None, timestamps: bool = False) -> Command:
    """A service's last `tail` lines (since a time when given), plain, for djstack to read; each
    line led by its RFC 3339 time with `timestamps`."""
    since_args = ["--since", since] if since else []
    stamps = ["--timestamps"] if timestamps else []
    return compose(project, "logs", "--no-color", "--no-log-prefix", *stamps, "--tail", str(tail), *since_args,
                   service, timeout=timeout)


def show_logs(project: Project, service: str | None, tail: str, *, follow: bool) -> Command:
    """Logs for a person at the terminal (`djstack logs`)."""
    return compose(project, "logs", "--tail", tail, *(["--follow"] if follow else []),
                   *([service] if service else []))


def exec(project: Project, service: str, argv: Sequence[str], *, stdin: bytes | str | Path | None = None,
         timeout: float | None = 120, tty: bool = False) -> Command:
    """Run `argv` in the service's running container; with tty, attached to a terminal."""
    return compose(project, "exec", *([] if tty else ["-T"]), service, *argv, stdin=stdin, timeout=timeout)


def one_off(project: Project, service: str, argv: Sequence[str], *, stdin: Path | None = None,
            timeout: float | None = None, sh_entrypoint: bool = False) -> Command:
    """Run `argv` in a new container of the service (its user, its confinement), without its
    dependencies, removed afterwards. sh_entrypoint: `sh` as the entrypoint (argv are sh's arguments)."""
    entrypoint = ["--entrypoint", "sh"] if sh_entrypoint else []
    return compose(project, "run", "--rm", "--no-deps", "-T", *entrypoint, service, *argv, stdin=stdin,
                   timeout=timeout)
