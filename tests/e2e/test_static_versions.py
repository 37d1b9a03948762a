"""Fingerprinted static files across two releases of examples/mysite (issue 12, point 4).

The second release comes from `djstack up` after a CSS change, the same switch `djstack deploy` makes:
the new page links a new hashed name, the old hashed name still answers, the prune script removes it.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from djstack.model import Paths

pytestmark = pytest.mark.e2e

YEAR = "public, max-age=31536000, immutable"
MINUTE = "public, max-age=60, must-revalidate"
HASHED_CSS = re.compile(r'href="(/static/gallery/site\.[0-9a-f]{12}\.css)"')
ADMIN_CSS = re.compile(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"')
PRUNE = f"{Paths().app}/compose/web/prune_static.py"


def hashed_css(stack) -> str:
    page = stack.get("/")
    assert page.status_code == 200
    found = HASHED_CSS.findall(page.text)
    assert found, f"no hashed stylesheet in the page:\n{page.text[:2000]}"
    return found[0]


def assert_file_headers(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def in_volume(stack, path: str) -> bool:
    proc = stack.compose("exec", "-T", "web", "test", "-f", f"{Paths().static}/{path}", check=False)
    return proc.returncode == 0


def test_hashed_names_across_two_releases(stack_factory):
    stack = stack_factory()

    # Release one: the page links a hashed name, served for a year, with the files' security headers.
    old = hashed_css(stack)
    first = stack.get(old)
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/css")
    assert first.headers["Cache-Control"] == YEAR
    assert_file_headers(first)
    old_css = first.text

    # The plain name is still there (links written by hand), kept a minute and revalidated by ETag.
    plain = stack.get("/static/gallery/site.css")
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == MINUTE
    assert_file_headers(plain)
    etag = plain.headers["ETag"]
    again = stack.get("/static/gallery/site.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["Cache-Control"] == MINUTE

    # A hashed file over 1 KB still has its gzipped copy from the build (gzip_static sends it).
    admin = stack.get("/admin/login/")
    admin_css = ADMIN_CSS.findall(admin.text)
    assert admin_css, admin.text[:2000]
    zipped = stack.get(admin_css[0], headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers.get("Content-Encoding") == "gzip"
    assert zipped.headers["Cache-Control"] == YEAR

    # Release two: the CSS changes, and a template names a file that does not exist (still renders).
    css = stack.root / "gallery" / "static" / "gallery" / "site.css"
    css.write_text(css.read_text() + "\n/* release two */\nbody { outline: 1px solid #c0ffee; }\n")
    base = stack.root / "gallery" / "templates" / "gallery" / "base.html"
    base.write_text(base.read_text().replace(
        "</head>", '  <link rel="stylesheet" href="{% static \'gallery/not-there.css\' %}">\n</head>'))
    stack.djstack("up", str(stack.root))

    new = hashed_css(stack)
    assert new != old
    assert "/static/gallery/not-there.css" in stack.get("/").text
    second = stack.get(new)
    assert second.status_code == 200 and second.headers["Cache-Control"] == YEAR
    assert "release two" in second.text
    # A page release one rendered (in a browser, in a cache) still finds its stylesheet.
    still = stack.get(old)
    assert still.status_code == 200 and still.text == old_css and still.headers["Cache-Control"] == YEAR
    assert "release two" in stack.get("/static/gallery/site.css").text

    # Pruning with only the running release kept: release one's hashed copy goes, nothing else.
    old_file, new_file = old.removeprefix("/static/"), new.removeprefix("/static/")

    def prune(*args: str) -> dict:
        proc = subprocess.run(["docker", "compose", "exec", "-T", "web", "python", PRUNE, *args],
                              cwd=stack.root, input="[]", capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    dry = prune("--dry-run")
    assert old_file in dry["deleted"] and new_file not in dry["deleted"]
    assert not any(not re.search(r"\.[0-9a-f]{12}(\.[^./]*)?(\.gz|\.br)?$", p) for p in dry["deleted"])
    assert in_volume(stack, old_file)
    done = prune()
    assert done["deleted"] == dry["deleted"]
    assert not in_volume(stack, old_file) and not in_volume(stack, old_file + ".gz")
    assert in_volume(stack, new_file) and in_volume(stack, "gallery/site.css") and in_volume(stack, "staticfiles.json")
    assert stack.get(new).status_code == 200
