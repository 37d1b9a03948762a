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

ANY = (WEB, NGINX, DB, REDIS, PROBE, DOCKER)
SERVICES = (WEB, NGINX, DB, REDIS)
CLIENTS = (WEB, PROBE, DB)  # where MySQL client errors appear (db's own log quotes some)


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
    Parser("os-error", (DB, REDIS, WEB), r"Operating system error number (?P<code>\d+)"),
    Parser("os-error", (DB, REDIS, WEB), r"\((?:Errcode|errno): (?P<code>\d+)\b"),
    Parser("os-error", (DB, REDIS, WEB), r"\bErrcode: (?P<code>\d+)\b"),
    # The image's entrypoint, before the server: `touch: cannot touch '/var/lib/mysql/x': Permission denied`.
    Parser("os-error", (DB, REDIS), r"\bcannot \w+ '(?P<subject>/[^']+)': Permission denied", "13"),
    # ENOSPC as the C library, MariaDB's server and InnoDB word it: where the line names the path,
    # the path (on a tmpfs it is the tmpfs that is full, not the host's disk).
    *write_parsers("disk-full", "28", "No space left on device"),
    Parser("disk-full", ANY, r"No space left on device|\bDisk (?:is )?full\b|Errcode: 28\b|errno: 28\b"
                             r"|\bfailed with error 28\b|\bOut of disk space\b"),
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
    # --- nginx (its container's log and its error.log) ---------------------------------------------
    # `nginx: [emerg] unknown directive "servr_name" in /etc/nginx/nginx.conf:41`
    Parser("nginx-emerg", (NGINX,), r"\[emerg\] (?:\d+#\d+: )?.*? in (?P<subject>/\S+:\d+)\s*$"),
    Parser("nginx-emerg", (NGINX,), r"\[emerg\] "),
    Parser("tls-key-mismatch", (NGINX,),
           r"(?:SSL_CTX_use_PrivateKey|X509_check_private_key)\(.*key values mismatch"),
    Parser("nginx-open-failed", (NGINX,), r"\bopen\(\) \"(?P<subject>[^\"]+)\" failed \((?P<code>\d+): "),
    # --- Redis: its replies as redis-py raises them, and its own log ---------------------------------
    Parser("redis", (WEB, PROBE, REDIS), r"\b(?P<code>NOAUTH|WRONGPASS|LOADING|MISCONF|NOPERM) "),
    # The ACL refusing a command: redis-py drops the NOPERM code and raises NoPermissionError.
    Parser("redis", (WEB, PROBE), r"\bNoPermissionError\b", "NOPERM"),
    Parser("redis", (WEB, PROBE), r"\bOOM command not allowed when used memory", "OOM"),
    Parser("redis", (WEB, PROBE), r"\bOutOfMemoryError\b", "OOM"),
    Parser("redis", (WEB, PROBE), r"\bBusyLoadingError\b", "LOADING"),
    # A line of redis.conf it refuses, quoted: Redis 7 under "FATAL CONFIG FILE ERROR", Redis 8 under
    # "Unresolved Configuration(s) Detected:" behind its log prefix.
    Parser("redis-config-invalid", (REDIS,), r"(?:^|\s#\s)>>> '(?P<subject>.*)'$"),
    Parser("redis-save-failed", (REDIS,),
           r"Background saving error|Failed opening the RDB file|Write error saving DB on disk"),
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
    """Every fact of one diagnosis, by the model's service keys (web, nginx, db, redis), doctor's
    probes and Docker's container states."""

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
