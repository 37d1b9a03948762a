"""Helpers shared by the fast and the end-to-end tests."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "mysite"
#: The djstack command, run from this interpreter's environment.
DJSTACK = [sys.executable, "-m", "djstack"]


def require_tool(name: str) -> str:
    """A host tool a fast test needs: skipped on a developer's machine without it, failed in CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write a small project tree (relative path -> text) below `root`; returns `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
