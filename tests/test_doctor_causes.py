"""doctor names only a cause its evidence supports and nothing contradicts (issue 13): faults as the
services log them (MariaDB 11.8, Redis 8, nginx 1.26, uWSGI 2.0, Django 5.2 on Python 3.13), each
with the first finding it must get, and the wrong causes doctor once named in its place."""

from __future__ import annotations

import shutil

import pytest

from djstack.doctor import run_doctor
from djstack.doctor.diagnose import diagnose
from djstack.doctor.facts import Probe
from djstack.doctor.finding import CONFIG, ERROR, WARNING, Finding
from test_diagnose_rank import facts, stack  # noqa: F401 (stack: a fixture)

SITE_OK = Probe("site", True, "GET http://127.0.0.1:8080/ (Host: localhost) → 200", {"status": 200})
UWSGI_START = [
    "*** Starting uWSGI 2.0.28 (64bit) on [Tue Dec  1 21:40:00 2026] ***",
    "*** Operational MODE: preforking+threaded ***",
]
APP_LOADED = "WSGI app 0 (mountpoint='') ready in 1 seconds on interpreter 0x7f3c2a1b8c10 pid: 1 (default app)"
DJANGO = "/opt/venv/lib/python3.13/site-packages/django"


def request_traceback(path: str, frames: list[str], exception: str) -> list[str]:
    return [f"2026-12-01 21:40:05,120 ERROR django.request: Internal Server Error: {path}",
            "Traceback (most recent call last):",
            f'  File "{DJANGO}/core/handlers/exception.py", line 55, in inner',
            "    response = get_response(request)",
            f'  File "{DJANGO}/core/handlers/base.py", line 197, in _get_response',
            "    response = wrapped_callback(request, *callback_args, **callback_kwargs)",
            *frames, exception,
            f"[pid: 9|app: 0|req: 3/5] 172.19.0.5 () {{44 vars in 812 bytes}} [Tue Dec  1 21:40:05 2026] GET "
            f"{path} => generated 145 bytes in 20 msecs (HTTP/1.1 500) 7 headers in 229 bytes (1 switches on core 0)"]


def first(stack, found) -> Finding:
    return diagnose(stack, found).findings[0]


def ids(stack, found) -> list[str]:
    return [f.id for f in diagnose(stack, found).findings]


# --- request-time errors are findings of their own, never a start-up failure -------------------------

TEMPLATE_SYNTAX = request_traceback("/cached-page/", [
    '  File "/app/gallery/views.py", line 31, in cached_page',
    '    return render(request, "gallery/cached_page.html")',
    f'  File "{DJANGO}/template/defaulttags.py", line 1084, in find_library',
    "    raise TemplateSyntaxError("],
    "django.template.exceptions.TemplateSyntaxError: 'no_such_lib' is not a registered tag library. Must be one of:")


def test_a_template_error_at_request_time_is_not_an_app_that_failed_to_load(stack):
    """The issue's case: `SyntaxError` matched `TemplateSyntaxError`, and doctor said web stops at start."""
    web = stack.services.web
    found = facts(stack, logs={web: [*UWSGI_START, APP_LOADED, *TEMPLATE_SYNTAX, "admin_list", "cache"]},
                  probes=(Probe("site", False, "GET / → 500", {"status": 500}),))
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["template-error", "site-error"]
    assert "gallery/cached_page.html" in report.findings[0].title
    assert "no_such_lib" in report.findings[0].fix


def test_a_view_exception_names_the_projects_line_and_how_many_requests_it_hit(stack):
    raised = request_traceback("/cached/", ['  File "/app/gallery/views.py", line 44, in cached',
                                            "    ratio = 1 / 0", "            ~~^~~"],
                               "ZeroDivisionError: division by zero")
    found = facts(stack, logs={stack.services.web: [*UWSGI_START, APP_LOADED, *raised, *raised]},
                  probes=(SITE_OK,))
    finding = first(stack, found)
    assert finding.id == "view-exception" and "ZeroDivisionError" in finding.title
    assert "gallery/views.py:44" in finding.fix and "2 request(s): /cached/" in finding.title


def test_offline_compression_never_run_is_named_not_a_missing_secret(stack):
    """The issue's case: djstack check read SECRET_KEY through the project's helper as required; web
    loaded the app, so that reading is dropped and the page's own error is the cause."""
    offline = request_traceback("/", ['  File "/app/gallery/views.py", line 12, in home',
                                      '    return render(request, "gallery/home.html")'],
                                "compressor.exceptions.OfflineGenerationError: You have offline compression "
                                "enabled but key \"4c1e0f\" is missing from offline manifest.")
    check = Finding("settings-env-not-set", ERROR, "settings require SECRET_KEY; web's environment lacks it",
                    "Set SECRET_KEY under web's environment (mysite/settings.py:24)", CONFIG, "",
                    ["djstack check: mysite/settings.py:24: KeyError at import: web cannot start"])
    found = facts(stack, logs={stack.services.web: [*UWSGI_START, APP_LOADED, *offline]},
                  probes=(Probe("site", False, "GET / → 500", {"status": 500}),))
    found.check = [check]
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["compress-offline-missing", "site-error"]
    # Without the app loaded, check's reading stands.
    found.logs = {stack.services.web: ["*** no app loaded. GAME OVER ***"]}
    assert first(stack, found).id == "settings-env-not-set"


def test_a_static_file_nginx_cannot_find_is_a_missing_static_file(stack):
    line = ('2026/12/01 21:41:00 [error] 7#7: *12 open() "/srv/static/gallery/missing.css" failed (2: No such file '
            'or directory), client: 172.19.0.1, server: localhost, request: "GET /static/gallery/missing.css HTTP/1.1"')
    finding = first(stack, facts(stack, nginx_log=(line, line), probes=(SITE_OK,)))
    assert finding.id == "static-file-missing" and "gallery/missing.css" in finding.title
    # An empty static volume explains every 404 of it.
    empty = Probe("static", False, "0 file(s) in the static volume", {"files": 0})
    assert ids(stack, facts(stack, nginx_log=(line,), probes=(SITE_OK, empty))) == ["static-missing"]


# --- database error codes: one code, one cause ------------------------------------------------------

@pytest.mark.parametrize("line,expected", [
    ("django.db.utils.OperationalError: (1044, \"Access denied for user 'mysite'@'%' to database 'mysite_new'\")",
     "db-database-mismatch"),
    ("django.db.utils.OperationalError: (1049, \"Unknown database 'mysite'\")", "db-unknown-database"),
    ("django.db.utils.OperationalError: (1045, \"Access denied for user 'mysite'@'172.19.0.4' (using password: "
     "YES)\")", "db-access-denied"),
])
def test_wrong_password_only_for_1045(stack, line, expected):
    found = facts(stack, logs={stack.services.web: ["Traceback (most recent call last):", line]},
                  probes=(Probe("db", False, f"database from web: {line.split(': ', 1)[1]}"),))
    assert ids(stack, found)[0] == expected
    assert ("db-access-denied" in ids(stack, found)) == (expected == "db-access-denied")


def test_a_settings_reading_is_disproved_by_a_migrate_that_got_to_the_database(stack):
    """web crash-loops on 1045 in migrate: its settings imported, so check's "settings require
    APP_SECRET_KEY" (read through the project's helper with a default) is no cause."""
    check = Finding("settings-env-not-set", ERROR, "settings require APP_SECRET_KEY; web's environment lacks it",
                    "Set APP_SECRET_KEY under web's environment (mysite/settings.py:34)", CONFIG, "",
                    ["djstack check: mysite/settings.py:34: Django stops at start with KeyError"])
    run = ["Operations to perform:", "Traceback (most recent call last):",
           f'  File "{DJANGO}/db/backends/base/base.py", line 279, in ensure_connection', "    self.connect()",
           "django.db.utils.OperationalError: (1045, \"Access denied for user 'mysite'@'172.19.0.3' (using "
           "password: YES)\")"]
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}},
                  logs={stack.services.web: run * 2})
    found.check = [check]
    order = ids(stack, found)
    assert order[0] == "db-access-denied" and "settings-env-not-set" not in order
    found.logs = {stack.services.web: run[1:2] + run[4:]}  # no sign the settings imported: check's reading stands
    assert ids(stack, found)[0] == "settings-env-not-set"


def test_a_database_name_changed_after_the_volume_was_made_says_how_to_put_it_back(stack):
    line = "django.db.utils.OperationalError: (1044, \"Access denied for user 'mysite'@'%' to database 'mysite_new'\")"
    finding = first(stack, facts(stack, logs={stack.services.web: [line]}))
    assert "mysite_new" in finding.title and "MYSQL_DATABASE" in finding.fix
    assert f"GRANT ALL ON mysite_new.* TO '{stack.db_user}'@'%'" in finding.fix
    assert "MYSQL_PASSWORD" not in finding.fix  # the one value that is right


def test_too_many_connections_in_a_crash_loop_is_the_cause_not_the_loop(stack):
    """The issue's case: web crash-looping in migrate on 1040; doctor said "web keeps crashing"."""
    web = stack.services.web
    ended = ["Operations to perform:", "Traceback (most recent call last):",
             '  File "/opt/venv/lib/python3.13/site-packages/MySQLdb/connections.py", line 200, in __init__',
             "    super().__init__(*args, **kwargs2)",
             "MySQLdb.OperationalError: (1040, 'Too many connections')",
             "django.db.utils.OperationalError: (1040, 'Too many connections')"]
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 4, "health": "unhealthy"}},
                  logs={web: ended * 2})
    found.current_from = {web: len(ended) * 2}
    report = diagnose(stack, found)
    assert [f.id for f in report.findings][:2] == ["db-too-many-connections", "web-crash-loop"]
    assert "max_connections" in report.findings[0].fix and stack.files.mysql_conf in report.findings[0].fix


def test_an_unresolved_db_name_is_a_network_only_while_db_runs(stack):
    line = "django.db.utils.OperationalError: (2005, \"Unknown server host 'db' (-2)\")"
    running = ids(stack, facts(stack, logs={stack.services.web: [line]}))
    assert running == ["db-name-unresolved"]  # db-unreachable folded into it
    stopped = ids(stack, facts(stack, states={"db": {"state": "exited", "exit_code": 0, "health": ""}},
                               logs={stack.services.web: [line]}))
    assert stopped[0] == "db-not-running" and "db-name-unresolved" not in stopped


def test_nginx_not_resolving_web_is_a_network_only_while_web_runs(stack):
    """CI's case: web crash-looping in migrate; nginx's "could not be resolved" (Docker drops a
    restarting container's name) came first, titled "web is not on nginx's network"."""
    line = ("2026/12/02 03:50:01 [error] 22#22: *7 web could not be resolved (3: Host not found), client: "
            '172.19.0.1, server: localhost, request: "GET / HTTP/1.1", host: "localhost"')
    running = ids(stack, facts(stack, nginx_log=(line,)))
    assert running[0] == "nginx-upstream-unresolved"
    restarting = ids(stack, facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 2,
                                                         "health": "unhealthy"}}, nginx_log=(line,)))
    assert "nginx-upstream-unresolved" not in restarting and restarting[0] == "cause-unknown"


def test_db_that_does_not_start_names_the_option_in_its_config(stack):
    lines = ["2026-12-01 21:31:10 0 [Note] Starting MariaDB 11.8.3-MariaDB-ubu2404 source revision as process 1",
             "2026-12-01 21:31:10 0 [ERROR] mariadbd: unknown variable 'no_such_option=1'",
             "2026-12-01 21:31:10 0 [ERROR] Aborting"]
    found = facts(stack, states={"db": {"state": "restarting", "exit_code": 7, "restarts": 3, "health": ""}},
                  logs={stack.services.db: lines * 3})
    finding = first(stack, found)
    assert finding.id == "db-config-invalid" and "no_such_option=1" in finding.title
    assert stack.files.mysql_conf in finding.fix


# --- redis --------------------------------------------------------------------------------------------

def test_redis_at_its_memory_limit_is_named_not_a_generic_cache_failure(stack):
    """The issue's case: the evidence said OutOfMemoryError, the finding "web cannot use the cache"."""
    probe = Probe("cache", False, "cache from web: OutOfMemoryError: command not allowed when used memory > 'maxmemory'.")
    assert ids(stack, facts(stack, probes=(probe,))) == ["redis-out-of-memory"]


# --- web's start: settings module, dependencies, the project's own imports ----------------------------

IMPORTLIB = ['  File "/usr/local/lib/python3.13/importlib/__init__.py", line 88, in import_module',
             "    return _bootstrap._gcd_import(name[level:], package)",
             '  File "<frozen importlib._bootstrap>", line 1387, in _gcd_import',
             '  File "<frozen importlib._bootstrap>", line 1360, in _find_and_load',
             '  File "<frozen importlib._bootstrap>", line 1324, in _find_and_load_unlocked']
SETTINGS_IMPORT = ["Traceback (most recent call last):",
                   f'  File "{DJANGO}/conf/__init__.py", line 68, in _setup',
                   "    self._wrapped = Settings(settings_module)",
                   f'  File "{DJANGO}/conf/__init__.py", line 166, in __init__',
                   "    mod = importlib.import_module(self.SETTINGS_MODULE)", *IMPORTLIB]


@pytest.mark.parametrize("lines,expected,named", [
    ([*SETTINGS_IMPORT, "ModuleNotFoundError: No module named 'mysite.settings_that_does_not_exist'"],
     "settings-module-not-found", "mysite.settings_that_does_not_exist"),
    ([*SETTINGS_IMPORT, '  File "<frozen importlib._bootstrap>", line 488, in _call_with_frames_removed',
      '  File "/app/mysite/settings.py", line 130, in <module>', "    import sentry_sdk  # noqa",
      "ModuleNotFoundError: No module named 'sentry_sdk'"], "missing-dependency", "sentry_sdk"),
    (["Traceback (most recent call last):", '  File "/app/mysite/wsgi.py", line 16, in <module>',
      "    import gallery.module_that_does_not_exist  # noqa",
      "ModuleNotFoundError: No module named 'gallery.module_that_does_not_exist'",
      "unable to load app 0 (mountpoint='') (callable not found or import error)",
      "*** no app loaded. GAME OVER ***"], "web-app-not-loaded", "module_that_does_not_exist"),
])
def test_a_module_web_cannot_import_is_told_apart(stack, lines, expected, named):
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}},
                  logs={stack.services.web: [*UWSGI_START, *lines]})
    report = diagnose(stack, found)
    assert report.findings[0].id == expected
    assert named in "\n".join([report.findings[0].title, *report.findings[0].evidence])
    if expected == "missing-dependency":
        assert "requirements.txt" in report.findings[0].fix
        assert "web: imported at mysite/settings.py:130: import sentry_sdk  # noqa" in report.findings[0].evidence
    assert "web-app-not-loaded" not in [f.id for f in report.findings[1:]]  # folded into the specific one


def test_a_settings_module_that_does_not_exist_comes_before_checks_readings_of_other_settings(stack):
    """check reads the project's settings when the module web runs is missing: what it says of them
    is not why web stops. (Without check's finding, doctor's own says it: the case above.)"""
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}},
                  logs={stack.services.web: [*SETTINGS_IMPORT,
                                             "ModuleNotFoundError: No module named 'mysite.nope'"]})
    found.check = [Finding("settings-debug-on", ERROR, "DEBUG is on in the settings web runs", "DEBUG = False",
                           CONFIG, "", ["djstack check: mysite/settings.py:26: error pages show code"]),
                   Finding("settings-module-missing", ERROR, "DJANGO_SETTINGS_MODULE is mysite.nope, a module "
                           "that does not exist", "Name an existing module", CONFIG, "",
                           ["djstack check: docker-compose.yml:25: Django cannot import it"])]
    report = diagnose(stack, found)
    # check's finding names the line that sets the module; web's traceback joins it as evidence.
    assert [f.id for f in report.findings][:2] == ["settings-module-missing", "settings-debug-on"]
    assert "settings-module-not-found" not in [f.id for f in report.findings]
    assert "web: ModuleNotFoundError: No module named 'mysite.nope'" in report.findings[0].evidence
    assert diagnose(stack, found).findings == report.findings  # the evidence gathered is left as it was


def test_an_app_that_failed_in_an_ended_run_but_loads_now_is_no_finding(stack):
    web = stack.services.web
    ended = ["ModuleNotFoundError: No module named 'gallery.broken'", "*** no app loaded. GAME OVER ***"]
    found = facts(stack, states={"web": {"restarts": 1}}, logs={web: [*ended, *UWSGI_START, APP_LOADED]},
                  probes=(SITE_OK,))
    found.current_from = {web: len(ended)}
    assert ids(stack, found) == []
    found.current_from = {web: len(ended) + len(UWSGI_START) + 1}  # the current run has not loaded it yet
    assert ids(stack, found) == ["web-app-not-loaded"]


def test_a_crash_loop_without_a_known_signature_ends_with_its_last_exception(stack):
    web = stack.services.web
    ended = ["Traceback (most recent call last):", '  File "/app/mysite/settings.py", line 40, in <module>',
             '    TIMEOUT = int(os.environ["TIMEOUT"])', "ValueError: invalid literal for int() with base 10: 'x'"]
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 2, "health": ""}},
                  logs={web: ended})
    found.current_from = {web: len(ended)}
    finding = first(stack, found)
    assert finding.id == "crash-exception" and "ValueError" in finding.title
    assert "mysite/settings.py:40" in finding.fix
    # An exception long before the run ended is not why it ended.
    later = [*ended, *[f"spawned uWSGI worker {n} (pid: {n + 8}, cores: 2)" for n in range(25)]]
    found.logs, found.current_from = {web: later}, {web: len(later)}
    assert ids(stack, found) == ["cause-unknown", "web-crash-loop"]


def test_a_migration_that_fails_is_named_not_manage_py(stack):
    """An adversary's case: RunSQL with a syntax error; doctor said "Fix manage.py:18"."""
    web = stack.services.web
    ended = ["Running migrations:", "Traceback (most recent call last):",
             '  File "/app/manage.py", line 18, in main', "    execute_from_command_line(sys.argv)",
             f'  File "{DJANGO}/db/backends/utils.py", line 103, in _execute', "    return self.cursor.execute(sql)",
             "django.db.utils.ProgrammingError: (1064, \"You have an error in your SQL syntax near 'WITH'\")",
             "  Applying gallery.0002_bad_sql...static files: 0 published to /srv/static"]
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}},
                  logs={web: ended})
    found.current_from = {web: len(ended)}
    finding = first(stack, found)
    assert finding.id == "migration-failed" and "gallery.0002_bad_sql" in finding.title
    assert "0002_bad_sql" in finding.fix and "manage.py" not in finding.fix
    found.logs = {web: ended[:-1] + ["  Applying gallery.0002_bad_sql... OK"]}  # applied: not the one that failed
    assert first(stack, found).id == "crash-exception"


def test_a_paused_service_is_the_cause_of_the_timeouts_above_it(stack):
    """An adversary's case: db paused; doctor's first finding was nginx's upstream timeout."""
    timeout = ("2026/12/01 22:34:15 [error] 7#7: *10 upstream timed out (110: Connection timed out) while "
               "reading response header from upstream")
    found = facts(stack, states={"db": {"state": "paused", "health": "unhealthy"}}, nginx_log=(timeout,))
    finding = first(stack, found)
    assert finding.id == "db-paused" and f"unpause {stack.services.db}" in finding.fix


def test_a_redis_config_line_it_refuses_is_named_not_the_network(stack):
    """An adversary's case: a typo in redis.conf; doctor said web cannot reach Redis (check the network)."""
    redis = stack.services.redis
    lines = ["1:M 01 Dec 2026 22:36:04.281 # Unresolved Configuration(s) Detected:",
             "1:M 01 Dec 2026 22:36:04.281 # >>> 'maxmemroy 100mb'"]
    probe = Probe("cache", False, "cache from web: ConnectionError: Error -2 connecting to redis:6379. "
                                  "Name or service not known.")
    found = facts(stack, states={"redis": {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}},
                  logs={redis: lines}, probes=(probe,))
    finding = first(stack, found)
    assert finding.id == "redis-config-invalid" and "maxmemroy 100mb" in finding.title
    assert stack.files.redis_conf in finding.fix


def test_an_unknown_uwsgi_option_is_named_and_an_app_loaded_since_rules_it_out(stack):
    web = stack.services.web
    ended = ["[uWSGI] getting INI configuration from /app/compose/web/uwsgi.ini",
             "[strict-mode] unknown config directive: harakiri-verbos"]
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}},
                  logs={web: ended * 2})
    found.current_from = {web: 4}
    finding = first(stack, found)
    assert finding.id == "uwsgi-config-invalid" and "harakiri-verbos" in finding.title
    assert stack.files.uwsgi_ini in finding.fix
    found.logs, found.current_from = {web: [*ended, *UWSGI_START, APP_LOADED]}, {web: 2}
    assert "uwsgi-config-invalid" not in ids(stack, found)


def test_a_refused_user_is_not_only_a_password(stack):
    """An adversary's case: MYSQL_USER changed; the fix said to restore MYSQL_PASSWORD, which was right."""
    line = "django.db.utils.OperationalError: (1045, \"Access denied for user 'shop'@'172.19.0.4' (using password: YES)\")"
    finding = first(stack, facts(stack, logs={stack.services.web: [line]}))
    assert finding.id == "db-access-denied" and "MYSQL_USER" in finding.fix


def test_a_web_that_stays_down_says_the_exception_it_ended_with_first(stack):
    lines = ["Traceback (most recent call last):", '  File "/app/mysite/settings.py", line 40, in <module>',
             '    TIMEOUT = int(os.environ["TIMEOUT"])', "ValueError: invalid literal for int() with base 10: 'x'"]
    found = facts(stack, states={"web": {"state": "exited", "exit_code": 1, "health": ""}},
                  logs={stack.services.web: lines})
    assert ids(stack, found)[:2] == ["crash-exception", "web-not-running"]


def test_a_crash_loop_killed_by_sigkill_without_the_oom_flag(stack):
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 137, "restarts": 2, "health": ""}})
    assert ids(stack, found)[:2] == ["web-killed", "web-crash-loop"]


# --- uWSGI ------------------------------------------------------------------------------------------

HARAKIRI = ["Tue Dec  1 21:42:10 2026 - *** HARAKIRI ON WORKER 1 (pid: 9, try: 1, graceful: yes) ***",
            "Tue Dec  1 21:42:10 2026 - HARAKIRI !!! worker 1 status !!!",
            "Tue Dec  1 21:42:10 2026 - HARAKIRI [core 0] 172.19.0.5 - GET /slow/ since 1764625328",
            "Tue Dec  1 21:42:10 2026 - HARAKIRI !!! end of worker 1 status !!!",
            "DAMN ! worker 1 (pid: 9) died, killed by signal 9 :( trying respawn ...",
            "Respawned uWSGI worker 1 (new pid: 14)"]


def test_harakiri_names_the_request_and_its_kill_is_not_another_finding(stack):
    found = facts(stack, logs={stack.services.web: [*UWSGI_START, APP_LOADED, *HARAKIRI]}, probes=(SITE_OK,))
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["uwsgi-harakiri"]
    assert "GET /slow/" in report.findings[0].title


def test_a_worker_killed_from_outside_is_a_warning(stack):
    found = facts(stack, logs={stack.services.web: [*UWSGI_START, APP_LOADED, HARAKIRI[-2], HARAKIRI[-1]]},
                  probes=(SITE_OK,))
    report = diagnose(stack, found)
    assert [(f.id, f.severity) for f in report.findings] == [("uwsgi-worker-killed", WARNING)]
    assert report.healthy


# --- nginx and Docker -------------------------------------------------------------------------------

@pytest.mark.parametrize("line,where,rebuild", [
    ('nginx: [emerg] unknown directive "st" in /etc/nginx/upstream/web.conf:1',
     "compose/nginx/upstream/web.conf:1", "--force-recreate"),
    ('2026/12/01 21:43:00 [emerg] 1#1: unknown directive "servr_name" in /etc/nginx/nginx.conf:41',
     "compose/nginx/nginx.conf:41", "--build"),
])
def test_an_nginx_emergency_names_the_stacks_file_and_line(stack, line, where, rebuild):
    found = facts(stack, states={"nginx": {"state": "restarting", "exit_code": 1, "restarts": 5, "health": ""}},
                  logs={stack.services.nginx: [line] * 3})
    finding = first(stack, found)
    assert finding.id == "nginx-config-invalid" and where in finding.fix and rebuild in finding.fix
    assert "unknown directive" in finding.title


def test_a_key_that_is_not_the_certificates_is_no_config_typo(stack):
    line = ('nginx: [emerg] SSL_CTX_use_PrivateKey("/etc/nginx/ssl/privkey.pem") failed (SSL: error:05800074:x509 '
            'certificate routines::key values mismatch)')
    found = facts(stack, states={"nginx": {"state": "restarting", "exit_code": 1, "restarts": 5, "health": ""}},
                  logs={stack.services.nginx: [line]})
    assert ids(stack, found)[:2] == ["tls-key-mismatch", "nginx-crash-loop"]


def test_a_host_port_taken_is_named_before_the_container_that_is_down(stack):
    error = ("driver failed programming external connectivity on endpoint mysite-nginx-1: Error starting "
             "userland proxy: listen tcp4 127.0.0.1:8080: bind: address already in use")
    found = facts(stack, states={"nginx": {"state": "created", "exit_code": 128, "health": ""}})
    found.containers[stack.services.nginx].error = error
    finding = first(stack, found)
    assert finding.id == "host-port-taken" and "8080" in finding.fix


def test_another_start_error_of_docker_is_named_as_docker_said_it(stack):
    error = ('error while creating mount source path "/srv/mysite/compose/nginx/log": mkdir /srv/mysite/compose/'
             'nginx/log: read-only file system')
    found = facts(stack, states={"nginx": {"state": "created", "exit_code": 128, "health": ""}})
    found.containers[stack.services.nginx].error = error
    finding = first(stack, found)
    assert (finding.id, finding.evidence) == ("nginx-start-refused", [f"{stack.services.nginx}: {error}"])


# --- confinement: the read-only root filesystem and the tmpfs mounts (issue 14) -----------------------

BODY_NO_SPACE = ('2026/12/02 01:50:00 [crit] 29#29: *{n} pwrite() "/tmp/nginx-client-body/000000000{n}" failed '
                 '(28: No space left on device), client: 172.19.0.1, server: localhost, request: "POST /api/notes/ '
                 'HTTP/1.1", host: "127.0.0.1:8080"')
INNODB_NO_SPACE = ("2026-12-01 21:40:26 46 [ERROR] InnoDB: preallocating 146800640 bytes for file "
                   "./mysite/filler.ibd failed with error 28")
# MariaDB 11.8 with db's /tmp full, and what web got for its query (seen on a real stack).
TEMP_TABLE_NO_SPACE = ("2026-12-02  2:01:02 10 [ERROR] mariadbd: Disk got full writing '.(temporary)' (Errcode: 28 "
                       "\"No space left on device\")")
TEMP_TABLE_CLIENT = ("django.db.utils.OperationalError: (1021, 'Disk got full writing \\'.(temporary)\\' (Errcode: 28 "
                     "\"No space left on device\")')")


def test_a_full_tmpfs_is_named_with_its_size_and_the_memory_limit_it_counts_in(stack):
    """Many big uploads at once fill nginx's /tmp: the tmpfs, not the host's disk."""
    nginx = stack.services.nginx
    found = facts(stack, probes=(SITE_OK,), nginx_log=tuple(BODY_NO_SPACE.format(n=n) for n in range(1, 6)))
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["nginx-tmpfs-full"]
    finding = report.findings[0]
    mount, size, _ = next(m for m in stack.confinement["nginx"].tmpfs if m[0] == "/tmp")
    assert f"{nginx}'s tmpfs {mount} ({size} of memory) is full" in finding.title
    assert "/tmp/nginx-client-body/0000000005" in finding.title and "not the host's disk" in finding.title
    assert f"- {mount}:size={size}" in finding.fix and "docker-compose.yml" in finding.fix
    assert f"NGINX_MEM_LIMIT in .env, {stack.limits['nginx'][0]} now" in finding.fix
    assert len(finding.evidence) == 3 and finding.evidence[-1].startswith(f"{nginx}: ")


def test_db_temporary_tables_filling_its_tmpfs_are_not_the_host_disk(stack):
    """MariaDB's temporary tables in its tmpdir, db's /tmp: MariaDB names no folder, the model does."""
    db, web = stack.services.db, stack.services.web
    found = facts(stack, logs={db: [TEMP_TABLE_NO_SPACE], web: [*UWSGI_START, APP_LOADED, TEMP_TABLE_CLIENT]},
                  probes=(SITE_OK,))
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["db-tmpfs-full"]
    size = next(size for mount, size, _ in stack.confinement["db"].tmpfs if mount == stack.paths.mysql_tmp)
    assert f"{db}'s tmpfs {stack.paths.mysql_tmp} ({size} of memory) is full" in report.findings[0].title
    assert "a temporary table" in report.findings[0].title
    assert set(report.findings[0].evidence) == {f"{db}: {TEMP_TABLE_NO_SPACE}", f"{web}: {TEMP_TABLE_CLIENT}"}
    # MySQL names the file: the same.
    client = "django.db.utils.OperationalError: (1114, \"The table '/tmp/#sql1_36_0' is full\")"
    assert ids(stack, facts(stack, logs={web: [*UWSGI_START, APP_LOADED, client]}, probes=(SITE_OK,))) == [
        "db-tmpfs-full"]


def test_errno_28_off_the_tmpfs_is_still_the_host_disk(stack):
    """db's data folder is a volume on the host's disk: db-disk-full stays, a tmpfs full elsewhere beside it."""
    db = stack.services.db
    found = facts(stack, logs={db: [INNODB_NO_SPACE]}, probes=(SITE_OK,))
    assert ids(stack, found) == ["db-disk-full"]
    found = facts(stack, logs={db: [INNODB_NO_SPACE]}, probes=(SITE_OK,), nginx_log=(BODY_NO_SPACE.format(n=1),))
    assert sorted(ids(stack, found)) == ["db-disk-full", "nginx-tmpfs-full"]
    # A temporary table and a data file: the data file's disk is full too.
    found = facts(stack, logs={db: [TEMP_TABLE_NO_SPACE, INNODB_NO_SPACE]}, probes=(SITE_OK,))
    assert sorted(ids(stack, found)) == ["db-disk-full", "db-tmpfs-full"]


EXPORT = request_traceback("/export/", [
    '  File "/app/gallery/views.py", line 18, in export_notes', "    folder.mkdir(exist_ok=True)",
    '  File "/usr/local/lib/python3.13/pathlib/_local.py", line 722, in mkdir', "    os.mkdir(self, mode)"],
    "OSError: [Errno 30] Read-only file system: '/app/exports'")


def test_a_project_writing_into_its_code_folder_is_told_to_write_elsewhere(stack):
    """A view that keeps exports beside the code, as under runserver: the read-only root, not the view."""
    web = stack.services.web
    found = facts(stack, logs={web: [*UWSGI_START, APP_LOADED, *EXPORT]},
                  probes=(Probe("site", False, "GET / → 500", {"status": 500}),))
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["web-read-only-write", "site-error"]
    finding = report.findings[0]
    assert finding.title == f"{web} writes /app/exports on its read-only root filesystem (errno 30)"
    assert f"code folder ({stack.paths.app})" in finding.fix and stack.paths.media in finding.fix
    mount, size, _ = stack.confinement["web"].tmpfs[0]
    assert f"({mount}, {size} of memory)" in finding.fix and "(/app/exports if it is one" in finding.fix
    assert "WEB_MEM_LIMIT" in finding.fix


def test_a_start_that_writes_on_the_read_only_root_is_the_crash_loops_cause(stack):
    web = stack.services.web
    ended = ["Traceback (most recent call last):", '  File "/app/mysite/settings.py", line 12, in <module>',
             '    os.makedirs(BASE_DIR / "cache", exist_ok=True)', "  File \"<frozen os>\", line 225, in makedirs",
             "OSError: [Errno 30] Read-only file system: '/app/cache'"]
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 2, "health": ""}},
                  logs={web: ended})
    found.current_from = {web: len(ended)}
    assert ids(stack, found) == ["web-read-only-write", "web-crash-loop"]


def test_another_service_writing_on_its_read_only_root_is_told_its_tmpfs(stack):
    nginx = stack.services.nginx
    line = ('2026/12/02 01:50:00 [crit] 7#7: *1 open() "/var/cache/nginx/x" failed (30: Read-only file system), '
            'client: 172.19.0.1, server: localhost')
    finding = first(stack, facts(stack, probes=(SITE_OK,), nginx_log=(line,)))
    assert (finding.id, finding.service) == ("nginx-read-only-write", nginx)
    assert "/var/cache/nginx/x" in finding.title
    tmpfs = "; ".join(f"{m}, {size} of memory" for m, size, _ in stack.confinement["nginx"].tmpfs)
    assert f"its tmpfs ({tmpfs})" in finding.fix and "`read_only: true` in docker-compose.yml" in finding.fix


# --- honest uncertainty -----------------------------------------------------------------------------

def test_only_symptoms_give_cause_unknown_with_the_last_error_lines_of_each_service(stack):
    web = stack.services.web
    found = facts(stack, states={"web": {"state": "restarting", "exit_code": 1, "restarts": 3, "health": ""}},
                  logs={web: ["entrypoint: waiting for db", "sh: 1: cannot create /x: error one",
                              "fatal: error two", "error three", "error four", "last words"]})
    found.current_from = {web: 5}
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["cause-unknown", "web-crash-loop"]
    assert report.findings[0].evidence == [f"{web} (ended run): fatal: error two", f"{web} (ended run): error three",
                                           f"{web} (ended run): error four"]


def test_env_file_missing_is_the_diagnosis_and_replays(stack, tmp_path):
    root = tmp_path / "mysite"
    shutil.copytree(stack.project.root, root)
    (root / ".env").rename(tmp_path / "env-away")
    saved = tmp_path / "evidence.json"
    (finding,) = run_doctor(root, evidence=saved).findings
    assert finding.id == "env-file-missing" and str(root / ".env") in finding.fix
    (tmp_path / "env-away").rename(root / ".env")
    assert [f.id for f in run_doctor(root, replay=saved).findings] == ["env-file-missing"]
