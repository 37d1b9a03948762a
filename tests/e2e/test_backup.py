"""Backups that restore: a real stack's data through backup, wipe and restore; bad archives refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from djstack.model import AppUser
from helpers import DJSTACK
from stacks import wait_for
from test_stack import png

pytestmark = pytest.mark.e2e

BIG_MEDIA = os.urandom(3 * 1024 * 1024)  # not an upload: written straight into the volume


def media_checksums(stack) -> dict[str, str]:
    """sha256 of every file in the media volume, read inside web."""
    out = stack.compose("exec", "-T", "web", "sh", "-c", "cd /srv/media && find . -type f -exec sha256sum {} +").stdout
    return {line.split(None, 1)[1].strip(): line.split()[0] for line in out.splitlines() if line.strip()}


def note_texts(stack) -> list[str]:
    return [n["text"] for n in stack.get("/api/notes/").json()["notes"]]


def archives(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tar.gz"))


def backup(stack, *args: str) -> Path:
    before = set(archives(stack.root / "backups"))
    proc = stack.djstack("backup", str(stack.root), *args)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("✓ Backed up to "), proc.stdout  # one line for a scheduler
    if "--to" in args:
        return Path(lines[0].split("Backed up to ", 1)[1].split(" (", 1)[0])
    (made,) = set(archives(stack.root / "backups")) - before
    return made


def restore(stack, archive: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DJSTACK, "restore", str(stack.root), str(archive), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=900)


def repack(source: Path, target: Path, change) -> None:
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = change(member.name, old.extractfile(member).read())
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))


def test_backup_wipe_restore_gives_back_rows_and_media(module_stack):
    s = module_stack
    texts = ["first note", "二番目のメモ ✓", "emoji 🎉 survives utf8mb4"]
    for text in texts:
        assert s.post("/api/notes/", data={"text": text}).status_code == 201
    photo = s.post("/api/photos/", files={"image": ("red.png", png(7, 4), "image/png")}).json()
    proc = subprocess.run(["docker", "compose", "exec", "-T", "web", "sh", "-c",
                           "mkdir -p /srv/media/docs && cat > /srv/media/docs/big.bin"],
                          cwd=s.root, input=BIG_MEDIA, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    notes_before = s.get("/api/notes/").json()["notes"]
    # The worker makes the upload's thumbnail: media the backup must hold as well.
    thumbnail = wait_for(lambda: s.get(f"/api/photos/{photo['id']}/").json()["thumbnail"], 60, "the photo's thumbnail")
    media_before = media_checksums(s)
    assert set(media_before) == {"./docs/big.bin", *("." + url.removeprefix("/media") for url in (photo["url"], thumbnail))}

    archive = backup(s)
    assert archive.name.startswith(f"{s.name}-") and archive.stat().st_mode & 0o777 == 0o600
    listing = s.djstack("backups", str(s.root))
    assert f"{archive.name}\t" in listing.stdout and listing.stdout.rstrip().endswith("\tverifies")

    s.djstack("down", str(s.root), "--volumes", "--yes")
    s.djstack("up", str(s.root))
    assert note_texts(s) == []
    assert media_checksums(s) == {}
    assert s.get(photo["url"]).status_code == 404

    proc = restore(s, archive, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "media files" in proc.stdout and "tables" in proc.stdout
    assert s.get("/api/notes/").json()["notes"] == notes_before  # ids, texts and times
    assert media_checksums(s) == media_before
    served = s.get(photo["url"])
    assert served.status_code == 200 and served.content == png(7, 4)
    assert hashlib.sha256(s.get("/media/docs/big.bin").content).digest() == hashlib.sha256(BIG_MEDIA).digest()
    owners = s.compose("exec", "-T", "web", "sh", "-c", "find /srv/media -exec stat -c %u:%g {} + | sort -u").stdout
    assert owners.split() == [f"{AppUser().uid}:{AppUser().uid}"]
    # The stack keeps working on the restored data, and a safety backup of the wiped state was kept.
    assert s.post("/api/notes/", data={"text": "after restore"}).status_code == 201
    assert [p.name for p in archives(s.root / "backups") if "pre-restore" in p.name]


def test_truncated_or_tampered_archive_is_refused_and_nothing_touched(module_stack, tmp_path):
    s = module_stack
    assert s.post("/api/notes/", data={"text": "must survive a refused restore"}).status_code == 201
    good = backup(s)
    notes_before = s.get("/api/notes/").json()["notes"]
    media_before = media_checksums(s)
    archives_before = archives(s.root / "backups")

    truncated = tmp_path / good.name
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    tampered = tmp_path / "tampered" / good.name
    tampered.parent.mkdir()
    # One changed byte inside the dump (an INSERT's data), the manifest as it was.
    repack(good, tampered, lambda name, data: data.replace(b"must survive", b"must survivE", 1) if name == "db.sql" else data)

    for bad, problem in [(truncated, "truncated"), (tampered, "db.sql does not match the manifest's checksum")]:
        proc = restore(s, bad, "--yes")
        assert proc.returncode != 0
        assert problem in proc.stderr, proc.stderr
        assert "Nothing" in proc.stderr or "Use another archive" in proc.stderr
        assert s.get("/api/notes/").json()["notes"] == notes_before
        assert media_checksums(s) == media_before
        assert archives(s.root / "backups") == archives_before  # not even a safety backup

    listing = s.djstack("backups", "--to", str(tmp_path), str(s.root), check=False)
    assert listing.returncode == 1 and "FAILS: the archive is truncated" in listing.stdout


def test_foreign_archive_needs_allow_other_project(module_stack, tmp_path):
    s = module_stack
    good = backup(s)
    foreign = tmp_path / "elsewhere-20260101-000000.tar.gz"

    def other_project(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["project"] = "elsewhere"
        return json.dumps(manifest).encode()

    repack(good, foreign, other_project)
    notes_before = s.get("/api/notes/").json()["notes"]
    proc = restore(s, foreign, "--yes")
    assert proc.returncode != 0
    assert "'elsewhere'" in proc.stderr and "--allow-other-project" in proc.stderr
    assert s.get("/api/notes/").json()["notes"] == notes_before

    proc = restore(s, foreign, "--yes", "--allow-other-project")
    assert proc.returncode == 0, proc.stderr
    assert s.get("/api/notes/").json()["notes"] == notes_before


def test_restore_without_yes_and_without_terminal_refuses(module_stack):
    s = module_stack
    good = archives(s.root / "backups")[-1]
    before = archives(s.root / "backups")
    proc = restore(s, good)
    assert proc.returncode != 0
    assert "--yes" in proc.stderr and "no terminal" in proc.stderr
    assert archives(s.root / "backups") == before


def test_retention_keeps_newest_n_of_this_project_only(module_stack, tmp_path):
    s = module_stack
    folder = tmp_path / "kept"
    folder.mkdir()
    other = folder / "otherproject-20200101-000000.tar.gz"
    other.write_bytes(b"another project's archive: never ours to delete")
    default_before = archives(s.root / "backups")
    made = [backup(s, "--to", str(folder), "--keep", "2") for _ in range(3)]
    assert archives(folder) == sorted([other, *made[1:]])
    made.append(backup(s, "--to", str(folder), "--keep", "1"))
    assert archives(folder) == sorted([other, made[-1]])
    assert archives(s.root / "backups") == default_before
    refused = s.djstack("backup", str(s.root), "--to", str(folder), "--keep", "0", check=False)
    assert refused.returncode != 0 and archives(folder) == sorted([other, made[-1]])
