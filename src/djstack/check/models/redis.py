"""Redis: redis.conf as the redis service loads it, plus options on its command line."""

from __future__ import annotations

import re
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
            # A whole word `$VAR`, or an ACL password `>$VAR`.
            match = re.fullmatch(r"(>?)\$(?:\{(\w+)\}|(\w+))", word)
            var = (match[2] or match[3]) if match else None
            if var is not None and var in env:
                value = env[var]
                options[-1] = RedisOption(options[-1].key, options[-1].args + [match[1] + value.text], value.file,
                                          value.line, var)
            else:
                options[-1] = RedisOption(options[-1].key, options[-1].args + [word], options[-1].file,
                                          options[-1].line, options[-1].from_env)
    return options


#: Commands that hand Redis itself over to whoever may run them, with their ACL categories (Redis's
#: command reference): a user allowed any of them is not confined to being a cache.
DANGEROUS: dict[str, frozenset[str]] = {
    **{name: frozenset({"admin", "slow", "dangerous"}) for name in ("config", "debug", "module", "acl",
                                                                      "shutdown", "replicaof")},
    "flushall": frozenset({"keyspace", "write", "slow", "dangerous"}),
}


@dataclass(frozen=True)
class AclUser:
    """A Redis user as the configuration leaves it (`requirepass`, then `user` lines, in order)."""

    name: str
    on: bool
    nopass: bool  # anyone may sign in as it without a password
    passwords: tuple[str, ...]
    option: RedisOption | None  # the line that last set it; None for Redis's own default user
    dangerous: frozenset[str] = frozenset(DANGEROUS)  # the DANGEROUS commands it may run


def allowed_after(allowed: set[str], rule: str) -> set[str]:
    """The DANGEROUS commands allowed after one ACL rule (rules on subcommands, `cmd|sub`, are left out:
    they never allow a whole command)."""
    if rule in ("allcommands", "+@all"):
        return set(DANGEROUS)
    if rule in ("nocommands", "-@all", "reset"):
        return set()
    sign, name = rule[:1], rule[1:].lower()
    if sign not in "+-" or not name:
        return allowed
    named = {c for c, cats in DANGEROUS.items() if name[1:] in cats} if name.startswith("@") else {name} & set(DANGEROUS)
    return allowed | named if sign == "+" else allowed - named


def apply_acl(user: AclUser, option: RedisOption) -> AclUser:
    """`user` after the rules of one `user NAME rule…` line."""
    on, nopass, passwords, allowed = user.on, user.nopass, list(user.passwords), set(user.dangerous)
    for rule in option.args[1:]:
        allowed = allowed_after(allowed, rule)
        if rule in ("on", "off"):
            on = rule == "on"
        elif rule.startswith(">"):
            passwords.append(rule[1:])
            nopass = False
        elif rule.startswith("<") and rule[1:] in passwords:
            passwords.remove(rule[1:])
        elif rule in ("nopass", "resetpass", "reset"):
            passwords, nopass = [], rule == "nopass"
            on = on and rule != "reset"
    return AclUser(user.name, on, nopass, tuple(passwords), option, frozenset(allowed))


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

    def user(self, name: str) -> AclUser | None:
        """Redis's user `name` (`default` exists unless its lines say otherwise); None if undefined."""
        user = AclUser(name, True, True, (), None) if name == "default" else None
        for option in self.conf + self.command:
            if option.key == "requirepass" and name == "default" and user is not None:
                password = option.args[0] if option.args else ""
                user = AclUser(name, user.on, not password, (password,) if password else (), option, user.dangerous)
            elif option.key == "user" and option.args and option.args[0] == name:
                user = apply_acl(user or AclUser(name, False, False, (), option, frozenset()), option)
        return user
