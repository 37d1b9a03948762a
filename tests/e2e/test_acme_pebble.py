"""--tls acme end to end against Pebble on this host (tests/e2e/pebble.py): ONE stack, in the order a
person meets it. Its first `up` runs while one name points elsewhere (the challenge cannot succeed):
`up` fails naming certbot's reason, the site serves its self-signed stand-in and doctor names the
failure. With the name fixed, `up` again gets the certificate from Pebble and nginx serves it. A
forced renewal (certbot's deploy hook copies the new pair; nginx's watcher reloads nginx) is served
while a request loop, a new TLS connection each, sees no failed request.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from helpers import DJSTACK

from djstack.compose import strip_ansi
from pebble import Pebble
from stacks import DOMAINS, LiveStack, bridge_gateway, https, new_https_stack, remove, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

UNREACHABLE = "127.0.0.2"  # loopback, but the stack publishes on 127.0.0.1 only: connection refused


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    pebble = Pebble(tmp_path_factory.mktemp("pebble"), bridge_gateway(), http_port=0)
    pebble.make_ca()
    stack = new_https_stack(tmp_path_factory.mktemp("e2e-acme"), "--tls", "acme", "--acme-server", pebble.directory,
                            "--acme-ca-bundle", str(pebble.ca))
    pebble.http_port = stack.port  # Pebble's validator fetches http-01 challenges on the stack's HTTP port
    # nginx's watcher looks for a new certificate every 2 s instead of 30: the test waits less.
    with (stack.root / ".env").open("a") as env:
        env.write("CERT_CHECK_SECONDS=2\n")
    try:
        pebble.start()
        yield stack, pebble
    finally:
        remove(stack)
        pebble.stop()


def served(stack: LiveStack, host: str = DOMAINS[0]) -> x509.Certificate:
    """The certificate nginx presents for `host` (SNI) on 127.0.0.1, not verified."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            return x509.load_der_x509_certificate(conn.getpeercert(binary_form=True))


def cn(name: x509.Name) -> str:
    return name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def from_pebble(cert: x509.Certificate) -> x509.Certificate | None:
    return cert if cn(cert.issuer).startswith("Pebble Intermediate CA") else None


def certbot_log(stack: LiveStack) -> str:
    return strip_ansi(stack.compose("logs", "--no-log-prefix", "certbot").stdout)  # Compose's erase-line codes


def test_a_challenge_that_cannot_succeed_fails_up_and_the_stand_in_serves(scene):
    stack, pebble = scene
    pebble.point(DOMAINS[1], UNREACHABLE)
    started = time.monotonic()
    proc = stack.djstack("up", str(stack.root), check=False)
    output = " ".join((proc.stdout + proc.stderr).split())  # as one line: the error's text may be wrapped
    assert proc.returncode != 0, output
    failed_after, code = time.monotonic() - started, proc.returncode
    # certbot's reason (Pebble's Detail), the fix, and that the site keeps serving.
    assert re.search(rf"{re.escape(DOMAINS[1])}.*{UNREACHABLE}:{stack.port}: connect: connection refused",
                     output), output
    assert "port 80" in output and "stand-in" in output, output
    assert "acme: failed: " in certbot_log(stack)
    cert = served(stack)
    assert cert.issuer == cert.subject, cn(cert.issuer)  # init's self-signed stand-in
    assert https(stack, "/").status_code == 200  # nothing torn down: the site serves on it
    proc = subprocess.run([*DJSTACK, "doctor", str(stack.root), "--json"], capture_output=True, text=True, timeout=300)
    findings = {f["id"]: f for f in json.loads(proc.stdout)}
    assert "acme-failed" in findings, proc.stdout + proc.stderr
    assert "connection refused" in findings["acme-failed"]["title"] and "port 80" in findings["acme-failed"]["fix"]
    print(f"failed challenge: up exited {code} after {failed_after:.0f} s")


def test_up_again_serves_the_certificate_pebble_issued(scene):
    stack, pebble = scene
    pebble.point(DOMAINS[1], None)
    started = time.monotonic()
    proc = stack.djstack("up", str(stack.root))
    assert "Certificate from" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    took = time.monotonic() - started
    log = certbot_log(stack)
    assert re.search(rf"^acme: issued {DOMAINS[0]},{DOMAINS[1]} until \w+ +\d+ [\d:]+ \d{{4}} GMT$", log, re.M), log
    # nginx's watcher reloads within CERT_CHECK_SECONDS of the deploy hook's copy.
    cert = wait_for(lambda: from_pebble(served(stack)), 30, "nginx serving Pebble's certificate")
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(names) == sorted(DOMAINS)
    assert served(stack, DOMAINS[1]).serial_number == cert.serial_number
    assert https(stack, "/").status_code == 200
    proc = subprocess.run([*DJSTACK, "doctor", str(stack.root), "--json"], capture_output=True, text=True, timeout=300)
    ids = [f["id"] for f in json.loads(proc.stdout)]
    assert not {"acme-failed", "acme-renewal-failed", "certificate-expiring"} & set(ids), proc.stdout
    print(f"issued: serial {cert.serial_number:x}, until {cert.not_valid_after_utc}, up took {took:.0f} s")


def test_a_forced_renewal_is_served_without_a_failed_request(scene):
    stack, _ = scene
    before = served(stack)
    assert cn(before.issuer).startswith("Pebble Intermediate CA")
    seen: list[tuple[float, int]] = []  # when each successful request's connection began, and its serial
    failures: list[str] = []
    stop = threading.Event()

    def loop():
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        request = f"GET / HTTP/1.1\r\nHost: {DOMAINS[0]}:{stack.https_port}\r\nConnection: close\r\n\r\n".encode()
        while not stop.is_set():
            began = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
                    with context.wrap_socket(raw, server_hostname=DOMAINS[0]) as conn:
                        serial = x509.load_der_x509_certificate(conn.getpeercert(binary_form=True)).serial_number
                        conn.sendall(request)
                        status = conn.recv(64).split(b"\r\n", 1)[0]
                if status != b"HTTP/1.1 200 OK":
                    failures.append(f"{status!r}")
                else:
                    seen.append((began, serial))
            except OSError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        # No random sleep: certbot renew adds up to 8 min of it when its stdin is no terminal.
        renew = stack.compose("exec", "-T", "certbot", "certbot", "renew", "--force-renewal", "--cert-name", "site",
                              "--no-random-sleep-on-renew", "--non-interactive", "--work-dir", "/tmp/certbot",
                              "--logs-dir", "/etc/letsencrypt/logs")
        renewed_after = time.monotonic() - started
        after = wait_for(lambda: seen and seen[-1][1] != before.serial_number and seen[-1][1], 30,
                         "the renewed certificate served", watch=lambda: failures and pytest.fail(str(failures[:5])))
        served_after = time.monotonic() - started
        time.sleep(3)  # requests after the switch
    finally:
        stop.set()
        thread.join(timeout=15)
    assert "Congratulations, all renewals succeeded" in renew.stdout + renew.stderr, renew.stdout + renew.stderr
    assert failures == [], failures[:5]
    serials = [serial for _, serial in seen]
    assert serials.count(before.serial_number) > 0 and serials[-1] == after != before.serial_number
    # nginx's reload is graceful: the old workers finish what they accepted (a connection may still get
    # the old certificate just after the switch); then only the new one is served, for good.
    switched = serials.index(after)
    last_old = max(i for i, serial in enumerate(serials) if serial == before.serial_number)
    tail = serials[last_old + 1:]
    assert set(tail) == {after} and len(tail) >= 20, f"the old certificate came back or never left: {serials[switched:]}"
    old_after = sum(1 for serial in serials[switched:] if serial != after)
    print(f"renewal: serial {before.serial_number:x} -> {after:x}; certbot done after {renewed_after:.1f} s, "
          f"served after {served_after:.1f} s; {len(seen)} requests, {switched} before the switch, "
          f"{old_after} on the old certificate after it, 0 failed")
