"""The certificate checks: the openssl commands they run (as data), and each problem's `kind` on real
files made by this host's openssl, so init, up and check can tell problems apart without reading text."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509

from helpers import unique_name

from djstack import execute, tls
from djstack.commands import host
from djstack.errors import TlsProblem
from djstack.execute import Command
from djstack.initialise import load_stack, run_init
from djstack.model import StackOptions

CERT, KEY = Path("/srv/shop/compose/nginx/ssl/fullchain.pem"), Path("/srv/shop/compose/nginx/ssl/privkey.pem")


def test_the_openssl_commands_as_data():
    assert host.x509_pubkey(CERT) == Command(("openssl", "x509", "-in", str(CERT), "-noout", "-pubkey"), timeout=60)
    assert host.key_pubkey(KEY) == Command(("openssl", "pkey", "-in", str(KEY), "-pubout", "-passin", "pass:"),
                                           timeout=60)
    assert host.x509_expired(CERT).argv == ("openssl", "x509", "-in", str(CERT), "-noout", "-checkend", "0")
    assert host.x509_names(CERT).argv == ("openssl", "x509", "-in", str(CERT), "-noout", "-ext", "subjectAltName")
    made = host.self_signed(CERT, KEY, 365, ("shop.test", "www.shop.test"))
    assert made == Command((
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(KEY), "-out", str(CERT), "-days", "365", "-subj", "/CN=shop.test",
        "-addext", "subjectAltName=DNS:shop.test,DNS:www.shop.test",
        "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"), timeout=60)


def options() -> StackOptions:
    return StackOptions(image_source="debian", name=unique_name("djstack-tls"), domains=("djstack.test",),
                        tls="self-signed")


@pytest.fixture
def https_stack(example_copy):
    stack, _ = run_init(example_copy, options(), force=False)
    assert tls.problems(stack) == []
    return stack


@pytest.mark.parametrize("profile,days", [("intermediate", 365), ("modern", 90)])
def test_self_signed_certificate_lives_as_long_as_the_profile_allows(example_copy, profile, days):
    """Mozilla's longest certificate lives (366 and 90 days), which sslyze's --mozilla_config checks."""
    stack, _ = run_init(example_copy, replace(options(), tls_profile=profile), force=False)
    cert = x509.load_pem_x509_certificate(tls.cert_paths(stack)[0].read_bytes())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == days


def other_pair(folder: Path, domain: str) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", f"/CN={domain}",
                    "-addext", f"subjectAltName=DNS:{domain}"], check=True, capture_output=True)
    return cert, key


def kinds(stack) -> list[tuple[str, str]]:
    return [(p.kind, p.path.name) for p in tls.problems(stack)]


def test_each_problem_has_its_kind_and_file(https_stack, tmp_path):
    cert, key = tls.cert_paths(https_stack)
    good_cert, good_key = cert.read_bytes(), key.read_bytes()
    other_cert, other_key = other_pair(tmp_path, "another.test")

    key.write_bytes(other_key.read_bytes())
    assert kinds(https_stack) == [("mismatch", key.name)]
    cert.write_bytes(other_cert.read_bytes())
    assert kinds(https_stack) == [("names", cert.name)]
    problem = tls.problems(https_stack)[0]
    assert problem.message == f"{cert}: {problem.problem}" and "does not cover djstack.test" in problem.problem

    cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert kinds(https_stack) == [("unreadable", cert.name)]
    cert.write_bytes(good_cert)
    key.write_text("not a key\n")
    assert kinds(https_stack) == [("unreadable", key.name)]
    key.write_bytes(good_key)
    assert kinds(https_stack) == []

    key.unlink()
    assert kinds(https_stack) == [("missing", key.name)]
    with pytest.raises(TlsProblem) as raised:
        tls.validate(https_stack)
    assert (raised.value.kind, raised.value.path) == ("missing", key)
    assert raised.value.message == f"{key}: {key.name} is missing (TLS self-signed needs it)."


def test_an_expired_certificate_is_its_own_kind(https_stack, monkeypatch):
    real = execute.run

    def expired(command, **kw):
        return execute.Result(command.argv, 1, "Certificate will expire\n", "") \
            if "-checkend" in command.argv else real(command, **kw)

    monkeypatch.setattr(tls.execute, "run", expired)
    assert kinds(https_stack) == [("expired", "fullchain.pem")]


def test_init_refuses_a_pair_that_exists_and_cannot_work_but_not_a_missing_one(https_stack, tmp_path):
    root = https_stack.project.root
    cert, key = tls.cert_paths(https_stack)
    _, other_key = other_pair(tmp_path, "djstack.test")
    key.write_bytes(other_key.read_bytes())
    with pytest.raises(TlsProblem) as raised:
        run_init(root, StackOptions(), force=False)  # what .env recorded: self-signed
    assert raised.value.kind == "mismatch" and raised.value.path == key
    assert raised.value.message.endswith("(their public keys differ). Nothing was written.")
    assert raised.value.fix.startswith("Delete compose/nginx/ssl/")

    cert.unlink()
    key.unlink()
    stack, _ = run_init(root, StackOptions(tls="provided"), force=True)  # provided: the pair may come later
    assert kinds(stack) == [("missing", cert.name), ("missing", key.name)]


def test_openssl_failing_to_make_a_pair_is_an_openssl_problem(example_copy, monkeypatch):
    stack = load_stack(example_copy, options())
    monkeypatch.setattr(tls.execute, "run", lambda command, **kw: execute.Result(command.argv, 1, "", "no curve"))
    with pytest.raises(TlsProblem) as raised:
        tls.make_self_signed(stack)
    assert raised.value.kind == "openssl" and raised.value.path is None
    assert raised.value.message == "openssl could not make a self-signed certificate:\nno curve"
    assert not any(tls.cert_paths(stack)[0].parent.glob("*.pem"))
