"""Rules on `.env`: the secrets it holds and the values the model rejects."""

from __future__ import annotations

from ...model import MIN_SECRET_LENGTH
from ..finding import ERROR, WARNING, Hit
from ..registry import rule

#: Passwords and users the tutorial and its copies use as samples: anyone can guess them.
SAMPLE_SECRETS = {
    "123456", "12345678", "password", "yourpassword", "your_password", "dbuser", "root", "secret",
    "changeme", "change-me", "admin", "mysql", "redis", "django", "test", "qwerty",
}


def _secrets(ctx):
    env = ctx.env
    for key in ctx.stack.secret_keys:  # the stack's: with Celery, BROKER_PASSWORD too
        if key in env.values:
            yield key, env.values[key], env.lines.get(key)


@rule("env-secret-missing", ERROR, "env", ("env",))
def secret_missing(ctx):
    """Finds: A secret of the stack (DJANGO_SECRET_KEY, MYSQL_PASSWORD, REDIS_PASSWORD, with Celery
    BROKER_PASSWORD, …) missing or empty in `.env`.

    Breaks: Every secret of the stack comes from `.env`; without it Compose refuses to start (`:?`),
    or the value ends up typed into a settings or config file.

    Fix: Add the key with 32 or more random characters (`djstack init` does).

    Example:
        REDIS_PASSWORD=
    """
    env = ctx.env
    if env.error:
        return
    for key in ctx.stack.secret_keys:  # the stack's: with Celery, BROKER_PASSWORD too
        if not env.values.get(key):
            yield Hit(env.rel, env.lines.get(key), f"{key} is missing or empty",
                      "the stack's files read it from .env; without it they fail or hard-code one.",
                      f"Add {key}= with {MIN_SECRET_LENGTH}+ random characters (`djstack init` does).")


@rule("env-secret-sample", ERROR, "env", ("env",))
def secret_sample(ctx):
    """Finds: A secret in `.env` that is a tutorial's sample value (123456, password, yourpassword, …).

    Breaks: A sample password from a tutorial is the first one an attacker tries.

    Fix: Replace it with 32 or more random characters.

    Example:
        MYSQL_ROOT_PASSWORD=123456
    """
    for key, value, line in _secrets(ctx):
        if value.lower() in SAMPLE_SECRETS:
            yield Hit(ctx.env.rel, line, f"{key} is the sample value {value!r}",
                      "tutorial sample passwords are public; they are the first ones tried.",
                      f"Replace it with {MIN_SECRET_LENGTH}+ random characters.")


@rule("env-secret-short", WARNING, "env", ("env",))
def secret_short(ctx):
    """Finds: A secret in `.env` shorter than 32 characters (the model's MIN_SECRET_LENGTH).

    Breaks: Short secrets can be guessed by brute force; the stack's are at least 32 characters
    long.

    Fix: Use 32 or more random characters (letters, digits, - and _).

    Example:
        MYSQL_PASSWORD=Sh0rt-but-random-x9
    """
    for key, value, line in _secrets(ctx):
        if value and value.lower() not in SAMPLE_SECRETS and len(value) < MIN_SECRET_LENGTH:
            yield Hit(ctx.env.rel, line, f"{key} has {len(value)} characters, fewer than {MIN_SECRET_LENGTH}",
                      "short secrets fall to brute force.",
                      f"Use {MIN_SECRET_LENGTH}+ random characters (letters, digits, - and _).")


@rule("env-invalid-value", ERROR, "env", ("env",))
def invalid_value(ctx):
    """Finds: A `.env` value the model rejects (an unknown image source, a port that is not a number, a
    bad host name).

    Breaks: djstack's commands stop on a `.env` value the model rejects.

    Fix: Correct the value (see .env.example).

    Example:
        HTTP_PORT=eighty
    """
    for key, message in ctx.invalid_env:
        yield Hit(ctx.env.rel, ctx.env.lines.get(key), message[:90],
                  "every djstack command stops on it.", "Correct the value (see .env.example).")
