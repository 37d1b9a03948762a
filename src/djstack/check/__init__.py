"""`djstack check`: static troubleshooting of a stack's files, no Docker engine needed.

`run_check(folder)` reads the files as a person may have edited them (check/models/, found through
check/context.py), runs the rules (check/rules/, listed with their documentation in the table of
check/registry.py) and returns the findings (errors first). `djstack doctor` and the CLI call it.
"""

from __future__ import annotations

from pathlib import Path

from . import rules  # noqa: F401  (importing the rules registers them)
from .context import Context
from .finding import ERROR, WARNING, Finding, has_errors
from .registry import RULES, selected

__all__ = ["ERROR", "WARNING", "RULES", "Finding", "run_check", "has_errors"]

#: Without the compose file (or its web service) nothing says which files the containers use, nor
#: which settings web runs: only these categories are checked then (.env's and the compose file's
#: own problems, and the pasted characters in the files that were read).
WITHOUT_SERVICES = ("compose", "env", "paste")


def run_check(folder: Path | str, *, strict: bool = False) -> list[Finding]:
    """Every finding for the stack in `folder`. Raises DjstackError when it is not a project, or has
    no stack yet. A rule that fails on input it did not foresee becomes a warning naming it, unless
    `strict` (tests), where it raises."""
    ctx = Context(Path(folder))
    found: list[Finding] = []
    services_known = ctx.compose is not None and ctx.service(ctx.stack.services.web) is not None
    for rule in selected(categories=None if services_known else WITHOUT_SERVICES):
        try:
            found += rule.findings(ctx)
        except Exception as exc:  # a bug in one rule must not hide the others' findings
            if strict:
                raise
            found.append(Finding("check-internal-error", WARNING, ctx.compose_rel, None,
                                 f"rule {rule.id} failed: {type(exc).__name__}: {exc}"[:90],
                                 "the rule could not check this stack; the others did.",
                                 "Report it to djstack with the file the rule reads."))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda f: (f.severity_order, f.file, f.line or 0, f.column or 0, f.id))
