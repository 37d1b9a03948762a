"""Rules on the Django settings web runs, and how they agree with the compose file and the servers."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from ..finding import ERROR, WARNING, Hit
from ..models.compose import resolve_host, shared_networks
from ..models.settings import UNKNOWN, EnvStr
from ..registry import per_kind, rule


@rule("settings-module-missing", ERROR, "settings", ('settings', 'compose', 'uwsgi'))
def module_missing(ctx):
    """Finds: A DJANGO_SETTINGS_MODULE (web's environment or uWSGI's env) naming a module that does not
    exist.

    Breaks: Django imports DJANGO_SETTINGS_MODULE at start; a module that does not exist stops web.

    Fix: Name an existing settings module.

    Example:
        DJANGO_SETTINGS_MODULE: mysite.settings_prod
    """
    if ctx.settings is not None and ctx.missing_settings_module:
        name, (file, line) = ctx.missing_settings_module
        yield Hit(file, line, f"DJANGO_SETTINGS_MODULE is {name}, a module that does not exist",
                  "Django cannot import it: web stops at start with ModuleNotFoundError.",
                  f"Name an existing module, e.g. {ctx.project.overlay_module}")


@rule("settings-debug-on", ERROR, "settings", ('settings',))
def debug_on(ctx):
    """Finds: DEBUG true in the settings web runs.

    Breaks: DEBUG shows tracebacks, settings and SQL to every visitor, and keeps every query in
    memory.

    Fix: Set DEBUG = False in the settings module web runs.

    Example:
        DEBUG = True
    """
    settings = ctx.settings
    if settings and settings.value("DEBUG") not in (UNKNOWN, None) and settings.value("DEBUG"):
        file, line = settings.where("DEBUG")
        yield Hit(file, line, "DEBUG is on in the settings web runs",
                  "error pages show code, settings and SQL to anyone; memory grows with each query.",
                  "Set DEBUG = False in the settings module web runs.")


@rule("settings-debug-typo", WARNING, "settings", ('settings',))
def debug_typo(ctx):
    """Finds: An assignment to `Debug` (any case but DEBUG) in the settings.

    Breaks: Settings names are case-sensitive: `Debug = False` sets nothing, DEBUG keeps its value.

    Fix: Write DEBUG = False (upper case).

    Example:
        Debug = False
    """
    settings = ctx.settings
    for name, path, line in settings.module.typos if settings else []:
        if name.upper() == "DEBUG":
            now = settings.value("DEBUG")
            state = "unset (False)" if "DEBUG" not in settings.module.values else f"{now!r}"
            yield Hit(ctx.rel(path), line, f"`{name}` is not DEBUG: settings are case-sensitive",
                      f"Django ignores the line; DEBUG stays {state}, not what it says.",
                      "Write DEBUG = False (upper case).")


_SECRETS = (("SECRET_KEY",), ("DATABASES", "default", "PASSWORD"), ("CACHES", "default", "OPTIONS", "PASSWORD"),
            ("CACHES", "default", "OPTIONS", "password"))


@rule("settings-hardcoded-secret", WARNING, "settings", ('settings',))
def hardcoded_secret(ctx):
    """Finds: SECRET_KEY, the database's or the cache's password written in the settings.

    Breaks: A secret typed into settings is in git and in every image layer, and differs from
    `.env`'s the moment someone changes one of them.

    Fix: Read it from the environment: os.environ["DJANGO_SECRET_KEY"] (set in .env).

    Example:
        SECRET_KEY = "django-insecure-0123456789"
    """
    settings = ctx.settings
    for path in _SECRETS if settings else []:
        value = settings.value(*path)
        if isinstance(value, str) and value and not isinstance(value, EnvStr):
            shown = path[0] + "".join(f"[{k!r}]" for k in path[1:])
            file, line = settings.written(*path)
            env_key = {"SECRET_KEY": "DJANGO_SECRET_KEY", "DATABASES": "MYSQL_PASSWORD"}.get(path[0], "REDIS_PASSWORD")
            yield Hit(file, line, f"{shown} is written in the settings file",
                      "it is in git and in the image; it drifts from .env's value.",
                      f'Read it from the environment: os.environ["{env_key}"] (set in .env).')


@rule("settings-env-not-set", ERROR, "settings", ('settings', 'compose'))
def env_not_set(ctx):
    """Finds: A variable the settings require (os.environ["X"], a helper that raises) missing from
    web's environment.

    Breaks: A required variable missing from web's environment stops Django at start.

    Fix: Set the variable under web's environment in the compose file (value in .env).

    Example:
        SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]   # web gets no DJANGO_SECRET_KEY
    """
    settings = ctx.settings
    seen = set()
    for read in settings.reads if settings else []:
        if read.required and not read.present and read.var not in seen:
            seen.add(read.var)
            yield Hit(ctx.rel(read.file), read.line, f"settings require {read.var}; web's environment lacks it",
                      "Django stops at start with KeyError or ImproperlyConfigured.",
                      f"Set {read.var} under web's environment: in {ctx.compose_rel} (value in .env).")


@rule("settings-allowed-hosts-empty", ERROR, "settings", ('settings',))
def allowed_hosts_empty(ctx):
    """Finds: ALLOWED_HOSTS empty while DEBUG is off.

    Breaks: With DEBUG off and ALLOWED_HOSTS empty, Django answers every request with 400.

    Fix: Set DJANGO_ALLOWED_HOSTS in .env (the site's host names).

    Example:
        ALLOWED_HOSTS = []
    """
    settings = ctx.settings
    if settings and settings.value("ALLOWED_HOSTS") == [] and settings.value("DEBUG") is not True:
        file, line = settings.where("ALLOWED_HOSTS")
        yield Hit(file, line, "ALLOWED_HOSTS is empty",
                  "with DEBUG off Django answers every request with 400 Bad Request.",
                  f"Set DJANGO_ALLOWED_HOSTS in .env, e.g. {','.join(ctx.stack.hosts)}")


# --- database and cache ---------------------------------------------------------------------------


def db_settings(ctx) -> dict | None:
    return ctx.settings.database() if ctx.settings else None


def redis_location(ctx):
    return ctx.settings.redis_cache() if ctx.settings else (None, None)


@rule("settings-db-engine-not-mysql", ERROR, "settings", ('settings',))
def db_engine_not_mysql(ctx):
    """Finds: A database ENGINE other than MySQL (SQLite, say).

    Breaks: The stack's database is the db service; another engine (SQLite) keeps data inside web's
    container, lost at every rebuild.

    Fix: Use django.db.backends.mysql with HOST the db service.

    Example:
        "ENGINE": "django.db.backends.sqlite3",
    """
    db = db_settings(ctx)
    engine = db.get("ENGINE") if db else None
    if isinstance(engine, str) and "mysql" not in engine:
        file, line = ctx.settings.where("DATABASES", "default", "ENGINE")
        yield Hit(file, line, f"the database ENGINE is {engine}, not MySQL",
                  f"the {ctx.stack.services.db} service goes unused; data stays in web's container.",
                  "Use django.db.backends.mysql with HOST the db service (see settings_docker.py).")


def _host_rules(ctx, which: str, shared: bool):
    """Findings for the host web connects to for the database (which="db") or the cache ("redis")."""
    if which == "db":
        host, where = _db_host(ctx)
        what = "database"
    else:
        parts, where = redis_location(ctx)
        host, what = (parts.hostname or "" if parts and parts.scheme != "unix" else None), "Redis"
    compose, web = ctx.compose, ctx.service(ctx.stack.services.web)
    if not isinstance(host, str) or compose is None or web is None:
        return
    service_name, network = getattr(ctx.stack.services, which), getattr(ctx.stack.networks, which)
    target = resolve_host(compose, host)
    if not shared and target is None:
        local = " (web's own container)" if host in ("", "localhost", "127.0.0.1") else ""
        yield Hit(*where, f"{what} host {host!r} is not a compose service{local}",
                  f"web cannot reach the {what} there: every request needing it fails.",
                  f"Use the service name: {service_name}")
    if shared and target is not None and shared_networks(web, target) == set():
        yield Hit(*where, f"web and {target.name} share no network",
                  f"web cannot resolve or reach {host}: connections to the {what} fail.",
                  f"Put both services on {network} in {compose.rel}.")


def _db_host(ctx):
    db = db_settings(ctx)
    if db is None or not isinstance(db.get("ENGINE"), str) or "mysql" not in db["ENGINE"]:
        return None, None
    return db.get("HOST", ""), ctx.settings.where("DATABASES", "default", "HOST")


@rule("settings-db-host-not-a-service", ERROR, "settings", ('settings', 'compose'))
def db_host_not_a_service(ctx):
    """Finds: A database HOST that is no compose service (localhost is web's own container).

    Breaks: Inside web, the database is reached by the db service's name; localhost is web itself.

    Fix: Use the db service's name as HOST.

    Example:
        "HOST": "localhost",
    """
    yield from _host_rules(ctx, "db", shared=False)


@rule("settings-db-host-not-on-shared-network", ERROR, "settings", ('settings', 'compose'))
def db_host_not_shared(ctx):
    """Finds: A database HOST on no network web joins.

    Breaks: web reaches the database only over a network both join.

    Fix: Put web and db on the db network in the compose file.

    Example:
          web:
            networks: [front]   # db is on the db network only
    """
    yield from _host_rules(ctx, "db", shared=True)


@rule("settings-redis-host-not-a-service", ERROR, "settings", ('settings', 'compose'))
def redis_host_not_a_service(ctx):
    """Finds: A Redis cache URL whose host is no compose service.

    Breaks: Inside web, Redis is reached by the redis service's name; localhost is web itself.

    Fix: Use the redis service's name in the cache URL.

    Example:
        "LOCATION": "redis://cache:6379/0",
    """
    yield from _host_rules(ctx, "redis", shared=False)


@rule("settings-redis-host-not-on-shared-network", ERROR, "settings", ('settings', 'compose'))
def redis_host_not_shared(ctx):
    """Finds: A Redis cache host on no network web joins.

    Breaks: web reaches Redis only over a network both join.

    Fix: Put web and redis on the redis network in the compose file.

    Example:
          web:
            networks: [front, db]   # redis is on the redis network only
    """
    yield from _host_rules(ctx, "redis", shared=True)


@rule("settings-db-port-mismatch", ERROR, "settings", ('settings', 'mysql'))
def db_port_mismatch(ctx):
    """Finds: A database PORT other than the one the server listens on.

    Breaks: The settings must use the port the database server listens on.

    Fix: Set PORT to the port in the server's options (3306 by default).

    Example:
        "PORT": "3307",
    """
    db = db_settings(ctx)
    port = db.get("PORT") if db else None
    want = ctx.db_port
    if port not in (None, "", UNKNOWN) and str(port).isdigit() and int(port) != want:
        yield Hit(*ctx.settings.where("DATABASES", "default", "PORT"), f"database PORT is {port}; the server listens on {want}",
                  "connections go to a port nothing listens on: every query fails.",
                  f'Set "PORT": "{want}".')


@rule("settings-redis-port-mismatch", ERROR, "settings", ('settings', 'redis'))
def redis_port_mismatch(ctx):
    """Finds: A cache URL port other than the one Redis listens on.

    Breaks: The cache URL must use the port Redis listens on.

    Fix: Use redis://redis:PORT/0 with the port Redis listens on.

    Example:
        "LOCATION": "redis://redis:6380/0",
    """
    parts, where = redis_location(ctx)
    want = ctx.redis_port
    if parts and parts.scheme != "unix" and (parts.port or 6379) != want:
        yield Hit(*where, f"the cache URL uses port {parts.port or 6379}; Redis listens on {want}",
                  "cache connections fail: every cached page errors.",
                  f"Use redis://{ctx.stack.services.redis}:{want}/0")


@rule("settings-db-credentials-mismatch", ERROR, "settings", ('settings', 'compose'))
def db_credentials_mismatch(ctx):
    """Finds: A database NAME, USER or PASSWORD other than the db service was set up with
    (MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD).

    Breaks: The database, user and password Django uses must be the ones the db service created from
    its environment (MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD), or web cannot log in.

    Fix: Take both from the same variable in .env (os.environ["MYSQL_PASSWORD"] in the settings).

    Example:
        "PASSWORD": "something-else",
    """
    db = db_settings(ctx)
    db_env = ctx.db_env
    if db is None or db_env is None:
        return
    user = db.get("USER")
    as_root = user == "root"
    pairs = [("NAME", "MYSQL_DATABASE"), ("USER", None if as_root else "MYSQL_USER"),
             ("PASSWORD", "MYSQL_ROOT_PASSWORD" if as_root else "MYSQL_PASSWORD")]
    for key, var in pairs:
        mine, theirs = db.get(key), db_env.get(var) if var else None
        if not isinstance(mine, str) or theirs is None or mine == theirs.text:
            continue
        shown = "" if key == "PASSWORD" else f" {mine!r}"
        yield Hit(*ctx.settings.where("DATABASES", "default", key),
                  f"database {key}{shown} differs from the {var} {ctx.stack.services.db} was set up with",
                  "MySQL refuses the login (1045 Access denied) or the database does not exist.",
                  f"Take both from {var} in .env (os.environ[\"{var}\"] in the settings).")


@rule("settings-db-charset-utf8", ERROR, "settings", ('settings',))
def db_charset_utf8(ctx):
    """Finds: A database connection charset of utf8 / utf8mb3.

    Breaks: MySQL's `utf8` is a 3-byte subset: emoji and other 4-byte characters fail to save.

    Fix: "OPTIONS": {"charset": "utf8mb4"}

    Example:
        "OPTIONS": {"charset": "utf8"},
    """
    db = db_settings(ctx)
    options = db.get("OPTIONS") if db else None
    charset = options.get("charset") if isinstance(options, dict) else None
    if isinstance(charset, str) and charset.lower() in ("utf8", "utf8mb3"):
        yield Hit(*ctx.settings.where("DATABASES", "default", "OPTIONS", "charset"),
                  f"the database connection uses charset {charset}, not utf8mb4",
                  "4-byte characters (emoji) fail with 'Incorrect string value'.",
                  '"OPTIONS": {"charset": "utf8mb4"}')


# --- static and media volumes ---------------------------------------------------------------------


def _root_not_shared(ctx, kind: str):
    settings = ctx.settings
    root = settings.value(f"{kind.upper()}_ROOT") if settings else None
    if not isinstance(root, (str, PurePosixPath)) or not str(root).startswith("/"):
        return
    web, nginx = ctx.service(ctx.stack.services.web), ctx.service(ctx.stack.services.nginx)
    if web is None or nginx is None:
        return
    root = posixpath.normpath(str(root))
    mount = ctx.mount_holding(web, root)
    volume = getattr(ctx.stack.volumes, kind)
    want = getattr(ctx.stack.paths, kind)
    file, line = settings.where(f"{kind.upper()}_ROOT")
    if mount is None:
        yield Hit(file, line, f"{kind.upper()}_ROOT {root} is on no volume of web",
                  "the files stay inside web's container; nginx never sees them (404).",
                  f"Set {kind.upper()}_ROOT = \"{want}\", where web mounts the {volume} volume.")
    elif not any(m.source == mount.source for m in nginx.mounts()):
        yield Hit(file, line, f"{kind.upper()}_ROOT is on {mount.source}, which nginx does not mount",
                  "nginx cannot serve files it cannot see: they answer 404.",
                  f"Mount {mount.source} in nginx too (read-only), at {want}.")


per_kind("{kind}-root-not-shared", ERROR, "settings", ("settings", "compose"), _root_not_shared, """
    Finds: A {KIND}_ROOT on no volume web mounts, or on one nginx does not mount.

    Breaks: Django writes {KIND}_ROOT in web; nginx serves the files only if that path is on a volume
    nginx mounts too (and only a volume keeps them across rebuilds).

    Fix: Set {KIND}_ROOT to where web mounts the {kind} volume, and mount that volume in nginx too.

    Example:
        {KIND}_ROOT = "/var/{kind}"   # web mounts the {kind} volume elsewhere
    """)
