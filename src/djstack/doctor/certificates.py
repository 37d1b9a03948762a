"""doctor's certificate findings: the served certificate expires soon (or has), and an ACME stack's
certbot service said its last attempt failed.

The expiry is read from the file nginx serves (compose/nginx/ssl/fullchain.pem), whatever the TLS mode:
a provided certificate lapses as surely as one nobody renews. CERT_WARN_DAYS: Let's Encrypt's
certificates last 90 days and certbot renews them 30 days before the end, so a certificate with 21 days
left has missed its renewal for 9 days (a week and more of failed tries); a provided one gets three
weeks' notice to be replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from .. import tls
from ..model import Stack
from .finding import ERROR, SITE, WARNING, Finding

#: Days before a certificate's notAfter that doctor starts warning (see the module's docstring).
CERT_WARN_DAYS = 21

#: What to check when an ACME server cannot validate the names (the http-01 challenge is fetched from
#: port 80 of every name).
ACME_FIX = ("Check that every --domain resolves to this host (DNS A/AAAA records), that port 80 is reachable "
            "from the internet (firewall, NAT) and answered by this stack's nginx, and that --acme-server is "
            "right; certbot tries again by itself (ACME_RETRY_SECONDS), or now: `docker compose restart {certbot}`.")


def expiry(stack: Stack, now: datetime | None = None) -> list[Finding]:
    """An error when the served certificate has expired, a warning within CERT_WARN_DAYS of its end;
    nothing without HTTPS or a readable certificate (djstack check and up name those)."""
    if not stack.https:
        return []
    cert, _ = tls.cert_paths(stack)
    if not cert.is_file():
        return []
    valid = tls.validity(cert)
    if valid is None:
        return []
    left = valid.not_after - (now or datetime.now(timezone.utc))
    days = left.total_seconds() / 86400
    if days > CERT_WARN_DAYS:
        return []
    rel = f"{stack.tls_files.folder}/{stack.tls_files.cert}"
    if stack.acme:
        fix = ("certbot should have renewed it 30 days before its end: see why in `djstack logs certbot` "
               "(lines `acme: failed: …`) and " + ACME_FIX.format(certbot=stack.services.certbot))
    elif stack.tls == "self-signed":
        fix = f"Delete {rel} and {stack.tls_files.key}, then run `djstack init` again: it makes a new pair."
    else:
        fix = f"Put a renewed certificate in {rel} (with its key); nginx picks it up without a restart."
    evidence = [f"{rel}: notAfter={valid.not_after_text}"]
    if days <= 0:
        return [Finding("certificate-expired", ERROR, f"The site's certificate expired on {valid.not_after_text}: "
                        "browsers refuse the site.", fix, SITE, "nginx", evidence)]
    return [Finding("certificate-expiring", WARNING, f"The site's certificate expires in {days:.0f} days "
                    f"({valid.not_after_text}); doctor warns {CERT_WARN_DAYS} days ahead.", fix, SITE, "nginx",
                    evidence)]


def acme_failed(stack: Stack, lines: Sequence[str], stand_in: bool) -> list[Finding]:
    """The certbot service's last outcome (in its log `lines`), when it is a failure: a finding naming
    certbot's reason. An error while the site serves the self-signed stand-in (`stand_in`: no
    certificate from the ACME server yet), a warning when an earlier one still serves."""
    outcomes = [m for m in map(tls.ACME_OUTCOME.match, lines) if m]
    if not outcomes or not outcomes[-1].group(4):
        return []
    reason = outcomes[-1].group(5).strip()
    good = [m for m in outcomes if m.group(1)]
    fix = ACME_FIX.format(certbot=stack.services.certbot)
    evidence = [m.group(0).strip() for m in (good[-1:] + outcomes[-1:])]
    if not stand_in:
        until = f" (valid until {good[-1].group(3).strip()})" if good else ""
        return [Finding("acme-renewal-failed", WARNING, f"certbot's last renewal failed: {reason}. The site still "
                        f"serves its earlier certificate{until}.", fix, SITE, stack.services.certbot, evidence)]
    return [Finding("acme-failed", ERROR, f"certbot could not get a certificate: {reason}. The site serves its "
                    "self-signed stand-in, which browsers refuse.", fix, SITE, stack.services.certbot, evidence)]

