"""A stand-in for the executor: commands are answered from rules and recorded, nothing runs.

    engine = FakeEngine(monkeypatch)
    engine.on("ps", "--all", "--format", "json", stdout=[first, then])  # one answer per call, the last repeats
    engine.on("exec", "-T", "web", "du", stdout="1234\t/srv/media\n")
    ... code under test ...
    assert engine.ran_with("nginx", "-s", "reload")

A rule matches a command whose argv holds its words in a row. Unmatched commands exit 0 with no output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from djstack import docker, execute
from djstack.errors import CommandFailed
from djstack.initialise import run_init
from djstack.model import StackOptions


@pytest.fixture
def stack(example_copy):
    """examples/mysite, initialised with the official images and without background work (import this
    fixture to use it; `with_workers` gives it a worker and beat)."""
    return run_init(example_copy, StackOptions(image_source="official", workers=False), force=False)[0]


def with_workers(stack, beat: str = "file"):
    """`stack` with background work, as a project with a Celery app gets it (a worker, and beat
    unless `beat` is ""), whatever the example holds."""
    from dataclasses import replace

    from djstack.model import WorkerPlan

    # Such a stack has the broker's password among its secrets, in .env as init writes it.
    password = "b" * 40
    env = stack.dir / ".env"
    if env.is_file() and "BROKER_PASSWORD=" not in env.read_text():
        with env.open("a") as handle:
            handle.write(f"BROKER_PASSWORD={password}\n")
    return replace(stack, secrets={**stack.secrets, "BROKER_PASSWORD": password},
                   workers=WorkerPlan(app="mysite", namespace="CELERY_", beat=beat, flower=False,
                                      concurrency=2, task_seconds=300))


def ps_json(*rows: tuple[str, str, str]) -> str:
    """`docker compose ps --format json` of mysite's containers: (service, state, health) each."""
    return "\n".join(json.dumps({"Service": s, "Name": f"mysite-{s}-1", "State": state, "Health": health,
                                 "ExitCode": 1 if state == "exited" else 0}) for s, state, health in rows)


def holds(argv: tuple[str, ...], words: tuple[str, ...]) -> bool:
    n = len(words)
    return any(argv[i:i + n] == words for i in range(len(argv) - n + 1))


@dataclass
class Rule:
    words: tuple[str, ...]
    answers: list  # (code, stdout, stderr), one per call; the last repeats
    calls: int = 0

    def answer(self):
        reply = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return reply() if callable(reply) else reply


@dataclass
class FakeEngine:
    monkeypatch: object
    rules: list[Rule] = field(default_factory=list)
    ran: list[execute.Command] = field(default_factory=list)

    def __post_init__(self):
        mp = self.monkeypatch
        mp.setattr(docker, "require_engine", lambda: "20.10")
        mp.setattr(docker, "require_compose", lambda: "2.20")
        mp.setattr(execute, "run", self.run)
        mp.setattr(execute, "stream", self.stream)
        mp.setattr(execute, "to_sink", self.to_sink)
        mp.setattr(execute, "attached", lambda command: self._reply(command)[0])

    def on(self, *words: str, stdout="", code: int = 0, stderr: str = "") -> Rule:
        """Answer commands holding `words`: stdout (a list: one per call), exit code, stderr."""
        outs = list(stdout) if isinstance(stdout, list) else [stdout]
        rule = Rule(words, [o if callable(o) else (code, o, stderr) for o in outs])
        self.rules.insert(0, rule)  # later rules take precedence
        return rule

    def _reply(self, command: execute.Command):
        self.ran.append(command)
        for rule in self.rules:
            if holds(command.argv, rule.words):
                return rule.answer()
        return 0, "", ""

    def run(self, command: execute.Command, *, check: bool = True) -> execute.Result:
        code, out, err = self._reply(command)
        out = out.decode() if isinstance(out, bytes) else out
        if check and code != 0:
            raise CommandFailed(command.argv, code, err)
        return execute.Result(command.argv, code, out, err)

    def stream(self, command, on_line, log, *, append=False) -> int:
        code, out, _ = self._reply(command)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a" if append else "w") as sink:
            for line in out.splitlines(keepends=True):
                sink.write(line)
                on_line(line)
        return code

    def to_sink(self, command, sink, on_bytes=None) -> None:
        code, out, err = self._reply(command)
        data = out if isinstance(out, bytes) else out.encode()
        sink.write(data)
        if on_bytes:
            on_bytes(len(data))
        if code != 0:
            raise CommandFailed(command.argv, code, err)

    def ran_with(self, *words: str) -> list[execute.Command]:
        return [c for c in self.ran if holds(c.argv, words)]
