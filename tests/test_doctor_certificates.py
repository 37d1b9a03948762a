"""doctor's certificate findings: expiry read from certificates this host's openssl makes (days chosen
to land on each side of CERT_WARN_DAYS), and an ACME stack's failed attempt read from recorded certbot
service lines (the exact lines compose/certbot/run.sh prints; the reason is certbot's `Detail:`)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from helpers import unique_name

from djstack import tls
from djstack.doctor.certificates import CERT_WARN_DAYS, acme_failed, expiry
from djstack.doctor.finding import ERROR, WARNING
from djstack.initialise import run_init
from djstack.model import StackOptions


def options(tls_mode: str = "self-signed") -> StackOptions:
    return StackOptions(image_source="debian", name=unique_name("djstack-cert"), domains=("djstack.test",),
                        tls=tls_mode)


@pytest.fixture
def https_stack(example_copy):
    stack, _ = run_init(example_copy, options(), force=False)
    return stack


def reissue(stack, days: int, ca: Path | None = None) -> None:
    """Replace the stack's certificate by one valid `days` days from now (self-signed, or from `ca`)."""
    cert, key = tls.cert_paths(stack)
    signer = ("-CA", str(ca / "ca.pem"), "-CAkey", str(ca / "ca.key")) if ca else ()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days), "-subj", "/CN=djstack.test",
                    "-addext", "subjectAltName=DNS:djstack.test", *signer], check=True, capture_output=True)


def make_ca(folder: Path) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.pem"), "-days", "30",
                    "-subj", "/CN=Test Intermediate CA"], check=True, capture_output=True)
    return folder


def test_a_certificate_far_from_its_end_is_not_reported(https_stack):
    reissue(https_stack, CERT_WARN_DAYS + 2)
    assert expiry(https_stack) == []


def test_a_certificate_within_the_warning_days_is_a_warning_with_its_date(https_stack):
    reissue(https_stack, CERT_WARN_DAYS - 1)
    [found] = expiry(https_stack)
    assert (found.id, found.severity) == ("certificate-expiring", WARNING)
    assert f"expires in {CERT_WARN_DAYS - 1} days" in found.title
    valid = tls.validity(tls.cert_paths(https_stack)[0])
    assert valid.not_after_text in found.title and found.evidence == [
        f"compose/nginx/ssl/fullchain.pem: notAfter={valid.not_after_text}"]
    assert "init" in found.fix  # self-signed: init makes a new pair


def test_an_acme_certificate_near_its_end_points_at_certbots_log(acme_stack, tmp_path):
    reissue(acme_stack, 10, ca=make_ca(tmp_path))
    [found] = expiry(acme_stack)
    assert found.id == "certificate-expiring" and "djstack logs certbot" in found.fix and "port 80" in found.fix


def test_an_expired_certificate_is_an_error(https_stack):
    reissue(https_stack, 5)
    later = datetime.now(timezone.utc) + timedelta(days=6)
    [found] = expiry(https_stack, now=later)
    assert (found.id, found.severity) == ("certificate-expired", ERROR)
    assert "browsers refuse" in found.title
    # The boundary is notAfter itself: a second before it, still a warning.
    valid = tls.validity(tls.cert_paths(https_stack)[0])
    [before] = expiry(https_stack, now=valid.not_after - timedelta(seconds=1))
    assert before.id == "certificate-expiring"


def test_a_provided_certificate_is_to_be_replaced(example_copy):
    stack, _ = run_init(example_copy, options(), force=False)
    reissue(stack, 3)
    [found] = expiry(replace(stack, tls="provided"))
    assert found.fix.startswith("Put a renewed certificate in compose/nginx/ssl/fullchain.pem")


def test_no_https_or_no_readable_certificate_no_finding(example_copy, https_stack):
    plain, _ = run_init(example_copy, replace(options("off"), domains=()), force=True)
    assert expiry(plain) == []
    tls.cert_paths(https_stack)[0].write_text("not a certificate\n")
    assert expiry(https_stack) == []


def test_a_ca_certificates_end_is_read_in_utc(https_stack, tmp_path):
    reissue(https_stack, 90, ca=make_ca(tmp_path))
    valid = tls.validity(tls.cert_paths(https_stack)[0])
    assert valid.not_after.tzinfo is timezone.utc
    assert timedelta(days=89) < valid.not_after - datetime.now(timezone.utc) <= timedelta(days=90)


# certbot service lines, as run.sh prints them ---------------------------------------------------------

@pytest.fixture
def acme_stack(example_copy):
    stack, _ = run_init(example_copy, options("acme"), force=False)
    return stack


DETAIL = ('Get "http://www.djstack.test:8080/.well-known/acme-challenge/OANS3sWf": dial tcp 127.0.0.2:8080: '
          "connect: connection refused")
ISSUED = "acme: issued djstack.test,www.djstack.test until Dec  2 14:55:44 2031 GMT"
FAILED = f"acme: failed: {DETAIL}"


def test_a_failed_first_attempt_is_an_error_naming_certbots_reason(acme_stack):
    assert tls.is_stand_in(acme_stack)
    lines = ["Saving debug log to /etc/letsencrypt/logs/letsencrypt.log", FAILED]
    [found] = acme_failed(acme_stack, lines, stand_in=tls.is_stand_in(acme_stack))
    assert (found.id, found.severity, found.service) == ("acme-failed", ERROR, "certbot")
    assert DETAIL in found.title and "stand-in" in found.title
    assert "port 80" in found.fix and "--acme-server" in found.fix and "resolves to this host" in found.fix
    assert found.evidence == [FAILED]


def test_a_failed_renewal_after_a_success_is_a_warning_with_the_certificate_still_served(acme_stack):
    [found] = acme_failed(acme_stack, [ISSUED, "acme: renewed djstack.test until Jan  1 00:00:00 2032 GMT",
                                 "acme: failed: too many certificates already issued"], stand_in=False)
    assert (found.id, found.severity) == ("acme-renewal-failed", WARNING)
    assert "too many certificates already issued" in found.title and "Jan  1 00:00:00 2032 GMT" in found.title
    assert found.evidence == ["acme: renewed djstack.test until Jan  1 00:00:00 2032 GMT",
                              "acme: failed: too many certificates already issued"]


def test_a_success_after_a_failure_is_no_finding(acme_stack):
    assert acme_failed(acme_stack, [FAILED, ISSUED], stand_in=False) == []
    assert acme_failed(acme_stack, ["acme: failed: x", "acme: renewed a.test until Jan  1 00:00:00 2032 GMT"], False) == []
    assert acme_failed(acme_stack, [], stand_in=True) == []
    # Lines that only look alike (certbot's own output) are not outcomes.
    assert acme_failed(acme_stack, ["Certbot failed to authenticate some domains", "acme: failedx"], True) == []
