"""Rules on uWSGI's configuration (the ini file and the uwsgi command line)."""

from __future__ import annotations

from ..finding import ERROR, Hit
from ..registry import rule

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@rule("uwsgi-daemonize", ERROR, "uwsgi", ("uwsgi",))
def daemonize(ctx):
    """Finds: `daemonize` (or `daemonize2`) in uWSGI's options.

    Breaks: A daemonized uWSGI forks into the background: the start script goes on (hence the
    tutorial's `tail -f`), logs go to a file instead of `docker logs`, and Docker cannot see it die.

    Fix: Remove daemonize: uWSGI runs in the foreground as the container's main process.

    Example:
        daemonize = /tmp/uwsgi.log
    """
    uwsgi = ctx.uwsgi
    for option in (uwsgi.all("daemonize") + uwsgi.all("daemonize2")) if uwsgi else []:
        yield Hit(option.file, option.line, f"uWSGI daemonizes ({option.key} = {option.value})",
                  "it forks away from the container's main process; Docker cannot supervise it.",
                  "Remove daemonize: uWSGI runs in the foreground as the container's main process.")


@rule("uwsgi-listens-on-loopback", ERROR, "uwsgi", ("uwsgi",))
def listens_on_loopback(ctx):
    """Finds: A uWSGI socket bound to 127.0.0.1, localhost or ::1.

    Breaks: A socket bound to 127.0.0.1 is reachable only inside web's own container, not from
    nginx.

    Fix: Listen on all interfaces: socket = :PORT.

    Example:
        socket = 127.0.0.1:8000
    """
    for listener in ctx.uwsgi.listeners if ctx.uwsgi else []:
        if listener.host in LOOPBACK:
            yield Hit(listener.option.file, listener.option.line, f"uWSGI listens on loopback ({listener.describe()})",
                      "nginx runs in another container and cannot reach web's 127.0.0.1.",
                      f"Listen on all interfaces: {listener.option.key} = :{listener.port}")
