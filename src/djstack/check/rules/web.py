"""Rules on the web container: its Dockerfile and the start script it runs."""

from __future__ import annotations

import re

from ..finding import ERROR, WARNING, Hit
from ..models.runtime import shell_commands
from ..registry import rule


@rule("entrypoint-makemigrations", ERROR, "web", ('runtime',))
def makemigrations(ctx):
    """Finds: `manage.py makemigrations` in web's start script.

    Breaks: Migrations belong to the code: generated at each start, they differ from the ones in
    git, are lost with the container, and give an inconsistent migration history.

    Fix: Run makemigrations on your machine, commit them; start with migrate only.

    Example:
        python manage.py makemigrations
    """
    for script in ctx.web_scripts:
        for cmd in script.commands:
            if "makemigrations" in cmd.words and ("manage.py" in " ".join(cmd.words) or "django-admin" in cmd.words[0]):
                yield Hit(script.rel, cmd.line, "the start script runs makemigrations",
                          "migrations made in the container differ from git's and vanish on rebuild.",
                          "Run makemigrations on your machine, commit them; start with migrate only.")


@rule("entrypoint-tail-f", ERROR, "web", ('runtime',))
def tail_f(ctx):
    """Finds: `tail -f` in web's start script.

    Breaks: `tail -f` keeps a container "running" after its server died, so Docker never restarts
    it.

    Fix: Run the server in the foreground with `exec` (`exec "$@"`) instead.

    Example:
        uwsgi --ini uwsgi.ini &
        tail -f /dev/null
    """
    for script in ctx.web_scripts:
        for cmd in script.commands:
            if cmd.runs("tail") and any(w in ("-f", "-F", "--follow") or re.fullmatch(r"-[a-zA-Z]*[fF][a-zA-Z]*", w) for w in cmd.words):
                yield Hit(script.rel, cmd.line, "`tail -f` keeps the container alive",
                          "the container looks up when the server is dead; Docker never restarts it.",
                          'Run the server in the foreground with `exec` (`exec "$@"`) instead.')


@rule("entrypoint-no-exec", ERROR, "web", ('runtime',))
def no_exec(ctx):
    """Finds: A start script that starts uWSGI (or ends) without `exec`.

    Breaks: Without `exec`, the shell stays PID 1: docker stop's SIGTERM never reaches the server
    (it is killed after the grace period), and a dead server does not stop the container.

    Fix: Start the server last, as `exec uwsgi …` (or end with `exec "$@"` with CMD naming the
    server).

    Example:
        uwsgi --ini /app/uwsgi.ini
    """
    for script in ctx.web_scripts:
        starts = [c for c in script.commands if c.runs("uwsgi") and c.program != "exec"]
        for cmd in starts:
            yield Hit(script.rel, cmd.line, "uWSGI is started without `exec`",
                      "the shell stays PID 1: SIGTERM never reaches uWSGI, crashes go unnoticed.",
                      'Start the server last, as `exec uwsgi …` (or `exec "$@"` with CMD uwsgi).')
        if not starts and script.commands and not any(c.program == "exec" for c in script.commands):
            yield Hit(script.rel, script.commands[-1].line, "the start script never `exec`s the server",
                      "the shell stays PID 1: SIGTERM never reaches the server, crashes go unnoticed.",
                      'End the script with `exec "$@"` (CMD names the server).')


@rule("dockerfile-apt-netcat", ERROR, "web", ('runtime',))
def apt_netcat(ctx):
    """Finds: `apt install netcat` in web's Dockerfile.

    Breaks: `netcat` is a virtual package since Debian 12: `apt install netcat` fails the build.

    Fix: Install netcat-openbsd, or drop it: depends_on with service_healthy waits.

    Example:
        RUN apt-get install -y netcat
    """
    image = ctx.web.image if ctx.web else None
    if image is None:
        return
    for ins in image.instructions("RUN"):
        for cmd in shell_commands(ins.text, ins.line):
            if cmd.program in ("apt", "apt-get") and "install" in cmd.words and "netcat" in cmd.words:
                line = next((n for n, t in ins.physical if re.search(r"\bnetcat\b(?!-)", t)), ins.line)
                yield Hit(ctx.rel(image.dockerfile), line, "`apt install netcat`: a virtual package on Debian 12+",
                          "apt has no installation candidate for it; the image build fails.",
                          "Install netcat-openbsd, or drop it: depends_on with service_healthy waits.")


@rule("dockerfile-entrypoint-shell-form", WARNING, "web", ('runtime',))
def entrypoint_shell_form(ctx):
    """Finds: An ENTRYPOINT in shell form in web's Dockerfile.

    Breaks: A shell-form ENTRYPOINT runs under /bin/sh -c: sh is PID 1, signals stop there, CMD is
    ignored.

    Fix: Use the exec form: ENTRYPOINT ["/path/entrypoint.sh"].

    Example:
        ENTRYPOINT /app/start.sh
    """
    image = ctx.web.image if ctx.web else None
    if image and image.entrypoint and image.entrypoint[1]:
        yield Hit(ctx.rel(image.dockerfile), image.entrypoint[2], "ENTRYPOINT is in shell form",
                  "/bin/sh -c becomes PID 1: SIGTERM never reaches the server, and CMD is ignored.",
                  'Use the exec form: ENTRYPOINT ["/path/entrypoint.sh"].')
