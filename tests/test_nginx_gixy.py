"""gixy-ng, the nginx configuration scanner, on every shape of nginx.conf djstack renders: no finding
at medium severity or above."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from djstack import render
from test_render import HTTPS_OPTIONS, celery_stack, golden_stack

GIXY = Path(sys.executable).with_name("gixy")
#: Findings accepted, by TLS mode and gixy plugin, each with why.
ACCEPTED = {
    ("self-signed", "hsts_header"): "no HSTS with a self-signed certificate, by design (model.build_stack): "
                                    "a browser would pin a site whose certificate it does not trust",
}


def variant(stack, name: str):
    """The golden stack changed in one respect the template branches on."""
    project = stack.project
    return {
        "as-is": stack,
        "no-login-limit": replace(stack, login_rate=0),
        "cdn-files": replace(stack, project=replace(project, static_url="https://cdn.example.com/static/",
                                                    media_url="https://cdn.example.com/media/")),
        "own-csp": replace(stack, project=replace(project, own_csp="csp.middleware.CSPMiddleware")),
        "strict-report-only": replace(stack, csp="strict-report-only"),
        "strict": replace(stack, csp="strict"),
        "any-host": replace(stack, hosts=("*",)),
        "flower": stack,  # given a Celery app and --flower (test_render.celery_stack)
        "flower-strict": replace(stack, csp="strict"),
    }[name]




TLS = {"http": {}, "provided": HTTPS_OPTIONS, "self-signed": HTTPS_OPTIONS | {"tls": "self-signed"}}


def findings(conf: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    proc = subprocess.run([str(GIXY), "-f", "json", "-ll", str(path)], capture_output=True, text=True)
    assert proc.stdout.strip().startswith("["), proc.stderr  # gixy ran and parsed the file
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", ["as-is", "no-login-limit", "cdn-files", "own-csp", "strict-report-only",
                                  "strict", "any-host", "flower", "flower-strict"])
@pytest.mark.parametrize("tls", list(TLS))
def test_gixy_finds_nothing(example_copy, tmp_path, tls, name):
    base = celery_stack if name.startswith("flower") else partial(golden_stack, source="official")
    stack = variant(base(example_copy, **TLS[tls]), name)
    conf = next(o.content for o in render.render(stack) if o.path == "compose/nginx/nginx.conf")
    found = [f for f in findings(conf, tmp_path) if (tls, f["plugin"]) not in ACCEPTED]
    assert found == [], [(f["severity"], f["plugin"], f["summary"], f["reason"]) for f in found]


def test_gixy_does_report_what_it_checks(example_copy, tmp_path):
    """The scan is real: the rendered file with one fix undone is reported."""
    conf = next(o.content for o in render.render(golden_stack(example_copy, "official"))
                if o.path == "compose/nginx/nginx.conf")
    undone = "\n".join(line for line in conf.splitlines() if not line.startswith("worker_rlimit_nofile"))
    assert [f["plugin"] for f in findings(undone, tmp_path)] == ["worker_rlimit_nofile_vs_connections"]
