"""HTTPS mode's certificate files (compose/nginx/ssl/): the same tests `djstack up` makes before it starts."""

from __future__ import annotations

from ... import tls
from ..finding import ERROR, Hit
from ..registry import rule


@rule("tls-certificate-unusable", ERROR, "tls", ("env", "tls"))
def certificate_unusable(ctx):
    """Finds: In HTTPS mode (TLS= in .env), a certificate or key that is missing, unreadable,
    mismatched, expired or does not name the site's domains.

    Breaks: In HTTPS mode nginx will not start without a certificate and its key, and browsers
    refuse a certificate that has expired or does not name the site's domain.

    Fix: Put the certificate and key in compose/nginx/ssl/ (or TLS=self-signed), then `djstack up`.

    Example:
        TLS=provided   # and no compose/nginx/ssl/fullchain.pem
    """
    stack = ctx.stack
    if not stack.https:
        return
    for found in tls.blocking_problems(stack):
        yield Hit(ctx.rel(found.path), None, found.problem[:90],
                  "nginx cannot serve HTTPS with it; `djstack up` refuses to start.", found.fix)
