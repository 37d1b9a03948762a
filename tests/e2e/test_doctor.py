"""`djstack doctor` on a real stack: a catalogue of faults injected into a running stack, each test
asserting that the root cause doctor names first is the injected one.

One stack serves the module. Each fault test breaks it through the `broken` fixture, which repairs
it afterwards: files restored from a pristine copy, web and nginx (and whatever else the test
touched) recreated, so logs start afresh and no test depends on another's order.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers import DJSTACK
from stacks import LiveStack, new_stack, remove
from djstack.model import Paths, Ports, Volumes

pytestmark = pytest.mark.e2e

NOT_RESTORED = {"log"}  # compose/nginx/log: nginx writes there; doctor dates its lines


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

    @property
    def root(self) -> Path:
        return self.stack.root

    def compose(self, *args: str, check: bool = True):
        return self.stack.compose(*args, check=check)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{relative} has no {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def set_env(self, key: str, value: str) -> None:
        path = self.root / ".env"
        lines = [f"{key}={value}" if line.startswith(f"{key}=") else line
                 for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def sql(self, sql: str) -> None:
        self.compose("exec", "-T", "db", "sh", "-c",
                     f'MYSQL_PWD="$MYSQL_PASSWORD" mysql -u"$MYSQL_USER" "$MYSQL_DATABASE" -e "{sql}"')


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
    rebuild = restore(stack.root, stack.root.parent / "pristine")
    stack.compose("up", "--detach", "--wait", "--force-recreate", *(["--build"] if rebuild else []),
                  *sorted(scene.recreate))


def doctor(stack: LiveStack, *extra: str, env: dict | None = None) -> tuple[int, list[dict]]:
    proc = subprocess.run([*DJSTACK, "doctor", str(stack.root), "--json", *extra], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def first_cause(stack: LiveStack) -> tuple[int, str, list[dict]]:
    code, findings = doctor(stack)
    assert findings, "doctor found nothing"
    return code, findings[0]["id"], findings


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


def test_wrong_db_password(broken):
    broken.set_env("MYSQL_PASSWORD", "not-the-password-the-volume-has-0123456789")
    broken.compose("up", "--detach", "--no-deps", "web")
    wait_for_log(broken, "web", "Access denied for user")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "db-access-denied")
    assert "1045" in findings[0]["evidence"][0]


def test_db_stopped(broken):
    broken.compose("stop", "db")
    broken.recreate.add("db")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "db-not-running")
    # web's view of it is reported too, as a consequence.
    assert "db-unreachable" in [f["id"] for f in findings[1:]]
    human = broken.stack.djstack("doctor", str(broken.root), check=False)
    assert human.returncode == 1
    assert "Most likely cause db-not-running" in human.stdout


def test_redis_stopped(broken):
    broken.compose("stop", "redis")
    broken.recreate.add("redis")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "redis-not-running")
    assert "redis-unreachable" in [f["id"] for f in findings]


def test_redis_password_changed(broken):
    broken.set_env("REDIS_PASSWORD", "a-new-redis-password-web-does-not-have-0123")
    broken.compose("up", "--detach", "--no-deps", "--wait", "redis")
    broken.recreate.add("redis")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "redis-auth")


def test_uwsgi_crashes_at_import(broken):
    broken.edit("mysite/wsgi.py", "application = get_wsgi_application()",
                "import gallery.module_that_does_not_exist  # noqa\napplication = get_wsgi_application()")
    broken.compose("up", "--detach", "--no-deps", "--build", "web")
    wait_for_log(broken, "web", "no app loaded")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "web-app-not-loaded")
    assert any("module_that_does_not_exist" in line for line in findings[0]["evidence"])


def test_nginx_pointed_at_wrong_port(broken):
    port = Ports().uwsgi
    broken.edit("compose/nginx/nginx.conf", f"web:{port};", f"web:{port + 1};")
    broken.compose("up", "--detach", "--no-deps", "--build", "--wait", "nginx")
    code, cause, findings = first_cause(broken.stack)
    # The file's mistake (djstack check, with file:line) is the cause; the refused connections and
    # the 502 are what it does.
    assert (code, cause) == (1, "nginx-upstream-port-mismatch")
    assert "compose/nginx/nginx.conf:" in findings[0]["fix"]
    ids = [f["id"] for f in findings]
    assert "nginx-upstream-refused" in ids and "site-error" in ids


def test_model_change_without_migration(broken):
    broken.edit("gallery/models.py", "    text = models.CharField(max_length=200)\n",
                "    text = models.CharField(max_length=200)\n    stars = models.IntegerField(default=0)\n")
    broken.compose("up", "--detach", "--no-deps", "--build", "--wait", "web")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "migrations-missing")
    assert any("stars" in line for line in findings[0]["evidence"])


def test_table_missing(broken):
    broken.sql("DROP TABLE gallery_note, gallery_photo")
    try:
        code, cause, findings = first_cause(broken.stack)
        assert (code, cause) == (1, "db-table-missing")
    finally:
        broken.compose("exec", "-T", "web", "python", "manage.py", "migrate", "gallery", "zero", "--fake")
        broken.compose("exec", "-T", "web", "python", "manage.py", "migrate", "gallery")


def test_host_not_in_allowed_hosts(broken):
    # nginx turns away hosts it does not serve; one it serves but Django does not allow gets to Django.
    broken.set_env("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    broken.compose("up", "--detach", "--no-deps", "--wait", "web")
    assert broken.stack.get("/", headers={"Host": "localhost"}).status_code == 400
    code, cause, findings = first_cause(broken.stack)
    # The cause is the files disagreeing (djstack check names .env); Django's refusals are its effect.
    assert (code, cause) == (1, "allowed-hosts-missing-server-name")
    refused = next(f for f in findings if f["id"] == "disallowed-host")
    assert "'localhost'" in refused["evidence"][0]


def test_csrf_failure(broken):
    assert broken.stack.post("/admin/login/", data={"username": "x", "password": "y"}).status_code == 403
    code, cause, findings = first_cause(broken.stack)
    assert cause == "csrf-failure"


def test_container_killed_by_oom(broken):
    web = broken.compose("ps", "--quiet", "web").stdout.strip()
    subprocess.run(["docker", "update", "--memory", "64m", "--memory-swap", "64m", web], check=True,
                   capture_output=True)
    allocate = broken.compose("exec", "-T", "web", "python", "-c", "x = bytearray(400 * 2**20)", check=False)
    assert allocate.returncode != 0
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "oom-killed")
    assert "64 MiB" in findings[0]["evidence"][0]


def test_static_files_not_collected(broken):
    broken.compose("exec", "-T", "web", "find", Paths().static, "-mindepth", "1", "-delete")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "static-missing")


def test_media_not_writable(broken):
    # web runs with no-new-privileges (root in it cannot chown): a one-off container as root can.
    media, name = Paths().media, broken.stack.name
    volume = f"{name}_{Volumes().media}"
    subprocess.run(["docker", "run", "--rm", "-u", "root", "-v", f"{volume}:{media}", f"{name}-web",
                    "chown", "root:root", media], check=True, capture_output=True)
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "media-not-writable")
    # The fix doctor gives is a command that repairs it.
    command = re.search(r"`(docker run [^`]+)`", findings[0]["fix"]).group(1)
    subprocess.run(shlex.split(command), check=True, capture_output=True)
    code, findings = doctor(broken.stack)
    assert "media-not-writable" not in [f["id"] for f in findings], (command, findings)


def test_web_exited(broken):
    broken.compose("stop", "web")
    code, cause, findings = first_cause(broken.stack)
    assert (code, cause) == (1, "web-not-running")
    assert "site-error" in [f["id"] for f in findings]


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
