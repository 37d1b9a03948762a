"""`detect()` for a project with a Python file Python cannot parse, so `check` can read the rest.

detect() stops at the first Python file it cannot parse (a settings file with a pasted non-breaking
space, say), and without its DjangoProject nothing can be checked. Here detection runs again with
detect's parser made lenient: a file that does not parse is read with its pasted characters fixed
(see paste.py), or as an empty module when even that does not parse. `check` itself reports what is
wrong in those files (the paste rules and settings-unparseable).

detect/ has no seam for this (its parse() raises), so its parse is swapped for the duration of one
detect() call; every module of the detect package that imported it gets the lenient one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..detect import DjangoProject, detect, pysource
from ..errors import DjstackError
from .paste import cleaned


def detect_leniently(folder: Path) -> tuple[DjangoProject, list[Path]]:
    """detect(folder), and the Python files it could read only with their paste errors fixed or as
    empty modules. Raises detect's DjstackError for anything but a file it cannot parse."""
    try:
        return detect(folder), []
    except DjstackError as exc:
        if not isinstance(exc.__cause__, (SyntaxError, UnicodeDecodeError)):
            raise
    repaired: list[Path] = []
    with _lenient_parse(repaired):
        project = detect(folder)
    return project, repaired


def _repaired_tree(path: Path) -> ast.Module:
    try:
        return ast.parse(cleaned(path.read_text(encoding="utf-8", errors="replace"), "python"), filename=str(path))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


@contextmanager
def _lenient_parse(repaired: list[Path]) -> Iterator[None]:
    original = pysource.parse

    def parse(path: Path) -> ast.Module:
        try:
            return original(path)
        except DjstackError as exc:
            if not isinstance(exc.__cause__, (SyntaxError, UnicodeDecodeError)):
                raise
            if path not in repaired:
                repaired.append(path)
            return _repaired_tree(path)

    modules = [m for name, m in list(sys.modules.items())
               if (name == "djstack.detect" or name.startswith("djstack.detect.")) and getattr(m, "parse", None) is original]
    for module in modules:
        module.parse = parse
    try:
        yield
    finally:
        for module in modules:
            module.parse = original
