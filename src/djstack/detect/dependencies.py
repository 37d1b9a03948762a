"""Which file lists the project's dependencies, and what it will install.

Every common way is honoured, best first in each folder:

1. a lock file: `uv.lock` (with pyproject.toml), `poetry.lock` (with pyproject.toml), `Pipfile.lock`
   (with Pipfile). A lock says exactly which versions run, so it wins over any loose list beside it.
2. requirements files, production-named ones before development ones (`REQUIREMENT_STEMS`); for each
   name a pip-tools `.txt` compiled from a `.in` is taken over the `.in`, a lone `.in` is used as is.
3. `pyproject.toml` `[project].dependencies`.

A Poetry project or a Pipfile without its lock and without any other list is refused: locking at
build time would install versions nobody has run, different on every build; `poetry lock` or
`pipenv lock` is one command and the lock belongs in git.

The root of the project (the image's build context) is the nearest folder, from manage.py's up to
the folder given, that holds any of these files.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import DjstackError

#: Requirement file names without their suffix, best first: what runs in production before what
#: everything else builds on. `.txt` is tried before `.in` for each (pip-tools compiles one from the other).
REQUIREMENT_STEMS = (
    "requirements/production", "requirements/prod", "requirements/deploy",
    "requirements-production", "requirements-prod", "requirements_production", "requirements_prod",
    "requirements",
    "requirements/base", "requirements/common", "requirements/main", "requirements/requirements",
)


@dataclass(frozen=True)
class Dependencies:
    """How the project lists its dependencies, and what the image build installs from."""

    kind: str  # "requirements" | "pyproject" | "uv" | "poetry" | "pipenv"
    files: tuple[PurePosixPath, ...]  # relative to the root: every file the build copies before installing
    source: PurePosixPath  # the file whose versions are installed, e.g. uv.lock
    why: str  # one line for `init`: which file, and why it won over the others present
    names: tuple[str, ...]  # canonical names of the distributions installed, as far as the files say
    mentions_django: bool
    # `names` with the extras asked for, e.g. "psycopg[c]": what the system-library table reads.
    # A lock lists the extras' distributions (psycopg-c) by themselves, so there it equals `names`.
    wanted: tuple[str, ...] = ()


def find_dependencies(folder: Path, app_dir: Path) -> tuple[Path, Dependencies]:
    """The project root and its dependencies: the nearest folder from `app_dir` up to `folder`
    that holds a dependency file."""
    candidates = [app_dir, *[p for p in app_dir.parents if p == folder or folder in p.parents]]
    for root in candidates:
        found = _in_folder(root)
        if found is not None:
            return root, found
    raise DjstackError(
        f"No dependency list found for the project in {app_dir}: no requirements.txt, no "
        "pyproject.toml with [project].dependencies, no uv.lock, poetry.lock or Pipfile.lock, "
        "beside manage.py or above it.",
        "Write a requirements.txt beside manage.py listing Django and your other dependencies "
        "(`pip freeze > requirements.txt` in your virtualenv is a start).",
    )


def _in_folder(root: Path) -> Dependencies | None:
    present = [name for name in ("uv.lock", "poetry.lock", "Pipfile.lock") if (root / name).is_file()]
    pyproject = _read_toml(root / "pyproject.toml") if (root / "pyproject.toml").is_file() else None
    poetry = pyproject is not None and "poetry" in pyproject.get("tool", {})
    if present:
        others = [p for p in present[1:]]
        also = f" ({', '.join(others)} also present, not used)" if others else ""
        reader = {"uv.lock": _uv, "poetry.lock": _poetry, "Pipfile.lock": _pipenv}[present[0]]
        return reader(root, pyproject, also)
    requirements = _requirements_file(root)
    if requirements is not None:
        return _note_unlocked(root, poetry, _requirements(root, requirements))
    project_deps = (pyproject or {}).get("project", {}).get("dependencies")
    if isinstance(project_deps, list) and not (poetry and _poetry1_dependencies(pyproject)):
        names, wanted = _parse_requirements(str(d) for d in project_deps)
        why = "pyproject.toml [project].dependencies (no lock file, no requirements file)"
        if poetry:
            why += "; poetry.lock is missing, so pip resolves the versions at each build"
        return Dependencies("pyproject", (PurePosixPath("pyproject.toml"),), PurePosixPath("pyproject.toml"),
                            why, names, "django" in names, wanted)
    if poetry:
        raise _unlocked_error(root / "pyproject.toml")
    if (root / "Pipfile").is_file():
        raise _unlocked_error(root / "Pipfile")
    return None


def _note_unlocked(root: Path, poetry: bool, deps: Dependencies) -> Dependencies:
    """A requirements file beside an unlocked Poetry/Pipenv project: used, and `why` says so."""
    skipped = []
    if poetry:
        skipped.append("pyproject.toml [tool.poetry] without poetry.lock")
    if (root / "Pipfile").is_file():
        skipped.append("Pipfile without Pipfile.lock")
    if not skipped:
        return deps
    return Dependencies(deps.kind, deps.files, deps.source, f"{deps.why}; not used: {', '.join(skipped)}",
                        deps.names, deps.mentions_django, deps.wanted)


def _unlocked_error(path: Path) -> DjstackError:
    tool, lock = ("pipenv", "Pipfile.lock") if path.name == "Pipfile" else ("poetry", "poetry.lock")
    return DjstackError(
        f"{path} lists the project's dependencies for {tool}, but there is no {lock} beside it: "
        "djstack installs locked versions only, the ones you have run.",
        f"Run `{tool} lock` in {path.parent} and commit {lock}, then run `djstack init` again.",
    )


def _poetry1_dependencies(pyproject: dict) -> dict:
    """Poetry 1 keeps the dependencies in [tool.poetry.dependencies] (not PEP 508: `^1.2`); Poetry 2
    reads [project] and uses that table only for extra details."""
    return pyproject.get("tool", {}).get("poetry", {}).get("dependencies") or {}


# --- requirements files ----------------------------------------------------------------------------

def _requirements_file(root: Path) -> PurePosixPath | None:
    for stem in REQUIREMENT_STEMS:
        for suffix in (".txt", ".in"):
            if (root / f"{stem}{suffix}").is_file():
                return PurePosixPath(f"{stem}{suffix}")
    return None


def _requirements(root: Path, first: PurePosixPath) -> Dependencies:
    files = requirement_closure(root, first)
    # Constraint files (-c) only limit versions: what they name is not installed because of them.
    installed = requirement_closure(root, first, constraints=False)
    text = "\n".join((root / f).read_text(encoding="utf-8", errors="replace") for f in installed)
    names, wanted = _parse_requirements(text.splitlines())
    why = f"{first}"
    if first.suffix == ".in":
        why += " (pip-tools input; no compiled .txt beside it)"
    elif (root / first.with_suffix(".in")).is_file():
        why += f" (compiled by pip-tools from {first.with_suffix('.in')}, taken over it)"
    ranked = [f"{stem}.txt" for stem in REQUIREMENT_STEMS]
    if str(first) in ranked:
        index = ranked.index(str(first))
        beaten = [name for name in ranked[index + 1:] if (root / name).is_file() and PurePosixPath(name) not in files]
        if beaten:
            why += f", preferred over {', '.join(beaten)}"
    if (root / "pyproject.toml").is_file():
        why += "; pyproject.toml is not used for dependencies"
    return Dependencies("requirements", files, first, why, names,
                        "django" in names or _mentions_django(text), wanted)


_INCLUDE = re.compile(r"^\s*(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)")


def requirement_closure(root: Path, first: PurePosixPath, constraints: bool = True) -> tuple[PurePosixPath, ...]:
    """The requirement file and every file it includes with -r (and -c), relative to root."""
    found: list[PurePosixPath] = []
    pending = [(first, first)]
    while pending:
        rel, parent = pending.pop(0)
        if rel in found:
            continue
        path = root / rel
        if root.resolve() not in path.resolve().parents:
            raise DjstackError(
                f"{root / parent} includes {rel}, which lies outside {root}; the image is built from {root} only.",
                "Keep requirement files inside the project folder.",
            )
        if not path.is_file():
            raise DjstackError(f"{root / parent} includes {rel}, which does not exist.", "Fix the -r/-c line.")
        found.append(rel)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _INCLUDE.match(line)
            if match and (constraints or match.group(1) in ("-r", "--requirement")):
                pending.append((PurePosixPath(_normalise(rel.parent / match.group(2))), rel))
    return tuple(found)


def _parse_requirements(lines: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Canonical names, and the same with extras, of the requirement lines pip would install.

    Options (-r, -c, --index-url, -e VCS/paths), URLs without a name and constraint files' own lines
    name nothing installed by themselves; they are skipped, not errors: pip is the judge of syntax.
    """
    names: dict[str, set[str]] = {}
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        line = line.split(" --hash", 1)[0].rstrip(" \\")
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        names.setdefault(canonicalize_name(req.name), set()).update(canonicalize_name(e) for e in req.extras)
    return tuple(names), tuple(f"{n}[{','.join(sorted(e))}]" if e else n for n, e in names.items())


# --- uv ---------------------------------------------------------------------------------------------

def _uv(root: Path, pyproject: dict | None, also: str) -> Dependencies:
    if pyproject is None:
        raise DjstackError(f"{root / 'uv.lock'} has no pyproject.toml beside it; uv needs both.",
                           "Restore pyproject.toml, or delete the stray uv.lock.")
    lock = _read_toml(root / "uv.lock")
    packages = {canonicalize_name(p["name"]): p for p in lock.get("package", []) if "name" in p}
    roots = [p for p in packages.values() if {"editable", "virtual"} & set(p.get("source", {}))]
    if not roots:
        raise DjstackError(f"{root / 'uv.lock'} does not list the project itself; it may be damaged.",
                           f"Run `uv lock` in {root} and commit uv.lock.")
    # The project's own dependencies, followed through the lock; dev groups are edges not taken.
    start = [(d, tuple(d.get("extra", ()))) for r in roots for d in r.get("dependencies", [])]
    names = _walk(packages, start, lambda p, extra: p.get("optional-dependencies", {}).get(extra, []),
                  skip={canonicalize_name(r["name"]) for r in roots})
    why = "uv.lock: the locked versions, without dev groups" + also
    return Dependencies("uv", (PurePosixPath("pyproject.toml"), PurePosixPath("uv.lock")),
                        PurePosixPath("uv.lock"), why, names, "django" in names, names)


def _walk(packages: dict, start: list, extra_deps, skip: set[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    pending = list(start)
    while pending:
        dep, extras = pending.pop(0)
        name = canonicalize_name(dep["name"])
        if name in skip:
            continue
        package = packages.get(name)
        if package is None:
            continue
        key_new = name not in seen
        seen[name] = None
        if key_new:
            pending += [(d, tuple(d.get("extra", ()))) for d in package.get("dependencies", [])]
        for extra in extras:
            pending += [(d, tuple(d.get("extra", ()))) for d in extra_deps(package, extra)]
    return tuple(sorted(seen))


# --- Poetry -----------------------------------------------------------------------------------------

def _poetry(root: Path, pyproject: dict | None, also: str) -> Dependencies:
    if pyproject is None:
        raise DjstackError(f"{root / 'poetry.lock'} has no pyproject.toml beside it; Poetry needs both.",
                           "Restore pyproject.toml, or delete the stray poetry.lock.")
    lock = _read_toml(root / "poetry.lock")
    packages = {canonicalize_name(p["name"]): p for p in lock.get("package", []) if "name" in p}
    if any("groups" in p for p in packages.values()):  # lock 2.1 (Poetry 2): groups per package
        names = tuple(sorted(n for n, p in packages.items() if "main" in p.get("groups", [])))
    elif any("category" in p for p in packages.values()):  # lock 1.1 (Poetry 1.0-1.4)
        names = tuple(sorted(n for n, p in packages.items() if p.get("category") == "main"))
    else:  # lock 2.0 (Poetry 1.5-1.8): follow the main dependencies through the lock
        graph = {n: {**p, "dependencies": _poetry_edges(p.get("dependencies", {}))} for n, p in packages.items()}
        start = [({"name": n}, extras) for n, extras in _poetry_main(pyproject)]
        names = _walk(graph, start, _poetry_extra, skip=set())
    why = "poetry.lock: the locked versions of the main group" + also
    return Dependencies("poetry", (PurePosixPath("pyproject.toml"), PurePosixPath("poetry.lock")),
                        PurePosixPath("poetry.lock"), why, names, "django" in names, names)


def _poetry_edges(dependencies: dict) -> list[dict]:
    """poetry.lock's `name = "version"` / `name = {version, extras}` as uv.lock-shaped edges."""
    return [{"name": n, "extra": v.get("extras", []) if isinstance(v, dict) else []} for n, v in dependencies.items()]


def _poetry_extra(package: dict, extra: str) -> list[dict]:
    """poetry.lock lists an extra's requirements as PEP 508 strings: `"cffi (>=1.12)"`."""
    return [{"name": re.split(r"[\s(\[<>=!~;]", spec.strip(), maxsplit=1)[0]}
            for spec in package.get("extras", {}).get(extra, [])]


def _poetry_main(pyproject: dict) -> list[tuple[str, tuple[str, ...]]]:
    main = []
    for name, spec in pyproject.get("tool", {}).get("poetry", {}).get("dependencies", {}).items():
        if name.lower() != "python":
            main.append((name, tuple(spec.get("extras", ())) if isinstance(spec, dict) else ()))
    for line in pyproject.get("project", {}).get("dependencies", []) or []:
        if _valid(line):
            req = Requirement(line)
            main.append((req.name, tuple(req.extras)))
    return main


def _valid(line: str) -> bool:
    try:
        Requirement(line)
    except InvalidRequirement:
        return False
    return True


# --- Pipenv -----------------------------------------------------------------------------------------

def _pipenv(root: Path, _pyproject: dict | None, also: str) -> Dependencies:
    import json

    if not (root / "Pipfile").is_file():
        raise DjstackError(f"{root / 'Pipfile.lock'} has no Pipfile beside it; pipenv needs both.",
                           "Restore the Pipfile, or delete the stray Pipfile.lock.")
    try:
        default = json.loads((root / "Pipfile.lock").read_text(encoding="utf-8")).get("default", {})
    except (ValueError, AttributeError) as exc:
        raise DjstackError(f"{root / 'Pipfile.lock'} is not valid JSON: {exc}",
                           f"Run `pipenv lock` in {root} and commit Pipfile.lock.") from exc
    names = tuple(sorted(canonicalize_name(n) for n in default))
    wanted = tuple(sorted(
        f"{canonicalize_name(n)}[{','.join(sorted(v['extras']))}]"
        if isinstance(v, dict) and v.get("extras") else canonicalize_name(n)
        for n, v in default.items()))
    why = "Pipfile.lock: the locked versions of [packages] (default), without [dev-packages]" + also
    return Dependencies("pipenv", (PurePosixPath("Pipfile"), PurePosixPath("Pipfile.lock")),
                        PurePosixPath("Pipfile.lock"), why, names, "django" in names, wanted)


# --- helpers ----------------------------------------------------------------------------------------

def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DjstackError(f"{path} is not valid TOML: {exc}", "Fix the file.") from exc


def _normalise(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            else:
                parts.append(part)
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _mentions_django(text: str) -> bool:
    return re.search(r"^\s*django\s*($|[<>=!~;\[ ])", text, re.IGNORECASE | re.MULTILINE) is not None
