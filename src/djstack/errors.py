"""The exceptions commands raise for problems a person can fix.

Every one is a `DjstackError`: the CLI prints its `message` and `fix` and exits with its
`exit_code`; nothing else is shown, because a traceback says nothing useful to someone fixing a
config file. Callers tell problems apart by type and by the fields each type keeps (a key, a line,
a service), never by the message's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DjstackError(Exception):
    """A problem with the user's input or host, with what to do about it."""

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


# --- the host: the docker CLI, its engine, Compose ----------------------------------------------

INSTALL_HINT = (
    "Install Docker Engine and Compose v2 with scripts/install-docker.sh from the djstack "
    "repository (Debian/Ubuntu), or see https://docs.docker.com/engine/install/."
)


class ProgramMissing(DjstackError):
    """A program djstack runs is not installed (not on PATH); `program` names it."""

    def __init__(self, program: str, message: str | None = None, fix: str | None = None):
        self.program = program
        super().__init__(message or f"The {program} command is not installed.",
                         fix or f"Install {program} (it must be on PATH).")


class EngineMissing(ProgramMissing):
    """The `docker` command (or its Compose v2 plugin) is not installed."""

    def __init__(self, what: str = "The docker command is not installed.", fix: str = INSTALL_HINT):
        super().__init__("docker", what, fix)


ENGINE_START_HINT = (
    "Start it: `systemctl start docker` (or scripts/install-docker.sh, which installs and starts "
    "it); check DOCKER_HOST and that you may use it (root, or the docker group)."
)


class EngineUnreachable(DjstackError):
    """The docker command exists, but no engine answers it (stopped, or no permission)."""

    def __init__(self, reason: str = ""):
        self.reason = reason
        super().__init__(
            "The Docker engine is not running or not reachable" + (f": {reason}" if reason else "."),
            ENGINE_START_HINT,
        )


class CommandFailed(DjstackError):
    """A command djstack ran exited non-zero; `stderr` is what it said."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str = "", fix: str | None = None):
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        shown = " ".join(self.argv)
        super().__init__(f"`{shown}` failed (exit {returncode}).\n{stderr.strip()}".rstrip(), fix)


class CommandTimedOut(DjstackError):
    """A command djstack ran did not finish within its time limit."""

    def __init__(self, argv: Sequence[str], timeout: float):
        self.argv = tuple(argv)
        self.timeout = timeout
        super().__init__(f"`{' '.join(self.argv)}` did not finish within {timeout:.0f} s.")


# --- the project and its stack -----------------------------------------------------------------


class NotDjangoProject(DjstackError):
    """The folder given is not (or not exactly one) Django project djstack can read."""

    def __init__(self, folder: Path | str, message: str, fix: str):
        self.folder = Path(folder)
        super().__init__(message, fix)


class NoStack(DjstackError):
    """The project has no stack (no compose file or `.env` written by `djstack init`) yet."""

    def __init__(self, folder: Path | str, message: str, fix: str = "Run `djstack init` on the project first."):
        self.folder = Path(folder)
        super().__init__(message, fix)


class BadEnvEntry(DjstackError):
    """One `.env` entry is wrong: `key` names it (None for a line that is not KEY=VALUE), `line` is
    its 1-based line in `path` when known, `problem` says what is wrong with it alone."""

    def __init__(self, key: str | None, problem: str, fix: str, *, path: Path | str | None = None,
                 line: int | None = None):
        self.key = key
        self.problem = problem
        self.path = Path(path) if path is not None else None
        self.line = line
        where = f"{path}:{line}: " if path is not None and line is not None else (f"{path}: " if path else "")
        super().__init__(f"{where}{problem}", fix)


class MissingVariables(DjstackError):
    """`.env` lacks values the project's settings need and djstack cannot know."""

    def __init__(self, env_path, variables):
        self.names = tuple(v.name for v in variables)
        listed = "\n".join(f"  {v.name}  (read by {v.where})" for v in variables)
        super().__init__(
            f"{env_path}: the project's settings read {len(self.names)} variable(s) without a default that "
            f"djstack cannot know, and they are empty:\n{listed}",
            f"Fill in {', '.join(self.names)} in {env_path}, then run `djstack up` again.",
        )


class TlsProblem(DjstackError):
    """A certificate or key is missing, unreadable, mismatched or expired: `kind` says which
    (for example "missing", "unreadable", "mismatch", "expired", "names", "openssl"); `problem`
    says what is wrong with the file at `path` alone (the message names the path first)."""

    def __init__(self, kind: str, problem: str, fix: str, path: Path | str | None = None):
        self.kind = kind
        self.problem = problem
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {problem}" if path is not None else problem, fix)


# --- running the stack -------------------------------------------------------------------------


class BuildFailed(DjstackError):
    """An image build failed; `service` is the one whose build failed when known; the message holds
    the build's last lines."""

    def __init__(self, message: str, fix: str | None = None, service: str = ""):
        self.service = service
        super().__init__(message, fix)


class StackUnhealthy(DjstackError):
    """The stack started but a service did not become healthy, or the site did not answer."""

    def __init__(self, message: str, fix: str = "Run `djstack doctor` for a diagnosis.", service: str = ""):
        self.service = service
        super().__init__(message, fix)


class AcmeFailed(DjstackError):
    """The certbot service of an acme stack could not get the certificate: `reason` is its
    `acme: failed:` text (certbot's, or the ACME server's), empty when it said nothing in time. The
    stack keeps running and serving its stand-in certificate."""

    def __init__(self, message: str, fix: str, reason: str = ""):
        self.reason = reason
        super().__init__(message, fix)
