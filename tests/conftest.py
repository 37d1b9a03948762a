"""Shared fixtures. Fast tests need no Docker; tests marked e2e drive a real engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import EXAMPLE


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A fresh copy of examples/mysite, in a folder named mysite."""
    target = tmp_path / "mysite"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3", "media"))
    return target
