"""The benchmark harness in smoke mode (tiny load, seconds): it must run end to end and produce a
well-formed report with every row. No timing is asserted: the numbers of a smoke run mean nothing.
Nor are the deploy row's failure counts: they are measured, not asserted (the deploy e2e tests assert).
The soak's smoke (30 s on the same stack) is asserted: no error, no restart, every row written found."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from helpers import REPO, unique_name
from stacks import require_engine

pytestmark = pytest.mark.e2e

ROWS = ("dynamic page (DB)", "cached page (Redis)", "static file", "media file")
DEPLOY_WAYS = {"djstack-deploy": "`djstack deploy`", "compose-up": "`docker compose up -d --build`",
               "tutorial": "tutorial: "}
NUMBER = r"[\d.,]+"
SOAK_TABLES = ("| 10 s | requests | errors | p50 (ms) | p99 (ms) |", "| request | requests | errors |",
               "| service | memory at start (MiB) |", "| rows (notes) | written (201) | found afterwards |")
SOAK_SERVICES = ("web", "db", "redis", "nginx", "worker")
INPROCESS_ROWS = {"dynamic page (DB)": "/", "cached page (Redis)": "/cached-page/"}


def deploy_cells(report: str, label: str) -> list[str]:
    line = next((l for l in report.splitlines() if l.startswith(f"| {label}")), None)
    assert line, f"deploy row {label!r} missing\n{report}"
    cells = [c.strip() for c in line.split("|")[2:-1]]
    assert len(cells) == 6, line  # requests, failed, gap, p99, to new version, command
    return cells


def check_measured_deploy(cells: list[str], result: dict, label: str) -> None:
    requests, failed, gap, p99, serving, command = cells
    assert re.fullmatch(NUMBER, requests) and int(requests.replace(",", "")) == result["requests"] > 0, cells
    assert re.fullmatch(r"\d+( \(.+\))?", failed), f"{label}: failed requests not a count: {failed!r}"
    assert re.fullmatch(NUMBER, gap) and re.fullmatch(NUMBER, p99), cells
    assert re.fullmatch(NUMBER, serving), f"{label}: the new version never answered: {cells}"
    assert re.fullmatch(NUMBER, command), f"{label}: the command failed or timed out: {cells}"
    assert result["accepted_posts"] > 0 and result["stopped_by"] == "block", result


def test_bench_smoke(tmp_path):
    require_engine()
    proc = subprocess.run(
        ["sh", str(REPO / "bench" / "run.sh"), "--smoke", "--out", str(tmp_path / "out"),
         # Compose project names of its own (BENCH_PREFIX to choose them): the benchmark first removes
         # the stacks of its prefix, and the default one's (bench-djstack…) may be a person's full run.
         "--prefix", os.environ.get("BENCH_PREFIX") or unique_name("bench-smoke")],
        capture_output=True, text=True, timeout=1200, env={**os.environ, "BENCH_PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))

    for endpoint in ROWS:
        rows = [line for line in report.splitlines() if line.startswith(f"| {endpoint} |")]
        assert len(rows) == 2, f"{endpoint}: expected a throughput and a latency row\n{report}"  # one level in smoke
        throughput = rows[0].split("|")[1:-1]
        assert len(throughput) == 13
        for cell in throughput[2:4] + throughput[5:6] + throughput[7:8]:  # djstack, tutorial, Gunicorn, Granian
            assert re.fullmatch(r"\s*[\d,]+\s*", cell), f"{endpoint}: not a number: {cell!r}"
        for cell in (throughput[4], throughput[6], throughput[8]):
            assert re.fullmatch(r"\s*[\d.]+×\s*", cell), f"{endpoint}: not a ratio: {cell!r}"
        in_process, share = throughput[11].strip(), throughput[12].strip()  # the in-process ceiling, ÷
        if endpoint in INPROCESS_ROWS:
            assert re.fullmatch(r"[\d,]+", in_process) and re.fullmatch(r"[\d.]+×", share), throughput
        else:
            assert in_process == share == "—", throughput
    check_inprocess(report, results)
    for label in ("web image build", "rebuild after a code-only change", "web image size", "to healthy"):
        line = next((l for l in report.splitlines() if label in l), None)
        assert line, f"missing row {label!r}\n{report}"
        cells = [c.strip() for c in line.split("|")[2:-1]]  # djstack, tutorial, ratio, Gunicorn
        assert re.fullmatch(r"[\d.,]+", cells[0]), f"row {label!r} lacks djstack's figure: {line}"
        if "code-only" not in label:  # the tutorial's rebuild is skipped in smoke mode (minutes)
            assert re.fullmatch(r"[\d.,]+", cells[1]), f"row {label!r} lacks the tutorial's figure: {line}"
    assert report.count("| yes |") + report.count("| NO |") == len(results["targets"]) == 11
    for target in ("dynamic page ≥ 0.8× its in-process ceiling", "dynamic page ahead of Granian at 8 and 32"):
        assert any(t["target"].startswith(target) and t["met"] is not None for t in results["targets"]), target
    # Every request of the smoke load was answered 2xx/3xx: the harness measured working stacks.
    for row in results["load"]:
        for name, load in row["stacks"].items():
            assert load["errors"] == 0, f"{row['endpoint']} on {name}: {load['errors']} errors"

    # The deploy row: the same code-only change three ways under load, each one a row.
    assert "### Requests failed during a deploy" in report, report
    deploy = results["deploy"]
    check_measured_deploy(deploy_cells(report, DEPLOY_WAYS["compose-up"]), deploy["compose-up"], "compose up")
    djstack_cells = deploy_cells(report, DEPLOY_WAYS["djstack-deploy"])
    if "skipped" in deploy["djstack-deploy"]:  # until the command exists, the row says so and nothing fails
        assert djstack_cells[0] == "not measured: djstack deploy missing", djstack_cells
    else:
        check_measured_deploy(djstack_cells, deploy["djstack-deploy"], "djstack deploy")
    assert deploy_cells(report, DEPLOY_WAYS["tutorial"])[0].startswith("skipped in smoke mode"), report

    check_https(report, results["https"])
    check_soak(report, results["soak"])


def check_https(report: str, h: dict) -> None:
    """The HTTPS rows are whole: handshakes that really resumed, keep-alive rows without errors, the
    page with its assets over the protocol each row names."""
    section = report[report.index("### HTTPS (djstack --tls self-signed"):]
    for version in ("1.3", "1.2"):
        for server in ("djstack", "bare nginx"):
            line = next((l for l in section.splitlines() if l.startswith(f"| {version} | {server} |")), None)
            assert line, f"no handshake row for TLS {version} on {server}\n{section}"
            cells = [c.strip() for c in line.split("|")[3:-1]]
            assert all(re.fullmatch(NUMBER, c) for c in cells[:2]) and re.fullmatch(r"[\d.]+×", cells[2]), line
        key = f"djstack/{version}"
        assert h["handshakes"][f"{key}/full"]["resumed"] == 0, h["handshakes"]
        resumed = h["handshakes"][f"{key}/resumed"]
        # Tickets off: sessions resume from nginx's shared cache (TLS 1.3: stateful tickets naming its entries).
        assert resumed["connections"] > 0 and resumed["resumed"] >= 0.9 * resumed["connections"], resumed
    for endpoint in ("dynamic page (DB)", "static file"):
        line = next((l for l in section.splitlines() if l.startswith(f"| {endpoint} over HTTPS |")), None)
        assert line, f"no HTTPS row for {endpoint}\n{section}"
        cells = [c.strip() for c in line.split("|")[3:-1]]
        assert re.fullmatch(NUMBER, cells[0]) and re.fullmatch(NUMBER, cells[1]) and re.fullmatch(r"[\d.]+×", cells[2]), line
        if endpoint == "static file":
            assert re.fullmatch(NUMBER, cells[3]) and re.fullmatch(r"[\d.]+×", cells[4]), line
    for row in h["keepalive"]:
        for name, load in row["servers"].items():
            assert load["errors"] == 0, f"HTTPS {row['endpoint']} on {name}: {load['errors']} errors"
    assert len(h["page_files"]) >= 2, h["page_files"]  # the page and at least its stylesheet
    assert sorted(r["protocol"] for r in h["h2"]) == ["h2", "http/1.1"], h["h2"]
    for row in h["h2"]:
        assert row["errors"] == 0 and row["requests"] == row["connections"] * h["per_client"], row
        assert re.search(rf"\| {re.escape(row['protocol'])} \| {row['connections']} \| {row['streams']} \| {NUMBER} \|", section), row


def check_inprocess(report: str, results: dict) -> None:
    """The in-process ceilings ran in djstack's web, in uWSGI's processes, and every call answered."""
    section = report[report.index("### In-process ceiling (no server, no nginx)"):]
    for endpoint, path in INPROCESS_ROWS.items():
        found = results["inprocess"][endpoint]
        assert found["path"] == path and found["requests"] > 0 and found["errors"] == 0, found
        assert found["processes"] >= 1 and found["cpu_ms_per_request"] > 0, found
        line = next((l for l in section.splitlines() if l.startswith(f"| {path} | {endpoint} |")), None)
        assert line, f"in-process row {endpoint!r} missing\n{section}"
        assert all(re.fullmatch(r"[\d.,]+( %)?", c.strip()) for c in line.split("|")[3:-1]), line
    assert re.search(r"Granian [\d.]+ \(WSGI\): \d+ workers × \d+ blocking threads", report), report[:1500]


def check_soak(report: str, soak: dict) -> None:
    """The soak section is whole, and the stack held: every request answered, nothing restarted,
    every note answered 201 is in the database and no other one with the soak's tag."""
    section = report[report.index("### Soak: 0.5 min at 70 % of the sustained rate"):]
    for table in SOAK_TABLES:
        assert table in section, f"soak table missing: {table}\n{section}"
    windows = [l for l in section.splitlines() if re.match(r"\| \d+–\d+ s \|", l)]
    assert len(windows) == 3 == len(soak["windows"]), section  # 30 s in windows of 10
    for line in windows:
        cells = [c.strip() for c in line.split("|")[2:-1]]
        assert all(re.fullmatch(NUMBER, c) for c in cells), f"soak window without figures: {line}"
    for service in SOAK_SERVICES:
        line = next((l for l in section.splitlines() if l.startswith(f"| {service} |")), None)
        assert line, f"soak: no memory row for {service}\n{section}"
        assert all(re.fullmatch(r"[+-]?[\d.,]+", c.strip()) for c in line.split("|")[2:-1]), line
    assert soak["ramp"]["sustained_rps"] > 0 and soak["rate"] > 0 and soak["requests"] > 0, soak["ramp"]
    assert soak["errors"] == 0, f"soak: {soak['errors']} errors: {soak['errors_by_kind']}"
    assert soak["restarts"] == 0, soak["services"]
    assert soak["rows_written"] > 0 and soak["rows_written"] == soak["rows_found"], soak
    assert soak["rows_missing"] == soak["rows_unexpected"] == 0, soak
    assert f"**Errors: 0 of {soak['requests']:,} requests** (target 0); restarts: 0 (target 0); " \
           f"rows written {soak['rows_written']:,}, found {soak['rows_found']:,}" in section, section
