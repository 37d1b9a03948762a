"""Reading Python source without running it: parse a file, find a module's file, follow imports.

Detection never imports the project (its dependencies are usually not installed on the host, and
importing settings would run arbitrary code); these helpers are what the detectors share.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from ..errors import DjstackError


#: While set (`check` reading a project whose files hold paste errors), a file Python cannot parse is
#: handed to this function, which returns the tree to use instead, rather than stopping detection.
_repair: ContextVar[Callable[[Path], ast.Module] | None] = ContextVar("repair", default=None)


@contextmanager
def repairing(repair: Callable[[Path], ast.Module]) -> Iterator[None]:
    """Within the block, `parse` gives files Python cannot parse to `repair` instead of raising."""
    token = _repair.set(repair)
    try:
        yield
    finally:
        _repair.reset(token)


def parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        repair = _repair.get()
        if repair is not None:
            return repair(path)
        raise DjstackError(f"{path} cannot be parsed: {exc}", "Fix the file so Python can read it.") from exc


def module_file(base: Path, module: str) -> Path | None:
    """The file of dotted `module` below `base` (a module or a package's __init__.py), if any."""
    path = base.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def resolve_import(node: ast.ImportFrom, current: Path, app_dir: Path) -> Path | None:
    """The file a `from X import …` in `current` reads, when it is part of the project."""
    if node.level:
        base = current.parent
        for _ in range(node.level - 1):
            base = base.parent
        return module_file(base, node.module) if node.module else None
    return module_file(app_dir, node.module) if node.module else None


def settings_literals(settings_file: Path, app_dir: Path, _seen: frozenset = frozenset()) -> dict:
    """Module-level NAME = <literal> assignments, following `from .base import *` chains."""
    values: dict = {}
    for node in parse(settings_file).body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            target = resolve_import(node, settings_file, app_dir)
            if target is not None and target not in _seen:
                values.update(settings_literals(target, app_dir, _seen | {settings_file}))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                values.pop(node.targets[0].id, None)  # computed: unknown, not the earlier literal
    return values


def is_str(node) -> bool:
    """Whether an ast node is a string literal (`"x"`): the only value a static reader takes as written."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def relative_path(path: Path, base: Path) -> str:
    """`path` below `base` as a/b.py, for messages; the path itself when it is not below `base`."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def included_files(call: ast.Call, file: Path) -> list[tuple[Path, bool]]:
    """The files django-split-settings' include("a.py", "components/*.py", optional("b.py")) runs,
    in its order (a glob's matches sorted, as it does), each with whether it is optional()."""
    found: list[tuple[Path, bool]] = []
    for arg in call.args:
        optional = isinstance(arg, ast.Call) and called(arg) == "optional" and len(arg.args) == 1
        pattern = arg.args[0] if optional else arg
        if not (isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)):
            continue  # computed at run time (e.g. "environments/%s.py" % ENV): cannot be known here
        if any(c in pattern.value for c in "*?["):
            matches = sorted(file.parent.glob(pattern.value))
        else:
            matches = [file.parent / pattern.value]
        found += [(m.resolve(), optional) for m in matches if m.is_file()]
    return found


def called(call: ast.Call) -> str | None:
    """The last name of what a call calls: `include` for `split_settings.tools.include(...)`."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None

