"""`djstack doctor`: the tutorial's troubleshooting step, automated, on the live stack.

gather facts (containers, logs, probes) → match known signatures → rank causes before symptoms →
render. `run_doctor(folder)` returns a `Report` whose first finding is the most likely root cause.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..compose import Compose
from ..detect import detect
from ..errors import DjstackError, EngineUnreachable
from ..initialise import load_initialised
from ..model import STACK_FILES
from .diagnose import (Report, check_findings, diagnose, diagnose_ungathered, engine_unreachable, env_file_missing,
                       not_running)
from .backups import stale_backup
from .certificates import expiry
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
    if replay is None:
        # Without .env there is no model to load (it holds the secrets and choices), yet the stack
        # exists: that is the diagnosis, not "no stack here".
        stack_dir = _stack_dir(folder)
        env = stack_dir / STACK_FILES.env
        if (stack_dir / STACK_FILES.compose).is_file() and not (env.is_file() and os.access(env, os.R_OK)):
            # Nothing can be gathered: the evidence is that one finding (a replay gives it back).
            facts = Facts({}, {}, [], {}, [env_file_missing(env)])
            _save(facts, evidence)
            return diagnose_ungathered(facts)
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
    facts = gather(stack, compose, containers, check_findings(folder) + stale_backup(stack) + expiry(stack))
    _save(facts, evidence)
    return diagnose(stack, facts)


def _save(facts: Facts, evidence: Path | None) -> None:
    if evidence is not None:
        evidence.write_text(facts.to_json() + "\n", encoding="utf-8")


def _stack_dir(folder: Path) -> Path:
    project = detect(folder)
    return project.root / project.stack_dir


def read_evidence(path: Path) -> Facts:
    try:
        return Facts.from_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BadEvidence(path, exc) from exc
