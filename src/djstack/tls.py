"""HTTPS mode's certificate files: make a self-signed pair for testing, and refuse a pair that cannot work.

The `openssl` command does the X.509 work: it is on every host that has CA certificates (Debian's
ca-certificates depends on it), so djstack needs no extra Python package for a few calls made at
init/up time. Nothing here talks to the network.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import execute
from .commands import host
from .errors import ProgramMissing, TlsProblem
from .execute import Command
from .model import Stack


#: The certbot service's outcome lines, as compose/certbot/run.sh prints them on its stdout: `up` waits
#: for one and doctor judges the last. Groups: 1 issued|renewed, 2 names, 3 notAfter; 4 failed, 5 reason.
ACME_OUTCOME = re.compile(r"^\s*acme: (?:(issued|renewed) (.*?) until (.*)|(failed): ?(.*))$")

def _openssl(command: Command) -> execute.Result:
    try:
        return execute.run(command, check=False)
    except ProgramMissing as exc:
        raise TlsProblem("openssl", "The `openssl` command is not installed; djstack uses it for certificates.",
                         "Install it (Debian/Ubuntu: apt-get install openssl).") from exc


def cert_paths(stack: Stack) -> tuple[Path, Path]:
    folder = stack.path(stack.tls_files.folder)
    return folder / stack.tls_files.cert, folder / stack.tls_files.key


def make_self_signed(stack: Stack) -> bool:
    """Write a self-signed certificate for the stack's domains unless both files exist. True when made.

    One file without the other is left alone: validate() then names the missing one.
    """
    cert, key = cert_paths(stack)
    if cert.exists() or key.exists():
        return False
    cert.parent.mkdir(parents=True, exist_ok=True)
    tmp_cert, tmp_key = cert.with_name(".new-" + cert.name), key.with_name(".new-" + key.name)
    old_umask = os.umask(0o077)  # the key is never readable by others, not even for a moment
    try:
        proc = _openssl(host.self_signed(tmp_cert, tmp_key, stack.tls_settings.certificate_days, stack.domains))
        if proc.returncode != 0:
            raise TlsProblem("openssl", f"openssl could not make a self-signed certificate:\n{proc.stderr.strip()}",
                             f"Put your own {stack.tls_files.cert} and {stack.tls_files.key} in "
                             f"{stack.tls_files.folder}/ and use --tls provided.")
        os.chmod(tmp_key, 0o600)
        os.chmod(tmp_cert, 0o644)
        os.replace(tmp_key, key)
        os.replace(tmp_cert, cert)
    finally:
        os.umask(old_umask)
        tmp_cert.unlink(missing_ok=True)
        tmp_key.unlink(missing_ok=True)
    return True


def certificate_names(cert: Path) -> list[str]:
    """The DNS names in the certificate's subjectAltName."""
    proc = _openssl(host.x509_names(cert))
    return re.findall(r"DNS:([^,\s]+)", proc.stdout)


@dataclass(frozen=True)
class Validity:
    not_after: datetime  # UTC
    not_after_text: str  # as openssl prints it: "Dec  2 14:55:44 2031 GMT"


def validity(cert: Path) -> Validity | None:
    """When the certificate expires; None when it is no PEM certificate."""
    proc = _openssl(host.x509_end(cert))
    text = proc.stdout.strip().partition("notAfter=")[2].strip()
    if proc.returncode != 0 or not text:
        return None
    try:  # openssl prints English month names whatever the locale; %b is the C locale's
        when = datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return Validity(when, text)


def covers(pattern: str, name: str) -> bool:
    """Whether a certificate name (maybe '*.example.com') covers a host name (RFC 6125: one label)."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def problems(stack: Stack) -> list[TlsProblem]:
    """What is wrong with the certificate files, each with its `kind`. Empty when they will work."""
    cert, key = cert_paths(stack)
    rel = stack.tls_files.folder
    how = f"Put {stack.tls_files.cert} + {stack.tls_files.key} in {rel}/, or init --tls self-signed."
    missing = [TlsProblem("missing", f"{p.name} is missing (TLS {stack.tls} needs it).", how, p)
               for p in (cert, key) if not p.is_file()]
    if missing:
        return missing
    found = []
    cert_pub = _openssl(host.x509_pubkey(cert))
    if cert_pub.returncode != 0:
        return [TlsProblem("unreadable", f"{cert.name} is not a PEM certificate.", how, cert)]
    key_pub = _openssl(host.key_pubkey(key))
    if key_pub.returncode != 0:
        return [TlsProblem("unreadable", f"{key.name} is not an unencrypted PEM private key.",
                           f"Give it without passphrase: openssl pkey -in old.pem -out {key.name}", key)]
    if cert_pub.stdout.strip() != key_pub.stdout.strip():
        found.append(TlsProblem("mismatch", f"{key.name} is not the private key of {cert.name} (their public keys "
                                "differ).", "Use the key the certificate was issued for (certbot: privkey.pem).", key))
    if _openssl(host.x509_expired(cert)).returncode != 0:
        found.append(TlsProblem("expired", f"{cert.name} has expired.", "Renew it (certbot renew), then reload nginx.",
                                cert))
    names = certificate_names(cert)
    uncovered = [d for d in stack.domains if not any(covers(n, d) for n in names)]
    if uncovered:
        found.append(TlsProblem("names", f"{cert.name} does not cover {', '.join(uncovered)} "
                                         f"(it names {', '.join(names) or 'no DNS name'}).",
                                "Get a certificate naming every --domain, or pass only the names it has.", cert))
    return found


#: What certbot mends by itself in an acme stack: a certificate lacking a newly added domain, or expired.
ACME_MENDS = ("names", "expired")


def blocking_problems(stack: Stack) -> list[TlsProblem]:
    """problems(), less what the certbot service of an acme stack mends by itself."""
    return [p for p in problems(stack) if not (stack.acme and p.kind in ACME_MENDS)]


def is_certificate(path: Path) -> bool:
    """Whether the file holds a PEM certificate (its first)."""
    return _openssl(host.x509_pubkey(path)).returncode == 0


def is_stand_in(stack: Stack) -> bool:
    """Whether nginx's certificate is self-signed (issuer = subject): init's stand-in, in an acme stack
    before certbot's first certificate."""
    cert, _ = cert_paths(stack)
    proc = _openssl(host.x509_issuer_subject(cert))
    lines = [line.split("=", 1)[1].strip() for line in proc.stdout.splitlines() if "=" in line]
    return proc.returncode == 0 and len(lines) == 2 and lines[0] == lines[1]


def validate(stack: Stack) -> None:
    """Raise the first problem with the certificate files; nothing when TLS is off."""
    if not stack.https:
        return
    found = blocking_problems(stack)
    if found:
        raise found[0]
