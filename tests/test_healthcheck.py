"""The generated wait_for_db.py, run for real against loopback sockets, and how a container's
healthcheck becomes a command for `docker exec`."""

from __future__ import annotations

import runpy
import socket
import time

import pytest

from djstack import render
from djstack.compose import healthcheck_command
from helpers import free_port
from test_render import golden_stack


def test_healthcheck_forms_become_exec_commands():
    assert healthcheck_command({"Test": ["CMD", "python", "/app/check.py"]}) == ["python", "/app/check.py"]
    assert healthcheck_command({"Test": ["CMD-SHELL", "redis-cli ping | grep -q PONG"]}) == [
        "sh", "-c", "redis-cli ping | grep -q PONG"]
    assert healthcheck_command({"Test": ["NONE"]}) is None
    assert healthcheck_command(None) is None


def load_wait(example_copy):
    outputs = {o.path: o.content for o in render.render(golden_stack(example_copy, "official"))}
    script = example_copy / "wait_for_db.py"
    script.write_text(outputs["compose/web/wait_for_db.py"])
    return runpy.run_path(str(script))


def test_wait_for_db_returns_once_the_port_accepts(example_copy):
    module = load_wait(example_copy)
    assert module["ADDRESS"] == ("db", 3306) and module["LIMIT"] == 180  # the model's values
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        module["wait"](server.getsockname(), 5)


def test_wait_for_db_gives_up_with_a_message(example_copy, capsys):
    module = load_wait(example_copy)
    closed = ("127.0.0.1", free_port())  # nothing listens there once the socket is closed
    started = time.monotonic()
    with pytest.raises(SystemExit) as exc:
        module["wait"](closed, 1)
    assert 1 <= time.monotonic() - started < 10
    assert "still refuses connections after 1 s" in str(exc.value.code)
    assert "waiting for 127.0.0.1" in capsys.readouterr().out
