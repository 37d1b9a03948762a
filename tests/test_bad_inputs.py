"""The stack's own hostile inputs: typos in domains, certificates that cannot work, secrets missing from
.env. Each must be a clear error (non-zero exit, the file or option named, what to do) before anything
is written or started. No Docker engine needed: every refusal comes before djstack talks to it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpers import DJSTACK, unique_name

from djstack import tls
from djstack.initialise import load_stack
from djstack.model import StackOptions

def djstack(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*DJSTACK, *map(str, args)], capture_output=True, text=True, timeout=120)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run_init(root: Path, *extra) -> subprocess.CompletedProcess:
    # A name of its own: should a refusal ever fail to happen, `up` touches no one else's stack.
    return djstack("init", root, "--images", "debian", "--name", unique_name("djstack-bad"), *extra)


def one_line(proc: subprocess.CompletedProcess) -> str:
    """The CLI's output with rich's soft wrapping undone."""
    return " ".join((proc.stdout + proc.stderr).split())


@pytest.mark.parametrize("domain", ["exa mple.com", "example..com", "-example.com", "example", "*.example.com",
                                    "exam_ple.com", "10.0.0.1", "example.com/"])
def test_domain_typo_is_refused_before_writing(example_copy, domain):
    before = snapshot(example_copy)
    proc = run_init(example_copy, "--domain", "www.example.com", "--domain", domain, "--tls", "self-signed")
    assert proc.returncode != 0
    text = one_line(proc)
    assert "--domain" in text and repr(domain) in text and "Traceback" not in text
    assert snapshot(example_copy) == before  # no stack files, no certificate


def test_tls_without_domain_is_refused(example_copy):
    proc = run_init(example_copy, "--tls", "self-signed")
    assert proc.returncode != 0
    assert "--domain" in one_line(proc)
    assert not (example_copy / "docker-compose.yml").exists()


def make_pair(folder: Path, domain: str) -> tuple[Path, Path]:
    """A fresh self-signed pair for `domain` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", f"/CN={domain}",
                    "-addext", f"subjectAltName=DNS:{domain}"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def https_stack(example_copy):
    """An HTTPS stack with a working self-signed pair, initialised."""
    proc = run_init(example_copy, "--domain", "djstack.test", "--tls", "self-signed")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return load_stack(example_copy)


def spoil(stack, tmp_path, kind: str) -> Path:
    """Break the stack's certificate files one way; return the file the error must name."""
    cert, key = tls.cert_paths(stack)
    if kind == "key of another certificate":
        _, other_key = make_pair(tmp_path / "other", "djstack.test")
        key.write_bytes(other_key.read_bytes())
        return key
    if kind == "certificate for another domain":
        other_cert, other_key = make_pair(tmp_path / "other", "another.test")
        cert.write_bytes(other_cert.read_bytes())
        key.write_bytes(other_key.read_bytes())
        return cert
    if kind == "key missing":
        key.unlink()
        return key
    if kind == "not a certificate":
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        return cert
    raise AssertionError(kind)


KINDS = ["key of another certificate", "certificate for another domain", "key missing", "not a certificate"]


@pytest.mark.parametrize("kind", KINDS)
def test_unusable_certificate_stops_up_and_check(https_stack, tmp_path, kind):
    named = spoil(https_stack, tmp_path, kind)
    root = https_stack.project.root
    assert tls.problems(https_stack)[0].path == named
    before = snapshot(root)
    up = djstack("up", root)
    assert up.returncode != 0
    assert named.name in one_line(up) and "Traceback" not in one_line(up)
    check = djstack("check", root, "--json")
    assert check.returncode == 1
    assert "tls-certificate-unusable" in check.stdout and named.name in check.stdout
    assert snapshot(root) == before


@pytest.mark.parametrize("kind", ["key of another certificate", "certificate for another domain"])
def test_init_refuses_a_certificate_that_cannot_work(https_stack, tmp_path, kind):
    """Switching to provided certificates that do not fit: init stops and overwrites nothing."""
    named = spoil(https_stack, tmp_path, kind)
    root = https_stack.project.root
    before = snapshot(root)
    proc = run_init(root, "--domain", "djstack.test", "--tls", "provided")
    assert proc.returncode != 0
    text = one_line(proc)
    assert named.name in text and "Nothing was written" in text
    assert snapshot(root) == before


def test_self_signed_key_is_private_and_ignored(https_stack):
    cert, key = tls.cert_paths(https_stack)
    assert key.stat().st_mode & 0o777 == 0o600
    ignore = (cert.parent / ".gitignore").read_text().splitlines()
    assert "*" in ignore and "!privkey.pem" not in ignore
    # Nor in the nginx image's build context.
    lines = (https_stack.project.root / "compose/nginx/.dockerignore").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == ["*", "!nginx.conf", "!entrypoint.sh"]
    assert tls.problems(https_stack) == []


@pytest.mark.parametrize("edit", ["empty", "missing"])
def test_env_without_a_secret_stops_up_and_check(example_copy, edit):
    assert run_init(example_copy).returncode == 0
    env = example_copy / ".env"
    lines = env.read_text().splitlines()
    new = [("MYSQL_PASSWORD=" if edit == "empty" else None) if line.startswith("MYSQL_PASSWORD=") else line
           for line in lines]
    env.write_text("\n".join(line for line in new if line is not None) + "\n")
    before = snapshot(example_copy)
    up = djstack("up", example_copy)
    assert up.returncode != 0
    assert ".env" in one_line(up) and "MYSQL_PASSWORD" in one_line(up)
    check = djstack("check", example_copy, "--json")
    assert check.returncode == 1 and "env-secret-missing" in check.stdout
    assert snapshot(example_copy) == before


def test_https_settings_follow_the_domains(example_copy):
    stack = load_stack(example_copy, StackOptions(domains=("example.com", "www.example.com"), https_port=8443))
    assert stack.tls == "provided" and stack.hsts_seconds == 31536000
    assert stack.hosts == ("example.com", "www.example.com")
    assert stack.csrf_trusted_origins == ("https://example.com:8443", "https://www.example.com:8443")
    env = stack.env()
    assert env["DJANGO_ALLOWED_HOSTS"] == "example.com,www.example.com" and env["TLS"] == "provided"
    self_signed = load_stack(example_copy, StackOptions(domains=("example.com",), tls="self-signed", hsts_seconds=600))
    assert self_signed.hsts_seconds == 0  # never pin a self-signed certificate
    assert load_stack(example_copy).tls == "off"


def test_check_names_only_the_bad_env_value(example_copy):
    """An invalid .env value next to valid HTTPS settings: check blames that value, not TLS."""
    assert run_init(example_copy, "--domain", "djstack.test", "--tls", "self-signed").returncode == 0
    env = example_copy / ".env"
    env.write_text(env.read_text().replace("ADMIN_LOGIN_RATE=10", "ADMIN_LOGIN_RATE=ten"))
    check = djstack("check", example_copy, "--json")
    assert check.returncode == 1
    messages = [f["message"] for f in json.loads(check.stdout) if f["id"] == "env-invalid-value"]
    assert len(messages) == 1 and "ADMIN_LOGIN_RATE" in messages[0], messages
