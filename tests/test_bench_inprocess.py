"""bench/inprocess.py (the in-process ceiling) and bench/granian_stack.py (the Granian contender's
files): the sizing read from the generated uwsgi.ini, the WSGI loop against a small app in forked
processes as the web container runs it, the figures combined, the report section and the Granian
stack's override written from a generated stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import BENCH, REPO
import granian_stack  # bench/granian_stack.py (helpers puts bench/ on the path)
import inprocess  # bench/inprocess.py

GOLDEN_INI = (REPO / "tests" / "golden" / "mysite-debian" / "compose" / "web" / "uwsgi.ini.golden").read_text(
    encoding="utf-8")


def test_sizing_of_the_generated_uwsgi_ini_follows_the_cores():
    assert inprocess.uwsgi_sizing(GOLDEN_INI, 3) == {"processes": 3, "threads": 2, "module": "mysite.wsgi:application"}
    assert inprocess.uwsgi_sizing(GOLDEN_INI, 1)["processes"] == 1


def test_sizing_reads_the_last_value_of_the_uwsgi_section_and_the_environment():
    ini = ("[other]\nprocesses = 9\n[uwsgi]\n; processes = 7\nmodule = app.wsgi\nprocesses = 2\n"
           "processes = $(WEB_PROCESSES)\nthreads=4\n")
    assert inprocess.uwsgi_sizing(ini, 2, {"WEB_PROCESSES": "5"}) == {"processes": 5, "threads": 4, "module": "app.wsgi"}
    with pytest.raises(ValueError, match="not a count"):
        inprocess.uwsgi_sizing(ini, 2, {})  # $(WEB_PROCESSES) unset: empty
    with pytest.raises(ValueError, match="no module"):
        inprocess.uwsgi_sizing("[uwsgi]\nprocesses = 2\n", 2, {})


def test_environ_is_a_get_over_http_as_nginx_sends_it():
    env = inprocess.environ_for("/cached-page/?a=1")
    assert (env["REQUEST_METHOD"], env["PATH_INFO"], env["QUERY_STRING"]) == ("GET", "/cached-page/", "a=1")
    assert env["HTTP_X_FORWARDED_PROTO"] == "http" and env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == "localhost" and env["wsgi.input"].read() == b""


def test_call_reads_and_closes_the_body():
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return Body([b"a", b"b"])

    assert inprocess.call(app, "/", "localhost") == 404
    assert closed == [True]


def test_combine_adds_the_processes_over_one_window():
    got = inprocess.combine([{"requests": 300, "errors": 0, "cpu_s": 0.9, "wall_s": 1.0},
                             {"requests": 100, "errors": 2, "cpu_s": 0.3, "wall_s": 0.98}])
    assert got["processes"] == 2 and got["requests"] == 400 and got["errors"] == 2
    assert got["rps"] == pytest.approx(400.0)
    assert got["cpu_ms_per_request"] == pytest.approx(3.0)
    assert got["cpu_busy"] == pytest.approx(0.6)


APP = '''
import time

def application(environ, start_response):
    time.sleep(0.002)
    status = "200 OK" if environ["PATH_INFO"] == "/" else "500 Internal Server Error"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]
'''


@pytest.mark.parametrize("path,errors", [("/", False), ("/broken/", True)])
def test_the_script_forks_uwsgi_s_processes_and_counts_answers(tmp_path, path, errors):
    """The file as the web container runs it (on standard input, the ini and the app in its folder)."""
    (tmp_path / "siteapp.py").write_text(APP, encoding="utf-8")
    (tmp_path / "uwsgi.ini").write_text("[uwsgi]\nmodule = siteapp:application\nprocesses = 2\nthreads = 2\n",
                                        encoding="utf-8")
    proc = subprocess.run([sys.executable, "-", "--path", path, "--seconds", "0.5", "--warmup", "0.1",
                           "--ini", str(tmp_path / "uwsgi.ini")], cwd=tmp_path, capture_output=True, text=True,
                          input=(BENCH / "inprocess.py").read_text(encoding="utf-8"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["processes"] == 2 and got["threads_in_uwsgi"] == 2 and got["path"] == path
    assert got["requests"] > 0 and got["rps"] > 0
    assert (got["errors"] == got["requests"]) if errors else got["errors"] == 0
    # sleeping is not CPU: well under the 2 ms each request waits
    assert got["cpu_ms_per_request"] < 2.0


def test_the_script_fails_when_the_app_raises(tmp_path):
    (tmp_path / "siteapp.py").write_text("def application(environ, start_response):\n    raise KeyError('x')\n")
    (tmp_path / "uwsgi.ini").write_text("[uwsgi]\nmodule = siteapp:application\nprocesses = 1\n")
    proc = subprocess.run([sys.executable, "-", "--path", "/", "--seconds", "0.2", "--warmup", "0",
                           "--ini", str(tmp_path / "uwsgi.ini")], cwd=tmp_path, capture_output=True, text=True,
                          input=(BENCH / "inprocess.py").read_text(encoding="utf-8"), timeout=60)
    assert proc.returncode == 1
    assert "KeyError" in json.loads(proc.stdout.strip().splitlines()[-1])["error"]


def test_report_section_lists_each_page():
    results = {"inprocess": {"dynamic page (DB)": {"path": "/", "processes": 2, "rps": 1234.5,
                                                   "cpu_ms_per_request": 1.5, "cpu_busy": 0.93, "errors": 0}}}
    lines = inprocess.report_lines(results)
    assert "### In-process ceiling (no server, no nginx)" in lines
    assert "| / | dynamic page (DB) | 2 | 1,234 | 1.50 | 93 % | 0 |" in lines
    assert inprocess.report_lines({"inprocess": {}}) == []


def test_granian_stack_is_sized_like_uwsgi_and_proxied_over_http(tmp_path):
    (tmp_path / "compose" / "web").mkdir(parents=True)
    (tmp_path / "compose" / "web" / "uwsgi.ini").write_text(GOLDEN_INI, encoding="utf-8")
    env = granian_stack.prepare(tmp_path, "p-djstack-web:latest", "proxied conf", cores=4)
    assert env == {"GRANIAN_FROM_IMAGE": "p-djstack-web:latest", "BENCH_GRANIAN_WORKERS": "4",
                   "BENCH_GRANIAN_THREADS": "2"}
    assert (tmp_path / "nginx-granian.conf").read_text() == "proxied conf"
    dockerfile = (tmp_path / "compose" / "granian" / "Dockerfile").read_text()
    assert "FROM ${WEB_IMAGE}" in dockerfile and "granian" in dockerfile
    override = (tmp_path / "compose.granian.yml").read_text()
    for needle in ("--interface wsgi", '--workers "$$BENCH_GRANIAN_WORKERS"',
                   '--blocking-threads "$$BENCH_GRANIAN_THREADS"', "./nginx-granian.conf:/etc/nginx/nginx.conf:ro",
                   "context: ./compose/granian"):
        assert needle in override, needle
    for variable in env:
        assert "${" + variable + ":?}" in override, variable
