"""The Debian packages a project's Python dependencies need, from a table kept as data (syslibs.toml).

Packages needed to build go into the build stage only (compilers and headers never reach the image
that runs); shared libraries go into the runtime image.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from packaging.utils import canonicalize_name

from ..errors import DjstackError

#: Keys of needs that are not one distribution, for callers to request like a distribution.
COMPILERS = "@compilers"
GEODJANGO = "@django.contrib.gis"

STAGES = ("build", "runtime")


@dataclass(frozen=True)
class SystemPackage:
    name: str  # Debian package
    stage: str  # "build" or "runtime"
    wanted_by: str  # e.g. "psycopg2 (requirements.txt)"
    # Needed only if pip builds the distribution from its sdist (it publishes binary wheels that
    # bundle the library): listed commented out, ready to enable.
    from_source: bool = False


@cache
def table() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("syslibs.toml").read_text(encoding="utf-8"))


def suites() -> tuple[str, ...]:
    return tuple(table()["suites"])


_REQUEST = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def system_packages(requirements: Iterable[tuple[str, str]], suite: str) -> list[SystemPackage]:
    """The Debian packages of `suite` that the requested distributions need.

    `requirements`: (what is asked for, which file asked): a distribution name with its extras as
    written ("psycopg[c]", "Pillow") or canonical, a full requirement ("psycopg2==2.9.9") or a
    feature key (COMPILERS, GEODJANGO). Unknown names need nothing. Build packages come first, then
    runtime ones, each in the order first asked for; a package asked for twice is listed once, under
    the first asker, and as needed always if any asker needs it always.
    """
    data = table()
    if suite not in data["suites"]:
        raise DjstackError(f"No system-package names are known for the Debian suite {suite!r}.",
                           f"Use one of: {', '.join(data['suites'])}.")
    renames = data["suites"][suite]
    asked = [(_entry_key(text), text, origin) for text, origin in requirements]
    present = {key for key, _, _ in asked}
    expanded: list[tuple[str, str, str]] = []
    for key, text, origin in asked:
        expanded.append((key, text, origin))
        extras = _extras(text)
        for extra, implied in data["distributions"].get(key, {}).get("extras", {}).items():
            if extra in extras:
                present.add(implied)
                expanded.append((implied, text, origin))
    chosen: dict[tuple[str, str], SystemPackage] = {}
    for key, text, origin in expanded:
        entry = _entry(data, key)
        if entry is None or present & {canonicalize_name(u) for u in entry.get("unless", ())}:
            continue
        wanted_by = f"{_display(text)} ({origin})" if origin else _display(text)
        for stage in STAGES:
            for name, from_source in _packages(data, entry, stage, bool(entry.get("from_source"))):
                name = renames.get(name, name)
                known = chosen.get((stage, name))
                if known is None:
                    chosen[(stage, name)] = SystemPackage(name, stage, wanted_by, from_source)
                elif known.from_source and not from_source:
                    chosen[(stage, name)] = SystemPackage(name, stage, known.wanted_by, False)
    return sorted(chosen.values(), key=lambda p: STAGES.index(p.stage))  # stable: keeps first-asked order


def _entry_key(text: str) -> str:
    if text.strip().startswith("@"):
        return text.strip()
    match = _REQUEST.match(text)
    return canonicalize_name(match.group(1)) if match else text.strip()


def _extras(text: str) -> set[str]:
    match = _REQUEST.match(text)
    if not match or not match.group(2):
        return set()
    return {canonicalize_name(e.strip()) for e in match.group(2).split(",") if e.strip()}


def _display(text: str) -> str:
    """The request as the person wrote it, without version or marker: "psycopg[c]"."""
    if text.strip().startswith("@"):
        return text.strip()[1:]
    match = _REQUEST.match(text)
    return match.group(0).strip() if match else text.strip()


def _entry(data: dict, key: str) -> dict | None:
    if key.startswith("@"):
        return data["features"].get(key[1:])
    return data["distributions"].get(key)


def _packages(data: dict, entry: dict, stage: str, from_source: bool) -> Iterable[tuple[str, bool]]:
    for name in entry.get(stage, ()):
        if name.startswith("@"):
            # A feature needed only because of a from-source build is itself from-source only.
            yield from _packages(data, data["features"][name[1:]], stage, from_source)
        else:
            yield name, from_source
