"""Fast tests of djstack.baseimages (no Docker, no network): mirror detection and image naming."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from helpers import REPO

from djstack import baseimages, docker, execute
from djstack.baseimages import rootfs
from djstack.baseimages.mirror import check_mirror
from djstack.errors import DjstackError
from djstack.imagesets import DEBIAN_ROOTFS_IMAGE, DEBIAN_SUITE, IMAGE_SETS


def write_apt(root: Path, files: dict[str, str]) -> Path:
    """Create etc/apt/<relative path> files under root; return root."""
    for rel, text in files.items():
        path = root / "etc" / "apt" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


DEBIAN_12_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.net/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.net/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


# --------------------------------------------------------------------------- default_mirror


def test_deb822_debian_sources(tmp_path):
    root = write_apt(tmp_path, {"sources.list.d/debian.sources": DEBIAN_12_SOURCES})
    assert baseimages.default_mirror(root) == "http://mirror.example.net/debian"


def test_deb822_skips_security_deb_src_disabled_and_foreign_stanzas(tmp_path):
    text = """\
Types: deb-src
URIs: http://src.example.net/debian
Suites: trixie
Components: main

Types: deb
URIs: http://security.example.net/debian-security
Suites: trixie-security
Components: main

Types: deb
URIs: http://disabled.example.net/debian
Suites: trixie
Components: main
Enabled: no

Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main

Types: deb deb-src
URIs: https://mirrors.example.cn/debian
Suites: trixie trixie-updates
Components: main
"""
    root = write_apt(tmp_path, {"sources.list.d/all.sources": text})
    assert baseimages.default_mirror(root) == "https://mirrors.example.cn/debian"


def test_deb822_multiple_uris_and_continuation_lines(tmp_path):
    text = """\
Types: deb
URIs: http://first.example.net/debian
  http://second.example.net/debian
Suites: trixie
Components: main
"""
    root = write_apt(tmp_path, {"sources.list.d/x.sources": text})
    assert baseimages.default_mirror(root) == "http://first.example.net/debian"


def test_deb822_files_read_in_name_order_and_foreign_ones_skipped(tmp_path):
    root = write_apt(
        tmp_path,
        {
            "sources.list.d/a-nodesource.sources": (
                "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n"
            ),
            "sources.list.d/b-debian.sources": DEBIAN_12_SOURCES,
        },
    )
    assert baseimages.default_mirror(root) == "http://mirror.example.net/debian"


def test_one_line_sources_list(tmp_path):
    text = """\
# the main archive
deb-src http://src.example.net/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirrors.aliyun.com/debian/ bookworm main contrib  # comment
deb http://mirrors.aliyun.com/debian-security bookworm-security main
"""
    root = write_apt(tmp_path, {"sources.list": text})
    assert baseimages.default_mirror(root) == "http://mirrors.aliyun.com/debian"


def test_one_line_security_only_is_not_a_mirror(tmp_path):
    root = write_apt(tmp_path, {"sources.list": "deb http://security.debian.org/debian-security bookworm-security main\n"})
    assert baseimages.default_mirror(root) == baseimages.FALLBACK_MIRROR


def test_deb822_preferred_over_sources_list(tmp_path):
    root = write_apt(
        tmp_path,
        {
            "sources.list": "deb http://old.example.net/debian bullseye main\n",
            "sources.list.d/debian.sources": DEBIAN_12_SOURCES,
        },
    )
    assert baseimages.default_mirror(root) == "http://mirror.example.net/debian"


def test_list_files_in_sources_list_d(tmp_path):
    root = write_apt(
        tmp_path,
        {
            # names a Debian suite, but is not the Debian archive (no `main` component)
            "sources.list.d/docker.list": "deb https://download.docker.com/linux/debian bookworm stable\n",
            "sources.list.d/mirror.list": "deb http://list.example.net/debian trixie main\n",
        },
    )
    assert baseimages.default_mirror(root) == "http://list.example.net/debian"


def test_third_party_repository_with_debian_suite_is_not_a_mirror(tmp_path):
    text = "Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: bookworm\nComponents: stable\n"
    root = write_apt(tmp_path, {"sources.list.d/docker.sources": text})
    assert baseimages.default_mirror(root) == baseimages.FALLBACK_MIRROR


def test_ubuntu_host_falls_back(tmp_path):
    text = """\
Types: deb
URIs: http://archive.ubuntu.com/ubuntu/
Suites: noble noble-updates noble-backports
Components: main restricted universe multiverse
"""
    root = write_apt(tmp_path, {"sources.list.d/ubuntu.sources": text, "sources.list": "# moved\n"})
    assert baseimages.default_mirror(root) == "http://deb.debian.org/debian"


def test_non_http_uris_are_skipped(tmp_path):
    text = "deb file:/srv/mirror/debian trixie main\ndeb cdrom:[Debian]/ trixie main\ndeb http://ok.example.net/debian trixie main\n"
    root = write_apt(tmp_path, {"sources.list": text})
    assert baseimages.default_mirror(root) == "http://ok.example.net/debian"


def test_no_apt_configuration_falls_back(tmp_path):
    assert baseimages.default_mirror(tmp_path) == "http://deb.debian.org/debian"


# ------------------------------------------------- scripts/install-docker.sh: the same rules


def script_mirror(tmp_path: Path, root: Path, python: bool = True) -> subprocess.CompletedProcess:
    """detect_debian_mirror() of scripts/install-docker.sh, cut out of the script and run by bash on
    `root`, with a PATH holding nothing but a python3 (this interpreter, which the function runs
    without site-packages: what a fresh host's system python3 has) or, with `python=False`, nothing."""
    text = (REPO / "scripts" / "install-docker.sh").read_text()
    function = re.search(r"^detect_debian_mirror\(\) \{\n.*?^\}\n", text, re.MULTILINE | re.DOTALL).group(0)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if python:
        wrapper = bin_dir / "python3"
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        wrapper.chmod(0o755)
    program = f'warn() {{ echo "warning: $*" >&2; }}\nDJSTACK_SRC={REPO / "src"}\n{function}detect_debian_mirror "$1"\n'
    return subprocess.run(["/bin/bash", "-c", program, "bash", str(root)], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("files", "expected"), [
    ({"sources.list.d/debian.sources": DEBIAN_12_SOURCES}, "http://mirror.example.net/debian"),
    ({"sources.list": "deb [arch=amd64] http://mirrors.aliyun.com/debian/ bookworm main contrib\n"},
     "http://mirrors.aliyun.com/debian"),
    ({"sources.list.d/docker.list": "deb https://download.docker.com/linux/debian bookworm stable\n",
      "sources.list.d/mirror.list": "deb http://list.example.net/debian trixie main\n"}, "http://list.example.net/debian"),
    ({"sources.list": "deb http://security.debian.org/debian-security bookworm-security main\n"},
     "http://deb.debian.org/debian"),
    ({}, "http://deb.debian.org/debian"),
], ids=["deb822", "one-line", "third-party-first", "security-only", "none"])
def test_install_script_finds_the_mirror_the_package_finds(tmp_path, files, expected):
    root = write_apt(tmp_path / "host", files)
    root.mkdir(exist_ok=True)
    proc = script_mirror(tmp_path, root)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == f"{expected}\n"
    assert baseimages.default_mirror(root) == expected


def test_install_script_without_python3_says_so_and_uses_debians_redirector(tmp_path):
    root = write_apt(tmp_path / "host", {"sources.list.d/debian.sources": DEBIAN_12_SOURCES})
    proc = script_mirror(tmp_path, root, python=False)
    assert proc.returncode == 0 and proc.stdout == "http://deb.debian.org/debian\n"
    assert "warning: python3 cannot read the host's Debian mirror" in proc.stderr


@pytest.mark.parametrize(
    ("mirror", "security"),
    [
        ("http://deb.debian.org/debian", "http://deb.debian.org/debian-security"),
        ("https://mirrors.example.cn/debian/", "https://mirrors.example.cn/debian-security"),
        ("http://snapshot.debian.org/archive/debian/20250520T000000Z", None),
    ],
)
def test_security_mirror(mirror, security):
    assert baseimages.security_mirror(mirror) == security


def test_sources_for_images_point_at_the_mirror():
    text = rootfs.sources_text("http://mirror.example.net/debian/")
    assert "URIs: http://mirror.example.net/debian\n" in text
    assert "Suites: trixie trixie-updates\n" in text
    assert "URIs: http://mirror.example.net/debian-security\nSuites: trixie-security\n" in text
    assert "security" not in rootfs.sources_text("http://snapshot.example.net/archive/debian/2025")


# --------------------------------------------------------------------------- image names


def test_missing_base_images_names_only_absent_images(monkeypatch):
    images = IMAGE_SETS["debian"]
    present = {images.python, images.redis}
    monkeypatch.setattr(docker, "image_exists", lambda name: name in present)
    assert baseimages.missing_base_images() == [images.python_build, images.db, images.nginx]


def test_missing_base_images_all_missing_in_build_order_without_rootfs(monkeypatch):
    monkeypatch.setattr(docker, "image_exists", lambda name: False)
    missing = baseimages.missing_base_images()
    images = IMAGE_SETS["debian"]
    assert missing == [images.python, images.python_build, images.db, images.redis, images.nginx]
    assert DEBIAN_ROOTFS_IMAGE not in missing
    assert set(missing) == set(images.env().values())


def test_missing_base_images_none_missing(monkeypatch):
    monkeypatch.setattr(docker, "image_exists", lambda name: True)
    assert baseimages.missing_base_images() == []


def test_every_service_image_has_a_dockerfile_in_the_package():
    package = resources.files("djstack.baseimages")
    for name in baseimages.default_images():
        directory = baseimages.recipe(name).directory
        dockerfile = package.joinpath(directory, "Dockerfile")
        assert dockerfile.is_file(), (name, directory)
        text = dockerfile.read_text()
        assert "ARG BASE_IMAGE" in text and "FROM ${BASE_IMAGE}" in text
        assert "# syntax=" not in text  # BuildKit would try to pull a frontend image


def test_build_with_nothing_missing_does_nothing(monkeypatch):
    monkeypatch.setattr(docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(docker, "image_exists", lambda name: True)

    def no_docker(*args, **kwargs):
        raise AssertionError("docker must not run")

    for runner in ("run", "stream", "to_sink", "attached"):  # nothing at all may start
        monkeypatch.setattr(execute, runner, no_docker)
    said: list[str] = []
    assert baseimages.build_base_images("http://unused.invalid/debian", say=said.append) == []
    assert said == []


def test_missing_debootstrap_is_explained(monkeypatch):
    monkeypatch.setattr(rootfs.shutil, "which", lambda *a, **k: None)
    with pytest.raises(DjstackError) as info:
        rootfs.check_debootstrap()
    assert "debootstrap" in info.value.message and "apt-get install -y debootstrap" in info.value.fix


def test_not_root_is_explained(monkeypatch):
    monkeypatch.setattr(rootfs.shutil, "which", lambda *a, **k: "/usr/sbin/debootstrap")
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    with pytest.raises(DjstackError) as info:
        rootfs.check_debootstrap()
    assert "root" in info.value.message


def test_non_http_mirror_is_refused_before_any_network_access():
    with pytest.raises(DjstackError) as info:
        check_mirror("file:///srv/mirror/debian", DEBIAN_SUITE)
    assert "http(s)" in info.value.message
