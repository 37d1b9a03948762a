"""Django settings evaluated statically: read with `ast`, never imported (that would run the project).

One evaluator for every reader of settings values: `djstack check` (the settings web runs, against
web's environment), build-step detection (the production settings, in the stack's environment) and
the apps INSTALLED_APPS may hold (detect/apps.py: GeoDjango, Channels). A
module is evaluated statement by statement: literals, `from x import *` and named imports of project
modules, `os.environ.get` / `os.getenv` / `os.environ[...]`, `Path(__file__).parent`, `os.path.join`,
arithmetic, comparisons, and small helpers that read one variable (`_required("X")`). Anything else
is UNKNOWN, and callers skip what they cannot know.

What differs between callers is a policy, not a second evaluator:
- the `Environment`: what a variable holds (web's compose environment with the `.env` line each value
  came from; or the few variables the stack sets, else the read's default) and which calls read one
  (os's only; or django-environ's `env.bool(...)` and decouple's `config(...)` too);
- `partial`: whether a list known only in part is kept as `AtLeast` its known items (an unknown
  branch then adds what it appends), or is simply UNKNOWN;
- `every_branch`: the question is what any branch could set (the apps INSTALLED_APPS may hold): every
  branch of every `if` and `try` runs from the same start and names hold the union of what each gave
  them, loop and `with` bodies run once, and django-split-settings' include() runs its files.
"""

from __future__ import annotations

import ast
import copy
import operator
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .pysource import included_files, module_file, parse


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
#: A read without a default (os.environ.get("X")), told apart from a default of None.
ABSENT = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()

#: Django's defaults for the settings rules commonly read (an assignment to one of these names in
#: another case, `Debug = False`, is recorded as a typo).
DJANGO_DEFAULTS = {
    "DEBUG": False, "ALLOWED_HOSTS": [], "CSRF_TRUSTED_ORIGINS": [], "SECURE_PROXY_SSL_HEADER": None,
    "DATA_UPLOAD_MAX_MEMORY_SIZE": 2621440, "STATIC_URL": None, "MEDIA_URL": "", "STATIC_ROOT": None,
    "MEDIA_ROOT": "", "DATABASES": {}, "CACHES": {},
}


class EnvStr(str):
    """A string read from the environment, with where the environment got it."""

    var: str
    origin: tuple[str, int | None]


class EnvList(list):
    var: str
    origin: tuple[str, int | None]


def _tag(value, var: str, origin):
    value.var, value.origin = var, origin
    return value


@dataclass(frozen=True)
class AtLeast:
    """A list known only in part: it holds at least these items (`UNKNOWN + ["compressor"]`)."""

    items: tuple


def known(value) -> bool:
    return value is not UNKNOWN and not isinstance(value, AtLeast)


@dataclass
class Write:
    keys: tuple  # () for `NAME = …`, ("default", "HOST") for `NAME["default"]["HOST"] = …`
    file: Path
    line: int
    node: ast.AST | None  # the assigned expression
    source: str = ""  # the statement's value as written (the whole statement for += and .append())


@dataclass
class EnvRead:
    var: str
    required: bool
    file: Path
    line: int
    present: bool


@dataclass
class Module:
    values: dict = field(default_factory=dict)
    writes: dict = field(default_factory=dict)
    aliases: dict = field(default_factory=dict)  # name -> dotted origin ("os", "pathlib.Path")
    functions: dict = field(default_factory=dict)
    typos: list = field(default_factory=list)  # (name, file, line): `Debug = False`
    opaque: bool = False  # a module it imports (or itself) could not be read: names it lacks are unknown

    def branch(self) -> Module:
        """A copy to run one branch of an `if` on (values and writes copied one level deep)."""
        return Module(dict(self.values), {k: list(v) for k, v in self.writes.items()}, dict(self.aliases),
                      dict(self.functions), list(self.typos), self.opaque)


#: The calls that read one variable in every environment, and in the stack's also the libraries'
#: (django-environ's Env instance `env`, decouple's `config`): dotted name -> how its value is cast.
OS_READERS = {"os.environ.get": None, "os.getenv": None, "os.environ.setdefault": None}
LIBRARY_READERS = {
    **{f"{base}.{method}": cast for base in ("env", "environ.Env", "self.env")
       for method, cast in (("bool", bool), ("str", str), ("int", int), ("list", list), ("float", float))},
    "env": "cast=", "config": "cast=", "decouple.config": "cast=",
}
_TRUE_STRINGS = {"true", "on", "ok", "y", "yes", "1"}  # django-environ's and decouple's true strings


class Environment:
    """What the settings read from the environment: `values` by name (a str, or an EnvStr knowing its
    origin), the calls that read it (`readers`), and what a read of an unset variable gives."""

    def __init__(self, values: dict[str, str], readers: dict = OS_READERS, none_is_unknown: bool = True):
        self.values = values
        self.readers = readers
        self.none_is_unknown = none_is_unknown  # os.environ.get("X", None) of an unset X: UNKNOWN, or None

    @classmethod
    def of_container(cls, env: dict) -> Environment:
        """A container's environment (name -> compose Value): each value remembers where it is set."""
        return cls({k: _tag(EnvStr(v.text), k, (v.file, v.line)) for k, v in env.items()})

    def unset(self, default):
        if default is ABSENT or (default is None and self.none_is_unknown):
            return UNKNOWN
        return default


_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_PATH_FUNCS = {
    "os.path.join": posixpath.join, "os.path.dirname": posixpath.dirname, "os.path.abspath": posixpath.normpath,
    "os.path.realpath": posixpath.normpath, "os.path.normpath": posixpath.normpath, "os.path.basename": posixpath.basename,
}
_PATH_TYPES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath"}
_STR_METHODS = {"lower", "upper", "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "replace", "title"}
_BUILTINS = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "tuple": tuple}
_MAX_DEPTH = 20


class Evaluator:
    """Evaluates settings modules against an Environment."""

    def __init__(self, app_dir: Path, environment: Environment, *, file_path: Callable = lambda path: None,
                 parse: Callable[[Path], ast.Module | None] = parse, partial: bool = False,
                 every_branch: bool = False):
        self.app_dir = app_dir
        self.environment = environment
        self.file_path = file_path  # host Path -> the value of __file__ there (a path in the container), or None
        self.parse = parse  # a file's tree; None when it cannot be read (the module is then opaque)
        self.partial = partial or every_branch
        self.every_branch = every_branch
        self.included: list[Path] = []  # django-split-settings files run (every_branch)
        self._cache: dict[Path, Module] = {}
        self.reads: list[EnvRead] = []  # every environment lookup, for settings-env-not-set

    @property
    def files(self) -> list[Path]:
        """Every module read."""
        return [*self._cache, *self.included]

    def module_file(self, dotted: str, base: Path | None = None) -> Path | None:
        return module_file(base or self.app_dir, dotted)

    def load(self, path: Path, _depth: int = 0) -> Module:
        if path in self._cache:
            return self._cache[path]
        self._cache[path] = Module()  # a cycle sees an empty module instead of recursing
        tree = self.parse(path)
        module = Module(opaque=tree is None)
        if tree is not None:
            self._run(tree.body, module, path, _depth)
        self._cache[path] = module
        return module

    # --- statements -----------------------------------------------------------------------------

    def _run(self, body, m: Module, path: Path, depth: int) -> None:
        for node in body:
            self._statement(node, m, path, depth)

    def _statement(self, node, m: Module, path: Path, depth: int) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                m.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            self._import_from(node, m, path, depth)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            value = self._eval(node.value, m, path)
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                self._assign(target, value, node.value, m, path)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
            old, new = m.values.get(name, UNKNOWN), self._eval(node.value, m, path)
            m.values[name] = self._binop(node.op, old, new)
            m.writes.setdefault(name, []).append(Write((), path, node.lineno, None, ast.unparse(node)))
        elif isinstance(node, ast.FunctionDef):
            m.functions[node.name] = node
        elif self.every_branch and isinstance(node, (ast.If, ast.Try, ast.For, ast.With)):
            self._every_branch(node, m, path, depth)
        elif isinstance(node, ast.If):
            test = self._eval(node.test, m, path)
            if known(test):
                self._run(node.body if test else node.orelse, m, path, depth)
            elif self.partial:
                self._either_branch(node, m, path, depth)
            else:
                for name in _assigned(node.body + node.orelse):
                    m.values[name] = UNKNOWN
                    m.writes.setdefault(name, []).append(Write((), path, node.lineno, None))
        elif isinstance(node, ast.Try):
            self._run(node.body + node.orelse + node.finalbody, m, path, depth)
        elif isinstance(node, (ast.For, ast.While, ast.With, ast.AsyncFor, ast.AsyncWith)):
            for name in _assigned(node.body + getattr(node, "orelse", [])):
                m.values[name] = UNKNOWN
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            if self.every_branch and self._called(node.value, m) == "include":
                self._include(node.value, m, path, depth)
            self._mutating_call(node.value, m, path)

    def _every_branch(self, node, m: Module, path: Path, depth: int) -> None:
        """Each branch from the same start; afterwards a name holds what any branch gave it."""
        if isinstance(node, ast.If):
            branches = [node.body, node.orelse]
        elif isinstance(node, ast.Try):
            branches = [node.body + node.orelse, *[h.body for h in node.handlers]]
        else:
            branches = [node.body]
        start, merged = m.branch(), {}
        for body in branches:
            trial = start.branch()
            self._run(body, trial, path, depth)
            for name, value in trial.values.items():
                merged[name] = _union(merged[name], value) if name in merged else value
            for name, writes in trial.writes.items():
                if writes != start.writes.get(name):
                    m.writes[name] = writes
        m.values.update(merged)
        if isinstance(node, ast.Try):
            self._run(node.finalbody, m, path, depth)

    def _include(self, call: ast.Call, m: Module, path: Path, depth: int) -> None:
        """django-split-settings runs each included file in the including module's namespace."""
        for file, _ in included_files(call, path):
            tree = self.parse(file) if file not in self.included else None
            if tree is not None:
                self.included.append(file)
                self._run(tree.body, m, file, depth)

    def _called(self, call: ast.Call, m: Module) -> str | None:
        dotted = self._dotted(call.func, m)
        return dotted.rpartition(".")[2] if dotted else None

    def _either_branch(self, node: ast.If, m: Module, path: Path, depth: int) -> None:
        """Either branch may run: what they assign is unknown, except the items either one adds to
        a list (kept as AtLeast those items)."""
        for body in (node.body, node.orelse):
            trial = m.branch()
            self._run(body, trial, path, depth)
            for name, writes in trial.writes.items():
                if writes != m.writes.get(name):
                    value = trial.values.get(name, UNKNOWN)
                    m.values[name] = AtLeast(tuple(value)) if isinstance(value, (list, tuple)) else (
                        value if isinstance(value, AtLeast) else UNKNOWN)
                    m.writes[name] = writes

    def _import_from(self, node: ast.ImportFrom, m: Module, path: Path, depth: int) -> None:
        base = path.parent
        for _ in range(max(node.level - 1, 0)):
            base = base.parent
        target = None
        if node.module and depth < _MAX_DEPTH:
            target = self.module_file(node.module, base if node.level else None)
        if target is None:
            for a in node.names:
                if a.name != "*":
                    m.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            return
        other = self.load(target, depth + 1)
        for a in node.names:
            if a.name == "*":
                m.opaque = m.opaque or other.opaque
                for name, value in other.values.items():
                    if not name.startswith("_"):
                        m.values[name] = value
                        m.writes[name] = list(other.writes.get(name, []))
                m.typos += other.typos
            elif a.name in other.values:
                m.values[a.asname or a.name] = other.values[a.name]
                m.writes[a.asname or a.name] = list(other.writes.get(a.name, []))

    def _assign(self, target, value, value_node, m: Module, path: Path) -> None:
        if isinstance(target, ast.Name):
            m.values[target.id] = value
            m.writes[target.id] = [Write((), path, target.lineno, value_node, _source(value_node))]
            if target.id != target.id.upper() and target.id.upper() in DJANGO_DEFAULTS:
                m.typos.append((target.id, path, target.lineno))
        elif isinstance(target, ast.Subscript):
            keys, base = [], target
            while isinstance(base, ast.Subscript):
                keys.insert(0, self._eval(base.slice, m, path))
                base = base.value
            if not isinstance(base, ast.Name) or base.id not in m.values:
                return
            root = m.values[base.id]
            m.writes.setdefault(base.id, []).append(Write(tuple(keys), path, target.lineno, value_node, _source(value_node)))
            try:
                root = copy.deepcopy(root)
                holder = root
                for key in keys[:-1]:
                    holder = holder[key]
                holder[keys[-1]] = value
                m.values[base.id] = root
            except (TypeError, KeyError, IndexError):
                m.values[base.id] = UNKNOWN
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value if isinstance(value, (tuple, list)) and len(value) == len(target.elts) else None
            for i, element in enumerate(target.elts):
                self._assign(element, values[i] if values else UNKNOWN, None, m, path)

    def _mutating_call(self, call: ast.Call, m: Module, path: Path) -> None:
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in m.values):
            return
        name = func.value.id
        args = [self._eval(a, m, path) for a in call.args]
        value = copy.deepcopy(m.values[name])
        if self.partial and not known(value) and func.attr in _ADDING and len(args) == _ADDING[func.attr]:
            added = args[-1] if func.attr == "extend" else [args[-1]]
            value = _add(value, added)  # items added to a list known in part
        else:
            try:
                if UNKNOWN in args or value is UNKNOWN or func.attr not in ("append", "extend", "insert", "update"):
                    raise TypeError
                getattr(value, func.attr)(*args)
            except (TypeError, AttributeError, ValueError):
                value = UNKNOWN
        m.values[name] = value
        m.writes.setdefault(name, []).append(Write((), path, call.lineno, None, ast.unparse(call)))

    # --- expressions ----------------------------------------------------------------------------

    def _eval(self, node, m: Module, path: Path):
        try:
            return self._expr(node, m, path)
        except Exception:  # anything the real interpreter would do differently is simply unknown
            return UNKNOWN

    def _expr(self, node, m: Module, path: Path):
        ev = lambda n: self._eval(n, m, path)  # noqa: E731
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if self.partial and any(isinstance(e, ast.Starred) for e in node.elts):
                return self._spread(node, m, path)
            items = [ev(e) for e in node.elts]
            return {ast.List: list, ast.Tuple: tuple, ast.Set: lambda x: x}[type(node)](items)
        if isinstance(node, ast.Dict):
            result = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    spread = ev(v)
                    if not isinstance(spread, dict):
                        return UNKNOWN
                    result.update(spread)
                else:
                    result[ev(k)] = ev(v)
            return result
        if isinstance(node, ast.JoinedStr):
            parts = [ev(v.value) if isinstance(v, ast.FormattedValue) else v.value for v in node.values]
            return UNKNOWN if UNKNOWN in parts else "".join(str(p) for p in parts)
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                inside = self.file_path(path)
                return inside if inside is not None else UNKNOWN
            return m.values.get(node.id, UNKNOWN)
        if isinstance(node, ast.Attribute):
            base = ev(node.value)
            if isinstance(base, PurePosixPath) and node.attr in ("parent", "name", "stem"):
                return getattr(base, node.attr)
            return UNKNOWN
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div) and isinstance(left, PurePosixPath) and isinstance(right, (str, PurePosixPath)):
                return left / right
            return self._binop(node.op, left, right)
        if isinstance(node, ast.UnaryOp):
            operand = ev(node.operand)
            if not known(operand):
                return UNKNOWN
            return {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}[type(node.op)](operand)
        if isinstance(node, ast.BoolOp):
            result = None
            for value_node in node.values:
                result = ev(value_node)
                if not known(result) or (isinstance(node.op, ast.And) and not result) or (isinstance(node.op, ast.Or) and result):
                    return result
            return result
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return _apply(_COMPARE[type(node.ops[0])], ev(node.left), ev(node.comparators[0]))
        if isinstance(node, ast.IfExp):
            test = ev(node.test)
            return ev(node.body if test else node.orelse) if known(test) else UNKNOWN
        if isinstance(node, ast.Subscript):
            if self._dotted(node.value, m) == "os.environ":
                return self._env(ev(node.slice), ABSENT, True, node, path)
            base, key = ev(node.value), ev(node.slice)
            return UNKNOWN if UNKNOWN in (base, key) else base[key]
        if isinstance(node, ast.Call):
            return self._call(node, m, path)
        return UNKNOWN

    def _dotted(self, node, m: Module) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in m.values:
                return None
            return m.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value, m)
            return f"{base}.{node.attr}" if base else None
        return None

    def _call(self, node: ast.Call, m: Module, path: Path):
        ev = lambda n: self._eval(n, m, path)  # noqa: E731
        name = self._dotted(node.func, m)
        args = [ev(a) for a in node.args]
        if name in self.environment.readers:
            default = next((ev(k.value) for k in node.keywords if k.arg == "default"), ABSENT)
            default = args[1] if len(args) > 1 else default
            value = self._env(args[0] if args else UNKNOWN, default, False, node, path)
            return _cast(value, self.environment.readers[name], node)
        if name in _PATH_FUNCS and args and UNKNOWN not in args:
            return _PATH_FUNCS[name](*[str(a) for a in args])
        if name in _PATH_TYPES or (name == "Path" and "Path" not in m.functions):
            return PurePosixPath(*[str(a) for a in args]) if UNKNOWN not in args else UNKNOWN
        if name in _BUILTINS and len(args) == 1 and args[0] is not UNKNOWN:
            if isinstance(args[0], AtLeast) and name in ("list", "tuple"):
                return args[0]
            return _BUILTINS[name](args[0])
        if name in m.functions:
            return self._helper(m.functions[name], args, node, path)
        if isinstance(node.func, ast.Attribute):
            base = ev(node.func.value)
            if isinstance(base, PurePosixPath) and node.func.attr in ("resolve", "absolute"):
                return base
            if isinstance(base, PurePosixPath) and node.func.attr == "joinpath" and UNKNOWN not in args:
                return base.joinpath(*map(str, args))
            if isinstance(base, str) and node.func.attr in _STR_METHODS and UNKNOWN not in args:
                return getattr(str(base), node.func.attr)(*args)
        return UNKNOWN

    def _env(self, var, default, required: bool, node, path: Path):
        """The value of a read of `var` (ABSENT: a read without a default)."""
        if not isinstance(var, str):
            return UNKNOWN
        found = self.environment.values.get(var)
        self.reads.append(EnvRead(var, required and default in (ABSENT, None), path, node.lineno, found is not None))
        return self.environment.unset(default) if found is None else found

    def _binop(self, op: ast.operator, left, right):
        if self.partial and isinstance(op, ast.Add):
            return _add(left, right)
        return _apply(_BINOPS.get(type(op)), left, right)

    def _spread(self, node, m: Module, path: Path):
        """A list display with `*name` in it; AtLeast its known items when a spread one is not known."""
        items: list = []
        partial = False
        for element in node.elts:
            if not isinstance(element, ast.Starred):
                items.append(self._eval(element, m, path))
                continue
            inner = self._eval(element.value, m, path)
            if isinstance(inner, (list, tuple)):
                items.extend(inner)
            else:
                partial = True
                items.extend(items_of(inner))
        if partial:
            return AtLeast(tuple(items))
        return tuple(items) if isinstance(node, ast.Tuple) else items

    def _helper(self, func: ast.FunctionDef, args, node, path: Path):
        """A settings helper that reads the environment variable named by its first parameter:
        `_required("X")` gives the value, `_list("X")` (one that splits) a list of stripped items."""
        params = [a.arg for a in func.args.args]
        if not params or not args or not isinstance(args[0], str):
            return UNKNOWN
        reads_param = splits = raises = False
        separator = None
        for sub in ast.walk(func):
            if isinstance(sub, ast.Name) and sub.id == params[0]:
                reads_param = True
            if isinstance(sub, ast.Raise):
                raises = True
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "split":
                splits = True
                if sub.args and isinstance(sub.args[0], ast.Constant):
                    separator = sub.args[0].value
        env_reading = any(
            "environ" in ast.unparse(sub) or "getenv" in ast.unparse(sub)
            for sub in ast.walk(func) if isinstance(sub, (ast.Call, ast.Subscript))
        )
        if not (reads_param and env_reading):
            return UNKNOWN
        # `envsecret("X", "---")`: a call that passes more than the name gives the helper a default
        # (or a cast) whose effect is not followed here, so its raise is not known to run.
        value = self._env(args[0], ABSENT, raises and len(args) == 1 and not node.keywords, node, path)
        if value is UNKNOWN:
            return UNKNOWN if raises else ([] if splits else "")
        if splits:
            items = [EnvStr(i.strip()) for i in value.split(separator) if i.strip()]
            return _tag(EnvList(items), value.var, value.origin)
        return value


def _apply(op, left, right):
    if op is None or not known(left) or not known(right):
        return UNKNOWN
    try:
        return op(left, right)
    except Exception:
        return UNKNOWN


def _assigned(body) -> set[str]:
    names = set()
    for node in body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
    return names


#: List methods that add items, and how many arguments they take (the item is the last).
_ADDING = {"append": 1, "extend": 1, "insert": 2}


def _add(left, right):
    """`left + right` where a list may be known only in part: what is known of it stays."""
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return [*left, *right]
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)) and not isinstance(left, bool):
        return left + right
    items = tuple(v for side in (left, right) for v in items_of(side))
    return AtLeast(items) if items else UNKNOWN


def _union(a, b):
    """What a name holds when either branch may have set it: lists merge, other values must agree."""
    try:
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return list(dict.fromkeys([*a, *b]))
        if isinstance(a, (list, tuple, AtLeast)) or isinstance(b, (list, tuple, AtLeast)):
            return AtLeast(tuple(dict.fromkeys([*items_of(a), *items_of(b)])))
    except TypeError:  # items that cannot be told apart (dicts)
        return UNKNOWN
    return a if a == b else UNKNOWN


def items_of(value) -> tuple:
    """The items known to be in a list (or AtLeast); none for anything else."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value.items if isinstance(value, AtLeast) else ()


def _cast(value, cast, call: ast.Call):
    """A read's value as the library casts it: only to bool is it told apart (its true strings)."""
    if cast == "cast=":
        given = next((k.value for k in call.keywords if k.arg == "cast"), None)
        cast = bool if isinstance(given, ast.Name) and given.id == "bool" else None
    if cast is not bool or not known(value):
        return value
    return value.strip().lower() in _TRUE_STRINGS if isinstance(value, str) else bool(value)


def _source(node: ast.AST | None) -> str:
    return ast.unparse(node) if node is not None else ""
