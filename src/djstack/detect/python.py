"""The Python version a project asks for, and the one its images will run.

`python_request()` reads the files where projects write their Python version, most explicit pin
first (the first file that names a version wins; in each kind, the app directory before the root):

1. `.python-version` (pyenv, uv): "3.12", "3.12.4"; comments, blank lines and "system" skipped;
2. `runtime.txt` (Heroku): "python-3.10.2";
3. `.tool-versions` (asdf, mise): the `python` line, e.g. "python 3.11.4" (its first version);
4. `Pipfile`: `[requires] python_full_version`, else `python_version`;
5. `pyproject.toml`: `[project] requires-python` (a PEP 440 specifier set), else Poetry's
   `[tool.poetry.dependencies] python` ("^3.10" means >=3.10,<4.0; "~3.11" means >=3.11,<3.12).

The pins (files 1-4) say which interpreter the developer runs; `requires-python` says only which
ones the code supports, so it comes last.

`choose_python()` turns that request into one of the versions an image source offers. Versions are
compared by series (X.Y): images carry one patch release per series, so a request for 3.11.4 is
met by the 3.11 image whatever its patch level.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import DjstackError
from .pysource import relative_path

__all__ = ["PythonRequest", "PythonChoice", "python_request", "choose_python", "REQUEST_FILES"]

#: The files read, in order of precedence (see the module docstring).
REQUEST_FILES = (".python-version", "runtime.txt", ".tool-versions", "Pipfile", "pyproject.toml")

#: Series considered when working out which X.Y a specifier allows (3.0 .. 3.39).
_SERIES_UNIVERSE = tuple((3, minor) for minor in range(40))


@dataclass(frozen=True)
class PythonRequest:
    """What a project file says about its Python."""

    raw: str  # as written, e.g. "python-3.10.2", ">=3.11,<3.13", "^3.10"
    # A PEP 440 specifier set, e.g. "==3.10.2", ">=3.11,<3.13", "==3.12.*". Poetry's
    # alternatives ("^3.9 || ^3.11") are kept as specifier sets joined by " || ": use `allows()`
    # rather than parsing it.
    specifier: str
    source: str  # the file it came from, relative to the project root: "runtime.txt", "src/.python-version"

    def alternatives(self) -> list[SpecifierSet]:
        return [SpecifierSet(part) for part in self.specifier.split("||")]

    def allows(self, version: str) -> bool:
        """True when some release of series `version` ("3.12", or "3.12.4") satisfies the request."""
        return _series_allowed(self.alternatives(), _series(version))

    def allowed_series(self) -> list[str]:
        """Every X.Y this request allows, oldest first."""
        alts = self.alternatives()
        return [f"{x}.{y}" for x, y in _SERIES_UNIVERSE if _series_allowed(alts, (x, y))]


@dataclass(frozen=True)
class PythonChoice:
    version: str  # "3.13": what the images will run
    request: PythonRequest | None
    how: str  # one line for `init`
    warning: str | None  # set when the request is not met: names the file and both versions


# --------------------------------------------------------------------------- reading the files


def python_request(root: Path, app_dir: Path) -> PythonRequest | None:
    """The first Python version request found (see the module docstring for the order), or None."""
    root, app_dir = Path(root), Path(app_dir)
    dirs = [app_dir] if app_dir.resolve() == root.resolve() else [app_dir, root]
    for name, reader in _READERS:
        for directory in dirs:
            path = directory / name
            if not path.is_file():
                continue
            found = reader(path, relative_path(path, root))
            if found is not None:
                return found
    return None


def _read(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DjstackError(f"{source} cannot be read: {exc}", f"Fix or remove {source}.") from exc


def _toml(path: Path, source: str) -> dict:
    try:
        return tomllib.loads(_read(path, source))
    except tomllib.TOMLDecodeError as exc:
        raise DjstackError(f"{source} is not valid TOML: {exc}", f"Fix the syntax of {source}.") from exc


def _lines(text: str) -> list[str]:
    """Non-empty lines with `#` comments removed."""
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


# A version as version files write it: optional implementation prefix ("cpython-", "cpython@",
# "python-"), X[.Y[.Z]], optional pre-release ("rc1"), free-threaded "t", and uv's or pyenv's
# trailing "-dev" / "-linux-x86_64-gnu", which say nothing about the version.
_VERSION_WORD = re.compile(
    r"^(?:c?python[-@]?)?(?P<version>\d+(?:\.\d+){0,2}(?:(?:a|b|rc)\d+)?)t?(?:[-+][A-Za-z0-9_.+-]*)?$",
    re.IGNORECASE,
)


def _pin_specifier(word: str, source: str, line: int | None = None) -> str:
    """"3.12" -> "==3.12.*"; "3.12.4" -> "==3.12.4"; "3" -> "==3.*"."""
    where = f"{source}:{line}" if line else source
    match = _VERSION_WORD.match(word.strip())
    if match is None:
        implementation = re.match(r"^(pypy|graalpy|jython|ironpython|miniconda|anaconda|mambaforge|micropython)", word, re.I)
        why = (
            f"names {implementation.group(1)}; djstack's images run CPython"
            if implementation
            else "is not a Python version"
        )
        raise DjstackError(
            f"{where}: {word!r} {why}.",
            f"Write a CPython version in {source}, e.g. 3.12 or 3.12.4, or pass --python X.Y.",
        )
    version = match.group("version")
    _check_major(Version(version), word, where, source)
    if version.count(".") == 2 or re.search(r"(a|b|rc)\d+$", version):
        return f"=={version}"
    return f"=={version}.*"


def _check_major(version: Version, raw: str, where: str, source: str) -> None:
    if version.major != 3:
        raise DjstackError(
            f"{where}: {raw!r} asks for Python {version.major}; djstack's images run Python 3 "
            "(every Django release since 2.0 needs it).",
            f"Write a Python 3 version in {source}, e.g. 3.12, or pass --python X.Y.",
        )


def _specifier(text: str, source: str, what: str) -> str | None:
    """A PEP 440 specifier set from a file, normalised; None when it allows anything."""
    text = text.strip()
    if text in ("", "*"):
        return None
    if _VERSION_WORD.match(text) and not re.match(r"^[<>=!~]", text):
        return _pin_specifier(text, source)  # a bare version where a specifier belongs: "3.11"
    try:
        spec = SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise DjstackError(
            f"{source}: {what} {text!r} is not a PEP 440 version specifier.",
            f"Write it like \">=3.11\" or \">=3.11,<3.14\" in {source}, or pass --python X.Y.",
        ) from exc
    return str(spec) or None


def _request(raw: str, specifier: str, source: str) -> PythonRequest:
    request = PythonRequest(raw=raw, specifier=specifier, source=source)
    if not request.allowed_series():
        raise DjstackError(
            f"{source}: {raw!r} allows no Python 3 version.",
            f"Fix the Python version in {source}, or pass --python X.Y.",
        )
    return request


def _python_version_file(path: Path, source: str) -> PythonRequest | None:
    text = _read(path, source)
    for number, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if not word or word.lower() == "system":
            continue
        if re.match(r"^[<>=!~]", word):  # uv accepts a specifier here too: ">=3.12"
            spec = _specifier(word, source, "the version request")
            return _request(word, spec, source) if spec else None
        return _request(word, _pin_specifier(word, source, number), source)
    return None


def _runtime_txt(path: Path, source: str) -> PythonRequest | None:
    lines = _lines(_read(path, source))
    if not lines:
        return None
    word = lines[0]
    if not re.match(r"^(python-)?\d", word, re.I):
        raise DjstackError(
            f"{source}: {word!r} is not a Python version (Heroku's format is python-3.12.4).",
            f"Write python-X.Y.Z in {source}, or pass --python X.Y.",
        )
    return _request(word, _pin_specifier(word, source, 1), source)


def _tool_versions(path: Path, source: str) -> PythonRequest | None:
    for number, line in enumerate(_read(path, source).splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if len(words) < 2 or words[0] != "python":
            continue
        for word in words[1:]:  # asdf: the first version is the one `python` runs
            if word == "system":
                continue
            return _request(f"python {word}", _pin_specifier(word, source, number), source)
        return None
    return None


def _pipfile(path: Path, source: str) -> PythonRequest | None:
    requires = _toml(path, source).get("requires")
    if not isinstance(requires, dict):
        return None
    for key in ("python_full_version", "python_version"):
        value = requires.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise DjstackError(
                f"{source}: [requires] {key} must be a string such as \"3.12\", not {value!r}.",
                f"Fix [requires] {key} in {source}.",
            )
        if value.strip() in ("", "*"):
            return None
        return _request(value, _pin_specifier(value, f"{source} [requires] {key}"), source)
    return None


def _pyproject(path: Path, source: str) -> PythonRequest | None:
    data = _toml(path, source)
    project = data.get("project")
    if isinstance(project, dict) and "requires-python" in project:
        value = project["requires-python"]
        if not isinstance(value, str):
            raise DjstackError(
                f"{source}: [project] requires-python must be a string, not {value!r}.",
                f"Write it like requires-python = \">=3.11\" in {source}.",
            )
        spec = _specifier(value, source, "[project] requires-python")
        if spec:
            return _request(value, spec, source)
    poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
    deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if isinstance(deps, dict) and "python" in deps:
        value = deps["python"]
        if isinstance(value, dict):  # python = { version = "^3.10" }
            value = value.get("version")
        if not isinstance(value, str):
            raise DjstackError(
                f"{source}: [tool.poetry.dependencies] python must be a version constraint string, not {value!r}.",
                f"Write it like python = \"^3.11\" in {source}.",
            )
        spec = poetry_specifier(value, source)
        if spec:
            return _request(value, spec, source)
    return None


_READERS = (
    (".python-version", _python_version_file),
    ("runtime.txt", _runtime_txt),
    (".tool-versions", _tool_versions),
    ("Pipfile", _pipfile),
    ("pyproject.toml", _pyproject),
)


# --------------------------------------------------------------------------- Poetry constraints


def poetry_specifier(constraint: str, source: str = "pyproject.toml") -> str | None:
    """Poetry's constraint syntax as PEP 440: "^3.10" -> ">=3.10,<4.0"; alternatives joined by " || "."""
    alternatives = []
    for alternative in constraint.split("||"):
        parts = [p for p in re.split(r"[,\s]+", alternative.strip()) if p]
        # ">= 3.8" written with a space: glue operators back onto their version
        glued: list[str] = []
        for part in parts:
            if glued and re.fullmatch(r"[<>=!~^]+", glued[-1]):
                glued[-1] += part
            else:
                glued.append(part)
        specs = [_poetry_one(p, constraint, source) for p in glued]
        specs = [s for s in specs if s]
        if not specs:
            return None  # "*" in any alternative allows everything
        alternatives.append(",".join(specs))
    return " || ".join(str(SpecifierSet(a)) for a in alternatives)


def _poetry_one(part: str, constraint: str, source: str) -> str | None:
    if part == "*":
        return None

    def bad() -> DjstackError:
        return DjstackError(
            f"{source}: [tool.poetry.dependencies] python = {constraint!r} is not a version constraint.",
            f"Write it like python = \"^3.11\" or \">=3.11,<3.14\" in {source}.",
        )

    match = re.fullmatch(r"(\^|~(?!=))(\d+(?:\.\d+){0,2})", part)
    if match:
        op, version = match.groups()
        nums = [int(n) for n in version.split(".")]
        if op == "^":  # bump the leftmost non-zero component
            index = next((i for i, n in enumerate(nums) if n), len(nums) - 1)
        else:  # ~X.Y[.Z] bumps the minor, ~X the major
            index = 1 if len(nums) > 1 else 0
        upper = nums[: index + 1]
        upper[index] += 1
        upper += [0] * (max(len(nums), 2) - len(upper))
        return f">={version},<{'.'.join(map(str, upper))}"
    if re.fullmatch(r"\d+(?:\.\d+){0,2}(?:\.\*)?", part):
        # Poetry reads a bare "3.10" as ==3.10; for an interpreter that means the 3.10 series.
        version = part.removesuffix(".*")
        return f"=={version}" if version.count(".") == 2 else f"=={version}.*"
    try:
        return str(SpecifierSet(part))
    except InvalidSpecifier:
        raise bad() from None


# --------------------------------------------------------------------------- choosing


def _series(version: str) -> tuple[int, int]:
    try:
        release = Version(version).release
    except InvalidVersion as exc:
        raise ValueError(f"not a Python version: {version!r}") from exc
    return (release[0], release[1] if len(release) > 1 else 0)


def _series_allowed(alternatives: list[SpecifierSet], series: tuple[int, int]) -> bool:
    """True when some release X.Y.Z of `series` satisfies one of the alternatives.

    Within a series the satisfying releases are intervals with points cut out, so it suffices to
    probe the series' ends (X.Y.0, X.Y.999) and each version a specifier names there, with its
    neighbours: ">=3.11.4" allows series 3.11; "==3.10.2" allows only 3.10.
    """
    return any(_set_allows_series(str(spec), series) for spec in alternatives)


@lru_cache(maxsize=4096)
def _set_allows_series(specifier: str, series: tuple[int, int]) -> bool:
    spec = SpecifierSet(specifier)
    x, y = series
    probes = {f"{x}.{y}.0", f"{x}.{y}.999"}
    for item in spec:
        raw = item.version.removesuffix(".*")
        try:
            release = Version(raw).release
        except InvalidVersion:
            continue
        if release[:2] == (x, y):
            patch = release[2] if len(release) > 2 else 0
            probes |= {raw, f"{x}.{y}.{patch + 1}", f"{x}.{y}.{max(patch - 1, 0)}"}
    return any(spec.contains(p, prereleases=True) for p in probes)


def _distance(a: str, b: str) -> tuple[int, int]:
    """Sort key for "nearest to b": minor releases apart, then the older one first (see below)."""
    sa, sb = _series(a), _series(b)
    gap = abs((sa[0] - sb[0]) * 100 + sa[1] - sb[1])
    return (gap, sa[0] * 100 + sa[1])


def choose_python(
    request: PythonRequest | None,
    available: Sequence[str],
    default: str,
    override: str | None = None,
    *,
    images: str | None = None,
    override_from: str = "--python",
) -> PythonChoice:
    """The version the images will run.

    - `override` (`--python X.Y`) wins; it must be one of `available`.
    - No request: `default`.
    - The request allows one series only (a pin: "3.12", "python-3.10.2", "==3.12.*"): that series
      when available; else the nearest available (with a warning: a pin cannot be met otherwise).
    - The request is a range (">=3.10", "^3.10"): `default` when it satisfies it (djstack's most
      tested version), else the satisfying version nearest to `default`; when none satisfies, the
      nearest available to the allowed series nearest `default`, with a warning.

    "Nearest" counts minor releases; a tie goes to the OLDER version: a project's pinned
    dependencies were released for the Pythons of their time, so a series below the one asked for
    has wheels for them more often than a newer one does (psycopg2-binary 2.9.9 has none for 3.13).
    `images` ("debian", "official") and `override_from` (where `override` came from, e.g.
    ".env's PYTHON_VERSION") only word the messages.
    """
    available = list(dict.fromkeys(available))
    if default not in available:
        raise ValueError(f"default {default!r} is not one of {available}")
    on = f" on {images} images" if images else ""
    listing = ", ".join(available)
    asked = f"{request.source} asks for {request.raw}" if request else None

    if override is not None:
        if override not in available:
            raise DjstackError(
                f"{override_from} {override}: the {images + ' ' if images else ''}images offer Python {listing}.",
                f"Pass one of them: --python {available[-1]}"
                + (" (or --images official, which offers more)" if images == "debian" else "")
                + ".",
            )
        if request is None:
            return PythonChoice(override, None, f"using Python {override} ({override_from})", None)
        how = f"{asked}; using {override} ({override_from})"
        warning = None
        if not request.allows(override):
            warning = f"{override_from} {override} overrides {request.source}, which asks for {request.raw}."
        return PythonChoice(override, request, how, warning)

    if request is None:
        looked = ", ".join(REQUEST_FILES)
        return PythonChoice(default, None, f"no Python version asked for ({looked}); using {default} (default)", None)

    allowed = request.allowed_series()
    satisfying = [v for v in available if request.allows(v)]
    pin = allowed[0] if len(allowed) == 1 else None

    if pin is not None:
        if pin in available:
            return PythonChoice(pin, request, f"{asked}; using {pin}", None)
        target = pin
    elif default in satisfying:
        return PythonChoice(default, request, f"{asked}; using {default} (default, satisfies it)", None)
    elif satisfying:
        chosen = min(satisfying, key=lambda v: _distance(v, default))
        return PythonChoice(chosen, request, f"{asked}; using {chosen} (nearest to the default {default} that satisfies it{on})", None)
    else:
        target = min(allowed, key=lambda v: _distance(v, default))

    chosen = min(available, key=lambda v: _distance(v, target))
    how = f"{asked}; using {chosen} (nearest available{on})"
    fix = f"pass --python X.Y to choose another ({listing})"
    if images == "debian":
        fix += ", or --images official for every supported CPython"
    warning = (
        f"{request.source} asks for Python {request.raw}, which the{(' ' + images) if images else ''} images "
        f"do not have; using {chosen} instead ({fix})."
    )
    return PythonChoice(chosen, request, how, warning)
