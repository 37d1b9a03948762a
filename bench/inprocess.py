"""The in-process ceiling of a page: the stack's own WSGI callable called directly in a loop, with no
server and no nginx, in as many processes as the stack's uWSGI runs, inside the stack's own web
container (same image, settings, database and cache). What a served stack reaches as a fraction of
it is the cost of the server and the proxy, made visible.

Two halves in one file, standard library only:
- on the host, `measure(compose_cmd, path, seconds, warmup)` runs this very file inside the web
  container (`docker compose exec -T web python - ARGS`, the file on standard input) and returns
  its figures;
- in the container, `main()` reads /app/compose/web/uwsgi.ini (module, processes), imports the
  application once and forks as uWSGI does (no lazy-apps: the app is loaded before the fork, each
  process opens its own database and cache connections on its first request), warms each process
  up, then counts requests and the CPU time each process spent (resource.getrusage) over the same
  wall-clock window. The CPU is the web process's own: the database's and Redis's are not in it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

UWSGI_INI = "/app/compose/web/uwsgi.ini"


def uwsgi_option(ini: str, name: str) -> str | None:
    """The last value of `name` in the [uwsgi] section of an ini text (uWSGI keeps the last one).
    djstack's own reader (djstack.check.models.uwsgi.read_ini) is not used: this file runs in the web
    container too, where djstack is not installed and only the standard library is."""
    section, value = None, None
    for raw in ini.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, val = line.partition("=")
        if sep and section == "uwsgi" and key.strip().lower().replace("_", "-") == name:
            value = val.strip()
    return value


def expand(value: str, cores: int, environ: dict[str, str]) -> str:
    """uWSGI's magic variables that a count may use: %k (CPU cores) and $(NAME) (the environment)."""
    value = value.replace("%k", str(cores))
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: environ.get(m.group(1), ""), value)


def uwsgi_sizing(ini: str, cores: int, environ: dict[str, str] | None = None) -> dict:
    """processes, threads and the WSGI module (module = pkg.wsgi:application) an ini text gives."""
    environ = dict(os.environ if environ is None else environ)

    def count(*names: str, default: int) -> int:
        for name in names:
            raw = uwsgi_option(ini, name)
            if raw is not None:
                text = expand(raw, cores, environ).strip()
                if not re.fullmatch(r"\d+", text):
                    raise ValueError(f"uwsgi.ini: {name} = {raw!r} is not a count")
                return max(1, int(text))
        return default

    module = uwsgi_option(ini, "module") or uwsgi_option(ini, "wsgi")
    if not module:
        raise ValueError("uwsgi.ini names no module (module = package.wsgi:application)")
    return {"processes": count("processes", "workers", "p", default=1),
            "threads": count("threads", default=1), "module": module}


def environ_for(path: str, host: str = "localhost") -> dict:
    """A GET as nginx hands it to uWSGI (uwsgi_params and djstack's X-Forwarded-* headers), over HTTP."""
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path_info, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "REQUEST_URI": path, "SERVER_NAME": host, "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": host,
        "HTTP_USER_AGENT": "djstack-bench-inprocess", "HTTP_ACCEPT": "*/*",
        "HTTP_X_FORWARDED_FOR": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "http",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }


def call(app, path: str, host: str) -> int:
    """One request through the WSGI callable, body read and closed as a server does; its status."""
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(int(line.split(" ", 1)[0]))
        return lambda data: None

    body = app(environ_for(path, host), start_response)
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return status[0]


def cpu_seconds() -> float:
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def loop(app, path: str, host: str, start_at: float, end_at: float) -> dict:
    """Warm up until start_at, then count answers until end_at (the same window in every process)."""
    while time.time() < start_at:
        call(app, path, host)
    cpu0, t0, requests, errors = cpu_seconds(), time.time(), 0, 0
    while time.time() < end_at:
        status = call(app, path, host)
        requests += 1
        if not 200 <= status < 400:
            errors += 1
    return {"requests": requests, "errors": errors, "cpu_s": cpu_seconds() - cpu0, "wall_s": time.time() - t0}


def combine(per_process: list[dict]) -> dict:
    """The processes' figures as one: requests/s over the shared window, CPU ms per request."""
    requests = sum(p["requests"] for p in per_process)
    wall = max(p["wall_s"] for p in per_process)
    cpu = sum(p["cpu_s"] for p in per_process)
    return {"processes": len(per_process), "requests": requests, "errors": sum(p["errors"] for p in per_process),
            "rps": requests / wall if wall else 0.0,
            "cpu_ms_per_request": 1000 * cpu / requests if requests else None,
            "cpu_busy": cpu / (wall * len(per_process)) if wall else None}


def main(argv: list[str] | None = None) -> int:
    """In the web container: fork, loop, print one JSON line of the combined figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--ini", default=UWSGI_INI)
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    sizing = uwsgi_sizing(Path(args.ini).read_text(encoding="utf-8"), cores)
    module, _, attr = sizing["module"].partition(":")
    sys.path.insert(0, os.getcwd())
    import importlib
    app = getattr(importlib.import_module(module), attr or "application")
    start_at = time.time() + args.warmup + 0.2 * sizing["processes"]  # the forks start first
    end_at = start_at + args.seconds
    children = []
    for _ in range(sizing["processes"]):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            code = 0
            try:
                out = loop(app, args.path, args.host, start_at, end_at)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails
                out, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
            os.write(write_end, json.dumps(out).encode())
            os.close(write_end)
            os._exit(code)
        os.close(write_end)
        children.append((pid, read_end))
    results = []
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as fh:
            results.append(json.loads(fh.read() or b'{"error": "no answer"}'))
        os.waitpid(pid, 0)
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        print(json.dumps({"error": failed[0]}))
        return 1
    print(json.dumps({**combine(results), "threads_in_uwsgi": sizing["threads"], "module": sizing["module"],
                      "path": args.path, "seconds": args.seconds}))
    return 0


def measure(compose_cmd, path: str, seconds: float, warmup: float, timeout: float | None = None) -> dict:
    """On the host: this file run in the stack's web container (compose_cmd builds the
    `docker compose -p … exec` command line); its JSON figures."""
    cmd = compose_cmd("exec", "-T", "web", "python", "-", "--path", path, "--seconds", str(seconds),
                      "--warmup", str(warmup))
    proc = subprocess.run(cmd, input=Path(__file__).read_text(encoding="utf-8"), capture_output=True, text=True,
                          timeout=timeout or seconds + warmup + 120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    found = json.loads(lines[-1]) if lines else {}
    if proc.returncode != 0 or not found or "error" in found:
        raise SystemExit(f"in-process ceiling of {path} failed ({proc.returncode}): "
                         f"{found.get('error', '')}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return found


if __name__ == "__main__":
    sys.exit(main())


#: The load rows that get an in-process ceiling (row name -> path); the others are nginx's own work.
PAGES = {"dynamic page (DB)": "/", "cached page (Redis)": "/cached-page/"}


def report_lines(results: dict) -> list[str]:
    """The report's section on the in-process ceilings (empty when none was measured)."""
    found = results.get("inprocess") or {}
    if not found:
        return []
    lines = [
        "",
        "### In-process ceiling (no server, no nginx)",
        "",
        "djstack's own WSGI callable called in a loop inside its web container (same image, settings, "
        "database and cache), in as many processes as its uwsgi.ini runs, for the same seconds as a load "
        "measurement after the same warm-up; median of the rounds. CPU per request is the web processes' "
        "user + system time (getrusage) over their requests: the database's and Redis's are not in it. "
        "djstack ÷ in-process in the throughput table is the share of this ceiling the served stack "
        "keeps: what is missing is uWSGI's, nginx's and wrk's cost on the same cores.",
        "",
        # Path first: a line starting with the row's name is the load tables' (the smoke counts them).
        "| path | endpoint | processes | requests/s | CPU per request (ms) | CPU busy per process | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for endpoint, x in found.items():
        cpu = "n/a" if x.get("cpu_ms_per_request") is None else f"{x['cpu_ms_per_request']:.2f}"
        busy = "n/a" if x.get("cpu_busy") is None else f"{100 * x['cpu_busy']:.0f} %"
        lines.append(f"| {x['path']} | {endpoint} | {x['processes']} | {x['rps']:,.0f} | {cpu} | {busy} | "
                     f"{x['errors']} |")
    return lines
