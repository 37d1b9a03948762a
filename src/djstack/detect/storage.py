"""Whether the project chooses its own storage for static files (read statically, never imported).

The settings overlay switches static files to Django's manifest storage (hashed names, which nginx
lets browsers keep for a year) only when the project has not chosen a storage itself: whitenoise's
CompressedManifestStaticFilesStorage, an S3 backend or a storage of its own must stay what it is.

Doubt counts as "the project's own": overriding a storage the project chose (dropping its S3
uploads or whitenoise's compression) breaks the site, while leaving plain names only costs cache time.
So a STORAGES the reader cannot see into (a call, an import from outside the project, a `**spread` of
an unknown value) counts as choosing one, and so does any branch of an if that sets one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .pysource import included_files, parse, resolve_import

#: The settings before STORAGES (Django < 5.1). DEFAULT_FILE_STORAGE counts too: Django refuses it
#: beside a STORAGES the overlay would set, and the project's uploads would lose their storage.
LEGACY_SETTINGS = ("STATICFILES_STORAGE", "DEFAULT_FILE_STORAGE")
#: The key of Django's STORAGES setting for static files (django.conf.STATICFILES_STORAGE_ALIAS).
STATICFILES_ALIAS = "staticfiles"


@dataclass(frozen=True)
class OwnStorage:
    """Where the project's settings choose the static files' storage, for `init` to say why."""

    file: Path
    line: int
    setting: str  # "STORAGES", or one of LEGACY_SETTINGS
    backend: str | None  # the dotted class name when written as a literal, else None


def own_static_storage(settings_file: Path, app_dir: Path) -> bool:
    """True when the settings (following their imports within the project) choose a storage for
    static files: STORAGES["staticfiles"] in any form, or the older settings (LEGACY_SETTINGS)."""
    return find_static_storage(settings_file, app_dir) is not None


def find_static_storage(settings_file: Path, app_dir: Path) -> OwnStorage | None:
    """The first statement, in reading order, that chooses the static files' storage, or None."""
    return _Reader(app_dir.resolve()).file(settings_file.resolve())


class _Reader:
    def __init__(self, app_dir: Path):
        self.app_dir = app_dir
        self.seen: set[Path] = set()

    def file(self, path: Path) -> OwnStorage | None:
        if path in self.seen:
            return None
        self.seen.add(path)
        return self.block(parse(path).body, path)

    def block(self, body: list[ast.stmt], path: Path) -> OwnStorage | None:
        for stmt in body:
            found = self.statement(stmt, path)
            if found is not None:
                return found
        return None

    def statement(self, stmt: ast.stmt, path: Path) -> OwnStorage | None:
        if isinstance(stmt, ast.ImportFrom):
            names = {alias.name for alias in stmt.names}
            if names & {"*", "STORAGES", *LEGACY_SETTINGS}:
                target = resolve_import(stmt, path, self.app_dir)
                if target is not None:
                    return self.file(target.resolve())
            return None
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                found = self.assignment(target, stmt.value, path, stmt.lineno)
                if found is not None:
                    return found
            return None
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            return self.call(stmt.value, path)
        # Code that runs while the module is imported: every branch counts (see the module's doc).
        for field in ("body", "orelse", "finalbody"):
            found = self.block(getattr(stmt, field, []) if not _is_definition(stmt) else [], path)
            if found is not None:
                return found
        for handler in getattr(stmt, "handlers", []):
            found = self.block(handler.body, path)
            if found is not None:
                return found
        return None

    def assignment(self, target: ast.expr, value: ast.expr | None, path: Path, line: int) -> OwnStorage | None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                found = self.assignment(element, None, path, line)
                if found is not None:
                    return found
            return None
        if isinstance(target, ast.Name) and target.id in LEGACY_SETTINGS:
            return OwnStorage(path, line, target.id, _str(value))
        if isinstance(target, ast.Name) and target.id == "STORAGES":
            if value is None or _chooses_static(value):
                return OwnStorage(path, line, "STORAGES", _backend(value))
            return None
        # STORAGES["staticfiles"] = {...}, STORAGES["staticfiles"]["BACKEND"] = "..."
        if _subscript_of_storages(target):
            return OwnStorage(path, line, "STORAGES", _str(value) if _str(target.slice) == "BACKEND" else _backend(value))
        return None

    def call(self, call: ast.Call, path: Path) -> OwnStorage | None:
        func = call.func
        # STORAGES.update({...}), STORAGES.setdefault("staticfiles", {...})
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "STORAGES":
            if func.attr == "update" and (call.keywords or any(_chooses_static(arg) for arg in call.args)):
                return OwnStorage(path, call.lineno, "STORAGES", None)
            if func.attr == "setdefault" and call.args and _str(call.args[0]) == STATICFILES_ALIAS:
                return OwnStorage(path, call.lineno, "STORAGES", _backend(call.args[1]) if len(call.args) > 1 else None)
            return None
        if isinstance(func, ast.Name) and func.id == "include":  # django-split-settings
            for included, _optional in included_files(call, path):
                found = self.file(included)
                if found is not None:
                    return found
        return None


def _chooses_static(value: ast.expr) -> bool:
    """Whether a value given to STORAGES may hold a "staticfiles" entry. Only a dict literal whose
    keys are all strings other than "staticfiles" (and `**STORAGES`, the value read so far) is known
    not to; anything computed is taken to choose one."""
    if not isinstance(value, ast.Dict):
        return True
    for key, item in zip(value.keys, value.values):
        if key is None:  # **spread
            if not (isinstance(item, ast.Name) and item.id == "STORAGES"):
                return True
        elif _str(key) is None or _str(key) == STATICFILES_ALIAS:
            return True
    return False


def _backend(value: ast.expr | None) -> str | None:
    """The BACKEND string of a storages dict's "staticfiles" entry, or of one entry's dict."""
    if isinstance(value, ast.Dict):
        entries = {_str(k): v for k, v in zip(value.keys, value.values) if k is not None}
        if STATICFILES_ALIAS in entries:
            return _backend(entries[STATICFILES_ALIAS])
        return _str(entries.get("BACKEND"))
    return None


def _subscript_of_storages(node: ast.expr) -> bool:
    """STORAGES["staticfiles"], or anything below it."""
    while isinstance(node, ast.Subscript):
        if isinstance(node.value, ast.Name) and node.value.id == "STORAGES":
            return _str(node.slice) == STATICFILES_ALIAS or _str(node.slice) is None
        node = node.value
    return False


def _is_definition(stmt: ast.stmt) -> bool:
    """A function or class body does not run at import time."""
    return isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def _str(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
