"""Every command djstack runs, as data: functions that return a `Command` and run nothing.

One module per area: `docker` (the engine: images, containers), `compose` (a stack's project),
`db` (mysqldump, mysql and the media tar streams of backup and restore, dbshell), `web` (what runs
in web and nginx: smoke and doctor probes, migrations, nginx reloads), `host` (git, openssl, the
root filesystem's tools). `execute` runs what they return; tests compare them as data.
"""

from __future__ import annotations

from importlib import resources

from ..execute import Command

__all__ = ["Command", "in_container_script", "shell"]


def in_container_script(name: str) -> str:
    """The text of one of the scripts in djstack/incontainer/, without its leading comment lines."""
    text = resources.files("djstack").joinpath("incontainer", name).read_text(encoding="utf-8")
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "\n".join(lines) + "\n"


def shell(name: str, *args: str) -> tuple[str, ...]:
    """argv running an in-container script: `sh -c TEXT sh ARGS` (`bash` for a .bash file), so the
    values arrive as $1, $2… and stdin stays free for data."""
    interpreter = "bash" if name.endswith(".bash") else "sh"
    return (interpreter, "-c", in_container_script(name), interpreter, *args)
