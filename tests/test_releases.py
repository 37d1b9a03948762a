"""Release tags, which old releases are pruned, and the one `.env` line deploy changes."""

from __future__ import annotations

import os
import stat
import subprocess
from datetime import datetime, timezone

import pytest

from djstack import releases
from djstack.envfile import read_env, set_value
from djstack.errors import DjstackError
from djstack.releases import Release


def r(tag: str, image: str, created: str, live: bool = False) -> Release:
    return Release(tag, image, created, live)


def test_tag_is_the_commit_of_a_clean_checkout_else_the_time(tmp_path):
    now = datetime(2026, 12, 1, 16, 2, 45, tzinfo=timezone.utc)
    assert releases.new_tag(tmp_path, now) == "20261201-160245"  # not a git checkout
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "manage.py").write_text("print()\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert releases.new_tag(tmp_path, now) == head
    (tmp_path / "manage.py").write_text("print('changed')\n")  # uncommitted: the commit is not this code
    assert releases.new_tag(tmp_path, now) == "20261201-160245"


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a b", "x" * 129, "a/b", "ü"])
def test_invalid_tags_are_refused(tag):
    with pytest.raises(DjstackError, match="not a valid image tag"):
        releases.validate_tag(tag)


def test_valid_tags_pass():
    for tag in ("two", "v1.2.3", "20261201-160245", "a_b", "x" * 128):
        assert releases.validate_tag(tag) == tag


def test_prune_keeps_the_live_release_and_the_newest_old_ones():
    known = [r("six", "i6", "6"), r("five", "i5", "5", live=True), r("four", "i4", "4"),
             r("three", "i3", "3"), r("two", "i2", "2"), r("one", "i1", "1")]
    # After a rollback the newest ("six") is an old release like the others: kept while it is among the 2.
    assert [x.tag for x in releases.to_prune(known, keep=2, live_tag="five")] == ["three", "two", "one"]
    assert [x.tag for x in releases.to_prune(known, keep=0, live_tag="five")] == ["six", "four", "three", "two", "one"]
    assert releases.to_prune(known, keep=10, live_tag="five") == []


def test_prune_never_takes_an_image_a_running_container_uses_or_one_tag_of_a_kept_image():
    known = [r("b", "i2", "3"), r("latest", "i2", "3"), r("a", "i1", "2", live=True), r("old", "i0", "1")]
    # "a" is live (running) although .env names "b": both are kept, and i2's other tag with it.
    assert [x.tag for x in releases.to_prune(known, keep=0, live_tag="b")] == ["old"]


def test_set_value_changes_one_line_and_keeps_the_mode(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# comment\nA=1\nWEB_RELEASE=latest\nB=2\n")
    os.chmod(env, 0o600)
    set_value(env, "WEB_RELEASE", "two")
    assert env.read_text() == "# comment\nA=1\nWEB_RELEASE=two\nB=2\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    set_value(env, "NEW", "x")
    assert read_env(env) == {"A": "1", "WEB_RELEASE": "two", "B": "2", "NEW": "x"}
