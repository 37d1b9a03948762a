"""Which settings module production runs: the one wsgi.py names, unless it is a development one.

manage.py names the module for the command line, which in generated projects (cookiecutter-django:
config.settings.local) is a development one; wsgi.py names the one the production server loads, and
the stack must run that. Read statically (ast), never imported, like all of detect.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from ..errors import DjstackError
from .pysource import is_str, module_file, parse, relative_path, settings_literals

#: Last names of settings modules meant for a developer's machine or the test run.
DEVELOPMENT_NAMES = ("local", "dev", "development", "test", "tests", "testing")
#: Last names of settings modules meant for a deployment, best first.
PRODUCTION_NAMES = ("production", "prod", "deploy", "live")
#: djstack's own overlay: never a candidate for the project's settings.
OVERLAY_NAME = "settings_docker"


@dataclass(frozen=True)
class SettingsChoice:
    module: str  # e.g. "config.settings.production"
    file: Path
    why: str  # one line for `init` to print


def choose_settings(
    app_dir: Path, manage_module: str, wsgi_file: Path | None, override: str | None = None
) -> SettingsChoice:
    """The settings module the stack runs, and why, in this order of precedence:

    1. `override` (`--settings MODULE`), which must exist;
    2. the module wsgi.py sets (what a production WSGI server loads);
    3. manage.py's module;
    where the module from 2 or 3 has a development name (local, dev, test, ...) and a sibling with a
    production name (production, prod, deploy, live) exists, the sibling is taken instead.
    """
    if override is not None:
        file = module_file(app_dir, override)
        if file is None or file.stem == OVERLAY_NAME:
            wsgi_module = _module_set_by(wsgi_file) if wsgi_file else None
            listed = ", ".join(settings_candidates(app_dir, manage_module, wsgi_module)) or "none found"
            raise DjstackError(
                f"--settings names {override!r}, but there is no such module below {app_dir} "
                f"(settings modules found: {listed}).",
                "Give --settings the dotted name of one of your settings modules, e.g. config.settings.production.",
            )
        return SettingsChoice(override, file, f"--settings names {override}")

    wsgi_module = _module_set_by(wsgi_file) if wsgi_file else None
    wsgi_name = relative_path(wsgi_file, app_dir) if wsgi_file else "wsgi.py"
    manage_file = module_file(app_dir, manage_module)
    wsgi_target = module_file(app_dir, wsgi_module) if wsgi_module else None

    if wsgi_target is not None:
        module, file, source = wsgi_module, wsgi_target, f"{wsgi_name} names {wsgi_module}"
        if wsgi_module == manage_module:
            source = f"manage.py and {wsgi_name} both name {wsgi_module}"
    elif manage_file is not None:
        module, file, source = manage_module, manage_file, f"manage.py names {manage_module}"
        if wsgi_module:  # wsgi.py names a module that is gone: say so, it is probably a stale edit
            source += f" ({wsgi_name} names {wsgi_module}, which does not exist)"
    else:
        raise DjstackError(
            f"manage.py names the settings module {manage_module!r}, but there is no such module below {app_dir}.",
            "Fix DJANGO_SETTINGS_MODULE in manage.py, or restore the settings file, or pass --settings MODULE.",
        )

    sibling = _production_sibling(app_dir, module)
    if sibling is not None:
        return SettingsChoice(
            sibling[0], sibling[1],
            f"{source}, a development module; its sibling {sibling[0]} is the production one",
        )
    if module == wsgi_module and wsgi_module != manage_module:
        kind = "is for development" if _is_development(manage_module) else "is for the command line"
        return SettingsChoice(module, file, f"{source} (manage.py's default {manage_module} {kind})")
    return SettingsChoice(module, file, source)


def locate_wsgi(app_dir: Path, manage_module: str) -> Path | None:
    """wsgi.py, found before the settings are chosen: `<top package>/wsgi.py` as startproject and
    cookiecutter-django lay it out, else the module manage.py's settings name in WSGI_APPLICATION."""
    top = manage_module.split(".")[0]
    found = module_file(app_dir, f"{top}.wsgi")
    if found is not None:
        return found
    settings_file = module_file(app_dir, manage_module)
    if settings_file is None:
        return None
    dotted = settings_literals(settings_file, app_dir).get("WSGI_APPLICATION")
    if isinstance(dotted, str) and "." in dotted:
        return module_file(app_dir, dotted.rpartition(".")[0])
    return None


def settings_candidates(app_dir: Path, manage_module: str, wsgi_module: str | None = None) -> list[str]:
    """Dotted names of the modules that look like settings, for error messages: manage.py's and
    wsgi.py's, their siblings in a settings package, and every settings.py / settings/*.py up to two
    folders down."""
    found: set[str] = set()
    for named in (manage_module, wsgi_module):
        if named and module_file(app_dir, named):
            found.add(named)
            parent = named.rpartition(".")[0]
            if parent and ("settings" in parent.rpartition(".")[2] or _is_development(named)):
                found.update(_modules_in(app_dir, parent))
    for pattern in ("*/settings.py", "*/*/settings.py", "*/settings/*.py", "*/*/settings/*.py"):
        for path in app_dir.glob(pattern):
            if path.stem not in ("__init__", OVERLAY_NAME) and not _skipped(path, app_dir):
                found.add(".".join(path.relative_to(app_dir).with_suffix("").parts))
    return sorted(found)


def _module_set_by(path: Path) -> str | None:
    """DJANGO_SETTINGS_MODULE as a file sets it: os.environ.setdefault("…", "x") or os.environ["…"] = "x"."""
    if path is None or not path.is_file():
        return None
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Call) and len(node.args) == 2 and all(is_str(a) for a in node.args):
            if node.args[0].value == "DJANGO_SETTINGS_MODULE":
                return node.args[1].value
        if isinstance(node, ast.Assign) and is_str(node.value):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and is_str(target.slice)
                    and target.slice.value == "DJANGO_SETTINGS_MODULE"
                ):
                    return node.value.value
    return None


def _production_sibling(app_dir: Path, module: str) -> tuple[str, Path] | None:
    if not _is_development(module):
        return None
    parent = module.rpartition(".")[0]
    if not parent:
        return None
    for name in PRODUCTION_NAMES:
        file = module_file(app_dir, f"{parent}.{name}")
        if file is not None:
            return f"{parent}.{name}", file
    return None


def _is_development(module: str) -> bool:
    return module.rpartition(".")[2] in DEVELOPMENT_NAMES


def _modules_in(app_dir: Path, package: str) -> list[str]:
    folder = app_dir.joinpath(*package.split("."))
    if not folder.is_dir():
        return []
    return [
        f"{package}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem not in ("__init__", OVERLAY_NAME)
    ]


def _skipped(path: Path, app_dir: Path) -> bool:
    """Inside a virtualenv or a dependency folder, not the project's own code."""
    parts = path.relative_to(app_dir).parts[:-1]
    return any(p.startswith(".") or p in ("venv", "env", "site-packages", "node_modules") for p in parts)
