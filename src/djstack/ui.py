"""Terminal output: one console, and a spinner with elapsed time for long steps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def say(message: str) -> None:
    console.print(message, soft_wrap=True)


def ok(message: str) -> None:
    # One unbroken line: a scheduler's log or mail keeps paths whole.
    console.print(f"[green]✓[/] {message}", soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]![/] {message}")


def error(message: str, fix: str | None = None) -> None:
    # soft_wrap: long paths and commands stay whole when copied from a log or a narrow terminal.
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if fix:
        err_console.print(f"[bold]fix:[/] {escape(fix)}", soft_wrap=True)


class Step:
    """A long step: a spinner showing its latest line of progress, then a tick with the time taken."""

    def __init__(self, title: str, status):
        self.title = title
        self._status = status

    def update(self, line: str) -> None:
        line = line.strip()
        if line:
            self._status.update(f"{escape(self.title)} [dim]{escape(line[-90:])}[/]")


@contextmanager
def step(title: str) -> Iterator[Step]:
    started = time.monotonic()
    with console.status(escape(title)) as status:
        progress = Step(title, status)
        try:
            yield progress
        except BaseException:
            console.print(f"[red]✗[/] {escape(title)} [dim]({time.monotonic() - started:.0f} s)[/]")
            raise
    console.print(f"[green]✓[/] {escape(title)} [dim]({time.monotonic() - started:.0f} s)[/]")
