"""--tls acme without an engine: what init records and writes, the certbot service's script (run with
a stand-in `certbot` on PATH that behaves as certbot does: it obtains, or fails the way a challenge or
an unreachable server fails), nginx's certificate watcher (with a stand-in `nginx`), and how `up`
reads certbot's outcome lines. The real thing against Pebble is tests/e2e/test_acme.py."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from djstack import render, tls
from djstack.errors import BadEnvEntry, DjstackError, TlsProblem
from djstack.initialise import load_stack, run_init
from djstack.lifecycle import acme_outcome
from djstack.model import LETSENCRYPT_SERVER, StackOptions, bad_env_entries

from test_render import golden_stack

DOMAINS = ("example.com", "www.example.com")
ACME = dict(domains=DOMAINS, tls="acme")


def files(stack) -> dict[str, str]:
    return {o.path: o.content for o in render.render(stack)}


def test_acme_records_its_server_and_makes_a_stand_in(example_copy, tmp_path):
    ca = tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(tmp_path / "ca.key"), "-out", str(ca), "-days", "2", "-subj", "/CN=test ca"],
                   check=True, capture_output=True)
    stack, results = run_init(example_copy, StackOptions(image_source="debian", acme_ca_bundle=str(ca), **ACME),
                              force=False)
    env = (example_copy / ".env").read_text()
    assert f"ACME_SERVER={LETSENCRYPT_SERVER}\n" in env and "ACME_EMAIL=\n" in env
    assert "CERTBOT_IMAGE=djstack.local/certbot:4.0-trixie\n" in env
    assert "HSTS_SECONDS=31536000\n" in env  # as provided: browsers ignore HSTS on the untrusted stand-in
    assert stack.certbot_image in stack.base_images  # `up` builds it with the other local images
    assert (example_copy / "compose/certbot/acme-ca.pem").read_text() == ca.read_text()
    assert tls.is_stand_in(stack) and not tls.problems(stack)
    key = example_copy / "compose/nginx/ssl/privkey.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert {"compose/certbot/acme-ca.pem", "compose/nginx/ssl/fullchain.pem"} <= {r.path for r in results}
    compose = (example_copy / "docker-compose.yml").read_text()
    assert "REQUESTS_CA_BUNDLE: /opt/djstack/acme-ca.pem" in compose
    # A second init keeps all of it (the CA file is found, not given again).
    stack2, again = run_init(example_copy, StackOptions(), force=False)
    assert stack2.acme_ca and {r.action for r in again} == {"unchanged"}


def test_certbot_only_in_acme_stacks_and_the_watcher_in_every_https_one(example_copy):
    plain = files(golden_stack(example_copy, "official"))
    provided = files(golden_stack(example_copy, "official", domains=DOMAINS, tls="provided"))
    acme = files(golden_stack(example_copy, "official", **ACME))
    assert "  certbot:" not in plain["docker-compose.yml"] and "  certbot:" not in provided["docker-compose.yml"]
    assert "  certbot:" in acme["docker-compose.yml"] and "image: ${CERTBOT_IMAGE:?" in acme["docker-compose.yml"]
    assert "CERTBOT_IMAGE=certbot/certbot:v4.0.0" in acme[".env"]
    assert "compose/certbot/run.sh" in acme and "compose/certbot/run.sh" not in provided
    assert "compose/nginx/entrypoint.sh" in provided and "compose/nginx/entrypoint.sh" not in plain
    assert "ENTRYPOINT" in provided["compose/nginx/Dockerfile"] and "ENTRYPOINT" not in plain["compose/nginx/Dockerfile"]
    assert "REQUESTS_CA_BUNDLE" not in acme["docker-compose.yml"]  # Let's Encrypt: the image's own CAs


def test_bad_acme_entries_name_their_key(example_copy):
    bad = bad_env_entries({"ACME_SERVER": "http://acme.example/dir", "ACME_EMAIL": "not an address",
                           "ACME_RETRY_SECONDS": "soon"})
    assert sorted(b.key for b in bad) == ["ACME_EMAIL", "ACME_RETRY_SECONDS", "ACME_SERVER"]
    with pytest.raises(BadEnvEntry) as err:
        load_stack(example_copy, StackOptions(acme_email="admin@", **ACME))
    assert err.value.key == "ACME_EMAIL"
    assert not bad_env_entries({"ACME_SERVER": "https://172.17.0.1:14000/dir", "ACME_EMAIL": "a@example.com"})


def test_acme_options_without_acme_are_refused(example_copy):
    with pytest.raises(DjstackError, match="--acme-email only apply to --tls acme"):
        run_init(example_copy, StackOptions(domains=DOMAINS, tls="self-signed", acme_email="a@example.com"), force=False)
    assert not (example_copy / "docker-compose.yml").exists()


def test_init_refuses_a_ca_bundle_that_is_no_certificate(example_copy, tmp_path):
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(TlsProblem, match="Nothing was written"):
        run_init(example_copy, StackOptions(acme_ca_bundle=str(junk), **ACME), force=False)
    assert not (example_copy / "docker-compose.yml").exists()


def test_an_issued_certificate_lacking_a_new_domain_does_not_block_acme(example_copy):
    stack, _ = run_init(example_copy, StackOptions(**ACME), force=False)
    widened = load_stack(example_copy, StackOptions(domains=(*DOMAINS, "shop.example.com")))
    assert [p.kind for p in tls.problems(widened)] == ["names"]
    assert tls.blocking_problems(widened) == []  # certbot asks for the new names itself


def test_up_reads_the_last_outcome_line():
    log = ("Saving debug log to /etc/letsencrypt/logs/letsencrypt.log\n"
           "acme: failed: 127.0.0.1: Connection refused\n"
           "acme: issued example.com,www.example.com until Mar  2 14:00:00 2031 GMT\n")
    assert acme_outcome(log) == ("issued", "example.com,www.example.com until Mar  2 14:00:00 2031 GMT")
    assert acme_outcome(log + "acme: failed: Invalid response from http://x: 404\n") == (
        "failed", "Invalid response from http://x: 404")
    assert acme_outcome("Requesting a certificate for example.com\n") is None


# --- the certbot service's script, with a stand-in certbot -------------------------------------------

FAKE_CERTBOT = r"""#!/bin/sh
# Behaves as certbot does for run.sh: FAKE_MODE ok obtains (the deploy hook runs, as certbot runs it),
# challenge and server fail with certbot's own output for those failures.
echo "$*" >>"$FAKE_CALLS"
prev=
for arg in "$@"; do
    [ "$prev" = --deploy-hook ] && hook=$arg
    [ "$prev" = --config-dir ] && config=$arg
    prev=$arg
done
case "$FAKE_MODE" in
ok)
    mkdir -p "$config/live/site"
    cp "$FAKE_CERT" "$config/live/site/fullchain.pem"; cp "$FAKE_KEY" "$config/live/site/privkey.pem"
    RENEWED_LINEAGE=$config/live/site RENEWED_DOMAINS="example.com www.example.com" sh -c "$hook"
    echo "Successfully received certificate." ;;
challenge)
    cat >&2 <<'EOF'
Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority reported these problems:
  Domain: example.com
  Type:   connection
  Detail: 127.0.0.1: Fetching http://example.com/.well-known/acme-challenge/abc: Connection refused

Hint: The Certificate Authority failed to download the temporary challenge files created by Certbot.

Some challenges have failed.
Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile /x/letsencrypt.log or re-run Certbot with -v for more details.
EOF
    exit 1 ;;
server)
    cat >&2 <<'EOF'
An unexpected error occurred:
requests.exceptions.ConnectionError: HTTPSConnectionPool(host='172.17.0.1', port=14000): Max retries exceeded
Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile /x/letsencrypt.log or re-run Certbot with -v for more details.
EOF
    exit 1 ;;
esac
"""


@pytest.fixture
def certbot_run(example_copy, tmp_path):
    """Start the acme stack's run.sh as the certbot service would, its folders in tmp_path; returns
    (start(mode) -> process, the stack's ssl folder, the stand-in's bytes, the calls file)."""
    stack, _ = run_init(example_copy, StackOptions(**ACME), force=False)
    ssl = stack.path(stack.files.ssl)
    paths = replace(stack.paths, letsencrypt=str(tmp_path / "letsencrypt"), nginx_ssl=str(ssl),
                    certbot_script=str(tmp_path / "run.sh"), acme_webroot=str(tmp_path / "acme"))
    script = next(o.content for o in render.render(replace(stack, paths=paths)) if o.path == "compose/certbot/run.sh")
    (tmp_path / "run.sh").write_text(script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "certbot").write_text(FAKE_CERTBOT)
    (bin_dir / "certbot").chmod(0o755)
    issued = tmp_path / "issued"
    issued.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(issued / "key.pem"), "-out", str(issued / "cert.pem"), "-days", "90",
                    "-subj", "/CN=example.com"], check=True, capture_output=True)
    calls = tmp_path / "calls"
    procs = []

    def start(mode: str, renew_seconds: int = 600) -> subprocess.Popen:
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_MODE": mode, "FAKE_CALLS": str(calls),
               "FAKE_CERT": str(issued / "cert.pem"), "FAKE_KEY": str(issued / "key.pem"),
               "DOMAINS": ",".join(DOMAINS), "ACME_SERVER": "https://acme.example/dir",
               "ACME_RENEW_SECONDS": str(renew_seconds), "ACME_RETRY_SECONDS": "600"}
        proc = subprocess.Popen(["sh", str(tmp_path / "run.sh")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        procs.append(proc)
        return proc

    yield start, ssl, (ssl / "fullchain.pem").read_bytes(), calls, issued
    for proc in procs:
        proc.kill()
        proc.wait()


def outcome_lines(proc: subprocess.Popen, count: int = 1) -> list[str]:
    lines = []
    while len(lines) < count:
        line = proc.stdout.readline()
        assert line, f"run.sh ended after {lines}"
        if line.startswith("acme: "):
            lines.append(line.rstrip("\n"))
    return lines


def test_run_sh_installs_the_issued_certificate_then_renews(certbot_run):
    start, ssl, stand_in, calls, issued = certbot_run
    proc = start("ok", renew_seconds=1)
    until = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(issued / "cert.pem")],
                           capture_output=True, text=True, check=True).stdout.strip().removeprefix("notAfter=")
    first, second = outcome_lines(proc, 2)
    assert first == f"acme: issued example.com,www.example.com until {until}"
    assert second == f"acme: renewed example.com,www.example.com until {until}"
    assert (ssl / "fullchain.pem").read_bytes() == (issued / "cert.pem").read_bytes() != stand_in
    assert (ssl / "privkey.pem").read_bytes() == (issued / "key.pem").read_bytes()
    assert stat.S_IMODE((ssl / "privkey.pem").stat().st_mode) == 0o600
    assert not list(ssl.glob(".new-*"))
    certonly, renew = calls.read_text().splitlines()[:2]
    assert certonly.startswith("certonly --webroot -w ") and "-d example.com,www.example.com" in certonly
    assert "--register-unsafely-without-email" in certonly and "--server https://acme.example/dir" in certonly
    assert renew.startswith("renew --cert-name site")


@pytest.mark.parametrize("mode, reason", [
    ("challenge", "127.0.0.1: Fetching http://example.com/.well-known/acme-challenge/abc: Connection refused"),
    ("server", "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='172.17.0.1', port=14000): "
               "Max retries exceeded"),
])
def test_run_sh_names_a_failure_and_keeps_the_stand_in(certbot_run, mode, reason):
    start, ssl, stand_in, calls, _ = certbot_run
    assert outcome_lines(start(mode)) == [f"acme: failed: {reason}"]
    assert (ssl / "fullchain.pem").read_bytes() == stand_in


# --- nginx's certificate watcher, with a stand-in nginx ------------------------------------------------

FAKE_NGINX = """#!/bin/sh
echo "$*" >>"$FAKE_CALLS"
case "$1" in
-t) [ -e "$FAKE_ACCEPT" ] ;;
-g) exec sleep 60 ;;
esac
"""


def test_watcher_reloads_nginx_once_the_new_pair_passes_nginx_t(example_copy, tmp_path):
    stack = load_stack(example_copy, StackOptions(**ACME))
    ssl = tmp_path / "ssl"
    ssl.mkdir()
    (ssl / "fullchain.pem").write_text("old\n")
    script = next(o.content for o in render.render(replace(stack, paths=replace(stack.paths, nginx_ssl=str(ssl))))
                  if o.path == "compose/nginx/entrypoint.sh")
    (tmp_path / "entrypoint.sh").write_text(script)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nginx").write_text(FAKE_NGINX)
    (tmp_path / "bin" / "nginx").chmod(0o755)
    calls, accept = tmp_path / "calls", tmp_path / "accept"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "CERT_CHECK_SECONDS": "1",
           "FAKE_CALLS": str(calls), "FAKE_ACCEPT": str(accept)}
    proc = subprocess.Popen(["sh", str(tmp_path / "entrypoint.sh")], env=env, start_new_session=True)
    try:
        def said() -> list[str]:
            return calls.read_text().splitlines() if calls.exists() else []

        def wait_for(check, seconds: float = 10) -> None:
            deadline = time.monotonic() + seconds
            while not check():
                assert time.monotonic() < deadline, said()
                time.sleep(0.2)

        wait_for(lambda: "-g daemon off;" in said())  # nginx runs in the foreground, as PID 1 would
        time.sleep(2.5)
        assert "-s reload" not in said()  # the same certificate: nothing to do
        (ssl / "fullchain.pem").write_text("new\n")
        wait_for(lambda: said().count("-t -q") >= 2)
        assert "-s reload" not in said()  # nginx -t refuses the pair (key not yet copied): wait
        accept.touch()
        wait_for(lambda: "-s reload" in said())
        time.sleep(2.5)
        assert said().count("-s reload") == 1  # once per new certificate
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


# --- `up`'s wait for the first certificate, against a stand-in engine ---------------------------------

from fake_engine import FakeEngine, ps_json  # noqa: E402
from djstack import lifecycle  # noqa: E402
from djstack.compose import Compose  # noqa: E402
from djstack.errors import AcmeFailed  # noqa: E402

STAND_IN = "issuer=CN = example.com\nsubject=CN = example.com\n"
ISSUED = "issuer=CN = Pebble Intermediate CA 3e6398\nsubject=CN = example.com\n"
UP_BEGAN = 1_796_223_000.0  # 2026-12-02T14:50:00Z


@pytest.fixture
def acme_engine(example_copy, monkeypatch):
    stack, _ = run_init(example_copy, StackOptions(image_source="official", workers=False, **ACME), force=False)
    engine = FakeEngine(monkeypatch)
    engine.on("ps", "--all", "--format", "json", stdout=ps_json(("nginx", "running", "healthy"),
                                                                ("certbot", "running", "")))
    return stack, engine


def clock(start: float = UP_BEGAN + 60):
    ticks = iter(range(10_000))
    return lambda: start + 10 * next(ticks)


def test_up_waits_for_the_issued_line(acme_engine):
    stack, engine = acme_engine
    engine.on("x509", "-noout", "-issuer", stdout=STAND_IN)
    engine.on("{{.State.StartedAt}}", stdout="2026-12-02T14:50:20.123456789Z\n")  # started by this up
    engine.on("logs", "--no-color", stdout=["Requesting a certificate for example.com\n",
                                         "acme: issued example.com,www.example.com until Mar  2 14:00:00 2027 GMT\n"])
    said = lifecycle.wait_for_certificate(stack, Compose(stack.dir), UP_BEGAN, now=clock(), pause=lambda s: None)
    assert said == "example.com,www.example.com until Mar  2 14:00:00 2027 GMT"
    assert not engine.ran_with("restart")
    assert engine.ran_with("--since", "2026-12-02T14:49:59Z", "certbot")  # this up's lines only


def test_up_names_certbots_failure_restarting_a_certbot_that_was_waiting(acme_engine):
    stack, engine = acme_engine
    engine.on("x509", "-noout", "-issuer", stdout=STAND_IN)
    engine.on("{{.State.StartedAt}}", stdout="2026-12-01T09:00:00Z\n")  # before this up: it sleeps until its retry
    engine.on("logs", "--no-color", stdout="acme: failed: 127.0.0.1: Fetching http://example.com/x: Connection refused\n")
    with pytest.raises(AcmeFailed) as err:
        lifecycle.wait_for_certificate(stack, Compose(stack.dir), UP_BEGAN, now=clock(), pause=lambda s: None)
    assert err.value.reason == "127.0.0.1: Fetching http://example.com/x: Connection refused"
    assert "resolves to this host" in err.value.fix and "stand-in" in err.value.fix and "port 80" in err.value.fix
    assert engine.ran_with("restart", "certbot")
    assert not engine.ran_with("down") and not engine.ran_with("stop")


def test_up_gives_up_after_its_wait_and_skips_it_once_a_certificate_is_served(acme_engine):
    stack, engine = acme_engine
    engine.on("x509", "-noout", "-issuer", stdout=STAND_IN)
    engine.on("{{.State.StartedAt}}", stdout="2026-12-02T14:50:20Z\n")
    with pytest.raises(AcmeFailed, match="no certificate within 180 s") as err:
        lifecycle.wait_for_certificate(stack, Compose(stack.dir), UP_BEGAN, now=clock(), pause=lambda s: None)
    assert err.value.reason == ""
    engine.on("x509", "-noout", "-issuer", stdout=ISSUED)
    engine.on("logs", "--no-color", stdout="")
    assert lifecycle.wait_for_certificate(stack, Compose(stack.dir), UP_BEGAN, now=clock()) is None
    provided = replace(stack, tls="provided")
    assert lifecycle.wait_for_certificate(provided, Compose(stack.dir), UP_BEGAN) is None
