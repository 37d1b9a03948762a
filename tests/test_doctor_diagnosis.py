"""`djstack doctor` without Docker: the signature matcher on recorded log lines, the ranking of
causes before symptoms, container states, nginx's dated error log, and the output."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner
from rich.console import Console

from djstack.cli import main
from djstack.doctor import SIGNATURES
from djstack.doctor.diagnose import Report, container_findings
from djstack.doctor.facts import Container, nginx_error_lines
from djstack.doctor.finding import ERROR, WARNING, Finding, rank
from djstack.doctor.render import WIDTH, print_human, to_json
from djstack.doctor.signatures import match, placeholders
from djstack.initialise import load_stack

# Lines recorded from real stacks (Debian images: MariaDB client, Redis 8, nginx 1.26, uWSGI 2.0),
# one or more per signature: (signature id, log source, line).
RECORDED = [
    ("nginx-upstream-refused", "nginx",
     '2026/11/23 23:04:36 [error] 8#8: *7 connect() failed (111: Connection refused) while connecting to '
     'upstream, client: 192.168.144.1, server: localhost, request: "GET / HTTP/1.1", '
     'upstream: "uwsgi://192.168.144.3:8001", host: "localhost"'),
    ("nginx-upstream-timeout", "nginx",
     '2026/11/23 23:10:02 [error] 7#7: *31 upstream timed out (110: Connection timed out) while reading '
     'response header from upstream, client: 172.18.0.1, server: localhost, request: "GET /slow/ HTTP/1.1"'),
    ("nginx-no-resolver", "nginx",
     '2026/11/23 23:11:00 [error] 7#7: *1 no resolver defined to resolve web, client: 172.18.0.1'),
    ("nginx-upstream-unresolved", "nginx",
     '2026/11/23 23:03:35 [error] 6#6: *111 web could not be resolved (3: Host not found), client: '
     '192.168.144.1, server: localhost, request: "GET / HTTP/1.1", host: "localhost:40457"'),
    ("nginx-permission-denied", "nginx",
     '2026/11/23 23:12:00 [error] 7#7: *5 open() "/srv/media/photos/a.png" failed (13: Permission denied)'),
    ("uwsgi-harakiri", "web",
     "Mon Nov 23 23:15:01 2026 - *** HARAKIRI ON WORKER 2 (pid: 11, try: 1, graceful: yes) ***"),
    ("uwsgi-config-invalid", "web", "[strict-mode] unknown config directive: harakiri-verbos"),
    ("redis-config-invalid", "redis", "1:M 01 Dec 2026 22:36:04.281 # >>> 'maxmemroy 100mb'"),
    ("redis-config-invalid", "redis", ">>> 'maxmemroy \"100mb\"'"),  # Redis 7, under FATAL CONFIG FILE ERROR
    ("broker-config-invalid", "broker", "1:M 02 Dec 2026 05:22:39.001 # >>> 'maxmemroy 100mb'"),
    ("web-app-not-loaded", "web", "ModuleNotFoundError: No module named 'gallery.broken_on_purpose'"),
    ("web-app-not-loaded", "web", "*** no app loaded. GAME OVER ***"),
    ("db-inconsistent-migrations", "web",
     "django.db.migrations.exceptions.InconsistentMigrationHistory: Migration admin.0001_initial is "
     "applied before its dependency users.0001_initial on database 'default'."),
    ("db-access-denied", "web",
     "django.db.utils.OperationalError: (1045, \"Access denied for user 'doca_play'@'192.168.160.3' "
     "(using password: YES)\")"),
    ("db-unreachable", "probe",
     "database from web: OperationalError: (2005, \"Unknown server host 'db' (-2)\")"),
    ("db-unreachable", "web",
     "django.db.utils.OperationalError: (2002, \"Can't connect to server on 'db' (115)\")"),
    ("db-unreachable", "web",
     "django.db.utils.OperationalError: (2005, \"Unknown MySQL server host 'db' (-2)\")"),
    ("db-table-missing", "web",
     "django.db.utils.ProgrammingError: (1146, \"Table 'mysite.gallery_note' doesn't exist\")"),
    ("db-column-missing", "web",
     "django.db.utils.OperationalError: (1054, \"Unknown column 'gallery_note.stars' in 'field list'\")"),
    ("migrations-missing", "web",
     "  Your models in app(s): 'gallery' have changes that are not yet reflected in a migration, and so "
     "won't be applied."),
    ("migrations-unapplied", "web",
     "You have 1 unapplied migration(s). Your project may not work properly until you apply the migrations"),
    ("redis-auth", "probe",
     "cache from web: AuthenticationError: invalid username-password pair or user is disabled."),
    ("redis-auth", "web", "redis.exceptions.ResponseError: NOAUTH Authentication required."),
    ("redis-command-denied", "web",
     "redis.exceptions.NoPermissionError: User app has no permissions to run the 'keys' command"),
    ("redis-unreachable", "probe",
     "cache from web: ConnectionError: Error -2 connecting to redis:6379. Name or service not known."),
    ("media-permission-denied", "web",
     "PermissionError: [Errno 13] Permission denied: '/srv/media/photos/red.png'"),
    ("disallowed-host", "web",
     "2026-11-23 23:13:57,795 ERROR django.security.DisallowedHost: Invalid HTTP_HOST header: "
     "'not-allowed.example'. You may need to add 'not-allowed.example' to ALLOWED_HOSTS."),
    ("csrf-failure", "web",
     "2026-11-23 23:13:57,827 WARNING django.security.csrf: Forbidden (CSRF cookie not set.): /admin/login/"),
    # Issue 13: signatures matched on typed facts (doctor/evidence.py), as the services print them.
    ("tls-key-mismatch", "nginx",
     'nginx: [emerg] SSL_CTX_use_PrivateKey("/etc/nginx/ssl/privkey.pem") failed (SSL: error:05800074:x509 '
     'certificate routines::key values mismatch)'),
    ("uwsgi-harakiri", "web", "HARAKIRI [core 1] 172.19.0.5 - GET /slow/ since 1764621300"),
    ("uwsgi-worker-killed", "web", "DAMN ! worker 1 (pid: 12) died, killed by signal 9 :( trying respawn ..."),
    ("uwsgi-listen-queue-full", "web",
     'Tue Dec  1 21:35:00 2026 - *** uWSGI listen queue of socket ":8000" (fd: 3) full !!! (101/100) ***'),
    ("migrations-conflict", "web",
     "CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph: "
     "(0003_note_color, 0003_note_stars in gallery)."),
    ("db-database-mismatch", "web",
     "django.db.utils.OperationalError: (1044, \"Access denied for user 'mysite'@'%' to database 'mysite_new'\")"),
    ("db-database-mismatch", "db",
     "2026-12-01 21:30:12 31 [Warning] Access denied for user 'mysite'@'%' to database 'mysite_new'"),
    ("db-unknown-database", "web", "django.db.utils.OperationalError: (1049, \"Unknown database 'mysite'\")"),
    ("db-unknown-database", "probe", "database from web: OperationalError: (1049, \"Unknown database 'mysite'\")"),
    ("db-too-many-connections", "web", "django.db.utils.OperationalError: (1040, 'Too many connections')"),
    ("db-too-many-connections", "web", "ERROR 1040 (08004): Too many connections"),
    ("db-read-only", "web",
     "django.db.utils.OperationalError: (1290, 'The MariaDB server is running with the --read-only option so "
     "it cannot execute this statement')"),
    ("db-lock-wait-timeout", "web",
     "django.db.utils.OperationalError: (1205, 'Lock wait timeout exceeded; try restarting transaction')"),
    ("db-deadlock", "web",
     "django.db.utils.OperationalError: (1213, 'Deadlock found when trying to get lock; try restarting transaction')"),
    ("db-packet-too-large", "web",
     "django.db.utils.OperationalError: (1153, \"Got a packet bigger than 'max_allowed_packet' bytes\")"),
    ("db-disk-full", "db",
     "2026-12-01 21:36:40 5 [ERROR] mariadbd: Disk full (./mysite/gallery_note.ibd); waiting for someone to free "
     "some space... (errno: 28 \"No space left on device\")"),
    ("db-disk-full", "db", "2026-12-01 21:37:24 46 [ERROR] [FATAL] InnoDB: Error (Out of disk space) in rollback."),
    ("db-disk-full", "db", "2026-12-01 21:37:19 46 [ERROR] InnoDB: preallocating 146800640 bytes for file "
     "./mysite/filler.ibd failed with error 28"),
    ("db-disk-full", "web", "django.db.utils.OperationalError: (1114, \"The table 'gallery_note' is full\")"),
    ("db-config-invalid", "db", "2026-12-01 21:31:10 0 [ERROR] mariadbd: unknown variable 'no_such_option=1'"),
    ("db-data-permission-denied", "db",
     "2026-12-01 21:32:00 0 [ERROR] InnoDB: Operating system error number 13 in a file operation."),
    ("db-data-permission-denied", "db",
     "2026-12-01 21:32:00 0 [ERROR] mariadbd: Can't create/write to file '/var/lib/mysql/aria_log_control' "
     "(Errcode: 13 \"Permission denied\")"),
    ("db-data-permission-denied", "db",
     "touch: cannot touch '/var/lib/mysql/.djstack-init-incomplete': Permission denied"),
    ("db-name-unresolved", "web", "django.db.utils.OperationalError: (2005, \"Unknown server host 'db' (-2)\")"),
    ("db-connection-lost", "web",
     "django.db.utils.OperationalError: (2013, 'Lost connection to server during query')"),
    ("db-connection-lost", "web", "django.db.utils.OperationalError: (2006, 'Server has gone away')"),
    ("redis-out-of-memory", "web",
     "redis.exceptions.OutOfMemoryError: command not allowed when used memory > 'maxmemory'."),
    ("redis-out-of-memory", "probe",
     "cache from web: OutOfMemoryError: command not allowed when used memory > 'maxmemory'."),
    ("redis-persistence-failed", "web",
     "redis.exceptions.ResponseError: MISCONF Redis is configured to save RDB snapshots, but it's currently "
     "unable to persist to disk. Commands that may modify the data set are disabled, because this instance is "
     "configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
     "Please check the Redis logs for details about the RDB error."),
    ("redis-persistence-failed", "redis",
     "1:M 01 Dec 2026 21:33:00.123 # Failed opening the RDB file dump.rdb (in server root dir /data) for saving: "
     "Permission denied"),
    ("redis-persistence-failed", "redis", "1:M 01 Dec 2026 21:33:00.223 # Background saving error"),
    ("redis-loading", "web", "redis.exceptions.BusyLoadingError: Redis is loading the dataset in memory"),
]

# A healthy start and ordinary traffic: no signature may fire on these.
HEALTHY_WEB = """\
Operations to perform:
  Apply all migrations: admin, auth, contenttypes, gallery, sessions
Running migrations:
  No migrations to apply.
*** Starting uWSGI 2.0.28 (64bit) on [Mon Nov 23 22:58:20 2026] ***
Python main interpreter initialized at 0xa84590
*** Operational MODE: preforking+threaded ***
WSGI app 0 (mountpoint='') ready in 0 seconds on interpreter 0xa84590 pid: 1 (default app)
spawned uWSGI worker 1 (pid: 9, cores: 2)
2026-11-23 23:00:03,424 WARNING django.request: Not Found: /djstack-health/
2026-11-23 23:01:03,424 WARNING django.request: Bad Request: /api/photos/
""".splitlines()


@pytest.fixture(scope="module")
def values(tmp_path_factory):
    from helpers import copy_example

    root = copy_example(tmp_path_factory.mktemp("doctor") / "mysite")
    return placeholders(load_stack(root))


@pytest.mark.parametrize("sig_id,source,line", RECORDED, ids=[f"{r[0]}-{i}" for i, r in enumerate(RECORDED)])
def test_recorded_line_matches_its_signature(values, sig_id, source, line):
    found = match(source, ["noise before", line, "noise after"], values)
    assert sig_id in [f.id for f in found]
    finding = next(f for f in found if f.id == sig_id)
    assert len(finding.evidence) == 1 and finding.evidence[0].startswith(f"{source}: {line.strip()[:100]}")


def test_every_signature_has_a_recorded_line():
    assert {s.id for s in SIGNATURES} == {r[0] for r in RECORDED}


def test_each_recorded_line_means_one_thing(values):
    """One error cannot pass for another: each line matches its own signature only, but for 2005,
    which is also db-unreachable in general (diagnose folds that into db-name-unresolved while db runs)."""
    for sig_id, source, line in RECORDED:
        found = {f.id for f in match(source, [line], values)}
        unresolved = "(2005," in line
        assert found == ({"db-unreachable", "db-name-unresolved"} if unresolved else {sig_id}), line


@pytest.mark.parametrize("line,app_not_loaded", [
    ("django.template.exceptions.TemplateSyntaxError: 'no_such_lib' is not a registered tag library.", False),
    ("django.template.exceptions.TemplateDoesNotExist: gallery/no_such_template.html", False),
    ("  File \"/app/gallery/views.py\", line 3\n    def broken(:\nSyntaxError: invalid syntax", True),
    ("ImportError: cannot import name 'Note' from 'gallery.models' (/app/gallery/models.py)", True),
    ("ModuleNotFoundErrorX: not a class Python has", False),
])
def test_patterns_are_anchored_to_the_exception_class(values, line, app_not_loaded):
    assert ("web-app-not-loaded" in [f.id for f in match("web", line.splitlines(), values)]) == app_not_loaded


def test_healthy_logs_match_nothing(values):
    for source in ("web", "nginx", "db", "redis", "probe"):
        assert match(source, HEALTHY_WEB, values) == []


def test_signature_reads_only_its_services(values):
    line = "connect() failed (111: Connection refused) while connecting to upstream"
    assert match("web", [line], values) == []
    assert [f.id for f in match("nginx", [line], values)] == ["nginx-upstream-refused"]


def test_fixes_name_the_models_values(values):
    for sig in SIGNATURES:
        (finding,) = [f for f in match(sig.services[0], [_example(sig.id)], values) if f.id == sig.id]
        assert "{" not in finding.fix and "{" not in finding.title, sig.id
    access = match("web", [_example("db-access-denied")], values)[0]
    assert "docker compose up -d web" in access.fix


def test_evidence_keeps_the_last_lines_once(values):
    line = _example("disallowed-host")
    found = match("web", [line] * 10 + ["other"], values)
    assert len(found[0].evidence) == 1


def _example(sig_id: str) -> str:
    return next(line for i, _, line in RECORDED if i == sig_id)


def _f(fid: str, rank_: int, severity: str = ERROR, evidence: tuple[str, ...] = ()) -> Finding:
    return Finding(fid, severity, fid, "fix", rank_, "", list(evidence))


def test_rank_puts_the_deepest_cause_first():
    from djstack.doctor.finding import APP, BACKING, CREDENTIALS, SITE, UPSTREAM

    chain = [_f("db-not-running", BACKING), _f("db-unreachable", CREDENTIALS), _f("web-crash-loop", APP + 1),
             _f("nginx-upstream-refused", UPSTREAM), _f("site-error", SITE)]
    for seed in range(5):
        shuffled = chain[:]
        random.Random(seed).shuffle(shuffled)
        assert [f.id for f in rank(shuffled)] == [f.id for f in chain]


def test_rank_errors_before_warnings_and_merges_ids():
    found = rank([_f("csrf-failure", 70, WARNING), _f("site-error", 60, evidence=("a",)),
                  _f("site-error", 50, evidence=("b", "a"))])
    assert [f.id for f in found] == ["site-error", "csrf-failure"]
    assert found[0].evidence == ["a", "b"] and found[0].rank == 50


def _container(**changes) -> Container:
    base = dict(service="web", state="running", health="healthy", exit_code=0, restarts=0, oom_killed=False,
                started_at="2026-11-23T23:00:00.1Z", restart_policy="unless-stopped", memory_limit=0,
                health_output="")
    return Container(**{**base, **changes})


@pytest.mark.parametrize("changes,expected", [
    ({}, []),
    ({"state": "exited", "exit_code": 0, "restart_policy": "no"}, ["web-exited-0"]),
    ({"state": "exited", "exit_code": 0}, ["web-not-running"]),
    ({"state": "exited", "exit_code": 1}, ["web-not-running"]),
    ({"state": "restarting", "exit_code": 1, "restarts": 4}, ["web-crash-loop"]),
    ({"health": "unhealthy"}, ["web-unhealthy"]),
    ({"oom_killed": True, "restarts": 1, "memory_limit": 64 * 2**20}, ["oom-killed"]),
    ({"state": "paused", "health": "unhealthy"}, ["web-paused"]),
    (None, ["web-not-running"]),
])
def test_container_states(changes, expected):
    container = None if changes is None else _container(**changes)
    logs = {"web": ["Traceback (most recent call last):", "ValueError: boom"]}
    found = container_findings("web", "web", container, logs)
    assert [f.id for f in found] == expected
    if expected == ["oom-killed"]:
        assert "64 MiB" in found[0].evidence[0]


def test_nginx_error_lines_are_the_error_log_among_its_output():
    output = ['172.18.0.1 - - [23/Nov/2026:23:00:04 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/8" 0.001',
              "2026/11/23 23:00:05 [error] 7#7: *1 connect() failed (111: Connection refused)",
              "a continuation line without a date"]
    assert nginx_error_lines(output) == [output[1]]


def test_human_output_fits_100_columns_and_json_lists_the_cause_first():
    long = "x" * 300
    report = Report(rank([_f("site-error", 60, evidence=(long,)), _f("db-not-running", 20, evidence=(long,))]), [])
    console = Console(record=True, width=160, force_terminal=False)
    print_human(console, report, "/srv/" + "p" * 30)
    text = console.export_text()
    assert "Most likely cause" in text and "db-not-running" in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert [f["id"] for f in json.loads(to_json(report))] == ["db-not-running", "site-error"]
    assert set(json.loads(to_json(report))[0]) >= {"id", "severity", "title", "evidence", "fix"}


def test_cause_unknown_is_not_shown_as_a_cause():
    report = Report(rank([_f("cause-unknown", 0, evidence=("web: fatal: x",)), _f("web-crash-loop", 36)]), [])
    console = Console(record=True, width=100, force_terminal=False)
    print_human(console, report, "/p")
    text = console.export_text()
    assert "Cause unknown" in text and "Most likely cause" not in text and "Symptoms found (1)" in text


def test_healthy_report_says_what_was_checked():
    console = Console(record=True, width=100)
    print_human(console, Report([], ["web: running, healthy, restarts 0"]), "/p")
    text = console.export_text()
    assert "healthy" in text and "web: running" in text


def test_cli_bad_input_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["doctor", str(tmp_path)])
    assert result.exit_code == 2


def test_nothing_running_is_one_finding_saying_up():
    from pathlib import Path

    from djstack.doctor.diagnose import not_running

    (finding,) = not_running(Path("/p"), {}).findings
    assert (finding.id, finding.fix) == ("stack-not-running", "djstack up /p")
    stopped = not_running(Path("/p"), {"db": _container(service="db", state="exited")})
    assert stopped.findings[0].evidence == ["db: exited, exit code 0"] and not stopped.healthy


def test_long_nginx_line_keeps_the_upstream(values):
    (finding,) = match("nginx", [_example("nginx-upstream-refused")], values)
    assert finding.evidence[0].endswith('upstream: "uwsgi://192.168.144.3:8001"')
    assert len(finding.evidence[0]) <= 160 + len("nginx: ")


def test_a_passing_probe_settles_old_log_lines():
    from djstack.doctor.diagnose import settled
    from djstack.doctor.facts import Facts, Probe

    def facts(ok):
        return Facts({}, {}, [], {"db": Probe("db", ok, "database from web")})

    assert settled("db-access-denied", facts(True))
    assert not settled("db-access-denied", facts(False))
    assert not settled("db-access-denied", facts(None))  # the probe could not run: the lines stand
    assert not settled("db-table-missing", facts(True))  # no probe settles it
