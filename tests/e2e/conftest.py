"""End-to-end fixtures: real stacks in a real Docker engine, reached over HTTP on 127.0.0.1."""

from __future__ import annotations

import pytest

from stacks import LiveStack, new_https_stack, new_stack, remove, running_stack


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory) -> LiveStack:
    """examples/mysite, up once for the whole session and shared: tests must leave it healthy."""
    with running_stack(tmp_path_factory.mktemp("e2e")) as stack:
        yield stack


@pytest.fixture
def stack_factory(tmp_path_factory):
    """Makes stacks of one's own (for tests that break or destroy things); all removed afterwards.

    stack_factory(*init_args, up=True) -> LiveStack
    """
    made: list[LiveStack] = []

    def make(*init_args: str, up: bool = True) -> LiveStack:
        stack = new_stack(tmp_path_factory.mktemp("e2e-own"), *init_args)
        made.append(stack)
        if up:
            stack.djstack("up", str(stack.root))
        return stack

    yield make
    for stack in made:
        remove(stack)


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory) -> LiveStack:
    """A stack of the test module's own, up for all its tests and removed afterwards: for modules
    whose tests kill, restart, wipe or restore it, which the shared live_stack must never see."""
    with running_stack(tmp_path_factory.mktemp("e2e-module")) as stack:
        yield stack


@pytest.fixture(scope="session")
def https_stack(tmp_path_factory) -> LiveStack:
    """examples/mysite in HTTPS mode (stacks.DOMAINS, a self-signed certificate), up once for the
    session and shared by every module that reads it (TLS, headers, confinement): tests must leave
    it as they found it."""
    stack = new_https_stack(tmp_path_factory.mktemp("e2e-https"), "--tls", "self-signed")
    try:
        stack.djstack("up", str(stack.root))
        yield stack
    finally:
        remove(stack)
