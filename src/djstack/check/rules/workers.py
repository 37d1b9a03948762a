"""Rules on background work: the broker's Redis (broker.conf and its command line) must keep every
task, Celery's settings must send tasks to it and not to the cache, and the services that enqueue or
run tasks must reach it."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from ..finding import ERROR, Hit
from ..models.compose import resolve_host, shared_networks
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


def _broker_setting_names(ctx) -> list[str]:
    """The settings Celery takes its broker URL from: under the app's namespace (CELERY_BROKER_URL),
    or without one its own names; none when the app does not read Django's settings."""
    celery = ctx.project.celery
    if celery is None or celery.namespace is None:
        return []
    return [f"{celery.namespace}_BROKER_URL"] if celery.namespace else ["broker_url", "BROKER_URL"]


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
