"""`<kind>-unparseable`: a file its program cannot read. One definition, one rule family: reading a
model records its files' parse errors (Context.parse_errors), and the rule reports each at its file
and line, with what stopping there breaks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..finding import ERROR, Hit
from ..registry import rule


@dataclass(frozen=True)
class Unreadable:
    kind: str  # the model whose parse errors are reported; the rule is `<kind>-unparseable`
    load: Callable  # reading the model is what records its parse errors
    message: str  # the finding's message; {message} is the parser's
    why: str
    fix: str
    doc: str  # the rule's documentation (registry.Doc.parse)


FAMILY = (
    Unreadable("env", lambda ctx: None, "not a KEY=VALUE line: {message:.50}",
               "Compose and djstack stop at a line they cannot read.",
               "Write it as KEY=VALUE, or start it with # to make it a comment.", """
        Finds: A line of `.env` (or of the .env beside the compose file) that is not KEY=VALUE.

        Breaks: Compose reads `.env` before anything else: a line it cannot read stops every command.

        Fix: Write it as KEY=VALUE, or start it with # to make it a comment.

        Example:
            this is not a variable
        """),
    Unreadable("compose", lambda ctx: ctx.compose, "{message}", "Compose cannot read the file: no command works.",
               "Fix the YAML here (indentation, quotes, colons).", """
        Finds: A compose file that is not valid YAML, or not a mapping of keys.

        Breaks: Compose cannot start a stack from a file it cannot read; unless it reads once its pasted
        characters are fixed (see the paste rules), nothing else can be checked.

        Fix: Fix the YAML (indentation, quotes, colons) at the line given.

        Example:
            services:
              web:
                restart: unless-stopped
               bad: indentation
        """),
    Unreadable("nginx", lambda ctx: ctx.nginx, "{message}", "nginx refuses to start with this config.",
               "Fix the syntax here; `nginx -t` reports the same.", """
        Finds: An nginx config file nginx's grammar rejects (a missing `;`, an unbalanced brace).

        Breaks: nginx refuses to start with a config it cannot parse (the image build runs `nginx -t`).

        Fix: Fix the syntax at the line given; `nginx -t` reports the same.

        Example:
            uwsgi_read_timeout 65s
            }
        """),
    Unreadable("settings", lambda ctx: ctx.settings, "Python cannot parse the settings: {message}",
               "Django cannot import the settings: web fails at start.", "Fix the Python syntax here.", """
        Finds: A settings module (the one web runs, or one it imports) Python cannot parse.

        Breaks: Django cannot import settings Python cannot parse; web fails at start.

        Fix: Fix the Python syntax at the line given.

        Example:
            DEBUG = = False
        """),
    Unreadable("mysql", lambda ctx: ctx.init_sql, "the SQL cannot be read: {message}",
               "the db image aborts its first start on a failing init script.", "Fix the SQL here.", """
        Finds: An init SQL script with an unterminated string or comment.

        Breaks: The db image runs each init script once; one it cannot run aborts the first start.

        Fix: Close the string or comment that starts at the line given.

        Example:
            SELECT 'unterminated;
        """),
    Unreadable("redis", lambda ctx: ctx.redis, "{message}", "Redis refuses to start with this config.",
               "Fix the quoting on this line.", """
        Finds: A redis.conf line with unbalanced quotes.

        Breaks: Redis refuses to start with a config line it cannot read.

        Fix: Fix the quoting on the line given.

        Example:
            requirepass "unbalanced
        """),
)


def _register(family: Unreadable) -> None:
    def unparseable(ctx):
        family.load(ctx)
        for error in ctx.parse_errors(family.kind):
            yield Hit(error.file, error.line, family.message.format(message=error.message)[:90], family.why, family.fix)

    unparseable.__doc__ = family.doc
    rule(f"{family.kind}-unparseable", ERROR, family.kind, (family.kind,))(unparseable)


for _family in FAMILY:
    _register(_family)
