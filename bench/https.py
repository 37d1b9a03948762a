"""The benchmark's HTTPS rows (imported by bench.py): djstack's stack with --tls self-signed beside a bare
nginx with the same certificate and the same TLS lines (its ceiling), on 127.0.0.1.

- handshakes per second, full and resumed, TLS 1.3 and 1.2: `openssl s_time -new` / `-reuse` (h2load
  cannot resume a session across connections); each connection a handshake and one small GET, so that
  TLS 1.3's session ticket, sent after the handshake, is read and the next connection can resume;
- the dynamic page and the static file over HTTPS with keep-alive (wrk https://);
- HTTP/1.1 against HTTP/2 for the home page with its static assets (h2load, Debian's nghttp2-client).

bench.py makes and starts the stacks; this module writes the bare nginx's files, measures and reports.
See docs/benchmarks.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import requests
import urllib3

BENCH = Path(__file__).resolve().parent
#: The TLS stack's domain: the certificate's name, sent as SNI and Host (the stack answers 400 to others).
DOMAIN = "bench.test"
TLS_VERSIONS = ("1.3", "1.2")
#: The generated nginx.conf's TLS lines that the bare nginx copies (OCSP stapling needs a CA's responder:
#: a self-signed stack has none, and `provided` is not benchmarked).
COPIED = re.compile(r"^\s*(ssl_(?!stapling|trusted_certificate)\w+\s[^;]*;)", re.M)

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the certificate is self-signed


def bare_tls_conf(generated: str) -> str:
    """bench/https/nginx-bare-tls.conf: the plain-HTTP bare nginx of bench/ceiling with every ssl_*
    line of the generated nginx.conf (certificate, protocols, ciphers, groups, session cache and
    tickets) and djstack's keep-alive, listening on 443 with HTTP/2 offered as djstack's site does."""
    lines = COPIED.findall(generated)
    if not any(line.startswith("ssl_certificate ") for line in lines):
        raise SystemExit("the TLS stack's nginx.conf has no ssl_certificate line: not an HTTPS stack?")
    keepalive = re.search(r"^\s*(keepalive_timeout\s[^;]*;)", generated, re.M)
    tls = "\n".join(f"    {line}" for line in lines)
    return f"""# Benchmark ceiling over HTTPS: nginx serving a static file, nothing else (no Django, no proxy), with
# the TLS lines of djstack's generated nginx.conf (written by bench/https.py).
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    {keepalive.group(1) if keepalive else "keepalive_timeout 30s;"}
{tls}
    server {{
        listen 443 ssl default_server;
        http2 on;
        server_name {DOMAIN};
        location /static/ {{
            alias /srv/static/;
        }}
    }}
}}
"""


def write_bare(root: Path, stack_root: Path, static_file: Path) -> None:
    """The bare TLS nginx's folder: compose file, config, the TLS stack's certificate, the static file."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(BENCH / "https" / "docker-compose.yml", root / "docker-compose.yml")
    generated = (stack_root / "compose" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    (root / "nginx-bare-tls.conf").write_text(bare_tls_conf(generated), encoding="utf-8")
    shutil.copytree(stack_root / "compose" / "nginx" / "ssl", root / "ssl", dirs_exist_ok=True)
    (root / "static" / "gallery").mkdir(parents=True, exist_ok=True)
    shutil.copy(static_file, root / "static" / "gallery" / static_file.name)


def get(port: int, path: str, **kwargs) -> requests.Response:
    return requests.get(f"https://127.0.0.1:{port}{path}", headers={"Host": DOMAIN}, verify=False, timeout=10,
                        **kwargs)


def wait_https(port: int, path: str, timeout: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if get(port, path).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"https://127.0.0.1:{port}{path} did not answer 200 within {timeout:.0f} s")


def seed(port: int, notes: int) -> None:
    """The same notes as the HTTP stacks get (bench.seed), so the dynamic page renders the same rows."""
    for i in range(notes):
        r = requests.post(f"https://127.0.0.1:{port}/api/notes/", data={"text": f"benchmark note {i}"},
                          headers={"Host": DOMAIN}, verify=False, timeout=10)
        if r.status_code != 201:
            raise SystemExit(f"djstack TLS: POST /api/notes/ answered {r.status_code}")


def page_assets(port: int) -> list[str]:
    """The home page's own static files (stylesheet, logo), as the page names them."""
    html = get(port, "/").text
    return list(dict.fromkeys(re.findall(r'(?:href|src)="(/static/[^"]+)"', html)))


# --- handshakes ---------------------------------------------------------------------------------

def s_time(port: int, version: str, reuse: bool, seconds: int) -> dict:
    """One `openssl s_time` client for `seconds`: connections made and how many resumed a session."""
    cmd = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-www", "/", "-time", str(seconds),
           "-tls1_3" if version == "1.3" else "-tls1_2", "-reuse" if reuse else "-new"]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    elapsed = time.monotonic() - started
    found = re.search(r"(\d+) connections in [\d.]+s", proc.stdout)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    # s_time prints one mark a connection: "r" when the session was resumed, "*" for a full handshake.
    marks = "".join(line for line in proc.stdout.splitlines() if re.fullmatch(r"[*r]+", line.strip()))
    return {"connections": int(found.group(1)), "resumed": marks.count("r"), "seconds": elapsed}


def handshakes(port: int, version: str, reuse: bool, seconds: int, clients: int) -> dict:
    """`clients` s_time processes at once (one per core: s_time is sequential); handshakes per second
    is their connections over the longest one's wall time."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(clients) as pool:
        runs = list(pool.map(lambda _: s_time(port, version, reuse, seconds), range(clients)))
    total = sum(r["connections"] for r in runs)
    return {"per_s": total / max(r["seconds"] for r in runs), "connections": total,
            "resumed": sum(r["resumed"] for r in runs)}


# --- h2load -------------------------------------------------------------------------------------

#: Requests per h2load client: fewer than nginx's keepalive_requests (1000), after which nginx ends the
#: connection; h2load opens a new one over HTTP/1.1 but ends an HTTP/2 client there (a run for a duration,
#: -D, then measures idle clients: it stopped at exactly 1000 requests per client).
PER_CLIENT = 990


def h2load(port: int, paths: list[str], connections: int, per_client: int, h1: bool) -> dict:
    """The page and its assets requested in turn, `per_client` requests by each of `connections`
    clients: over HTTP/1.1 one request at a time per connection, over HTTP/2 as many streams at once
    as there are files."""
    streams = 1 if h1 else len(paths)
    threads = max(1, min(2, connections))
    cmd = ["h2load", "-t", str(threads), "-c", str(connections), "-m", str(streams), "-n", str(connections * per_client),
           "--connect-to", f"127.0.0.1:{port}", *(["--h1"] if h1 else []),
           *[f"https://{DOMAIN}{p}" for p in paths]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    counts = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored, (\d+) timeout", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
    proto = re.search(r"Application protocol: (\S+)", out)
    if proc.returncode != 0 or not (rps and counts and mean):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-2000:]}\n{proc.stderr[-2000:]}")
    done, _, failed, _, _ = (int(g) for g in counts.groups())  # failed: any non-2xx/3xx, errors and timeouts included
    return {"protocol": proto.group(1) if proto else "?", "connections": connections, "streams": streams,
            "rps": float(rps.group(1)), "pages_per_s": float(rps.group(1)) / len(paths),
            "requests": done, "errors": failed, "mean_ms": _ms(mean.group(1))}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


# --- the rows -----------------------------------------------------------------------------------

def measure(tls_port: int, bare_port: int, *, levels: list[int], seconds: float, rounds: int, warmup: float,
            cores: int, smoke: bool, wrk, median_run, log) -> dict:
    """Every HTTPS row. `wrk(url, connections, seconds, headers=)` and `median_run` are bench.py's."""
    servers = {"djstack": tls_port, "bare-nginx": bare_port}
    out: dict = {"domain": DOMAIN, "clients": cores, "handshakes": {}, "keepalive": [], "h2": []}
    hs_seconds = max(1, round(seconds))
    for version in TLS_VERSIONS:
        for reuse in (False, True):
            kind = "resumed" if reuse else "full"
            runs: dict[str, list[dict]] = {k: [] for k in servers}
            for r in range(rounds):
                for key, port in (servers.items() if r % 2 == 0 else reversed(servers.items())):
                    log(f"TLS {version} {kind} handshakes: {key} (round {r + 1}/{rounds})")
                    runs[key].append(handshakes(port, version, reuse, hs_seconds, cores))
            for key, found in runs.items():
                out["handshakes"][f"{key}/{version}/{kind}"] = sorted(found, key=lambda x: x["per_s"])[(len(found) - 1) // 2]

    static = "/static/gallery/site.css"
    rows = {"dynamic page (DB)": {"djstack": "/"}, "static file": {"djstack": static, "bare-nginx": static}}
    header = {"Host": DOMAIN}
    for endpoint, paths in rows.items():
        urls = {key: f"https://127.0.0.1:{servers[key]}{path}" for key, path in paths.items()}
        for url in urls.values():
            wrk(url, max(levels), warmup, headers=header)
        for connections in levels:
            runs = {key: [] for key in urls}
            for r in range(rounds):
                for key, url in (urls.items() if r % 2 == 0 else reversed(urls.items())):
                    log(f"HTTPS {endpoint} @{connections}: {key} (round {r + 1}/{rounds})")
                    runs[key].append(wrk(url, connections, seconds, headers=header))
            out["keepalive"].append({"endpoint": endpoint, "connections": connections,
                                     "servers": {k: median_run(v).as_dict() for k, v in runs.items()}})

    paths = ["/", *page_assets(tls_port)]
    out["page_files"] = paths
    per_client = 100 if smoke else PER_CLIENT
    out["per_client"] = per_client
    for connections in [c for c in levels if c <= 32] or levels[:1]:  # 128 × 990 requests: minutes a round
        runs = {"h1": [], "h2": []}
        for r in range(rounds):
            for proto in (("h1", "h2") if r % 2 == 0 else ("h2", "h1")):
                log(f"page with assets over {proto} @{connections} (round {r + 1}/{rounds})")
                runs[proto].append(h2load(tls_port, paths, connections, per_client, h1=proto == "h1"))
        for proto, found in runs.items():
            out["h2"].append(sorted(found, key=lambda x: x["rps"])[(len(found) - 1) // 2])
    return out


def _fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "n/a"


def http_rps(results: dict, endpoint: str, connections: int) -> float | None:
    """djstack's plain-HTTP figure for the same row in the same run (bench.py's load rows)."""
    for row in results.get("load", []):
        if row["endpoint"] == endpoint and row["connections"] == connections:
            d = row["stacks"].get("djstack")
            return d["rps"] if d else None
    return None


def report(results: dict) -> list[str]:
    h = results.get("https")
    if not h:
        return []
    hs = h["handshakes"]
    lines = [
        "",
        f"### HTTPS (djstack --tls self-signed, TLS profile {h['profile']}; bare nginx with the same TLS lines)",
        "",
        f"Handshakes: `openssl s_time -new` (full) and `-reuse` (resumed), {h['clients']} clients at once, each "
        "connection a handshake and one small GET; SNI/Host as the client sends them to 127.0.0.1. "
        "Keep-alive rows: wrk https:// with Host " + f"{h['domain']}. Page with assets: h2load, the page and "
        f"its {len(h['page_files']) - 1} static files ({', '.join(h['page_files'][1:])}) in turn, "
        f"{h['per_client']} requests per connection; HTTP/1.1 one request at a time per connection, HTTP/2 as "
        "many streams per connection as files.",
        "",
        "| TLS | server | full (handshakes/s) | resumed (handshakes/s) | resumed ÷ full | sessions resumed |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for version in TLS_VERSIONS:
        for key, title in (("djstack", "djstack"), ("bare-nginx", "bare nginx")):
            full, resumed = hs.get(f"{key}/{version}/full"), hs.get(f"{key}/{version}/resumed")
            if not (full and resumed):
                continue
            lines.append(f"| {version} | {title} | {_fmt(full['per_s'])} | {_fmt(resumed['per_s'])} | "
                         f"{_ratio(resumed['per_s'], full['per_s'])} | {resumed['resumed']:,} of {resumed['connections']:,} |")
    lines += [
        "",
        "| endpoint | conns | djstack HTTPS | djstack HTTP | HTTPS ÷ HTTP | bare nginx HTTPS | "
        "djstack ÷ bare nginx | djstack p50 / p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in h["keepalive"]:
        d, b = row["servers"]["djstack"], row["servers"].get("bare-nginx")
        plain = http_rps(results, row["endpoint"], row["connections"])
        errors = sum(x["errors"] for x in row["servers"].values())
        # "… over HTTPS": the bench smoke tells the HTTP tables' rows by their first cell
        lines.append(f"| {row['endpoint']} over HTTPS | {row['connections']} | {_fmt(d['rps'])} | {_fmt(plain)} | "
                     f"{_ratio(d['rps'], plain)} | {_fmt(b['rps']) if b else '—'} | "
                     f"{_ratio(d['rps'], b['rps']) if b else '—'} | {d['p50_ms']:.1f} / {d['p99_ms']:.1f}"
                     + (f" ({errors} err)" if errors else "") + " |")
    lines += [
        "",
        "| page with assets | conns | streams per connection | requests/s | page loads/s | mean request (ms) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in h["h2"]:
        lines.append(f"| {row['protocol']} | {row['connections']} | {row['streams']} | {_fmt(row['rps'])} | "
                     f"{_fmt(row['pages_per_s'])} | {row['mean_ms']:.1f} | {row['errors']} |")
    return lines


def targets(results: dict) -> list[dict]:
    h = results.get("https")
    if not h:
        return [{"target": name, "measured": "not measured in this run", "met": None}
                for name in ("resumed handshakes ≥ 3× full", "static file over HTTPS ≥ 0.9× bare nginx over HTTPS")]
    hs = h["handshakes"]
    resumed = [(v, hs[f"djstack/{v}/resumed"]["per_s"] / hs[f"djstack/{v}/full"]["per_s"]) for v in TLS_VERSIONS
               if hs.get(f"djstack/{v}/full", {}).get("per_s") and f"djstack/{v}/resumed" in hs]
    static = [(row["connections"], row["servers"]["djstack"]["rps"] / row["servers"]["bare-nginx"]["rps"])
              for row in h["keepalive"] if row["endpoint"] == "static file" and row["servers"]["bare-nginx"]["rps"]]
    return [
        {"target": "resumed handshakes ≥ 3× full", "measured": ", ".join(f"{r:.2f}× TLS {v}" for v, r in resumed),
         "met": bool(resumed) and all(r >= 3 for _, r in resumed)},
        {"target": "static file over HTTPS ≥ 0.9× bare nginx over HTTPS",
         "measured": ", ".join(f"{r:.2f}× @{c}" for c, r in static), "met": bool(static) and all(r >= 0.9 for _, r in static)},
    ]
