"""Printing a diagnosis: the root cause first and in full, then the rest; or a JSON list."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from .diagnose import Report
from .finding import ERROR, Finding

WIDTH = 100
_MARK = {ERROR: ("bold red", "✗"), "warning": ("yellow", "!")}


def to_json(report: Report) -> str:
    return json.dumps([f.to_dict() for f in report.findings], indent=2, ensure_ascii=False)


def print_human(console: Console, report: Report, where: str) -> None:
    console.width = min(console.width, WIDTH)
    if report.healthy:
        console.print(f"[bold green]✓ healthy[/] {escape(where)}", soft_wrap=True)
        for item in report.checked:
            console.print(f"  [green]✓[/] {escape(item)}")
        for f in report.findings:  # warnings only
            _print(console, f)
        return
    first, rest = report.findings[0], report.findings[1:]
    # cause-unknown is doctor saying it has no cause: the panel must not call it one.
    known = first.id != "cause-unknown"
    heading = "Most likely cause" if known else "Cause unknown"
    console.print(Panel(_body(first), title=f"[bold red]{heading}[/] [dim]{first.id}[/]",
                        title_align="left", border_style="red"))
    if rest:
        console.print(f"[bold]Also found ({len(rest)}), most likely consequences or further causes:[/]" if known
                      else f"[bold]Symptoms found ({len(rest)}):[/]")
        for f in rest:
            _print(console, f)
    errors = sum(f.severity == ERROR for f in report.findings)
    console.print(f"[red]{errors} problem(s)[/], {len(report.findings) - errors} warning(s) in {escape(where)}.",
                  soft_wrap=True)


def _body(f: Finding) -> Text:
    text = Text()
    text.append(f.title + "\n", style="bold")
    for line in f.evidence:
        text.append("  " + line + "\n", style="dim")
    text.append("fix: ", style="bold green")
    text.append(f.fix)
    return text


def _print(console: Console, f: Finding) -> None:
    style, mark = _MARK[f.severity]
    console.print(f"[{style}]{mark}[/] [bold]{escape(f.title)}[/] [dim]{f.id}[/]")
    for line in f.evidence[:4]:
        console.print(Text("    " + line, style="dim"), overflow="ellipsis", no_wrap=True)
    console.print(f"    [green]fix:[/] {escape(f.fix)}")
