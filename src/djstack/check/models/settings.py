"""The Django settings web runs, as the shared evaluator (detect/evaluate.py) reads them against
web's environment: values with the `.env` or settings line to fix each at, and the modules Python
cannot parse as they are (they are read with their pasted characters fixed, see paste.py)."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import urlsplit

from ...detect.evaluate import DJANGO_DEFAULTS, UNKNOWN, EnvList, EnvRead, EnvStr, Environment, Evaluator
from .paste import BOM_CHAR, cleaned

__all__ = ["UNKNOWN", "EnvStr", "Settings", "SettingsError", "evaluator"]


class SettingsError(Exception):
    def __init__(self, file: Path, line: int | None, message: str):
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


class PastedPython:
    """Parses settings modules as Python would run them once their pasted characters are fixed; a
    module Python cannot parse as it is goes into `errors`, and gives None when even the fixed text
    cannot be parsed."""

    def __init__(self):
        self.errors: list[SettingsError] = []

    def __call__(self, path: Path) -> ast.Module | None:
        try:
            text = path.read_text(encoding="utf-8").removeprefix(BOM_CHAR)  # Python skips a BOM
        except UnicodeDecodeError:
            self.errors.append(SettingsError(path, None, "not UTF-8 text"))
            return None
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            self.errors.append(SettingsError(path, exc.lineno, exc.msg))
            tree = None
        try:
            return ast.parse(cleaned(text, "python"), filename=str(path))
        except SyntaxError:
            return tree


def evaluator(app_dir: Path, env: dict, container_path) -> tuple[Evaluator, PastedPython]:
    """The evaluator of web's settings: `env` is web's environment (name -> compose Value),
    `container_path` gives a host file's path in web's container (the value of __file__ there)."""
    parser = PastedPython()
    return Evaluator(app_dir, Environment.of_container(env), file_path=container_path, parse=parser), parser


class Settings:
    """The settings module web runs, evaluated."""

    def __init__(self, reader: Evaluator, path: Path, rel_of):
        self.path = path
        self.rel_of = rel_of
        self.module = reader.load(path)
        self.reads: list[EnvRead] = reader.reads

    @property
    def rel(self) -> str:
        return self.rel_of(self.path)

    def value(self, name: str, *keys):
        default = UNKNOWN if self.module.opaque else DJANGO_DEFAULTS.get(name, UNKNOWN)
        value = self.module.values.get(name, default)
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return UNKNOWN
            value = value[key]
        return value

    def where(self, name: str, *keys) -> tuple[str, int | None]:
        """Where to fix a value: the .env line it came from, else the settings line that sets it."""
        value = self.value(name, *keys)
        if isinstance(value, (EnvStr, EnvList)) and value.origin[1] is not None:
            return value.origin
        return self.written(name, *keys)

    def written(self, name: str, *keys) -> tuple[str, int | None]:
        writes = self.module.writes.get(name, [])
        best = next((w for w in reversed(writes) if tuple(keys[: len(w.keys)]) == w.keys), None)
        if best is None:
            return self.rel, None
        line, node = best.line, best.node
        for key in keys[len(best.keys) :]:
            if not isinstance(node, ast.Dict):
                break
            match = next((v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and k.value == key), None)
            if match is None:
                break
            node, line = match, match.lineno
        return self.rel_of(best.file), line

    def database(self) -> dict | None:
        """DATABASES["default"], when it is known."""
        db = self.value("DATABASES", "default")
        return db if isinstance(db, dict) else None

    def redis_cache(self):
        """(URL parts, where) of the default cache, when it is Redis at a URL; else (None, None)."""
        cache = self.value("CACHES", "default")
        if not isinstance(cache, dict) or "redis" not in str(cache.get("BACKEND", "")).lower():
            return None, None
        location = cache.get("LOCATION")
        location = location[0] if isinstance(location, (list, tuple)) and location else location
        if not isinstance(location, str) or "://" not in location:
            return None, None
        try:
            parts = urlsplit(location)
            parts.port
        except ValueError:
            return None, None
        return parts, self.where("CACHES", "default", "LOCATION")
