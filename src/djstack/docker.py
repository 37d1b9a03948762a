"""The docker CLI's engine: whether one answers, and its Compose plugin.

Everything goes through the `docker` command (and its `compose` plugin) rather than the Engine API,
so what djstack does is what a person could type, and works with any engine the CLI can reach. The
commands are in commands/docker.py and commands/compose.py; execute.py runs them.
"""

from __future__ import annotations

import functools
import json

from . import execute
from .commands import docker as commands
from .errors import EngineMissing, EngineUnreachable


@functools.cache
def require_engine() -> str:
    """Return the engine's version, or explain that there is no engine to talk to."""
    proc = execute.run(commands.server_version(), check=False)
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
    proc = execute.run(commands.compose_version(), check=False)
    version = proc.stdout.strip().lstrip("v") if proc.returncode == 0 else ""
    if not version or not version[0].isdigit() or int(version.split(".")[0]) < 2:
        raise EngineMissing("Docker Compose v2 (`docker compose`) is not installed"
                            + (f" (found {version})." if version else "."))
    return version


def image_exists(name: str) -> bool:
    return execute.run(commands.image_inspect(name), check=False).returncode == 0
