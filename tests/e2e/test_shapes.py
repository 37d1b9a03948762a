"""Every project shape of the corpus (tests/fixtures/shapes) comes up with `djstack init` + `djstack up`
alone, and serves its page and its stylesheet through nginx on 127.0.0.1.

Where a shape's settings read a variable djstack cannot know, `up` must first refuse, naming exactly
those variables; the test then fills in exactly those and runs `up` again. Shapes share the base images
(each Python's is built once, by the first shape that needs it); each has its own web image, removed
with its stack.
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from pathlib import Path

import pytest
import requests

from helpers import REPO, copy_project, free_port, unique_name
from stacks import LiveStack, remove, require_base_images, require_engine

pytestmark = pytest.mark.e2e

SHAPES = REPO / "tests" / "fixtures" / "shapes"


#: The distributions installed in web's venv, by canonical name.
INSTALLED = ("import importlib.metadata as m, re; "
             "print(' '.join(sorted(re.sub(r'[-_.]+', '-', d.metadata['Name']).lower() for d in m.distributions())))")


def shape_names() -> list[str]:
    return sorted(p.parent.name for p in SHAPES.glob("*/expect.toml"))


def fill_env(path: Path, values: dict[str, str]) -> None:
    text = path.read_text()
    for key, value in values.items():
        text, count = re.subn(rf"^{key}=.*$", f"{key}={value}", text, flags=re.MULTILINE)
        assert count == 1, f"{key} is not in {path}"
    path.write_text(text)


@pytest.mark.parametrize("shape", shape_names())
def test_shape_comes_up(tmp_path, shape):
    require_engine()
    expect = tomllib.loads((SHAPES / shape / "expect.toml").read_text())
    repo = tmp_path / shape
    copy_project(SHAPES / shape, repo, leave_out=("db.sqlite3",))
    (repo / "expect.toml").unlink()
    project = repo / expect.get("project_dir", ".")
    stack = LiveStack(root=repo, name=unique_name(f"djstack-shape-{shape}"), port=free_port())
    images = os.environ.get("DJSTACK_TEST_IMAGES", "auto")
    init = stack.djstack("init", str(repo), "--images", images, "--bind", "127.0.0.1", "--port", str(stack.port),
                         "--name", stack.name)
    stack_dir = project / expect.get("stack_dir", ".")
    compose_root = LiveStack(root=stack_dir, name=stack.name, port=stack.port)
    try:
        require_base_images(repo)
        if expect.get("fill_env"):
            refused = stack.djstack("up", str(repo), check=False)
            assert refused.returncode != 0, refused.stdout
            said = refused.stdout + refused.stderr
            for name in expect["fill_env"]:
                assert name in said, said
            fill_env(stack_dir / ".env", expect["fill_env"])
        started = time.monotonic()
        up = stack.djstack("up", str(repo))
        print(f"shape {shape}: cold `djstack up` {time.monotonic() - started:.0f} s")
        assert stack.url in up.stdout or "is up" in up.stdout, up.stdout
        page = requests.get(stack.url + "/", headers={"Host": "localhost"}, timeout=30)
        assert page.status_code == 200, page.text[-2000:]
        assert expect["marker"] in page.text, page.text[-2000:]
        css = re.findall(r'href="([^"]+\.css)"', page.text)
        assert css, f"no stylesheet linked from / of {shape}"
        for href in css:
            asset = requests.get(stack.url + href, headers={"Host": "localhost"}, timeout=30)
            assert asset.status_code == 200, href
        for src in re.findall(r'src="(/[^"]+\.js)"', page.text):
            assert requests.get(stack.url + src, headers={"Host": "localhost"}, timeout=30).status_code == 200, src
        # Development-only packages (dev groups, local requirements) never reach the image, nor does
        # a JavaScript build's node_modules.
        listed = compose_root.compose("exec", "-T", "web", "python", "-c", INSTALLED).stdout.split()
        for name in expect.get("not_installed", []):
            assert name not in listed, f"{name} is installed in {shape}'s image"
        assert "django" in listed
        found = compose_root.compose("exec", "-T", "web", "find", "/app", "-name", "node_modules").stdout
        assert not found.strip(), found
        print(init.stdout)
    finally:
        remove(compose_root)
