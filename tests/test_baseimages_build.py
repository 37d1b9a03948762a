"""Building the local base images against a stand-in engine: debootstrap, slimming, tar, docker
import, docker build: the commands, the log, and what a failure says."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_engine import FakeEngine
from djstack.baseimages import build, rootfs
from djstack.baseimages.log import Log
from djstack.baseimages.mirror import SuiteSources
from djstack.baseimages.plan import BuildStep
from djstack.errors import DjstackError

MIRROR = "http://deb.example.net/debian"


@pytest.fixture
def engine(monkeypatch, tmp_path):
    monkeypatch.setattr(rootfs, "check_debootstrap", lambda: "/usr/sbin/debootstrap")
    monkeypatch.setattr(rootfs, "_scratch_parent", lambda: str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    return FakeEngine(monkeypatch)


def bootstrapped(tmp_path: Path):
    """What debootstrap leaves: a tree with the folders slimming writes into, and a few docs."""
    def answer():
        tree = next((tmp_path / "scratch").glob("djstack-rootfs-*")) / "rootfs"
        for folder in ("etc/dpkg/dpkg.cfg.d", "etc/apt/apt.conf.d", "usr/sbin", "usr/share/doc/bash",
                       "usr/share/man/man1", "usr/share/locale/de", "var/log/apt", "debootstrap", "tmp", "var/tmp"):
            (tree / folder).mkdir(parents=True)
        (tree / "etc/apt/sources.list").write_text("deb http://old main\n")
        (tree / "usr/share/doc/bash/copyright").write_text("GPL")
        (tree / "usr/share/doc/bash/README").write_text("docs")
        (tree / "usr/share/locale/locale.alias").write_text("")
        (tree / "var/log/apt/history.log").write_text("log")
        return 0, "I: Base system installed successfully.\n", ""
    return answer


def test_rootfs_is_bootstrapped_slimmed_packed_and_imported(engine, tmp_path):
    engine.on("/usr/sbin/debootstrap", stdout=[bootstrapped(tmp_path)])
    engine.on("image", "inspect", "--format", "{{.Size}}", stdout="31000000\n")
    log = Log(tmp_path / "build.log")
    said: list[str] = []
    image = rootfs.build_rootfs(MIRROR, SuiteSources("trixie", True, None), log, said.append)
    assert image == "djstack.local/debian:trixie"
    boot, tar, imported, _size = engine.ran
    assert boot.argv[:4] == ("/usr/sbin/debootstrap", "--variant=minbase", "--include=ca-certificates", "trixie")
    assert boot.stdin == b"" and boot.env["LC_ALL"] == "C" and boot.env["PATH"].endswith(":/usr/sbin:/sbin")
    assert tar.argv[:4] == ("tar", "--numeric-owner", "-C", boot.argv[4]) and tar.argv[-1] == "."
    assert imported.argv[:2] == ("docker", "import") and imported.argv[-1] == image
    assert ("--change", "ENV LANG=C.UTF-8") == imported.argv[4:6]
    assert imported.argv[-3:-1] == (f"djstack: debootstrap --variant=minbase trixie {MIRROR}", tar.argv[5])
    text = log.path.read_text()
    assert "$ /usr/sbin/debootstrap --variant=minbase" in text and "I: Base system installed successfully." in text
    assert "$ docker import --change" in text
    assert said[-1].startswith("  djstack.local/debian:trixie imported (") and said[-1].endswith(", 31 MB)")
    assert list((tmp_path / "scratch").iterdir()) == []  # the tree is gone


def test_slimming_keeps_copyrights_and_writes_deb822_sources(engine, tmp_path):
    engine.on("/usr/sbin/debootstrap", stdout=[bootstrapped(tmp_path)])
    seen = {}

    def packed():
        tree = Path(engine.ran[-1].argv[3])
        seen["files"] = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
        seen["sources"] = (tree / "etc/apt/sources.list.d/debian.sources").read_text()
        return 0, "", ""

    engine.on("tar", "--numeric-owner", stdout=[packed])
    rootfs.build_rootfs(MIRROR, SuiteSources("trixie", False, None), Log(tmp_path / "log"), lambda line: None)
    assert "usr/share/doc/bash/copyright" in seen["files"] and "usr/share/doc/bash/README" not in seen["files"]
    assert "var/log/apt/history.log" not in seen["files"] and "etc/apt/sources.list" not in seen["files"]
    assert "usr/sbin/policy-rc.d" in seen["files"]
    assert f"URIs: {MIRROR}\nSuites: trixie\n" in seen["sources"]


def test_a_failed_debootstrap_quotes_its_own_log(engine, tmp_path):
    def failing():
        tree = next((tmp_path / "scratch").glob("djstack-rootfs-*")) / "rootfs"
        (tree / "debootstrap").mkdir(parents=True)
        (tree / "debootstrap" / "debootstrap.log").write_text("E: Couldn't download packages: libc6\n")
        return 1, "I: Retrieving InRelease\n", ""

    engine.on("/usr/sbin/debootstrap", stdout=[failing])
    log = Log(tmp_path / "log")
    with pytest.raises(DjstackError) as failed:
        rootfs.build_rootfs(MIRROR, SuiteSources("trixie", True, None), log, lambda line: None)
    assert failed.value.message.startswith("debootstrap failed (exit 1)")
    assert "E: Couldn't download packages: libc6" in failed.value.message
    assert MIRROR in failed.value.fix
    assert not engine.ran_with("docker", "import")


def test_failed_tar_and_import_are_explained(engine, tmp_path):
    engine.on("/usr/sbin/debootstrap", stdout=[bootstrapped(tmp_path)])
    engine.on("tar", code=2, stderr="tar: write error: No space left on device\n")
    with pytest.raises(DjstackError, match="tar of the root filesystem failed") as failed:
        rootfs.build_rootfs(MIRROR, SuiteSources("trixie", True, None), Log(tmp_path / "log"), lambda line: None)
    assert "No space left" in failed.value.message and failed.value.fix == "Check free disk space."
    engine.on("tar", code=0)
    engine.on("/usr/sbin/debootstrap", stdout=[bootstrapped(tmp_path)])
    engine.on("docker", "import", code=1, stderr="Error response from daemon: no space\n")
    with pytest.raises(DjstackError, match="docker import of djstack.local/debian:trixie failed"):
        rootfs.build_rootfs(MIRROR, SuiteSources("trixie", True, None), Log(tmp_path / "log"), lambda line: None)


def test_leftover_mounts_are_unmounted_before_the_tree_goes(engine, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "proc").mkdir(parents=True)
    mounted = [[f"{tree}/proc"], []]
    monkeypatch.setattr(rootfs, "_mounts_under", lambda path: mounted.pop(0))
    rootfs._remove_tree(tree)
    assert [c.argv for c in engine.ran] == [("umount", "-l", f"{tree}/proc")]
    assert not tree.exists()
    still = [[f"{tree}/proc"], [f"{tree}/proc"]]
    (tree / "proc").mkdir(parents=True)
    monkeypatch.setattr(rootfs, "_mounts_under", lambda path: still.pop(0))
    rootfs._remove_tree(tree)
    assert tree.exists()  # a live mount: left for a human


def test_service_image_is_built_from_the_packaged_context(engine, tmp_path):
    step = BuildStep(name="djstack.local/redis:7-trixie", base="djstack.local/debian:trixie", directory="redis",
                     suite="trixie", build_args=(("REDIS_VERSION", "7"),))
    seen = {}

    def built():
        context = Path(engine.ran[-1].argv[-1])
        seen["files"] = sorted(p.name for p in context.iterdir())
        return 0, "Successfully built\n", ""

    engine.on("docker", "build", stdout=[built])
    log = Log(tmp_path / "log")
    build.build_service(step, MIRROR, log)
    command = engine.ran[-1]
    assert command.argv[:6] == ("docker", "build", "--build-arg", "BASE_IMAGE=djstack.local/debian:trixie",
                                "--build-arg", "REDIS_VERSION=7")
    assert command.timeout == 1800 and "Dockerfile" in seen["files"]
    assert "$ docker build --build-arg" in log.path.read_text()
    engine.on("docker", "build", code=1, stdout="E: Unable to locate package redis-server\n")
    with pytest.raises(DjstackError, match=r"Building djstack.local/redis:7-trixie failed \(docker build exit 1\)"):
        build.build_service(step, MIRROR, log)


def test_missing_images_are_built_in_order_from_their_root_filesystem(engine, tmp_path, monkeypatch):
    import djstack.baseimages as baseimages
    from djstack.imagesets import image_set

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the build's log
    monkeypatch.setattr(baseimages, "check_mirror", lambda mirror, suite: None)
    monkeypatch.setattr(baseimages, "suite_sources", lambda mirror, suite: SuiteSources(suite, True, None))
    rootfs_built: list[str] = []
    monkeypatch.setattr(baseimages, "build_rootfs",
                        lambda mirror, sources, log, say: rootfs_built.append(sources.suite) or f"rootfs:{sources.suite}")
    engine.on("image", "inspect", code=1)  # nothing exists yet
    engine.on("image", "inspect", "--format", "{{.Size}}", stdout="120000000\n")
    wanted = image_set("debian", "3.13")
    said: list[str] = []
    built = baseimages.ensure_images([wanted.python, "python:3.13-slim"], MIRROR + "/", say=said.append)
    assert built == [built[0], wanted.python] and rootfs_built == [built[0].split(":")[1]]
    assert said[0].startswith(f"Building 2 image(s) from {MIRROR}; full output in {tmp_path / 'cache'}")
    assert said[-1].startswith(f"  {wanted.python} built (") and said[-1].endswith(", 120 MB)")
    [build] = engine.ran_with("docker", "build")
    assert build.argv[build.argv.index("--tag") + 1] == wanted.python
    engine.on("image", "inspect", code=0)  # all there now: nothing to do
    assert baseimages.ensure_images([wanted.python], MIRROR) == []
