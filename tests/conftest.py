"""Shared fixtures. Fast tests need no Docker; tests marked e2e drive a real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import copy_example

#: Where fast tests find "the engine": nowhere.
NO_ENGINE = "unix:///nonexistent/djstack-fast-tests/docker.sock"


@pytest.fixture(autouse=True)
def no_engine_for_fast_tests(request, monkeypatch):
    """A fast test cannot reach this machine's engine, whatever it runs and however it goes wrong:
    a person's stacks (the quickstart's `mysite`, a benchmark's) and their data are out of reach.
    e2e tests, which make stacks of their own, keep the real engine."""
    if request.node.get_closest_marker("e2e") is None:
        monkeypatch.delenv("DOCKER_CONTEXT", raising=False)  # it would conflict with DOCKER_HOST
        monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A fresh copy of examples/mysite, in a folder named mysite."""
    return copy_example(tmp_path / "mysite")
