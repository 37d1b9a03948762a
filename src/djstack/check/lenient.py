"""`detect()` for a project with a Python file Python cannot parse, so `check` can read the rest.

detect() stops at the first Python file it cannot parse (a settings file with a pasted non-breaking
space, say), and without its DjangoProject nothing can be checked. Here detection runs again with
detect's parser made lenient: a file that does not parse is read with its pasted characters fixed
(see models/paste.py), or as an empty module when even that does not parse. `check` itself reports what is
wrong in those files (the paste rules and settings-unparseable).

detect's parser takes the repair function for the duration of one detect() call (pysource.repairing).
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..detect import DjangoProject, detect, pysource
from ..errors import DjstackError
from .models.paste import cleaned


def detect_leniently(folder: Path) -> tuple[DjangoProject, list[Path]]:
    """detect(folder), and the Python files it could read only with their paste errors fixed or as
    empty modules. Raises detect's DjstackError for anything but a file it cannot parse."""
    try:
        return detect(folder), []
    except DjstackError as exc:
        if not isinstance(exc.__cause__, (SyntaxError, UnicodeDecodeError)):
            raise
    repaired: list[Path] = []

    def repair(path: Path) -> ast.Module:
        if path not in repaired:
            repaired.append(path)
        return _repaired_tree(path)

    with pysource.repairing(repair):
        project = detect(folder)
    return project, repaired


def _repaired_tree(path: Path) -> ast.Module:
    try:
        return ast.parse(cleaned(path.read_text(encoding="utf-8", errors="replace"), "python"), filename=str(path))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])
