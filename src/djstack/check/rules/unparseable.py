"""`<kind>-unparseable`: a file its program cannot read. One definition per file kind, one rule
family: reading the model records the file's parse errors (Context.parse_errors), and the rule
reports each at its file and line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..finding import ERROR, Hit
from ..registry import rule


@dataclass(frozen=True)
class Unreadable:
    kind: str  # the model whose parse errors are reported; the rule is `<kind>-unparseable`
    reads: tuple[str, ...]
    load: Callable  # reading the model is what records its parse errors
    message: str  # the finding's message; {message} is the parser's
    why: str
    fix: str
    finds: str
    breaks: str
    example: str


FAMILY = (
    Unreadable("env", ("env",), lambda ctx: None, "not a KEY=VALUE line: {message:.50}",
               "Compose and djstack stop at a line they cannot read.",
               "Write it as KEY=VALUE, or start it with # to make it a comment.",
               finds="A line of `.env` (or the .env beside the compose file) that is not KEY=VALUE.",
               breaks="Compose reads `.env` before anything else: a line it cannot read stops every command.",
               example="this is not a variable"),
    Unreadable("compose", ("compose",), lambda ctx: ctx.compose, "{message}",
               "Compose cannot read the file: no command works.", "Fix the YAML here (indentation, quotes, colons).",
               finds="A compose file that is not valid YAML, or not a mapping of keys.",
               breaks="Compose cannot start a stack from a file it cannot read; unless it reads once its "
                      "pasted characters are fixed (see the paste rules), nothing else can be checked.",
               example="services:\n  web:\n    restart: unless-stopped\n   bad: indentation"),
    Unreadable("nginx", ("nginx",), lambda ctx: ctx.nginx, "{message}",
               "nginx refuses to start with this config.", "Fix the syntax here; `nginx -t` reports the same.",
               finds="An nginx config file nginx's grammar rejects (a missing `;`, an unbalanced brace).",
               breaks="nginx refuses to start with a config it cannot parse (the image build runs `nginx -t`).",
               example="uwsgi_read_timeout 65s\n}"),
    Unreadable("settings", ("settings",), lambda ctx: ctx.settings, "Python cannot parse the settings: {message}",
               "Django cannot import the settings: web fails at start.", "Fix the Python syntax here.",
               finds="A settings module (the one web runs, or one it imports) Python cannot parse.",
               breaks="Django cannot import settings Python cannot parse; web fails at start.",
               example="DEBUG = = False"),
    Unreadable("mysql", ("mysql",), lambda ctx: ctx.init_sql, "the SQL cannot be read: {message}",
               "the db image aborts its first start on a failing init script.", "Fix the SQL here.",
               finds="An init SQL script with an unterminated string or comment.",
               breaks="The db image runs each init script once; one it cannot run aborts the first start.",
               example="SELECT 'unterminated;"),
    Unreadable("redis", ("redis",), lambda ctx: ctx.redis, "{message}",
               "Redis refuses to start with this config.", "Fix the quoting on this line.",
               finds="A redis.conf line with unbalanced quotes.",
               breaks="Redis refuses to start with a config line it cannot read.",
               example='requirepass "unbalanced'),
)


def _register(family: Unreadable) -> None:
    def unparseable(ctx):
        family.load(ctx)
        for error in ctx.parse_errors(family.kind):
            yield Hit(error.file, error.line, family.message.format(message=error.message)[:90], family.why, family.fix)

    rule(f"{family.kind}-unparseable", ERROR, family.kind, family.reads, finds=family.finds,
         breaks=family.breaks, fix=family.fix, example=family.example)(unparseable)


for _family in FAMILY:
    _register(_family)
