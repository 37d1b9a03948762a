"""Background work: the project's Celery application, its periodic work, and a Procfile's processes.

Read like the rest of detection, never imported. The Celery application is the module that calls
`Celery(...)` (mysite/celery.py, cookiecutter-django's config/celery_app.py, tasks/__init__.py…);
what it reads from Django's settings comes from its `config_from_object("django.conf:settings",
namespace=...)`. Periodic work is a `beat_schedule` (in the settings under the app's namespace, or
on `app.conf`), an `add_periodic_task` call, a Procfile beat line, or django-celery-beat's database
scheduler. A Procfile (Heroku's format, which Dokku, Render and honcho share) names the processes the
project runs besides web: Celery's worker and beat, and others (a clock, an RQ worker) that the
stack runs from the web image as they are written.

What cannot be run as found (two Celery apps, an app whose celery is not installed, a Procfile line
that is not `name: command`) is a `WorkerProblem`, not an exception: every command detects the
project, and only `init` refuses it, unless the person leaves workers out (`--no-workers`).
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .evaluate import Module, known
from .pysource import called, is_str, module_file, relative_path


@dataclass(frozen=True)
class CeleryApp:
    module: str  # what `celery -A` takes: "mysite" (mysite/celery.py re-exported by its package) or "config.celery_app"
    file: Path  # the module that creates Celery(...) (the Procfile when only a Procfile names it)
    namespace: str | None  # "CELERY"; "" reads Django settings unprefixed; None does not read them
    beat: str  # "" no periodic work; "file": a schedule or a beat line; "database": django-celery-beat's scheduler
    why_beat: str = ""  # where the periodic work was found, for init to say


@dataclass(frozen=True)
class Process:
    """One Procfile line other than web/release."""

    name: str  # the process type: "worker", "beat", "clock"
    command: str  # as written
    role: str  # "celery-worker" | "celery-beat" | "other"


@dataclass(frozen=True)
class WorkerProblem:
    """Why background work is not run as found. `blocking`: init refuses unless workers are left out
    (and adds that way out to `fix`); otherwise init only says it."""

    file: Path
    message: str
    fix: str
    blocking: bool = True


@dataclass(frozen=True)
class Workers:
    celery: CeleryApp | None
    processes: tuple[Process, ...]
    problems: tuple[WorkerProblem, ...]


#: Distributions that install celery (it is one of their requirements): with one of them listed, a
#: project's requirements file may leave celery itself out.
CELERY_DISTRIBUTIONS = frozenset({"celery", "django-celery-beat", "django-celery-results", "flower"})
#: Procfile process types the stack runs itself (web) or that are not processes (release runs once).
NOT_PROCESSES = frozenset({"web", "release"})
#: Folders never searched for the Celery app: environments, caches, tests, the stack's own data.
SKIP_DIRS = frozenset({"node_modules", "venv", "env", "site-packages", "compose", "backups", "media", "static",
                       "staticfiles", "migrations", "tests", "test", "docs", "__pycache__", "build", "dist"})
SEARCH_DEPTH = 6
#: Heroku's Procfile grammar: a process type, a colon, the command.
_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(.*)$")
#: What a file must contain for the search to parse it (most files of a project say none of these).
_MARKERS = ("Celery", "add_periodic_task", "beat_schedule")
#: Celery's own alias for django-celery-beat's scheduler (`celery beat -S django`).
_DATABASE_SCHEDULER = re.compile(r"django_celery_beat|DatabaseScheduler|^django$")


def detect_workers(app_dir: Path, root: Path, settings: Module, installed: list[str],
                   dependencies: tuple[str, ...], dependency_file: Path) -> Workers:
    """What background work the project defines. `settings` is the production settings evaluated for
    any branch (apps.any_branch), `installed` its INSTALLED_APPS."""
    problems: list[WorkerProblem] = []
    procfile = next((p for p in (app_dir / "Procfile", root / "Procfile") if p.is_file()), None)
    lines = _read_procfile(procfile, problems) if procfile else []
    processes = tuple(p for p, _ in lines)
    sources = [(path, tree) for path, tree in _python_files(app_dir)]
    apps = [(path, tree) for path, tree in sources if _creates_celery(tree)]
    named = [c.app for _, c in lines if c and c.app]

    app_file, module = _choose_app(apps, named, app_dir, procfile, problems)
    if module is None:
        if dependencies and set(dependencies) & CELERY_DISTRIBUTIONS and not problems:
            problems.append(WorkerProblem(
                dependency_file,
                f"celery is among the dependencies ({relative_path(dependency_file, root)}), but no module of the "
                "project creates a Celery app (`app = Celery(...)`) and no Procfile line names one "
                "(`celery -A module worker`): no worker is added.",
                "Create the app as Celery's Django guide does (mysite/celery.py, imported by mysite/__init__.py), "
                "then run `djstack init` again.", blocking=False))
        return Workers(None, processes, tuple(problems))
    if not set(dependencies) & CELERY_DISTRIBUTIONS:
        problems.append(WorkerProblem(
            app_file,
            f"{relative_path(app_file, root)} creates a Celery app, but celery is not among the project's "
            f"dependencies ({relative_path(dependency_file, root)}): the image would not have it.",
            f"Add celery[redis] to {relative_path(dependency_file, root)} (and lock it if the project locks)."))
        return Workers(None, processes, tuple(problems))

    tree = next((t for p, t in apps if p == app_file), None) or _parsed(app_file)
    namespace = _namespace(tree) if tree is not None else None
    beat, why = _beat(namespace, settings, installed, sources, lines, app_dir)
    return Workers(CeleryApp(module, app_file, namespace, beat, why), processes, tuple(problems))


# --- the Celery application ------------------------------------------------------------------------

def _python_files(app_dir: Path) -> Iterator[tuple[Path, ast.Module]]:
    """The project's Python files that mention Celery or periodic work, parsed (a file Python cannot
    parse, a script of another era, is skipped: it is not the app the worker imports)."""
    def walk(folder: Path, depth: int) -> Iterator[Path]:
        for entry in sorted(folder.iterdir()):
            if entry.is_dir():
                if (depth < SEARCH_DEPTH and not entry.name.startswith(".") and entry.name not in SKIP_DIRS
                        and not (entry / "pyvenv.cfg").exists()):
                    yield from walk(entry, depth + 1)
            elif entry.suffix == ".py" and not _is_test(entry.name):
                yield entry

    for path in walk(app_dir, 0):
        try:
            text = path.read_text(encoding="utf-8")
            if any(marker in text for marker in _MARKERS):
                yield path.resolve(), ast.parse(text, filename=str(path))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue


def _is_test(name: str) -> bool:
    """A test module (pytest's names): an app it makes for its tests is not the project's."""
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def _parsed(path: Path) -> ast.Module | None:
    if path.suffix != ".py":
        return None  # the Procfile, when the module `celery -A` names is not in the project
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None  # a script Python cannot parse is not the module the worker imports


def _creates_celery(tree: ast.Module) -> bool:
    """Whether the module calls celery's `Celery(...)` (imported from celery, maybe renamed)."""
    names = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.module == "celery" for a in node.names if a.name == "Celery"}
    modules = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names if a.name == "celery"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in names:
                return True
            if (isinstance(func, ast.Attribute) and func.attr == "Celery" and isinstance(func.value, ast.Name)
                    and func.value.id in modules):
                return True
    return False


def _module_of(path: Path, app_dir: Path) -> str:
    """What `celery -A` takes for the app in `path`: its dotted module, or the package of a celery.py
    that the package's __init__.py imports (Celery's Django layout: `celery -A mysite`)."""
    parts = list(path.relative_to(app_dir.resolve()).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    elif parts[-1] == "celery" and len(parts) > 1 and _imports_celery_module(path.parent / "__init__.py", parts[:-1]):
        parts.pop()
    return ".".join(parts)


def _imports_celery_module(init: Path, package: list[str]) -> bool:
    tree = _parsed(init) if init.is_file() else None
    if tree is None:
        return False
    absolute = ".".join([*package, "celery"])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if (node.level == 1 and node.module == "celery") or (node.level == 0 and node.module == absolute):
                return True
            if node.level == 1 and node.module is None and any(a.name == "celery" for a in node.names):
                return True
        elif isinstance(node, ast.Import) and any(a.name == absolute for a in node.names):
            return True
    return False


def _choose_app(apps: list[tuple[Path, ast.Module]], named: list[str], app_dir: Path, procfile: Path | None,
                problems: list[WorkerProblem]) -> tuple[Path | None, str | None]:
    """The app's file and module: the one Celery(...) call, or among several the one the Procfile
    names, or (no call found) the module the Procfile's `celery -A` names."""
    found = [(path, _module_of(path, app_dir)) for path, _ in apps]
    if len(found) == 1:
        return found[0]
    if not found:
        if not named:
            return None, None
        module = named[0]
        file = _file_of(module, app_dir) or procfile
        return file, module
    chosen = [(p, m) for p, m in found for n in dict.fromkeys(named) if _same_app(m, n.split(":")[0])]
    if len(chosen) == 1:
        return chosen[0]
    listed = ", ".join(relative_path(p, app_dir) for p, _ in found)
    problems.append(WorkerProblem(
        found[0][0],
        f"The project creates {len(found)} Celery apps ({listed}); a stack runs the worker of one.",
        "Name the one to run in a Procfile beside manage.py (`worker: celery -A <module> worker`), or "
        "remove the others."))
    return None, None


def _same_app(module: str, named: str) -> bool:
    """`celery -A named` loads the app of `module`: the same module, a package above it, or an
    attribute below it (`-A mysite.celery.app`)."""
    return module == named or module.startswith(named + ".") or named.startswith(module + ".")


def _file_of(dotted: str, app_dir: Path) -> Path | None:
    """The file of `celery -A`'s module: `proj.celery:app` and `proj.celery.app` are proj/celery.py."""
    parts = dotted.split(":")[0].split(".")
    while parts:
        found = module_file(app_dir, ".".join(parts))
        if found:
            return found.resolve()
        parts.pop()
    return None


def _namespace(tree: ast.Module) -> str | None:
    """The settings prefix of `config_from_object("django.conf:settings", namespace=...)`: its
    namespace, "" without one, None when the app does not read Django's settings."""
    settings_names = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                      and node.module == "django.conf" for a in node.names if a.name == "settings"}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and called(node) == "config_from_object" and node.args):
            continue
        source = node.args[0]
        django = (is_str(source) and source.value in ("django.conf:settings", "django.conf.settings")) or (
            isinstance(source, ast.Name) and source.id in settings_names)
        if not django:
            continue
        # A namespace computed at run time cannot be known here: read as none, Celery's default.
        given = next((k.value for k in node.keywords if k.arg == "namespace"), None)
        return given.value if given is not None and is_str(given) else ""
    return None


# --- periodic work ---------------------------------------------------------------------------------

def _beat(namespace: str | None, settings: Module, installed: list[str], sources, lines, app_dir: Path) -> tuple[str, str]:
    """"database", "file" or "", and where that was read."""
    prefixes = list(dict.fromkeys([f"{namespace}_" if namespace else "", "CELERY_"]))
    schedule_names = [f"{p}BEAT_SCHEDULE" for p in prefixes] + ["CELERYBEAT_SCHEDULE"]
    scheduler_names = [f"{p}BEAT_SCHEDULER" for p in prefixes] + ["CELERYBEAT_SCHEDULER"]

    scheduler, scheduler_where = None, ""
    for name in scheduler_names:
        value = settings.values.get(name)
        if isinstance(value, str):
            scheduler, scheduler_where = value, f"{name} in the settings"
    periodic: list[str] = [f"{name} in the settings" for name in schedule_names
                           if name in settings.values and _holds_work(settings.values[name])]
    for path, tree in sources:
        where = relative_path(path, app_dir)
        for fact, value in _app_conf(tree):
            if fact == "beat_scheduler" and isinstance(value, str):
                scheduler, scheduler_where = value, f"beat_scheduler in {where}"
            elif fact == "beat_schedule":
                periodic.append(f"beat_schedule in {where}")
            elif fact == "add_periodic_task":
                periodic.append(f"add_periodic_task in {where}")
    for process, command in lines:
        if command is None:
            continue
        if command.scheduler:
            scheduler, scheduler_where = command.scheduler, f"the Procfile's {process.name} line"
        if command.beat:
            periodic.append(f"the Procfile's {process.name} line")

    if scheduler is not None and _DATABASE_SCHEDULER.search(scheduler):
        return "database", f"django-celery-beat's DatabaseScheduler ({scheduler_where})"
    if scheduler is None and "django_celery_beat" in installed:
        return "database", "django-celery-beat's DatabaseScheduler (django_celery_beat in INSTALLED_APPS)"
    if periodic:
        return "file", ", ".join(dict.fromkeys(periodic))
    return "", ""


def _holds_work(value) -> bool:
    """A schedule written as an empty dict (`{}`, a placeholder) holds no periodic work; any other
    value, one the reader cannot know included, may."""
    return not (known(value) and isinstance(value, dict) and not value)


def _app_conf(tree: ast.Module) -> Iterator[tuple[str, object]]:
    """What a module sets on a Celery app: ("beat_schedule", None) for a schedule with work in it,
    ("beat_scheduler", value) and ("add_periodic_task", None) (often in an on_after_configure
    handler)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                base = target.value if isinstance(target, ast.Subscript) else target
                attr = _conf_attr(base)
                if attr == "beat_schedule" and (isinstance(target, ast.Subscript) or not _empty_dict(node.value)):
                    yield "beat_schedule", None
                elif attr == "beat_scheduler" and not isinstance(target, ast.Subscript):
                    yield "beat_scheduler", node.value.value if is_str(node.value) else None
        elif isinstance(node, ast.Call):
            name = called(node)
            if name == "add_periodic_task":
                yield "add_periodic_task", None
            elif name == "update" and isinstance(node.func, ast.Attribute):
                if _conf_attr(node.func.value) == "beat_schedule" and node.args and not _empty_dict(node.args[0]):
                    yield "beat_schedule", None
                elif _is_conf(node.func.value):
                    for keyword in node.keywords:
                        if keyword.arg == "beat_schedule" and not _empty_dict(keyword.value):
                            yield "beat_schedule", None
                        elif keyword.arg == "beat_scheduler":
                            yield "beat_scheduler", keyword.value.value if is_str(keyword.value) else None


def _is_conf(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "conf"


def _conf_attr(node) -> str | None:
    """`beat_schedule` for `app.conf.beat_schedule`."""
    return node.attr if isinstance(node, ast.Attribute) and _is_conf(node.value) else None


def _empty_dict(node) -> bool:
    return (isinstance(node, ast.Dict) and not node.keys) or (
        isinstance(node, ast.Call) and called(node) == "dict" and not node.args and not node.keywords)


# --- the Procfile ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CeleryCommand:
    """What a `celery ...` command line says."""

    app: str | None  # -A / --app
    subcommand: str | None  # worker, beat, flower…
    beat: bool  # a beat line, or a worker embedding beat (-B)
    scheduler: str | None  # -S / --scheduler


def _read_procfile(procfile: Path, problems: list[WorkerProblem]) -> list[tuple[Process, CeleryCommand | None]]:
    found: list[tuple[Process, CeleryCommand | None]] = []
    others: dict[str, int] = {}
    try:
        text = procfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(WorkerProblem(procfile, f"{procfile} cannot be read: {exc}.", "Save it as UTF-8 text."))
        return found
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PROCFILE_LINE.match(line)
        if not match or not match.group(2).strip():
            problems.append(WorkerProblem(
                procfile, f"{procfile}:{number}: {line!r} is not a Procfile line (`name: command`).",
                "Write it as `name: command` (e.g. `worker: celery -A mysite worker`), or make it a comment with #."))
            continue
        name, command = match.group(1), match.group(2).strip()
        if name in NOT_PROCESSES:
            continue
        try:
            celery = _celery_command(shlex.split(command))
        except ValueError as exc:
            problems.append(WorkerProblem(
                procfile, f"{procfile}:{number}: the command of {name!r} cannot be read as a shell line ({exc}).",
                "Fix its quoting (a shell must be able to run it)."))
            continue
        if celery and celery.subcommand == "flower":
            problems.append(WorkerProblem(
                procfile, f"{procfile}:{number}: {name!r} runs Flower; the stack runs it only with --flower, behind "
                          "nginx and with a password.", "djstack init --flower", blocking=False))
            continue
        role = "other"
        if celery and celery.subcommand == "worker":
            role = "celery-worker"
        elif celery and celery.subcommand == "beat":
            role = "celery-beat"
        if role == "other" and name in others:
            problems.append(WorkerProblem(
                procfile, f"{procfile}:{number}: process type {name!r} is also on line {others[name]}; each "
                          "becomes a service of that name.", "Give each line a name of its own."))
            continue
        if role == "other":
            others[name] = number
        found.append((Process(name, command, role), celery))
    return found


#: Options of `celery` (before or after the subcommand) that take a value, as separate words.
_VALUE_OPTIONS = frozenset({"-A", "--app", "-b", "--broker", "--result-backend", "--loader", "--config",
                            "--workdir", "-S", "--scheduler", "-l", "--loglevel", "-c", "--concurrency",
                            "-Q", "--queues", "-n", "--hostname", "-P", "--pool", "-s", "--schedule",
                            "--pidfile", "-f", "--logfile", "-X", "--exclude-queues", "-O"})


#: Words after which `celery` is the program run: `exec celery`, `python -m celery`, `poetry run celery`.
_LAUNCHERS = frozenset({"exec", "-m", "env", "run", "run-program"})


def _celery_command(words: list[str]) -> CeleryCommand | None:
    """The celery invocation in a shell line (after `cd src &&`, `VAR=value`, `exec`, `python -m`)."""
    segments: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", "||", ";", "|"):
            segments.append([])
        else:
            segments[-1].append(word)
    for segment in segments:
        for i, word in enumerate(segment):
            if word.rsplit("/", 1)[-1] == "celery" and (i == 0 or segment[i - 1] in _LAUNCHERS
                                                         or "=" in segment[i - 1]):
                return _celery_words(segment[i + 1:])
    return None


def _celery_words(args: list[str]) -> CeleryCommand:
    app = subcommand = scheduler = None
    beat = False
    i = 0
    while i < len(args):
        word = args[i]
        option, eq, value = word.partition("=")
        if option in _VALUE_OPTIONS and not eq:
            value, i = (args[i + 1] if i + 1 < len(args) else ""), i + 1
        elif word.startswith("-A") and len(word) > 2 and not eq:
            option, value = "-A", word[2:]
        if option in ("-A", "--app"):
            app = value or None
        elif option in ("-S", "--scheduler"):
            scheduler = value or None
        elif word in ("-B", "--beat"):
            beat = True
        elif not word.startswith("-") and subcommand is None:
            subcommand = word
        i += 1
    return CeleryCommand(app, subcommand, beat or subcommand == "beat", scheduler)
