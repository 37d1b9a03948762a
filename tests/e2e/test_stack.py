"""The stack of examples/mysite, end to end, through nginx on 127.0.0.1."""

from __future__ import annotations

import hashlib
import re
import struct
import subprocess
import zlib

import pytest

from djstack.model import AppUser, RedisAcl

from helpers import DJSTACK

pytestmark = pytest.mark.e2e

# `check --deploy` warnings that only HTTPS removes (HSTS, SSL redirect, secure cookies); in HTTP
# mode these are expected, and any other warning is a defect of the generated settings.
HTTPS_ONLY_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG image, made without Pillow."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_all_services_healthy(live_stack):
    services = live_stack.wait_docker_healthy()
    assert set(services) == live_stack.model_services() == {"web", "nginx", "db", "redis", "broker", "worker", "beat"}
    for name, row in services.items():
        assert row["State"] == "running", name
        assert row["Health"] == "healthy", name


def test_dynamic_page(live_stack):
    response = live_stack.get("/")
    assert response.status_code == 200
    assert re.search(r"/static/gallery/site\.[0-9a-f]{12}\.css", response.text)  # its hashed name
    assert response.headers.get("Server") == "nginx"  # server_tokens off: no version


def test_static_files_with_cache_headers(live_stack):
    for path, kind in [("/static/gallery/site.css", "text/css"), ("/static/admin/css/base.css", "text/css")]:
        response = live_stack.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith(kind)
        assert "max-age=" in response.headers["Cache-Control"]
    assert live_stack.get("/static/gallery/missing.css").status_code == 404


def test_image_upload_is_served_from_media(live_stack):
    image = png()
    response = live_stack.post("/api/photos/", files={"image": ("red.png", image, "image/png")})
    assert response.status_code == 201, response.text
    url = response.json()["url"]
    assert url.startswith("/media/photos/")
    served = live_stack.get(url)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert hashlib.sha256(served.content).digest() == hashlib.sha256(image).digest()
    assert f'src="{url}"' in live_stack.get("/").text


def test_upload_that_is_not_an_image_is_refused(live_stack):
    response = live_stack.post("/api/photos/", files={"image": ("x.png", b"not an image", "image/png")})
    assert response.status_code == 400


def test_value_cached_in_redis(live_stack):
    first = live_stack.get("/api/cached/").json()
    second = live_stack.get("/api/cached/").json()
    assert second["hit"] is True
    assert second["value"] == (first["value"] if not first["hit"] else second["value"])
    # The key is really in Redis (Django prefixes keys with ":<version>:").
    keys = live_stack.compose("exec", "-T", "redis", "redis-cli", "--user", RedisAcl().user, "--scan").stdout.split()
    assert any(key.endswith("mysite:cached-demo") for key in keys), keys


def test_only_nginx_publishes_ports(live_stack):
    for name, row in live_stack.services().items():
        published = [p for p in row.get("Publishers") or [] if p.get("PublishedPort")]
        if name == "nginx":
            assert [(p["URL"], p["PublishedPort"], p["TargetPort"]) for p in published] == [
                ("127.0.0.1", live_stack.port, 80)
            ]
        else:
            assert published == [], name


def test_web_main_process_is_uwsgi_and_not_root(live_stack):
    status = live_stack.compose("exec", "-T", "web", "cat", "/proc/1/status").stdout
    uid = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE).group(1)
    assert int(uid) == AppUser().uid
    cmdline = live_stack.compose("exec", "-T", "web", "cat", "/proc/1/cmdline").stdout
    assert "uwsgi" in cmdline


def test_check_deploy_lists_only_https_warnings(live_stack):
    proc = live_stack.djstack("manage", "--dir", str(live_stack.root), "check", "--deploy", check=False)
    output = proc.stdout + proc.stderr
    warnings = set(re.findall(r"\((security\.[WE]\d+)\)", output))
    assert warnings == HTTPS_ONLY_WARNINGS, output
    assert "ERRORS" not in output


def test_data_survives_down_and_up(live_stack):
    note = live_stack.post("/api/notes/", data={"text": "still here after a restart ✓"})
    assert note.status_code == 201
    photo = live_stack.post("/api/photos/", files={"image": ("keep.png", png(5, 5), "image/png")}).json()

    live_stack.djstack("down", str(live_stack.root))
    assert live_stack.services() == {}
    live_stack.djstack("up", str(live_stack.root))

    texts = [n["text"] for n in live_stack.get("/api/notes/").json()["notes"]]
    assert "still here after a restart ✓" in texts
    assert live_stack.get(photo["url"]).content == png(5, 5)


def test_ps_logs_and_dbshell(live_stack):
    live_stack.wait_docker_healthy()
    ps = live_stack.djstack("ps", str(live_stack.root)).stdout
    services = live_stack.model_services()
    for service in services:
        assert service in ps
    assert ps.count("healthy") == len(services)

    logs = live_stack.djstack("logs", "web", "--dir", str(live_stack.root), "--tail", "all").stdout
    assert "Applying" in logs or "No migrations to apply" in logs  # the entrypoint ran migrate

    marker = "dbshell sees this row"
    assert live_stack.post("/api/notes/", data={"text": marker}).status_code == 201
    proc = subprocess.run(
        [*DJSTACK, "dbshell", str(live_stack.root)],
        input="SELECT text FROM gallery_note ORDER BY id DESC LIMIT 1;\n",
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout


def test_up_reports_a_web_that_dies_while_starting(stack_factory):
    """`djstack up` runs the healthchecks itself: a web that exits while starting must fail it, named,
    with the reason from its log, not time out or pass."""
    stack = stack_factory(up=False)
    ini = stack.root / "compose" / "web" / "uwsgi.ini"
    ini.write_text(ini.read_text().replace("module = mysite.wsgi:application", "module = mysite.nosuchmodule:application"))
    proc = stack.djstack("up", str(stack.root), check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Starting the stack failed: web stopped while starting." in output
    assert "nosuchmodule" in output  # uWSGI's import error, from web's log
