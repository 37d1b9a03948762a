"""`djstack deploy` and `rollback` under a steady load of GETs and POSTs through nginx: no request
fails, every accepted write is kept, and a release that cannot serve never replaces the live one.

The tests share one stack of their own and run in order: deploy release two, roll back to one,
then two releases that must be refused.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import requests

from helpers import DJSTACK
from load import Load  # bench/load.py, the bounded load the benchmark uses too (helpers puts bench/ on the path)
from stacks import stored_notes

pytestmark = pytest.mark.e2e

VIEWS = "gallery/views.py"
#: A view that says which release answers: the page the new code serves.
MARKER_VIEW = '''

def release(request):
    from django.http import HttpResponse
    return HttpResponse("{text}")
'''


def with_release_view(stack, text: str) -> None:
    """The example's code, changed: /release/ answers `text`."""
    views = stack.root / VIEWS
    base = views.read_text().split("\n\ndef release(request):")[0]
    views.write_text(base + MARKER_VIEW.format(text=text))
    urls = stack.root / "gallery/urls.py"
    if "release/" not in urls.read_text():
        urls.write_text(urls.read_text().replace(
            'path("", views.home, name="home"),',
            'path("", views.home, name="home"),\n    path("release/", views.release, name="release"),'))


def answer(stack) -> str:
    return requests.get(stack.url + "/release/", headers={"Host": "localhost"}, timeout=10).text


def djstack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DJSTACK, *args], capture_output=True, text=True, timeout=1800)


def web_containers(stack) -> list[str]:
    return sorted(row["Name"] for row in stack.services_all() if row["Service"] == "web")


@pytest.fixture(scope="module")
def deploy_stack(module_stack):
    with_release_view(module_stack, "release one")
    module_stack.djstack("deploy", str(module_stack.root), "--tag", "one")
    assert answer(module_stack) == "release one"
    return module_stack


def under_load(stack, tag: str, *command: str) -> tuple[subprocess.CompletedProcess, Load]:
    with Load(stack.url, gets=("/", "/release/"), concurrency=4, pause=0.02, max_seconds=900, tag=tag) as load:
        proc = djstack(*command)
    return proc, load


def stylesheet(stack) -> str:
    page = requests.get(stack.url + "/", headers={"Host": "localhost"}, timeout=10).text
    return re.search(r'href="(/static/gallery/site\.[0-9a-f]{12}\.css)"', page).group(1)


def test_deploy_under_load_drops_nothing(deploy_stack):
    stack = deploy_stack
    with_release_view(stack, "release two")
    old_css = stylesheet(stack)
    css = stack.root / "gallery/static/gallery/site.css"
    css.write_text(css.read_text() + "\n/* release two */\n")
    proc, load = under_load(stack, "deploy", "deploy", str(stack.root), "--tag", "two")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print("deploy under load:", load.summary() | {"failures": None}, proc.stdout.splitlines()[-1])
    assert answer(stack) == "release two"  # live once deploy returns
    assert load.total > 50, load.summary()
    assert not load.failures, load.describe_failures()
    assert set(load.accepted_posts) <= stored_notes(stack, "deploy")
    assert "WEB_RELEASE=two" in (stack.root / ".env").read_text().splitlines()
    assert len(web_containers(stack)) == 1
    listed = djstack("releases", str(stack.root)).stdout
    assert "one" in listed and "two" in listed and "live" in listed
    # The new page links the new stylesheet; pages the old release rendered still find theirs.
    new_css = stylesheet(stack)
    assert new_css != old_css
    for href in (old_css, new_css):
        assert requests.get(stack.url + href, headers={"Host": "localhost"}, timeout=10).status_code == 200, href


def test_rollback_under_load_drops_nothing(deploy_stack):
    stack = deploy_stack
    proc, load = under_load(stack, "rollback", "rollback", str(stack.root), "one")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not reversed" in proc.stdout
    print("rollback under load:", load.summary() | {"failures": None}, proc.stdout.splitlines()[-1])
    assert answer(stack) == "release one"
    assert not load.failures, load.describe_failures()
    assert set(load.accepted_posts) <= stored_notes(stack, "rollback")
    assert "WEB_RELEASE=one" in (stack.root / ".env").read_text().splitlines()
    # `djstack up` converges without rebuilding the live release from the (newer) code at hand.
    stack.djstack("up", str(stack.root))
    assert answer(stack) == "release one"


#: Ways a release can be broken, and the file that breaks it: its models (the image build's
#: collectstatic stops), its WSGI module (it builds, but uWSGI cannot load the app), its URLconf
#: (uWSGI runs, but every request fails, so its healthcheck never passes).
BROKEN = {"does-not-build": "gallery/models.py", "app-does-not-load": "mysite/wsgi.py",
          "healthcheck-never-passes": VIEWS}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_release_that_cannot_serve_is_removed_and_the_live_one_serves_on(deploy_stack, broken):
    stack = deploy_stack
    live_before = web_containers(stack)
    module = stack.root / BROKEN[broken]
    good = module.read_text()
    module.write_text(good + f"\nraise RuntimeError('release {broken}')\n")
    try:
        proc, load = under_load(stack, broken, "deploy", str(stack.root), "--tag", broken, "--timeout", "40")
    finally:
        module.write_text(good)
    assert proc.returncode != 0, proc.stdout
    said = proc.stdout + proc.stderr
    assert "live release still serves" in said and f"RuntimeError: release {broken}" in said, said
    assert not load.failures, load.describe_failures()
    assert web_containers(stack) == live_before  # nothing of the failed release is left
    leftovers = subprocess.run(["docker", "ps", "-a", "--filter", f"ancestor={stack.name}-web:{broken}", "-q"],
                               capture_output=True, text=True).stdout.split()
    assert not leftovers
    assert answer(stack) == "release one"


def test_a_breaking_migration_is_refused_before_anything_changes(deploy_stack):
    stack = deploy_stack
    folder = stack.root / "gallery/migrations"
    latest = sorted(p.stem for p in folder.glob("0*.py"))[-1]
    dropping = folder / "0999_drop_note_text.py"
    dropping.write_text(
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [('gallery', '{latest}')]\n"
        "    operations = [migrations.RemoveField(model_name='note', name='text')]\n")
    try:
        proc, load = under_load(stack, "breaking", "deploy", str(stack.root), "--tag", "breaking")
    finally:
        dropping.unlink()
    assert proc.returncode != 0, proc.stdout
    said = proc.stdout + proc.stderr
    assert "RemoveField" in said and "--allow-breaking-migrations" in said, said
    assert not load.failures, load.describe_failures()
    assert set(load.accepted_posts) <= stored_notes(stack, "breaking")  # the column is still there
    assert answer(stack) == "release one"
