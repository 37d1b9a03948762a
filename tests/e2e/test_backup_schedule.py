"""Backups that run and leave the host: a scheduled entry's own command run once, copies to a local
folder and to an SSH server started here (sshd on 127.0.0.1), a corrupted copy found by `backups`."""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest

from djstack.backup import schedule as sched
from helpers import DJSTACK

pytestmark = pytest.mark.e2e


def djstack(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*DJSTACK, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=900, env={**os.environ, **(env or {})})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """An sshd of the test's own on a free port of 127.0.0.1, a temporary host key, one authorized key."""
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
    host_key = (d / "host.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    target = d / "offsite"
    target.mkdir()
    env = {"RCLONE_SFTP_KEY_FILE": str(d / "client"), "RCLONE_SFTP_KNOWN_HOSTS_FILE": str(d / "known_hosts")}
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    yield f"sftp://{user}@127.0.0.1:{port}{target}", target, env
    proc.terminate()
    proc.wait(10)


def test_schedule_writes_an_entry_whose_command_backs_up(module_stack, tmp_path):
    s = module_stack
    folder = tmp_path / "scheduled"
    proc = djstack("backup", str(s.root), "--to", str(folder), "--keep", "2", "--schedule", "daily")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = sched.read_record(s.root)
    assert record.kind in ("cron.d", "crontab", "systemd") and record.keep == 2
    if record.kind == "cron.d":
        entry = Path(record.where).read_text()
        (line,) = [x for x in entry.splitlines() if x.startswith("17 3 * * * ")]
        argv = shlex.split(line.split(" ", 6)[6].removesuffix(" >/dev/null"))
    else:
        argv = record.command
    assert argv[0] == record.command[0] and Path(argv[0]).is_absolute()
    assert argv[3:] == ["backup", str(s.root.resolve()), "--to", str(folder.resolve()), "--keep", "2"]
    for _ in range(3):  # the scheduler's command, as it would run it (from /, with cron's PATH)
        ran = subprocess.run(argv, cwd="/", capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PATH": sched.CRON_PATH})
        assert ran.returncode == 0, ran.stdout + ran.stderr
    assert len(list(folder.glob("*.tar.gz"))) == 2  # the retention chosen with --schedule
    listing = djstack("backups", str(s.root))  # the folder comes from the schedule's record
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "schedule\tdaily\t" in listing.stdout
    assert "\nlast run\t" in listing.stdout and "\tok\tverified\t" in listing.stdout

    proc = djstack("backup", str(s.root), "--unschedule")
    assert proc.returncode == 0 and "Removed" in proc.stdout
    assert sched.read_record(s.root) is None
    if record.kind == "cron.d":
        assert not Path(record.where).exists()


def test_copy_to_local_folder_and_ssh_and_a_corrupted_copy_is_found(module_stack, tmp_path, sshd):
    s = module_stack
    folder, local = tmp_path / "archives", tmp_path / "mounted"
    proc = djstack("backup", str(s.root), "--to", str(folder), "--copy-to", str(local))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (archive,) = folder.glob("*.tar.gz")
    assert sha256(local / archive.name) == sha256(archive) and "copy checked at" in proc.stdout

    url, offsite, env = sshd
    proc = djstack("backup", str(s.root), "--to", str(folder), "--copy-to", url, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    second = max(folder.glob("*.tar.gz"))
    assert sha256(offsite / second.name) == sha256(second)
    listing = djstack("backups", str(s.root), "--to", str(folder), "--copy-to", url, env=env)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert f"{second.name}\t" in listing.stdout and "copy matches\tverifies" in listing.stdout

    copy = local / archive.name  # one byte flipped in the middle of the off-host copy
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    listing = djstack("backups", str(s.root), "--to", str(folder), "--copy-to", str(local))
    assert listing.returncode == 1, listing.stdout + listing.stderr
    (line,) = [x for x in listing.stdout.splitlines() if x.startswith(archive.name)]
    assert "\tcopy differs\tverifies" in line  # the archive is fine, its copy is not

    # --keep-copies prunes this project's older copies over SFTP too (rclone deletes them there).
    proc = djstack("backup", str(s.root), "--to", str(folder), "--copy-to", url, "--keep-copies", "1", env=env)
    assert proc.returncode == 0 and "(deleted 1 older there)" in proc.stdout, proc.stdout + proc.stderr
    assert [p.name for p in offsite.glob("*.tar.gz")] == [max(folder.glob("*.tar.gz")).name]

    unreachable = f"sftp://root@127.0.0.1:{free_port()}/srv"
    proc = djstack("backup", str(s.root), "--to", str(folder), "--copy-to", unreachable, env=env)
    assert proc.returncode == 3 and f"Copying to {unreachable} failed" in proc.stderr, proc.stderr
    assert "The archive itself is in" in proc.stderr
    listing = djstack("backups", str(s.root), "--to", str(folder))
    assert "FAILED: Copying to" in listing.stdout and "\tverified\t" in listing.stdout
