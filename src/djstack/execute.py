"""The one place djstack starts a process.

Everything else describes what to run as a `Command` (built by the functions in `commands/`) and
hands it here: `run` captures the output, `stream` sends lines to a log and a callback, `to_sink`
pipes stdout into a file, `attached` gives the process the terminal. Each of them resolves the
program first (EngineMissing for docker, ProgramMissing for anything else) and turns a timeout into
CommandTimedOut; `run` and `to_sink` turn a non-zero exit into CommandFailed unless told otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .errors import CommandFailed, CommandTimedOut, EngineMissing, ProgramMissing

#: Bytes read at a time when piping a process's output into a sink.
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Command:
    """One process to run, as data: what a person would type, and what it reads.

    `stdin` is bytes or text to feed, a Path whose bytes are fed, or None to inherit djstack's own
    (b"" reads /dev/null). `env` adds variables to djstack's environment (Compose lets them
    override `.env`). `timeout` is in seconds; None waits for ever.
    """

    argv: tuple[str, ...]
    stdin: bytes | str | Path | None = None
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    timeout: float | None = None

    @property
    def shown(self) -> str:
        """The command line as the log and error messages show it."""
        return " ".join(self.argv)


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def _program(command: Command) -> str:
    name = command.argv[0]
    path = shutil.which(name)
    if path is None:
        raise EngineMissing() if name == "docker" else ProgramMissing(name)
    return path


def _popen_args(command: Command) -> dict:
    return {
        "cwd": command.cwd,
        "env": {**os.environ, **command.env} if command.env else None,
    }


def _decode(data: bytes | None) -> str:
    """Output as text the way Python's text mode reads it: UTF-8 (a bad byte cannot stop a run) with
    universal newlines."""
    return (data or b"").decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def run(command: Command, *, check: bool = True) -> Result:
    """Run to the end with stdout and stderr captured (as text). With check, a non-zero exit raises
    CommandFailed carrying what the command said on stderr."""
    argv = [_program(command), *command.argv[1:]]
    stdin = command.stdin
    try:
        if isinstance(stdin, Path):
            with stdin.open("rb") as feed:
                proc = subprocess.run(argv, stdin=feed, capture_output=True, timeout=command.timeout,
                                      **_popen_args(command))
        else:
            data = stdin.encode() if isinstance(stdin, str) else stdin
            proc = subprocess.run(argv, input=data, capture_output=True, timeout=command.timeout,
                                  **_popen_args(command))
    except subprocess.TimeoutExpired as exc:
        raise CommandTimedOut(command.argv, command.timeout or 0) from exc
    result = Result(command.argv, proc.returncode, _decode(proc.stdout), _decode(proc.stderr))
    if check and result.returncode != 0:
        raise CommandFailed(command.argv, result.returncode, result.stderr)
    return result


@contextmanager
def _reading(command: Command, **pipes) -> Iterator[subprocess.Popen]:
    """Start the command for a runner that reads its output as it comes. stdin is inherited, /dev/null
    (b"") or a file's bytes; past the command's timeout the process is killed and, once the runner
    has read what it said, CommandTimedOut is raised."""
    argv = [_program(command), *command.argv[1:]]
    if command.stdin not in (None, b"", "") and not isinstance(command.stdin, Path):
        raise ValueError("stream and to_sink feed a file or nothing; use run() to feed bytes")
    with ExitStack() as stack:
        if isinstance(command.stdin, Path):
            stdin = stack.enter_context(command.stdin.open("rb"))
        else:
            stdin = None if command.stdin is None else subprocess.DEVNULL
        proc = stack.enter_context(subprocess.Popen(argv, stdin=stdin, **pipes, **_popen_args(command)))
        expired = threading.Event()
        timer = threading.Timer(command.timeout, lambda: (expired.set(), proc.kill())) if command.timeout else None
        if timer:
            timer.daemon = True
            timer.start()
            stack.callback(timer.cancel)
        try:
            yield proc
        except BaseException:
            proc.kill()
            raise
        proc.wait()
    if expired.is_set():
        raise CommandTimedOut(command.argv, command.timeout or 0)


def stream(command: Command, on_line: Callable[[str], None], log: Path, *, append: bool = False) -> int:
    """Run with stdout and stderr going to `log` line by line (and to on_line, for progress);
    return the exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a" if append else "w", encoding="utf-8") as sink:
        with _reading(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                      errors="replace") as proc:
            for line in proc.stdout:
                sink.write(line)
                on_line(line)
    return proc.returncode


def to_sink(command: Command, sink: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> None:
    """Run with stdout written to `sink` as it comes (bytes, never all in memory); on_bytes is told
    each chunk's size. A non-zero exit raises CommandFailed with the command's stderr."""
    said: list[bytes] = []
    with _reading(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        # stderr is drained beside stdout: a command that says much there must not block on it.
        reader = threading.Thread(target=lambda: said.append(proc.stderr.read()), daemon=True)
        reader.start()
        while chunk := proc.stdout.read(CHUNK):
            sink.write(chunk)
            if on_bytes:
                on_bytes(len(chunk))
        reader.join()
    if proc.returncode != 0:
        raise CommandFailed(command.argv, proc.returncode, _decode(b"".join(said)))


def attached(command: Command) -> int:
    """Run attached to djstack's terminal (logs -f, a shell); return the exit code."""
    argv = [_program(command), *command.argv[1:]]
    try:
        return subprocess.call(argv, timeout=command.timeout, **_popen_args(command))
    except subprocess.TimeoutExpired as exc:
        raise CommandTimedOut(command.argv, command.timeout or 0) from exc
