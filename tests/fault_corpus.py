"""The fault corpus of `djstack doctor`: each fault a real stack can have, with the finding doctor must
report first for it.

One table drives two tests. tests/test_fault_corpus.py replays each fault's evidence, recorded from a
real stack (tests/data/faults/<name>.json), without Docker; tests/e2e/test_doctor.py injects the live
ones into a running stack and asserts the same expectations, or, with DJSTACK_RECORD_FAULTS=1, records
their evidence files (tests/e2e/record_faults.py records the others; see tests/data/faults/README.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from djstack.envfile import read_env

FAULT_DATA = Path(__file__).resolve().parent / "data" / "faults"


@dataclass(frozen=True)
class Fault:
    first: str  # the id of the finding doctor must report first
    made: str  # how the fault is made on a real stack
    live: bool = True  # injected live by tests/e2e/test_doctor.py too (else recorded only)
    # Regular expressions the first finding must show: in its title or evidence, in its fix.
    shows: tuple[str, ...] = ()
    fix: tuple[str, ...] = ()
    never: tuple[str, ...] = ()  # ids no finding may have (a wrong cause doctor once named)


FAULTS: dict[str, Fault] = {
    # --- the catalogue doctor started with --------------------------------------------------------
    "wrong-db-password": Fault("db-access-denied", "MYSQL_PASSWORD changed in .env, web recreated",
                               shows=(r"1045",)),
    "db-stopped": Fault("db-not-running", "`docker compose stop db`"),
    # --- faults the adversary's round found (doctor named a symptom, or a value that was right) -----
    "db-user-changed": Fault("db-access-denied", "MYSQL_USER changed in .env after the volume was made, web "
                             "recreated (1045: the password is right)", shows=(r"1045",),
                             fix=(r"MYSQL_USER",)),
    "db-paused": Fault("db-paused", "`docker pause` of db's container (web's queries hang; nginx times out)",
                       live=False, never=("cause-unknown",)),
    "web-paused": Fault("web-paused", "`docker pause` of web's container (nginx times out)", live=False),
    "redis-config-typo": Fault("redis-config-invalid", "an unknown directive in compose/redis/redis.conf, redis "
                               "recreated", shows=(r"maxmemroy",), fix=(r"compose/redis/redis\.conf",)),
    "uwsgi-unknown-option": Fault("uwsgi-config-invalid", "an unknown option in compose/web/uwsgi.ini "
                                  "(strict = true), web rebuilt", shows=(r"harakiri-verbos",),
                                  fix=(r"compose/web/uwsgi\.ini",)),
    "migration-sql-error": Fault("migration-failed", "a migration whose RunSQL has a syntax error (1064): web "
                                 "crash-loops in migrate", shows=(r"gallery\.0002_bad_sql", r"1064"),
                                 fix=(r"0002_bad_sql",), never=("crash-exception",)),
    "redis-stopped": Fault("redis-not-running", "`docker compose stop redis`"),
    "redis-password-changed": Fault("redis-auth", "REDIS_PASSWORD changed in .env, redis recreated"),
    "import-error-in-wsgi": Fault("web-app-not-loaded", "wsgi.py imports a project module that does not exist",
                                  shows=(r"module_that_does_not_exist",)),
    "nginx-wrong-upstream-port": Fault("nginx-upstream-port-mismatch", "uwsgi_pass port + 1 in nginx.conf",
                                       fix=(r"compose/nginx/nginx\.conf:\d+",)),
    "model-without-migration": Fault("migrations-missing", "a model field added without its migration",
                                     shows=(r"stars",)),
    "table-dropped": Fault("db-table-missing", "DROP TABLE of the example's tables"),
    "host-not-allowed": Fault("allowed-hosts-missing-server-name",
                              "DJANGO_ALLOWED_HOSTS lacks a name nginx serves, a request for it"),
    "csrf-failure": Fault("csrf-failure", "POST /admin/login/ without a CSRF token"),
    "oom-killed": Fault("oom-killed", "web's memory limit set to 64m, then a 400 MB allocation in it",
                        shows=(r"64 MiB",)),
    "static-volume-empty": Fault("static-missing", "every file of the static volume deleted"),
    "media-not-writable": Fault("media-not-writable", "the media volume chowned to root"),
    "web-stopped": Fault("web-not-running", "`docker compose stop web`"),
    # --- db -------------------------------------------------------------------------------------------
    "db-name-changed": Fault("db-database-mismatch",
                             "MYSQL_DATABASE changed in .env after the volume was made, web recreated (1044)",
                             shows=(r"1044",), fix=(r"MYSQL_DATABASE",), never=("db-access-denied",)),
    "db-dropped": Fault("db-unknown-database", "the database dropped as root (1049)", shows=(r"1049",),
                        never=("db-access-denied",)),
    "db-too-many-connections": Fault("db-too-many-connections",
                                     "max_connections 10 (MariaDB's least), all held, web restarted: 1040 in migrate",
                                     shows=(r"1040",), fix=(r"max_connections",)),
    "db-read-only": Fault("db-read-only", "SET GLOBAL read_only=1, then a POST (1290)", shows=(r"1290",),
                          fix=(r"read_only = 0",)),
    "db-lock-wait-timeout": Fault("db-lock-wait-timeout",
                                  "innodb_lock_wait_timeout 1 and the notes table locked FOR UPDATE, "
                                  "then a POST (1205)", shows=(r"1205",)),
    "db-config-invalid": Fault("db-config-invalid", "an unknown option in compose/mysql/conf/djstack.cnf, "
                               "db restarted", shows=(r"no_such_option",), fix=(r"compose/mysql/conf/djstack\.cnf",)),
    "db-data-permission-denied": Fault("db-data-permission-denied",
                                       "db's data directory made mode 000, db restarted (errno 13)",
                                       shows=(r"/var/lib/mysql\S* ?.*Permission denied",)),
    "db-disk-full": Fault("db-disk-full", "db's data directory on a 300 MB tmpfs, rows written until it is "
                          "full and MariaDB crashes (its restart policy off: a tmpfs would restart empty)",
                          live=False, shows=(r"error 28|No space left",)),
    "db-connection-lost": Fault("db-connection-lost", "web's connection killed in db during a request's "
                                "query (2013)", shows=(r"2013",)),
    "db-name-unresolved": Fault("db-name-unresolved", "web disconnected from the db network (2005)",
                                shows=(r"2005",), never=("db-not-running",)),
    # --- redis ----------------------------------------------------------------------------------------
    # The files disagree (web's REDIS_PASSWORD in docker-compose.yml is not .env's): djstack check's
    # finding is the cause, Redis's replies its effect: NOAUTH (no password sent), or WRONGPASS since
    # web signs in as the ACL user (with an empty password).
    "redis-noauth": Fault("redis-password-mismatch", "web's REDIS_PASSWORD emptied in docker-compose.yml, "
                          "web recreated (NOAUTH, WRONGPASS)", shows=(r"NOAUTH|WRONGPASS",)),
    "redis-oom": Fault("redis-out-of-memory", "CONFIG SET maxmemory 1 with noeviction, then a cache write",
                       shows=(r"OOM",), fix=(r"maxmemory",), never=("cache-probe-failed",)),
    "redis-misconf": Fault("redis-persistence-failed", "redis's /data made unwritable for it, then BGSAVE",
                           shows=(r"MISCONF",)),
    # --- nginx ----------------------------------------------------------------------------------------
    # nginx.conf itself is tested when nginx's image is built (`nginx -t`): a running nginx meets a
    # typo in a file mounted into it.
    "nginx-config-typo": Fault("nginx-config-invalid", "a typo (`st $web …`) in compose/nginx/upstream/web.conf, "
                               "nginx restarted", shows=(r'"st"',), fix=(r"compose/nginx/upstream/web\.conf:1\b",)),
    "static-file-unreadable": Fault("nginx-permission-denied", "the static volume's files made unreadable to "
                                    "nginx (chmod 600)", shows=(r"13: Permission denied",)),
    # djstack check reads the same two files and names them: the cause; nginx's [emerg] follows.
    "tls-key-mismatch": Fault("tls-certificate-unusable", "a `--tls provided` stack given the key of another "
                              "certificate by hand, nginx restarted", live=False, shows=(r"privkey\.pem",)),
    "port-taken": Fault("host-port-taken", "another listener on the host's HTTP port, nginx recreated",
                        shows=(r"address already in use|port is already allocated",), fix=(r"HTTP_PORT",)),
    # --- web: settings, code, migrations, uWSGI ------------------------------------------------------
    # djstack check names the file and line (docker-compose.yml's DJANGO_SETTINGS_MODULE): the cause.
    "settings-module-wrong": Fault("settings-module-missing",
                                   "DJANGO_SETTINGS_MODULE names a module that does not exist",
                                   shows=(r"settings_that_does_not_exist",)),
    "settings-missing-dependency": Fault("missing-dependency", "settings.py imports a package the image "
                                         "lacks (in production only)", shows=(r"sentry_sdk",),
                                         fix=(r"requirements\.txt",)),
    "app-not-installed": Fault("missing-dependency", "INSTALLED_APPS names a package the image lacks "
                               "(in production only)", shows=(r"django_extensions",)),
    "migration-history-inconsistent": Fault("db-inconsistent-migrations", "contenttypes 0001's row deleted "
                                            "from django_migrations, web restarted",
                                            shows=(r"contenttypes\.0001_initial",)),
    "migration-conflict": Fault("migrations-conflict", "two 0002 migrations on the same parent",
                                shows=(r"0002_note_a", r"0002_note_b"), fix=(r"makemigrations --merge",)),
    "template-unknown-load": Fault("template-error", "a template with `{% load no_such_lib %}`, its page "
                                   "requested", shows=(r"no_such_lib", r"cached_page\.html"),
                                   # Django's "Must be one of:" heads a list on the next lines: cut.
                                   fix=(r"tag library\. \(\{% load %\} libraries",),
                                   never=("web-app-not-loaded",)),
    "template-missing": Fault("template-error", "a view renders a template that does not exist",
                              shows=(r"no_such_template\.html",), fix=(r"gallery/views\.py:\d+",),
                              never=("web-app-not-loaded",)),
    "view-exception": Fault("view-exception", "a view divides by zero, its page requested",
                            shows=(r"ZeroDivisionError", r"views\.py"), fix=(r"gallery/views\.py:\d+",)),
    "harakiri": Fault("uwsgi-harakiri", "harakiri 2 s in uwsgi.ini, a view that sleeps 5 s requested",
                      shows=(r"/slow/",)),
    "worker-killed": Fault("uwsgi-worker-killed", "one uWSGI worker (not PID 1) killed with SIGKILL",
                           shows=(r"signal 9",)),
    "static-file-missing": Fault("static-file-missing", "a template links a static file that was never "
                                 "collected (404 through nginx)", shows=(r"gallery/missing\.css",)),
    "compress-offline": Fault("compress-offline-missing", "django-compressor with COMPRESS_OFFLINE, `compress` "
                              "never run, a compressed page requested; the settings read their secret "
                              "through their own helper", live=False, shows=(r"OfflineGenerationError",),
                              fix=(r"manage\.py compress",), never=("settings-env-not-set",)),
    # --- confinement: read-only roots, tmpfs mounts (issue 14) ---------------------------------------
    "read-only-root-write": Fault("web-read-only-write", "a view that keeps its exports in the project's folder "
                                  "(/app/exports, on web's read-only root), requested", live=False,
                                  shows=(r"/app/exports", r"read-only root"), fix=(r"code folder",),
                                  never=("view-exception", "crash-exception")),
    # nginx takes a whole request body before passing it on, into /tmp (a tmpfs): the host's disk has room.
    "nginx-tmpfs-full": Fault("nginx-tmpfs-full", "24 uploads of 9 MB at once, each at 1 MB/s: their bodies "
                              "overlap in nginx's /tmp tmpfs until it is full (errno 28)", live=False,
                              shows=(r"tmpfs /tmp \(128m", r"28: No space left on device"),
                              fix=(r"size=128m", r"NGINX_MEM_LIMIT"), never=("db-disk-full",)),
    # MariaDB's temporary tables go to its tmpdir, db's /tmp tmpfs: it names no folder (".(temporary)").
    "db-tmpfs-full": Fault("db-tmpfs-full", "a report view whose GROUP BY over 5000 rows of 60 KB needs an on-disk "
                           "temporary table larger than db's /tmp tmpfs, requested (1021)", live=False,
                           shows=(r"tmpfs /tmp \(256m", r"temporary table"), fix=(r"size=256m", r"DB_MEM_LIMIT"),
                           never=("db-disk-full", "view-exception")),
    # --- the stack's own files -------------------------------------------------------------------------
    "env-file-missing": Fault("env-file-missing", ".env renamed away", fix=(r"\.env",)),
    "env-file-unreadable": Fault("env-file-missing", ".env chmod 000, doctor run as a user who may use Docker",
                                 live=False, shows=(r"not readable",)),
    "secret-key-helper-default": Fault("db-access-denied", "settings read SECRET_KEY through the project's "
                                       "own helper, from a variable web lacks but with a default, and "
                                       "MYSQL_PASSWORD is wrong", live=False, shows=(r"1045",),
                                       never=("settings-env-not-set",)),
}


def assert_diagnosed(name: str, findings: list[dict]) -> None:
    """doctor's findings (its --json output) for fault `name` are what the table expects."""
    fault = FAULTS[name]
    ids = [f["id"] for f in findings]
    assert ids, f"{name}: doctor found nothing"
    first = findings[0]
    assert first["id"] == fault.first, f"{name}: first finding {first['id']}, expected {fault.first} ({ids})"
    shown = "\n".join([first["title"], *first["evidence"]])
    for pattern in fault.shows:
        assert re.search(pattern, shown), f"{name}: {first['id']} does not show {pattern!r}:\n{shown}"
    for pattern in fault.fix:
        assert re.search(pattern, first["fix"]), f"{name}: {first['id']}'s fix lacks {pattern!r}: {first['fix']}"
    wrong = set(fault.never) & set(ids)
    assert not wrong, f"{name}: doctor named {sorted(wrong)} ({ids})"


def recording() -> bool:
    """Whether the fault tests record evidence files (DJSTACK_RECORD_FAULTS=1) instead of asserting."""
    return os.environ.get("DJSTACK_RECORD_FAULTS", "") == "1"


def secrets_of(*env_files: Path) -> set[str]:
    """The values of every key with PASSWORD or SECRET in its name, in the .env files that exist."""
    return {value for path in env_files if path.is_file() for key, value in read_env(path).items()
            if value and ("PASSWORD" in key or "SECRET" in key)}


def save_evidence(name: str, text: str, secrets: set[str]) -> Path:
    """Write fault `name`'s evidence (doctor --save-evidence's JSON) with every secret redacted."""
    for secret in sorted(secrets, key=len, reverse=True):  # a longer secret may contain a shorter one
        text = text.replace(secret, "<redacted>")
    FAULT_DATA.mkdir(parents=True, exist_ok=True)
    path = FAULT_DATA / f"{name}.json"
    path.write_text(text, encoding="utf-8")
    return path
