"""Rules on `.env`: the secrets it holds and the values the model rejects."""

from __future__ import annotations

from ...model import MIN_SECRET_LENGTH, SECRET_KEYS
from ..finding import ERROR, WARNING, Hit
from ..registry import rule

#: Passwords and users the tutorial and its copies use as samples: anyone can guess them.
SAMPLE_SECRETS = {
    "123456", "12345678", "password", "yourpassword", "your_password", "dbuser", "root", "secret",
    "changeme", "change-me", "admin", "mysql", "redis", "django", "test", "qwerty",
}


def _secrets(ctx):
    env = ctx.env
    for key in SECRET_KEYS:
        if key in env.values:
            yield key, env.values[key], env.lines.get(key)


@rule("env-secret-missing", ERROR, "env", ("env",),
      finds="A secret of the stack (DJANGO_SECRET_KEY, MYSQL_PASSWORD, REDIS_PASSWORD, …) missing or empty in `.env`.",
      breaks="Every secret of the stack comes from `.env`; without it Compose refuses to start (`:?`), or "
             "the value ends up typed into a settings or config file.",
      fix=f"Add the key with {MIN_SECRET_LENGTH}+ random characters (`djstack init` does).",
      example="REDIS_PASSWORD=")
def secret_missing(ctx):
    env = ctx.env
    if env.error:
        return
    for key in SECRET_KEYS:
        if not env.values.get(key):
            yield Hit(env.rel, env.lines.get(key), f"{key} is missing or empty",
                      "the stack's files read it from .env; without it they fail or hard-code one.",
                      f"Add {key}= with {MIN_SECRET_LENGTH}+ random characters (`djstack init` does).")


@rule("env-secret-sample", ERROR, "env", ("env",),
      finds="A secret in `.env` that is a tutorial's sample value (123456, password, yourpassword, …).",
      breaks="A sample password from a tutorial is the first one an attacker tries.",
      fix=f"Replace it with {MIN_SECRET_LENGTH}+ random characters.",
      example="MYSQL_ROOT_PASSWORD=123456")
def secret_sample(ctx):
    for key, value, line in _secrets(ctx):
        if value.lower() in SAMPLE_SECRETS:
            yield Hit(ctx.env.rel, line, f"{key} is the sample value {value!r}",
                      "tutorial sample passwords are public; they are the first ones tried.",
                      f"Replace it with {MIN_SECRET_LENGTH}+ random characters.")


@rule("env-secret-short", WARNING, "env", ("env",),
      finds=f"A secret in `.env` shorter than {MIN_SECRET_LENGTH} characters.",
      breaks="Short secrets can be guessed by brute force; the stack's are at least "
             f"{MIN_SECRET_LENGTH} characters long.",
      fix=f"Use {MIN_SECRET_LENGTH}+ random characters (letters, digits, - and _).",
      example="MYSQL_PASSWORD=Sh0rt-but-random-x9")
def secret_short(ctx):
    for key, value, line in _secrets(ctx):
        if value and value.lower() not in SAMPLE_SECRETS and len(value) < MIN_SECRET_LENGTH:
            yield Hit(ctx.env.rel, line, f"{key} has {len(value)} characters, fewer than {MIN_SECRET_LENGTH}",
                      "short secrets fall to brute force.",
                      f"Use {MIN_SECRET_LENGTH}+ random characters (letters, digits, - and _).")


@rule("env-invalid-value", ERROR, "env", ("env",),
      finds="A `.env` value the model rejects (an unknown image source, a port that is not a number, a bad host name).",
      breaks="djstack's commands stop on a `.env` value the model rejects.",
      fix="Correct the value (see .env.example).",
      example="HTTP_PORT=eighty")
def invalid_value(ctx):
    for key, message in ctx.invalid_env:
        yield Hit(ctx.env.rel, ctx.env.lines.get(key), message[:90],
                  "every djstack command stops on it.", "Correct the value (see .env.example).")
