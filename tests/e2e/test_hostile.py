"""Hostile requests against a real stack, through nginx on 127.0.0.1.

Each must get a clean 4xx (never a 5xx), write nothing (no rows, no files), and leave the site
healthy. Requests go over raw sockets so that no client library normalises the path or the headers.
The shared `live_stack` is used: every test leaves it as it found it.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid

import pytest

from test_stack import png

pytestmark = pytest.mark.e2e

COUNTS = ("from gallery.models import Note, Photo; "
          "print(Note.objects.count(), Photo.objects.count())")


def raw(stack, request: bytes, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; return (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=timeout) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        # A repeated header is kept as both values, joined by ", " (as HTTP reads it).
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    return int(lines[0].split()[1]), headers, body


def get(stack, path: str, host: str = "127.0.0.1", extra: str = "") -> tuple[int, dict[str, str], bytes]:
    return raw(stack, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode("latin-1"))


def state(stack) -> tuple[str, tuple[str, ...]]:
    """What a hostile request must not change: row counts and the files in the media volume."""
    counts = stack.compose("exec", "-T", "web", "python", "manage.py", "shell", "-c", COUNTS).stdout.strip()
    files = stack.compose("exec", "-T", "web", "find", "/srv/media", "-type", "f").stdout.split()
    return counts, tuple(sorted(f for f in files if f not in PLANTED and f != PLANTED_PNG))


@pytest.fixture(scope="module")
def before(live_stack):
    return state(live_stack)


@pytest.fixture
def stack(live_stack, before):
    """The shared stack; after each test, the site still answers."""
    yield live_stack
    assert live_stack.get("/").status_code == 200


def test_upload_over_the_size_limit_is_413(stack):
    size = 11 * 1024 * 1024  # the limit is 10 MB (client_max_body_size, DATA_UPLOAD_MAX_MEMORY_SIZE)
    head = (f"POST /api/photos/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode()
    status, _, _ = raw(stack, head + b"x" * 4096)
    assert status == 413


def test_unknown_host_is_400_from_nginx(stack):
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost:80@evil.example"):
        status, headers, body = get(stack, "/", host=host)
        assert status == 400, host
        assert b"<center>nginx</center>" in body, host  # nginx's own page: Django never saw it
    # No Host header at all (HTTP/1.0) lands on the same default server.
    status, _, _ = raw(stack, b"GET / HTTP/1.0\r\n\r\n")
    assert status == 400


TRAVERSALS = [
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc/passwd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static/..%252f..%252f..%252fetc/passwd",
    "/static/....//....//etc/passwd",
    "/static../etc/passwd",
    "/media/../../../../etc/passwd",
    "/media/%2e%2e/%2e%2e/%2e%2e/app/manage.py",
    "/media/..%2f..%2f..%2fproc/self/environ",
    "/media/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/media/..\\..\\..\\etc\\passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_is_refused(stack, path):
    status, _, body = get(stack, path)
    assert 400 <= status < 500, (path, status)
    assert b"root:" not in body and b"DJANGO_SECRET_KEY" not in body and b"execute_from_command_line" not in body


MARK = f"hostile-{uuid.uuid4().hex[:8]}"
#: Files planted in the static and media volumes: none may be served, except the control file and
#: the image (and those never inline as a page).
PLANTED = {
    "/srv/media/.htaccess": "Options +ExecCGI",
    "/srv/media/.env": "SECRET=planted",
    f"/srv/media/{MARK}.bak": "planted backup",
    f"/srv/media/{MARK}.jpg~": "planted editor copy",
    "/srv/media/.git/config": "[core] planted",
    f"/srv/static/{MARK}.bak": "planted backup",
    "/srv/static/.env": "SECRET=planted",
    f"/srv/media/{MARK}.html": "<script>alert(1)</script>",
    f"/srv/media/{MARK}.svg": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    f"/srv/media/{MARK}.txt": "control",
}
PLANTED_PNG = f"/srv/media/{MARK}.png"


@pytest.fixture(scope="module")
def planted(live_stack):
    script = "; ".join(f"mkdir -p $(dirname '{p}') && printf %s '{c}' > '{p}'" for p, c in PLANTED.items())
    live_stack.compose("exec", "-T", "web", "sh", "-c", script)
    subprocess.run(["docker", "compose", "exec", "-T", "web", "sh", "-c", f"cat > {PLANTED_PNG}"],
                   cwd=live_stack.root, input=png(), check=True, timeout=60)
    yield MARK
    live_stack.compose("exec", "-T", "web", "rm", "-rf", *PLANTED, PLANTED_PNG, "/srv/media/.git")


@pytest.mark.parametrize("path", ["/.env", "/.git/config", "/media/.htaccess", "/media/.env", "/media/.git/config",
                                  "/media/{name}.bak", "/media/{name}.jpg~", "/static/{name}.bak", "/static/.env",
                                  "/static/x.bak", "/static/gallery/site.css~", "/static/gallery/site.css.orig",
                                  "/media/%2eenv", "/media/.ENV"])
def test_dotfiles_and_backups_are_not_served(stack, planted, path):
    status, _, body = get(stack, path.format(name=planted))
    assert 400 <= status < 500, (path, status)
    assert b"planted" not in body and b"SECRET" not in body and b"ExecCGI" not in body


def test_control_file_is_served(stack, planted):
    """The planted files are reachable in principle: the refusals above are nginx's rules, not absence."""
    status, headers, body = get(stack, f"/media/{planted}.txt")
    assert status == 200 and body == b"control"


@pytest.mark.parametrize("ext", ["html", "svg", "txt"])
def test_uploaded_markup_is_a_download_never_a_page(stack, planted, ext):
    status, headers, _ = get(stack, f"/media/{planted}.{ext}")
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == "attachment"
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"]


def test_uploaded_image_is_shown_inline(stack, planted):
    status, headers, body = get(stack, f"/media/{planted}.png")
    assert status == 200 and body == png()
    assert headers["content-type"] == "image/png" and "content-disposition" not in headers
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", "/static/gallery/site.css", "/no-such-page/", "/cached-page/"])
def test_security_headers(stack, path):
    get(stack, path)  # a page nginx caches is answered from its cache the second time
    _, headers, _ = get(stack, path)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["server"] == "nginx"
    assert "strict-transport-security" not in headers  # plain HTTP: HSTS means nothing


def slow_connections(stack, request: bytes, count: int) -> list[socket.socket]:
    conns = []
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", stack.port), timeout=60)
        conn.sendall(request)
        conns.append(conn)
    return conns


def closed_by_server(conn: socket.socket, limit: float = 90) -> bytes:
    """Wait (at most `limit` seconds) until the server closes; return what it sent before closing."""
    conn.settimeout(limit)
    data = b""
    try:
        while chunk := conn.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


@pytest.mark.parametrize("kind", ["headers", "body"])
def test_slow_client_is_cut_off_and_others_are_served(stack, kind):
    if kind == "headers":  # the request line and one header, then silence
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    else:  # complete headers, then a few bytes of a promised 1000-byte body
        request = (b"POST /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   b"Content-Length: 1000\r\n\r\ntext=slow")
    conns = slow_connections(stack, request, 64)
    try:
        # Meanwhile, ordinary requests are answered: the slow clients hold no worker.
        for _ in range(5):
            assert stack.get("/").status_code == 200
        answers = [closed_by_server(conn) for conn in conns]
    finally:
        for conn in conns:
            conn.close()
    for answer in answers:
        # nginx closes (after its timeout) without an answer, or with 408 for a body that never came.
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]


def test_malformed_multipart_is_400(stack):
    bodies = [
        b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nno closing boundary",
        b"garbage without any boundary",
        b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
    ]
    for body in bodies:
        head = (f"POST /api/photos/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        status, _, _ = raw(stack, head + body)
        assert status == 400, body
    # A multipart type without a boundary at all.
    head = (b"POST /api/photos/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data\r\n"
            b"Content-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert raw(stack, head)[0] == 400


def test_very_long_url_is_414(stack):
    status, _, _ = get(stack, "/" + "a" * 20000)
    assert status == 414


@pytest.mark.parametrize("headers", [
    "X-Big: " + "a" * 20000 + "\r\n",  # one header line over the buffer
    "Cookie: " + "c" * 9000 + "\r\n",
    "".join(f"X-Many-{i}: " + "m" * 4000 + "\r\n" for i in range(12)),  # more than all buffers together
])
def test_huge_headers_are_refused(stack, headers):
    status, _, _ = get(stack, "/", extra=headers)
    assert status in (400, 431, 494)


def test_upload_that_is_not_an_image_is_400(stack):
    response = stack.post("/api/photos/", files={"image": ("evil.png", b"<?php system($_GET['c']); ?>", "image/png")})
    assert response.status_code == 400


def test_admin_login_posts_are_rate_limited(stack):
    statuses = []
    for _ in range(20):
        body = b"username=nobody&password=wrong"
        head = (f"POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        statuses.append(raw(stack, head + body)[0])
    assert all(s < 500 for s in statuses), statuses
    assert 429 in statuses, statuses
    # The login form itself is still shown (GETs are not counted).
    assert stack.get("/admin/login/").status_code == 200


def test_nothing_was_written(live_stack, before):
    """Last in this module: no hostile request above left a row or a file behind."""
    time.sleep(1)
    assert state(live_stack) == before
