"""What `djstack doctor` reports: a finding names a problem, shows the evidence and says what to do.

`rank` orders causes before their symptoms: a lower rank is a deeper layer of the stack (the engine,
then memory and config files, then db and redis, then the app, then nginx, then single requests).
A problem low in the stack explains the symptoms above it (db down → web unhealthy → nginx 502), so
the finding with the lowest rank is reported first, as the most likely root cause. A symptom (a crash
loop, a failing healthcheck, a 502) is never that first finding: when no cause is known, diagnose
puts `cause-unknown` before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# One set of severities for check and doctor: a doctor finding is a check finding's kin (Severe).
from ..check.finding import ERROR, WARNING, Finding as CheckFinding, Severe

__all__ = ["ERROR", "WARNING", "Finding", "merge", "rank"]

# Ranks of the layers, deepest first.
ENGINE = 0
MEMORY = 10
CONFIG = 12
BACKING = 20  # db and redis containers
CREDENTIALS = 25  # the app's passwords, hosts and ports for db and redis
SCHEMA = 30  # the app's code and its database schema
APP = 35  # the web container
FRONT = 45  # the nginx container
UPSTREAM = 50  # what nginx saw talking to web
FILES = 55  # static and media volumes
SITE = 60  # what a client of the site sees
REQUEST = 70  # single requests refused by Django

#: Findings that say what goes wrong, not why: they follow from a cause, never stand for one.
SYMPTOMS = re.compile(r"\w+-(crash-loop|unhealthy|starting)|site-error|site-unreachable|nginx-upstream-refused"
                      r"|nginx-cannot-reach-web|db-probe-failed|cache-probe-failed|workers-no-reply")


@dataclass
class Finding(Severe):
    id: str  # stable kebab-case name of the problem
    severity: str  # ERROR or WARNING
    title: str  # one line: what is wrong
    fix: str  # a concrete command, or the file (and line) to change
    rank: int
    service: str = ""
    evidence: list[str] = field(default_factory=list)  # log lines, probe results: a few lines
    # What goes wrong rather than why (SYMPTOMS, or set by its maker: a container that crashed).
    symptom: bool = False

    def __post_init__(self):
        self.symptom = self.symptom or bool(SYMPTOMS.fullmatch(self.id))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "service": self.service,
            "evidence": self.evidence,
            "fix": self.fix,
        }

    @classmethod
    def from_check(cls, found: CheckFinding, rank: int) -> Finding:
        """A `djstack check` finding as doctor reports it: the fix names the place to change, the
        evidence says why it breaks."""
        return cls(found.id, found.severity, found.message, f"{found.fix} ({found.where})", rank, "",
                   [f"djstack check: {found.where}: {found.why}"])


MAX_EVIDENCE = 8


def merge(findings: list[Finding]) -> list[Finding]:
    """One finding per id: evidence from every source that saw it, the deepest rank of them."""
    merged: dict[str, Finding] = {}
    for f in findings:
        seen = merged.get(f.id)
        if seen is None:
            merged[f.id] = Finding(f.id, f.severity, f.title, f.fix, f.rank, f.service, list(f.evidence),
                                   f.symptom)
            continue
        seen.rank = min(seen.rank, f.rank)
        seen.evidence += [line for line in f.evidence if line not in seen.evidence]
    for f in merged.values():
        f.evidence = f.evidence[:MAX_EVIDENCE]
    return list(merged.values())


def rank(findings: list[Finding]) -> list[Finding]:
    """Merged, errors before warnings, deepest first; ties keep the order they were found in. The
    first is a cause whenever one is known: a deeper symptom (web crash-looping) gives way to the
    cause that explains it (a view's exception ranks higher but is why web's runs end)."""
    ordered = sorted(merge(findings), key=lambda f: (f.severity_order, f.rank))
    cause = next((f for f in ordered if f.is_error and not f.symptom), None)
    if ordered and ordered[0].symptom and cause is not None:
        ordered.remove(cause)
        ordered.insert(0, cause)
    return ordered
