"""Backup archives without Docker: format, verification of damaged or edited archives, retention."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from helpers import unique_name

from djstack.backup import archive
from djstack.backup.archive import ArchiveInvalid

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def make(folder: Path, project: str = "shop", when: datetime = WHEN,
         dump: bytes = b"-- dump\nCREATE TABLE t (id int);\n-- Dump completed\n", *, pre_restore: bool = False) -> Path:
    work = folder / f"work-{when:%H%M%S}-{project}"
    work.mkdir(parents=True)
    (work / "db.sql").write_bytes(dump)
    media_dir = work / "media"
    (media_dir / "photos").mkdir(parents=True)
    (media_dir / "photos" / "a.png").write_bytes(b"\x89PNG fake")
    (media_dir / "b.txt").write_bytes(b"hello")
    with tarfile.open(work / "media.tar", "w") as tar:
        tar.add(media_dir, arcname=".")
    files = {"db.sql": work / "db.sql", "media.tar": work / "media.tar"}
    manifest = archive.make_manifest(project=project, djstack_version="0.1.0", db_server_version="11.8.9-MariaDB",
                                     database=project, created=when, files=files,
                                     media_files=archive.tar_file_count(work / "media.tar"))
    target = folder / archive.archive_name(project, when, pre_restore=pre_restore)
    archive.write_archive(target, manifest, files)
    return target


def repack(source: Path, target: Path, change, extra: dict[str, bytes] | None = None) -> None:
    """Rewrite an archive member by member: `change(name, data)` alters the bytes (None drops the
    member), and `extra` members are appended."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = change(member.name, old.extractfile(member).read())
            if data is None:
                continue
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))


def test_archive_verifies_and_holds_manifest(tmp_path):
    path = make(tmp_path)
    assert path.name == "shop-20260102-030405.tar.gz"
    verified = archive.verify(path)
    manifest = verified.manifest
    assert manifest["project"] == "shop"
    assert manifest["media_files"] == 2
    assert manifest["db_server_version"] == "11.8.9-MariaDB"
    assert manifest["created"] == "2026-01-02T03:04:05+00:00"
    assert set(manifest["files"]) == {"db.sql", "media.tar"}
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*partial"))


def test_extraction_gives_the_original_bytes(tmp_path):
    path = make(tmp_path, dump=b"-- data \xe2\x9c\x93\n")
    out = tmp_path / "out"
    out.mkdir()
    archive.verify(path, extract_to=out)
    assert (out / "db.sql").read_bytes() == b"-- data \xe2\x9c\x93\n"
    assert archive.tar_file_count(out / "media.tar") == 2


def test_truncated_archive_is_refused(tmp_path):
    path = make(tmp_path, dump=bytes(range(256)) * 400)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveInvalid, match="truncated"):
        archive.verify(path)


def test_changed_byte_in_dump_with_manifest_unchanged_is_refused(tmp_path):
    path = make(tmp_path)
    tampered = tmp_path / "tampered.tar.gz"
    repack(path, tampered, lambda name, data: data.replace(b"id int", b"id INT") if name == "db.sql" else data)
    with pytest.raises(ArchiveInvalid, match=r"db\.sql does not match the manifest's checksum"):
        archive.verify(tampered)


@pytest.mark.parametrize("where", [i / 20 for i in range(2, 20)])  # past the gzip header: its name and time are not checked
def test_flipped_byte_in_compressed_stream_is_refused_as_damage(tmp_path, where):
    """Wherever the byte is (a member's data, its tar header, the manifest), the finding is damage,
    never a misleading "altered" or "unexpected member" (the archive's bytes vary with file times)."""
    path = make(tmp_path, dump=b"x" * 50000)
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveInvalid, match="damaged|truncated|checksum"):
        archive.verify(path)


@pytest.mark.parametrize(
    "change, extra, problem",
    [
        (lambda name, data: None if name == "manifest.json" else data, None, "does not start with manifest.json"),
        (lambda name, data: data, {"evil.sh": b"rm\n"}, "unexpected member 'evil.sh'"),
        (lambda name, data: None if name == "media.tar" else data, None, "media.tar is listed in the manifest but missing"),
        (lambda name, data: b"{not json" if name == "manifest.json" else data, None, "unreadable or incomplete"),
    ],
    ids=["no-manifest", "extra-member", "missing-member", "bad-manifest"],
)
def test_altered_archive_is_refused(tmp_path, change, extra, problem):
    altered = tmp_path / "altered.tar.gz"
    repack(make(tmp_path), altered, change, extra)
    with pytest.raises(ArchiveInvalid, match=re.escape(problem)):
        archive.verify(altered)


def test_not_a_gzip_file_is_refused(tmp_path):
    path = tmp_path / "shop-20260102-030405.tar.gz"
    path.write_bytes(b"this is not an archive at all")
    with pytest.raises(ArchiveInvalid, match="damaged|truncated"):
        archive.verify(path)
    with pytest.raises(ArchiveInvalid, match="no such archive"):
        archive.verify(tmp_path / "missing.tar.gz")
    # A gzip of something that is not a tar.
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(gzip.compress(json.dumps({"a": 1}).encode()))
    with pytest.raises(ArchiveInvalid):
        archive.verify(plain)


def test_retention_keeps_newest_n_of_this_project_only(tmp_path):
    ours = [make(tmp_path, when=WHEN + timedelta(hours=i)) for i in range(5)]
    theirs = [make(tmp_path, project="shop-eu", when=WHEN + timedelta(hours=i)) for i in range(2)]
    other = make(tmp_path, project="other", when=WHEN + timedelta(days=9))
    ours[0].rename(tmp_path / "keep-me.tar.gz")  # not a name this project's archives have
    deleted = archive.apply_retention(tmp_path, "shop", 2)
    assert sorted(deleted) == sorted([ours[1], ours[2]])
    assert ours[3].exists() and ours[4].exists()
    assert all(p.exists() for p in theirs) and other.exists() and (tmp_path / "keep-me.tar.gz").exists()
    # The safety archive `restore` takes is one of this project's: retention counts it by its time,
    # and deletes it once it is older than the newest `keep`.
    pre_restore = make(tmp_path, when=WHEN + timedelta(hours=2, minutes=30), pre_restore=True)
    assert pre_restore.name == "shop-20260102-053405-pre-restore.tar.gz" and pre_restore.exists()
    assert archive.apply_retention(tmp_path, "shop", 2) == [pre_restore]
    assert not pre_restore.exists()
    assert ours[3].exists() and ours[4].exists()
    assert archive.archive_pattern("shop").match(pre_restore.name)
    assert not archive.archive_pattern("shop").match(theirs[0].name)


def test_retention_never_deletes_the_newest(tmp_path):
    newest = [make(tmp_path, when=WHEN + timedelta(minutes=i)) for i in range(3)][-1]
    assert archive.apply_retention(tmp_path, "shop", 1) != []
    assert archive.project_archives(tmp_path, "shop") == [newest]
    assert archive.apply_retention(tmp_path, "shop", 1) == []
    with pytest.raises(Exception, match="at least the newest"):
        archive.apply_retention(tmp_path, "shop", 0)
    assert newest.exists()


def test_failed_write_leaves_no_archive(tmp_path):
    target = tmp_path / archive.archive_name("shop", WHEN)
    with pytest.raises(FileNotFoundError):
        archive.write_archive(target, {"project": "shop"}, {"db.sql": tmp_path / "does-not-exist.sql"})
    assert list(tmp_path.iterdir()) == []


def test_cli_lists_archives_and_refuses_bad_ones_before_docker(example_copy):
    """`backups` and the refusals of `restore` need no engine: the archive is judged first."""
    from click.testing import CliRunner

    from djstack.cli import main
    from djstack.initialise import run_init
    from djstack.model import StackOptions

    name = unique_name("shop")  # a stack of its own: should a refusal fail, restore reaches no one's data
    run_init(example_copy, StackOptions(image_source="debian", name=name), force=False)
    folder = example_copy / "backups"
    good = make(folder, project=name)
    truncated = make(folder, project=name, when=WHEN + timedelta(hours=1))
    truncated.write_bytes(truncated.read_bytes()[:200])
    foreign = make(folder, project="elsewhere")
    runner = CliRunner()

    listing = runner.invoke(main, ["backups", str(example_copy)])
    assert listing.exit_code == 1
    lines = {line.split("\t")[0]: line.split("\t")[-1] for line in listing.output.splitlines()}
    assert lines[good.name] == "verifies" and lines[foreign.name] == "verifies"
    assert lines[truncated.name].startswith("FAILS: the archive is truncated")

    for bad, problem in [(truncated, "truncated"), (foreign, f"is a backup of project 'elsewhere', not of '{name}'")]:
        refused = runner.invoke(main, ["restore", str(example_copy), str(bad), "--yes"])
        assert refused.exit_code == 2
        assert problem in refused.output
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert files == sorted([good, truncated, foreign])  # nothing made, nothing deleted


def test_backup_into_an_unwritable_folder_is_a_clean_error(example_copy, tmp_path):
    from djstack.backup import run
    from djstack.errors import DjstackError
    from djstack.initialise import load_stack
    from djstack.model import StackOptions

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DjstackError, match="No archive was written"):
        run.backup(load_stack(example_copy, StackOptions(name=unique_name())), blocker / "backups")
