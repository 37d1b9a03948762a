"""Rules on Redis: redis.conf as the redis service loads it, and its command line."""

from __future__ import annotations

from ..finding import ERROR, WARNING, Hit
from ..models.redis import DANGEROUS
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


def acl_fix(stack) -> str:
    user = stack.redis_acl.user
    return f'redis-server … --user default off --user {user} on ">$REDISCLI_AUTH" … (as init writes it).'


@rule("redis-no-password", ERROR, "redis", ("compose", "redis"))
def no_password(ctx):
    """Finds: Redis's default user on without a password (no `requirepass`, no `user default off`).

    Breaks: Without a password, anything on Redis's networks can read the cache and, with CONFIG
    SET, take the server over.

    Fix: Turn the default user off and give the app a user of its own with the password from .env:
    `--user default off --user app on ">$REDIS_PASSWORD" …` (as `djstack init` writes it).

    Example:
            command: redis-server /usr/local/etc/redis/redis.conf
    """
    redis = ctx.redis
    user = redis.user("default") if redis else None
    if user is not None and user.on and user.nopass:
        service = ctx.service(ctx.stack.services.redis)
        where = (user.option.file, user.option.line) if user.option else (service.compose.rel, redis.command_line or service.line)
        yield Hit(*where, "Redis requires no password",
                  "anything that reaches it can read the cache, or use CONFIG SET to take over.", acl_fix(ctx.stack))


@rule("redis-user-unknown", ERROR, "redis", ("redis", "settings"))
def user_unknown(ctx):
    """Finds: web signing in to Redis as a user its ACL does not define, or turns off.

    Breaks: Redis refuses every sign-in as that user (WRONGPASS), so every cache call fails.

    Fix: Sign in as the ACL user redis-server's command line defines (djstack's: app, in the cache's
    LOCATION `redis://app@redis:6379/0`), or define that user.

    Example:
        "LOCATION": "redis://cache@redis:6379/0",   # Redis defines only app
    """
    redis, used = ctx.redis, ctx.redis_user_used
    if redis is None or used is None:
        return
    name, source = used
    user = redis.user(name)
    if user is None or not user.on:
        file, line = ctx.settings.where("CACHES", "default", "LOCATION")
        state = "does not define" if user is None else "turns off"
        yield Hit(file, line, f"web signs in to Redis as {name!r} ({source}), a user Redis {state}",
                  "every cache call fails with WRONGPASS.",
                  f"Sign in as the user redis-server's command line defines (djstack's: {ctx.stack.redis_acl.user}).")


@rule("redis-password-mismatch", ERROR, "redis", ("redis", "settings"))
def password_mismatch(ctx):
    """Finds: A Redis password other than the one web sends (the cache's OPTIONS or its URL) for the
    user web signs in as.

    Breaks: web must send the password Redis has for its user, or every cache call fails (NOAUTH /
    WRONGPASS).

    Fix: Use REDIS_PASSWORD from .env in both places.

    Example:
        requirepass x9-another-0123456789abcdefghijkl   # .env says otherwise
    """
    redis, used, name = ctx.redis, ctx.redis_password_used, ctx.redis_user_used
    user = redis.user(name[0]) if redis and name else None
    if user is None or not user.on or user.nopass or user.option is None or used is None:
        return
    password, source = used
    if password not in user.passwords:
        yield Hit(user.option.file, user.option.line, f"Redis's password differs from the one web sends ({source})",
                  "every cache call fails with WRONGPASS or NOAUTH.",
                  "Use REDIS_PASSWORD from .env in both places.")


@rule("redis-hardcoded-password", WARNING, "redis", ("redis",))
def hardcoded_password(ctx):
    """Finds: A Redis password written in redis.conf or the compose file, not taken from `.env`.

    Breaks: A password written in redis.conf or the compose file is in git, and goes stale when
    `.env` changes.

    Fix: Pass it from .env: `">$REDISCLI_AUTH"` in the compose command's ACL user, REDISCLI_AUTH
    set from REDIS_PASSWORD.

    Example:
        requirepass yourpassword
    """
    redis = ctx.redis
    for option in (redis.conf + redis.command) if redis else []:
        written = option.args[:1] if option.key == "requirepass" else [a for a in option.args if a.startswith(">")] \
            if option.key == "user" else []
        if any(w.lstrip(">") for w in written) and option.from_env is None:
            yield Hit(option.file, option.line, "the Redis password is written in the file",
                      "it is in git, and goes stale when REDIS_PASSWORD in .env changes.",
                      'Pass it from .env: ">$REDISCLI_AUTH" in the compose command\'s ACL user.')


@rule("redis-user-unconfined", WARNING, "redis", ("compose", "redis", "settings"))
def user_unconfined(ctx):
    """Finds: The Redis user web signs in as allowed commands that hand Redis over (CONFIG, DEBUG,
    MODULE, ACL, SHUTDOWN, REPLICAOF, FLUSHALL): e.g. the default user with `requirepass`.

    Breaks: Whoever gets web's Redis password (a leak, a flaw in the app) can reconfigure Redis (CONFIG
    SET dir and dbfilename write files where Redis may), load modules, replicate it away or wipe it.

    Fix: An ACL user for the app without Redis's @dangerous commands, the default user off:
    `--user default off --user app on ">$REDISCLI_AUTH" ~* &* +@all -@dangerous +flushdb +info`.

    Example:
            command: ["sh", "-c", "exec redis-server /usr/local/etc/redis/redis.conf --requirepass \"$$REDISCLI_AUTH\""]
    """
    redis, used = ctx.redis, ctx.redis_user_used
    user = redis.user(used[0] if used else "default") if redis else None
    if user is None or not user.on or not user.dangerous:
        return
    if user.option is not None and user.option in redis.conf:
        where = (user.option.file, user.option.line)
    else:
        service = ctx.service(ctx.stack.services.redis)
        where = (service.compose.rel, redis.command_line or service.line)
    named = [c.upper() for c in DANGEROUS if c in user.dangerous]
    commands = ", ".join(named[:3]) + (", …" if len(named) > 3 else "")
    yield Hit(*where, f"web's Redis user {user.name!r} may run {commands}",
              "whoever has web's Redis password can reconfigure Redis, or wipe it.", acl_fix(ctx.stack))
