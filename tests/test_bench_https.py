"""bench/https.py's pure parts: the bare TLS nginx's config taken from a generated one, and the HTTPS
rows' report and targets on made-up figures (the measuring itself runs in the e2e bench smoke)."""

from __future__ import annotations

import re

import pytest

from helpers import REPO
import https  # bench/https.py (helpers puts bench/ on the path)

GOLDEN = REPO / "tests" / "golden"


def ssl_lines(conf: str) -> list[str]:
    return [line.strip() for line in conf.splitlines() if re.match(r"\s*ssl_", line)]


def test_bare_nginx_takes_every_tls_line_but_stapling():
    generated = (GOLDEN / "mysite-https" / "compose" / "nginx" / "nginx.conf.golden").read_text(encoding="utf-8")
    bare = https.bare_tls_conf(generated)
    wanted = [line for line in ssl_lines(generated) if not line.startswith(("ssl_stapling", "ssl_trusted"))]
    assert "ssl_session_tickets off;" in wanted and "ssl_session_cache shared:djstack_tls:10m;" in wanted
    assert ssl_lines(bare) == wanted
    assert "keepalive_timeout 30s;" in bare and "listen 443 ssl default_server;" in bare and "http2 on;" in bare
    assert f"server_name {https.DOMAIN};" in bare


def test_bare_nginx_refuses_a_plain_http_conf():
    plain = (GOLDEN / "mysite-debian" / "compose" / "nginx" / "nginx.conf.golden").read_text(encoding="utf-8")
    with pytest.raises(SystemExit, match="no ssl_certificate"):
        https.bare_tls_conf(plain)


def load(rps: float, errors: int = 0) -> dict:
    return {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "errors": errors}


def results(resumed13: float, resumed12: float, static_ratio: float) -> dict:
    hs = {}
    for server in ("djstack", "bare-nginx"):
        for version, resumed in (("1.3", resumed13), ("1.2", resumed12)):
            hs[f"{server}/{version}/full"] = {"per_s": 1000.0, "connections": 1000, "resumed": 0}
            hs[f"{server}/{version}/resumed"] = {"per_s": resumed, "connections": 2000, "resumed": 2000}
    return {
        "load": [{"endpoint": "static file", "connections": 8, "stacks": {"djstack": load(5000.0)}}],
        "https": {
            "profile": "intermediate", "domain": https.DOMAIN, "clients": 2, "per_client": 990,
            "page_files": ["/", "/static/gallery/site.abc.css"], "handshakes": hs,
            "keepalive": [
                {"endpoint": "dynamic page (DB)", "connections": 8, "servers": {"djstack": load(200.0)}},
                {"endpoint": "static file", "connections": 8,
                 "servers": {"djstack": load(4000.0 * static_ratio), "bare-nginx": load(4000.0)}},
            ],
            "h2": [{"protocol": "http/1.1", "connections": 8, "streams": 1, "rps": 600.0, "pages_per_s": 300.0,
                    "requests": 7920, "errors": 0, "mean_ms": 12.5},
                   {"protocol": "h2", "connections": 8, "streams": 2, "rps": 800.0, "pages_per_s": 400.0,
                    "requests": 7920, "errors": 0, "mean_ms": 18.0}],
        },
    }


def test_targets_say_by_how_much():
    met = https.targets(results(3500.0, 3000.0, 0.95))
    assert [t["met"] for t in met] == [True, True]
    assert met[0]["measured"] == "3.50× TLS 1.3, 3.00× TLS 1.2" and met[1]["measured"] == "0.95× @8"
    short = https.targets(results(1500.0, 3000.0, 0.85))
    assert [t["met"] for t in short] == [False, False]
    assert short[0]["measured"] == "1.50× TLS 1.3, 3.00× TLS 1.2"


def test_targets_without_the_rows():
    assert [t["met"] for t in https.targets({})] == [None, None]
    assert https.report({}) == []


def test_report_rows():
    text = "\n".join(https.report(results(1500.0, 3000.0, 0.9)))
    assert "| 1.3 | djstack | 1,000 | 1,500 | 1.50× | 2,000 of 2,000 |" in text
    assert "| 1.2 | bare nginx | 1,000 | 3,000 | 3.00× | 2,000 of 2,000 |" in text
    # static over HTTPS beside the same run's plain-HTTP figure and the bare nginx over HTTPS
    assert "| static file over HTTPS | 8 | 3,600 | 5,000 | 0.72× | 4,000 | 0.90× | 1.0 / 2.0 |" in text
    assert "| dynamic page (DB) over HTTPS | 8 | 200 | n/a | n/a | — | — | 1.0 / 2.0 |" in text
    assert "| h2 | 8 | 2 | 800 | 400 | 18.0 | 0 |" in text
