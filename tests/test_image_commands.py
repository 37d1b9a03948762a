"""The base images' commands as data: `docker build` of a recipe, debootstrap of a suite, and the
error a missing debootstrap raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from djstack.baseimages import rootfs
from djstack.commands import db, docker as dc, host
from djstack.commands.compose import Project
from djstack.errors import ProgramMissing

MIRROR = "http://m/debian"


def test_build_image_argv():
    command = dc.build_image("djstack.local/redis:7-trixie", "djstack.local/debian:trixie", "trixie",
                             (("REDIS_VERSION", "7"), ("EXTRA", "a b")), MIRROR, Path("/ctx"), 99)
    assert command.argv == (
        "docker", "build",
        "--build-arg", "BASE_IMAGE=djstack.local/debian:trixie",
        "--build-arg", "REDIS_VERSION=7", "--build-arg", "EXTRA=a b",
        "--label", f"org.djstack.debian.mirror={MIRROR}", "--label", "org.djstack.debian.suite=trixie",
        "--tag", "djstack.local/redis:7-trixie", "/ctx",
    )  # fmt: skip
    assert command.timeout == 99


def test_debootstrap_argv_env_and_stdin(tmp_path):
    command = host.debootstrap("/usr/sbin/debootstrap", "trixie", Path("/r"), MIRROR, {"LC_ALL": "C"}, tmp_path)
    assert command.argv == ("/usr/sbin/debootstrap", "--variant=minbase", "--include=ca-certificates",
                            "trixie", "/r", MIRROR)
    assert command.stdin == b"" and dict(command.env) == {"LC_ALL": "C"}


def test_debootstrap_of_a_suite_newer_than_the_host_uses_sids_script(tmp_path):
    (tmp_path / "sid").write_text("")
    assert host.debootstrap("d", "forky", Path("/r"), MIRROR, {}, tmp_path).argv[-1] == str(tmp_path / "sid")
    assert host.debootstrap("d", "bookworm", Path("/r"), MIRROR, {}, tmp_path).argv[-1] == MIRROR  # not sid-like
    (tmp_path / "sid").unlink()  # no sid script to fall back on: debootstrap is asked as it is
    assert host.debootstrap("d", "forky", Path("/r"), MIRROR, {}, tmp_path).argv[-1] == MIRROR


def test_missing_debootstrap_is_a_missing_program(monkeypatch):
    looked: list[str | None] = []
    monkeypatch.setattr(rootfs.shutil, "which", lambda name, path=None: looked.append(path))
    with pytest.raises(ProgramMissing) as info:
        rootfs.check_debootstrap()
    assert info.value.program == "debootstrap"
    assert looked == [None, "/usr/sbin:/sbin"]  # PATH first, then sbin (not on a user's PATH)


def test_count_rows_quotes_backticks_in_table_names():
    project = Project(Path("/s"))
    count = db.count_rows(project, "db", ["plain", "odd`name", "``"])
    assert count.stdin == ("SELECT COUNT(*) FROM `plain` UNION ALL SELECT COUNT(*) FROM `odd``name` "
                           "UNION ALL SELECT COUNT(*) FROM ``````;\n")
    assert db.quote_identifier("a`b") == "`a``b`"
