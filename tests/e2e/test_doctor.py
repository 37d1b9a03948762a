"""`djstack doctor` on a real stack: the live faults of the fault corpus (tests/fault_corpus.py), each
injected into a running stack; doctor must name the cause the table expects first.

One stack serves the module. Each fault test breaks it through the `broken` fixture, which repairs
it afterwards: files restored from a pristine copy, web and nginx (and whatever else the test
touched) recreated, so logs start afresh and no test depends on another's order.

With DJSTACK_RECORD_FAULTS=1 each fault test records what doctor gathered as the fault's evidence
file (tests/data/faults/<name>.json) instead of asserting the table's expectation.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fault_corpus import assert_diagnosed, recording, save_evidence, secrets_of
from helpers import DJSTACK, REPO
from stacks import LiveStack, new_stack, remove
from djstack.compose import Compose
from djstack.envfile import read_env
from djstack.lifecycle import wait_ready
from djstack.model import Networks, Paths, Ports, RedisAcl, Volumes

pytestmark = pytest.mark.e2e

NOT_RESTORED: set[str] = set()  # every file of the stack is restored


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    live = new_stack(tmp_path_factory.mktemp("doctor"))
    try:
        live.djstack("up", str(live.root))
        shutil.copytree(live.root, live.root.parent / "pristine", symlinks=True)
        yield live
    finally:
        remove(live)


@dataclass
class Scene:
    stack: LiveStack
    recreate: set[str] = field(default_factory=lambda: {"web", "nginx"})
    held: list[subprocess.Popen] = field(default_factory=list)  # commands running until the repair

    @property
    def root(self) -> Path:
        return self.stack.root

    @property
    def pristine(self) -> Path:
        return self.root.parent / "pristine"

    def compose(self, *args: str, check: bool = True):
        return self.stack.compose(*args, check=check)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{relative} has no {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def write(self, relative: str, text: str) -> None:
        (self.root / relative).write_text(text, encoding="utf-8")

    def add_view(self, imports: str, source: str, url: str, view: str) -> None:
        """A view of the example's gallery app, defined in `source` (ending before `def home(request):`),
        with `imports` added after views.py's own, served at `url`."""
        self.edit("gallery/views.py", "import json\n", f"import json\n\n{imports}\n")
        self.edit("gallery/views.py", "def home(request):", source)
        self.edit("gallery/urls.py", '    path("", views.home, name="home"),',
                  f'    path("", views.home, name="home"),\n    path("{url}", views.{view}),')

    def env(self, key: str) -> str:
        return read_env(self.root / ".env")[key]

    def set_env(self, key: str, value: str) -> None:
        path = self.root / ".env"
        lines = [f"{key}={value}" if line.startswith(f"{key}=") else line
                 for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def sql(self, sql: str) -> None:
        self.compose("exec", "-T", "db", "sh", "-c",
                     f'MYSQL_PWD="$MYSQL_PASSWORD" mysql -u"$MYSQL_USER" "$MYSQL_DATABASE" -e "{sql}"')

    def root_sql(self, sql: str) -> subprocess.CompletedProcess:
        return self.compose(*ROOT_SQL, sql)

    def hold(self, *compose_args: str) -> None:
        """Run `docker compose ARGS` in the background until the repair (which restarts what it held)."""
        self.held.append(subprocess.Popen(["docker", "compose", *compose_args], cwd=self.root,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def container(self, service: str) -> str:
        return self.compose("ps", "--quiet", service).stdout.strip()

    def rebuild_web(self) -> None:
        """web from the edited code: a new image, the container recreated from it."""
        self.compose("up", "--detach", "--no-deps", "--build", "web")

    def one_off(self, volume: str, mount: str, image: str, script: str) -> None:
        """`script` as root in a throwaway container of `image` with the stack's `volume` at `mount`
        (root inside the stack's containers cannot chown: no-new-privileges)."""
        subprocess.run(["docker", "run", "--rm", "-u", "root", "--entrypoint", "sh",
                        "-v", f"{self.stack.name}_{volume}:{mount}", image, "-c", script],
                       check=True, capture_output=True)


#: Root's SQL in db, the statement as the last argument (the root password never leaves db).
ROOT_SQL = ("exec", "-T", "db", "sh", "-c", 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb -uroot -e "$1"', "sql")


def restore(root: Path, pristine: Path) -> bool:
    """Put back files a test changed; True when one of them goes into the web image."""
    code_changed = False
    comparison = [filecmp.dircmp(root, pristine, ignore=[*NOT_RESTORED, "__pycache__"])]
    while comparison:
        cmp = comparison.pop()
        for name in cmp.diff_files + cmp.right_only:
            shutil.copy2(Path(cmp.right) / name, Path(cmp.left) / name)
            code_changed |= name != ".env"
        for name in cmp.left_only:
            target = Path(cmp.left) / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()
            code_changed = True
        comparison += cmp.subdirs.values()
    return code_changed


@pytest.fixture
def broken(stack):
    """The module's stack, for a test to break; repaired afterwards."""
    scene = Scene(stack)
    yield scene
    for held in scene.held:
        held.terminate()
        held.wait()
    rebuild = restore(stack.root, scene.pristine)
    if "web" in scene.recreate:
        # web holds no state, and one stuck in its entrypoint (sh, PID 1) ignores SIGTERM for 30 s.
        stack.compose("kill", "web", check=False)
    stack.compose("up", "--detach", "--force-recreate", *(["--build"] if rebuild else []), *sorted(scene.recreate))
    assert_ready(stack)


def assert_ready(stack: LiveStack) -> None:
    """Every service running and passing its healthcheck, run now (Docker's first comes 10 s late)."""
    assert wait_ready(Compose(stack.root), lambda waiting: None) is None


def doctor(stack: LiveStack, *extra: str, env: dict | None = None, folder: Path | None = None) -> tuple[int, list[dict]]:
    proc = subprocess.run([*DJSTACK, "doctor", str(folder or stack.root), "--json", *extra], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    findings = json.loads(proc.stdout)
    # Errors come first; exit code 1 means there is one.
    assert proc.returncode == int(bool(findings) and findings[0]["severity"] == "error"), findings
    return proc.returncode, findings


def diagnosed(scene: Scene, fault: str) -> list[dict]:
    """doctor's findings on the broken stack, the first one the corpus table's for `fault`; when
    recording, its evidence saved as the fault's file instead (replayed, it gives the same findings)."""
    if not recording():
        _, findings = doctor(scene.stack)
        assert_diagnosed(fault, findings)
        return findings
    evidence = scene.root.parent / f"{fault}.evidence.json"
    _, findings = doctor(scene.stack, "--save-evidence", str(evidence))
    # Replayed on the stack's pristine copy: a replay needs the stack's files, which the fault may have taken.
    assert doctor(scene.stack, "--replay", str(evidence), folder=scene.pristine)[1] == findings
    save_evidence(fault, evidence.read_text(encoding="utf-8"),
                  secrets_of(scene.root / ".env", scene.pristine / ".env"))
    return findings


def wait_for_log(scene: Scene, service: str, text: str, seconds: float = 120) -> None:
    """Until `text` shows in the service's log: a fault takes effect when the service next starts."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in scene.compose("logs", "--no-color", service, check=False).stdout:
            return
        time.sleep(2)
    pytest.fail(f"{text!r} never appeared in {service}'s log")


def test_healthy_stack(stack):
    code, findings = doctor(stack)
    assert (code, findings) == (0, [])
    proc = stack.djstack("doctor", str(stack.root))
    assert "healthy" in proc.stdout
    for checked in ("database from web: ok", "cache from web: ok", "TCP web:8000 from nginx: open",
                    "writable", "0 unapplied migration"):
        assert checked in proc.stdout


# --- the catalogue doctor started with ------------------------------------------------------------

def test_wrong_db_password(broken):
    broken.set_env("MYSQL_PASSWORD", "not-the-password-the-volume-has-0123456789")
    broken.compose("up", "--detach", "--no-deps", "web")
    wait_for_log(broken, "web", "Access denied for user")
    diagnosed(broken, "wrong-db-password")


def test_db_user_changed_after_the_volume_was_made(broken):
    broken.set_env("MYSQL_USER", "a_user_the_volume_never_had")
    broken.compose("up", "--detach", "--no-deps", "web")
    wait_for_log(broken, "web", "Access denied for user")
    diagnosed(broken, "db-user-changed")


def test_redis_config_typo(broken):
    broken.recreate.add("redis")
    with (broken.root / "compose/redis/redis.conf").open("a", encoding="utf-8") as conf:
        conf.write("maxmemroy 100mb\n")
    broken.compose("up", "--detach", "--no-deps", "--force-recreate", "redis")
    wait_for_log(broken, "redis", "maxmemroy")
    diagnosed(broken, "redis-config-typo")


def test_uwsgi_unknown_option(broken):
    broken.edit("compose/web/uwsgi.ini", "strict = true\n", "strict = true\nharakiri-verbos = true\n")
    broken.rebuild_web()
    wait_for_log(broken, "web", "unknown config directive")
    diagnosed(broken, "uwsgi-unknown-option")


def test_migration_with_an_sql_error(broken):
    broken.write("gallery/migrations/0002_bad_sql.py", MIGRATION.replace(
        "operations = []", 'operations = [migrations.RunSQL("ALTER TABLE gallery_note ADD COLUMN x INT WITH")]'))
    broken.rebuild_web()
    # migrate prints "Applying …" when it exits, after the 1064 traceback: both in the log first.
    wait_for_log(broken, "web", "Applying gallery.0002_bad_sql")
    diagnosed(broken, "migration-sql-error")


def test_db_stopped(broken):
    broken.compose("stop", "db")
    broken.recreate.add("db")
    findings = diagnosed(broken, "db-stopped")
    # web's view of it is reported too, as a consequence.
    assert "db-unreachable" in [f["id"] for f in findings[1:]]
    human = broken.stack.djstack("doctor", str(broken.root), check=False)
    assert human.returncode == 1
    assert "Most likely cause db-not-running" in human.stdout


def test_redis_stopped(broken):
    broken.compose("stop", "redis")
    broken.recreate.add("redis")
    findings = diagnosed(broken, "redis-stopped")
    assert "redis-unreachable" in [f["id"] for f in findings]


def test_redis_password_changed(broken):
    broken.set_env("REDIS_PASSWORD", "a-new-redis-password-web-does-not-have-0123")
    broken.compose("up", "--detach", "--no-deps", "--wait", "redis")
    broken.recreate.add("redis")
    diagnosed(broken, "redis-password-changed")


def test_uwsgi_crashes_at_import(broken):
    broken.edit("mysite/wsgi.py", "application = get_wsgi_application()",
                "import gallery.module_that_does_not_exist  # noqa\napplication = get_wsgi_application()")
    broken.rebuild_web()
    wait_for_log(broken, "web", "no app loaded")
    diagnosed(broken, "import-error-in-wsgi")


def test_nginx_pointed_at_wrong_port(broken):
    port = Ports().uwsgi
    broken.edit("compose/nginx/nginx.conf", f"web:{port};", f"web:{port + 1};")
    broken.compose("up", "--detach", "--no-deps", "--build", "--wait", "nginx")
    # The file's mistake (djstack check, with file:line) is the cause; the refused connections and
    # the 502 are what it does.
    findings = diagnosed(broken, "nginx-wrong-upstream-port")
    ids = [f["id"] for f in findings]
    assert "nginx-upstream-refused" in ids and "site-error" in ids


def test_model_change_without_migration(broken):
    broken.edit("gallery/models.py", "    text = models.CharField(max_length=200)\n",
                "    text = models.CharField(max_length=200)\n    stars = models.IntegerField(default=0)\n")
    broken.compose("up", "--detach", "--no-deps", "--build", "--wait", "web")
    diagnosed(broken, "model-without-migration")


def test_table_missing(broken):
    # Every table of the app: the repair below migrates it from zero (its background work's too).
    broken.sql("DROP TABLE gallery_note, gallery_photo, gallery_job, gallery_heartbeat")
    try:
        diagnosed(broken, "table-dropped")
    finally:
        broken.compose("exec", "-T", "web", "python", "manage.py", "migrate", "gallery", "zero", "--fake")
        broken.compose("exec", "-T", "web", "python", "manage.py", "migrate", "gallery")
        # A heartbeat beat sent while the table was gone failed in worker's log, and doctor counts it
        # until a later one succeeds, up to a minute away: the next tests would see this fault's task
        # failure ahead of their own. One heartbeat now, succeeding, makes it history.
        sent = broken.compose("exec", "-T", "web", "python", "manage.py", "shell", "-c",
                              "from gallery.tasks import heartbeat; print(heartbeat.delay().id)").stdout
        wait_for_log(broken, "worker", f"gallery.tasks.heartbeat[{sent.split()[-1]}] succeeded", 60)


def test_host_not_in_allowed_hosts(broken):
    # nginx turns away hosts it does not serve; one it serves but Django does not allow gets to Django.
    broken.set_env("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    broken.compose("up", "--detach", "--no-deps", "--wait", "web")
    assert broken.stack.get("/", headers={"Host": "localhost"}).status_code == 400
    # The cause is the files disagreeing (djstack check names .env); Django's refusals are its effect.
    findings = diagnosed(broken, "host-not-allowed")
    refused = next(f for f in findings if f["id"] == "disallowed-host")
    assert "'localhost'" in refused["evidence"][0]


def test_csrf_failure(broken):
    assert broken.stack.post("/admin/login/", data={"username": "x", "password": "y"}).status_code == 403
    diagnosed(broken, "csrf-failure")


def test_container_killed_by_oom(broken):
    subprocess.run(["docker", "update", "--memory", "64m", "--memory-swap", "64m", broken.container("web")],
                   check=True, capture_output=True)
    allocate = broken.compose("exec", "-T", "web", "python", "-c", "x = bytearray(400 * 2**20)", check=False)
    assert allocate.returncode != 0
    diagnosed(broken, "oom-killed")


def test_static_files_not_collected(broken):
    broken.compose("exec", "-T", "web", "find", Paths().static, "-mindepth", "1", "-delete")
    diagnosed(broken, "static-volume-empty")


def test_media_not_writable(broken):
    broken.one_off(Volumes().media, Paths().media, f"{broken.stack.name}-web", f"chown root:root {Paths().media}")
    findings = diagnosed(broken, "media-not-writable")
    # The fix doctor gives is a command that repairs it.
    command = re.search(r"`(docker run [^`]+)`", findings[0]["fix"]).group(1)
    subprocess.run(shlex.split(command), check=True, capture_output=True)
    code, findings = doctor(broken.stack)
    assert "media-not-writable" not in [f["id"] for f in findings], (command, findings)


def test_web_exited(broken):
    broken.compose("stop", "web")
    findings = diagnosed(broken, "web-stopped")
    assert "site-error" in [f["id"] for f in findings]


# --- db ---------------------------------------------------------------------------------------------

def test_db_name_changed_after_the_volume_was_made(broken):
    broken.set_env("MYSQL_DATABASE", broken.env("MYSQL_DATABASE") + "_renamed")
    broken.compose("up", "--detach", "--no-deps", "web")
    wait_for_log(broken, "web", "1044")
    diagnosed(broken, "db-name-changed")


def test_db_dropped(broken):
    database = broken.env("MYSQL_DATABASE")
    broken.root_sql(f"DROP DATABASE {database}")
    try:
        diagnosed(broken, "db-dropped")
    finally:
        broken.root_sql(f"CREATE DATABASE {database}")  # web's entrypoint migrates when it is recreated


def test_db_too_many_connections(broken):
    broken.recreate.add("db")  # a restart undoes SET GLOBAL
    user = broken.env("MYSQL_USER")
    # MariaDB's least max_connections (it keeps one more for root), every one held by a client, each
    # trying again while another connection (db's healthcheck, a probe) has the slot it wants.
    limit = 10
    broken.root_sql(f"SET GLOBAL max_connections = {limit}; KILL USER {user}")
    sleeper = 'until MYSQL_PWD="$MYSQL_PASSWORD" mariadb -u"$MYSQL_USER" -e "SELECT SLEEP(600)"; do sleep 0.5; done'
    broken.hold("exec", "-T", "db", "sh", "-c", f"for i in $(seq {limit}); do ({sleeper}) & done; wait")
    wait_for_processlist(broken, "SLEEP(600)", limit)
    broken.compose("restart", "web")
    wait_for_log(broken, "web", "1040")
    diagnosed(broken, "db-too-many-connections")


def test_db_read_only(broken):
    broken.recreate.add("db")
    broken.root_sql("SET GLOBAL read_only = 1")
    assert broken.stack.post("/api/notes/", json={"text": "read-only"}).status_code == 500
    wait_for_log(broken, "web", "1290")
    diagnosed(broken, "db-read-only")


def test_db_lock_wait_timeout(broken):
    broken.recreate.add("db")
    # web's persistent connections keep the old timeout: killed, they reconnect with the new one.
    broken.root_sql(f"SET GLOBAL innodb_lock_wait_timeout = 1; KILL USER {broken.env('MYSQL_USER')}")
    table = f"{broken.env('MYSQL_DATABASE')}.gallery_note"
    broken.hold(*ROOT_SQL, f"BEGIN; SELECT * FROM {table} FOR UPDATE; SELECT SLEEP(600);")
    wait_for_processlist(broken, "SLEEP(600)")
    assert broken.stack.post("/api/notes/", json={"text": "locked"}).status_code == 500
    wait_for_log(broken, "web", "1205")
    diagnosed(broken, "db-lock-wait-timeout")


def test_db_config_invalid(broken):
    broken.recreate.add("db")
    broken.edit("compose/mysql/conf/djstack.cnf", "[mysqld]\n", "[mysqld]\nno_such_option = 1\n")
    broken.compose("restart", "db")
    wait_for_log(broken, "db", "unknown variable")
    diagnosed(broken, "db-config-invalid")


def test_db_data_not_writable(broken):
    broken.recreate.add("db")
    data = "/var/lib/mysql"
    broken.compose("stop", "db")
    image = broken.env("DB_IMAGE")
    # Its mode, not its owner: db's entrypoint gives the files back to mysql (as root), not the rights.
    broken.one_off(Volumes().db, data, image, f"chmod 000 {data}")
    try:
        broken.compose("start", "db")
        wait_for_log(broken, "db", "Permission denied")
        diagnosed(broken, "db-data-permission-denied")
    finally:
        broken.one_off(Volumes().db, data, image, f"chmod 755 {data}")


def test_db_name_unresolved(broken):
    subprocess.run(["docker", "network", "disconnect", f"{broken.stack.name}_{Networks().db}",
                    broken.container("web")], check=True, capture_output=True)
    diagnosed(broken, "db-name-unresolved")


def test_db_connection_lost_mid_request(broken):
    broken.edit("gallery/views.py", "def home(request):", "def slow_query(request):\n"
                "    from django.db import connection\n\n    with connection.cursor() as cursor:\n"
                '        cursor.execute("SELECT SLEEP(30)")\n    return JsonResponse({})\n\n\ndef home(request):')
    broken.edit("gallery/urls.py", '    path("", views.home, name="home"),',
                '    path("", views.home, name="home"),\n    path("slow-query/", views.slow_query),')
    broken.rebuild_web()
    assert_ready(broken.stack)
    with ThreadPoolExecutor(1) as pool:
        request = pool.submit(broken.stack.get, "/slow-query/")
        wait_for_processlist(broken, "SLEEP(30)")
        broken.root_sql(f"KILL USER {broken.env('MYSQL_USER')}")  # as a db restart or a network cut would
        assert request.result().status_code == 500
    wait_for_log(broken, "web", "2013")
    diagnosed(broken, "db-connection-lost")


def wait_for_processlist(scene: Scene, text: str, count: int = 1, seconds: float = 30) -> None:
    """Until `count` statements containing `text` run in db (connections the test holds)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if scene.root_sql("SHOW FULL PROCESSLIST").stdout.count(text) >= count:
            return
        time.sleep(0.5)
    pytest.fail(f"no {text!r} in db's process list")


# --- redis ------------------------------------------------------------------------------------------

def test_redis_client_without_password(broken):
    broken.edit("docker-compose.yml", "      REDIS_PASSWORD: ${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}\n",
                '      REDIS_PASSWORD: ""\n')
    broken.compose("up", "--detach", "--no-deps", "--wait", "web")
    diagnosed(broken, "redis-noauth")


def redis_conf_plus(scene: Scene, lines: str) -> None:
    """redis recreated with `lines` after redis.conf's own (the app's Redis user may not CONFIG SET)."""
    scene.recreate.add("redis")
    with (scene.root / "compose/redis/redis.conf").open("a", encoding="utf-8") as conf:
        conf.write(lines)
    scene.compose("up", "--detach", "--no-deps", "--force-recreate", "--wait", "redis")


def test_redis_out_of_memory(broken):
    redis_conf_plus(broken, "maxmemory-policy noeviction\nmaxmemory 1\n")
    broken.stack.get("/api/cached/")
    diagnosed(broken, "redis-oom")


def test_redis_cannot_persist(broken):
    # A snapshot after any write a second old (BGSAVE is @dangerous: the app's Redis user may not send it).
    redis_conf_plus(broken, "save 1 1\n")
    data, image = "/data", broken.env("REDIS_IMAGE")
    broken.one_off(Volumes().redis, data, image, f"chown root:root {data} && chmod 755 {data}")
    try:
        broken.compose("exec", "-T", "redis", "redis-cli", "--user", RedisAcl().user, "SET", "djstack:save", "1")
        wait_for_log(broken, "redis", "Background saving error")
        diagnosed(broken, "redis-misconf")
    finally:
        broken.one_off(Volumes().redis, data, image, f"chown redis:redis {data}")


# --- nginx ------------------------------------------------------------------------------------------

def test_nginx_config_typo(broken):
    # nginx.conf is tested when its image is built (`nginx -t`): a typo gets to a running nginx only
    # through a mounted file, such as the upstream a deploy writes, edited by hand.
    broken.write("compose/nginx/upstream/web.conf", f"st $web web:{Ports().uwsgi};\n")
    broken.compose("restart", "nginx")
    wait_for_log(broken, "nginx", "[emerg]")
    diagnosed(broken, "nginx-config-typo")


def test_host_port_taken(broken):
    broken.compose("stop", "nginx")
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", broken.stack.port))
        listener.listen()
        assert broken.compose("up", "--detach", "--no-deps", "--force-recreate", "nginx", check=False).returncode
        diagnosed(broken, "port-taken")


def test_static_files_unreadable_for_nginx(broken):
    static = Paths().static
    broken.compose("exec", "-T", "web", "find", static, "-type", "f", "-exec", "chmod", "600", "{}", "+")
    try:
        assert broken.stack.get("/static/gallery/site.css").status_code == 403
        diagnosed(broken, "static-file-unreadable")
    finally:
        broken.compose("exec", "-T", "web", "find", static, "-type", "f", "-exec", "chmod", "644", "{}", "+")


# --- web: settings, code, migrations, uWSGI ---------------------------------------------------------

def test_settings_module_wrong(broken):
    broken.edit("docker-compose.yml", "DJANGO_SETTINGS_MODULE: mysite.settings_docker",
                "DJANGO_SETTINGS_MODULE: mysite.settings_that_does_not_exist")
    broken.compose("up", "--detach", "--no-deps", "web")
    wait_for_log(broken, "web", "settings_that_does_not_exist")
    diagnosed(broken, "settings-module-wrong")


#: Settings lines that run in production only (docker-compose.yml sets DJANGO_DEBUG=False), so the
#: image still builds (its collectstatic imports the settings) and web fails when it starts.
IN_PRODUCTION = '\nimport os\n\nif os.environ.get("DJANGO_DEBUG") == "False":\n    {}\n'


def test_settings_import_a_missing_package(broken):
    broken.edit("mysite/settings.py", 'USE_TZ = True\n', 'USE_TZ = True\n' + IN_PRODUCTION.format("import sentry_sdk  # noqa"))
    broken.rebuild_web()
    wait_for_log(broken, "web", "sentry_sdk")
    diagnosed(broken, "settings-missing-dependency")


def test_installed_app_missing(broken):
    broken.edit("mysite/settings.py", 'USE_TZ = True\n',
                'USE_TZ = True\n' + IN_PRODUCTION.format('INSTALLED_APPS += ["django_extensions"]'))
    broken.rebuild_web()
    wait_for_log(broken, "web", "django_extensions")
    diagnosed(broken, "app-not-installed")


def test_migration_history_inconsistent(broken):
    row = "app = 'contenttypes' AND name = '0001_initial'"
    broken.sql(f"DELETE FROM django_migrations WHERE {row}")
    try:
        broken.compose("restart", "web")
        wait_for_log(broken, "web", "InconsistentMigrationHistory")
        diagnosed(broken, "migration-history-inconsistent")
    finally:
        broken.sql("INSERT INTO django_migrations (app, name, applied) VALUES ('contenttypes', '0001_initial', NOW())")


#: The example's last migration: a new one must follow it, or migrate sees two leaves (a conflict).
LAST_MIGRATION = max(p.stem for p in (REPO / "examples" / "mysite" / "gallery" / "migrations").glob("0*.py"))
MIGRATION = ('from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n'
             f'    dependencies = [("gallery", "{LAST_MIGRATION}")]\n    operations = []\n')


def test_migration_conflict(broken):
    for name in ("0002_note_a", "0002_note_b"):  # two branches, as two developers' merges leave them
        broken.write(f"gallery/migrations/{name}.py", MIGRATION)
    broken.rebuild_web()
    wait_for_log(broken, "web", "Conflicting migrations")
    diagnosed(broken, "migration-conflict")


def test_template_loads_unknown_library(broken):
    broken.edit("gallery/templates/gallery/cached_page.html", "{% block content %}",
                "{% load no_such_lib %}\n{% block content %}")
    a_request_fails(broken, "/cached-page/", "no_such_lib")
    diagnosed(broken, "template-unknown-load")


def test_template_missing(broken):
    broken.edit("gallery/views.py", '"gallery/cached_page.html"', '"gallery/no_such_template.html"')
    a_request_fails(broken, "/cached-page/", "TemplateDoesNotExist")
    diagnosed(broken, "template-missing")


def test_view_raises(broken):
    broken.edit("gallery/views.py", '    """Demonstrate the low-level cache API: compute once, then serve from cache."""\n',
                '    """Demonstrate the low-level cache API: compute once, then serve from cache."""\n'
                '    notes_per_photo = Note.objects.count() / Photo.objects.count()  # noqa: F841\n')
    a_request_fails(broken, "/api/cached/", "ZeroDivisionError")
    diagnosed(broken, "view-exception")


def test_view_killed_by_harakiri(broken):
    broken.edit("compose/web/uwsgi.ini", "harakiri = 60", "harakiri = 2")
    broken.edit("gallery/views.py", "def home(request):", "def slow(request):\n    import time\n\n"
                "    time.sleep(5)\n    return JsonResponse({})\n\n\ndef home(request):")
    broken.edit("gallery/urls.py", '    path("", views.home, name="home"),',
                '    path("", views.home, name="home"),\n    path("slow/", views.slow),')
    a_request_fails(broken, "/slow/", "HARAKIRI", status=502)  # nginx's answer: uWSGI killed the worker
    diagnosed(broken, "harakiri")


def test_worker_killed(broken):
    # A worker is a child of the uWSGI master, which is PID 1 in the container.
    kill = ("import os, signal\n"
            "for pid in sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and p != '1'):\n"
            "    stat = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()\n"
            "    if stat[1] == '1' and b'uwsgi' in open(f'/proc/{pid}/cmdline', 'rb').read():\n"
            "        os.kill(pid, signal.SIGKILL)\n"
            "        break\n")
    broken.compose("exec", "-T", "web", "python", "-c", kill)
    wait_for_log(broken, "web", "killed by signal 9")
    diagnosed(broken, "worker-killed")


def test_static_file_never_collected(broken):
    broken.edit("gallery/templates/gallery/base.html", "<link rel=\"icon\"",
                "<link rel=\"stylesheet\" href=\"{% static 'gallery/missing.css' %}\">\n  <link rel=\"icon\"")
    broken.rebuild_web()
    assert_ready(broken.stack)
    assert "/static/gallery/missing.css" in broken.stack.get("/cached-page/").text
    assert broken.stack.get("/static/gallery/missing.css").status_code == 404  # what the browser asks next
    diagnosed(broken, "static-file-missing")


def a_request_fails(scene: Scene, path: str, logged: str, status: int = 500) -> None:
    """web rebuilt from the edited code; `path` requested through nginx answers `status`, and web's
    log shows `logged`."""
    scene.rebuild_web()
    assert_ready(scene.stack)
    assert scene.stack.get(path).status_code == status
    wait_for_log(scene, "web", logged)


# --- the stack's own files ---------------------------------------------------------------------------

def test_env_file_missing(broken):
    (broken.root / ".env").rename(broken.root.parent / "env-away")  # the fixture puts .env back
    diagnosed(broken, "env-file-missing")


# --- no fault to diagnose ------------------------------------------------------------------------------

def test_engine_unreachable(stack):
    proc = subprocess.run([*DJSTACK, "doctor", str(stack.root)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert proc.returncode == 1
    assert "Docker engine is not running or not reachable" in proc.stdout
    code, findings = doctor(stack, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert [f["id"] for f in findings] == ["engine-unreachable"]
    assert "nonexistent.sock" in findings[0]["evidence"][0]
    assert "systemctl start docker" in findings[0]["fix"]


def test_stack_not_running(stack_factory):
    idle = stack_factory(up=False)
    proc = idle.djstack("doctor", str(idle.root), check=False)
    assert proc.returncode == 1
    assert "The stack is not running" in proc.stdout
    code, findings = doctor(idle)
    assert [f["id"] for f in findings] == ["stack-not-running"]
    assert findings[0]["fix"].startswith("djstack up ")
