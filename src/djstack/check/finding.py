"""What `djstack check` reports, and what it shares with `djstack doctor`'s findings.

Both commands report findings with a stable id, a severity and a fix; `Severe` is that common base,
with the one set of severity constants and their order. A check finding adds where the problem is
written (file, line, column) and why it breaks; a doctor finding adds its evidence and rank.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"
#: Errors before warnings, in every report.
SEVERITY_ORDER = {ERROR: 0, WARNING: 1}


class Severe:
    """The base of check's and doctor's findings: an `id`, a `severity` (ERROR or WARNING), a `fix`."""

    id: str
    severity: str
    fix: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def severity_order(self) -> int:
        return SEVERITY_ORDER[self.severity]


def has_errors(findings) -> bool:
    return any(f.is_error for f in findings)


@dataclass(frozen=True)
class Finding(Severe):
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
