"""The table of rules: every rule's id, severity, category, the file models it reads, and its
documentation (what it finds, why that breaks the stack, the fix, an example of the defect).

A rule is a small function taking the `Context` (the stack's files as read) and yielding `Hit`s; its
id and severity are fixed when it is registered, so an id always means the same problem. The table
is what `run_check` runs, what `djstack check --explain ID` prints and what docs/rules.md is
generated from (`python -m djstack.check.docs`).
"""

from __future__ import annotations

import difflib
import inspect
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import DjstackError
from .finding import Finding, Hit

#: The file models a rule may declare it reads (check/models/, read through the Context).
MODELS = ("compose", "env", "settings", "nginx", "uwsgi", "mysql", "redis", "broker", "runtime", "files", "tls")
#: Rule categories, in the order the rules reference lists them.
CATEGORIES = ("compose", "env", "settings", "nginx", "uwsgi", "mysql", "redis", "workers", "web", "tls", "paste")


@dataclass(frozen=True)
class Doc:
    finds: str  # what the rule finds
    breaks: str  # why that breaks the stack
    fix: str  # what to do about it
    example: str  # the defect as it is written in a file

    def fields(self) -> dict[str, str]:
        return {"finds": self.finds, "breaks": self.breaks, "fix": self.fix, "example": self.example}

    @classmethod
    def parse(cls, text: str) -> Doc:
        """A rule's docstring: `Finds:`, `Breaks:`, `Fix:` paragraphs, then `Example:` and the
        defect's lines, indented below it."""
        sections: dict[str, list[str]] = {}
        current = None
        for line in inspect.cleandoc(text).splitlines():
            label, sep, rest = line.partition(":")
            if sep and label in _SECTIONS and not line.startswith(" "):
                current = sections.setdefault(_SECTIONS[label], [])
                if rest.strip():
                    current.append(rest.strip())
            elif current is not None:
                current.append(line)
        missing = [name for name in _SECTIONS.values() if not "".join(sections.get(name, [])).strip()]
        if missing:
            raise ValueError(f"the docstring has no {', '.join(missing)}")
        prose = {k: " ".join(" ".join(v).split()) for k, v in sections.items() if k != "example"}
        return cls(**prose, example=textwrap.dedent("\n".join(sections["example"])).strip("\n"))


_SECTIONS = {"Finds": "finds", "Breaks": "breaks", "Fix": "fix", "Example": "example"}


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    category: str
    reads: tuple[str, ...]  # the models it reads (MODELS)
    doc: Doc
    func: Callable[..., Iterable[Hit]]

    def findings(self, ctx) -> list[Finding]:
        return [Finding(self.id, self.severity, h.file, h.line, h.message, h.why, h.fix, h.column)
                for h in self.func(ctx)]


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: str, category: str, reads: tuple[str, ...]):
    """Register a rule under a stable id; its docstring is its documentation (Doc.parse)."""

    def register(func):
        add(Rule(rule_id, severity, category, reads, _doc_of(rule_id, func.__doc__ or ""), func))
        return func

    return register


def _doc_of(rule_id: str, text: str) -> Doc:
    try:
        return Doc.parse(text)
    except ValueError as exc:
        raise ValueError(f"rule {rule_id}: {exc}") from None


def add(entry: Rule) -> None:
    if entry.id in RULES:
        raise ValueError(f"rule id {entry.id} registered twice")
    unknown = set(entry.reads) - set(MODELS)
    if entry.category not in CATEGORIES or unknown:
        raise ValueError(f"rule {entry.id}: unknown category {entry.category!r} or models {sorted(unknown)}")
    RULES[entry.id] = entry


def per_kind(rule_id: str, severity: str, category: str, reads: tuple[str, ...], check, doc: str) -> None:
    """Register the same check twice, for the static and the media files: `rule_id` and `doc` take
    {kind} (static, media) and {KIND} (STATIC, MEDIA)."""
    for kind in ("static", "media"):

        def run(ctx, kind=kind):
            yield from check(ctx, kind)

        run.__doc__ = doc.format(kind=kind, KIND=kind.upper())
        rule(rule_id.format(kind=kind), severity, category, reads)(run)


def selected(*, categories: Iterable[str] | None = None) -> list[Rule]:
    """The rules to run, in registration order: all of them, or those of the given categories."""
    wanted = set(CATEGORIES if categories is None else categories)
    return [r for r in RULES.values() if r.category in wanted]


class UnknownRule(DjstackError):
    """`--explain` was given an id no rule has; `close` holds the ids that look like it."""

    def __init__(self, rule_id: str):
        self.rule_id = rule_id
        self.close = difflib.get_close_matches(rule_id, list(RULES), n=5, cutoff=0.5)
        hint = f"Did you mean {', '.join(self.close)}? " if self.close else ""
        super().__init__(f"No check rule has the id {rule_id!r}.",
                         f"{hint}Every rule is listed in docs/rules.md (`djstack check --json` shows ids too).")


def explain(rule_id: str) -> Rule:
    """The rule with this id; UnknownRule, naming the close matches, when there is none."""
    if rule_id not in RULES:
        raise UnknownRule(rule_id)
    return RULES[rule_id]
