"""Benchmark: djstack's generated stack beside the tutorial's configuration, a Gunicorn stack and two
ceilings, all serving examples/mysite on this host, measured side by side in one run.

Run it through bench/run.sh (installs wrk when missing). Writes bench/results/<stamp>/report.md (and
results.json) and prints the report. `--smoke` is the seconds-long mode CI runs so the harness
cannot rot: same steps, tiny load, cached builds, a soak of seconds. `--soak` runs the soak alone on
djstack's stack (bench/soak.py; 10 minutes unless --minutes). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import requests

from djstack.compose import Compose  # the same readiness wait as `djstack up`
from djstack.lifecycle import wait_ready
from load import Load as SteadyLoad  # bench/load.py, beside this file (also used by the e2e tests)
import https  # bench/https.py: the HTTPS rows
from soak import report as soak_report  # bench/soak.py
from soak import soak as run_soak
from sandbox import EXAMPLE, copy_example, copy_project, free_port  # bench/sandbox.py (the tests' too)
import inprocess  # bench/inprocess.py: the in-process ceiling of the dynamic and cached pages
import granian_stack  # bench/granian_stack.py: the Granian contender

BENCH = Path(__file__).resolve().parent
DJSTACK = [sys.executable, "-m", "djstack"]
NGINX_IMAGE = "djstack.local/nginx:1.26-trixie"

ENDPOINTS = {  # row name -> path (media's path is filled in after the upload)
    "dynamic page (DB)": "/",
    "cached page (Redis)": "/cached-page/",
    "static file": "/static/gallery/site.css",
    "media file": None,
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, check: bool = True,
        timeout: float = 1800) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def timed(cmd: list[str], **kwargs) -> float:
    started = time.monotonic()
    run(cmd, **kwargs)
    return time.monotonic() - started


def http(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 10):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return None, b""


def wait_http(url: str, timeout: float, ok=lambda s: s == 200) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, _ = http(url, timeout=2)
        if status is not None and ok(status):
            return time.monotonic() - started
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def png_bytes(size: int = 160) -> bytes:
    """A valid PNG of random pixels (incompressible, so a realistic media file), without Pillow."""
    rng = random.Random(1)
    raw = b"".join(b"\x00" + bytes(rng.getrandbits(8) for _ in range(size * 3)) for _ in range(size))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def multipart(field_name: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- stacks -------------------------------------------------------------------------------------

@dataclass
class Stack:
    key: str  # djstack, tutorial, gunicorn, ceiling
    title: str
    root: Path  # folder holding the compose file
    project: str
    port: int
    files: list[str] = field(default_factory=lambda: ["docker-compose.yml"])
    env: dict[str, str] = field(default_factory=dict)
    media_path: str | None = None
    https_port: int | None = None  # the TLS stacks' (bench/https.py)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        cmd = ["docker", "compose", "-p", self.project]
        for f in self.files:
            cmd += ["-f", str(self.root / f)]
        return run([*cmd, *args], cwd=self.root, env=self.env, check=check, timeout=timeout)

    def compose_cmd(self, *args: str) -> list[str]:
        cmd = ["docker", "compose", "-p", self.project]
        for f in self.files:
            cmd += ["-f", str(self.root / f)]
        return [*cmd, *args]

    def remove(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--rmi", "local", check=False, timeout=600)
        # Images named after this project that `--rmi local` leaves (the release tags `djstack deploy`
        # adds; nginx's image after a deploy): only this project's names, never a global prune.
        listed = run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], check=False).stdout.split()
        ours = [i for i in listed if i.split(":")[0] == self.project or i.startswith(f"{self.project}-")]
        if ours:
            run(["docker", "image", "rm", "-f", *ours], check=False)


def djstack_init(root: Path, name: str, port: int, *more: str) -> None:
    run([*DJSTACK, "init", str(root), "--images", "debian", "--bind", "127.0.0.1", "--port", str(port),
         "--name", name, *more])


def make_djstack(work: Path, prefix: str) -> Stack:
    root = copy_example(work / "djstack" / "mysite")
    stack = Stack("djstack", "djstack", root, f"{prefix}-djstack", free_port())
    djstack_init(root, stack.project, stack.port)
    return stack


def make_tls(work: Path, prefix: str, djstack: Stack) -> tuple[Stack, Stack]:
    """djstack's stack again, with --tls self-signed (its web image from the same build cache), and a
    bare nginx with its certificate and TLS lines (bench/https.py writes its files once the stack is made)."""
    root = copy_example(work / "djstack-tls" / "mysite")
    stack = Stack("djstack-tls", "djstack over TLS", root, f"{prefix}-tls", free_port(), https_port=free_port())
    djstack_init(root, stack.project, stack.port, "--tls", "self-signed", "--domain", https.DOMAIN,
                 "--https-port", str(stack.https_port))
    bare_port = free_port()
    bare = Stack("bare-nginx-tls", "bare nginx over TLS", work / "https", f"{prefix}-https", bare_port,
                 env={"NGINX_IMAGE": NGINX_IMAGE, "TLS_PORT": str(bare_port)}, https_port=bare_port)
    https.write_bare(bare.root, root, EXAMPLE / "gallery" / "static" / "gallery" / "site.css")
    return stack, bare


def make_gunicorn(work: Path, prefix: str, cores: int) -> Stack:
    root = copy_example(work / "gunicorn" / "mysite")
    stack = Stack("gunicorn", "Gunicorn", root, f"{prefix}-gunicorn", free_port(),
                  files=["docker-compose.yml", "compose.gunicorn.yml"],
                  env={"WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", str(2 * cores + 1))})
    djstack_init(root, stack.project, stack.port)
    with open(root / "compose" / "web" / "requirements-stack.txt", "a", encoding="utf-8") as fh:
        fh.write("# Benchmark: Gunicorn instead of uWSGI.\ngunicorn>=23\n")
    shutil.copy(BENCH / "gunicorn" / "compose.gunicorn.yml", root / "compose.gunicorn.yml")
    nginx_conf = (root / "compose" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    (root / "nginx-gunicorn.conf").write_text(to_proxy_pass(nginx_conf), encoding="utf-8")
    return stack


def make_granian(work: Path, prefix: str, djstack: Stack) -> Stack:
    """djstack's stack with Granian for uWSGI, its web image FROM djstack's (bench/granian_stack.py)."""
    root = copy_example(work / "granian" / "mysite")
    stack = Stack("granian", "Granian", root, f"{prefix}-granian", free_port(), files=granian_stack.FILES)
    djstack_init(root, stack.project, stack.port)
    nginx_conf = (root / "compose" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    stack.env = granian_stack.prepare(root, f"{djstack.project}-web:latest", to_proxy_pass(nginx_conf))
    return stack


def to_proxy_pass(conf: str) -> str:
    """The generated nginx.conf with its uwsgi_pass block(s) replaced by proxy_pass over HTTP."""
    out, pos = [], 0
    for match in re.finditer(r"location / \{", conf):
        start = match.start()
        if start < pos:
            continue
        depth, i = 0, match.end() - 1
        while True:
            if conf[i] == "{":
                depth += 1
            elif conf[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        block = conf[start:i + 1]
        if "uwsgi_pass" not in block:
            continue
        indent = " " * 12
        upstream = re.search(r"set \$web ([^;]+);", block).group(1)
        proxy = ("location / {\n"
                 f"{indent}set $web {upstream};\n"
                 f"{indent}proxy_pass http://$web;\n"
                 f"{indent}proxy_read_timeout 65s;\n"
                 f"{indent}proxy_set_header Host $http_host;\n"
                 f"{indent}proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                 f"{indent}proxy_set_header X-Forwarded-Proto $scheme;\n"
                 "        }")
        out.append(conf[pos:start] + proxy)
        pos = i + 1
    out.append(conf[pos:])
    return "".join(out)


def make_tutorial(work: Path, prefix: str) -> Stack:
    root = work / "tutorial" / "myproject_docker"
    copy_project(BENCH / "tutorial", root)
    app = root / "myproject"
    fixtures = {p.name: p.read_bytes() for p in app.iterdir()}
    shutil.rmtree(app)
    copy_example(app)
    for name, content in fixtures.items():
        if name not in ("settings_append.py", "env"):
            (app / name).write_bytes(content)
    (app / ".env").write_bytes(fixtures["env"])
    with open(app / "mysite" / "settings.py", "a", encoding="utf-8") as fh:
        fh.write(fixtures["settings_append.py"].decode())
    # The tutorial's own bind mounts (its docker-compose.yml, not djstack's stack, which has no log
    # folder): made by us so that Docker does not create them as root in the work folder.
    for sub in ("compose/nginx/log", "compose/nginx/ssl", "compose/uwsgi"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ca = "/etc/ssl/certs/ca-certificates.crt"
    port = free_port()
    return Stack("tutorial", "tutorial", root, f"{prefix}-tutorial", port,
                 env={"BENCH_PORT": str(port), "PIP_CA_BUNDLE": ca if Path(ca).is_file() else "/dev/null"})


def make_ceiling(work: Path, prefix: str, djstack: Stack) -> tuple[Stack, Stack]:
    root = work / "ceiling"
    copy_project(BENCH / "ceiling", root)
    (root / "static" / "gallery").mkdir(parents=True)
    shutil.copy(EXAMPLE / "gallery" / "static" / "gallery" / "site.css", root / "static" / "gallery" / "site.css")
    ini = (djstack.root / "compose" / "web" / "uwsgi.ini").read_text(encoding="utf-8")
    ini = re.sub(r"(?m)^chdir\s*=.*$", "chdir = /bench", ini)
    ini = re.sub(r"(?m)^module\s*=.*$", "wsgi-file = /bench/const.py", ini)
    (root / "const").mkdir()
    (root / "const" / "const.ini").write_text(ini, encoding="utf-8")
    shutil.copy(root / "const.py", root / "const" / "const.py")
    static_port, const_port = free_port(), free_port()
    env = {"NGINX_IMAGE": NGINX_IMAGE, "WEB_IMAGE": f"{djstack.project}-web", "PROXY_IMAGE": f"{djstack.project}-nginx",
           "STATIC_PORT": str(static_port), "CONST_PORT": str(const_port)}
    static = Stack("bare-nginx", "bare nginx", root, f"{prefix}-ceiling", static_port, env=env)
    const = Stack("uwsgi-const", "uWSGI constant", root, f"{prefix}-ceiling", const_port, env=env)
    return static, const


def start_with_fresh_port(stack: Stack, start, *sharing: Stack) -> None:
    """Start; if that fails, once more on new ports: the free port picked at init may have been taken
    by another process on this shared host during the minutes of building."""
    try:
        start()
        return
    except SystemExit as exc:
        log(f"{stack.title}: start failed, retrying on a new port ({str(exc).splitlines()[0]})")
    stack.compose("down", "--remove-orphans", check=False)
    for s in (stack, *sharing):
        s.port = free_port()
    if stack.key in ("djstack", "gunicorn", "granian", "djstack-tls"):  # the port .env records (init would refuse: .env differs)
        env_file = stack.root / ".env"
        env_file.write_text(re.sub(r"(?m)^HTTP_PORT=.*$", f"HTTP_PORT={stack.port}", env_file.read_text()))
        if stack.https_port:
            stack.https_port = free_port()
            env_file.write_text(re.sub(r"(?m)^HTTPS_PORT=.*$", f"HTTPS_PORT={stack.https_port}", env_file.read_text()))
    elif stack.key == "bare-nginx-tls":
        stack.https_port = stack.port
        stack.env["TLS_PORT"] = str(stack.port)
    elif stack.key == "tutorial":
        stack.env["BENCH_PORT"] = str(stack.port)
    else:  # the ceilings share one project
        stack.env["STATIC_PORT"] = str(stack.port)
        stack.env["CONST_PORT"] = str(sharing[0].port)
    start()


# --- load ---------------------------------------------------------------------------------------

@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict:
        return self.__dict__


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, connections: int, seconds: float, headers: dict | None = None) -> Load:
    threads = max(1, min(2, connections))
    extra = [a for k, v in (headers or {}).items() for a in ("-H", f"{k}: {v}")]
    proc = run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                "--timeout", "10s", *extra, url], timeout=seconds + 60)
    out = proc.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return Load(rps, p50, p99, errors)


def median_run(runs: list[Load]) -> Load:
    """The run with the median throughput (the lower middle one for an even count)."""
    return sorted(runs, key=lambda x: x.rps)[(len(runs) - 1) // 2]


def seed(stack: Stack, notes: int) -> None:
    for i in range(notes):
        status, _ = http(stack.url + "/api/notes/", data=f"text=benchmark+note+{i}".encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 201:
            raise SystemExit(f"{stack.title}: POST /api/notes/ answered {status}")
    body, ctype = multipart("image", "bench.png", png_bytes(), "image/png")
    status, answer = http(stack.url + "/api/photos/", data=body, headers={"Content-Type": ctype})
    if status != 201:
        raise SystemExit(f"{stack.title}: POST /api/photos/ answered {status}: {answer[:300]!r}")
    stack.media_path = json.loads(answer)["url"]
    for path in ("/", "/cached-page/", "/static/gallery/site.css", stack.media_path):
        status, _ = http(stack.url + path)
        if status != 200:
            raise SystemExit(f"{stack.title}: GET {path} answered {status}")


# --- deploy under load ------------------------------------------------------------------------

MARKER_HEADER = "X-Bench-Release"
DEPLOY_WAYS = {  # key -> label in the report
    "djstack-deploy": "`djstack deploy`",
    "compose-up": "`docker compose up -d --build` (djstack's stack)",
    "tutorial": "tutorial: `docker compose build` + `docker compose up -d`",
}


def marker_change(app: Path, marker: str) -> None:
    """A code-only change whose effect can be seen: GET / answers with a header naming the release."""
    views = app / "gallery" / "views.py"
    views.write_text(views.read_text(encoding="utf-8") + (
        f"\n\n# benchmark deploy: release {marker}\n"
        f"_home_before_{marker} = home\n\n\n"
        f"def home(request):\n"
        f"    response = _home_before_{marker}(request)\n"
        f"    response[{MARKER_HEADER!r}] = {marker!r}\n"
        f"    return response\n"), encoding="utf-8")


def serves_marker(url: str, marker: str) -> bool:
    try:
        return requests.get(url + "/", timeout=2, headers={"Connection": "close"}).headers.get(MARKER_HEADER) == marker
    except Exception:  # noqa: BLE001 - down is simply "not yet"
        return False


def djstack_has_deploy() -> bool:
    return run([*DJSTACK, "deploy", "--help"], check=False, timeout=60).returncode == 0


def deploy_under_load(stack: Stack, way: str, commands: list[list[str]], marker: str, smoke: bool,
                      logs: Path) -> dict:
    """Run `commands` one after the other under a steady load of GETs and POSTs through the stack's
    nginx; measure from the first command's start until `after` seconds past the moment GET / first
    answers with the marker (or the commands fail, or time runs out)."""
    warm, after, limit, settle_limit = (1, 2, 600, 60) if smoke else (3, 5, 900, 120)
    log_file = logs / f"deploy-{way}.log"
    with SteadyLoad(stack.url, host=None, gets=("/",), post_path="/api/notes/", concurrency=4, pause=0.05,
                    max_seconds=limit + 60, tag=f"deploy-{way}") as load:
        time.sleep(warm)  # the steady state before the command
        t0 = time.monotonic()
        seen = None
        exits = []
        with open(log_file, "w", encoding="utf-8") as out:
            queue = list(commands)
            proc = None
            while time.monotonic() - t0 < limit:
                if proc is None and queue and (not exits or exits[-1] == 0):
                    cmd = queue.pop(0)
                    out.write(f"$ {' '.join(cmd)}\n")
                    out.flush()
                    proc = subprocess.Popen(cmd, cwd=stack.root, env={**os.environ, **stack.env},
                                            stdout=out, stderr=subprocess.STDOUT)
                if proc is not None and proc.poll() is not None:
                    exits.append(proc.returncode)
                    proc = None
                    ended = time.monotonic()
                if seen is None and serves_marker(stack.url, marker):
                    seen = time.monotonic()
                commands_done = proc is None and (not queue or exits[-1] != 0)
                if commands_done and (seen is not None or exits[-1] != 0):
                    break
                if commands_done and time.monotonic() - ended > settle_limit:
                    break  # exited 0 but never serves the new version: the row says "never"
                time.sleep(0.1)
            if proc is not None:  # out of time: stop it, the row says so
                proc.kill()
                proc.wait()
                exits.append(None)
                ended = time.monotonic()
        t1 = max(ended, seen or ended)
        time.sleep(after)  # the old release's removal comes after the new one serves
    summary = load.summary(t0, t1)
    by_kind: dict[str, int] = {}
    for f in load.failures:
        kind = str(f.status) if f.status is not None else f.error
        by_kind[kind] = by_kind.get(kind, 0) + 1
    failed = exits[-1] != 0 if exits else True
    return {
        **summary,
        "failure_kinds": by_kind,
        "command_s": round(ended - t0, 2),
        "to_new_version_s": round(seen - t0, 2) if seen else None,
        "exit": exits[-1] if exits else None,
        "error": (f"exit {exits[-1]}" if exits and exits[-1] is not None else "timed out") if failed else None,
        "log": str(log_file),
    }


def deploy_row(dj: Stack, tut: Stack, smoke: bool, logs: Path) -> dict:
    """The same kind of code-only change three ways, one after the other, each from a stack at rest."""
    row: dict[str, dict] = {}

    def settle(stack: Stack) -> None:
        if stack is dj:
            failure = wait_ready(Compose(stack.root, stack.files), lambda _: None, timeout=300)
            if failure:
                raise SystemExit(f"{stack.title}: {failure[0]}")
        wait_http(stack.url + "/", 300)

    def measure(key: str, stack: Stack, app: Path, commands: list[list[str]]) -> None:
        settle(stack)
        marker = f"r{uuid.uuid4().hex[:10]}"
        marker_change(app, marker)
        log(f"deploy under load: {DEPLOY_WAYS[key]}")
        row[key] = deploy_under_load(stack, key, commands, marker, smoke, logs)

    measure("compose-up", dj, dj.root, [dj.compose_cmd("up", "--detach", "--build")])
    if djstack_has_deploy():
        measure("djstack-deploy", dj, dj.root,
                [[*DJSTACK, "deploy", str(dj.root), "--tag", f"bench-{int(time.time())}", "--timeout", "300"]])
    else:
        row["djstack-deploy"] = {"skipped": "not measured: djstack deploy missing"}
    if smoke:  # the tutorial's rebuild reinstalls every dependency (minutes): CI's budget, as for the rebuild row
        row["tutorial"] = {"skipped": "skipped in smoke mode (a full reinstall)"}
    else:
        measure("tutorial", tut, tut.root / "myproject", [tut.compose_cmd("build"), tut.compose_cmd("up", "--detach")])
    return row


def deploy_report(results: dict) -> list[str]:
    rows = results.get("deploy")
    if rows is None:
        return []
    lines = [
        "",
        "### Requests failed during a deploy",
        "",
        "A code-only change (GET / gains a response header naming the release) put live under a steady load: "
        "4 workers alternating GET / and POST /api/notes/ through nginx on 127.0.0.1, a new connection per "
        "request, 50 ms between a worker's requests, from "
        f"{'1' if results['smoke'] else '3'} s before the command until "
        f"{'2' if results['smoke'] else '5'} s after the new version first answered. A failure is any "
        "non-2xx/3xx answer or a request without an answer (10 s timeout). The switch: from the command's "
        "start until it exited and the new version answered.",
        "",
        "| way | requests | failed | longest gap (s) | p99 during the switch (ms) | command to new version serving (s) | command (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in DEPLOY_WAYS.items():
        r = rows.get(key)
        if r is None:
            continue
        if "skipped" in r:
            lines.append(f"| {label} | {r['skipped']} | — | — | — | — | — |")
            continue
        kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(r["failure_kinds"].items()))
        failed = f"{r['failed']}" + (f" ({kinds})" if kinds else "")
        serving = fmt(r["to_new_version_s"], 1) if r["to_new_version_s"] is not None else "never"
        command = fmt(r["command_s"], 1) + (f" ({r['error']})" if r["error"] else "")
        lines.append(f"| {label} | {r['requests']:,} | {failed} | {r['longest_gap_s']:.2f} | "
                     f"{fmt(r['window_p99_ms'], 0)} | {serving} | {command} |")
    return lines


# --- machine ------------------------------------------------------------------------------------

def machine() -> dict:
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    engine = run(["docker", "version", "--format", "{{.Server.Version}}"], check=False).stdout.strip()
    compose = run(["docker", "compose", "version", "--short"], check=False).stdout.strip()
    containers = run(["docker", "ps", "-q"], check=False).stdout.split()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "engine": engine,
        "compose": compose,
        "wrk": (run(["wrk", "--version"], check=False).stdout.splitlines() or ["?"])[0].split(" [")[0],
        "load_before": os.getloadavg(),
        "other_containers_before": len(containers),
    }


# --- report -------------------------------------------------------------------------------------

def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}×"


def fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def report(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Run {results['started']} ({'smoke mode: tiny load, numbers meaningless' if results['smoke'] else 'full'}); "
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, kernel {m['kernel']}, Docker Engine {m['engine']}, "
        f"Compose {m['compose']}, {m['wrk']}; load average before {m['load_before'][0]:.2f}, "
        f"after {results['load_after'][0]:.2f}; {m['other_containers_before']} other containers running at start.",
        f"Load: wrk, {results['threads_note']}, {results['seconds']} s per measurement after a "
        f"{results['warmup']} s warm-up, keep-alive connections to 127.0.0.1 through each stack's nginx; "
        f"for each row {results['rounds']} round(s) over the contenders in alternating order, each "
        "contender's median round shown. Gunicorn: "
        f"{results['web_concurrency']} sync workers. Granian {results.get('granian_version') or '?'} (WSGI): "
        f"{results.get('granian_sizing') or '?'}, sized like uWSGI's processes and threads.",
        "",
        "### Throughput (requests/s) and ratios",
        "",
        "| endpoint | conns | djstack | tutorial | djstack ÷ tutorial | Gunicorn | djstack ÷ Gunicorn | Granian | "
        "djstack ÷ Granian | ceiling | djstack ÷ ceiling | in-process | djstack ÷ in-process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ceilings = {"cached page (Redis)": "uwsgi-const", "static file": "bare-nginx", "dynamic page (DB)": "uwsgi-const"}
    for row in results["load"]:
        d, t, g, gr = (row["stacks"].get(k) for k in ("djstack", "tutorial", "gunicorn", "granian"))
        ip = results.get("inprocess", {}).get(row["endpoint"])
        c_key = ceilings.get(row["endpoint"])
        c = results["ceilings"].get(f"{c_key}@{row['connections']}") if c_key else None
        rps = lambda x: x["rps"] if x else None  # noqa: E731
        ceiling_cell = f"{fmt(rps(c))} ({c_key})" if c else "—"
        lines.append(
            f"| {row['endpoint']} | {row['connections']} | {fmt(rps(d))} | {fmt(rps(t))} | {ratio(rps(d), rps(t))} | "
            f"{fmt(rps(g))} | {ratio(rps(d), rps(g))} | {fmt(rps(gr))} | {ratio(rps(d), rps(gr))} | "
            f"{ceiling_cell} | {ratio(rps(d), rps(c)) if c else '—'} | "
            f"{fmt(rps(ip)) if ip else '—'} | {ratio(rps(d), rps(ip)) if ip else '—'} |")
    lines += [
        "",
        "### Latency p50 / p99 (ms), non-2xx or socket errors",
        "",
        "| endpoint | conns | djstack | tutorial | Gunicorn | Granian | ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["load"]:
        cells = []
        for k in ("djstack", "tutorial", "gunicorn", "granian"):
            x = row["stacks"].get(k)
            cells.append(f"{x['p50_ms']:.1f} / {x['p99_ms']:.1f}" + (f" ({x['errors']} err)" if x["errors"] else "")
                         if x else "n/a")
        c_key = ceilings.get(row["endpoint"])
        c = results["ceilings"].get(f"{c_key}@{row['connections']}") if c_key else None
        cells.append(f"{c['p50_ms']:.1f} / {c['p99_ms']:.1f}" if c else "—")
        lines.append(f"| {row['endpoint']} | {row['connections']} | " + " | ".join(cells) + " |")
    lines += inprocess.report_lines(results)
    b = results["build"]
    lines += [
        "",
        "### Build and start",
        "",
        "| measure | djstack | tutorial | djstack ÷ tutorial | Gunicorn |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label, unit in (("cold_build_s", "web image build, cold (--no-cache)" if not results["smoke"]
                              else "web image build (smoke: cache allowed)", "s"),
                             ("rebuild_s", "web image rebuild after a code-only change", "s"),
                             ("image_mb", "web image size", "MB"),
                             ("up_healthy_s", "`up` to healthy and serving, warm images, existing data", "s")):
        d, t, g = (b.get(k, {}).get(key) for k in ("djstack", "tutorial", "gunicorn"))
        lines.append(f"| {label} ({unit}) | {fmt(d, 1)} | {fmt(t, 1)} | {ratio(d, t)} | {fmt(g, 1)} |")
    lines += deploy_report(results)
    lines += https.report(results)
    if results.get("soak"):
        lines += soak_report(results["soak"], results["smoke"])
    lines += ["", "### Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'—' if t['met'] is None else 'yes' if t['met'] else 'NO'} |"
              for t in results["targets"]]
    return "\n".join(lines) + "\n"


def targets(results: dict) -> list[dict]:
    out = []

    def load_ratios(endpoint, other, source="stacks"):
        values = []
        for row in results["load"]:
            if row["endpoint"] != endpoint:
                continue
            d = row["stacks"].get("djstack")
            o = (row["stacks"].get(other) if source == "stacks"
                 else results["ceilings"].get(f"{other}@{row['connections']}"))
            if d and o and o["rps"]:
                values.append((row["connections"], d["rps"] / o["rps"]))
        return values

    def add(name, values, goal):
        if not values:  # a row left out with --only
            out.append({"target": name, "measured": "not measured in this run", "met": None})
            return
        text = ", ".join(f"{r:.2f}× @{c}" for c, r in values)
        out.append({"target": name, "measured": text, "met": all(r >= goal for _, r in values)})

    add("dynamic page ≥ 1.5× tutorial", load_ratios("dynamic page (DB)", "tutorial"), 1.5)
    add("dynamic page ≥ 1.2× Gunicorn", load_ratios("dynamic page (DB)", "gunicorn"), 1.2)
    inproc = (results.get("inprocess") or {}).get("dynamic page (DB)")
    add("dynamic page ≥ 0.8× its in-process ceiling",
        [(row["connections"], row["stacks"]["djstack"]["rps"] / inproc["rps"]) for row in results["load"]
         if inproc and inproc["rps"] and row["endpoint"] == "dynamic page (DB)" and row["stacks"].get("djstack")],
        0.8)
    granian = load_ratios("dynamic page (DB)", "granian")
    add("dynamic page ahead of Granian at 8 and 32 connections",
        [(c, r) for c, r in granian if c in (8, 32)] or granian, 1.0)
    add("cached page ≥ 0.8× uWSGI constant", load_ratios("cached page (Redis)", "uwsgi-const", "ceil"), 0.8)
    add("static file ≥ 0.9× bare nginx", load_ratios("static file", "bare-nginx", "ceil"), 0.9)
    out += https.targets(results)
    b = results["build"]
    d, t = b["djstack"].get("rebuild_s"), b["tutorial"].get("rebuild_s")
    out.append({"target": "rebuild after code change ≤ 0.2× tutorial", "measured": ratio(d, t),
                "met": bool(d and t and d / t <= 0.2)})
    size = b["djstack"].get("image_mb")
    out.append({"target": "web image ≤ 200 MB", "measured": f"{fmt(size, 1)} MB", "met": bool(size and size <= 200)})
    up = b["djstack"].get("up_healthy_s")
    out.append({"target": "`up` to healthy ≤ 10 s (warm)", "measured": f"{fmt(up, 1)} s", "met": bool(up and up <= 10)})
    return out


# --- main ---------------------------------------------------------------------------------------

def image_mb(name: str) -> float:
    size = run(["docker", "image", "inspect", "-f", "{{.Size}}", name]).stdout.strip()
    return int(size) / 1e6


def code_change(app: Path) -> None:
    views = app / "gallery" / "views.py"
    views.write_text(views.read_text(encoding="utf-8") + f"\n# benchmark code change {uuid.uuid4().hex}\n",
                     encoding="utf-8")


def up_time(stack: Stack, healthchecks: bool) -> float:
    """Seconds from `compose up` to every service passing its healthcheck and the site answering
    through nginx. The checks are run the way `djstack up` runs them (Docker's own first check comes
    an interval later): the same wait for djstack and Gunicorn, which share the compose file."""
    stack.compose("down", "--remove-orphans", timeout=300)  # containers go, volumes (data) stay
    started = time.monotonic()
    stack.compose("up", "--detach", timeout=400)
    if healthchecks:
        os.environ.update(stack.env)  # the override files' variables (Gunicorn's WEB_CONCURRENCY)
        failure = wait_ready(Compose(stack.root, stack.files), lambda _: None, timeout=300)
        if failure:
            raise SystemExit(f"{stack.title}: {failure[0]}")
    wait_http(stack.url + "/", 300)
    return time.monotonic() - started


def https_rows(tls: Stack, bare: Stack, levels: list[int], seconds: float, rounds: int, warmup: float,
               cores: int, smoke: bool) -> dict:
    """The HTTPS rows (bench/https.py) on a second djstack stack with --tls self-signed, started after
    the HTTP rows so that it does not load the host during them, and removed right after its rows."""
    try:
        log("djstack over TLS: up (the web image from the build cache)")
        start_with_fresh_port(tls, lambda: run([*DJSTACK, "up", str(tls.root)]))
        log("bare nginx over TLS: up")
        start_with_fresh_port(bare, lambda: bare.compose("up", "--detach"))
        https.wait_https(tls.https_port, "/", 300)
        https.wait_https(bare.https_port, "/static/gallery/site.css", 60)
        https.seed(tls.https_port, 5 if smoke else 20)
        profile = re.search(r"(?m)^TLS_PROFILE=(\S+)", (tls.root / ".env").read_text()).group(1)
        return {"profile": profile, **https.measure(tls.https_port, bare.https_port, levels=levels, seconds=seconds,
                                                    rounds=rounds, warmup=warmup, cores=cores, smoke=smoke, wrk=wrk,
                                                    median_run=median_run, log=log)}
    finally:
        log("removing the TLS stacks")
        for s in (tls, bare):
            s.remove()


def soak_on(stack: Stack, minutes: float, smoke: bool) -> dict:
    settle = wait_ready(Compose(stack.root, stack.files), lambda _: None, timeout=300)
    if settle:
        raise SystemExit(f"{stack.title}: {settle[0]}")
    wait_http(stack.url + "/", 300)
    return run_soak(wrk, stack.url, stack.project, [*DJSTACK, "manage", "--dir", str(stack.root)],
                    seconds=minutes * 60, window=10 if smoke else 60, ramp_seconds=1 if smoke else 5, log=log)


def soak_only(dj: Stack, results: dict, minutes: float, out: Path, keep: bool) -> int:
    """`--soak`: djstack's stack alone, up and seeded, then the soak; the report is its section."""
    dj.remove()  # leftovers of an interrupted run
    try:
        log("djstack: up")
        start_with_fresh_port(dj, lambda: run([*DJSTACK, "up", str(dj.root)]))
        wait_http(dj.url + "/", 300)
        seed(dj, 5 if results["smoke"] else 20)
        results["soak"] = soak_on(dj, minutes, results["smoke"])
    finally:
        results["load_after"] = os.getloadavg()
        if not keep:
            log("removing the benchmark stack")
            dj.remove()
    m = results["machine"]
    text = "\n".join([
        f"Run {results['started']} (soak only{'; smoke mode: numbers meaningless' if results['smoke'] else ''}); "
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, kernel {m['kernel']}, Docker Engine {m['engine']}, "
        f"Compose {m['compose']}, {m['wrk']}; load average before {m['load_before'][0]:.2f}, after "
        f"{results['load_after'][0]:.2f}; {m['other_containers_before']} other containers running at start.",
        *soak_report(results["soak"], results["smoke"]),
    ]) + "\n"
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (out / "report.md").write_text(text, encoding="utf-8")
    print(text)
    log(f"report: {out / 'report.md'}")
    return 0


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up in `finally`
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="seconds-long run with tiny load (CI)")
    parser.add_argument("--connections", default=None, help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=None, help="measurements per contender and row (median kept)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default bench/results/STAMP)")
    parser.add_argument("--keep", action="store_true", help="leave the stacks running afterwards")
    parser.add_argument("--prefix", default="bench",
                        help="Compose project names are PREFIX-djstack, PREFIX-tutorial…: another prefix for a second run")
    parser.add_argument("--soak", action="store_true",
                        help="only the soak, on djstack's stack: 70 %% of its sustained rate for --minutes")
    parser.add_argument("--minutes", type=float, default=None,
                        help="the soak's length (default 10; 0.5 in smoke mode, which soaks after its other rows)")
    parser.add_argument("--only", default="",
                        help="comma-separated endpoints to load, `https` for the HTTPS rows and/or `deploy` for the "
                             "deploy row (default all)")
    args = parser.parse_args()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", args.prefix):
        parser.error(f"--prefix {args.prefix!r}: Compose project names take lower-case letters, digits, - and _")

    smoke = args.smoke
    levels = [int(c) for c in (args.connections or ("4" if smoke else "8,32,128")).split(",")]
    seconds = args.seconds or (1 if smoke else 6)
    rounds = args.rounds or (1 if smoke else 3)
    warmup = 1 if smoke else 3
    minutes = args.minutes if args.minutes is not None else (0.5 if smoke else 10)
    if minutes <= 0:
        parser.error("--minutes must be more than 0")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = (args.out or (BENCH / "results" / stamp)).resolve()
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for tool in ("wrk", "h2load", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run bench/run.sh, which installs it")
    cores = os.cpu_count() or 1
    results: dict = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "smoke": smoke,
                     "machine": machine(), "seconds": seconds, "rounds": rounds, "warmup": warmup, "load": [],
                     "ceilings": {}, "inprocess": {},
                     "build": {"djstack": {}, "tutorial": {}, "gunicorn": {}, "granian": {}},
                     "threads_note": "2 threads (1 for a single connection)"}

    dj = make_djstack(work, args.prefix)
    if args.soak:
        return soak_only(dj, results, minutes, out, args.keep)
    tut = make_tutorial(work, args.prefix)
    gun = make_gunicorn(work, args.prefix, cores)
    results["web_concurrency"] = gun.env["WEB_CONCURRENCY"]
    gran = make_granian(work, args.prefix, dj)
    results["granian_sizing"] = (f"{gran.env['BENCH_GRANIAN_WORKERS']} workers × "
                                 f"{gran.env['BENCH_GRANIAN_THREADS']} blocking threads")
    static_ceiling, const_ceiling = make_ceiling(work, args.prefix, dj)
    tls, bare_tls = make_tls(work, args.prefix, dj)
    stacks = [dj, tut, gun, gran]
    for s in [*stacks, static_ceiling, tls, bare_tls]:  # leftovers of an interrupted run
        s.remove()
    try:
        # Cold builds of the web image, one after the other (the base images are local already).
        no_cache = [] if smoke else ["--no-cache"]
        for s in (dj, tut):
            log(f"{s.title}: building the web image{' cold' if no_cache else ''}")
            results["build"][s.key]["cold_build_s"] = timed(s.compose_cmd("build", *no_cache, "web"), cwd=s.root,
                                                            env=s.env)
        log("djstack: up")
        start_with_fresh_port(dj, lambda: run([*DJSTACK, "up", str(dj.root)]))
        log("tutorial: build + up")
        start_with_fresh_port(tut, lambda: tut.compose("up", "--detach", "--build"))
        log("Gunicorn: build + up")
        start_with_fresh_port(gun, lambda: gun.compose("up", "--detach", "--build", "--wait", "--wait-timeout", "300"))
        log("Granian: build (FROM djstack's web image) + up")
        start_with_fresh_port(gran, lambda: gran.compose("up", "--detach", "--build", "--wait", "--wait-timeout", "300"))
        results["granian_version"] = gran.compose("exec", "-T", "web", "python", "-c",
                                                  "import granian; print(granian.__version__)").stdout.strip()
        log("ceilings: up")
        start_with_fresh_port(static_ceiling, lambda: static_ceiling.compose("up", "--detach"), const_ceiling)
        for s in stacks:
            wait_http(s.url + "/", 300)
        wait_http(static_ceiling.url + "/static/gallery/site.css", 60)
        wait_http(const_ceiling.url + "/", 60)
        for s in stacks:
            log(f"{s.title}: seeding notes and a photo")
            seed(s, 5 if smoke else 20)
            results["build"][s.key]["image_mb"] = image_mb(f"{s.project}-web")

        only = [e for e in args.only.split(",") if e]
        for endpoint, path in ENDPOINTS.items():
            if only and not any(o in endpoint for o in only):
                continue
            ceiling = {"cached page (Redis)": const_ceiling, "static file": static_ceiling}.get(endpoint)
            urls = {s.key: s.url + (path or s.media_path) for s in stacks}
            if ceiling:
                urls[ceiling.key] = ceiling.url + ("/static/gallery/site.css" if ceiling is static_ceiling else "/")
            for url in urls.values():
                wrk(url, max(levels), warmup)
            for connections in levels:
                # Rounds in alternating order, so drift in the machine's load hits every contender alike;
                # each keeps its median round.
                runs: dict[str, list[Load]] = {key: [] for key in urls}
                for r in range(rounds):
                    for key, url in (urls.items() if r % 2 == 0 else reversed(urls.items())):
                        log(f"{endpoint} @{connections}: {key} (round {r + 1}/{rounds})")
                        runs[key].append(wrk(url, connections, seconds))
                medians = {key: median_run(found).as_dict() for key, found in runs.items()}
                row = {"endpoint": endpoint, "connections": connections,
                       "stacks": {s.key: medians[s.key] for s in stacks},
                       "rounds": {key: [x.rps for x in found] for key, found in runs.items()}}
                if ceiling:
                    results["ceilings"][f"{ceiling.key}@{connections}"] = medians[ceiling.key]
                results["load"].append(row)
            if endpoint in inprocess.PAGES:  # the same page's ceiling: its view called in djstack's web
                found = []
                for r in range(rounds):
                    log(f"{endpoint}: in-process ceiling in djstack's web (round {r + 1}/{rounds})")
                    found.append(inprocess.measure(dj.compose_cmd, path, seconds, warmup))
                results["inprocess"][endpoint] = {**sorted(found, key=lambda x: x["rps"])[(len(found) - 1) // 2],
                                                  "rounds": [x["rps"] for x in found]}

        if not only or "https" in only:
            results["https"] = https_rows(tls, bare_tls, levels, seconds, rounds, warmup, cores, smoke)

        # In smoke mode the tutorial's rebuild (a full reinstall, minutes) is skipped: CI's budget.
        for s in (dj,) if smoke else (dj, tut):
            code_change(s.root if s is dj else s.root / "myproject")
            log(f"{s.title}: rebuilding after a code-only change")
            results["build"][s.key]["rebuild_s"] = timed(s.compose_cmd("build", "web"), cwd=s.root, env=s.env)
        results["build"]["djstack"]["image_mb"] = image_mb(f"{dj.project}-web")
        for s, checks in ((dj, True), (tut, False), (gun, True)):
            log(f"{s.title}: timing up to healthy (warm images, existing data)")
            results["build"][s.key]["up_healthy_s"] = up_time(s, checks)
        if not only or "deploy" in only:
            results["deploy"] = deploy_row(dj, tut, smoke, work)
        if smoke:  # the soak's smoke, on the stack the rows above measured (its deploys included)
            results["soak"] = soak_on(dj, minutes, smoke)
    finally:
        results["load_after"] = os.getloadavg()
        if not args.keep:
            log("removing the benchmark stacks")
            for s in [*stacks, static_ceiling, tls, bare_tls]:
                s.remove()
    results["targets"] = targets(results)
    text = report(results)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (out / "report.md").write_text(text, encoding="utf-8")
    print(text)
    log(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
