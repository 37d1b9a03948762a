"""`.env` as Compose reads it: its values, with the line each key is on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...envfile import read_env
from ...errors import BadEnvEntry, DjstackError


@dataclass
class DotEnv:
    """KEY=VALUE file as Compose reads it, with the line each key is on."""

    rel: str  # path relative to the checked folder
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    exists: bool = False
    error: tuple[int | None, str] | None = None  # (line, message) when the file cannot be read

    @classmethod
    def read(cls, path: Path, rel: str) -> DotEnv:
        env = cls(rel)
        if not path.is_file():
            return env
        env.exists = True
        try:
            env.values = read_env(path)
        except BadEnvEntry as exc:
            env.error = (exc.line, exc.problem)
        except (DjstackError, UnicodeDecodeError) as exc:
            message = getattr(exc, "message", str(exc))
            line = _error_line(message, path)
            env.error = (line, message.rsplit(": ", 1)[-1] if line else message)
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, raw in enumerate(text.splitlines(), start=1):
            key = raw.split("=", 1)[0].strip().removeprefix("export ").strip()
            if "=" in raw and not raw.lstrip().startswith("#") and key in env.values:
                env.lines[key] = number
        return env

    def origin(self, key: str) -> tuple[str, int | None]:
        return self.rel, self.lines.get(key)


def _error_line(message: str, path: Path) -> int | None:
    """read_env says `PATH:LINE: what`; take LINE. (Only while envfile raises a plain DjstackError
    for a bad line: a BadEnvEntry carries its line.)"""
    head = message.removeprefix(f"{path}:").split(":", 1)[0]
    return int(head) if head.isdigit() else None
