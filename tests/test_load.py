"""bench/load.py against a tiny threaded HTTP server on 127.0.0.1 that the test starts, breaks,
slows down and stops: what the load records is what the server did."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from helpers import free_port
from load import Load, percentile  # bench/load.py (helpers puts bench/ on the path)


class Site:
    """What the server does, changed by the test while the load runs."""

    def __init__(self):
        self.status = 200  # for GETs
        self.post_status = 201
        self.delay = 0.0
        self.stored: list[str] = []
        self.hosts: set[str] = set()
        self.requests = 0
        self.lock = threading.Lock()


def make_handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status: int, body: bytes, ctype: str = "text/html") -> None:
            if site.delay:
                time.sleep(site.delay)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with site.lock:
                site.requests += 1
                site.hosts.add(self.headers.get("Host", ""))
            self._answer(site.status, b"<p>home</p>")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            text = parse_qs(self.rfile.read(length).decode()).get("text", [""])[0]
            status = site.post_status
            with site.lock:
                site.requests += 1
                if status == 201:
                    site.stored.append(text)
            self._answer(status, json.dumps({"text": text}).encode(), "application/json")

    return Handler


class Server:
    def __init__(self, site: Site, port: int = 0):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(site))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site():
    return Site()


@pytest.fixture
def server(site):
    srv = Server(site)
    yield srv
    srv.close()


def url(server) -> str:
    return f"http://127.0.0.1:{server.port}"


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_gets_and_posts_recorded_and_accepted_posts_are_the_stored_ones(site, server):
    with Load(url(server), host="www.example.test", concurrency=3, tag="t1") as load:
        wait_until(lambda: len(site.stored) >= 30)
    assert load.stopped_by == "block"
    assert not load.running
    assert load.total == site.requests  # nothing sent unrecorded, nothing recorded unsent
    assert load.failures == []
    methods = {s.method for s in load.samples}
    assert methods == {"GET", "POST"}
    assert sorted(load.accepted_posts) == sorted(site.stored)
    assert len(set(load.accepted_posts)) == len(load.accepted_posts)  # each text unique
    assert all(t.startswith("t1-") for t in load.accepted_posts)
    assert site.hosts == {"www.example.test"}
    assert load.p50() is not None and load.p99() >= load.p50()


def test_error_answers_are_failures_with_their_status_and_refused_posts_are_not_accepted(site, server):
    with Load(url(server), concurrency=2, pause=0.005) as load:
        wait_until(lambda: load.ok_count >= 10)
        site.status, site.post_status = 502, 503
        broke = time.monotonic()
        wait_until(lambda: len(load.failures) >= 10)
        site.status, site.post_status = 200, 201
        mended = time.monotonic()
        wait_until(lambda: any(s.ok and s.started > mended for s in load.samples))
    failures = load.failures
    assert {(f.method, f.status) for f in failures} <= {("GET", 502), ("POST", 503)}
    assert all(f.error is None for f in failures)
    assert all(f.at >= broke for f in failures)
    assert sorted(load.accepted_posts) == sorted(site.stored)  # a 503 POST is not "accepted"
    gap = load.longest_gap()
    assert gap.start <= broke + 0.5 and gap.end >= mended - 0.05  # the outage is the longest gap
    assert "requests failed" in load.describe_failures()


def test_connection_errors_while_the_server_is_down_and_the_gap_spans_the_outage(site):
    first = Server(site)
    port = first.port
    with Load(f"http://127.0.0.1:{port}", concurrency=2, pause=0.01, timeout=2) as load:
        wait_until(lambda: load.ok_count >= 5)
        first.close()
        down = time.monotonic()
        wait_until(lambda: any(f.error for f in load.failures))
        time.sleep(0.3)
        second = Server(site, port)
        up = time.monotonic()
        try:
            wait_until(lambda: any(s.ok and s.started > up for s in load.samples))
        finally:
            pass
    second.close()
    errors = [f for f in load.failures if f.error]
    assert errors and {f.status for f in errors} == {None}
    assert {f.error for f in errors} <= {"ConnectionError", "ReadTimeout", "ChunkedEncodingError"}
    gap = load.longest_gap()
    assert gap.seconds >= up - down - 0.05
    assert gap.start <= down + 0.05


def test_stops_by_itself_at_max_requests(site, server):
    with Load(url(server), concurrency=4, max_requests=37) as load:
        wait_until(lambda: not load.running)
    assert load.stopped_by == "max_requests"
    assert load.total == 37 == site.requests


def test_stops_by_itself_at_max_seconds(site, server):
    started = time.monotonic()
    with Load(url(server), concurrency=2, max_seconds=0.5, pause=0.01) as load:
        wait_until(lambda: not load.running, timeout=5)
        stopped_inside_block = time.monotonic()
        time.sleep(0.6)
    assert load.stopped_by == "max_seconds"
    assert 0.5 <= stopped_inside_block - started < 3
    assert load.total > 0
    # The time after the load stopped by itself is no gap: gaps count up to its stop, not the block's end.
    assert load.stopped <= stopped_inside_block
    assert load.longest_gap().end <= load.stopped and load.longest_gap().seconds < 0.5


def test_latency_window_sees_the_slow_stretch_and_overall_p50_does_not(site, server):
    with Load(url(server), gets=("/",), post_path=None, concurrency=2) as load:
        wait_until(lambda: load.ok_count >= 200)
        time.sleep(0.3)  # a stretch of fast answers well before the slow one
        site.delay = 0.2
        t0 = time.monotonic()
        time.sleep(1.0)
        site.delay = 0.0
        t1 = time.monotonic()
        wait_until(lambda: sum(1 for s in load.samples if s.started > t1) >= 200)
    assert {s.method for s in load.samples} == {"GET"}
    assert load.p99_between(t0, t1) >= 0.2
    assert load.p50_between(t0, t1) >= 0.2
    assert load.p50() < 0.1  # most requests were fast
    before = load.p99_between(load.started, t0 - 0.25)
    assert before is not None and before < 0.2
    summary = load.summary(t0, t1)
    assert summary["window_p99_ms"] >= 200 and summary["p50_ms"] < 100
    assert summary["failed"] == 0 and summary["requests"] == load.total


def test_a_request_slower_than_the_timeout_is_a_failure(site, server):
    site.delay = 1.0
    with Load(url(server), post_path=None, concurrency=1, timeout=0.3) as load:
        wait_until(lambda: load.failures)
    assert load.failures[0].error == "ReadTimeout"
    assert load.ok_count == 0


def test_the_load_stops_when_the_block_raises(site, server):
    with pytest.raises(RuntimeError):
        with Load(url(server), concurrency=2) as load:
            wait_until(lambda: load.total >= 5)
            raise RuntimeError("the test's own failure")
    assert load.stopped_by == "block" and not load.running
    count = site.requests
    time.sleep(0.2)
    assert site.requests == count  # nothing sent after the block


def test_refuses_nonsense_and_runs_once(server):
    with pytest.raises(ValueError):
        Load(url(server), concurrency=0)
    with pytest.raises(ValueError):
        Load(url(server), gets=(), post_path=None)
    load = Load(url(server), max_requests=1)
    with load:
        wait_until(lambda: not load.running)
    with pytest.raises(RuntimeError):
        load.start()


def test_percentile_is_a_value_some_request_had():
    values = [0.001 * i for i in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(0.050)
    assert percentile(values, 99) == pytest.approx(0.099)
    assert percentile(values, 100) == pytest.approx(0.100)
    assert percentile([0.5], 99) == 0.5
    assert percentile([], 99) is None


def test_nothing_listens_means_every_request_fails():
    port = free_port()  # closed again: nothing listens there now
    with Load(f"http://127.0.0.1:{port}", concurrency=1, max_requests=5) as load:
        wait_until(lambda: not load.running)
    assert load.total == 5 and len(load.failures) == 5 and load.ok_count == 0
    assert {f.error for f in load.failures} == {"ConnectionError"}
    assert load.longest_gap().seconds == pytest.approx(load.stopped - load.started)
