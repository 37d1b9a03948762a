"""A bounded, steady load of GETs and POSTs against a site (through nginx on 127.0.0.1), shared by the
benchmark's deploy row and the e2e tests of deploys and rollbacks.

    with Load("http://127.0.0.1:8080", gets=("/",), post_path="/api/notes/") as load:
        ...  # deploy, roll back, restart something
    assert not load.failures, load.describe_failures()
    assert load.longest_gap().seconds < 1
    missing = set(load.accepted_posts) - texts_in_database()

It only records; every judgement (assertions, thresholds) belongs to the caller, after the block.
It is bounded in time (`max_seconds`) and in count (`max_requests`) and stops by itself at either, so a
test that forgets to leave the block, or a hung site, cannot load a shared host forever.
Dependencies: the standard library and `requests`.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field

import requests


@dataclass(frozen=True)
class Sample:
    """One request: monotonic start and end (time.monotonic() seconds), and how it ended."""

    started: float
    ended: float
    method: str
    path: str
    status: int | None  # None: no HTTP answer at all
    error: str | None = None  # exception class name when there was no answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Failure:
    """A non-2xx/3xx answer or a request that got no answer (connection refused, reset, timeout)."""

    at: float  # time.monotonic() of the answer or the error
    method: str
    path: str
    status: int | None
    error: str | None  # exception class name, None when an answer came

    def __str__(self) -> str:
        return f"{self.at:.3f} {self.method} {self.path}: {self.status if self.status is not None else self.error}"


@dataclass(frozen=True)
class Gap:
    """The longest stretch without a successful answer: from one success (or the load's start) to the
    next (or the load's end)."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by nearest rank: a latency that some request really had."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(min(rank, len(ordered))) - 1]


@dataclass
class Load:
    base_url: str
    host: str = "localhost"  # the Host header: djstack's nginx answers 400 to names it does not serve
    gets: tuple[str, ...] = ("/",)
    post_path: str | None = "/api/notes/"  # form field `text`; None for GETs only
    concurrency: int = 4
    max_seconds: float = 600
    max_requests: int = 200_000
    tag: str = "load"  # prefix of the POSTed texts, so a test can find its own rows
    pause: float = 0.0  # seconds each worker waits between requests: a steady load that leaves the CPU to builds
    timeout: float = 10.0  # per request; a request that takes longer is a failure (ReadTimeout)
    # A new connection per request by default: a request sent on an idle keep-alive connection at the
    # moment the server closes it (nginx does on every reload) fails in any client, and browsers retry
    # it silently. Without keep-alive every failure recorded is the server's.
    keep_alive: bool = False

    samples: list[Sample] = field(default_factory=list, init=False, repr=False)
    accepted_posts: list[str] = field(default_factory=list, init=False, repr=False)
    started: float | None = field(default=None, init=False)
    stopped: float | None = field(default=None, init=False)
    stopped_by: str | None = field(default=None, init=False)  # "block", "max_seconds" or "max_requests"

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not self.gets and not self.post_path:
            raise ValueError("nothing to request: no gets and no post_path")
        self.base_url = self.base_url.rstrip("/")
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._issued = 0
        self._numbers = itertools.count()
        self._threads: list[threading.Thread] = []

    # --- running --------------------------------------------------------------------------------

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if self.started is not None:
            raise RuntimeError("a Load runs once")
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._work, args=(i,), name=f"{self.tag}-{i}", daemon=True)
                         for i in range(self.concurrency)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop and wait for the requests in flight (each ends within `timeout`)."""
        self._end("block")
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _end(self, why: str) -> None:
        with self._lock:
            if self.stopped_by is None:
                self.stopped_by = why
                self.stopped = time.monotonic()
        self._halt.set()

    def _claim(self) -> bool:
        """One more request may be sent (both bounds checked here, so the workers stop by themselves)."""
        if self._halt.is_set():
            return False
        if time.monotonic() - self.started >= self.max_seconds:
            self._end("max_seconds")
            return False
        with self._lock:
            if self._issued >= self.max_requests:
                claimed = False
            else:
                self._issued += 1
                claimed = True
        if not claimed:
            self._end("max_requests")
        return claimed

    def _work(self, index: int) -> None:
        plan = [("GET", path) for path in self.gets] + ([("POST", self.post_path)] if self.post_path else [])
        # Workers start at different points of the plan so GETs and POSTs interleave from the first second.
        steps = itertools.islice(itertools.cycle(plan), index % len(plan), None)
        # Without keep-alive, a session per request: a pooled connection could otherwise be reused
        # after the server closed it, whatever "Connection: close" asked for.
        session = requests.Session() if self.keep_alive else None
        headers = {"Host": self.host} if self.host else {}
        if not self.keep_alive:
            headers["Connection"] = "close"
        try:
            for method, path in steps:
                if not self._claim():
                    return
                self._one(session, method, path, headers)
                if self.pause and self._halt.wait(self.pause):
                    return
        finally:
            if session is not None:
                session.close()

    def _one(self, session: requests.Session | None, method: str, path: str, headers: dict) -> None:
        text = None
        data = None
        if method == "POST":
            text = f"{self.tag}-{next(self._numbers)}"
            data = {"text": text}
        started = time.monotonic()
        try:
            answer = (session or requests).request(method, self.base_url + path, data=data, headers=headers,
                                     timeout=self.timeout, allow_redirects=False)
            answer.content  # the whole body: a reset mid-body is a failure too
            status, error = answer.status_code, None
        except requests.RequestException as exc:
            status, error = None, type(exc).__name__
        sample = Sample(started, time.monotonic(), method, path, status, error)
        with self._lock:
            self.samples.append(sample)
            if text is not None and status == 201:
                self.accepted_posts.append(text)

    # --- results (read after the block) ---------------------------------------------------------

    def _finished(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    @property
    def total(self) -> int:
        return len(self._finished())

    @property
    def ok_count(self) -> int:
        return sum(1 for s in self._finished() if s.ok)

    @property
    def failures(self) -> list[Failure]:
        return [Failure(s.ended, s.method, s.path, s.status, s.error)
                for s in sorted(self._finished(), key=lambda s: s.ended) if not s.ok]

    def failures_between(self, t0: float, t1: float) -> list[Failure]:
        return [f for f in self.failures if t0 <= f.at <= t1]

    def describe_failures(self, limit: int = 20) -> str:
        found = self.failures
        lines = [str(f) for f in found[:limit]]
        if len(found) > limit:
            lines.append(f"... and {len(found) - limit} more")
        return f"{len(found)} of {self.total} requests failed" + ("".join(f"\n  {line}" for line in lines))

    def longest_gap(self, t0: float | None = None, t1: float | None = None) -> Gap:
        """The longest time without a successful answer, within [t0, t1] (default: the whole load, from
        its start to its end, so a site that never answers again shows as one long gap)."""
        t0 = self.started if t0 is None else t0
        t1 = (self.stopped or time.monotonic()) if t1 is None else t1
        marks = [t0, *sorted(s.ended for s in self._finished() if s.ok and t0 < s.ended < t1), t1]
        return max((Gap(a, b) for a, b in zip(marks, marks[1:])), key=lambda g: g.seconds)

    def latencies(self, t0: float | None = None, t1: float | None = None) -> list[float]:
        """Seconds each successful request took; within a window, every request that overlaps it
        (one stuck across the window's start counts, with its whole latency)."""
        lo = float("-inf") if t0 is None else t0
        hi = float("inf") if t1 is None else t1
        return [s.latency for s in self._finished() if s.ok and s.started <= hi and s.ended >= lo]

    def p50(self) -> float | None:
        return percentile(self.latencies(), 50)

    def p99(self) -> float | None:
        return percentile(self.latencies(), 99)

    def p50_between(self, t0: float, t1: float) -> float | None:
        return percentile(self.latencies(t0, t1), 50)

    def p99_between(self, t0: float, t1: float) -> float | None:
        return percentile(self.latencies(t0, t1), 99)

    def summary(self, t0: float | None = None, t1: float | None = None) -> dict:
        """Plain data for a report or results.json; t0/t1 (monotonic) narrow the latency and gap window."""
        gap = self.longest_gap(t0, t1)
        window = t0 is not None or t1 is not None
        return {
            "requests": self.total,
            "ok": self.ok_count,
            "failed": len(self.failures),
            "failures": [{**asdict(f), "at": round(f.at - self.started, 3)} for f in self.failures[:200]],
            "failed_in_window": len(self.failures_between(t0 if t0 is not None else float("-inf"),
                                                          t1 if t1 is not None else float("inf"))),
            "longest_gap_s": round(gap.seconds, 3),
            "longest_gap_at_s": round(gap.start - self.started, 3),
            "p50_ms": _ms(self.p50()),
            "p99_ms": _ms(self.p99()),
            "window_p50_ms": _ms(self.p50_between(t0 or float("-inf"), t1 or float("inf"))) if window else None,
            "window_p99_ms": _ms(self.p99_between(t0 or float("-inf"), t1 or float("inf"))) if window else None,
            "accepted_posts": len(self.accepted_posts),
            "stopped_by": self.stopped_by,
            "seconds": round((self.stopped or time.monotonic()) - self.started, 3),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
