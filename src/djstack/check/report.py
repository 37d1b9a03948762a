"""Printing findings: grouped by severity for people, a JSON list for programs."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from .finding import ERROR, WARNING, Finding

_STYLE = {ERROR: ("bold red", "✗", "Errors"), WARNING: ("yellow", "!", "Warnings")}


def to_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False)


def print_human(console: Console, findings: list[Finding], where: str) -> None:
    for severity in (ERROR, WARNING):
        group = [f for f in findings if f.severity == severity]
        if not group:
            continue
        style, mark, title = _STYLE[severity]
        console.print(f"[{style}]{title} ({len(group)})[/]", soft_wrap=True)
        for f in group:
            console.print(f"[{style}]{mark}[/] [bold]{escape(f.where)}[/] [dim]{f.id}[/]", soft_wrap=True)
            console.print(f"    {escape(f.message)}", soft_wrap=True)
            console.print(f"    [dim]why:[/] {escape(f.why)}", soft_wrap=True)
            console.print(f"    [dim]fix:[/] {escape(f.fix)}", soft_wrap=True)
        console.print()
    errors = sum(f.severity == ERROR for f in findings)
    warnings = len(findings) - errors
    if not findings:
        console.print(f"[green]✓[/] No problems found in {escape(where)}.", soft_wrap=True)
    else:
        colour = "red" if errors else "yellow"
        console.print(f"[{colour}]{errors} error(s), {warnings} warning(s)[/] in {escape(where)}.", soft_wrap=True)
