"""Confined containers on the shared HTTPS stack: no capability but the model's few, read-only root
filesystems, no swap; nginx's master holds exactly its capabilities and its workers none."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from stacks import container, https
from djstack.model import CONFINEMENT

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

SERVICES = ("web", "nginx", "db", "redis", "broker", "worker", "beat")  # the example's

#: capabilities(7) numbers of what nginx's master keeps (CapEff in /proc/PID/status is their bit mask).
CAPABILITY_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "SETGID": 6, "SETUID": 7}


def processes(stack, service: str) -> list[dict[str, str]]:
    """Name, Uid and CapEff of every process in the service's container but the shell that reads them."""
    script = ("for s in /proc/[0-9]*/status; do [ \"${s#/proc/}\" = \"$$/status\" ] && continue; "
              "grep -E '^(Name|Uid|CapEff):' $s | tr '\\t\\n' '  '; echo; done")
    out = stack.compose("exec", "-T", service, "sh", "-c", script).stdout
    fields = re.compile(r"Name:\s*(?P<Name>\S+).*Uid:\s*(?P<Uid>\d+).*CapEff:\s*(?P<CapEff>[0-9a-f]+)")
    return [m.groupdict() for m in map(fields.search, out.splitlines()) if m]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_keeps_only_its_capabilities_on_a_read_only_root(https_stack, service):
    confinement = CONFINEMENT[service]
    host = container(https_stack, service)["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"] or []) == sorted(cap for cap, _ in confinement.capabilities)
    assert host["ReadonlyRootfs"] is True
    assert host["MemorySwap"] == host["Memory"] > 0  # no swap beyond the memory limit
    assert set(host.get("Tmpfs") or {}) == {path for path, _, _ in confinement.tmpfs}
    # From inside: / is mounted read-only, and the service's user can write to each tmpfs folder.
    probe = ("grep -E '^[^ ]+ / ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; "
             "for d in \"$@\"; do touch $d/probe && rm $d/probe && echo $d=writable; done")
    out = https_stack.compose("exec", "-T", service, "sh", "-c", probe, "sh",
                              *(path for path, _, _ in confinement.tmpfs)).stdout.split()
    assert out == ["ro", *(f"{path}=writable" for path, _, _ in confinement.tmpfs)]


def test_nginx_master_holds_exactly_its_capabilities_and_workers_none(https_stack):
    rows = [r for r in processes(https_stack, "nginx") if r["Name"] == "nginx"]  # not a healthcheck's bash
    master = [r for r in rows if r["Uid"] == "0"]
    workers = [r for r in rows if r["Uid"] != "0"]
    assert len(master) == 1 and master[0]["Name"] == "nginx", rows
    assert int(master[0]["CapEff"], 16) == sum(1 << bit for bit in CAPABILITY_BITS.values())
    assert {cap for cap, _ in CONFINEMENT["nginx"].capabilities} == set(CAPABILITY_BITS)
    assert workers and all(int(r["CapEff"], 16) == 0 for r in workers), rows


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "nginx"])
def test_the_other_services_run_unprivileged_without_capabilities(https_stack, service):
    rows = processes(https_stack, service)
    assert rows and all(r["Uid"] != "0" and int(r["CapEff"], 16) == 0 for r in rows), rows


def test_nginx_starts_when_the_deploying_user_owns_its_files(https_stack):
    """As deployed by a non-root user: the key (0600) is that user's, which root without DAC_OVERRIDE
    could not read. CI runs as root, so the test hands it over. (nginx has no log folder on the host
    any more: it logs to its container output.)"""
    folders = [https_stack.root / "compose/nginx" / "ssl"]
    owner, group = folders[0].stat().st_uid, folders[0].stat().st_gid
    if owner != 0:
        pytest.skip("the stack's files already belong to a non-root user: every test here shows this case")
    try:
        subprocess.run(["chown", "-R", "4321:4321", *map(str, folders)], check=True)
        assert (folders[0] / "privkey.pem").stat().st_mode & 0o077 == 0
        https_stack.compose("restart", "nginx")
        deadline = time.monotonic() + 30
        while https_stack.services()["nginx"].get("Health") != "healthy" and time.monotonic() < deadline:
            time.sleep(1)
        assert https(https_stack, "/").status_code == 200
        assert https_stack.services()["nginx"].get("Health") == "healthy"
    finally:
        subprocess.run(["chown", "-R", f"{owner}:{group}", *map(str, folders)], check=True)
        https_stack.compose("restart", "nginx")
        https_stack.wait_docker_healthy()
