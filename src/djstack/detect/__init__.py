"""Find out what a Django project looks like by reading its files.

The project is never imported: its dependencies are usually not installed on the host, and importing
settings would run arbitrary code. Python files are parsed with `ast`; only literal values are used.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DjstackError, NotDjangoProject
from . import placement
from .apps import AsgiInfo, any_branch, asgi_info, installed_apps, own_csp, uses_gis
from .envreads import EnvRead, env_reads
from .settings import choose_settings, locate_wsgi
from .buildsteps import JsBuild, ManageStep, build_steps
from .dependencies import Dependencies, find_dependencies
from .storage import own_static_storage
from .python import PythonRequest, python_request
from .pysource import module_file, parse, settings_literals
from .workers import CeleryApp, Process, WorkerProblem, detect_workers

#: Folders never searched for manage.py: environments, caches, generated stacks' own data.
SKIP_DIRS = {"node_modules", "venv", "env", "site-packages", "compose", "backups", "media", "static"}
#: How deep below the given folder manage.py may sit (a repository with the project in a subfolder).
SEARCH_DEPTH = 2


@dataclass(frozen=True)
class DjangoProject:
    root: Path  # where the stack's files go; the image's build context
    app_dir: PurePosixPath  # folder of manage.py, relative to root ("." when beside it)
    settings_module: str  # the production settings module, e.g. "mysite.settings" (settings.choose_settings)
    settings_file: Path
    wsgi_module: str  # e.g. "mysite.wsgi"
    wsgi_callable: str  # e.g. "application"
    dependencies: Dependencies  # what the image installs, from which file
    static_url: str  # as written in settings, e.g. "static/"; Django's default when absent
    media_url: str
    stack_dir: str = "."  # where djstack's files go, relative to root (see placement.py)
    gis: bool = False  # GeoDjango: the database engine must be the spatial one
    env_reads: tuple[EnvRead, ...] = ()  # variables the chosen settings read at import time
    settings_why: str = ""  # why this settings module (for init to say)
    asgi: AsgiInfo | None = None  # what an ASGI project gets served and what not
    manage_steps: tuple[ManageStep, ...] = ()  # manage.py commands the image build runs (compress…)
    js_build: JsBuild | None = None  # a package.json build, run in a Node stage of the image
    own_static_storage: bool = False  # the settings choose their static files storage (whitenoise…)
    python_request: PythonRequest | None = None  # the Python version a project file asks for
    own_csp: str | None = None  # the middleware sending the project's own Content-Security-Policy
    celery: CeleryApp | None = None  # the project's Celery app (None: none, or celery is not installed)
    processes: tuple[Process, ...] = ()  # a Procfile's lines other than web/release (workers.py)
    worker_problems: tuple[WorkerProblem, ...] = ()  # what keeps background work from running as found

    @property
    def overlay_module(self) -> str:
        """The generated settings module: a sibling of the project's own settings module."""
        parent = self.settings_module.rpartition(".")[0]
        return f"{parent}.settings_docker" if parent else "settings_docker"

    @property
    def overlay_file(self) -> PurePosixPath:
        return self.app_dir / (self.overlay_module.replace(".", "/") + ".py")


def detect(folder: Path, settings: str | None = None) -> DjangoProject:
    """Describe the Django project in `folder`, or explain why it is not one. `settings` overrides the
    choice of the production settings module (see settings.choose_settings)."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise NotDjangoProject(folder, f"{folder} is not a folder.", "Give the folder that holds your project's manage.py.")
    folder = folder.resolve()
    manage = _find_manage_py(folder)
    app_dir = manage.parent
    manage_module = _settings_module(manage)
    choice = choose_settings(app_dir, manage_module, locate_wsgi(app_dir, manage_module), settings)
    settings_module, settings_file = choice.module, choice.file
    values = settings_literals(settings_file, app_dir)
    wsgi_module, wsgi_callable = _wsgi_application(values, settings_module, app_dir, settings_file)
    root, dependencies = find_dependencies(folder, app_dir)
    steps, js_build = build_steps(root, app_dir, settings_file, values, dependencies.names)
    workers = detect_workers(app_dir, root, any_branch(settings_file, app_dir)[1],
                             installed_apps(settings_file, app_dir), dependencies.names,
                             root / dependencies.source)
    return DjangoProject(
        root=root,
        app_dir=PurePosixPath(app_dir.relative_to(root).as_posix()),
        settings_module=settings_module,
        settings_file=settings_file,
        wsgi_module=wsgi_module,
        wsgi_callable=wsgi_callable,
        dependencies=dependencies,
        static_url=str(values.get("STATIC_URL") or "static/"),
        media_url=str(values.get("MEDIA_URL") or "media/"),
        stack_dir=placement.stack_dir(root),
        python_request=python_request(root, app_dir),
        settings_why=choice.why,
        env_reads=tuple(env_reads(settings_file, app_dir)),
        gis=uses_gis(settings_file, app_dir),
        asgi=asgi_info(app_dir, values, settings_file),
        manage_steps=tuple(steps),
        js_build=js_build,
        own_static_storage=own_static_storage(settings_file, app_dir),
        own_csp=own_csp(settings_file, app_dir),
        celery=workers.celery,
        processes=workers.processes,
        worker_problems=workers.problems,
    )


def _find_manage_py(folder: Path) -> Path:
    if (folder / "manage.py").is_file():
        return folder / "manage.py"
    found = []
    level = [folder]
    for _ in range(SEARCH_DEPTH):
        level = [
            sub
            for parent in level
            for sub in sorted(parent.iterdir())
            if sub.is_dir() and not sub.name.startswith(".") and sub.name not in SKIP_DIRS
        ]
        found += [sub / "manage.py" for sub in level if (sub / "manage.py").is_file()]
        if found:
            break
    if not found:
        raise NotDjangoProject(
            folder,
            f"{folder} is not a Django project: no manage.py in it or in its subfolders "
            f"(up to {SEARCH_DEPTH} levels down).",
            "Run djstack in the folder that holds your project's manage.py.",
        )
    if len(found) > 1:
        listed = ", ".join(str(p.relative_to(folder)) for p in found)
        raise NotDjangoProject(
            folder,
            f"{folder} holds several Django projects ({listed}).",
            "Run djstack on the folder of the one to deploy.",
        )
    return found[0]


def _settings_module(manage: Path) -> str:
    """DJANGO_SETTINGS_MODULE as manage.py sets it: os.environ.setdefault("...", "x.settings")."""
    for node in ast.walk(parse(manage)):
        if (
            isinstance(node, ast.Call)
            and len(node.args) == 2
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
            and node.args[0].value == "DJANGO_SETTINGS_MODULE"
        ):
            return node.args[1].value
    raise NotDjangoProject(
        manage.parent,
        f"{manage} does not set DJANGO_SETTINGS_MODULE.",
        'Add os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yourproject.settings") as startproject does.',
    )


def _wsgi_application(values: dict, settings_module: str, app_dir: Path, settings_file: Path) -> tuple[str, str]:
    dotted = values.get("WSGI_APPLICATION")
    if isinstance(dotted, str) and "." in dotted:
        module, _, attr = dotted.rpartition(".")
        if module_file(app_dir, module):
            return module, attr
        raise DjstackError(
            f"WSGI_APPLICATION in {settings_file} is {dotted!r}, but module {module!r} does not exist.",
            "Point WSGI_APPLICATION at your project's wsgi.py (e.g. 'mysite.wsgi.application').",
        )
    # No literal WSGI_APPLICATION: startproject's layout puts wsgi.py in the top-level package.
    module = settings_module.split(".")[0] + ".wsgi"
    if module_file(app_dir, module):
        return module, "application"
    raise DjstackError(
        f"Cannot find the project's WSGI application: WSGI_APPLICATION is not set in {settings_file} "
        f"and {module.replace('.', '/')}.py does not exist.",
        "Set WSGI_APPLICATION = 'yourproject.wsgi.application' in your settings.",
    )
