"""Known error signatures in the services' logs: each is one entry of data.

A signature names the services whose logs it reads ("probe" is the output of doctor's own probes),
what it is triggered by — typed facts (evidence.py: `mysql:1045`, `redis:NOAUTH`, …) or, for what
no parser types, a regular expression anchored so one error cannot pass for another — and the
finding it means. Titles and fixes take `{placeholders}` filled from the stack model (see
`placeholders`), so no name, port or path is typed here; `{subject}` is what the last fact names (a
request, an option).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Stack
from .confinement import NO_SPACE
from .evidence import BROKER, DB, NGINX, PROBE, REDIS, WEB, Fact, parse
from .facts import Container
from .finding import (BACKING, CONFIG, CREDENTIALS, ERROR, FILES, MEMORY, REQUEST, SCHEMA, UPSTREAM,
                      WARNING, Finding)


@dataclass(frozen=True)
class Signature:
    id: str
    services: tuple[str, ...]  # model service keys (web, nginx, db, redis) or "probe"
    pattern: str  # a regular expression on the line ("": only `facts` trigger it)
    title: str
    fix: str
    rank: int
    severity: str = ERROR
    # The live probe that settles it: when that probe passes now, the log lines are history (a
    # problem already fixed, e.g. db errors from before db came back) and are not reported.
    settled_by: str = ""
    facts: tuple[str, ...] = ()  # fact keys (kind or kind:code) that trigger it


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
    Signature("nginx-permission-denied", (NGINX,), "",
              "nginx may not read a file it serves",
              "Files in the static and media volumes must be readable by nginx's worker user: "
              "`docker compose exec {web} chmod -R a+rX {static} {media}` (as their owner).", FILES,
              facts=("nginx-open-failed:13",)),
    Signature("tls-key-mismatch", (NGINX,), "",
              "nginx cannot start HTTPS: the private key does not belong to the certificate",
              "{tls_key} must be the key of {tls_cert}: copy the matching pair (certbot's privkey.pem "
              "with its fullchain.pem; compare `openssl x509 -noout -pubkey -in {tls_cert}` with "
              "`openssl pkey -pubout -in {tls_key}`), then `docker compose up -d --force-recreate {nginx}`.",
              # The rank of check's tls-certificate-unusable, which names the same files first.
              CONFIG, facts=("tls-key-mismatch",)),
    # --- web: uWSGI and Django ---------------------------------------------------------------------
    Signature("uwsgi-harakiri", (WEB,), r"HARAKIRI",
              "uWSGI killed a worker stuck on {subject} (harakiri)",
              "A view ran longer than `harakiri` in {uwsgi_ini} ({subject}): make it faster or move "
              "the work to a background job.", UPSTREAM,
              facts=("uwsgi-harakiri", "uwsgi-harakiri-request")),
    Signature("uwsgi-worker-killed", (WEB,), "",
              "A uWSGI worker was killed by a signal (uWSGI started a new one)",
              "Something outside uWSGI killed worker {subject}: the kernel's OOM killer (see `dmesg` on "
              "the host and web's mem_limit in {compose}) or a `kill`. Requests it served failed; "
              "if it recurs, give web more memory or fewer `processes` in {uwsgi_ini}.", UPSTREAM + 1,
              WARNING, facts=("uwsgi-worker-killed",)),
    Signature("uwsgi-listen-queue-full", (WEB,), "",
              "uWSGI's listen queue is full: requests wait or are refused",
              "Every worker is busy: find the slow views (nginx's 504s, harakiri lines), or raise "
              "`processes`/`threads` (and `listen`, with the host's net.core.somaxconn) in {uwsgi_ini}.",
              UPSTREAM, WARNING, facts=("uwsgi-listen-queue-full",)),
    Signature("uwsgi-config-invalid", (WEB,), "",
              "web does not start: uWSGI does not know the option '{subject}' ({uwsgi_ini})",
              "Correct or remove `{subject}` in {uwsgi_ini} (its `strict = true` makes an unknown option "
              "an error instead of a silent typo), then `docker compose up -d --build {web}`.", CONFIG,
              facts=("uwsgi-unknown-option",)),
    Signature("web-app-not-loaded", (WEB,),
              # \\b: TemplateSyntaxError (a page's error) is not SyntaxError (the code's).
              r"\b(ModuleNotFoundError|ImportError|SyntaxError)\b",
              "uWSGI cannot import the Django application: web stops at start",
              "Fix the error shown by the traceback (an import or syntax error in your code), then "
              "`docker compose up -d --build {web}`. Reproduce it with "
              "`docker compose run --rm {web} python -c 'import {wsgi_module}'`.", SCHEMA,
              facts=("uwsgi-no-app",)),
    Signature("db-inconsistent-migrations", (WEB, PROBE), r"\bInconsistentMigrationHistory\b",
              "The database's migration history contradicts the migration files",
              "A migration is recorded as applied before one it depends on. Restore the migration "
              "files that were applied, or (data loss!) drop the app's tables and its django_migrations "
              "rows, then `djstack manage migrate`.", SCHEMA),
    Signature("migrations-conflict", (WEB, PROBE), r"\bConflicting migrations detected\b",
              "Two migrations of one app claim the same parent: migrate refuses to run",
              "Merge them on your machine: `python manage.py makemigrations --merge` (or renumber one "
              "to depend on the other), commit, then `docker compose up -d --build {web}`.", SCHEMA),
    # --- db: MySQL/MariaDB error codes, as the client reports them ----------------------------------
    Signature("db-access-denied", (WEB, PROBE, DB), "",
              "The database refuses web's user and password",
              # 1045 does not say which of the two is wrong: the user is named in the evidence.
              "web connects as MYSQL_USER with MYSQL_PASSWORD ({env}): both must be a user and password "
              "the db volume was initialised with (or made since). Put back whichever you changed in "
              "{env}; or, as root, set the user's password (ALTER USER) or create it and grant it the "
              "database (`echo \"CREATE USER 'NAME'@'%' IDENTIFIED BY 'PASSWORD'; GRANT ALL ON {db_name}.* "
              "TO 'NAME'@'%';\" | {root_mysql}`); then `docker compose up -d {web}`.", CREDENTIALS,
              settled_by="db", facts=("mysql:1045",)),
    Signature("db-database-mismatch", (WEB, PROBE, DB), "",
              "web's user may not use database '{subject}': MYSQL_DATABASE in .env is not the database "
              "the db volume was made with",
              "The db volume was initialised with another MYSQL_DATABASE, and its user is granted only "
              "that one. Put the old name back in {env} (MYSQL_DATABASE), then `docker compose up -d "
              "--force-recreate {web} {db}`; or create '{subject}' and grant it as root: "
              "`echo \"CREATE DATABASE IF NOT EXISTS {subject} CHARACTER SET utf8mb4; GRANT ALL ON "
              "{subject}.* TO '{db_user}'@'%';\" | {root_mysql}`, then `djstack manage migrate`.", CREDENTIALS,
              settled_by="db", facts=("mysql:1044",)),
    Signature("db-unknown-database", (WEB, PROBE), "",
              "Database '{subject}' does not exist on db (dropped or renamed)",
              "Create it as root: `echo \"CREATE DATABASE {subject} CHARACTER SET utf8mb4;\" | {root_mysql}`, then "
              "restore its data (`djstack restore BACKUP`) or create the tables (`djstack manage "
              "migrate`).", CREDENTIALS, settled_by="db", facts=("mysql:1049",)),
    Signature("db-too-many-connections", (WEB, PROBE), "",
              "db refuses new connections: max_connections is reached",
              "Connections held (CONN_MAX_AGE keeps one per uWSGI process × thread of each web "
              "container, plus one per one-off command) exceed db's max_connections. Compare "
              "`echo \"SELECT @@max_connections; SHOW PROCESSLIST;\" | {root_mysql}` with "
              "`processes`/`threads` in {uwsgi_ini}; raise max_connections in {mysql_conf} (then "
              "`docker compose up -d --force-recreate {db}`), or lower CONN_MAX_AGE or the processes.",
              BACKING, facts=("mysql:1040",)),
    Signature("db-read-only", (WEB, PROBE), "",
              "db is read-only: writes fail (MySQL error 1290)",
              "Turn it off: `echo \"SET GLOBAL read_only = 0;\" | {root_mysql}`; and remove `read_only` from "
              "{mysql_conf} if it is set there (a replica set up as read-only on purpose takes no writes).",
              BACKING, facts=("mysql:1290",)),
    Signature("db-lock-wait-timeout", (WEB, PROBE), "",
              "A query waited too long for a row lock another transaction holds (MySQL error 1205)",
              "Find the transaction that holds the lock: `echo \"SELECT trx_mysql_thread_id, trx_started, "
              "trx_query FROM information_schema.INNODB_TRX;\" | {root_mysql}`; end it (KILL ID) and the "
              "code that keeps it open (a long transaction, a manual LOCK TABLES); check "
              "innodb_lock_wait_timeout in {mysql_conf}.", BACKING, facts=("mysql:1205",)),
    Signature("db-deadlock", (WEB, PROBE), "",
              "Two transactions deadlocked; MySQL rolled one back (error 1213)",
              "Retry the transaction in the code that raised it, and take locks in one order "
              "(select_for_update on the same rows in the same order).", REQUEST, WARNING,
              facts=("mysql:1213",)),
    Signature("db-packet-too-large", (WEB, PROBE), "",
              "A query or row is larger than db's max_allowed_packet (MySQL error 1153)",
              "Raise max_allowed_packet in {mysql_conf} (e.g. 64M), then "
              "`docker compose up -d --force-recreate {db}`.", BACKING, facts=("mysql:1153",)),
    Signature("db-disk-full", (DB, WEB, PROBE), "",
              "The disk under db's data is full: db cannot write",
              "Free space on the host's disk that holds Docker's volumes (`docker system df`, "
              "`df -h /var/lib/docker`), then `docker compose restart {db}`; the database must not "
              "stay at 100 %: InnoDB stops writing.", MEMORY,
              facts=NO_SPACE),
    Signature("db-config-invalid", (DB,), "",
              "db does not start: its configuration has an unknown option ({subject})",
              "Remove or correct `{subject}` in {mysql_conf} (a name this server does not know), then "
              "`docker compose up -d --force-recreate {db}`.", CONFIG, facts=("db-unknown-option",)),
    Signature("db-data-permission-denied", (DB,), "",
              "db may not write its data folder (error 13: permission denied)",
              "The db volume must belong to the server's user (mysql): `docker run --rm -u root -v "
              "{db_volume}:{mysql_data} {db_image} chown -R mysql:mysql {mysql_data}`, then "
              "`docker compose up -d {db}`.", BACKING, facts=("os-error:13",)),
    Signature("db-name-unresolved", (WEB, PROBE), "",
              "web cannot resolve db's name '{db}': web is not on the {db_network} network",
              "db runs but web's DNS does not know it: reattach web (`docker compose up -d "
              "--force-recreate {web}`) and check that both list {db_network} under networks in {compose}.",
              CREDENTIALS, facts=("mysql:2005",)),
    Signature("db-unreachable", (WEB, PROBE),
              # MySQL's client library says "MySQL server", MariaDB's (Debian's) just "server".
              r"Unknown (MySQL |MariaDB )?server host|Can't connect to (local )?(MySQL |MariaDB )?server",
              "web cannot reach the database server",
              "Start db (`docker compose up -d {db}`) and check that web and db share the {db_network} "
              "network and that DATABASES HOST is '{db}' and PORT {db_port}.", CREDENTIALS, settled_by="db"),
    Signature("db-connection-lost", (WEB, PROBE), "",
              "web lost its database connection mid-query (db restarted or was killed)",
              "If db restarted (see its restarts and log), the next request reconnects; set "
              "CONN_HEALTH_CHECKS = True in your settings so a stale persistent connection is "
              "replaced before use. If it recurs, db may be running out of memory or hitting wait_timeout.",
              CREDENTIALS + 1, WARNING, facts=("mysql:2006", "mysql:2013")),
    Signature("db-table-missing", (WEB, PROBE), "",
              "A table the code uses does not exist in the database",
              "Apply the migrations: `djstack manage migrate`. If they are recorded as applied but the "
              "table is gone: `djstack manage migrate APP zero --fake`, then `djstack manage migrate APP`.",
              SCHEMA, facts=("mysql:1146",)),
    Signature("db-column-missing", (WEB, PROBE), "",
              "A column the code uses does not exist: a model change has no migration",
              "Create the migration on your machine (`python manage.py makemigrations`), commit it, "
              "then `docker compose up -d --build {web}` (its entrypoint migrates).", SCHEMA + 1,
              facts=("mysql:1054",)),
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
    # --- redis: its replies, as redis-py raises them, and its own log --------------------------------
    Signature("redis-auth", (WEB, PROBE, REDIS),
              r"invalid password|invalid username-password pair|AuthenticationError",
              "Redis refuses web's password",
              "web and redis must use the same REDIS_PASSWORD from .env, and web sign in as the ACL user "
              "redis's command defines ({redis_user}): `docker compose up -d --force-recreate {web} {redis}`.",
              CREDENTIALS, settled_by="cache", facts=("redis:NOAUTH", "redis:WRONGPASS")),
    Signature("redis-command-denied", (WEB, PROBE), "",
              "Redis's ACL refuses a command web sends (NOPERM)",
              "The app's Redis user ({redis_user}) may not run Redis's @dangerous commands (KEYS, CONFIG, "
              "FLUSHALL, …; its rules are on redis's command line in {compose}): send another (SCAN rather "
              "than KEYS) or, for a command safe for the app, add `+<command>` to those rules; then "
              "`docker compose up -d {redis}`.",
              CREDENTIALS, facts=("redis:NOPERM",)),
    Signature("redis-out-of-memory", (WEB, PROBE), "",
              "Redis is at its memory limit and refuses writes (OOM: maxmemory reached, no eviction)",
              "A cache may drop old keys: set `maxmemory-policy allkeys-lru` in {redis_conf} (or raise "
              "`maxmemory`), then `docker compose up -d --force-recreate {redis}`; see its memory use "
              "with `docker compose exec {redis} redis-cli --user {redis_user} INFO memory`.", BACKING,
              facts=("redis:OOM",)),
    Signature("redis-persistence-failed", (WEB, PROBE, REDIS), "",
              "Redis cannot save its data to disk, so it refuses writes (MISCONF)",
              "Redis's {redis_data} must be writable by its user and the disk not full: `docker run --rm "
              "-u root -v {redis_volume}:{redis_data} {redis_image} chown -R redis:redis {redis_data}` "
              "(and free space), then `docker compose restart {redis}`.", BACKING,
              facts=("redis:MISCONF", "redis-save-failed")),
    Signature("redis-loading", (WEB, PROBE), "",
              "Redis is still loading its data set into memory",
              "Wait until `docker compose exec {redis} redis-cli --user {redis_user} ping` answers PONG; "
              "a large appendonly file loads slowly.", BACKING + 1, WARNING, facts=("redis:LOADING",)),
    Signature("redis-config-invalid", (REDIS,), "",
              "redis does not start: its configuration has a line it refuses ({subject})",
              "Correct or remove `{subject}` in {redis_conf} (an unknown directive or wrong arguments), "
              "then `docker compose up -d --force-recreate {redis}`.", CONFIG, settled_by="cache",
              facts=("redis-config-invalid",)),
    Signature("redis-unreachable", (WEB, PROBE),
              # Not the broker's Redis (workers.py: broker-unreachable), which listens on 6379 too.
              r"Error -?\d+ connecting to (?!{broker}:)\S*:\d+|Connection refused.*6379"
              r"|ConnectionError: Error(?! -?\d+ connecting to {broker}:)",
              "web cannot reach Redis",
              "Start redis (`docker compose up -d {redis}`) and check that web and redis share the "
              "{redis_network} network and that the cache LOCATION is redis://{redis}:{redis_port}.",
              CREDENTIALS, settled_by="cache"),
    # --- the broker: a Redis of its own (compose/redis/broker.conf) ---------------------------------
    Signature("broker-config-invalid", (BROKER,), "",
              "The broker does not start: its configuration has a line it refuses ({subject})",
              "Correct or remove `{subject}` in {broker_conf} (an unknown directive or wrong arguments), "
              "then `docker compose up -d --force-recreate {broker}`.", CONFIG, settled_by="workers",
              facts=("redis-config-invalid",)),
    # --- files and requests --------------------------------------------------------------------------
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
        "worker": s.services.worker, "beat": s.services.beat, "broker": s.services.broker,
        "flower": s.services.flower, "broker_port": str(s.ports.broker), "broker_network": s.networks.broker,
        "broker_conf": s.from_root(s.files.broker_conf),
        "uwsgi_port": str(s.ports.uwsgi), "db_port": str(s.ports.db), "redis_port": str(s.ports.redis),
        "static": s.paths.static, "media": s.paths.media, "app_user": s.user.name,
        "front_network": s.networks.front, "db_network": s.networks.db, "redis_network": s.networks.redis,
        # Stack files from the project root: for a stack in djstack/, a bare name reads as the project's own file.
        "compose": s.from_root(s.files.compose), "nginx_conf": s.from_root(s.files.nginx_conf),
        "uwsgi_ini": s.from_root(s.files.uwsgi_ini),
        "wsgi_module": s.project.wsgi_module,
        "env": s.from_root(s.files.env), "mysql_conf": s.from_root(s.files.mysql_conf),
        "redis_conf": s.from_root(s.files.redis_conf),
        "tls_cert": s.from_root(f"{s.tls_files.folder}/{s.tls_files.cert}"),
        "tls_key": s.from_root(f"{s.tls_files.folder}/{s.tls_files.key}"),
        "requirements": str(s.project.dependencies.source), "build_hook": s.from_root(s.files.build_hook),
        "db_name": s.db_name, "db_user": s.db_user, "http_port": str(s.http_port),
        # SQL as root, the password read inside db (never on the host's command line): SQL on stdin.
        "root_mysql": f"docker compose exec -T {s.services.db} sh -c 'MYSQL_PWD=\"$MYSQL_ROOT_PASSWORD\" "
                      "exec mysql -uroot'",
        "db_volume": f"{s.name}_{s.volumes.db}", "mysql_data": s.paths.mysql_data, "db_image": s.images.db,
        "redis_volume": f"{s.name}_{s.volumes.redis}", "redis_data": s.paths.redis_data,
        "redis_image": s.images.redis, "redis_user": s.redis_acl.user,
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
    return match_facts(source, lines, parse(source, lines), values, signatures)


def match_facts(source: str, lines: list[str], facts: list[Fact], values: dict[str, str],
                signatures: tuple[Signature, ...] = SIGNATURES) -> list[Finding]:
    """Findings for the signatures of `source` that its `facts` (parsed from `lines`) or its lines show."""
    found = []
    own = [f for f in facts if f.source == source]
    for sig in signatures:
        if source not in sig.services:
            continue
        hits = [f for f in own if f.key in sig.facts or f.kind in sig.facts]
        seen = {f.index for f in hits}
        if sig.pattern:
            regex = re.compile(_fill(sig.pattern, {k: re.escape(v) for k, v in values.items()}))
            hits += [Fact(sig.id, source, line.strip(), i) for i, line in enumerate(lines)
                     if i not in seen and regex.search(line)]
        if not hits:
            continue
        hits.sort(key=lambda f: f.index)
        found.append(finding_of(sig, source, hits, values))
    return found


def finding_of(sig: Signature, source: str, hits: list[Fact], values: dict[str, str]) -> Finding:
    """`sig`'s finding from the facts that show it: the last lines as evidence, `{subject}` the last
    thing they name."""
    last = [f.line for f in hits[-EVIDENCE_LINES:]]
    evidence = [f"{source}: {_clip(line)}" for line in dict.fromkeys(last)]
    # Only harakiri's finding may lack one (uWSGI names the request in another line).
    subject = next((f.subject for f in reversed(hits) if f.subject), "a request")
    filled = {**values, "subject": subject}
    return Finding(sig.id, sig.severity, _fill(sig.title, filled), _fill(sig.fix, filled), sig.rank,
                   values.get(source, source if source != PROBE else ""), evidence)


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


def signature(sig_id: str) -> Signature:
    return next(s for s in SIGNATURES if s.id == sig_id)


def finding_for(sig_id: str, values: dict[str, str], evidence: list[str], service: str = "") -> Finding:
    """The finding of signature `sig_id`, seen by other means than a log line (a probe)."""
    sig = signature(sig_id)
    return Finding(sig.id, sig.severity, _fill(sig.title, values), _fill(sig.fix, values), sig.rank,
                   service, evidence)
