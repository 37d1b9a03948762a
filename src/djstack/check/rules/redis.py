"""Rules on Redis: redis.conf as the redis service loads it, and its command line."""

from __future__ import annotations

from ..finding import ERROR, WARNING, Hit
from ..registry import rule

LOOPBACK = ("127.0.0.1", "-127.0.0.1", "::1", "-::1", "localhost")


@rule("redis-conf-not-loaded", WARNING, "redis", ("compose", "redis"))
def conf_not_loaded(ctx):
    """Finds: A redis.conf mounted into the redis container that its command does not name.

    Breaks: redis-server reads a config file only when its command names it: none of the file's
    settings apply.

    Fix: Start it as `redis-server /path/to/redis.conf` (the path it is mounted at).

    Example:
            command: redis-server --appendonly yes   # redis.conf mounted, not named
    """
    redis = ctx.redis
    if redis and redis.conf_rel and not redis.conf_loaded:
        service = ctx.service(ctx.stack.services.redis)
        yield Hit(service.compose.rel, redis.command_line or service.line, f"{redis.conf_rel} is mounted but not loaded",
                  "redis-server starts with defaults: none of the file's settings apply.",
                  f"Start it as: redis-server {ctx.stack.paths.redis_conf}")


@rule("redis-bind-loopback", ERROR, "redis", ("redis",))
def bind_loopback(ctx):
    """Finds: Redis bound only to loopback addresses (`bind 127.0.0.1`).

    Breaks: Redis bound to 127.0.0.1 accepts connections only from inside its own container.

    Fix: bind 0.0.0.0 (the redis network is internal, and a password is required).

    Example:
        bind 127.0.0.1
    """
    option = ctx.redis.last("bind") if ctx.redis else None
    if option and option.args and all(a in LOOPBACK for a in option.args):
        yield Hit(option.file, option.line, f"Redis binds only to {' '.join(option.args)}",
                  "web runs in another container and gets 'Connection refused'.",
                  "bind 0.0.0.0 (the redis network is internal, and a password is required).")


@rule("redis-no-password", ERROR, "redis", ("compose", "redis"))
def no_password(ctx):
    """Finds: Redis without `requirepass` (in redis.conf or on its command line).

    Breaks: Without requirepass, anything on Redis's networks can read the cache and rewrite the
    config.

    Fix: --requirepass "$REDIS_PASSWORD" from .env (as `djstack init` writes it).

    Example:
            command: redis-server /usr/local/etc/redis/redis.conf
    """
    redis = ctx.redis
    if redis is None:
        return
    option = redis.last("requirepass")
    if option is None or not option.args or not option.args[0]:
        service = ctx.service(ctx.stack.services.redis)
        yield Hit(service.compose.rel, redis.command_line or service.line, "Redis requires no password",
                  "anything that reaches it can read the cache, or use CONFIG SET to take over.",
                  '--requirepass "$REDIS_PASSWORD" from .env (as `djstack init` writes it).')


@rule("redis-password-mismatch", ERROR, "redis", ("redis", "settings"))
def password_mismatch(ctx):
    """Finds: A Redis password other than the one web sends (the cache's OPTIONS or its URL).

    Breaks: web must send the password Redis requires, or every cache call fails (NOAUTH /
    WRONGPASS).

    Fix: Use REDIS_PASSWORD from .env in both places.

    Example:
        requirepass x9-another-0123456789abcdefghijkl   # .env says otherwise
    """
    redis = ctx.redis
    option = redis.last("requirepass") if redis else None
    used = ctx.redis_password_used
    if option is None or not option.args or used is None:
        return
    password, source = used
    if option.args[0] != password:
        yield Hit(option.file, option.line, f"Redis's password differs from the one web sends ({source})",
                  "every cache call fails with WRONGPASS or NOAUTH.",
                  "Use REDIS_PASSWORD from .env in both places.")


@rule("redis-hardcoded-password", WARNING, "redis", ("redis",))
def hardcoded_password(ctx):
    """Finds: A Redis password written in redis.conf or the compose file, not taken from `.env`.

    Breaks: A password written in redis.conf or the compose file is in git, and goes stale when
    `.env` changes.

    Fix: Pass it from .env: --requirepass "$REDIS_PASSWORD" in the compose command.

    Example:
        requirepass yourpassword
    """
    redis = ctx.redis
    for option in (redis.conf + redis.command) if redis else []:
        if option.key == "requirepass" and option.args and option.from_env is None and option.args[0]:
            yield Hit(option.file, option.line, "the Redis password is written in the file",
                      "it is in git, and goes stale when REDIS_PASSWORD in .env changes.",
                      'Pass it from .env: --requirepass "$REDIS_PASSWORD" in the compose command.')
