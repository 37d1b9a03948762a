"""What the benchmark and the tests both set up before they start a stack: a copy of a project to
work in, and a free port on 127.0.0.1 for it to publish.

One module for both, so that a copy is the same project wherever it is made. bench/run.sh runs
bench.py as a script (this folder is then on sys.path); tests/helpers.py puts this folder on
sys.path for the tests. Dependencies: the standard library only.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "mysite"

#: Never copied: what Python and a JavaScript build leave in a source tree.
BUILD_LEFTOVERS = ("__pycache__", "*.pyc", "node_modules")
#: Never copied from examples/mysite: what running it by hand leaves there (its .gitignore) and a
#: stack's .env (its secrets and Compose project name belong to that stack, not to a copy).
EXAMPLE_LEFTOVERS = ("db.sqlite3", "media", ".env")


def copy_project(source: Path, dest: Path, *, leave_out: tuple[str, ...] = ()) -> Path:
    """A copy of the tree `source` at `dest` (which may exist, e.g. a test's tmp_path), without
    BUILD_LEFTOVERS nor the `leave_out` patterns; returns `dest`."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS, *leave_out), dirs_exist_ok=True)
    return dest


def copy_example(dest: Path) -> Path:
    """A fresh copy of examples/mysite at `dest`; returns `dest`."""
    return copy_project(EXAMPLE, dest, leave_out=EXAMPLE_LEFTOVERS)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (the socket is closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
