"""Django settings as web runs them, read with `ast` (never imported: that would run the project).

The module web runs (DJANGO_SETTINGS_MODULE in web's environment, else the project's) is evaluated
statement by statement: literals, `from x import *`, `os.environ.get`, `Path(__file__).parent`,
`os.path.join`, arithmetic and small helpers that read one variable (`_required("X")`). Values read
from the environment take web's environment from the compose file and remember the line of `.env`
they came from. Anything else is UNKNOWN, and rules skip what they cannot know.
"""

from __future__ import annotations

import ast
import copy
import operator
import posixpath
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from .paste import BOM_CHAR, cleaned


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()

#: Django's defaults for the settings the rules read.
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


@dataclass
class Write:
    keys: tuple  # () for `NAME = …`, ("default", "HOST") for `NAME["default"]["HOST"] = …`
    file: Path
    line: int
    node: ast.AST | None


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
    env_reads: list = field(default_factory=list)
    typos: list = field(default_factory=list)  # (name, file, line): `Debug = False`
    opaque: bool = False  # a module it imports (or itself) could not be read: names it lacks are unknown


class SettingsError(Exception):
    def __init__(self, file: Path, line: int | None, message: str):
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


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
_ENV_GETS = {"os.environ.get", "os.getenv", "os.environ.setdefault"}
_STR_METHODS = {"lower", "upper", "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "replace", "title"}
_BUILTINS = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "tuple": tuple}
_MAX_DEPTH = 20


class Reader:
    """Evaluates settings modules against web's environment."""

    def __init__(self, app_dir: Path, env: dict, container_path):
        self.app_dir = app_dir
        self.env = env  # name -> compose.Value
        self.container_path = container_path  # host Path -> path in web's container, or None
        self._cache: dict[Path, Module] = {}
        self.reads: list[EnvRead] = []  # every environment lookup, for settings-env-not-set
        self.errors: list[SettingsError] = []  # modules Python cannot parse as they are

    @property
    def files(self) -> list[Path]:
        """Every module read."""
        return list(self._cache)

    def module_file(self, dotted: str, base: Path | None = None) -> Path | None:
        path = (base or self.app_dir).joinpath(*dotted.split("."))
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def load(self, path: Path, _depth: int = 0) -> Module:
        if path in self._cache:
            return self._cache[path]
        self._cache[path] = Module()  # a cycle sees an empty module instead of recursing
        tree = self._parse(path)
        module = Module(opaque=tree is None)
        if tree is not None:
            self._run(tree.body, module, path, _depth)
        self._cache[path] = module
        return module

    def _parse(self, path: Path) -> ast.Module | None:
        """The module as Python would run it once its pasted characters are fixed (see paste.py);
        a module Python cannot parse as it is goes into `errors`, and None when even the fixed text
        cannot be parsed."""
        try:
            text = path.read_text(encoding="utf-8").removeprefix(BOM_CHAR)  # Python skips a BOM
        except UnicodeDecodeError:
            self.errors.append(SettingsError(path, None, "not UTF-8 text"))
            return None
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            self.errors.append(SettingsError(path, exc.lineno, exc.msg))
            tree = None
        try:
            return ast.parse(cleaned(text, "python"), filename=str(path))
        except SyntaxError:
            return tree

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
            op = _BINOPS.get(type(node.op))
            m.values[name] = _apply(op, old, new) if op else UNKNOWN
            m.writes.setdefault(name, []).append(Write((), path, node.lineno, None))
        elif isinstance(node, ast.FunctionDef):
            m.functions[node.name] = node
        elif isinstance(node, ast.If):
            test = self._eval(node.test, m, path)
            if test is UNKNOWN:
                for name in _assigned(node.body + node.orelse):
                    m.values[name] = UNKNOWN
                    m.writes.setdefault(name, []).append(Write((), path, node.lineno, None))
            else:
                self._run(node.body if test else node.orelse, m, path, depth)
        elif isinstance(node, ast.Try):
            self._run(node.body + node.orelse + node.finalbody, m, path, depth)
        elif isinstance(node, (ast.For, ast.While, ast.With, ast.AsyncFor, ast.AsyncWith)):
            for name in _assigned(node.body + getattr(node, "orelse", [])):
                m.values[name] = UNKNOWN
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self._mutating_call(node.value, m, path)

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
                m.env_reads += other.env_reads
                m.typos += other.typos
            elif a.name in other.values:
                m.values[a.asname or a.name] = other.values[a.name]
                m.writes[a.asname or a.name] = list(other.writes.get(a.name, []))

    def _assign(self, target, value, value_node, m: Module, path: Path) -> None:
        if isinstance(target, ast.Name):
            m.values[target.id] = value
            m.writes[target.id] = [Write((), path, target.lineno, value_node)]
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
            m.writes.setdefault(base.id, []).append(Write(tuple(keys), path, target.lineno, value_node))
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
        try:
            if UNKNOWN in args or value is UNKNOWN or func.attr not in ("append", "extend", "insert", "update"):
                raise TypeError
            getattr(value, func.attr)(*args)
        except (TypeError, AttributeError, ValueError):
            value = UNKNOWN
        m.values[name] = value
        m.writes.setdefault(name, []).append(Write((), path, call.lineno, None))

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
                inside = self.container_path(path)
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
            return _apply(_BINOPS.get(type(node.op)), left, right)
        if isinstance(node, ast.UnaryOp):
            operand = ev(node.operand)
            if operand is UNKNOWN:
                return UNKNOWN
            return {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}[type(node.op)](operand)
        if isinstance(node, ast.BoolOp):
            result = None
            for value_node in node.values:
                result = ev(value_node)
                if result is UNKNOWN or (isinstance(node.op, ast.And) and not result) or (isinstance(node.op, ast.Or) and result):
                    return result
            return result
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return _apply(_COMPARE[type(node.ops[0])], ev(node.left), ev(node.comparators[0]))
        if isinstance(node, ast.IfExp):
            test = ev(node.test)
            return UNKNOWN if test is UNKNOWN else ev(node.body if test else node.orelse)
        if isinstance(node, ast.Subscript):
            if self._dotted(node.value, m) == "os.environ":
                return self._env(ev(node.slice), None, True, node, path)
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
        if name in _ENV_GETS:
            return self._env(args[0] if args else UNKNOWN, args[1] if len(args) > 1 else None, False, node, path)
        if name in _PATH_FUNCS and args and UNKNOWN not in args:
            return _PATH_FUNCS[name](*[str(a) for a in args])
        if name in _PATH_TYPES or (name == "Path" and "Path" not in m.functions):
            return PurePosixPath(*[str(a) for a in args]) if UNKNOWN not in args else UNKNOWN
        if name in _BUILTINS and len(args) == 1 and args[0] is not UNKNOWN:
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
        if not isinstance(var, str):
            return UNKNOWN
        found = self.env.get(var)
        self.reads.append(EnvRead(var, required and default is None, path, node.lineno, found is not None))
        if found is None:
            return UNKNOWN if default is None else default
        return _tag(EnvStr(found.text), var, (found.file, found.line))

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
        value = self._env(args[0], None, raises, node, path)
        if value is UNKNOWN:
            return UNKNOWN if raises else ([] if splits else "")
        if splits:
            items = [EnvStr(i.strip()) for i in value.split(separator) if i.strip()]
            return _tag(EnvList(items), value.var, value.origin)
        return value


def _apply(op, left, right):
    if op is None or left is UNKNOWN or right is UNKNOWN:
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


class Settings:
    """The settings module web runs, evaluated."""

    def __init__(self, reader: Reader, path: Path, rel_of):
        self.path = path
        self.rel_of = rel_of
        self.module = reader.load(path)
        self.reads: list[EnvRead] = reader.reads

    @property
    def rel(self) -> str:
        return self.rel_of(self.path)

    def value(self, name: str, *keys):
        default = UNKNOWN if self.module.opaque else DJANGO_DEFAULTS.get(name, UNKNOWN)
        value = self.module.values.get(name, default)
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return UNKNOWN
            value = value[key]
        return value

    def where(self, name: str, *keys) -> tuple[str, int | None]:
        """Where to fix a value: the .env line it came from, else the settings line that sets it."""
        value = self.value(name, *keys)
        if isinstance(value, (EnvStr, EnvList)) and value.origin[1] is not None:
            return value.origin
        return self.written(name, *keys)

    def written(self, name: str, *keys) -> tuple[str, int | None]:
        writes = self.module.writes.get(name, [])
        best = next((w for w in reversed(writes) if tuple(keys[: len(w.keys)]) == w.keys), None)
        if best is None:
            return self.rel, None
        line, node = best.line, best.node
        for key in keys[len(best.keys) :]:
            if not isinstance(node, ast.Dict):
                break
            match = next((v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and k.value == key), None)
            if match is None:
                break
            node, line = match, match.lineno
        return self.rel_of(best.file), line

    def database(self) -> dict | None:
        """DATABASES["default"], when it is known."""
        db = self.value("DATABASES", "default")
        return db if isinstance(db, dict) else None

    def redis_cache(self):
        """(URL parts, where) of the default cache, when it is Redis at a URL; else (None, None)."""
        cache = self.value("CACHES", "default")
        if not isinstance(cache, dict) or "redis" not in str(cache.get("BACKEND", "")).lower():
            return None, None
        location = cache.get("LOCATION")
        location = location[0] if isinstance(location, (list, tuple)) and location else location
        if not isinstance(location, str) or "://" not in location:
            return None, None
        try:
            parts = urlsplit(location)
            parts.port
        except ValueError:
            return None, None
        return parts, self.where("CACHES", "default", "LOCATION")
