"""Rules on background work: the broker's Redis (broker.conf and its command line) must keep every
task, Celery's settings must send tasks to it and not to the cache, and the services that enqueue or
run tasks must reach it."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import yaml

from ..finding import ERROR, WARNING, Hit
from ..models.compose import get, resolve_host, shared_networks
from ..registry import rule
from .compose import published
from .redis import acl_fix

#: Services that talk to the broker: web enqueues, worker runs, beat enqueues, Flower watches.
BROKER_CLIENTS = ("web", "worker", "beat", "flower")


def _broker_service(ctx):
    """The broker's compose service, in a stack with background work; else None."""
    name = getattr(ctx.stack.services, "broker", None)
    return ctx.service(name) if name and getattr(ctx.stack, "workers", None) is not None else None


def _option_or_command(ctx, option):
    """Where to fix a broker option: its line, else the broker's command line (the option is missing)."""
    if option is not None:
        return option.file, option.line
    service = _broker_service(ctx)
    return service.compose.rel, ctx.broker.command_line or service.line


@rule("broker-evicting-policy", ERROR, "workers", ("compose", "broker"))
def evicting_policy(ctx):
    """Finds: A maxmemory-policy other than noeviction for the broker's Redis (broker.conf or its
    command line), e.g. the cache's allkeys-lru.

    Breaks: At maxmemory an evicting Redis deletes keys to make room: a queue or a task message is
    deleted like a cache entry, without an error, and the task never runs. With noeviction Redis
    refuses the write instead, and `.delay()` raises: a failure someone sees.

    Fix: maxmemory-policy noeviction in broker.conf (as `djstack init` writes it).

    Example:
        maxmemory-policy allkeys-lru
    """
    if _broker_service(ctx) is None or ctx.broker is None:
        return
    option = ctx.broker.last("maxmemory-policy")
    policy = option.args[0].lower() if option and option.args else "noeviction"  # Redis's default
    if policy != "noeviction":
        yield Hit(*_option_or_command(ctx, option), f"the broker's Redis evicts keys ({policy})",
                  "at maxmemory it deletes queued tasks without an error; they never run.",
                  "maxmemory-policy noeviction")


@rule("broker-aof-off", ERROR, "workers", ("compose", "broker"))
def aof_off(ctx):
    """Finds: The broker's Redis without its append-only file (`appendonly no`, Redis's default), or
    with `appendfsync no`.

    Breaks: Without the append-only file Redis keeps the queues in memory and in a snapshot taken
    every few minutes at best: a restart, a crash or `docker compose down` loses every task enqueued
    since. With `appendfsync no` the kernel writes the file when it likes (tens of seconds).

    Fix: appendonly yes and appendfsync everysec in broker.conf: at most a second of enqueued tasks
    is at risk in a crash.

    Example:
        appendonly no
    """
    if _broker_service(ctx) is None or ctx.broker is None:
        return
    option = ctx.broker.last("appendonly")
    if not (option and option.args and option.args[0].lower() == "yes"):
        yield Hit(*_option_or_command(ctx, option), "the broker's Redis keeps no append-only file",
                  "a restart or crash loses every task queued since the last snapshot.",
                  "appendonly yes and appendfsync everysec in broker.conf")
        return
    fsync = ctx.broker.last("appendfsync")
    if fsync and fsync.args and fsync.args[0].lower() == "no":
        yield Hit(fsync.file, fsync.line, "the broker's append-only file is fsynced when the kernel likes",
                  "a crash loses the tasks queued in the last tens of seconds.", "appendfsync everysec")


@rule("broker-port-published", ERROR, "workers", ("compose",))
def broker_port_published(ctx):
    """Finds: `ports:` on the broker service, which publishes the broker's Redis on the host.

    Breaks: A published Redis port faces the internet (Docker's rules bypass most host firewalls):
    whoever guesses or steals the password can read every task's arguments, drop the queues or
    enqueue tasks of their own, which the workers run.

    Fix: Delete `ports:` from broker; web and the workers reach it over the broker network.

    Example:
          broker:
            ports: ["6380:6379"]
    """
    service = _broker_service(ctx)
    if service is not None:
        yield from published(ctx, service.name, "broker", "web and the workers")


#: Celery's names for the settings these rules read when the app takes Django's settings without a
#: namespace: Django's settings hold only upper-case names, which Celery reads as its old ones.
OLD_NAMES = {"broker_url": "BROKER_URL", "task_time_limit": "CELERYD_TASK_TIME_LIMIT",
             "broker_transport_options": "BROKER_TRANSPORT_OPTIONS"}


def celery_setting(ctx, name: str) -> str | None:
    """The Django setting Celery's `name` (task_time_limit) is read from: CELERY_TASK_TIME_LIMIT under
    the app's namespace, its old name without one; None when the app reads no Django settings."""
    celery = ctx.project.celery
    if celery is None or celery.namespace is None:
        return None
    return f"{celery.namespace}_{name.upper()}" if celery.namespace else OLD_NAMES[name]


def _broker_setting_names(ctx) -> list[str]:
    """The setting Celery takes its broker URL from (none when the app reads no Django settings)."""
    name = celery_setting(ctx, "broker_url")
    return [name] if name else []


def _broker_urls(ctx):
    """(URL, where, what names it) of the broker each client service uses. Celery takes
    CELERY_BROKER_URL from the environment over any setting (its Settings.broker_url), so a
    service's environment wins; without it, the settings' value."""
    seen = set()
    for key in BROKER_CLIENTS:
        name = getattr(ctx.stack.services, key, None)
        service = ctx.service(name) if name else None
        if service is None:
            continue
        given = service.environment().get(ENV_BROKER_URL)
        if given is not None and given.text:
            found = [(given.text, (given.file, given.line), ENV_BROKER_URL)]
        elif ctx.settings is not None:
            found = [(v, ctx.settings.where(n), n) for n in _broker_setting_names(ctx)
                     for v in [ctx.settings.value(n)] if isinstance(v, str)]
        else:
            found = []
        for url, where, what in found[:1]:
            if where not in seen:
                seen.add(where)
                yield url, where, what


#: The variable Celery reads its broker URL from, before any setting.
ENV_BROKER_URL = "CELERY_BROKER_URL"


@rule("settings-broker-on-cache-redis", ERROR, "workers", ("settings", "compose"))
def broker_on_cache(ctx):
    """Finds: Celery's broker URL pointing at the cache's Redis instead of the broker: the
    CELERY_BROKER_URL of web's or a worker's environment (Celery takes it over any setting), else the
    setting under the app's namespace (CELERY_BROKER_URL in the settings they run).

    Breaks: The cache's Redis evicts keys when it is full (allkeys-lru): under memory pressure queued
    tasks are deleted like cache entries, without an error, and never run.

    Fix: Use the broker: CELERY_BROKER_URL=redis://app:${BROKER_PASSWORD}@broker:6379/0 in
    docker-compose.yml (as `djstack init` writes it), never the redis service.

    Example:
              CELERY_BROKER_URL: redis://app:${REDIS_PASSWORD}@redis:6379/1
    """
    compose = ctx.compose
    cache = ctx.service(ctx.stack.services.redis)
    if _broker_service(ctx) is None or compose is None or cache is None:
        return
    for url, where, what in _broker_urls(ctx):
        try:
            host = urlsplit(url).hostname if "://" in url else None
        except ValueError:
            continue
        if host and resolve_host(compose, host) is cache:
            yield Hit(*where, f"{what} sends tasks to the cache's Redis ({host})",
                      "it evicts keys when full: queued tasks are deleted without an error.",
                      f"Point {what} at the {ctx.stack.services.broker} service, as djstack init writes it.")


@rule("broker-no-password", ERROR, "workers", ("compose", "broker"))
def broker_no_password(ctx):
    """Finds: The broker's Redis with its default user on and no password (no `--user default off`,
    no `requirepass`).

    Breaks: Anything on the broker's network signs in without a password: it can read every task's
    arguments, drop the queues, or enqueue tasks the workers then run as the project.

    Fix: Turn the default user off and give the app a user of its own with BROKER_PASSWORD from
    .env: `--user default off --user app on ">$REDISCLI_AUTH" …` (as `djstack init` writes it).

    Example:
            command: redis-server /usr/local/etc/redis/redis.conf
    """
    broker = ctx.broker if _broker_service(ctx) is not None else None
    user = broker.user("default") if broker else None
    if user is not None and user.on and user.nopass:
        where = (user.option.file, user.option.line) if user.option else _option_or_command(ctx, None)
        yield Hit(*where, "the broker's Redis requires no password",
                  "anything on its network can read, drop or enqueue tasks.", acl_fix(ctx.stack))


@rule("broker-credentials-mismatch", ERROR, "workers", ("compose", "broker", "settings"))
def credentials_mismatch(ctx):
    """Finds: A broker URL (CELERY_BROKER_URL) signing in as a user the broker's ACL does not define
    or turns off, or with a password other than the one the broker has for that user.

    Breaks: The broker refuses the sign-in (WRONGPASS, NOAUTH): web's `.delay()` raises, the worker
    retries for ever and runs nothing, beat sends nothing.

    Fix: Use the broker's ACL user and BROKER_PASSWORD from .env in both places, as `djstack init`
    writes them: the broker's command line (REDISCLI_AUTH) and CELERY_BROKER_URL.

    Example:
              CELERY_BROKER_URL: redis://app:another-password@broker:6379/0
    """
    compose, broker_service = ctx.compose, _broker_service(ctx)
    if broker_service is None or compose is None or ctx.broker is None:
        return
    for url, where, what in _broker_urls(ctx):
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            continue
        if not host or resolve_host(compose, host) is not broker_service:
            continue
        name, password = unquote(parts.username or "default"), unquote(parts.password or "")
        user = ctx.broker.user(name)
        if user is None or not user.on:
            yield Hit(*where, f"{what} signs in to the broker as {name!r}, a user it does not let in",
                      "the broker refuses it (WRONGPASS): no task is enqueued or run.",
                      f"Sign in as {ctx.stack.redis_acl.user}, the user the broker's command line defines.")
        elif not user.nopass and password not in user.passwords:
            yield Hit(*where, f"{what}'s password is not the broker's for {name!r}",
                      "the broker refuses it (WRONGPASS): no task is enqueued or run.",
                      "Use BROKER_PASSWORD from .env in both places.")


#: kombu's Redis transport hands an unacknowledged task to another worker after an hour by default.
DEFAULT_VISIBILITY_TIMEOUT = 3600


def _time_limit(ctx):
    """(seconds, setting name) of Celery's hard task time limit in the settings web runs, if known."""
    name = celery_setting(ctx, "task_time_limit")
    value = ctx.settings.value(name) if name and ctx.settings is not None else None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    return (value, name) if ok else (None, name)


@rule("settings-visibility-timeout-short", ERROR, "workers", ("settings", "compose"))
def visibility_timeout_short(ctx):
    """Finds: A broker visibility_timeout (CELERY_BROKER_TRANSPORT_OPTIONS) no longer than the task
    time limit (CELERY_TASK_TIME_LIMIT).

    Breaks: With acknowledgement at the end of a task (task_acks_late), Redis gives a task nobody has
    acknowledged within the visibility timeout to another worker: a task still running is started a
    second time beside the first.

    Fix: A visibility_timeout longer than the time limit plus the worker's stop_grace_period (what
    `djstack init` derives from TASK_TIME_LIMIT in .env).

    Example:
        CELERY_TASK_TIME_LIMIT = 3600
        CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    """
    if _broker_service(ctx) is None or ctx.settings is None:
        return
    limit, limit_name = _time_limit(ctx)
    name = celery_setting(ctx, "broker_transport_options")
    if limit is None or name is None:
        return
    options = ctx.settings.value(name)
    given = options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT) if isinstance(options, dict) else (
        DEFAULT_VISIBILITY_TIMEOUT if name not in ctx.settings.module.values else None)
    if isinstance(given, (int, float)) and not isinstance(given, bool) and given <= limit:
        where = ctx.settings.where(name) if name in ctx.settings.module.values else ctx.settings.where(limit_name)
        yield Hit(*where, f"the broker's visibility_timeout ({given:g} s) is not above {limit_name} ({limit:g} s)",
                  "a task still running is handed to another worker and runs twice at once.",
                  "A visibility_timeout above the time limit plus the worker's stop grace period.")


#: Compose's duration units, in seconds.
_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}


def _duration(text: str) -> float | None:
    """A Compose duration ("330s", "5m30s", "1h") in seconds; None when it is not one."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


#: Docker's stop grace period when the compose file names none.
DEFAULT_STOP_GRACE = 10


@rule("worker-stop-grace-short", WARNING, "workers", ("compose", "settings"))
def stop_grace_short(ctx):
    """Finds: A worker stop_grace_period shorter than the task time limit (CELERY_TASK_TIME_LIMIT);
    Docker's default is 10 s.

    Breaks: `docker compose stop` (and every deploy) sends SIGTERM, Celery's warm shutdown, and
    SIGKILL when the grace period ends: a task that may run longer is killed mid-way and starts
    again from the beginning on the next worker.

    Fix: stop_grace_period longer than the time limit (`djstack init` sets it from TASK_TIME_LIMIT in
    .env).

    Example:
          worker:
            stop_grace_period: 10s   # tasks may run 300 s
    """
    name = getattr(ctx.stack.services, "worker", None)
    worker = ctx.service(name) if name and _broker_service(ctx) is not None else None
    limit, limit_name = _time_limit(ctx) if worker is not None else (None, None)
    if limit is None:
        return
    given = worker.scalar("stop_grace_period")
    grace = _duration(given.text) if given else DEFAULT_STOP_GRACE
    if grace is not None and grace < limit:
        where = (given.file, given.line) if given else (worker.compose.rel, worker.line)
        yield Hit(*where, f"{name} gets {grace:g} s to stop; {limit_name} lets a task run {limit:g} s",
                  "a stop or deploy kills the tasks in flight; they start again from the beginning.",
                  f"stop_grace_period: {limit + 30:g}s (more than the time limit)")


@rule("beat-scaled", ERROR, "workers", ("compose",))
def beat_scaled(ctx):
    """Finds: More than one beat container (`scale:` or `deploy.replicas` above 1 on the beat service).

    Breaks: Every beat sends every periodic task: with two, each job runs twice per interval.

    Fix: One beat: delete `scale:`/`replicas:` from the beat service (scale the worker instead).

    Example:
          beat:
            deploy:
              replicas: 2
    """
    name = getattr(ctx.stack.services, "beat", None)
    beat = ctx.service(name) if name and _broker_service(ctx) is not None else None
    if beat is None:
        return
    given = [beat.scalar("scale"), beat.compose.value(n) if isinstance(n := get(beat.get("deploy"), "replicas"),
                                                                     yaml.ScalarNode) else None]
    for value in given:
        if value is not None and value.text.strip().isdigit() and int(value.text) > 1:
            yield Hit(value.file, value.line, f"{value.text.strip()} beat containers",
                      "each sends every periodic task: every job runs that many times per interval.",
                      f"Run one {name}: delete its scale/replicas (scale the worker instead).")


@rule("worker-off-broker-network", ERROR, "workers", ("compose",))
def off_broker_network(ctx):
    """Finds: web, worker, beat or Flower sharing no network with the broker service.

    Breaks: A service reaches the broker only over a network both join: web cannot enqueue (every
    `.delay()` fails), the worker waits for a broker it never reaches and runs nothing, beat sends
    nothing.

    Fix: Put the service on the broker network (`broker_network`) in the compose file, as `djstack
    init` writes it.

    Example:
          worker:
            networks: [front, db]   # the broker is on broker_network only
    """
    broker = _broker_service(ctx)
    if broker is None:
        return
    network = getattr(ctx.stack.networks, "broker", "the broker network")
    for key in BROKER_CLIENTS:
        name = getattr(ctx.stack.services, key, None)
        service = ctx.service(name) if name else None
        if service is None or shared_networks(service, broker) != set():
            continue
        yield Hit(service.compose.rel, service.key_line("networks") or service.line,
                  f"{name} shares no network with {broker.name}",
                  f"{name} cannot reach the broker: {_consequence(key)}.",
                  f"Add {network} to {name}'s networks.")


def _consequence(key: str) -> str:
    return {"web": "every .delay() fails", "worker": "it runs no task", "beat": "it sends no periodic task",
            "flower": "it shows nothing"}[key]
