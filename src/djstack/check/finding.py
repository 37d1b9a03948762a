"""What a check reports, and the registry of rules that report it.

A rule is a small function taking the `Context` (the stack's files as read) and yielding `Hit`s; its
id and severity are fixed when it is registered, so an id always means the same problem. Its
docstring says why the problem breaks the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    id: str  # stable kebab-case name of the problem
    severity: str  # ERROR or WARNING
    file: str  # relative to the folder holding the compose file (the project root for djstack)
    line: int | None  # 1-based; None when the problem is a missing line
    message: str  # what is wrong
    why: str  # why it breaks
    fix: str  # what to do
    column: int | None = None  # 1-based, in characters; set when the problem is one character

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def where(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}" if self.column is None else f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Hit:
    """A rule's report before the registry adds its id and severity."""

    file: str
    line: int | None
    message: str
    why: str
    fix: str
    column: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    func: Callable[..., Iterable[Hit]]

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: str):
    """Register a rule under a stable id."""

    def register(func):
        if rule_id in RULES:
            raise ValueError(f"rule id {rule_id} registered twice")
        RULES[rule_id] = Rule(rule_id, severity, func)
        return func

    return register


def per_kind(rule_id: str, severity: str, doc: str, check) -> None:
    """Register the same check twice, for the static and the media files: `rule_id` and `doc` take
    {kind} (static, media) and {KIND} (STATIC, MEDIA)."""
    for kind in ("static", "media"):

        def run(ctx, kind=kind):
            yield from check(ctx, kind)

        run.__doc__ = doc.format(kind=kind, KIND=kind.upper())
        rule(rule_id.format(kind=kind), severity)(run)


def findings_of(rule_obj: Rule, hits: Iterable[Hit]) -> list[Finding]:
    return [Finding(rule_obj.id, rule_obj.severity, h.file, h.line, h.message, h.why, h.fix, h.column) for h in hits]
