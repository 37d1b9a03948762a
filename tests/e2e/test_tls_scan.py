"""HTTPS as the scanners grade it: sslyze's Mozilla checks, HTTP/2 in ALPN, the key exchange groups,
OCSP stapling, HSTS and the printed URL. Two stacks: the shared self-signed https_stack (Mozilla's
intermediate profile) and this module's provided_stack (--tls provided --tls-profile modern, with a
certificate of a test CA the scans trust, naming an OCSP responder the test runs)."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import requests

import stacks as e2e
from helpers import DJSTACK, free_port, require_tool, unavailable
from stacks import DOMAINS, http, https
from testca import make_ca
from djstack.model import Ports

pytestmark = [pytest.mark.e2e,  # requests does not verify the certificates: no warning for each request
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

#: The lines of sslyze's verdict: "<target>: OK - Compliant." or "...: FAILED - Not compliant." and
#: one "* <check>: <why>" line per failed check.
VERDICT = re.compile(r"^\s*(\S+: (?:OK|FAILED) - .*|\* \w+: .*)$", re.MULTILINE)


def run_sslyze(stack, *scans: str, ca_file=None) -> str:
    """sslyze's report on the stack's HTTPS port reached as DOMAINS[0] (its SNI), trusting `ca_file` too."""
    trust = ["--certinfo_ca_file", str(ca_file)] if ca_file else []
    proc = subprocess.run([sys.executable, "-m", "sslyze", *scans, *trust, f"{DOMAINS[0]}:{stack.https_port}{{127.0.0.1}}"],
                          capture_output=True, text=True, timeout=300)
    print(proc.stdout)  # the report quotes the verdicts
    assert "SCANS COMPLETED" in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout


def sslyze(stack, profile: str, ca_file=None) -> tuple[list[str], list[str]]:
    """sslyze --mozilla_config=`profile`: the verdict lines, and the names of the failed checks."""
    lines = [line.strip() for line in VERDICT.findall(run_sslyze(stack, f"--mozilla_config={profile}", ca_file=ca_file))]
    assert lines, "no verdict"
    return lines, [line.split(":")[0].removeprefix("* ") for line in lines[1:]]


def alpn(stack, offered: list[str]) -> str | None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(offered)
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=30) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAINS[0]) as conn:
            return conn.selected_alpn_protocol()


# The shared self-signed stack: intermediate ------------------------------------------------------


def test_self_signed_stack_is_intermediate_but_for_trust(https_stack):
    """Compliant with Mozilla's intermediate profile in every check but one: nobody trusts a self-signed
    certificate (its life, 365 days, and its P-256 key pass)."""
    lines, failed = sslyze(https_stack, "intermediate")
    assert failed == ["certificate_path_validation"], lines


def test_http2_is_offered(https_stack):
    assert alpn(https_stack, ["h2", "http/1.1"]) == "h2"
    assert alpn(https_stack, ["http/1.1"]) == "http/1.1"
    # A whole request over HTTP/2, through nginx to Django and back.
    curl = require_tool("curl")
    proc = subprocess.run([curl, "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                           "--resolve", f"{DOMAINS[0]}:{https_stack.https_port}:127.0.0.1",
                           f"https://{DOMAINS[0]}:{https_stack.https_port}/"], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "2 200", proc.stderr


def test_hybrid_post_quantum_key_exchange(https_stack):
    """X25519MLKEM768 is negotiated when a client asks for it (the image's own openssl as the client: the
    host's may predate OpenSSL 3.5); X448 and secp521r1 are refused (sslyze's curve scan covers the rest)."""
    def group(name: str) -> str:
        proc = https_stack.compose("exec", "-T", "nginx", "sh", "-c",
                                   f"openssl s_client -connect 127.0.0.1:{Ports().https} -servername {DOMAINS[0]} -groups {name} "
                                   "-brief </dev/null 2>&1", check=False)
        return proc.stdout

    if "not found" in group("X25519"):  # both images have it: ca-certificates depends on openssl
        unavailable("this nginx image has no openssl command")
    hybrid = group("X25519MLKEM768")
    print(hybrid)
    assert re.search(r"(?i)(negotiated TLS1.3 group|Server Temp Key): X25519MLKEM768", hybrid), hybrid
    for refused in ("X448", "secp521r1"):
        assert "handshake failure" in group(refused), refused


# A provided certificate with the modern profile ---------------------------------------------------


@pytest.fixture(scope="module")
def provided_stack(tmp_path_factory):
    """--tls provided --tls-profile modern, its certificate put in compose/nginx/ssl/ as a person would:
    issued by a test CA for 90 days (Mozilla's modern maximum), with the URL of an OCSP responder run
    here on the host, reached from nginx at the default bridge's gateway address."""
    ca = make_ca(tmp_path_factory.mktemp("ca"))
    gateway = e2e.bridge_gateway()
    ocsp_port = free_port()
    stack = e2e.new_https_stack(tmp_path_factory.mktemp("e2e-provided"), "--tls", "provided", "--tls-profile", "modern",
                                "--hsts-seconds", "600", domains=DOMAINS[:1])
    cert, key = stack.root / "compose/nginx/ssl/fullchain.pem", stack.root / "compose/nginx/ssl/privkey.pem"
    ca.issue(cert, key, DOMAINS[:1], 90, ocsp_url=f"http://{gateway}:{ocsp_port}")
    stack.ca, stack.ocsp_host = ca, gateway
    responder = subprocess.Popen(ca.ocsp_responder(cert, ocsp_port), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    try:
        stack.up_output = stack.djstack("up", str(stack.root)).stdout
        yield stack
    finally:
        responder.terminate()
        responder.wait(timeout=10)
        e2e.remove(stack)


def test_up_prints_the_sites_https_address(provided_stack):
    """Not 127.0.0.1, which nginx answers with 400 in HTTPS mode: the first domain, with the port."""
    assert f"is up: https://{DOMAINS[0]}:{provided_stack.https_port}/" in provided_stack.up_output


def test_provided_modern_stack_is_compliant_with_both_profiles(provided_stack):
    """Fully compliant, trust included, with modern and (a TLS 1.3-only server with an ECDSA certificate
    of 90 days offers nothing intermediate forbids) with intermediate."""
    for profile in ("modern", "intermediate"):
        lines, failed = sslyze(provided_stack, profile, ca_file=provided_stack.ca.root)
        assert failed == [] and lines[0].endswith("OK - Compliant."), lines
    # TLS 1.3 only.
    context = ssl.create_default_context(cafile=str(provided_stack.ca.root))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError, match="(?i)protocol version|alert"):
        with socket.create_connection(("127.0.0.1", provided_stack.https_port), timeout=30) as raw:
            context.wrap_socket(raw, server_hostname=DOMAINS[0])


def stapled(stack) -> str:
    """openssl s_client -status's account of the OCSP response in the handshake."""
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{stack.https_port}",
                           "-servername", DOMAINS[0], "-status", "-CAfile", str(stack.ca.root)],
                          input="", capture_output=True, text=True, timeout=60)
    return proc.stdout


def test_ocsp_response_is_stapled(provided_stack):
    """nginx fetches the status at the first handshake and staples it from then on, verified."""
    deadline = time.monotonic() + 30
    while "OCSP Response Status: successful" not in (out := stapled(provided_stack)) and time.monotonic() < deadline:
        time.sleep(1)
    assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out
    assert "Verify return code: 0 (ok)" in out
    # sslyze sees it too (Mozilla's profiles ask for stapling; its compliance check leaves it out).
    assert re.search(r"OCSP Response Status:\s+SUCCESSFUL", run_sslyze(provided_stack, "--certinfo",
                                                                     ca_file=provided_stack.ca.root))


@contextmanager
def other_certificate(stack, ocsp_url: str = ""):
    """The stack with another certificate of the test CA (`ocsp_url` its responder, if any) while the
    block runs, nginx restarted on it; the stack's own pair back afterwards. Yields the certificate."""
    folder = stack.root / "compose/nginx/ssl"
    kept = {name: (folder / name).read_bytes() for name in ("fullchain.pem", "privkey.pem")}
    try:
        stack.ca.issue(folder / "fullchain.pem", folder / "privkey.pem", DOMAINS[:1], 90, ocsp_url=ocsp_url)
        restart_nginx(stack)
        yield folder / "fullchain.pem"
    finally:
        for name, data in kept.items():
            (folder / name).write_bytes(data)
        restart_nginx(stack)


def restart_nginx(stack) -> None:
    """Restarted, and serving the site again (sooner than Docker's next healthcheck says so)."""
    stack.compose("restart", "nginx")
    deadline = time.monotonic() + 60
    while True:
        try:
            if https(stack, "/").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, stack.compose("logs", "--no-color", "nginx").stdout
        time.sleep(0.5)


def doctor_findings(stack) -> tuple[int, list]:
    proc = subprocess.run([*DJSTACK, "doctor", str(stack.root), "--json"], capture_output=True, text=True, timeout=600)
    return proc.returncode, json.loads(proc.stdout)


def test_certificate_without_ocsp_url_starts_clean(provided_stack):
    """A certificate naming no OCSP responder (Let's Encrypt's, since 2025): nginx starts, warns once,
    staples nothing, and doctor finds nothing wrong."""
    with other_certificate(provided_stack):
        assert "OCSP response: no response sent" in stapled(provided_stack)
        log = provided_stack.compose("logs", "--no-color", "nginx").stdout
        assert '"ssl_stapling" ignored, no OCSP responder URL in the certificate' in log
        assert provided_stack.wait_docker_healthy()["nginx"]["Health"] == "healthy"
        assert doctor_findings(provided_stack) == (0, [])


def test_unverifiable_ocsp_answer_is_not_stapled(provided_stack, tmp_path):
    """ssl_stapling_verify: an answer signed by a certificate that no trusted root issued is dropped,
    never sent to clients; the site works on without a staple."""
    stranger = make_ca(tmp_path / "stranger")
    port = free_port()
    with other_certificate(provided_stack, ocsp_url=f"http://{provided_stack.ocsp_host}:{port}") as cert:
        responder = subprocess.Popen(provided_stack.ca.ocsp_responder(cert, port, signer=(stranger.root, stranger.root_key)),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            refused = "OCSP_basic_verify() failed"
            while refused not in (log := provided_stack.compose("logs", "--no-color", "nginx").stdout):
                assert "OCSP response: no response sent" in stapled(provided_stack)
                assert time.monotonic() < deadline, log
                time.sleep(1)
            assert "OCSP response: no response sent" in stapled(provided_stack)
        finally:
            responder.terminate()
            responder.wait(timeout=10)


def test_provided_certificate_gets_hsts(provided_stack):
    for path in ("/", "/static/gallery/site.css", "/no-such-page/"):
        response = https(provided_stack, path)
        assert response.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains", path
    # Only over HTTPS: the plain-HTTP redirect carries none (browsers ignore it there anyway).
    assert "Strict-Transport-Security" not in http(provided_stack, "/").headers
    proc = provided_stack.compose("exec", "-T", "web", "python", "manage.py", "check", "--deploy")
    output = (proc.stdout + proc.stderr).strip()
    print(output)
    assert "System check identified no issues" in output and "WARNING" not in output
