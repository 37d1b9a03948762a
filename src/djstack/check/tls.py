"""HTTPS mode's certificate files (compose/nginx/ssl/): the same tests `djstack up` makes before it starts."""

from __future__ import annotations

from .. import tls
from .finding import ERROR, Hit, rule


@rule("tls-certificate-unusable", ERROR)
def certificate_unusable(ctx):
    """In HTTPS mode nginx will not start without a certificate and its key, and browsers refuse a
    certificate that has expired or does not name the site's domain."""
    stack = ctx.stack
    if not stack.https:
        return
    for path, what, fix in tls.problems(stack):
        yield Hit(ctx.rel(path), None, what[:90], "nginx cannot serve HTTPS with it; `djstack up` refuses to start.", fix)
