"""Findings that need the model beside a fact: a file:line inside a container mapped to the stack's own
file, a host port, a static path; why a crashing container's runs end; and, when no cause is known,
the honest `cause-unknown` with the lines doctor has."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..model import Stack
from .evidence import DB, DOCKER, NGINX, PORT_TAKEN, REDIS, WEB, Evidence, Fact
from .facts import Container, Facts
from .finding import CONFIG, ENGINE, ERROR, FILES, MEMORY, Finding

def host_file(stack: Stack, path: str) -> str:
    """The stack's file (from the project root) that nginx reads at `path` in its container
    (Dockerfile.j2 copies nginx.conf into the image; docker-compose.yml.j2 mounts the folders)."""
    s = stack
    if path == s.paths.nginx_conf:
        return s.from_root(s.files.nginx_conf)
    for inside, outside in ((s.paths.nginx_upstream, s.files.nginx_upstream), (s.paths.nginx_ssl, s.files.ssl)):
        if path.startswith(inside + "/"):
            return s.from_root(outside + path.removeprefix(inside))
    return path


def nginx_config_invalid(stack: Stack, evidence: Evidence, nginx: Container | None) -> list[Finding]:
    """`[emerg] … in FILE:LINE`: the file and line, as the stack's file on the host."""
    # Lines from nginx's ended runs are history when it runs now.
    current = True if nginx is not None and nginx.up else None
    facts = [f for f in evidence.of("nginx-emerg", source=NGINX, current=current) if f.subject]
    if not facts:
        return []
    last = facts[-1]
    path, _, line = last.subject.rpartition(":")
    where = f"{host_file(stack, path)}:{line}"
    message = re.sub(r"^.*\[emerg\] (?:\d+#\d+: )?", "", last.line).removesuffix(f" in {last.subject}")
    rebuild = "--build " if path == stack.paths.nginx_conf else "--force-recreate "
    return [Finding("nginx-config-invalid", ERROR, f"nginx's configuration is invalid: {message} ({where})",
                    f"Correct {where} ({message}); test it with "
                    f"`docker compose run --rm --no-deps {stack.services.nginx} nginx -t`, then "
                    f"`docker compose up -d {rebuild}{stack.services.nginx}`.", CONFIG, stack.services.nginx,
                    _last_lines(facts, 2))]


def _last_lines(facts: list[Fact], count: int) -> list[str]:
    """The last `count` distinct lines of `facts` (nginx's error lines are read twice from its output:
    as its log and as its error log)."""
    return [f"nginx: {line}"[:200] for line in list(dict.fromkeys(f.line for f in facts))[-count:]]


_PORT_TAKEN = re.compile(PORT_TAKEN)
_HOST_PORT = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]*\]):(\d+)")


def host_port_taken(stack: Stack, evidence: Evidence) -> list[Finding]:
    """Docker could not publish a container's port: another program holds it on the host."""
    found = []
    for fact in evidence.of("port-taken", source=DOCKER):
        port = _HOST_PORT.search(fact.line)
        number = port.group(1) if port else str(stack.http_port)
        name = fact.subject
        found.append(Finding(
            "host-port-taken", ERROR, f"{name} cannot start: port {number} on the host is taken by another program",
            f"Find it with `sudo ss -ltnp 'sport = :{number}'` and stop it, or publish another port "
            f"(HTTP_PORT / HTTPS_PORT in {stack.from_root(stack.files.env)}); then `docker compose up -d {name}`.",
            ENGINE + 1, name, [f"{name}: {fact.line}"]))
    return found


def start_refused(stack: Stack, facts: Facts, names: Mapping[str, str]) -> list[Finding]:
    """Docker's own error for a container it could not start (State.Error), when it is not a taken
    port (host-port-taken says that): a mount, an image, a command Docker names."""
    found = []
    for key, name in names.items():
        c = facts.containers.get(name)
        if c is None or not c.error or c.up or _PORT_TAKEN.search(c.error):
            continue
        found.append(Finding(
            f"{key}-start-refused", ERROR, f"Docker cannot start {name}: {c.error[:120]}",
            f"Fix what Docker names (a mount, the image, the command) in {stack.from_root(stack.files.compose)}, "
            f"then `docker compose up -d {name}`.", ENGINE + 2, name, [f"{name}: {c.error}"]))
    return found


def static_files_missing(stack: Stack, evidence: Evidence) -> list[Finding]:
    """nginx's 404s of files under the static root: a page links what collectstatic never collected."""
    root = stack.paths.static.rstrip("/") + "/"
    facts = [f for f in evidence.of("nginx-open-failed:2", source=NGINX) if f.subject.startswith(root)]
    if not facts:
        return []
    paths = list(dict.fromkeys(f.subject.removeprefix(root) for f in facts))
    return [Finding("static-file-missing", ERROR,
                    f"Pages link {len(paths)} static file(s) that were never collected: {', '.join(paths[:3])}",
                    "Add the file to an app's static/ folder, or correct the name in the template's "
                    f"`{{% static %}}`; then `docker compose up -d --build {stack.services.web}` (the build "
                    "runs collectstatic).", FILES, stack.services.nginx,
                    _last_lines(facts, 3))]


#: What an exit code says about how a container's main process ended.
EXIT_MEANINGS = {0: "ended by itself", 1: "an error: see its log", 2: "bad usage or a shell error",
                 126: "the command cannot run", 127: "the command was not found",
                 137: "SIGKILL: the OOM killer, `docker kill`, or a stop that timed out",
                 139: "SIGSEGV: a crash in native code", 143: "SIGTERM: stopped (`docker stop`)"}


def exit_meaning(code: int) -> str:
    if code in EXIT_MEANINGS:
        return EXIT_MEANINGS[code]
    return f"signal {code - 128}" if code > 128 else "an error: see its log"


def killed(key: str, name: str, c: Container | None) -> list[Finding]:
    """A crash loop whose runs end with exit 137 without Docker's OOM flag: something else kills it.
    (A container that stays down says its exit code's meaning in its own finding.)"""
    if c is None or c.exit_code != 137 or c.oom_killed or c.state != "restarting":
        return []
    return [Finding(f"{key}-killed", ERROR, f"{name} was killed (SIGKILL, exit code 137)",
                    "Something killed its main process: the host's OOM killer (`sudo dmesg | grep -i oom` on "
                    "the host), a `docker kill`, or a stop longer than its stop_grace_period; then "
                    f"`docker compose up -d {name}`.", MEMORY + 1, name,
                    [f"{name}: state {c.state}, exit code 137, OOMKilled false"])]


_ERROR_LINE = re.compile(r"error|fatal|traceback|exception|denied|refused|unknown|failed|killed|emerg|"
                         r"\bcrit\b|no space|full", re.IGNORECASE)
UNKNOWN_LINES = 3


def cause_unknown(evidence: Evidence, names: Mapping[str, str]) -> Finding:
    """No cause's conditions hold: say so, and show the last error-looking lines of each service."""
    shown = []
    # The deepest first; then Celery's services and the project's other processes.
    ordered = [DB, REDIS, WEB, NGINX, *(k for k in names if k not in (DB, REDIS, WEB, NGINX))]
    for key in ordered:
        ended = [f"{names[key]} (ended run): {line.strip()}" for line in evidence.ended_lines(key)
                 if _ERROR_LINE.search(line)]
        current = [f"{names[key]}: {line.strip()}" for line in evidence.current_lines(key) if _ERROR_LINE.search(line)]
        shown += (ended + current)[-UNKNOWN_LINES:]
    logs = " ".join(f"`djstack logs {names[key]}`" for key in ordered)
    return Finding("cause-unknown", ERROR, "doctor cannot tell the cause: only its symptoms (below)",
                   f"Read the lines shown and the services' full logs ({logs}); the deepest service with "
                   "an error is the likeliest cause. `djstack doctor --save-evidence FILE` keeps what doctor "
                   "saw, for a report.", ENGINE, "",
                   [line[:200] for line in shown]
                   or ["no error lines in any service's log"])
