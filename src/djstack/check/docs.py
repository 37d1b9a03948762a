"""The rules reference, generated from the rule table: `python -m djstack.check.docs > docs/rules.md`.

`explanation(rule)` is one rule's entry as `djstack check --explain ID` prints it; `reference()` is
every rule's, as Markdown, grouped by category. tests/test_rules_registry.py checks that the
committed docs/rules.md is this module's output.
"""

from __future__ import annotations

import textwrap

from . import rules  # noqa: F401  (importing the rules registers them)
from .registry import CATEGORIES, RULES, Rule, selected

_TITLES = {
    "compose": "The compose file", "env": "`.env`", "settings": "Django settings", "nginx": "nginx",
    "uwsgi": "uWSGI", "mysql": "MySQL", "redis": "Redis", "workers": "Background work: Celery and its broker", "web": "The web image and its start script",
    "tls": "HTTPS certificates", "paste": "Pasted characters",
}


def explanation(rule: Rule) -> str:
    """One rule's documentation, for a terminal."""
    wrap = lambda label, text: textwrap.fill(text, 100, initial_indent=f"{label:<9}", subsequent_indent=" " * 9)  # noqa: E731
    lines = [f"{rule.id} ({rule.severity}; category {rule.category}; reads {', '.join(rule.reads)})",
             wrap("finds:", rule.doc.finds), wrap("why:", rule.doc.breaks), wrap("fix:", rule.doc.fix),
             "example:", textwrap.indent(rule.doc.example, " " * 9)]
    return "\n".join(lines)


def reference() -> str:
    """Every rule's documentation, as Markdown."""
    out = [
        "# `djstack check` rules",
        "",
        "Generated from the rule table (`src/djstack/check/registry.py`, rules in `src/djstack/check/rules/`) by",
        "`python -m djstack.check.docs > docs/rules.md`: do not edit by hand. `djstack check --explain ID`",
        "prints one rule's entry.",
        "",
        f"{len(RULES)} rules; an error makes `djstack check` exit 1, warnings alone exit 0. One more id",
        "is not a rule: `check-internal-error` (a warning) says a rule failed on input it did not foresee;",
        "the other rules still ran. Report it with the file the rule reads.",
        "",
        "| rule | severity | category |",
        "|---|---|---|",
    ]
    ordered = [r for category in CATEGORIES for r in selected(categories=[category])]
    out += [f"| [`{r.id}`](#{r.id}) | {r.severity} | {r.category} |" for r in ordered]
    for category in CATEGORIES:
        out += ["", f"## {_TITLES[category]}"]
        for r in selected(categories=[category]):
            out += [
                "", f"### {r.id}", "",
                f"{r.severity.capitalize()}. Reads: {', '.join(r.reads)}.", "",
                f"**Finds:** {r.doc.finds}", "",
                f"**Why it breaks:** {r.doc.breaks}", "",
                f"**Fix:** {r.doc.fix}", "",
                "**Example of the defect:**", "", "```", r.doc.example, "```",
            ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
