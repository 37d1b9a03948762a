"""Known error signatures in the services' logs: each is one entry of data.

A signature names the services whose logs it reads ("probe" is the output of doctor's own probes),
a regular expression, and the finding it means. Titles and fixes take `{placeholders}` filled from
the stack model (see `placeholders`), so no name, port or path is typed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Stack
from .facts import Container
from .finding import (CONFIG, CREDENTIALS, ERROR, FILES, REQUEST, SCHEMA, UPSTREAM, WARNING,
                      Finding)

WEB, NGINX, DB, REDIS, PROBE = "web", "nginx", "db", "redis", "probe"


@dataclass(frozen=True)
class Signature:
    id: str
    services: tuple[str, ...]  # model service keys (web, nginx, db, redis) or "probe"
    pattern: str
    title: str
    fix: str
    rank: int
    severity: str = ERROR
    # The live probe that settles it: when that probe passes now, the log lines are history (a
    # problem already fixed, e.g. db errors from before db came back) and are not reported.
    settled_by: str = ""


SIGNATURES: tuple[Signature, ...] = (
    # --- nginx -------------------------------------------------------------------------------------
    Signature("nginx-upstream-refused", (NGINX,),
              r"connect\(\) failed \(111: Connection refused\) while connecting to upstream",
              "nginx cannot connect to uWSGI: connection refused (the site answers 502)",
              "Nothing listens where nginx sends requests. If web is down, fix web first (see its "
              "findings); else make `uwsgi_pass` in {nginx_conf} match `socket = :{uwsgi_port}` in "
              "{uwsgi_ini}, then `docker compose up -d --build {nginx}`.", UPSTREAM, settled_by="site"),
    Signature("nginx-upstream-timeout", (NGINX,), r"upstream timed out",
              "uWSGI did not answer nginx in time (the site answers 504)",
              "A request took longer than uwsgi_read_timeout: see web's log for the slow view "
              "(uWSGI's harakiri names it), or a database that hangs.", UPSTREAM),
    Signature("nginx-no-resolver", (NGINX,), r"no resolver defined",
              "nginx has no DNS resolver for the upstream held in a variable",
              "Add `resolver 127.0.0.11 valid=10s ipv6=off;` (Docker's DNS) to the http block of "
              "{nginx_conf}, then `docker compose up -d --build {nginx}`.", CONFIG),
    Signature("nginx-upstream-unresolved", (NGINX,), r"could not be resolved",
              "nginx cannot resolve web's name: the web container is not on nginx's network",
              "Start web (`docker compose up -d {web}`); if it runs, check that web and nginx share "
              "the {front_network} network in {compose}.", UPSTREAM, settled_by="site"),
    Signature("nginx-permission-denied", (NGINX,), r"\(13: Permission denied\)",
              "nginx may not read a file it serves",
              "Files in the static and media volumes must be readable by nginx's worker user: "
              "`docker compose exec {web} chmod -R a+rX {static} {media}` (as their owner).", FILES),
    # --- web: uWSGI and Django ---------------------------------------------------------------------
    Signature("uwsgi-harakiri", (WEB,), r"HARAKIRI",
              "uWSGI killed a worker stuck on a request (harakiri)",
              "A view ran longer than `harakiri` in {uwsgi_ini}: the log line names the request; make "
              "it faster or move the work to a background job.", UPSTREAM),
    Signature("web-app-not-loaded", (WEB,),
              r"no app loaded|unable to load app|need-app|ModuleNotFoundError|ImportError|SyntaxError",
              "uWSGI cannot import the Django application: web stops at start",
              "Fix the error shown by the traceback (an import or syntax error in your code), then "
              "`docker compose up -d --build {web}`. Reproduce it with "
              "`docker compose run --rm {web} python -c 'import {wsgi_module}'`.", SCHEMA),
    Signature("db-inconsistent-migrations", (WEB, PROBE), r"InconsistentMigrationHistory",
              "The database's migration history contradicts the migration files",
              "A migration is recorded as applied before one it depends on. Restore the migration "
              "files that were applied, or (data loss!) drop the app's tables and its django_migrations "
              "rows, then `djstack manage migrate`.", SCHEMA),
    Signature("db-access-denied", (WEB, PROBE, DB), r"Access denied for user",
              "The database refuses web's user and password",
              "web's MYSQL_PASSWORD must be the password the db volume was initialised with: restore "
              "MYSQL_PASSWORD in .env, or set the user's password in MySQL "
              "(`docker compose exec {db} mysql -uroot -p` → ALTER USER), then "
              "`docker compose up -d {web}`.", CREDENTIALS, settled_by="db"),
    Signature("db-unreachable", (WEB, PROBE),
              # MySQL's client library says "MySQL server", MariaDB's (Debian's) just "server".
              r"Unknown (MySQL |MariaDB )?server host|Can't connect to (local )?(MySQL |MariaDB )?server",
              "web cannot reach the database server",
              "Start db (`docker compose up -d {db}`) and check that web and db share the {db_network} "
              "network and that DATABASES HOST is '{db}' and PORT {db_port}.", CREDENTIALS, settled_by="db"),
    Signature("db-table-missing", (WEB, PROBE), r"\(1146, \"Table '[^']+' doesn't exist",
              "A table the code uses does not exist in the database",
              "Apply the migrations: `djstack manage migrate`. If they are recorded as applied but the "
              "table is gone: `djstack manage migrate APP zero --fake`, then `djstack manage migrate APP`.",
              SCHEMA),
    Signature("db-column-missing", (WEB, PROBE), r"\(1054, \"Unknown column",
              "A column the code uses does not exist: a model change has no migration",
              "Create the migration on your machine (`python manage.py makemigrations`), commit it, "
              "then `docker compose up -d --build {web}` (its entrypoint migrates).", SCHEMA + 1),
    Signature("migrations-missing", (WEB, PROBE),
              r"have changes that are not yet reflected in a migration",
              "Models have changes without a migration",
              "Run `python manage.py makemigrations` on your machine, commit the new files, then "
              "`docker compose up -d --build {web}`. Never run makemigrations in the container.",
              SCHEMA, settled_by="models"),
    Signature("migrations-unapplied", (WEB, PROBE), r"You have \d+ unapplied migration",
              "Migrations are not applied",
              "`djstack manage migrate` (web's entrypoint runs it at each start: "
              "`docker compose up -d --force-recreate {web}`).", SCHEMA, settled_by="migrations"),
    Signature("redis-auth", (WEB, PROBE, REDIS),
              r"NOAUTH|WRONGPASS|invalid password|invalid username-password pair|AuthenticationError",
              "Redis refuses web's password",
              "web and redis must use the same REDIS_PASSWORD from .env: "
              "`docker compose up -d --force-recreate {web} {redis}`.", CREDENTIALS, settled_by="cache"),
    Signature("redis-unreachable", (WEB, PROBE),
              r"Error -?\d+ connecting to \S*:\d+|Connection refused.*6379|ConnectionError: Error",
              "web cannot reach Redis",
              "Start redis (`docker compose up -d {redis}`) and check that web and redis share the "
              "{redis_network} network and that the cache LOCATION is redis://{redis}:{redis_port}.",
              CREDENTIALS, settled_by="cache"),
    Signature("media-permission-denied", (WEB,), r"Permission denied: '({media}|{static})",
              "web may not write to the media or static volume",
              "The volumes must belong to the app user ({app_user}): `{chown_volumes}`",
              FILES, settled_by="media"),
    Signature("disallowed-host", (WEB,), r"Invalid HTTP_HOST header: '[^']*'",
              # nginx answers unknown hosts itself, so a host that reaches Django is one nginx serves.
              "Django refuses a host name nginx serves: it is not in ALLOWED_HOSTS (400)",
              "Add the name to DJANGO_ALLOWED_HOSTS in .env (`djstack init --host NAME` keeps nginx's "
              "server_name in step), then `docker compose up -d {web}`.", REQUEST),
    Signature("csrf-failure", (WEB,), r"Forbidden \(CSRF",
              "Django refused form posts: CSRF verification failed (403)",
              "Behind HTTPS or another port, the site's origin must be in DJANGO_CSRF_TRUSTED_ORIGINS "
              "(.env); then `docker compose up -d {web}`.", REQUEST, WARNING),
)


SETTLED_BY = {sig.id: sig.settled_by for sig in SIGNATURES if sig.settled_by}


def placeholders(stack: Stack, web: Container | None = None) -> dict[str, str]:
    """Names for titles and fixes; volume and image names as the running web container has them."""
    s = stack
    mounts = web.volumes if web else {}
    static_volume = mounts.get(s.paths.static) or f"{s.name}_{s.volumes.static}"
    media_volume = mounts.get(s.paths.media) or f"{s.name}_{s.volumes.media}"
    image = (web.image if web else "") or f"{s.name}-{s.services.web}"
    return {
        "web": s.services.web, "nginx": s.services.nginx, "db": s.services.db, "redis": s.services.redis,
        "uwsgi_port": str(s.ports.uwsgi), "db_port": str(s.ports.db), "redis_port": str(s.ports.redis),
        "static": s.paths.static, "media": s.paths.media, "app_user": s.user.name,
        "front_network": s.networks.front, "db_network": s.networks.db, "redis_network": s.networks.redis,
        # Stack files from the project root: for a stack in djstack/, a bare name reads as the project's own file.
        "compose": s.from_root(s.files.compose), "nginx_conf": s.from_root(s.files.nginx_conf),
        "uwsgi_ini": s.from_root(s.files.uwsgi_ini),
        "wsgi_module": s.project.wsgi_module,
        # Root inside web cannot chown (no-new-privileges): a one-off container as root can.
        "chown_volumes": f"docker run --rm -u root -v {static_volume}:{s.paths.static} "
                         f"-v {media_volume}:{s.paths.media} {image} "
                         f"chown -R {s.user.uid}:{s.user.uid} {s.paths.static} {s.paths.media}",
    }


#: Lines shown as evidence per signature, the last ones seen.
EVIDENCE_LINES = 3


def match(source: str, lines: list[str], values: dict[str, str],
          signatures: tuple[Signature, ...] = SIGNATURES) -> list[Finding]:
    """Findings for the signatures of `source` (web, nginx, db, redis, probe) that `lines` show."""
    found = []
    for sig in signatures:
        if source not in sig.services:
            continue
        regex = re.compile(_fill(sig.pattern, {k: re.escape(v) for k, v in values.items()}))
        hits = [line.strip() for line in lines if regex.search(line)]
        if not hits:
            continue
        evidence = [f"{source}: {_clip(line)}" for line in dict.fromkeys(hits[-EVIDENCE_LINES:])]
        found.append(Finding(sig.id, sig.severity, _fill(sig.title, values), _fill(sig.fix, values),
                             sig.rank, values.get(source, source if source != PROBE else ""), evidence))
    return found


def _fill(template: str, values: dict[str, str]) -> str:
    # Regexes contain braces ({2}) too: replace only the known names.
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


_UPSTREAM = re.compile(r'upstream: "[^"]*"')


def _clip(line: str, width: int = 160) -> str:
    if len(line) <= width:
        return line
    # nginx puts where it sent the request near the end: keep it, it names the port it used.
    upstream = _UPSTREAM.search(line)
    tail = f" … {upstream.group(0)}" if upstream else ""
    return line[: width - 1 - len(tail)] + "…" + tail.removeprefix(" …")


def finding_for(sig_id: str, values: dict[str, str], evidence: list[str], service: str = "") -> Finding:
    """The finding of signature `sig_id`, seen by other means than a log line (a probe)."""
    sig = next(s for s in SIGNATURES if s.id == sig_id)
    return Finding(sig.id, sig.severity, _fill(sig.title, values), _fill(sig.fix, values), sig.rank,
                   service, evidence)
