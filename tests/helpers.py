"""Helpers shared by the fast and the end-to-end tests."""

from __future__ import annotations

import contextlib
import locale
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
# The benchmark's modules the tests use too (load.py, sandbox.py): bench/run.sh runs them as scripts
# from their folder, so they are imported here the same way, by their names.
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from sandbox import EXAMPLE, copy_example, copy_project, free_port  # noqa: E402

__all__ = ["BENCH", "C_LOCALE_ENV", "DJSTACK", "EXAMPLE", "REPO", "c_locale", "copy_example", "copy_project",
           "free_port", "in_ci", "require_tool", "unavailable", "unique_name", "write_tree"]

#: The djstack command, run from this interpreter's environment.
DJSTACK = [sys.executable, "-m", "djstack"]


#: A child process's environment under the C locale with UTF-8 mode off: text files default to ASCII.
C_LOCALE_ENV = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


@contextlib.contextmanager
def c_locale():
    """This process's character type under the C locale (ASCII) for the block, then as it was."""
    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)


def in_ci() -> bool:
    """Whether this is a CI run (CI=true, as CI services set it)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def unavailable(what: str) -> NoReturn:
    """Something a test needs is missing: skipped on a developer's machine, failed in CI, where a
    skip would let a run pass that tested nothing. `what` says what is missing and how to get it."""
    if in_ci():
        pytest.fail(f"{what} (a CI run must have it: the test fails rather than skip)")
    pytest.skip(what)


def require_tool(name: str) -> str:
    """A host tool a fast test needs: skipped on a developer's machine without it, failed in CI."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (scripts/test.sh installs it)")
    return path


def unique_name(prefix: str = "djstack-test") -> str:
    """A Compose project name no one else has: a test touches only the stacks it made, never one that
    a person's quickstart or benchmark left on this engine (those are called mysite, bench-…)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write a small project tree (relative path -> text) below `root`; returns `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
