"""bench/soak.py's open loop against a tiny HTTP server on 127.0.0.1 that the test starts (and makes
fail), and its judgement of the stack before and after on made-up `docker` figures."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import free_port
from soak import MIX, OpenLoop, _mib, report, summarize  # bench/soak.py (helpers puts bench/ on the path)


@pytest.fixture
def site():
    state = {"fail_static": False, "posts": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as nginx

        def log_message(self, *args):
            pass

        def answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self):
            self.answer(500 if state["fail_static"] and self.path.startswith("/static/") else 200)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            state["posts"] += 1
            self.answer(201)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def service(container="c1", restarts=0, started="t0", memory=100.0):
    return {"container": container, "restarts": restarts, "started_at": started, "memory_mib": memory}


RAMP = {"steps": [{"connections": 4, "rps": 100.0, "p99_ms": 5.0, "errors": 0}], "sustained_rps": 100.0}


def test_open_loop_sends_the_rate_and_the_mix_and_counts_writes(site):
    url, state = site
    load = OpenLoop(url, rate=200, seconds=1.5, tag="t")
    load.run()
    assert len(load.samples) == 300 and all(s.ok for s in load.samples)
    assert load.ended - load.started >= 1.49  # paced, not sent at once: the last is due at 1.495 s
    kinds = {kind: sum(1 for s in load.samples if s.kind == kind) for kind, *_ in MIX}
    assert all(n > 0 for n in kinds.values()), kinds
    assert len(load.written) == kinds["write"] == state["posts"]
    result = summarize(load, RAMP, {"web": service()}, {"web": service()}, load.written, window=0.5)
    assert [w["requests"] for w in result["windows"]] == [100, 100, 100]
    assert result["errors"] == 0 and result["rows_written"] == result["rows_found"] > 0


def test_errors_missing_rows_and_restarts_are_reported(site):
    url, state = site
    state["fail_static"] = True
    load = OpenLoop(url, rate=100, seconds=1, tag="t")
    load.run()
    found = load.written[1:] + [10**6]  # one write lost, one row nobody wrote
    before = {"web": service(), "db": service("d1"), "nginx": service("n1", memory=5.0)}
    after = {"web": service(restarts=2), "db": service("d2"), "nginx": service("n1", started="t1", memory=7.5)}
    result = summarize(load, RAMP, before, after, found, window=60)
    static = sum(1 for s in load.samples if s.kind == "static read")
    assert result["errors"] == static > 0 and result["errors_by_kind"] == {"500": static}
    assert (result["rows_missing"], result["rows_unexpected"]) == (1, 1)
    assert result["rows_found"] == result["rows_written"]  # equal counts, and still two rows wrong
    # web: Docker's count; db: a new container; nginx: started again (docker restart)
    assert [result["services"][s]["restarts"] for s in ("web", "db", "nginx")] == [2, 1, 1]
    assert result["restarts"] == 4
    text = "\n".join(report(result, smoke=False))
    assert f"**Errors: {static} of 100 requests** (target 0): 500 ×{static}; restarts: 4" in text
    assert "| nginx | 5.0 | 7.5 | +2.5 | 1 (container replaced or started again) |" in text
    assert "| minute | requests | errors | p50 (ms) | p99 (ms) |" in text
    assert f"| soak's own | {result['rows_written']:,} | {result['rows_found']:,} | 1 | 1 |" in text


def test_docker_stats_memory_units():
    assert _mib("512KiB") == 0.5 and _mib("1.5GiB") == 1536 and _mib("100MiB ") == 100 and _mib("0B") == 0
