"""`djstack check`: static troubleshooting of a stack's files, no Docker engine needed.

`run_check(folder)` reads the files as a person may have edited them, cross-checks them against
each other and the model, and returns the findings (errors first). `djstack doctor` and the CLI
call it; `RULES` lists every rule by id.
"""

from __future__ import annotations

from pathlib import Path

# Each module registers its rules on import.
from . import compose, env, mysql, nginx, paste, redis, settings, tls, uwsgi, web  # noqa: F401
from .context import Context
from .finding import ERROR, RULES, WARNING, Finding, Hit, findings_of

__all__ = ["ERROR", "WARNING", "RULES", "Finding", "run_check", "has_errors"]

_ORDER = {ERROR: 0, WARNING: 1}


def run_check(folder: Path | str, *, strict: bool = False) -> list[Finding]:
    """Every finding for the stack in `folder`. Raises DjstackError when it is not a project, or has
    no stack yet. A rule that fails on input it did not foresee becomes a warning naming it, unless
    `strict` (tests), where it raises."""
    ctx = Context(Path(folder))
    found: list[Finding] = []
    rules = list(RULES.values())
    if ctx.compose is None or ctx.service(ctx.stack.services.web) is None:
        # Without the compose file (or its web service) nothing says which files the containers
        # use, nor which settings web runs: report only that, .env's own problems, and the
        # pasted characters in the files that were read.
        rules = [r for r in rules if r.id.startswith(("compose-", "env-", "paste-"))]
    for rule_obj in rules:
        try:
            found += findings_of(rule_obj, rule_obj.func(ctx))
        except Exception as exc:  # a bug in one rule must not hide the others' findings
            if strict:
                raise
            found.append(Finding("check-internal-error", WARNING, ctx.compose_rel, None,
                                 f"rule {rule_obj.id} failed: {type(exc).__name__}: {exc}"[:90],
                                 "the rule could not check this stack; the others did.",
                                 "Report it to djstack with the file the rule reads."))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda f: (_ORDER[f.severity], f.file, f.line or 0, f.column or 0, f.id))


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
