"""`.env`: its values with line numbers, and the rules about the secrets it holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..envfile import read_env
from ..errors import DjstackError
from ..model import MIN_SECRET_LENGTH, SECRET_KEYS
from .finding import ERROR, WARNING, Hit, rule

#: Passwords and users the tutorial and its copies use as samples: anyone can guess them.
SAMPLE_SECRETS = {
    "123456", "12345678", "password", "yourpassword", "your_password", "dbuser", "root", "secret",
    "changeme", "change-me", "admin", "mysql", "redis", "django", "test", "qwerty",
}


@dataclass
class DotEnv:
    """KEY=VALUE file as Compose reads it, with the line each key is on."""

    rel: str  # path relative to the checked folder
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    exists: bool = False
    error: tuple[int | None, str] | None = None  # (line, message) when the file cannot be read

    @classmethod
    def read(cls, path: Path, rel: str) -> DotEnv:
        env = cls(rel)
        if not path.is_file():
            return env
        env.exists = True
        try:
            env.values = read_env(path)
        except (DjstackError, UnicodeDecodeError) as exc:
            message = getattr(exc, "message", str(exc))
            line = _error_line(message, path)
            env.error = (line, message.rsplit(": ", 1)[-1] if line else message)
            env.values = {}
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, raw in enumerate(text.splitlines(), start=1):
            key = raw.split("=", 1)[0].strip().removeprefix("export ").strip()
            if "=" in raw and not raw.lstrip().startswith("#") and key in env.values:
                env.lines[key] = number
        return env

    def origin(self, key: str) -> tuple[str, int | None]:
        return self.rel, self.lines.get(key)


def _error_line(message: str, path: Path) -> int | None:
    """read_env says `PATH:LINE: what`; take LINE."""
    head = message.removeprefix(f"{path}:").split(":", 1)[0]
    return int(head) if head.isdigit() else None


@rule("env-unparseable", ERROR)
def env_unparseable(ctx):
    """Compose reads `.env` before anything else: a line it cannot read stops every command."""
    for env in ctx.env_files:
        if env.error:
            line, message = env.error
            yield Hit(env.rel, line, f"not a KEY=VALUE line: {message[:50]}",
                      "Compose and djstack stop at a line they cannot read.",
                      "Write it as KEY=VALUE, or start it with # to make it a comment.")


def _secrets(ctx):
    env = ctx.env
    for key in SECRET_KEYS:
        if key in env.values:
            yield key, env.values[key], env.lines.get(key)


@rule("env-secret-missing", ERROR)
def secret_missing(ctx):
    """Every secret of the stack comes from `.env`; without it Compose refuses to start (`:?`), or
    the value ends up typed into a settings or config file."""
    env = ctx.env
    if env.error:
        return
    for key in SECRET_KEYS:
        if not env.values.get(key):
            yield Hit(env.rel, env.lines.get(key), f"{key} is missing or empty",
                      "the stack's files read it from .env; without it they fail or hard-code one.",
                      f"Add {key}= with {MIN_SECRET_LENGTH}+ random characters (`djstack init` does).")


@rule("env-secret-sample", ERROR)
def secret_sample(ctx):
    """A sample password from a tutorial is the first one an attacker tries."""
    for key, value, line in _secrets(ctx):
        if value.lower() in SAMPLE_SECRETS:
            yield Hit(ctx.env.rel, line, f"{key} is the sample value {value!r}",
                      "tutorial sample passwords are public; they are the first ones tried.",
                      f"Replace it with {MIN_SECRET_LENGTH}+ random characters.")


@rule("env-secret-short", WARNING)
def secret_short(ctx):
    """Short secrets can be guessed by brute force; the stack's are at least MIN_SECRET_LENGTH long."""
    for key, value, line in _secrets(ctx):
        if value and value.lower() not in SAMPLE_SECRETS and len(value) < MIN_SECRET_LENGTH:
            yield Hit(ctx.env.rel, line, f"{key} has {len(value)} characters, fewer than {MIN_SECRET_LENGTH}",
                      "short secrets fall to brute force.",
                      f"Use {MIN_SECRET_LENGTH}+ random characters (letters, digits, - and _).")


@rule("env-invalid-value", ERROR)
def invalid_value(ctx):
    """djstack's commands stop on a `.env` value the model rejects (an unknown image source, a port
    that is not a number, a host name Django cannot match)."""
    for key, message in ctx.invalid_env:
        yield Hit(ctx.env.rel, ctx.env.lines.get(key), message[:90],
                  "every djstack command stops on it.", "Correct the value (see .env.example).")
