"""Reading `.env` files and making secrets.

`.env` is both Compose's variable file and djstack's record of a stack's choices, so it keeps the
plain KEY=VALUE form Compose reads. Generated secrets use only letters, digits, '-' and '_', so they
need no quoting in `.env`, in URLs or in SQL, and Compose never sees a `$` to interpolate.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from .errors import BadEnvEntry
from .files import atomic_write

SECRET_ALPHABET = string.ascii_letters + string.digits + "-_"
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def new_secret(length: int = 40) -> str:
    # Starts with a letter or digit: a leading '-' would read as an option on a command line.
    first = secrets.choice(string.ascii_letters + string.digits)
    return first + "".join(secrets.choice(SECRET_ALPHABET) for _ in range(length - 1))


@dataclass(frozen=True)
class EnvFile:
    """A `.env` as read: its values, and the line each key is set on (its last, as Compose takes)."""

    path: Path
    values: dict[str, str]
    lines: dict[str, int]  # 1-based


def read_env_file(path: Path) -> EnvFile:
    """KEY=VALUE lines; comments and blank lines skipped; surrounding quotes removed. A line that is
    not KEY=VALUE raises a BadEnvEntry (no key) with its line."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise BadEnvEntry(None, f"not a KEY=VALUE line: {line.strip()[:60]!r}",
                              "Fix or remove the line (Compose reads this file too).", path=path, line=number)
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
        lines[key] = number
    return EnvFile(path, values, lines)


def read_env(path: Path) -> dict[str, str]:
    """The values of read_env_file(path); none when there is no such file."""
    return read_env_file(path).values


def set_value(path: Path, key: str, value: str) -> None:
    """Set KEY=value in an existing `.env`, in place of its line (appended when absent), atomically
    and keeping the file's mode: the one change djstack makes to `.env` outside `init`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        match = _LINE.match(line)
        if match and match.group(1) == key:
            lines[number] = f"{key}={value}"
            break
    else:
        lines.append(f"{key}={value}")
    atomic_write(path, "\n".join(lines) + "\n", path.stat().st_mode & 0o777)
