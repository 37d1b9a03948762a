"""Which settings module production uses, what it reads from the environment, GeoDjango, ASGI.

All of it is read statically (ast), never imported: the settings of a real project read variables
that are not set on the host and import packages that are not installed there.

Four questions, one public function each:
- choose_settings(): manage.py names the module for the command line, which in generated projects
  (cookiecutter-django: config.settings.local) is a development one; wsgi.py names the one the
  production server loads. The stack must run the production one.
- env_reads(): the environment variables the chosen settings read at import time, and which of them
  make the import fail when unset, so `init`/`up` can supply or ask for them instead of crash-looping.
- uses_gis(): GeoDjango needs GDAL/GEOS/PROJ in the image.
- asgi_info(): the stack serves WSGI (uWSGI); a project built around websockets must be told what
  will not work.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DjstackError
from .evaluate import Environment, Evaluator, Module, items_of
from .pysource import included_files, module_file, parse, settings_literals

# --------------------------------------------------------------------------------------------------
# 1. The production settings module
# --------------------------------------------------------------------------------------------------

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
    wsgi_name = _relative(wsgi_file, app_dir) if wsgi_file else "wsgi.py"
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
        if isinstance(node, ast.Call) and len(node.args) == 2 and all(_is_str(a) for a in node.args):
            if node.args[0].value == "DJANGO_SETTINGS_MODULE":
                return node.args[1].value
        if isinstance(node, ast.Assign) and _is_str(node.value):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and _is_str(target.slice)
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


# --------------------------------------------------------------------------------------------------
# 2. Environment variables read at import time
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvRead:
    """One environment variable the settings read while they are imported.

    `fails_when_unset`: this read raises when the variable is unset (no default) — wherever it is.
    `condition`: the test that guards the read (source text, several joined with " and "), or None
    when it always runs. A guarded read never counts as required: whether its guard holds depends
    on the environment djstack is about to write, and the lead decides (e.g. a read under
    `not ("DATABASE_URL" in os.environ)` is moot once DATABASE_URL is supplied).
    `required` = fails_when_unset and condition is None: the import fails without it.
    """

    name: str
    file: Path
    line: int
    kind: str  # "str" "int" "bool" "float" "list" "tuple" "dict" "json" "url" "db_url" "cache_url" "path" …
    required: bool
    condition: str | None = None
    fails_when_unset: bool = False


def env_reads(settings_file: Path, app_dir: Path) -> list[EnvRead]:
    """Every environment variable `settings_file` reads at import time, following its imports of
    project modules (and the packages it sits in, which Python imports first).

    Recognised: django-environ (`env("X")`, `env.str/bool/int/float/list/tuple/dict/json/url/path`,
    `env.db/db_url/cache/cache_url/email/email_url/search_url/channels_url`, `default=`, `cast=`, the
    scheme of `environ.Env(X=(type, default))`), environs (`env.str("X")`, `env.dj_db_url(...)`),
    python-decouple (`config("X", default=…, cast=…)`), `os.environ["X"]`, `os.environ.get("X")`,
    `os.getenv("X")`, `dj_database_url.config()` / `django_cache_url.config()`.

    A read whose default is None (os.environ.get / os.getenv without one, or `default=None`) fails
    only where its value is used at once: an attribute or subscript of it (`.split(",")`, `[0]`), an
    operand of `+`, or the argument of int(), float(), Decimal(), Path(), json.loads() or
    dj_database_url.parse(). A value stored in a name and used later is not followed.

    Not recognised on purpose: a project's own helper functions (`envsecret("X", "---")`), names
    computed at run time (f-strings), reads inside function bodies (they do not run at import time).
    A variable the settings themselves set first (`os.environ.setdefault("X", …)`) never fails.

    Order: as Python would execute them (an imported module's reads where the import stands); one
    entry per name, at its first read that fails unconditionally, else its first guarded read that
    fails, else its first read.
    """
    reader = _Reader(app_dir.resolve())
    reader.run(settings_file.resolve(), with_packages=True)
    return _merge(reader.reads)


# What a name in a module's namespace is bound to, as far as environment reads care.
@dataclass(frozen=True)
class _Env:
    """An environment reader instance: django-environ's Env(), environs' Env(), decouple's config."""

    library: str  # "environ" | "environs" | "decouple"
    scheme: tuple = ()  # django-environ: ((name, kind or None, has_default), ...)


@dataclass(frozen=True)
class _Method:
    env: _Env
    name: str


class _Module:
    """A project module imported as a name (`from . import base`): its attributes are its namespace."""

    __slots__ = ("namespace",)

    def __init__(self, namespace: dict):
        self.namespace = namespace


#: Known libraries by import name: what `import X` binds.
_LIBRARIES = {
    "os", "environ", "environs", "decouple", "dj_database_url", "django_cache_url", "json", "pathlib", "decimal",
    "split_settings",
}
#: `X.attr` (or `from X import attr`) → what it is.
_MEMBERS = {
    ("os", "environ"): "os.environ",
    ("os", "getenv"): "os.getenv",
    ("os.environ", "get"): "os.environ.get",
    ("os.environ", "setdefault"): "os.environ.setdefault",
    ("environ", "Env"): "environ.Env",
    ("environ", "FileAwareEnv"): "environ.Env",
    ("environs", "Env"): "environs.Env",
    ("decouple", "config"): _Env("decouple"),
    ("decouple", "AutoConfig"): "decouple.Config",
    ("decouple", "Config"): "decouple.Config",
    ("decouple", "Csv"): "decouple.Csv",
    ("dj_database_url", "config"): "dj_database_url.config",
    ("dj_database_url", "parse"): "dj_database_url.parse",
    ("django_cache_url", "config"): "django_cache_url.config",
    ("json", "loads"): "json.loads",
    ("pathlib", "Path"): "pathlib.Path",
    ("decimal", "Decimal"): "decimal.Decimal",
    ("split_settings.tools", "include"): "split_settings.include",
}
_ENVIRONS_INSTANCE = _Env("environs")
_ENVIRON_INSTANCE = _Env("environ")

# method → (kind, index of `default` among positional arguments, variable read when none is given).
# django-environ: the second positional argument of list/tuple/dict/__call__ is `cast`, not `default`.
_ENVIRON_METHODS = {
    "__call__": (None, 2, None), "get_value": (None, 2, None),
    "str": ("str", 1, None), "unicode": ("str", 1, None), "bytes": ("bytes", 1, None),
    "bool": ("bool", 1, None), "int": ("int", 1, None), "float": ("float", 1, None),
    "json": ("json", 1, None), "url": ("url", 1, None), "path": ("path", 1, None),
    "list": ("list", 2, None), "tuple": ("tuple", 2, None), "dict": ("dict", 2, None),
    "db_url": ("db_url", 1, "DATABASE_URL"), "db": ("db_url", 1, "DATABASE_URL"),
    "cache_url": ("cache_url", 1, "CACHE_URL"), "cache": ("cache_url", 1, "CACHE_URL"),
    "email_url": ("email_url", 1, "EMAIL_URL"), "email": ("email_url", 1, "EMAIL_URL"),
    "search_url": ("search_url", 1, "SEARCH_URL"),
    "channels_url": ("channels_url", 1, "CHANNELS_URL"), "channels": ("channels_url", 1, "CHANNELS_URL"),
}
# environs: every parser takes (name, default, ...).
_ENVIRONS_METHODS = {
    "__call__": "str", "str": "str", "int": "int", "bool": "bool", "float": "float", "decimal": "decimal",
    "list": "list", "dict": "dict", "json": "json", "datetime": "datetime", "date": "date", "time": "time",
    "timedelta": "timedelta", "path": "path", "log_level": "log_level", "uuid": "uuid", "url": "url",
    "enum": "enum", "dj_db_url": "db_url", "dj_cache_url": "cache_url", "dj_email_url": "email_url",
}
_CAST_KINDS = {name: name for name in ("bool", "int", "float", "str", "list", "tuple", "dict")}

_NO_DEFAULT, _NONE_DEFAULT, _DEFAULT = "none given", "None", "given"
#: Exceptions a failed read raises; a try whose handlers catch only import errors does not guard it.
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


@dataclass
class _Read:
    name: str
    file: Path
    line: int
    kind: str
    fails: bool
    condition: str | None


class _Reader:
    """Walks modules the way Python would run them at import, collecting environment reads."""

    def __init__(self, app_dir: Path):
        self.app_dir = app_dir
        self.reads: list[_Read] = []
        self.modules: dict[Path, dict] = {}  # file → its namespace (partial while it runs: cycles)
        self.provided: set[str] = set()  # set by the settings themselves before being read
        self.including: set[Path] = set()  # split_settings files being run (an include loop stops)

    # -- modules --------------------------------------------------------------------------------
    def run(self, file: Path, with_packages: bool = False) -> dict:
        """Run `file` once (Python caches modules: a second import reads nothing new)."""
        if with_packages:
            for package in self._packages_of(file):
                self.run(package)
        if file in self.modules:
            return self.modules[file]
        namespace: dict = {}
        self.modules[file] = namespace
        self._block(parse(file).body, file, namespace, ())
        return namespace

    def _packages_of(self, file: Path) -> list[Path]:
        """The __init__.py files Python imports before `file`, outermost first."""
        inits = []
        folder = file.parent
        while folder != self.app_dir and self.app_dir in folder.parents:
            if (folder / "__init__.py").is_file() and folder / "__init__.py" != file:
                inits.append(folder / "__init__.py")
            folder = folder.parent
        return inits[::-1]

    # -- statements -----------------------------------------------------------------------------
    def _block(self, body: list[ast.stmt], file: Path, ns: dict, cond: tuple[str, ...]) -> None:
        for stmt in body:
            self._statement(stmt, file, ns, cond)

    def _statement(self, stmt: ast.stmt, file: Path, ns: dict, cond: tuple[str, ...]) -> None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._import(stmt, file, ns)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ns[stmt.name] = None  # a project's own helper shadows whatever the name was
            for expr in [*stmt.decorator_list, *stmt.args.defaults, *stmt.args.kw_defaults]:
                if expr is not None:
                    self._expr(expr, None, file, ns, cond)
        elif isinstance(stmt, ast.ClassDef):
            self._block(stmt.body, file, dict(ns), cond)
            ns[stmt.name] = None
        elif isinstance(stmt, ast.If):
            self._expr(stmt.test, None, file, ns, cond)
            test = ast.unparse(stmt.test)
            self._block(stmt.body, file, ns, (*cond, test))
            self._block(stmt.orelse, file, ns, (*cond, f"not ({test})"))
        elif isinstance(stmt, ast.While):
            self._expr(stmt.test, None, file, ns, cond)
            self._block(stmt.body + stmt.orelse, file, ns, (*cond, ast.unparse(stmt.test)))
        elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            caught = [ast.unparse(h.type) if h.type else "any exception" for h in stmt.handlers]
            guards = stmt.handlers and not all(
                h.type is not None and ast.unparse(h.type) in _IMPORT_ERRORS for h in stmt.handlers
            )
            inner = (*cond, f"inside try/except {', '.join(caught)}") if guards else cond
            self._block(stmt.body, file, ns, inner)
            for handler in stmt.handlers:
                raised = ast.unparse(handler.type) if handler.type else "an exception"
                self._block(handler.body, file, ns, (*cond, f"when {raised} was raised"))
            self._block(stmt.orelse + stmt.finalbody, file, ns, cond)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._expr(stmt.iter, None, file, ns, cond)
            self._block(stmt.body + stmt.orelse, file, ns, cond)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self._expr(item.context_expr, None, file, ns, cond)
            self._block(stmt.body, file, ns, cond)
        elif isinstance(stmt, ast.Match):
            self._expr(stmt.subject, None, file, ns, cond)
            for case in stmt.cases:
                self._block(case.body, file, ns, (*cond, f"case {ast.unparse(case.pattern)}"))
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            if stmt.value is not None:
                self._expr(stmt.value, None, file, ns, cond)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                self._assign(target, stmt.value if not isinstance(stmt, ast.AugAssign) else None, file, ns, cond)
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self._expr(child, None, file, ns, cond)

    def _assign(self, target: ast.expr, value: ast.expr | None, file: Path, ns: dict, cond) -> None:
        if isinstance(target, ast.Name):
            ns[target.id] = self._bound(value, ns) if value is not None else None
        elif isinstance(target, ast.Subscript):
            # os.environ["X"] = "…": the settings supply X themselves.
            if self._resolve(target.value, ns) == "os.environ" and _is_str(target.slice):
                self.provided.add(target.slice.value)
            self._expr(target.value, None, file, ns, cond)
            self._expr(target.slice, None, file, ns, cond)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assign(element.value if isinstance(element, ast.Starred) else element, None, file, ns, cond)

    def _import(self, stmt: ast.Import | ast.ImportFrom, file: Path, ns: dict) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                top = alias.name.split(".")[0]
                target = module_file(self.app_dir, alias.name)
                if target is not None and top not in _LIBRARIES:
                    namespace = self.run(target, with_packages=True)
                    ns[alias.asname or top] = _Module(namespace) if alias.asname else None
                elif alias.asname:
                    ns[alias.asname] = alias.name if alias.name in _LIBRARIES else None
                else:
                    ns[top] = top if top in _LIBRARIES else None
            return
        library = (stmt.module or "").split(".")[0] if not stmt.level else None
        if library in _LIBRARIES:
            for alias in stmt.names:
                if alias.name != "*":
                    ns[alias.asname or alias.name] = self._member(stmt.module, alias.name)
            return
        package = self._package_dir(stmt, file)
        target = module_file(package, stmt.module) if package and stmt.module else None
        namespace = self.run(target, with_packages=True) if target else {}
        for alias in stmt.names:
            if alias.name == "*":
                ns.update({k: v for k, v in namespace.items() if not k.startswith("_")})
                continue
            bound = namespace.get(alias.name)
            if bound is None and package is not None:
                # `from . import base` / `from config.settings import base`: a submodule.
                sub_base = package.joinpath(*stmt.module.split(".")) if stmt.module else package
                sub = module_file(sub_base, alias.name)
                if sub is not None:
                    bound = _Module(self.run(sub, with_packages=True))
            ns[alias.asname or alias.name] = bound

    def _package_dir(self, stmt: ast.ImportFrom, file: Path) -> Path | None:
        if not stmt.level:
            return self.app_dir
        base = file.parent
        for _ in range(stmt.level - 1):
            base = base.parent
        return base

    # -- names ----------------------------------------------------------------------------------
    @staticmethod
    def _member(owner, attr: str):
        if isinstance(owner, _Module):
            return owner.namespace.get(attr)
        if isinstance(owner, _Env):
            return _Method(owner, attr)
        if owner == "environs" and attr == "env":
            return _ENVIRONS_INSTANCE
        return _MEMBERS.get((owner, attr))

    def _resolve(self, expr: ast.expr, ns: dict):
        if isinstance(expr, ast.Name):
            return ns.get(expr.id)
        if isinstance(expr, ast.Attribute):
            owner = self._resolve(expr.value, ns)
            return self._member(owner, expr.attr) if owner is not None else None
        return None

    def _bound(self, value: ast.expr, ns: dict):
        """What `name = value` binds, when it is an environment reader (or an alias of one)."""
        if isinstance(value, ast.Call):
            func = self._resolve(value.func, ns)
            if func == "environ.Env":
                return _Env("environ", tuple(_scheme(value)))
            if func == "environs.Env":
                return _ENVIRONS_INSTANCE
            if func == "decouple.Config":
                return _Env("decouple")
            return None
        return self._resolve(value, ns)

    # -- expressions ----------------------------------------------------------------------------
    def _expr(self, node: ast.expr, parent: ast.AST | None, file: Path, ns: dict, cond: tuple[str, ...]) -> None:
        if isinstance(node, ast.Lambda):
            return  # runs later, if ever
        if isinstance(node, ast.Call):
            self._call(node, parent, file, ns, cond)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if self._resolve(node.value, ns) == "os.environ" and _is_str(node.slice):
                self._record(node.slice.value, file, node, _use_kind(node, parent, self, ns) or "str", True, cond)
        if isinstance(node, ast.IfExp):
            test = ast.unparse(node.test)
            self._expr(node.test, node, file, ns, cond)
            self._expr(node.body, node, file, ns, (*cond, test))
            self._expr(node.orelse, node, file, ns, (*cond, f"not ({test})"))
            return
        if isinstance(node, ast.BoolOp):
            earlier: list[str] = []
            for value in node.values:
                self._expr(value, node, file, ns, (*cond, *earlier))
                text = ast.unparse(value)
                earlier.append(f"not ({text})" if isinstance(node.op, ast.Or) else text)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self._expr(child, node, file, ns, cond)
            elif isinstance(child, ast.comprehension):
                for sub in (child.iter, *child.ifs):
                    self._expr(sub, node, file, ns, cond)
            elif isinstance(child, ast.keyword):
                self._expr(child.value, node, file, ns, cond)

    def _call(self, call: ast.Call, parent, file: Path, ns: dict, cond) -> None:
        func = self._resolve(call.func, ns)
        if func == "os.environ.setdefault" and call.args and _is_str(call.args[0]):
            self.provided.add(call.args[0].value)
            return
        if func == "split_settings.include":
            # django-split-settings runs each file in the including module's namespace, in order.
            for path, optional in included_files(call, file):
                if path not in self.including:
                    self.including.add(path)
                    guard = (*cond, f"optional({_relative(path, self.app_dir)!r}) exists") if optional else cond
                    self._block(parse(path).body, path, ns, guard)
                    self.including.discard(path)
            return
        found = _read_of(call, func)
        if found is None:
            return
        name, kind, default = found
        if default == _NO_DEFAULT:
            fails = True
        elif default == _NONE_DEFAULT:
            fails = _value_required(call, parent, self, ns)
        else:
            fails = False
        if kind is None:
            kind = _use_kind(call, parent, self, ns) or "str"
        self._record(name, file, call, kind, fails, cond)

    def _record(self, name: str, file: Path, node: ast.AST, kind: str, fails: bool, cond) -> None:
        if name in self.provided:
            fails = False
        self.reads.append(_Read(name, file, node.lineno, kind, fails, " and ".join(cond) or None))


def _read_of(call: ast.Call, func) -> tuple[str, str | None, str] | None:
    """(variable, kind or None when the use decides it, default state) when `call` reads one."""
    args, kw = call.args, {k.arg: k.value for k in call.keywords if k.arg}
    if isinstance(func, _Env) or isinstance(func, _Method):
        env, method = (func, "__call__") if isinstance(func, _Env) else (func.env, func.name)
        return _library_read(env, method, args, kw)
    if func in ("os.getenv", "os.environ.get"):
        if args and _is_str(args[0]):
            default = args[1] if len(args) > 1 else kw.get("default")
            return args[0].value, None, _default_state(default, none_is_default=False)
        return None
    if func in ("dj_database_url.config", "django_cache_url.config"):
        name_node = args[0] if args else kw.get("env")
        if name_node is not None and not _is_str(name_node):
            return None
        default_name, kind = ("DATABASE_URL", "db_url") if func.startswith("dj_") else ("CACHE_URL", "cache_url")
        # Both return an empty/default configuration when the variable is unset: never a failure here.
        return (name_node.value if name_node is not None else default_name), kind, _DEFAULT
    return None


def _library_read(env: _Env, method: str, args: list, kw: dict):
    if env.library == "decouple":
        if method != "__call__" or not args or not _is_str(args[0]):
            return None
        cast = args[2] if len(args) > 2 else kw.get("cast")
        default = args[1] if len(args) > 1 else kw.get("default")
        return args[0].value, _cast_kind(cast) if cast is not None else "str", _default_state(default)
    if env.library == "environs":
        kind = _ENVIRONS_METHODS.get(method)
        if kind is None or not args or not _is_str(args[0]):
            return None
        return args[0].value, kind, _default_state(args[1] if len(args) > 1 else kw.get("default"))
    spec = _ENVIRON_METHODS.get(method)
    if spec is None:
        return None  # read_env, ENVIRON, parse_value…: not a read of one variable
    kind, default_at, default_var = spec
    name_node = args[0] if args else kw.get("var")
    if name_node is None and default_var:
        name = default_var
    elif name_node is not None and _is_str(name_node):
        name = name_node.value
    else:
        return None
    default = args[default_at] if len(args) > default_at else kw.get("default")
    if kind is None:  # env("X", cast=…): the cast decides, else the scheme, else a string
        cast = args[1] if len(args) > 1 else kw.get("cast")
        kind = _cast_kind(cast) if cast is not None else None
    state = _default_state(default)
    for scheme_name, scheme_kind, scheme_default in env.scheme:
        if scheme_name == name:
            kind = kind or scheme_kind
            if state == _NO_DEFAULT and scheme_default:
                state = _DEFAULT
    return name, kind or "str", state


def _scheme(call: ast.Call):
    """django-environ's Env(X=(type, default), Y=type): a cast for each, a default for the pairs."""
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        value = keyword.value
        if isinstance(value, ast.Tuple) and value.elts:
            yield keyword.arg, _cast_kind(value.elts[0]), len(value.elts) >= 2
        else:
            yield keyword.arg, _cast_kind(value), False


def _cast_kind(cast: ast.expr) -> str:
    if isinstance(cast, ast.Name):
        return _CAST_KINDS.get(cast.id, "decimal" if cast.id == "Decimal" else "str")
    if isinstance(cast, ast.List):
        return "list"
    if isinstance(cast, ast.Tuple):
        return "tuple"
    if isinstance(cast, ast.Dict):
        return "dict"
    if isinstance(cast, ast.Call) and isinstance(cast.func, (ast.Name, ast.Attribute)):
        if (cast.func.id if isinstance(cast.func, ast.Name) else cast.func.attr) == "Csv":
            return "list"
    if isinstance(cast, ast.Attribute) and cast.attr == "loads":
        return "json"
    return "str"


def _default_state(default: ast.expr | None, none_is_default: bool = True) -> str:
    if default is None:
        return _NO_DEFAULT if none_is_default else _NONE_DEFAULT
    if isinstance(default, ast.Constant) and default.value is None:
        return _NONE_DEFAULT
    return _DEFAULT


#: Calls that fail on None, and the kind of value they make of a variable.
_CONSUMERS = {
    "decimal.Decimal": "decimal", "pathlib.Path": "path", "json.loads": "json", "dj_database_url.parse": "db_url",
}


def _consumer(call: ast.Call, reader: _Reader, ns: dict) -> str | None:
    resolved = reader._resolve(call.func, ns)
    if isinstance(resolved, str) and resolved in _CONSUMERS:
        return _CONSUMERS[resolved]
    if isinstance(call.func, ast.Name) and call.func.id in ("int", "float") and call.func.id not in ns:
        return call.func.id  # the builtin, not shadowed by the settings
    return None


def _value_required(node: ast.expr, parent, reader: _Reader, ns: dict) -> bool:
    """Whether a value that may be None is used at once where None fails (the documented rule)."""
    if isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node:
        return True
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add):
        return True
    return isinstance(parent, ast.Call) and node in parent.args and _consumer(parent, reader, ns) is not None


def _use_kind(node: ast.expr, parent, reader: _Reader, ns: dict) -> str | None:
    """The kind of a plain string read, from what is done with it at once."""
    if isinstance(parent, ast.Call) and node in parent.args:
        return _consumer(parent, reader, ns)
    if isinstance(parent, ast.Attribute) and parent.value is node and parent.attr == "split":
        return "list"
    return None


def _merge(reads: list[_Read]) -> list[EnvRead]:
    by_name: dict[str, list[_Read]] = {}
    for read in reads:
        by_name.setdefault(read.name, []).append(read)
    chosen = []
    for group in by_name.values():
        best = next((r for r in group if r.fails and r.condition is None), None)
        best = best or next((r for r in group if r.fails), None) or group[0]
        chosen.append((reads.index(best), best))
    return [
        EnvRead(r.name, r.file, r.line, r.kind, r.fails and r.condition is None, r.condition, r.fails)
        for _, r in sorted(chosen, key=lambda pair: pair[0])
    ]


# --------------------------------------------------------------------------------------------------
# 3. INSTALLED_APPS and GeoDjango
# --------------------------------------------------------------------------------------------------

#: Database URL schemes of GeoDjango's backends (dj-database-url, django-environ).
_GIS_URL = re.compile(r"^(postgis|spatialite|mysqlgis|oraclegis)://")


def installed_apps(settings_file: Path, app_dir: Path) -> list[str]:
    """Every app name INSTALLED_APPS can hold, across the import chain: literal lists and tuples,
    names of other lists (DJANGO_APPS + THIRD_PARTY_APPS), `*spread`, `+=`, append/insert/extend.
    Both branches of an if count (an app installed only `if DEBUG:` is still listed)."""
    return _apps(_app_lists(settings_file, app_dir)[1])


def uses_gis(settings_file: Path, app_dir: Path) -> bool:
    """GeoDjango: django.contrib.gis installed, or a GIS database backend named anywhere in the
    settings' chain (an ENGINE "django.contrib.gis.db.backends.…", a postgis:// URL default)."""
    evaluator, module = _app_lists(settings_file, app_dir)
    if any(app == "django.contrib.gis" or app.startswith("django.contrib.gis.") for app in _apps(module)):
        return True
    for file in evaluator.files:
        for node in ast.walk(parse(file)):
            if _is_str(node) and (node.value.startswith("django.contrib.gis.db.") or _GIS_URL.match(node.value)):
                return True
    return False


def _app_lists(settings_file: Path, app_dir: Path) -> tuple[Evaluator, Module]:
    """The settings evaluated for what any branch could put in a list (every_branch)."""
    evaluator = Evaluator(app_dir.resolve(), Environment({}), every_branch=True)
    return evaluator, evaluator.load(settings_file.resolve())


def _apps(module: Module) -> list[str]:
    return _unique([a for a in items_of(module.values.get("INSTALLED_APPS", [])) if isinstance(a, str)])


# --------------------------------------------------------------------------------------------------
# 4. ASGI
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsgiInfo:
    asgi_file: Path  # the ASGI application's module (the settings file when it cannot be found)
    websocket: bool  # Channels routing that serves websockets
    statement: str  # what the stack will and will not serve, for `init` to print


def asgi_info(app_dir: Path, settings_values: dict, settings_file: Path) -> AsgiInfo | None:
    """What the WSGI-only stack leaves out of an ASGI project, or None for an ordinary project
    (asgi.py as startproject writes it, no Channels/Daphne installed; ASGI_APPLICATION alone serves
    nothing without them)."""
    app_dir = app_dir.resolve()
    apps = installed_apps(settings_file, app_dir)
    channels = [a for a in apps if a.split(".")[0] in ("channels", "daphne")]
    dotted = settings_values.get("ASGI_APPLICATION")
    asgi_module = dotted.rpartition(".")[0] if isinstance(dotted, str) and "." in dotted else None
    try:
        top = settings_file.resolve().relative_to(app_dir).parts[0].removesuffix(".py")
    except ValueError:
        top = ""
    named = module_file(app_dir, asgi_module) if asgi_module else None
    beside = module_file(app_dir, f"{top}.asgi") if top else None
    files = list(dict.fromkeys(f for f in (named, beside) if f))
    evidence = [fact for f in files for fact in _asgi_facts(f)]
    custom = [f for f in files if not _is_startproject_asgi(f)]
    if not channels and not custom:
        return None

    asgi_file = files[0] if files else settings_file
    where = _relative(asgi_file, app_dir)
    websocket = any(fact.startswith(("ProtocolTypeRouter", "URLRouter", "websocket_urlpatterns")) for fact in evidence)
    wsgi = settings_values.get("WSGI_APPLICATION")
    wsgi_text = f"the WSGI application ({wsgi})" if isinstance(wsgi, str) else "the project's WSGI application"
    serve_asgi = (
        f"run the ASGI application ({dotted if isinstance(dotted, str) else where}) with Daphne or Uvicorn "
        "as a service of its own and have nginx (compose/nginx/nginx.conf) pass those paths to it "
        "with the Upgrade and Connection headers"
    )
    if websocket:
        statement = (
            f"{where} serves websockets through Channels ({', '.join(evidence)}). This stack serves "
            f"HTTP only, through WSGI: uWSGI runs {wsgi_text}, so every HTTP view works, but websocket "
            "connections are not served: the consumers never run and pages that open a websocket fail "
            f"to connect. To serve them, {serve_asgi}; or turn the websocket features off."
        )
    else:
        what = ", ".join(evidence) or (f"{', '.join(channels)} in INSTALLED_APPS" if channels else "a custom asgi.py")
        statement = (
            f"{where} is an ASGI application ({what}). This stack serves it through WSGI: uWSGI runs "
            f"{wsgi_text}, so HTTP views work (async views too, each in a thread of its own), but "
            f"nothing {where} adds around Django is used. If you need it, {serve_asgi}."
        )
    return AsgiInfo(asgi_file, websocket, statement)


def _asgi_facts(path: Path) -> list[str]:
    """What an ASGI module does beyond Django's own handler, as short phrases."""
    facts: list[str] = []
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name == "ProtocolTypeRouter":
                keys = [k.value for a in node.args if isinstance(a, ast.Dict) for k in a.keys if _is_str(k)]
                if "websocket" in keys:
                    facts.append('ProtocolTypeRouter with "websocket"')
            elif name == "URLRouter":
                facts.append("URLRouter")
        elif isinstance(node, (ast.Name, ast.alias, ast.Attribute)):
            text = getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", "")
            if "websocket_urlpatterns" in text:
                facts.append("websocket_urlpatterns")
    return list(dict.fromkeys(facts))


def _is_startproject_asgi(path: Path) -> bool:
    """Only what startproject writes: imports of os and get_asgi_application, the settings default,
    `application = get_asgi_application()`."""
    for stmt in parse(path).body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # the docstring
        if isinstance(stmt, ast.Import) and all(a.name == "os" for a in stmt.names):
            continue
        if isinstance(stmt, ast.ImportFrom) and stmt.module in ("django.core.asgi", "__future__"):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _call_name(stmt.value) == "setdefault":
            continue
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.value, ast.Call)
            and _call_name(stmt.value) == "get_asgi_application"
        ):
            continue
        return False
    return True


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------


def _is_str(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
