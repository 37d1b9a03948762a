"""The faults of the corpus (tests/fault_corpus.py) that tests/e2e/test_doctor.py does not inject
live, each on a stack made for it: recorded by hand, as root, from the repository root:

    DJSTACK_RECORD_FAULTS=1 CI=true PYTHONPATH=$PWD/src .venv/bin/pytest -q -m e2e tests/e2e/record_faults.py

Without DJSTACK_RECORD_FAULTS the same run asserts the table's expectations on the live stacks. A
plain `pytest` run does not collect this file (its name is not test_*.py): each fault costs a stack.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fault_corpus import assert_diagnosed, recording, save_evidence, secrets_of
from helpers import DJSTACK, free_port
from test_doctor import ROOT_SQL, Scene, assert_ready, diagnosed, wait_for_log
from djstack.model import Volumes

pytestmark = pytest.mark.e2e


def scene_of(stack) -> Scene:
    """`stack` for a fault, its files copied as they are now to the pristine copy a recording is
    replayed on (diagnosed() replays there: the fault may take the stack's own files away)."""
    scene = Scene(stack)
    shutil.copytree(stack.root, scene.pristine, symlinks=True)
    return scene


def test_db_disk_full(stack_factory):
    stack = stack_factory(up=False)
    # db's volume made beforehand, as Compose would but on a small tmpfs: Compose takes it as its own.
    subprocess.run(["docker", "volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                    "--opt", "o=size=300m", "--label", f"com.docker.compose.project={stack.name}",
                    "--label", f"com.docker.compose.volume={Volumes().db}", f"{stack.name}_{Volumes().db}"],
                   check=True, capture_output=True)
    stack.djstack("up", str(stack.root))
    scene = scene_of(stack)
    # MariaDB crashes when the disk fills; restarted, it would find a new, empty tmpfs and start
    # afresh, which a real disk does not do: it stays down, as it went down.
    subprocess.run(["docker", "update", "--restart", "no", scene.container("db")], check=True, capture_output=True)
    table = f"{scene.env('MYSQL_DATABASE')}.filler"
    scene.root_sql(f"CREATE TABLE {table} (b LONGBLOB)")
    for _ in range(100):  # 4 MB a row (under max_allowed_packet) until the disk is full
        if scene.compose(*ROOT_SQL, f"INSERT INTO {table} VALUES (REPEAT('x', 4000000))", check=False).returncode:
            break
    else:
        pytest.fail("300 MB of rows fitted on a 300 MB disk")
    wait_for_log(scene, "db", "error 28")
    diagnosed(scene, "db-disk-full")


#: A view that keeps its exports in the project's folder, as one written for `runserver` does: in the
#: image that folder is on web's read-only root filesystem.
EXPORT_VIEW = """def export_notes(request):
    folder = settings.BASE_DIR / "exports"
    folder.mkdir(exist_ok=True)
    (folder / "notes.txt").write_text("\\n".join(n.text for n in Note.objects.all()))
    return JsonResponse({"exported": str(folder)})


def home(request):"""


def test_write_on_the_read_only_root(stack_factory):
    stack = stack_factory()
    scene = scene_of(stack)
    scene.add_view("from django.conf import settings", EXPORT_VIEW, "export/", "export_notes")
    scene.rebuild_web()
    assert_ready(stack)
    assert stack.get("/export/").status_code == 500
    wait_for_log(scene, "web", "Read-only file system")
    diagnosed(scene, "read-only-root-write")


#: A report whose GROUP BY over long text needs an on-disk temporary table (MariaDB's Aria) of some
#: 300 MB, in db's tmpdir: a tmpfs of 256m.
REPORT_VIEW = """def report(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT b, COUNT(*) FROM (SELECT CONCAT(REPEAT('x', 60000), seq) AS b "
                       "FROM seq_1_to_5000) t GROUP BY b ORDER BY b LIMIT 1")
        return JsonResponse({"first": cursor.fetchone()[1]})


def home(request):"""


def test_db_tmpfs_full(stack_factory):
    stack = stack_factory()
    scene = scene_of(stack)
    scene.add_view("from django.db import connection", REPORT_VIEW, "report/", "report")
    scene.rebuild_web()
    assert_ready(stack)
    assert stack.get("/report/").status_code == 500
    wait_for_log(scene, "db", "Disk got full")
    diagnosed(scene, "db-tmpfs-full")


#: Concurrent uploads nginx holds in its /tmp tmpfs (it takes a whole body before passing it on):
#: enough of them, slow enough, to overlap and need more than the tmpfs's size.
UPLOADS, UPLOAD_MB, UPLOAD_RATE = 24, 9, "1M"


def test_nginx_tmpfs_full(stack_factory, tmp_path):
    stack = stack_factory()
    scene = scene_of(stack)
    body = tmp_path / "upload.bin"
    body.write_bytes(b"x" * UPLOAD_MB * 2**20)
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "120", "--limit-rate", UPLOAD_RATE,
            "-H", "Content-Type: application/octet-stream", "--data-binary", f"@{body}", stack.url + "/api/notes/"]
    uploads = [subprocess.Popen(curl, stdout=subprocess.PIPE, text=True) for _ in range(UPLOADS)]
    statuses = [upload.communicate()[0] for upload in uploads]
    assert "500" in statuses, statuses  # nginx's answer to a body it could not store
    wait_for_log(scene, "nginx", "No space left on device")
    diagnosed(scene, "nginx-tmpfs-full")


@pytest.mark.parametrize("service,fault", [("db", "db-paused"), ("web", "web-paused")])
def test_service_paused(stack_factory, service, fault):
    """Paused, a container answers nothing and its log says nothing: doctor's probes wait out their
    timeouts (minutes), too slow for the live module."""
    stack = stack_factory()
    scene = scene_of(stack)
    scene.compose("pause", service)
    try:
        # A page through nginx, which waits on the frozen service, as a user's browser would.
        subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "70", stack.url + "/"], check=False)
        diagnosed(scene, fault)
    finally:
        scene.compose("unpause", service)


def test_tls_key_mismatch(stack_factory, tmp_path):
    domain = "corpus.example"
    stack = stack_factory("--domain", domain, "--tls", "provided", "--https-port", str(free_port()), up=False)
    ssl_dir = stack.root / "compose/nginx/ssl"
    self_signed(ssl_dir, domain)
    stack.djstack("up", str(stack.root))
    # A renewed certificate's key copied in by hand, beside the old certificate.
    self_signed(tmp_path, domain)
    shutil.copy(tmp_path / "privkey.pem", ssl_dir / "privkey.pem")
    scene = scene_of(stack)
    scene.compose("restart", "nginx")
    wait_for_log(scene, "nginx", "[emerg]")
    diagnosed(scene, "tls-key-mismatch")


def self_signed(folder: Path, domain: str) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-keyout", folder / "privkey.pem", "-out", folder / "fullchain.pem",
                    "-subj", f"/CN={domain}", "-addext", f"subjectAltName=DNS:{domain}"],
                   check=True, capture_output=True)


#: The project reads its secret through a helper of its own that takes a default: djstack check once
#: read it as required (the helper can raise), though the default means it never does.
HELPER = '''import os


def envsecret(name, default=None):
    """A secret from the environment; without it, the default (local development), if one is given."""
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"{name} is not set")
    return value


SECRET_KEY = envsecret("APP_SECRET_KEY", "---")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
'''


def test_secret_key_helper_default_beside_a_real_fault(stack_factory):
    stack = stack_factory()
    scene = scene_of(stack)
    settings = stack.root / "mysite/settings.py"
    settings.write_text(re.sub(r'SECRET_KEY = ".*"\n', lambda _: HELPER, settings.read_text(encoding="utf-8")),
                        encoding="utf-8")
    scene.set_env("MYSQL_PASSWORD", "not-the-password-the-volume-has-0123456789")
    scene.rebuild_web()
    wait_for_log(scene, "web", "Access denied for user")
    diagnosed(scene, "secret-key-helper-default")


#: django-compressor with offline compression on, and an image build that never runs `compress`.
COMPRESSOR = """
INSTALLED_APPS += ["compressor"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "compressor.finders.CompressorFinder",
]
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = True
"""


def test_compress_offline_never_run(stack_factory):
    """The issue's case: a page fails with OfflineGenerationError in a project whose settings also
    read their secret through their own helper."""
    stack = stack_factory()
    scene = scene_of(stack)
    settings = stack.root / "mysite/settings.py"
    text = re.sub(r'SECRET_KEY = ".*"\n', lambda _: HELPER, settings.read_text(encoding="utf-8"))
    settings.write_text(text + COMPRESSOR, encoding="utf-8")
    with (stack.root / "requirements.txt").open("a", encoding="utf-8") as requirements:
        requirements.write("django-compressor>=4.4\n")
    scene.edit("gallery/templates/gallery/cached_page.html", "{% block content %}",
               "{% load static compress %}\n{% block content %}\n{% compress css %}"
               "<link rel=\"stylesheet\" href=\"{% static 'gallery/site.css' %}\">{% endcompress %}")
    scene.rebuild_web()
    assert_ready(stack)
    assert stack.get("/cached-page/").status_code == 500
    wait_for_log(scene, "web", "OfflineGenerationError")
    diagnosed(scene, "compress-offline")


def test_env_file_unreadable(stack_factory, tmp_path_factory):
    """doctor as a user who may use Docker but not read .env (mode 000, as a bad copy leaves it)."""
    reader = pwd.getpwnam("nobody")
    docker_group = os.stat("/var/run/docker.sock").st_gid
    stack = stack_factory()
    for folder in (stack.root, *stack.root.parents):  # pytest's temporary folders are private
        if folder == Path("/tmp"):
            break
        folder.chmod(0o755)
    secrets = secrets_of(stack.root / ".env")
    (stack.root / ".env").chmod(0)
    saved = tmp_path_factory.mktemp("unreadable") / "evidence.json"
    saved.parent.chmod(0o777)
    as_reader = ["setpriv", f"--reuid={reader.pw_uid}", f"--regid={reader.pw_gid}", f"--groups={docker_group}"]
    proc = subprocess.run([*as_reader, *DJSTACK, "doctor", str(stack.root), "--json", "--save-evidence", str(saved)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "HOME": "/tmp"})
    (stack.root / ".env").chmod(0o600)
    assert proc.returncode in (0, 1) and (saved.is_file() or not recording()), proc.stdout + proc.stderr
    if recording():
        save_evidence("env-file-unreadable", saved.read_text(encoding="utf-8"), secrets)
    else:
        assert_diagnosed("env-file-unreadable", json.loads(proc.stdout))
