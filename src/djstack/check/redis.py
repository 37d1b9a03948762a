"""Redis: redis.conf as the redis service loads it, plus options on its command line."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from .finding import ERROR, WARNING, Hit, rule
from .paste import readable

LOOPBACK = ("127.0.0.1", "-127.0.0.1", "::1", "-::1", "localhost")


@dataclass(frozen=True)
class RedisOption:
    key: str
    args: list[str]
    file: str
    line: int | None
    from_env: str | None = None  # the variable a command-line value was expanded from


class RedisConfError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def read_conf(path: Path, rel: str) -> list[RedisOption]:
    options = []
    for number, raw in enumerate(readable(path, "redis").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            raise RedisConfError(number, f"unbalanced quotes ({exc})") from exc
        options.append(RedisOption(words[0].lower(), words[1:], rel, number))
    return options


def command_options(words: list[str], env: dict, file: str, line: int | None) -> list[RedisOption]:
    """`--key value…` after redis-server; `$VAR` values come from the container's environment."""
    options: list[RedisOption] = []
    for word in words:
        if word.startswith("--"):
            options.append(RedisOption(word[2:].lower(), [], file, line))
        elif options:
            var = word[2:-1] if word.startswith("${") else word[1:] if word.startswith("$") else None
            if var is not None and var in env:
                value = env[var]
                options[-1] = RedisOption(options[-1].key, options[-1].args + [value.text], value.file, value.line, var)
            else:
                options[-1] = RedisOption(options[-1].key, options[-1].args + [word], file, line)
    return options


@dataclass
class Redis:
    conf: list[RedisOption]  # from redis.conf, if it is loaded
    command: list[RedisOption]
    conf_rel: str | None
    conf_loaded: bool
    command_line: int | None

    def last(self, key: str) -> RedisOption | None:
        """The value in effect: command-line options come after the file's."""
        found = [o for o in self.conf + self.command if o.key == key]
        return found[-1] if found else None


@rule("redis-unparseable", ERROR)
def redis_unparseable(ctx):
    """Redis refuses to start with a config line it cannot read."""
    ctx.redis
    yield from ctx.parse_errors("redis")


@rule("redis-conf-not-loaded", WARNING)
def conf_not_loaded(ctx):
    """redis-server reads a config file only when its command names it."""
    redis = ctx.redis
    if redis and redis.conf_rel and not redis.conf_loaded:
        service = ctx.service(ctx.stack.services.redis)
        yield Hit(service.compose.rel, redis.command_line or service.line, f"{redis.conf_rel} is mounted but not loaded",
                  "redis-server starts with defaults: none of the file's settings apply.",
                  f"Start it as: redis-server {ctx.stack.paths.redis_conf}")


@rule("redis-bind-loopback", ERROR)
def bind_loopback(ctx):
    """Redis bound to 127.0.0.1 accepts connections only from inside its own container."""
    option = ctx.redis.last("bind") if ctx.redis else None
    if option and option.args and all(a in LOOPBACK for a in option.args):
        yield Hit(option.file, option.line, f"Redis binds only to {' '.join(option.args)}",
                  "web runs in another container and gets 'Connection refused'.",
                  "bind 0.0.0.0 (the redis network is internal, and a password is required).")


@rule("redis-no-password", ERROR)
def no_password(ctx):
    """Without requirepass, anything on Redis's networks can read the cache and rewrite the config."""
    redis = ctx.redis
    if redis is None:
        return
    option = redis.last("requirepass")
    if option is None or not option.args or not option.args[0]:
        service = ctx.service(ctx.stack.services.redis)
        yield Hit(service.compose.rel, redis.command_line or service.line, "Redis requires no password",
                  "anything that reaches it can read the cache, or use CONFIG SET to take over.",
                  '--requirepass "$REDIS_PASSWORD" from .env (as `djstack init` writes it).')


@rule("redis-password-mismatch", ERROR)
def password_mismatch(ctx):
    """web must send the password Redis requires, or every cache call fails (NOAUTH / WRONGPASS)."""
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


@rule("redis-hardcoded-password", WARNING)
def hardcoded_password(ctx):
    """A password written in redis.conf or the compose file is in git, and goes stale when `.env`
    changes."""
    redis = ctx.redis
    for option in (redis.conf + redis.command) if redis else []:
        if option.key == "requirepass" and option.args and option.from_env is None and option.args[0]:
            yield Hit(option.file, option.line, "the Redis password is written in the file",
                      "it is in git, and goes stale when REDIS_PASSWORD in .env changes.",
                      'Pass it from .env: --requirepass "$REDIS_PASSWORD" in the compose command.')
