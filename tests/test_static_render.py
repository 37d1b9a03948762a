"""Fingerprinted static files as rendered: the overlay's storage and nginx's cache policy."""

from __future__ import annotations

import ast
import re

import pytest

from djstack import render
from test_render import golden_stack

YEAR = "public, max-age=31536000, immutable"
MINUTE = "public, max-age=60, must-revalidate"


def outputs(stack) -> dict[str, str]:
    return {o.path: o.content for o in render.render(stack)}


def storages_in(overlay: str):
    """The STORAGES assignment of the rendered overlay, as source, or None."""
    for node in ast.parse(overlay).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "STORAGES":
            return ast.unparse(node.value)
    return None


def test_overlay_names_the_release_manifest_storage_it_ships(example_copy):
    files = outputs(golden_stack(example_copy, "official"))
    storages = storages_in(files["mysite/settings_docker.py"])
    # The project's own STORAGES entries (uploads) are kept; only staticfiles is replaced, last.
    assert storages.index("'default'") < storages.index("**globals().get('STORAGES', {})") < storages.index("'staticfiles'")
    backend = re.search(r"'staticfiles': \{'BACKEND': '([\w.]+)'\}", storages)[1]
    module, _, cls = backend.rpartition(".")
    source = files[module.replace(".", "/") + ".py"]  # shipped beside the overlay
    tree = ast.parse(source)
    assert cls in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert "manifest_strict = False" in source and 'RELEASE_FILES = "/opt/static"' in source


def test_projects_own_storage_is_left_alone(example_copy):
    stack = golden_stack(example_copy, "official")
    # Until DjangoProject carries the field (detect/storage.own_static_storage), set it on the instance.
    object.__setattr__(stack.project, "own_static_storage", True)
    files = outputs(stack)
    assert storages_in(files["mysite/settings_docker.py"]) is None
    assert "mysite/staticfiles_docker.py" not in files


def static_policy(conf: str) -> tuple[re.Pattern, str, str]:
    block = re.search(r"map \$uri \$djstack_static_cache \{\n(.*?)\n\s*\}", conf, re.S)[1]
    first, second = block.splitlines()
    pattern, hashed = re.fullmatch(r'\s*"~([^"]+)" "([^"]+)";', first).groups()
    other = re.fullmatch(r'\s*default "([^"]+)";', second)[1]
    return re.compile(pattern), hashed, other


@pytest.mark.parametrize("uri, policy", [
    ("/static/gallery/site.3f2a1b4c5d6e.css", YEAR),
    ("/static/admin/js/vendor/jquery/jquery.min.8a2b1c3d4e5f.js", YEAR),
    ("/static/LICENSE.0123456789ab", YEAR),
    ("/static/gallery/site.css", MINUTE),
    ("/static/staticfiles.json", MINUTE),
    ("/static/gallery/site.3F2A1B4C5D6E.css", MINUTE),  # Django's hashes are lower case
    ("/static/gallery/site.3f2a1b4c5d6.css", MINUTE),  # 11 digits
    ("/static/0123456789ab.d/site.css", MINUTE),  # a folder, not the file's name
])
def test_nginx_cache_policy_by_name(example_copy, uri, policy):
    conf = outputs(golden_stack(example_copy, "official"))["compose/nginx/nginx.conf"]
    pattern, hashed, other = static_policy(conf)
    assert (hashed, other) == (YEAR, MINUTE)
    assert (YEAR if pattern.search(uri) else MINUTE) == policy


def test_static_location_sends_the_policy_and_keeps_its_headers(example_copy):
    conf = outputs(golden_stack(example_copy, "official", domains=("example.com",), tls="provided"))[
        "compose/nginx/nginx.conf"]
    location = re.search(r"location /static/ \{\n(.*?)\n        \}", conf, re.S)[1]
    headers = re.findall(r"add_header (\S+)", location)
    assert headers == ["Cache-Control", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                       "Permissions-Policy", "Content-Security-Policy", "Strict-Transport-Security"]
    assert "add_header Cache-Control $djstack_static_cache;" in location
    assert "open_file_cache max=" in location and "gzip_static on;" in location
    assert not re.search(r"^\s*location ", location, re.M)  # no nested location: the dotfile regex still comes first
