"""The stack's files as they are on disk, found the way Compose and the containers find them.

Paths come from the compose file (bind mounts, build contexts, commands) and the Dockerfiles
(COPY, WORKDIR, ENTRYPOINT), not from where `djstack init` would put them, so a stack laid out by
hand (the tutorial's `compose/` beside the project folder) is read correctly too; where the compose
file names none, the files `djstack init` writes are read (the model's StackFiles). Expected values
(service names, ports, paths, volumes) come from the model.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from ..errors import NoStack
from ..model import STACK_FILES, Stack, StackOptions, bad_env_entries, build_stack
from .lenient import detect_leniently
from .models import mysql, paste, redis, settings as settings_mod, uwsgi as uwsgi_mod
from .models.compose import COMPOSE_NAMES, ComposeFile, Mount, Service, Unparseable
from .models.dotenv import DotEnv
from .models.nginx import Nginx
from .models.runtime import Runtime, Script, shell_commands


@dataclass(frozen=True)
class ParseError:
    """Where a file's program stops reading it, and what it says (reported by `<kind>-unparseable`)."""

    file: str
    line: int | None
    message: str


def find_compose(root: Path, folder: Path) -> Path | None:
    """The compose file: beside the project, or in a folder above it up to the one checked."""
    for candidate in [root, *[p for p in root.parents if p == folder or folder in p.parents]]:
        for name in COMPOSE_NAMES:
            if (candidate / name).is_file():
                return candidate / name
    return None


class Context:
    def __init__(self, folder: Path):
        folder = Path(folder).expanduser()
        # A Python file detect() cannot parse (a paste error in the settings) must not hide the
        # other files: it is read with the paste fixed, and reported by the settings rules.
        project, self.repaired = detect_leniently(folder)
        self.folder = folder.resolve()
        # djstack/ when init put the stack there (the project has Docker files of its own); else the
        # project root and the folders above it (a stack laid out by hand, like the tutorial's).
        stack_root = project.root / project.stack_dir
        if not (stack_root / STACK_FILES.compose).is_file():
            stack_root = project.root
        compose_path = find_compose(stack_root, self.folder)
        env_path = stack_root / STACK_FILES.env
        missing = [n for n, ok in ((STACK_FILES.compose, compose_path), (STACK_FILES.env, env_path.is_file())) if not ok]
        if missing:
            raise NoStack(project.root, f"{project.root} has no djstack stack yet ({', '.join(missing)} missing).",
                          f"Run `djstack init {project.root}` first.")
        self.project = project
        self.base = compose_path.parent
        self.compose_path = compose_path
        self.env = DotEnv.read(env_path, self.rel(env_path))
        beside = self.base / STACK_FILES.env
        self.compose_env = self.env if beside == env_path else DotEnv.read(beside, self.rel(beside))
        self.env_paths = [env_path] + ([beside] if beside != env_path else [])
        self._errors: dict[str, list[ParseError]] = defaultdict(list)
        self.missing_settings_module: tuple[str, tuple] | None = None
        self._read: dict[Path, str] = {}  # every file a reader has read -> its kind (see paste.py)
        for env in self.env_files:
            if env.error:
                self.error("env", env.rel, *env.error)
        self.stack = self._model()

    def _model(self) -> Stack:
        """The model, as `load_stack` builds it from `.env`; the entries it would refuse are left out
        (and reported by env-invalid-value), all found at once."""
        bad = bad_env_entries(self.env.values)
        self.invalid_env: list[tuple[str, str]] = [(entry.key, entry.message) for entry in bad]  # (key, why)
        refused = {entry.key for entry in bad}
        return build_stack(self.project, StackOptions(), {k: v for k, v in self.env.values.items() if k not in refused})

    # --- helpers ----------------------------------------------------------------------------------

    def rel(self, path) -> str:
        path = Path(path)
        try:
            return path.resolve().relative_to(self.base.resolve()).as_posix()
        except ValueError:
            return str(path)

    @property
    def compose_rel(self) -> str:
        return self.rel(self.compose_path)

    @property
    def env_files(self) -> list[DotEnv]:
        return [self.env] + ([self.compose_env] if self.compose_env is not self.env and self.compose_env.exists else [])

    def read(self, path: Path, kind: str) -> str:
        """A file's text as its readers parse it (pasted characters fixed), remembered for the
        paste rules."""
        self._read.setdefault(Path(path).resolve(), kind)
        return paste.readable(Path(path), kind)

    def files_read(self) -> dict[Path, str]:
        """Every file the checks read, with its kind: the compose file, .env, and each file a
        service uses (Dockerfiles, scripts, configs, settings modules)."""
        found = {self.compose_path.resolve(): "yaml"}
        found.update({p.resolve(): "env" for p in self.env_paths})
        found.update({p.resolve(): "python" for p in self.repaired})
        if self.compose is not None:
            # Reading them is what fills self._read.
            self.uwsgi, self.settings, self.nginx, self.mysql_options, self.init_sql, self.redis, self.broker  # noqa: B018
            for service in self.compose.services:
                runtime = self.runtime(service)
                if runtime and runtime.image:
                    found.setdefault(runtime.image.dockerfile.resolve(), "dockerfile")
            found.update({s.path.resolve(): "shell" for s in self.web_scripts})
        for path, kind in self._read.items():
            found.setdefault(path, kind)
        return {p: k for p, k in found.items() if p.is_file()}

    @cached_property
    def pasted(self) -> list[tuple[str, str, paste.Occurrence]]:
        """(file, kind, occurrence) of every pasted character the paste rules report."""
        found = []
        for path, kind in self.files_read().items():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            found += [(self.rel(path), kind, o) for o in paste.scan(text, kind)]
        return found

    def error(self, kind: str, file: str, line: int | None, message: str) -> None:
        """Record that a file of `kind` (a model: compose, env, nginx, settings, mysql, redis) cannot be read."""
        error = ParseError(file, line, message)
        if error not in self._errors[kind]:
            self._errors[kind].append(error)

    def parse_errors(self, kind: str) -> list[ParseError]:
        return self._errors.get(kind, [])

    def service(self, name: str) -> Service | None:
        return self.compose.services.get(name) if self.compose else None

    def runtime(self, name: str) -> Runtime | None:
        service = self.service(name)
        return Runtime(service) if service else None

    @staticmethod
    def mount_holding(service: Service, path: str) -> Mount | None:
        """The mount a container path lies on (the deepest one)."""
        holding = [m for m in service.mounts() if m.target and (path == m.target or path.startswith(m.target.rstrip("/") + "/"))]
        return max(holding, key=lambda m: len(m.target), default=None)

    # --- compose ----------------------------------------------------------------------------------

    @cached_property
    def compose(self) -> ComposeFile | None:
        try:
            compose = ComposeFile(self.compose_path, self.compose_rel, self.compose_env, self.rel)
        except Unparseable as exc:
            self.error("compose", self.compose_rel, exc.line, exc.message)
            return None
        if compose.unparseable:
            self.error("compose", self.compose_rel, compose.unparseable.line, compose.unparseable.message)
        return compose

    # --- web: image, entrypoint, uWSGI, settings ----------------------------------------------------

    @cached_property
    def web(self) -> Runtime | None:
        return self.runtime(self.stack.services.web)

    @cached_property
    def web_scripts(self) -> list[Script]:
        if self.web is None:
            return []
        return [Script(p, self.rel(p), shell_commands(self.read(p, "shell"))) for p in self.web.scripts()]

    def _web_commands(self):
        """Every command web runs at start: its argv (a `sh -c` text split up) and its scripts' lines."""
        if self.web is None:
            return
        argv, file, line = self.web.argv()
        if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
            for cmd in shell_commands(argv[2]):
                yield cmd.words, file, line
        else:
            yield argv, file, line
        for script in self.web_scripts:
            for cmd in script.commands:
                yield cmd.words, script.rel, cmd.line

    @cached_property
    def uwsgi(self) -> uwsgi_mod.Uwsgi | None:
        options: list[uwsgi_mod.Option] = []
        ini_files: list[Path] = []
        for words, file, line in self._web_commands():
            starts = [i for i, w in enumerate(words) if posixpath.basename(w) == "uwsgi"]
            if not starts:
                continue
            given = uwsgi_mod.command_options(words[starts[0] + 1 :], file, line)
            for option in given:
                if option.key == "ini" and self.web is not None:
                    host = self.web.to_host(option.value)
                    if host and host.is_file():
                        ini_files.append(host)
            options += [o for o in given if o.key != "ini"]
        if not ini_files and not options:
            fallback = [self.base / STACK_FILES.uwsgi_ini]
            if self.web and self.web.image:
                fallback.append(self.web.image.context / PurePosixPath(STACK_FILES.uwsgi_ini).name)
            ini_files = [p for p in fallback if p.is_file()][:1]
        for path in ini_files:
            self._read.setdefault(path.resolve(), "ini")
            options = uwsgi_mod.read_ini(path, self.rel(path)) + options
        return uwsgi_mod.Uwsgi(options) if options else None

    @property
    def uwsgi_listeners(self) -> list[uwsgi_mod.Listener]:
        return self.uwsgi.listeners if self.uwsgi else []

    @property
    def uwsgi_port(self) -> int:
        ports = [l.port for l in self.uwsgi_listeners if l.port]
        return ports[0] if ports else self.stack.ports.uwsgi

    @cached_property
    def settings(self) -> settings_mod.Settings | None:
        env = self.web.env if self.web else {}
        given = env.get("DJANGO_SETTINGS_MODULE")
        module, where = (given.text, (given.file, given.line)) if given else (None, None)
        for option in self.uwsgi.all("env") if self.uwsgi and module is None else []:
            name, _, value = option.value.partition("=")
            if name.strip() == "DJANGO_SETTINGS_MODULE":
                module, where = value.strip(), (option.file, option.line)
        app_dir = self.project.root / self.project.app_dir

        reader, parser = settings_mod.evaluator(app_dir, env, lambda path: self.web.to_container(path) if self.web else None)
        path = reader.module_file(module) if module else None
        if module and path is None:
            self.missing_settings_module = (module, where)
        path = path or self.project.settings_file
        settings = settings_mod.Settings(reader, path, self.rel)
        for exc in parser.errors:
            self.error("settings", self.rel(exc.file), exc.line, exc.message)
        for file in reader.files:
            self._read.setdefault(file.resolve(), "python")
        return settings

    def nginx_path_of(self, kind: str) -> str | None:
        """Where nginx sees the STATIC_ROOT / MEDIA_ROOT web writes to (through a shared volume)."""
        settings = self.settings
        root = settings.value(f"{kind.upper()}_ROOT") if settings else None
        web, nginx = self.service(self.stack.services.web), self.service(self.stack.services.nginx)
        if not isinstance(root, str) or not root.startswith("/") or web is None or nginx is None:
            return None
        root = posixpath.normpath(str(root))
        mount = self.mount_holding(web, root)
        theirs = [m for m in nginx.mounts() if mount and m.source == mount.source]
        if not theirs:
            return None
        return posixpath.normpath(posixpath.join(theirs[0].target, posixpath.relpath(root, mount.target)))

    @cached_property
    def _redis_cache(self):
        """(URL parts, OPTIONS) of the default cache when it is Redis at a URL; else None. redis-py
        takes a user or password from the URL over the one in OPTIONS (its from_url: "querystring
        arguments always win")."""
        parts, _ = self.settings.redis_cache() if self.settings else (None, None)
        if parts is None:
            return None
        options = self.settings.value("CACHES", "default", "OPTIONS")
        return parts, options if isinstance(options, dict) else {}

    def _redis_sent(self, in_url: str | None, keys: tuple[str, ...]) -> tuple[str, str] | None:
        """What web sends Redis as one credential: the cache URL's, else OPTIONS' (the first of `keys`)."""
        if in_url:
            return unquote(in_url), "the cache URL"
        for key in keys:
            value = self._redis_cache[1].get(key)
            if isinstance(value, str) and value:
                from_env = isinstance(value, settings_mod.EnvStr)
                return str(value), f"{value.var} in web's environment" if from_env else "settings"
        return None

    @cached_property
    def redis_password_used(self) -> tuple[str, str] | None:
        """The password web sends to Redis, and where it is set."""
        if self._redis_cache is None:
            return None
        return self._redis_sent(self._redis_cache[0].password, ("password", "PASSWORD")) or ("", "none")

    @cached_property
    def redis_user_used(self) -> tuple[str, str] | None:
        """The Redis user web signs in as (`default` when it names none), and where it is set."""
        if self._redis_cache is None:
            return None
        return self._redis_sent(self._redis_cache[0].username, ("username",)) or ("default", "no user named")

    # --- nginx ------------------------------------------------------------------------------------

    @cached_property
    def nginx(self) -> Nginx | None:
        runtime = self.runtime(self.stack.services.nginx)
        files = []
        for target, host in runtime.files() if runtime else []:
            if target.startswith("/etc/nginx/") and target.endswith(".conf") and host not in files:
                files.append(host)
        if not files and (self.base / STACK_FILES.nginx_conf).is_file():
            files = [self.base / STACK_FILES.nginx_conf]
        if not files:
            return None
        self._read.update({p.resolve(): "nginx" for p in files})
        config = Nginx([(p, self.rel(p)) for p in files])
        for file, line, message in config.errors:
            self.error("nginx", file, line, message)
        return config

    # --- db ---------------------------------------------------------------------------------------

    def _db_files(self, wanted) -> list[Path]:
        db = self.service(self.stack.services.db)
        found: list[Path] = []
        for mount in db.mounts() if db else []:
            host = Path(mount.source)
            if mount.bind and wanted(mount.target):
                found += sorted(host.iterdir()) if host.is_dir() else [host] if host.is_file() else []
        return found

    @cached_property
    def mysql_options(self) -> list[mysql.CnfOption]:
        files = self._db_files(lambda t: t in mysql.MAIN_CONFIGS or t.startswith("/etc/mysql/") or t.endswith(".cnf"))
        if self.service(self.stack.services.db) is None:
            files = sorted((self.base / STACK_FILES.mysql_conf).parent.glob("*.cnf"))
        files = [p for p in files if p.suffix in (".cnf", "") and p.is_file()]
        self._read.update({p.resolve(): "cnf" for p in files})
        return [o for p in files for o in mysql.read_cnf(p, self.rel(p))]

    @cached_property
    def init_sql(self) -> list[tuple[str, list[mysql.Statement]]]:
        init = self.stack.paths.mysql_init.rstrip("/")
        files = self._db_files(lambda t: t == init or t.startswith(init + "/"))
        if self.service(self.stack.services.db) is None:
            files = sorted((self.base / STACK_FILES.mysql_init).glob("*.sql"))
        found = []
        for path in files:
            if path.suffix != ".sql":
                continue
            try:
                found.append((self.rel(path), mysql.read_sql(self.read(path, "sql"))))
            except mysql.SqlError as exc:
                self.error("mysql", self.rel(path), exc.line, exc.message)
        return found

    @cached_property
    def db_image(self) -> mysql.DbImage | None:
        db = self.service(self.stack.services.db)
        if db is None:
            return None
        image = db.scalar("image")
        if image is not None:
            return mysql.DbImage(image.text, image.file, image.line)
        runtime = self.runtime(self.stack.services.db)
        froms = [s[0] for s in (runtime.image.stages if runtime and runtime.image else []) if s and s[0].keyword == "FROM"]
        if froms:
            return mysql.DbImage(froms[-1].text.split()[0], self.rel(runtime.image.dockerfile), froms[-1].line)
        return None

    @cached_property
    def db_env(self):
        db = self.service(self.stack.services.db)
        return db.environment() if db else None

    @property
    def db_port(self) -> int:
        ports = [o.value for o in self.mysql_options if o.section in mysql.SERVER_SECTIONS and o.key == "port"]
        return int(ports[-1]) if ports and ports[-1].isdigit() else self.stack.ports.db

    # --- redis ------------------------------------------------------------------------------------

    @cached_property
    def redis(self) -> redis.Redis | None:
        """The cache's Redis."""
        return self._redis_server(self.stack.services.redis)

    @cached_property
    def broker(self) -> redis.Redis | None:
        """The broker's Redis (broker.conf and its command line), in a stack with background work."""
        name = getattr(self.stack.services, "broker", None)
        return self._redis_server(name) if name else None

    def _redis_server(self, name: str) -> redis.Redis | None:
        """A Redis service as it starts: the config file its command names (read from the host file
        mounted there) and the options on its command line."""
        runtime = self.runtime(name)
        if runtime is None:
            return None
        service = runtime.service
        given = service.argv("command") or service.argv("entrypoint")
        words, line = (given[0], given[1]) if given else ([], None)
        if len(words) >= 3 and posixpath.basename(words[0]) in ("sh", "bash") and words[1] == "-c":
            commands = [c.words for c in shell_commands(words[2])]
            words = next((c for c in commands if any(posixpath.basename(w) == "redis-server" for w in c)), [])
        start = next((i for i, w in enumerate(words) if posixpath.basename(w) == "redis-server"), None)
        args = words[start + 1 :] if start is not None else []
        conf_path = args[0] if args and not args[0].startswith("-") else None
        env = service.environment()
        command = redis.command_options(args[1:] if conf_path else args, env, service.compose.rel, line)
        mounted = [h for t, h in runtime.files() if h.suffix == ".conf"]
        conf_host = runtime.to_host(conf_path) if conf_path else None
        conf: list[redis.RedisOption] = []
        if conf_host and conf_host.is_file():
            self._read.setdefault(conf_host.resolve(), "redis")
            try:
                conf = redis.read_conf(conf_host, self.rel(conf_host))
            except redis.RedisConfError as exc:
                self.error("redis", self.rel(conf_host), exc.line, exc.message)
        shown = self.rel(mounted[0]) if mounted else None
        return redis.Redis(conf, command, shown, bool(conf_host and conf_host.is_file()), line)

    @property
    def redis_port(self) -> int:
        option = self.redis.last("port") if self.redis else None
        return int(option.args[0]) if option and option.args and option.args[0].isdigit() else self.stack.ports.redis
