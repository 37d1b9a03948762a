"""`djstack doctor`: the tutorial's troubleshooting step, automated, on the live stack.

gather facts (containers, logs, probes) → match known signatures → rank causes before symptoms →
render. `run_doctor(folder)` returns a `Report` whose first finding is the most likely root cause.
"""

from __future__ import annotations

from pathlib import Path

from ..compose import Compose
from ..errors import EngineUnreachable
from ..initialise import load_initialised
from .diagnose import Report, diagnose, engine_unreachable, not_running
from .facts import gather, inspect_containers
from .finding import ERROR, WARNING, Finding
from .signatures import SIGNATURES, Signature

__all__ = ["ERROR", "WARNING", "Finding", "Report", "SIGNATURES", "Signature", "run_doctor"]


def run_doctor(folder: Path) -> Report:
    """Diagnose the stack in `folder`. Raises DjstackError only for bad input (no stack there)."""
    stack = load_initialised(folder)
    # No engine answering is a diagnosis; a missing docker or Compose v2 (EngineMissing) goes to the
    # CLI with its install hint.
    try:
        compose = Compose(stack.dir)
    except EngineUnreachable as exc:
        return engine_unreachable(exc.reason, exc.fix)
    containers = inspect_containers(compose)
    if not any(c.up for c in containers.values()):
        return not_running(folder, containers)
    return diagnose(stack, gather(stack, compose, containers), folder)
