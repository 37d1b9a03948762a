"""What djstack runs in web and nginx: the smoke check's and doctor's probes, a release's migrations
and static pruning, nginx's config test and reloads, manage.py for a person."""

from __future__ import annotations

from collections.abc import Sequence

from . import in_container_script, shell
from .compose import Project, exec, one_off
from ..execute import Command

# A script's `path` is where the web image holds it: Stack.in_image(stack.files.probe) and so on.


def probe(project: Project, web: str, path: str) -> Command:
    """compose/web/probe.py: the database and the cache from inside web, as one JSON line."""
    return exec(project, web, ["python", path])


def django_probes(project: Project, web: str, path: str) -> Command:
    """probe.py, showmigrations and makemigrations --check in one Python: one JSON line."""
    return exec(project, web, ["python", "-c", in_container_script("django-probes.py"), path])


def celery_ping(project: Project, web: str, app: str, seconds: int = 5) -> Command:
    """Celery's workers, pinged from web through the broker (the URL web enqueues with): the
    replies as JSON on stdout ({"celery@HOST": {"ok": "pong"}}); exit 69 when none answers."""
    return exec(project, web, ["celery", "-A", app, "inspect", "ping", "--json", "--timeout", str(seconds)],
                timeout=seconds + 40)


def queue_length(project: Project, broker: str, user: str, queue: str = "celery") -> Command:
    """How many tasks wait in one of the broker's queues: kombu's Redis transport keeps a list per
    queue in the broker URL's database (0). redis-cli signs in with the broker's REDISCLI_AUTH."""
    return exec(project, broker, ["redis-cli", "--user", user, "-n", "0", "LLEN", queue], timeout=30)


def stylesheets(project: Project, web: str, static_root: str) -> Command:
    return exec(project, web, ["find", static_root, "-type", "f", "-name", "*.css"])


def count_files(project: Project, service: str, folder: str) -> Command:
    return exec(project, service, shell("count-files.sh", folder), timeout=30)


def media_writable(project: Project, web: str, media: str) -> Command:
    return exec(project, web, shell("media-writable.sh", media), timeout=30)


def tcp_open(project: Project, service: str, host: str, port: int) -> Command:
    """Exit 0 when `service` can open a TCP connection to host:port."""
    return exec(project, service, shell("tcp-open.bash", host, str(port)), timeout=30)


def migration_plan(project: Project, web: str, path: str) -> Command:
    """compose/web/migration_plan.py of the project's image, in a one-off container."""
    return one_off(project, web, ["python", path], timeout=600)


def migrate(project: Project, web: str) -> Command:
    return one_off(project, web, ["python", "manage.py", "migrate", "--noinput"], timeout=3600)


def prune_static(project: Project, web: str, path: str, manifests_json: str) -> Command:
    """compose/web/prune_static.py, the kept releases' manifests on stdin."""
    return exec(project, web, ["python", path], stdin=manifests_json, timeout=300)


def manage(project: Project, web: str, args: Sequence[str], *, tty: bool) -> Command:
    return exec(project, web, ["python", "manage.py", *args], tty=tty, timeout=None)


def nginx_test(project: Project, nginx: str) -> Command:
    return exec(project, nginx, ["nginx", "-t"], timeout=60)


def nginx_reload(project: Project, nginx: str) -> Command:
    return exec(project, nginx, ["nginx", "-s", "reload"], timeout=60)


def processes(project: Project, service: str) -> Command:
    """Every process in the service's container as "PID COMMAND LINE" lines (nginx has no ps)."""
    return exec(project, service, shell("nginx-workers.sh"), timeout=60)
