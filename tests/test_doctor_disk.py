"""doctor's disk and growth findings (doctor/disk.py) on recorded numbers, and the full-disk lines
MySQL and the services write (recorded from MySQL 8.4 and MariaDB 11.8)."""

from __future__ import annotations

import dataclasses

import pytest

from djstack.doctor.diagnose import diagnose
from djstack.doctor.disk import (BUILD_CACHE_BYTES, FULL_FREE_BYTES, GB, LOW_FREE_BYTES, disk_checked,
                                 disk_findings, parse_size)
from djstack.doctor.evidence import read_evidence
from djstack.doctor.facts import Probe
from djstack.doctor.finding import ERROR, WARNING
from djstack.model import BadEnvEntry, bad_env_entries, parse_log_files, parse_log_size
from test_diagnose_rank import facts, stack  # noqa: F401 (stack: a fixture)

SITE_OK = Probe("site", True, "GET / through nginx: 200")


def space(free: int, total: int = 100 * GB, device: int = 1, path: str = "/var/lib/docker") -> dict:
    return {"path": path, "free": free, "total": total, "device": device}


def found(stack, **disk) -> list[tuple[str, str]]:
    return [(f.id, f.severity) for f in disk_findings(stack, {"log_cap": stack.logs.service_bytes, **disk})]


@pytest.mark.parametrize("free, total, expected", [
    (LOW_FREE_BYTES + GB, 20 * GB, []),  # 6 GB of 20: 30 %
    (LOW_FREE_BYTES - 1, 20 * GB, [("host-disk-low", WARNING)]),  # under 5 GB
    (9 * GB, 100 * GB, [("host-disk-low", WARNING)]),  # 9 GB, but under 10 %
    (FULL_FREE_BYTES - 1, 20 * GB, [("host-disk-full", ERROR)]),
    (15 * GB, 1000 * GB, [("host-disk-full", ERROR)]),  # 1.5 %: under 2 %
])
def test_free_space_thresholds(stack, free, total, expected):
    assert found(stack, root=space(free, total)) == expected


def test_the_backup_folder_counts_only_on_a_disk_of_its_own(stack):
    low = space(2 * GB, 100 * GB, device=2, path="/srv/mysite/backups")
    assert found(stack, root=space(50 * GB), backups=low) == [("backup-disk-low", WARNING)]
    assert found(stack, root=space(50 * GB), backups={**low, "device": 1}) == []  # the root's: judged there


def test_growth_warnings(stack):
    assert found(stack, root=space(50 * GB), volumes={"mysite_db": 60 * GB, "mysite_media": GB}) == [
        ("volume-outgrows-disk", WARNING)]
    assert found(stack, build_cache=BUILD_CACHE_BYTES + 1) == [("build-cache-large", WARNING)]
    cap = stack.logs.service_bytes
    assert found(stack, logs={"web": cap, "nginx": 3 * cap}) == [("log-unbounded", WARNING)]


def test_a_remote_engine_is_not_measured_and_not_judged(stack):
    disk = {"root": {"path": "/var/lib/docker", "error": "the engine is on another host (DOCKER_HOST)"}}
    assert disk_findings(stack, disk) == []
    assert disk_checked(disk) == ["Docker's data root /var/lib/docker: not measured "
                                  "(the engine is on another host (DOCKER_HOST))"]


def test_docker_sizes():
    assert [parse_size(t) for t in ("0B", "12kB", "126.1MB", "1.5GB", "", "n/a")] == [
        0, 12_000, 126_100_000, 1_500_000_000, 0, 0]


# MySQL 8.4 with its data volume's disk full, and what web then got (the lines as they are logged).
MYSQL_BINLOG_FULL = ("2026-12-02T11:40:03.118243Z 12 [ERROR] [MY-000035] [Server] Disk is full writing "
                     "'./binlog.000002' (OS errno 28 - No space left on device). Waiting for someone to free "
                     "space... Retry in 60 secs. Message reprinted in 600 secs.")
MYSQL_INNODB_FULL = ("2026-12-02T11:40:05.001122Z 0 [ERROR] [MY-012144] [InnoDB] posix_fallocate(): Failed to "
                     "preallocate data for file ./mysite/notes_note.ibd, desired size 16384 bytes. Operating "
                     "system error number 28. Check that the disk is not full or a disk quota exceeded.")
WEB_TABLE_FULL = 'django.db.utils.OperationalError: (1114, "The table \'notes_note\' is full")'


@pytest.mark.parametrize("logs", [
    {"db": [MYSQL_BINLOG_FULL]},
    {"db": [MYSQL_INNODB_FULL]},
    {"web": [WEB_TABLE_FULL]},
])
def test_mysql_disk_full_lines_are_the_full_disk(stack, logs):
    names = {"db": stack.services.db, "web": stack.services.web}
    report = diagnose(stack, facts(stack, logs={names[k]: v for k, v in logs.items()}, probes=(SITE_OK,)))
    assert report.findings[0].id == "db-disk-full"


def test_a_measured_full_disk_is_the_cause_of_db_and_web_failing(stack):
    failing = facts(stack, states={"db": {"state": "restarting", "restarts": 4},
                                   "web": {"health": "unhealthy"}})
    measured = dataclasses.replace(failing, disk={"root": space(200 * 10**6, 20 * GB)})
    report = diagnose(stack, measured)
    assert report.findings[0].id == "host-disk-full", [f.id for f in report.findings]
    assert "200.0 MB free of 20.0 GB" in report.findings[0].evidence[0]


def test_a_logged_full_disk_takes_the_measurement_as_evidence_not_a_second_finding(stack):
    logged = facts(stack, logs={stack.services.db: [MYSQL_BINLOG_FULL]}, probes=(SITE_OK,))
    report = diagnose(stack, dataclasses.replace(logged, disk={"root": space(10**6, 20 * GB)}))
    ids = [f.id for f in report.findings]
    assert ids[0] == "db-disk-full" and "host-disk-full" not in ids
    assert report.findings[0].evidence[0].startswith("Docker's data root /var/lib/docker: 1.0 MB free")


def test_healthy_disk_is_listed_as_checked(stack):
    report = diagnose(stack, dataclasses.replace(
        facts(stack, probes=(SITE_OK,)), disk={"root": space(50 * GB), "volumes": {"mysite_db": 2 * GB},
                                               "build_cache": 0, "logs": {"web": 10**6}, "log_cap": 5 * 10**7}))
    assert report.findings == []
    assert "Docker's data root /var/lib/docker: 50.0 GB free of 100.0 GB (50.0 %)" in report.checked
    assert "volumes: mysite_db 2.0 GB" in report.checked


@pytest.mark.parametrize("key, value", [("LOG_MAX_SIZE", "10x"), ("LOG_MAX_SIZE", "100k"),
                                        ("LOG_MAX_FILES", "0"), ("LOG_MAX_FILES", "many")])
def test_log_limits_in_env_are_judged(key, value):
    assert [e.key for e in bad_env_entries({key: value})] == [key]


def test_log_limits_parse():
    assert parse_log_size("20M") == "20m" and parse_log_files("3") == 3
    with pytest.raises(BadEnvEntry):
        parse_log_size("0")
