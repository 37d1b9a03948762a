"""Rules on the Django settings web runs, and how they agree with the compose file and the servers."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from ..finding import ERROR, WARNING, Hit
from ..models.compose import resolve_host, shared_networks
from ..models.settings import UNKNOWN, EnvStr
from ..registry import per_kind, rule


@rule("settings-module-missing", ERROR, "settings", ('settings', 'compose', 'uwsgi'),
      finds="A DJANGO_SETTINGS_MODULE (web's environment or uWSGI's env) naming a module that does not exist.",
      breaks='Django imports DJANGO_SETTINGS_MODULE at start; a module that does not exist stops web.',
      fix='Name an existing settings module.',
      example='DJANGO_SETTINGS_MODULE: mysite.settings_prod')
def module_missing(ctx):
    if ctx.settings is not None and ctx.missing_settings_module:
        name, (file, line) = ctx.missing_settings_module
        yield Hit(file, line, f"DJANGO_SETTINGS_MODULE is {name}, a module that does not exist",
                  "Django cannot import it: web stops at start with ModuleNotFoundError.",
                  f"Name an existing module, e.g. {ctx.project.overlay_module}")


@rule("settings-debug-on", ERROR, "settings", ('settings',),
      finds='DEBUG true in the settings web runs.',
      breaks='DEBUG shows tracebacks, settings and SQL to every visitor, and keeps every query in memory.',
      fix='Set DEBUG = False in the settings module web runs.',
      example='DEBUG = True')
def debug_on(ctx):
    settings = ctx.settings
    if settings and settings.value("DEBUG") not in (UNKNOWN, None) and settings.value("DEBUG"):
        file, line = settings.where("DEBUG")
        yield Hit(file, line, "DEBUG is on in the settings web runs",
                  "error pages show code, settings and SQL to anyone; memory grows with each query.",
                  "Set DEBUG = False in the settings module web runs.")


@rule("settings-debug-typo", WARNING, "settings", ('settings',),
      finds='An assignment to `Debug` (any case but DEBUG) in the settings.',
      breaks='Settings names are case-sensitive: `Debug = False` sets nothing, DEBUG keeps its value.',
      fix='Write DEBUG = False (upper case).',
      example='Debug = False')
def debug_typo(ctx):
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


@rule("settings-hardcoded-secret", WARNING, "settings", ('settings',),
      finds="SECRET_KEY, the database's or the cache's password written in the settings.",
      breaks='A secret typed into settings is in git and in every image layer, and differs from '
             "`.env`'s the moment someone changes one of them.",
      fix='Read it from the environment: os.environ["DJANGO_SECRET_KEY"] (set in .env).',
      example='SECRET_KEY = "django-insecure-0123456789"')
def hardcoded_secret(ctx):
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


@rule("settings-env-not-set", ERROR, "settings", ('settings', 'compose'),
      finds='A variable the settings require (os.environ["X"], a helper that raises) missing from '
            "web's environment.",
      breaks="A required variable missing from web's environment stops Django at start.",
      fix="Set the variable under web's environment in the compose file (value in .env).",
      example='SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]   # web gets no DJANGO_SECRET_KEY')
def env_not_set(ctx):
    settings = ctx.settings
    seen = set()
    for read in settings.reads if settings else []:
        if read.required and not read.present and read.var not in seen:
            seen.add(read.var)
            yield Hit(ctx.rel(read.file), read.line, f"settings require {read.var}; web's environment lacks it",
                      "Django stops at start with KeyError or ImproperlyConfigured.",
                      f"Set {read.var} under web's environment: in {ctx.compose_rel} (value in .env).")


@rule("settings-allowed-hosts-empty", ERROR, "settings", ('settings',),
      finds='ALLOWED_HOSTS empty while DEBUG is off.',
      breaks='With DEBUG off and ALLOWED_HOSTS empty, Django answers every request with 400.',
      fix="Set DJANGO_ALLOWED_HOSTS in .env (the site's host names).",
      example='ALLOWED_HOSTS = []')
def allowed_hosts_empty(ctx):
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


@rule("settings-db-engine-not-mysql", ERROR, "settings", ('settings',),
      finds='A database ENGINE other than MySQL (SQLite, say).',
      breaks="The stack's database is the db service; another engine (SQLite) keeps data inside web's"
             ' container, lost at every rebuild.',
      fix='Use django.db.backends.mysql with HOST the db service.',
      example='"ENGINE": "django.db.backends.sqlite3",')
def db_engine_not_mysql(ctx):
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


@rule("settings-db-host-not-a-service", ERROR, "settings", ('settings', 'compose'),
      finds="A database HOST that is no compose service (localhost is web's own container).",
      breaks="Inside web, the database is reached by the db service's name; localhost is web itself.",
      fix="Use the db service's name as HOST.",
      example='"HOST": "localhost",')
def db_host_not_a_service(ctx):
    yield from _host_rules(ctx, "db", shared=False)


@rule("settings-db-host-not-on-shared-network", ERROR, "settings", ('settings', 'compose'),
      finds='A database HOST on no network web joins.',
      breaks='web reaches the database only over a network both join.',
      fix='Put web and db on the db network in the compose file.',
      example='  web:\n    networks: [front]   # db is on the db network only')
def db_host_not_shared(ctx):
    yield from _host_rules(ctx, "db", shared=True)


@rule("settings-redis-host-not-a-service", ERROR, "settings", ('settings', 'compose'),
      finds='A Redis cache URL whose host is no compose service.',
      breaks="Inside web, Redis is reached by the redis service's name; localhost is web itself.",
      fix="Use the redis service's name in the cache URL.",
      example='"LOCATION": "redis://cache:6379/0",')
def redis_host_not_a_service(ctx):
    yield from _host_rules(ctx, "redis", shared=False)


@rule("settings-redis-host-not-on-shared-network", ERROR, "settings", ('settings', 'compose'),
      finds='A Redis cache host on no network web joins.',
      breaks='web reaches Redis only over a network both join.',
      fix='Put web and redis on the redis network in the compose file.',
      example='  web:\n    networks: [front, db]   # redis is on the redis network only')
def redis_host_not_shared(ctx):
    yield from _host_rules(ctx, "redis", shared=True)


@rule("settings-db-port-mismatch", ERROR, "settings", ('settings', 'mysql'),
      finds='A database PORT other than the one the server listens on.',
      breaks='The settings must use the port the database server listens on.',
      fix="Set PORT to the port in the server's options (3306 by default).",
      example='"PORT": "3307",')
def db_port_mismatch(ctx):
    db = db_settings(ctx)
    port = db.get("PORT") if db else None
    want = ctx.db_port
    if port not in (None, "", UNKNOWN) and str(port).isdigit() and int(port) != want:
        yield Hit(*ctx.settings.where("DATABASES", "default", "PORT"), f"database PORT is {port}; the server listens on {want}",
                  "connections go to a port nothing listens on: every query fails.",
                  f'Set "PORT": "{want}".')


@rule("settings-redis-port-mismatch", ERROR, "settings", ('settings', 'redis'),
      finds='A cache URL port other than the one Redis listens on.',
      breaks='The cache URL must use the port Redis listens on.',
      fix='Use redis://redis:PORT/0 with the port Redis listens on.',
      example='"LOCATION": "redis://redis:6380/0",')
def redis_port_mismatch(ctx):
    parts, where = redis_location(ctx)
    want = ctx.redis_port
    if parts and parts.scheme != "unix" and (parts.port or 6379) != want:
        yield Hit(*where, f"the cache URL uses port {parts.port or 6379}; Redis listens on {want}",
                  "cache connections fail: every cached page errors.",
                  f"Use redis://{ctx.stack.services.redis}:{want}/0")


@rule("settings-db-credentials-mismatch", ERROR, "settings", ('settings', 'compose'),
      finds='A database NAME, USER or PASSWORD other than the db service was set up with '
            '(MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD).',
      breaks='The database, user and password Django uses must be the ones the db service created '
             'from its environment (MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD), or web cannot log '
             'in.',
      fix='Take both from the same variable in .env (os.environ["MYSQL_PASSWORD"] in the settings).',
      example='"PASSWORD": "something-else",')
def db_credentials_mismatch(ctx):
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


@rule("settings-db-charset-utf8", ERROR, "settings", ('settings',),
      finds='A database connection charset of utf8 / utf8mb3.',
      breaks="MySQL's `utf8` is a 3-byte subset: emoji and other 4-byte characters fail to save.",
      fix='"OPTIONS": {"charset": "utf8mb4"}',
      example='"OPTIONS": {"charset": "utf8"},')
def db_charset_utf8(ctx):
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
                  f"the files stay inside web's container; nginx never sees them (404).",
                  f"Set {kind.upper()}_ROOT = \"{want}\", where web mounts the {volume} volume.")
    elif not any(m.source == mount.source for m in nginx.mounts()):
        yield Hit(file, line, f"{kind.upper()}_ROOT is on {mount.source}, which nginx does not mount",
                  "nginx cannot serve files it cannot see: they answer 404.",
                  f"Mount {mount.source} in nginx too (read-only), at {want}.")


per_kind("{kind}-root-not-shared", ERROR, "settings", ("settings", "compose"), _root_not_shared,
         finds="A {KIND}_ROOT on no volume web mounts, or on one nginx does not mount.",
         breaks="Django writes {KIND}_ROOT in web; nginx serves the files only if that path is on a volume "
                "nginx mounts too (and only a volume keeps them across rebuilds).",
         fix="Set {KIND}_ROOT to where web mounts the {kind} volume, and mount that volume in nginx too.",
         example='{KIND}_ROOT = "/var/{kind}"   # web mounts the {kind} volume elsewhere')
