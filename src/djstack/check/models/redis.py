"""Redis: redis.conf as the redis service loads it, plus options on its command line."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from .paste import readable


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
