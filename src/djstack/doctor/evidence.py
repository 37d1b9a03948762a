"""What the services said, parsed into typed facts before any finding is matched.

A log line is text; a `Fact` is what it states: a MySQL error code, a Redis reply, a uWSGI state, an
nginx emergency with its file and line, a disk that is full. Signatures and conditions match facts
by `key` (kind, or kind:code), so one error cannot pass for another: `(1044, "Access denied …")` is
key mysql:1044 and never the 1045 of a wrong password, though both messages start alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .facts import Facts

WEB, NGINX, DB, REDIS, PROBE, DOCKER = "web", "nginx", "db", "redis", "probe", "docker"
# Celery's services (model.Services' names for them are their keys too) and the broker's Redis.
WORKER, BEAT, BROKER, FLOWER = "worker", "beat", "broker", "flower"


@dataclass(frozen=True)
class Fact:
    kind: str  # what was said: "mysql", "uwsgi-app-loaded", "nginx-emerg", …
    source: str  # who said it: web, nginx, db, redis, probe (doctor's probes), docker
    line: str  # the line, stripped
    index: int = 0  # its place among its source's lines
    current: bool = True  # written by the container's current run (not by one that ended)
    code: str = ""  # the error code or reply: "1045", "NOAUTH", "28", a signal number
    subject: str = ""  # what it names: a request, a file:line, an option, a path

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.code}" if self.code else self.kind


@dataclass(frozen=True)
class Parser:
    kind: str
    sources: tuple[str, ...]
    pattern: str  # named groups `code` and `subject` fill the fact's fields
    code: str = ""  # the code when the line states it only in words (a server log line)


#: Docker's words for a host port another program holds.
PORT_TAKEN = r"port is already allocated|address already in use"
_DATABASE = r"(?:.*?(?:to database|Unknown database) '(?P<subject>[^']+)')?"

#: How MariaDB names a temporary table it writes in its tmpdir (`Disk got full writing '.(temporary)'`).
TEMPORARY = r"\.\(temporary\)"

ANY = (WEB, NGINX, DB, REDIS, PROBE, DOCKER, WORKER, BEAT, BROKER, FLOWER)
SERVICES = (WEB, NGINX, DB, REDIS, WORKER, BEAT, BROKER, FLOWER)
CLIENTS = (WEB, PROBE, DB, WORKER, BEAT)  # where MySQL client errors appear (db's own log quotes some)
CELERY = (WORKER, BEAT, FLOWER)  # Celery's processes: the broker's clients, beside web
REDIS_SERVERS = (REDIS, BROKER)  # the cache's Redis and the broker's: one server, one log format
#: Celery's log lines start "[2026-12-02 04:50:00,123: INFO/MainProcess] " (its worker_log_format).
_CELERY = r"^(?:\[[^\]]*\] )?"


def write_parsers(kind: str, errno: str, words: str) -> tuple[Parser, ...]:
    """A write that failed with `errno`, the path it went to the subject, as each program quotes it:
    nginx `pwrite() "PATH" failed (28: …)`, Python `[Errno 28] No space left on device: 'PATH'`,
    MariaDB `… 'PATH' (Errcode: 28 "…")` (InnoDB `file ./DB/T.ibd failed with error 28`, from its data
    folder), the shell's tools `cannot create directory 'PATH': …`."""
    return (
        Parser(kind, (NGINX,), rf'"(?P<subject>/[^"]+)" failed \({errno}: '),
        Parser(kind, (WEB, PROBE), rf"\[Errno {errno}\] {words}: '(?P<subject>/[^']+)'"),
        Parser(kind, (DB,), rf"'(?P<subject>/[^']+|{TEMPORARY})' \(Errcode: {errno}\b"),
        Parser(kind, (DB,), rf"\bfile (?P<subject>\./\S+) failed with error {errno}\b"),
        Parser(kind, SERVICES, rf"\bcannot [\w ]+? '?(?P<subject>/[^':]+)'?: {words}"),
    )


PARSERS: tuple[Parser, ...] = (
    # --- MySQL/MariaDB client errors, as mysqlclient prints them in Django's exceptions --------------
    # `(1045, "Access denied …")`; the mysql CLI: `ERROR 1045 (28000): Access denied …`.
    # The database a 1044/1049 names is the subject; the file a full disk or tmpfs refused a 1021/1114.
    Parser("mysql", CLIENTS, r"\((?P<code>1021|1114), ['\"](?:Disk full \(|The table \\?'|Disk got full writing \\?')"
                             r"(?P<subject>/[^)'\"\\]+|" + TEMPORARY + ")"),
    Parser("mysql", CLIENTS, r"\((?P<code>[12]\d{3}), ['\"]" + _DATABASE),
    Parser("mysql", CLIENTS, r"\bERROR (?P<code>[12]\d{3}) \([0-9A-Z]{5}\)" + _DATABASE),
    # db's own log says the same in words, without the code.
    Parser("mysql", (DB,), r"Access denied for user '[^']*'@'[^']*' \(using password", "1045"),
    Parser("mysql", (DB,), r"Access denied for user '[^']*'@'[^']*' to database '(?P<subject>[^']+)'", "1044"),
    # --- MariaDB server log ------------------------------------------------------------------------
    Parser("db-unknown-option", (DB,),
           r"\[ERROR\] (?:mariadbd|mysqld|\S*/mysqld|\S*/mariadbd): unknown (?:variable|option) '(?P<subject>[^']+)'"),
    Parser("os-error", (DB, *REDIS_SERVERS, WEB), r"Operating system error number (?P<code>\d+)"),
    Parser("os-error", (DB, *REDIS_SERVERS, WEB), r"\((?:Errcode|errno): (?P<code>\d+)\b"),
    Parser("os-error", (DB, *REDIS_SERVERS, WEB), r"\bErrcode: (?P<code>\d+)\b"),
    # The image's entrypoint, before the server: `touch: cannot touch '/var/lib/mysql/x': Permission denied`.
    Parser("os-error", (DB, *REDIS_SERVERS), r"\bcannot \w+ '(?P<subject>/[^']+)': Permission denied", "13"),
    # ENOSPC as the C library, MariaDB's server and InnoDB word it: where the line names the path,
    # the path (on a tmpfs it is the tmpfs that is full, not the host's disk).
    *write_parsers("disk-full", "28", "No space left on device"),
    Parser("disk-full", ANY, r"No space left on device|\bDisk (?:is )?full\b|Errcode: 28\b|errno: 28\b"
                             r"|\bfailed with error 28\b|\bOut of disk space\b"
                             # MySQL 8's InnoDB and binlog: "Operating system error number 28",
                             # "Disk is full writing './binlog.000002' (OS errno 28 - …)"
                             r"|\bOperating system error number 28\b|\bOS errno 28\b"),
    # EROFS: a write outside the service's tmpfs and volumes, on its read-only root filesystem.
    *write_parsers("read-only-fs", "30", "Read-only file system"),
    Parser("read-only-fs", SERVICES, r"Read-only file system|\b(?:Errcode|errno): 30\b"),
    # --- Django, in web's log: it got past importing the settings (migrate planned, a connection tried)
    Parser("django-settings-loaded", (WEB,),
           r"^Operations to perform:$|^Running migrations:$|^File \"[^\"]*/django/db/backends/"),
    # A migration migrate began: "  Applying gallery.0004_x..." and " OK" once it is applied. migrate's
    # stdout is flushed at exit, so an unfinished one may follow the traceback that ended it.
    Parser("django-migrate-running", (WEB,), r"^Running migrations:$"),
    Parser("django-migration-unfinished", (WEB,), r"\bApplying (?P<subject>\w+\.\w+)\.\.\.(?! OK)"),
    # --- uWSGI, in web's log -----------------------------------------------------------------------
    Parser("uwsgi-starting", (WEB,), r"^\*\*\* Starting uWSGI |^\[uWSGI\] getting INI configuration from "),
    # strict = true (djstack's uwsgi.ini): an option uWSGI does not know stops it before the app loads.
    Parser("uwsgi-unknown-option", (WEB,), r"^\[strict-mode\] unknown config directive: (?P<subject>\S+)"),
    Parser("uwsgi-app-loaded", (WEB,), r"\bWSGI app \d+ \(mountpoint='[^']*'\) ready in \d+ seconds"),
    # A request an app answered (`app: -1` is none): says so too when the start scrolled out of the tail.
    Parser("uwsgi-app-loaded", (WEB,), r"^\[pid: \d+\|app: \d+\|req: "),
    Parser("uwsgi-no-app", (WEB,),
           r"\*\*\* no app loaded\. |\bunable to load app \d+ |--- no python application found"),
    Parser("uwsgi-harakiri", (WEB,), r"\*\*\* HARAKIRI ON WORKER (?P<code>\d+) \(pid: \d+"),
    Parser("uwsgi-harakiri-request", (WEB,), r"\bHARAKIRI \[core \d+\] \S+ - (?P<subject>[A-Z]+ \S+) since"),
    Parser("uwsgi-worker-killed", (WEB,),
           r"\bDAMN ! worker (?P<subject>\d+) \(pid: \d+\) died, killed by signal (?P<code>\d+)"),
    Parser("uwsgi-listen-queue-full", (WEB,),
           r"\*\*\* uWSGI listen queue of socket \"(?P<subject>[^\"]+)\" \(fd: \d+\) full !!!"),
    # --- nginx (its container's output: access and error lines) --------------------------------------
    # `nginx: [emerg] unknown directive "servr_name" in /etc/nginx/nginx.conf:41`
    Parser("nginx-emerg", (NGINX,), r"\[emerg\] (?:\d+#\d+: )?.*? in (?P<subject>/\S+:\d+)\s*$"),
    Parser("nginx-emerg", (NGINX,), r"\[emerg\] "),
    Parser("tls-key-mismatch", (NGINX,),
           r"(?:SSL_CTX_use_PrivateKey|X509_check_private_key)\(.*key values mismatch"),
    Parser("nginx-open-failed", (NGINX,), r"\bopen\(\) \"(?P<subject>[^\"]+)\" failed \((?P<code>\d+): "),
    # --- Redis: its replies as redis-py raises them, and its own log ---------------------------------
    Parser("redis", (WEB, PROBE, *REDIS_SERVERS, *CELERY), r"\b(?P<code>NOAUTH|WRONGPASS|LOADING|MISCONF|NOPERM) "),
    # redis-py raises WRONGPASS and NOAUTH as AuthenticationError, without the code: kombu's words
    # in Celery's "Cannot connect to …: invalid username-password pair or user is disabled.."
    Parser("redis", (WEB, PROBE, *CELERY), r"\binvalid username-password pair\b", "WRONGPASS"),
    Parser("redis", (WEB, PROBE, *CELERY), r"\bAuthentication required\b", "NOAUTH"),
    # redis-py's ConnectionError, the host and port it tried the subject and code: "Error 111
    # connecting to broker:6379. Connection refused." (-2: a name Docker's DNS does not know).
    Parser("redis-connect-failed", (WEB, PROBE, *CELERY),
           r"\bError -?\d+ connecting to (?P<subject>[\w.-]+):(?P<code>\d+)\b"),
    # The ACL refusing a command: redis-py drops the NOPERM code and raises NoPermissionError.
    Parser("redis", (WEB, PROBE), r"\bNoPermissionError\b", "NOPERM"),
    Parser("redis", (WEB, PROBE), r"\bOOM command not allowed when used memory", "OOM"),
    Parser("redis", (WEB, PROBE), r"\bOutOfMemoryError\b", "OOM"),
    Parser("redis", (WEB, PROBE), r"\bBusyLoadingError\b", "LOADING"),
    # A line of redis.conf it refuses, quoted: Redis 7 under "FATAL CONFIG FILE ERROR", Redis 8 under
    # "Unresolved Configuration(s) Detected:" behind its log prefix.
    Parser("redis-config-invalid", REDIS_SERVERS, r"(?:^|\s#\s)>>> '(?P<subject>.*)'$"),
    Parser("redis-save-failed", REDIS_SERVERS,
           r"Background saving error|Failed opening the RDB file|Write error saving DB on disk"),
    # --- Celery (celery/app/trace.py, worker/consumer/, beat.py), behind its log format's prefix ----
    # "Task gallery.tasks.make_thumbnail[5f1c…] received", "… succeeded in 0.04s: None", "… raised
    # unexpected: ZeroDivisionError('division by zero')" (the traceback follows): the task the subject,
    # the exception's class the code.
    Parser("celery-task-received", (WORKER,), _CELERY + r"Task (?P<subject>[^\s\[]+)\[[^\]]+\] received$"),
    Parser("celery-task-succeeded", (WORKER,), _CELERY + r"Task (?P<subject>[^\s\[]+)\[[^\]]+\] succeeded in "),
    Parser("celery-task-failed", (WORKER,),
           _CELERY + r"Task (?P<subject>[^\s\[]+)\[[^\]]+\] (?:raised unexpected|INTERNAL ERROR): "
                     r"(?P<code>[A-Za-z_][\w.]*)"),
    Parser("celery-task-failed", (WORKER,),
           _CELERY + r"Hard time limit \(\d+s\) exceeded for (?P<subject>[^\s\[]+)\[", "TimeLimitExceeded"),
    # The worker's consumer, and beat, failing to reach the broker: the broker's URL (password
    # masked) the subject; the reason follows (redis-connect-failed, or redis:WRONGPASS for auth).
    Parser("celery-cannot-connect", (WORKER, FLOWER), _CELERY + r"consumer: Cannot connect to (?P<subject>\S+?): "),
    Parser("celery-cannot-connect", (BEAT,), _CELERY + r"beat: Connection error: "),
    Parser("celery-cannot-connect", (FLOWER,), r"\bCannot connect to (?P<subject>redis://\S+?): "),
    # The result backend (the broker's database 1): "Connection to Redis lost: Retry (0/20) now."
    Parser("celery-cannot-connect", CELERY, _CELERY + r"Connection to Redis lost: Retry \(\d+/\d+\)"),
    # Celery's command line (`celery inspect ping`: the worker's healthcheck, doctor's probe from web)
    # says it in its own words, the reason after "Reason: ".
    Parser("celery-cannot-connect", (PROBE, *CELERY), r"\bCould not connect to the message broker\b"),
    # After one: "Connected to redis://app:**@broker:6379/0" (the consumer), "celery@… ready." (the worker).
    Parser("celery-connected", (WORKER,), _CELERY + r"Connected to (?P<subject>\S+)$"),
    Parser("celery-ready", (WORKER,), _CELERY + r"(?P<subject>\S+@\S+) ready\.$"),
    # beat: "beat: Starting...", then "Scheduler: Sending due task NAME (TASK)" each time one is due;
    # a due task it could not send: "Message Error: <the exception>".
    Parser("beat-starting", (BEAT,), _CELERY + r"beat: Starting\.\.\.$"),
    Parser("beat-sent", (BEAT,), _CELERY + r"Scheduler: Sending due task (?P<subject>\S+)"),
    Parser("beat-send-failed", (BEAT,), _CELERY + r"Message Error: (?P<subject>.*)$"),
    # --- Docker: why a container could not start ----------------------------------------------------
    Parser("port-taken", (DOCKER,), PORT_TAKEN),
)

_COMPILED = [(p, re.compile(p.pattern)) for p in PARSERS]


def parse(source: str, lines: list[str], current_from: int = 0) -> list[Fact]:
    """The facts `lines` of `source` state, in order; lines before `current_from` are from runs that ended."""
    found: list[Fact] = []
    for index, raw in enumerate(lines):
        line = raw.strip()
        seen: set[str] = set()
        for parser, regex in _COMPILED:
            if source not in parser.sources:
                continue
            m = regex.search(line)
            if m is None or parser.kind in seen:  # the first parser of a kind that matches says it
                continue
            groups = m.groupdict()
            seen.add(parser.kind)
            found.append(Fact(parser.kind, source, line, index, index >= current_from,
                              groups.get("code") or parser.code, groups.get("subject") or ""))
    return found


@dataclass
class Evidence:
    """Every fact of one diagnosis, by the model's service keys (web, nginx, db, redis, and worker,
    beat, broker, flower when the stack has them), doctor's probes and Docker's container states."""

    facts: list[Fact]
    lines: dict[str, list[str]]  # by service key: the log lines the facts came from
    current_from: dict[str, int]  # by service key

    def of(self, *keys: str, source: str | None = None, current: bool | None = None) -> list[Fact]:
        """Facts whose key (kind or kind:code) is one of `keys`, from `source`, in the current run or not."""
        return [f for f in self.facts if (f.key in keys or f.kind in keys)
                and (source is None or f.source == source) and (current is None or f.current == current)]

    def has(self, *keys: str, source: str | None = None, current: bool | None = None) -> bool:
        return bool(self.of(*keys, source=source, current=current))

    def current_lines(self, key: str) -> list[str]:
        return self.lines.get(key, [])[self.current_from.get(key, 0):]

    def ended_lines(self, key: str) -> list[str]:
        return self.lines.get(key, [])[:self.current_from.get(key, 0)]


def read_evidence(facts: Facts, names: dict[str, str]) -> Evidence:
    """The facts of `facts`; `names` maps the model's service keys to the stack's service names."""
    found: list[Fact] = []
    lines: dict[str, list[str]] = {}
    current: dict[str, int] = {}
    for key, name in names.items():
        lines[key] = facts.logs.get(name, [])
        # Without times (an old evidence file) every line counts as the current run's.
        current[key] = facts.current_from.get(name, 0)
        found += parse(key, lines[key], current[key])
        container = facts.containers.get(name)
        if container is not None and container.error:
            # Docker's error for one container: the fact names the service.
            found += [replace(f, subject=name) for f in parse(DOCKER, [container.error])]
    found += parse(NGINX, facts.nginx_error_log)
    found += parse(PROBE, [p.detail for p in facts.probes.values() if p.ok is False])
    return Evidence(found, lines, current)
