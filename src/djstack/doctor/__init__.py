"""`djstack doctor`: the tutorial's troubleshooting step, automated, on the live stack.

gather facts (containers, logs, probes) → match known signatures → rank causes before symptoms →
render. `run_doctor(folder)` returns a `Report` whose first finding is the most likely root cause.
"""

from __future__ import annotations

from pathlib import Path

from ..compose import Compose
from ..errors import DjstackError, EngineUnreachable
from ..initialise import load_initialised
from .diagnose import Report, check_findings, diagnose, engine_unreachable, not_running
from .facts import Facts, gather, inspect_containers
from .finding import ERROR, WARNING, Finding
from .signatures import SIGNATURES, Signature

__all__ = ["ERROR", "WARNING", "Finding", "Report", "SIGNATURES", "Signature", "run_doctor"]


class BadEvidence(DjstackError):
    """An evidence file (`doctor --replay`) that cannot be read as one."""

    def __init__(self, path: Path, cause: Exception):
        super().__init__(f"{path}: not a djstack doctor evidence file ({type(cause).__name__}: {cause}).",
                         "Give a file written by `djstack doctor --save-evidence FILE`.")
        self.path = path


def run_doctor(folder: Path, evidence: Path | None = None, replay: Path | None = None) -> Report:
    """Diagnose the stack in `folder`. Raises DjstackError only for bad input (no stack there, an
    unreadable evidence file). `evidence`: where to save what was gathered (JSON); `replay`: diagnose
    evidence saved earlier instead of the live stack."""
    stack = load_initialised(folder)
    if replay is not None:
        return diagnose(stack, read_evidence(replay))
    # No engine answering is a diagnosis; a missing docker or Compose v2 (EngineMissing) goes to the
    # CLI with its install hint.
    try:
        compose = Compose(stack.dir)
    except EngineUnreachable as exc:
        return engine_unreachable(exc.reason, exc.fix)
    containers = inspect_containers(compose)
    if not any(c.up for c in containers.values()):
        return not_running(folder, containers)
    facts = gather(stack, compose, containers, check_findings(folder))
    if evidence is not None:
        evidence.write_text(facts.to_json() + "\n", encoding="utf-8")
    return diagnose(stack, facts)


def read_evidence(path: Path) -> Facts:
    try:
        return Facts.from_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BadEvidence(path, exc) from exc
