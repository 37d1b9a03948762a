"""The one log file of a build run, and errors that quote its end."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import execute
from ..commands import docker as dc
from ..errors import BuildFailed, DjstackError

BUILD_TIMEOUT = 1800  # seconds; a cold mariadb build is about a minute on our CI hosts
_TAIL_LINES = 25


@dataclass
class Log:
    """Every command's full output is appended to it; errors name it."""

    path: Path

    def write(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8", errors="replace") as f:
            f.write(text if text.endswith("\n") else text + "\n")

    def section(self, title: str) -> None:
        self.write(f"\n===== {datetime.now():%Y-%m-%d %H:%M:%S} {title}\n")

    def run(self, command: execute.Command) -> execute.Result:
        """Run a build step with its command line and whole output in the log; the caller judges it."""
        self.section("$ " + command.shown)
        proc = execute.run(command, check=False)
        self.write(proc.stdout + proc.stderr)
        return proc


def new_log() -> Log:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for directory in (Path(base) / "djstack" / "logs", Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"djstack-images-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
            path.touch()
            return Log(path)
        except OSError:
            continue
    raise DjstackError(
        "Cannot create a log file for the image build.",
        "Check that $HOME/.cache or the temp dir is writable.",
    )


def tail(text: str, lines: int = _TAIL_LINES) -> str:
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join("    " + line for line in kept)


def fail(what: str, output: str, log: Log, fix: str, image: str = "") -> BuildFailed:
    return BuildFailed(f"{what}. Last lines of its output:\n{tail(output)}\nFull output: {log.path}", fix, image)


def image_size(name: str) -> str:
    proc = execute.run(dc.image_size(name), check=False)
    try:
        return f"{int(proc.stdout.strip()) / 1e6:.0f} MB"
    except ValueError:
        return "size unknown"
