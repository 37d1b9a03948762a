"""The environment variables the chosen settings read at import time, and which fail when unset.

Read statically (ast), never imported: a real project's settings read variables that are not set on
the host. Knowing the reads lets `init`/`up` supply or ask for them instead of crash-looping.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .pysource import included_files, is_str, module_file, parse, relative_path


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
            if self._resolve(target.value, ns) == "os.environ" and is_str(target.slice):
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
            if self._resolve(node.value, ns) == "os.environ" and is_str(node.slice):
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
        if func == "os.environ.setdefault" and call.args and is_str(call.args[0]):
            self.provided.add(call.args[0].value)
            return
        if func == "split_settings.include":
            # django-split-settings runs each file in the including module's namespace, in order.
            for path, optional in included_files(call, file):
                if path not in self.including:
                    self.including.add(path)
                    guard = (*cond, f"optional({relative_path(path, self.app_dir)!r}) exists") if optional else cond
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
        if args and is_str(args[0]):
            default = args[1] if len(args) > 1 else kw.get("default")
            return args[0].value, None, _default_state(default, none_is_default=False)
        return None
    if func in ("dj_database_url.config", "django_cache_url.config"):
        name_node = args[0] if args else kw.get("env")
        if name_node is not None and not is_str(name_node):
            return None
        default_name, kind = ("DATABASE_URL", "db_url") if func.startswith("dj_") else ("CACHE_URL", "cache_url")
        # Both return an empty/default configuration when the variable is unset: never a failure here.
        return (name_node.value if name_node is not None else default_name), kind, _DEFAULT
    return None


def _library_read(env: _Env, method: str, args: list, kw: dict):
    if env.library == "decouple":
        if method != "__call__" or not args or not is_str(args[0]):
            return None
        cast = args[2] if len(args) > 2 else kw.get("cast")
        default = args[1] if len(args) > 1 else kw.get("default")
        return args[0].value, _cast_kind(cast) if cast is not None else "str", _default_state(default)
    if env.library == "environs":
        kind = _ENVIRONS_METHODS.get(method)
        if kind is None or not args or not is_str(args[0]):
            return None
        return args[0].value, kind, _default_state(args[1] if len(args) > 1 else kw.get("default"))
    spec = _ENVIRON_METHODS.get(method)
    if spec is None:
        return None  # read_env, ENVIRON, parse_value…: not a read of one variable
    kind, default_at, default_var = spec
    name_node = args[0] if args else kw.get("var")
    if name_node is None and default_var:
        name = default_var
    elif name_node is not None and is_str(name_node):
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
