"""The soak: a steady open-loop load of mixed requests through a stack's nginx for minutes, and what
the stack looks like afterwards (errors, latency per minute, memory per service, restarts, rows
written vs rows found). bench.py runs it (`bench/run.sh --soak`, and a short one in `--smoke`).

Open loop: requests are due at fixed times (rate R, evenly spaced) whatever the answers do, and each
latency is counted from the moment its request was due, so a slow stack cannot slow the load down
and hide its own slowness (a closed loop such as wrk waits for an answer before the next request).
Keep-alive connections (no reloads happen during a soak), one per worker thread.
Dependencies: the standard library; wrk for the ramp (bench/run.sh installs it).
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import re
import subprocess
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

from load import percentile  # bench/load.py: nearest-rank percentile, shared with the deploy row

#: The mix, as (kind, method, path, weight): what each request of the soak is, drawn at random
#: (seeded, so two runs send the same sequence). Writes are POST /api/notes/ with a unique text.
MIX = (
    ("dynamic read", "GET", "/", 40),
    ("cached read", "GET", "/cached-page/", 25),
    ("static read", "GET", "/static/gallery/site.css", 20),
    ("write", "POST", "/api/notes/", 15),
)
SHARE = 0.7  # of the sustained rate: a load the stack should hold indefinitely
RAMP_CONNECTIONS = (4, 8, 16, 32)
TIMEOUT = 10.0  # seconds per request; longer is an error
WORKERS = 32  # threads sending; tickets wait for a free one (and that wait counts in the latency)


@dataclass(frozen=True)
class Sample:
    due: float  # monotonic time the request was due (the open loop's schedule)
    ended: float
    kind: str
    status: int | None  # None: no answer (the error names why)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    @property
    def latency_ms(self) -> float:
        return (self.ended - self.due) * 1000


# --- the sustained rate -------------------------------------------------------------------------

def ramp(wrk, url: str, seconds: float) -> dict:
    """wrk on `url` at rising connection counts until the rate stops rising by 5 %: the best
    error-free rate is the one the stack sustains. `wrk` is bench.wrk (url, connections, seconds)."""
    steps, best = [], None
    for connections in RAMP_CONNECTIONS:
        measured = wrk(url, connections, seconds)
        steps.append({"connections": connections, "rps": measured.rps, "p99_ms": measured.p99_ms,
                      "errors": measured.errors})
        if measured.errors:
            break
        if best is not None and measured.rps < best * 1.05:
            best = max(best, measured.rps)
            break
        best = measured.rps if best is None else max(best, measured.rps)
    if not best:
        raise SystemExit(f"soak: the ramp on {url} found no error-free rate: {steps}")
    return {"steps": steps, "sustained_rps": best}


# --- the open-loop load -------------------------------------------------------------------------

class OpenLoop:
    """Sends `rate` requests a second, drawn from MIX, to `base_url` for `seconds`; records every one."""

    def __init__(self, base_url: str, rate: float, seconds: float, tag: str, seed: int = 16):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.rate, self.seconds, self.tag = rate, seconds, tag
        self.samples: list[Sample] = []
        self.written: list[int] = []  # numbers of the notes answered 201
        self.dropped = 0  # tickets never sent: every worker busy for longer than TIMEOUT
        self._tickets: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._weights = [m[3] for m in MIX]
        self.started = self.ended = None

    def run(self) -> None:
        workers = [threading.Thread(target=self._work, daemon=True, name=f"soak-{i}") for i in range(WORKERS)]
        for w in workers:
            w.start()
        self.started = time.monotonic()
        count = int(self.rate * self.seconds)
        for i in range(count):
            due = self.started + i / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind = self._rng.choices(MIX, self._weights)[0]
            self._tickets.put((due, kind, i))
        for _ in workers:
            self._tickets.put(None)
        for w in workers:
            w.join(timeout=TIMEOUT * 3 + 5)
        self.ended = time.monotonic()

    def _work(self) -> None:
        conn = None
        while (ticket := self._tickets.get()) is not None:
            due, (kind, method, path, _), number = ticket
            if time.monotonic() - due > TIMEOUT:  # waited past any answer's deadline: the load fell behind
                with self._lock:
                    self.dropped += 1
                    self.samples.append(Sample(due, time.monotonic(), kind, None, "not sent (load behind)"))
                continue
            body, headers = None, {}
            if method == "POST":
                body = urllib.parse.urlencode({"text": f"{self.tag}-{number}"})
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                status, error = answer.status, None
                if answer.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                status, error = None, type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.samples.append(Sample(due, time.monotonic(), kind, status, error))
                if method == "POST" and status == 201:
                    self.written.append(number)
        if conn is not None:
            conn.close()


# --- the stack before and after -----------------------------------------------------------------

def _mib(text: str) -> float:
    value, unit = re.match(r"([\d.]+)\s*([KMGT]?i?B)", text.strip()).groups()
    return float(value) * {"B": 1 / 2**20, "KiB": 1 / 1024, "kB": 1 / 1024, "MiB": 1, "MB": 1, "GiB": 1024,
                           "GB": 1024, "TiB": 2**20}[unit]


def services(project: str) -> dict[str, dict]:
    """Each running service of the Compose project: its container, memory (docker stats), restart
    count and start time (docker inspect)."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                         capture_output=True, text=True, check=True).stdout.split()
    if not ids:
        raise SystemExit(f"soak: no running container in project {project}")
    fmt = '{{.Id}} {{index .Config.Labels "com.docker.compose.service"}} {{.RestartCount}} {{.State.StartedAt}}'
    inspected = subprocess.run(["docker", "inspect", "-f", fmt, *ids], capture_output=True, text=True,
                               check=True).stdout.splitlines()
    stats = subprocess.run(["docker", "stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.MemUsage}}", *ids],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    memory = {line.split()[0]: _mib(line.split(None, 1)[1].split("/")[0]) for line in stats}
    out = {}
    for line in inspected:
        cid, service, restarts, started = line.split()
        out[service] = {"container": cid[:12], "restarts": int(restarts), "started_at": started,
                        "memory_mib": round(memory.get(cid, 0.0), 1)}
    return out


def rows_found(manage: list[str], tag: str) -> list[int]:
    """The numbers of the notes whose text starts with `tag`-, read from the database through
    `djstack manage … shell` (the API lists at most 1,000)."""
    code = ("import json; from gallery.models import Note; "
            f"print('SOAK-ROWS', json.dumps([t.rsplit('-', 1)[1] for t in "
            f"Note.objects.filter(text__startswith={tag + '-'!r}).values_list('text', flat=True)]))")
    proc = subprocess.run([*manage, "shell", "-c", code], capture_output=True, text=True, timeout=300)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("SOAK-ROWS ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"soak: counting the rows failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return [int(n) for n in json.loads(line.split(" ", 1)[1])]


# --- the whole soak -----------------------------------------------------------------------------

def soak(wrk, url: str, project: str, manage: list[str], seconds: float, window: float, ramp_seconds: float,
         log=print) -> dict:
    """Ramp, then SHARE of the sustained rate for `seconds`; the figures per `window` seconds."""
    log(f"soak: ramp on {url}/ ({ramp_seconds:g} s a step)")
    found_rate = ramp(wrk, url + "/", ramp_seconds)
    rate = round(found_rate["sustained_rps"] * SHARE, 1)
    tag = f"soak-{uuid.uuid4().hex[:8]}"
    before = services(project)
    log(f"soak: {rate:g} requests/s for {seconds:g} s (70 % of {found_rate['sustained_rps']:.0f})")
    load = OpenLoop(url, rate, seconds, tag)
    load.run()
    after = services(project)
    found = rows_found(manage, tag)
    return summarize(load, found_rate, before, after, found, window)


def summarize(load: OpenLoop, found_rate: dict, before: dict, after: dict, found: list[int], window: float) -> dict:
    samples = sorted(load.samples, key=lambda s: s.due)
    windows = []
    for start in range(0, max(1, int(-(-load.seconds // window)))):
        lo, hi = load.started + start * window, load.started + (start + 1) * window
        inside = [s for s in samples if lo <= s.due < hi]
        windows.append(_figures(inside) | {"from_s": int(start * window),
                                           "to_s": int(min((start + 1) * window, load.seconds))})
    kinds = {kind: _figures([s for s in samples if s.kind == kind]) for kind, *_ in MIX}
    errors_by_kind: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            key = str(s.status) if s.status is not None else s.error
            errors_by_kind[key] = errors_by_kind.get(key, 0) + 1
    written, seen = set(load.written), set(found)
    per_service = {}
    for service in sorted(set(before) | set(after)):
        b, a = before.get(service), after.get(service)
        replaced = b is None or a is None or a["container"] != b["container"] or a["started_at"] != b["started_at"]
        counted = a["restarts"] - b["restarts"] if a and b else 0
        per_service[service] = {
            "memory_start_mib": b and b["memory_mib"], "memory_end_mib": a and a["memory_mib"],
            # Docker's RestartCount for restarts by the restart policy; a new container or a new start
            # time (docker restart, a recreate) is one more that the count does not show.
            "restarts": counted or int(replaced),
            "replaced": replaced and not counted,
        }
    return {
        "ramp": found_rate,
        "rate": load.rate,
        "seconds": load.seconds,
        "window_s": window,
        "mix": {kind: weight for kind, _, _, weight in MIX},
        "requests": len(samples),
        "errors": sum(1 for s in samples if not s.ok),
        "errors_by_kind": errors_by_kind,
        "dropped": load.dropped,
        "windows": windows,
        "kinds": kinds,
        "services": per_service,
        "restarts": sum(s["restarts"] for s in per_service.values()),
        "rows_written": len(written),
        "rows_found": len(seen),
        "rows_missing": len(written - seen),
        "rows_unexpected": len(seen - written),
        "took_s": round(load.ended - load.started, 1),
    }


def _figures(samples: list[Sample]) -> dict:
    answered = [s.latency_ms for s in samples if s.status is not None]
    p50, p99 = percentile(answered, 50), percentile(answered, 99)
    return {"requests": len(samples), "errors": sum(1 for s in samples if not s.ok),
            "p50_ms": None if p50 is None else round(p50, 1), "p99_ms": None if p99 is None else round(p99, 1)}


# --- report -------------------------------------------------------------------------------------

def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def report(soak: dict, smoke: bool) -> list[str]:
    r = soak["ramp"]
    steps = ", ".join(f"{s['rps']:,.0f} @{s['connections']}" + (f" ({s['errors']} err)" if s["errors"] else "")
                      for s in r["steps"])
    mix = ", ".join(f"{kind} {weight} %" for kind, weight in soak["mix"].items())
    minutes = soak["seconds"] / 60
    per = "minute" if soak["window_s"] == 60 else f"{soak['window_s']:g} s"
    kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(soak["errors_by_kind"].items()))
    lines = [
        "",
        f"### Soak: {minutes:g} min at 70 % of the sustained rate" + (" (smoke: seconds, numbers meaningless)" if smoke else ""),
        "",
        f"Sustained rate: wrk on `GET /` (dynamic page) at rising connection counts until the rate stopped "
        f"rising by 5 %: {steps} requests/s; best error-free {r['sustained_rps']:,.0f}. Held: "
        f"{soak['rate']:,.1f} requests/s, open loop (evenly spaced, latency counted from when each request was "
        f"due), {WORKERS} keep-alive connections through nginx on 127.0.0.1, mix {mix} "
        f"(writes: `POST /api/notes/` with a unique text). An error: a non-2xx/3xx answer or none within "
        f"{TIMEOUT:g} s.",
        "",
        f"**Errors: {soak['errors']} of {soak['requests']:,} requests** (target 0)" + (f": {kinds}" if kinds else "")
        + f"; restarts: {soak['restarts']} (target 0); rows written {soak['rows_written']:,}, found "
        f"{soak['rows_found']:,} (missing {soak['rows_missing']}, unexpected {soak['rows_unexpected']}).",
        "",
        f"| {per} | requests | errors | p50 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for w in soak["windows"]:
        lines.append(f"| {w['from_s']}–{w['to_s']} s | {w['requests']:,} | {w['errors']} | {_ms(w['p50_ms'])} | "
                     f"{_ms(w['p99_ms'])} |")
    lines += ["", "| request | requests | errors | p50 (ms) | p99 (ms) |", "|---|---:|---:|---:|---:|"]
    for kind, f in soak["kinds"].items():
        lines.append(f"| {kind} | {f['requests']:,} | {f['errors']} | {_ms(f['p50_ms'])} | {_ms(f['p99_ms'])} |")
    lines += ["", "| service | memory at start (MiB) | at end (MiB) | change (MiB) | restarts |",
              "|---|---:|---:|---:|---:|"]
    for service, s in soak["services"].items():
        start, end = s["memory_start_mib"], s["memory_end_mib"]
        change = f"{end - start:+,.1f}" if start is not None and end is not None else "n/a"
        restarts = str(s["restarts"]) + (" (container replaced or started again)" if s["replaced"] else "")
        lines.append(f"| {service} | {_ms(start)} | {_ms(end)} | {change} | {restarts} |")
    lines += ["", "| rows (notes) | written (201) | found afterwards | missing | unexpected |",
              "|---|---:|---:|---:|---:|",
              f"| soak's own | {soak['rows_written']:,} | {soak['rows_found']:,} | {soak['rows_missing']} | "
              f"{soak['rows_unexpected']} |"]
    return lines
