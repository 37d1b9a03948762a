"""`.env` as Compose reads it: its values, with the line each key is on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...envfile import read_env_file
from ...errors import BadEnvEntry


@dataclass
class DotEnv:
    """KEY=VALUE file as Compose reads it, with the line each key is on."""

    rel: str  # path relative to the checked folder
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    exists: bool = False
    error: tuple[int | None, str] | None = None  # (line, what is there) when the file cannot be read

    @classmethod
    def read(cls, path: Path, rel: str) -> DotEnv:
        env = cls(rel)
        if not path.is_file():
            return env
        env.exists = True
        try:
            read = read_env_file(path)
            env.values, env.lines = read.values, dict(read.lines)
        except BadEnvEntry as exc:  # a line that is not KEY=VALUE: shown as its text
            text = path.read_text(encoding="utf-8", errors="replace")
            env.error = (exc.line, repr(text.splitlines()[exc.line - 1].strip()[:60]) if exc.line else exc.problem)
        except UnicodeDecodeError as exc:
            env.error = (None, str(exc))
        return env

    def origin(self, key: str) -> tuple[str, int | None]:
        return self.rel, self.lines.get(key)
