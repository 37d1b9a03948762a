"""doctor's typed facts (doctor/evidence.py): what a service's line states, parsed before any
signature is matched, from lines as MariaDB 11.8, Redis 8, nginx 1.26 and uWSGI 2.0 print them."""

from __future__ import annotations

import pytest

from djstack.doctor.evidence import parse, read_evidence
from djstack.doctor.facts import Container, Facts, Probe


@pytest.mark.parametrize("source,line,key,subject", [
    ("web", "django.db.utils.OperationalError: (1044, \"Access denied for user 'u'@'%' to database 'shop'\")",
     "mysql:1044", "shop"),
    ("web", "django.db.utils.OperationalError: (1045, \"Access denied for user 'u'@'172.19.0.4' (using password: "
     "YES)\")", "mysql:1045", ""),
    ("web", "ERROR 1049 (42000): Unknown database 'shop'", "mysql:1049", "shop"),
    ("db", "2026-12-01 21:30:12 31 [Warning] Access denied for user 'u'@'172.19.0.4' (using password: YES)",
     "mysql:1045", ""),
    ("db", "2026-12-01 21:31:10 0 [ERROR] mariadbd: unknown variable 'no_such_option=1'", "db-unknown-option",
     "no_such_option=1"),
    ("db", "2026-12-01 21:32:00 0 [ERROR] InnoDB: Operating system error number 13 in a file operation.",
     "os-error:13", ""),
    ("web", "WSGI app 0 (mountpoint='') ready in 1 seconds on interpreter 0x55d0 pid: 1 (default app)",
     "uwsgi-app-loaded", ""),
    ("web", "[pid: 9|app: 0|req: 3/5] 172.19.0.5 () {44 vars in 812 bytes} [Tue Dec  1 21:40:05 2026] GET / => "
     "generated 3120 bytes in 20 msecs (HTTP/1.1 200) 7 headers in 229 bytes (1 switches on core 0)",
     "uwsgi-app-loaded", ""),
    ("web", "Tue Dec  1 21:42:10 2026 - HARAKIRI [core 0] 172.19.0.5 - GET /slow/?a=1 since 1764625328",
     "uwsgi-harakiri-request", "GET /slow/?a=1"),
    ("web", "[strict-mode] unknown config directive: harakiri-verbos", "uwsgi-unknown-option", "harakiri-verbos"),
    # migrate's stdout flushed at exit, behind the entrypoint's next output
    ("web", "  Applying gallery.0002_bad_sql...static files: 0 published to /srv/static",
     "django-migration-unfinished", "gallery.0002_bad_sql"),
    ("redis", "1:M 01 Dec 2026 22:36:04.281 # >>> 'maxmemroy 100mb'", "redis-config-invalid", "maxmemroy 100mb"),
    ("web", "DAMN ! worker 2 (pid: 11) died, killed by signal 9 :( trying respawn ...", "uwsgi-worker-killed:9", "2"),
    ("nginx", 'nginx: [emerg] unknown directive "servr_name" in /etc/nginx/nginx.conf:41', "nginx-emerg",
     "/etc/nginx/nginx.conf:41"),
    ("nginx", '2026/12/01 21:41:00 [error] 7#7: *12 open() "/srv/static/a.css" failed (2: No such file or '
     'directory), client: 172.19.0.1', "nginx-open-failed:2", "/srv/static/a.css"),
    ("probe", "cache from web: ResponseError: WRONGPASS invalid username-password pair or user is disabled.",
     "redis:WRONGPASS", ""),
    ("web", "redis.exceptions.OutOfMemoryError: command not allowed when used memory > 'maxmemory'.", "redis:OOM", ""),
    # Redis's ACL: redis-cli shows the code, redis-py raises NoPermissionError without it.
    ("probe", "cache from web: ResponseError: NOPERM User app has no permissions to run the 'keys' command",
     "redis:NOPERM", ""),
    ("web", "redis.exceptions.NoPermissionError: User app has no permissions to run the 'keys' command",
     "redis:NOPERM", ""),
    # A write that failed for want of space names where it went, as each program quotes the path
    # (nginx's ngx_write_chain_to_file, CPython's OSError, MariaDB's EE_DISK_FULL and InnoDB, the client).
    ("nginx", '2026/12/02 01:50:00 [crit] 29#29: *3 pwritev() "/tmp/nginx-client-body/0000000003" failed (28: '
     'No space left on device), client: 172.19.0.1, server: localhost, request: "POST /api/notes/ HTTP/1.1"',
     "disk-full", "/tmp/nginx-client-body/0000000003"),
    ("web", "OSError: [Errno 28] No space left on device: '/tmp/tmpa1b2c3.upload.bin'", "disk-full",
     "/tmp/tmpa1b2c3.upload.bin"),
    ("web", "OSError: [Errno 28] No space left on device", "disk-full", ""),
    ("db", "2026-12-02  1:40:00 5 [Warning] mariadbd: Disk is full writing '/tmp/#sql-temptable-1-5-0.MAD' "
     "(Errcode: 28 \"No space left on device\"). Waiting for someone to free space... (Expect up to 60 secs delay "
     "for server to continue after freeing disk space)", "disk-full", "/tmp/#sql-temptable-1-5-0.MAD"),
    ("db", "2026-12-01 21:40:26 46 [ERROR] InnoDB: preallocating 146800640 bytes for file ./mysite/filler.ibd "
     "failed with error 28", "disk-full", "./mysite/filler.ibd"),
    ("web", "django.db.utils.OperationalError: (1114, \"The table '/tmp/#sql-temptable-1-5-0' is full\")",
     "mysql:1114", "/tmp/#sql-temptable-1-5-0"),
    # MariaDB 11.8 with its tmpdir full: a temporary table, named without its folder.
    ("db", "2026-12-02  2:01:02 10 [ERROR] mariadbd: Disk got full writing '.(temporary)' (Errcode: 28 \"No space "
     "left on device\")", "disk-full", ".(temporary)"),
    ("web", "django.db.utils.OperationalError: (1021, 'Disk got full writing \\'.(temporary)\\' (Errcode: 28 \"No "
     "space left on device\")')", "mysql:1021", ".(temporary)"),
    ("web", "django.db.utils.OperationalError: (1114, \"The table 'gallery_note' is full\")", "mysql:1114", ""),
    # EROFS: a write on the read-only root filesystem, and where.
    ("web", "OSError: [Errno 30] Read-only file system: '/app/exports'", "read-only-fs", "/app/exports"),
    ("nginx", '2026/12/02 01:50:00 [crit] 7#7: *1 open() "/var/cache/nginx/x" failed (30: Read-only file '
     'system), client: 172.19.0.1', "read-only-fs", "/var/cache/nginx/x"),
    ("db", "2026-12-02  1:40:00 0 [ERROR] mariadbd: Can't create/write to file '/var/tmp/ibXXXXXX' "
     "(Errcode: 30 \"Read-only file system\")", "read-only-fs", "/var/tmp/ibXXXXXX"),
    ("web", "mkdir: cannot create directory '/app/cache': Read-only file system", "read-only-fs", "/app/cache"),
    ("redis", "1:M 02 Dec 2026 01:50:00.100 # Failed opening the RDB file dump.rdb (in server root dir /etc) for "
     "saving: Read-only file system", "read-only-fs", ""),
])
def test_a_line_states_a_typed_fact(source, line, key, subject):
    (fact,) = [f for f in parse(source, ["noise", line]) if f.key == key]
    assert (fact.subject, fact.index, fact.line) == (subject, 1, line.strip())


def test_a_request_without_an_app_is_no_app_loaded():
    line = ("[pid: 9|app: -1|req: -1/1] 172.19.0.5 () {44 vars in 812 bytes} [Tue Dec  1 21:40:05 2026] GET / => "
            "generated 21 bytes in 0 msecs (HTTP/1.1 500) 2 headers in 83 bytes (0 switches on core 0)")
    assert [f.kind for f in parse("web", [line])] == []


def test_a_fact_is_read_only_from_the_services_that_say_it():
    line = "2026-12-01 21:31:10 0 [ERROR] mariadbd: unknown variable 'x=1'"
    assert parse("web", [line]) == [] and parse("db", [line])
    # An error code is four digits, then the message in quotes: not a longer number, not a date.
    assert [f.key for f in parse("web", ["(1234567, 'x')", "at (2026-12-01)"])] == []


def test_facts_know_the_run_they_come_from():
    web = Container("web", "running", "healthy", 0, 1, False, "2026-12-01T10:00:00Z", "unless-stopped", 0, "",
                    error="")
    nginx = Container("nginx", "created", "", 128, 0, False, "", "unless-stopped", 0, "",
                      error="Bind for 127.0.0.1:8080 failed: port is already allocated")
    found = Facts({"web": web, "nginx": nginx},
                  {"web": ["*** no app loaded. GAME OVER ***", "WSGI app 0 (mountpoint='') ready in 0 seconds on x"]},
                  [], {"db": Probe("db", False, "database from web: OperationalError: (1049, \"Unknown database 'x'\")")},
                  current_from={"web": 1})
    evidence = read_evidence(found, {"web": "web", "nginx": "nginx", "db": "db", "redis": "redis"})
    assert [f.current for f in evidence.of("uwsgi-no-app", "uwsgi-app-loaded")] == [False, True]
    assert evidence.has("uwsgi-app-loaded", source="web", current=True)
    assert evidence.has("port-taken", source="docker") and evidence.has("mysql:1049", source="probe")
    assert evidence.ended_lines("web") == ["*** no app loaded. GAME OVER ***"]


def test_a_migration_that_finished_is_not_unfinished():
    assert [f.kind for f in parse("web", ["  Applying gallery.0001_initial... OK"])] == []
