"""Rules on characters that arrive with copy and paste (see models/paste.py), in every file the
other rules read: one finding per occurrence, at its line and column."""

from __future__ import annotations

from ..finding import ERROR, Hit
from ..models.paste import BOM, FULL_WIDTH, QUOTE, SPACE, TAB, ZERO_WIDTH
from ..registry import rule

#: What a pasted character does where it is reported, by file kind.
WHY = {
    "python": "Python cannot parse it outside strings and comments: the module does not import.",
    "yaml": "YAML reads it as text, not as a separator: keys and values change or do not parse.",
    "env": "it becomes part of the name or value: Compose and the settings read something else.",
    "nginx": "nginx reads it as part of a word: an unknown directive or a wrong value.",
    "ini": "uWSGI reads it as part of the option or its value: unknown option, or a wrong value.",
    "cnf": "MySQL reads it as part of the option: an unknown variable stops the server.",
    "redis": "Redis reads it as part of a word: a bad directive or a wrong value stops Redis.",
    "shell": "the shell does not split words on it: the command or its arguments are wrong.",
    "dockerfile": "Docker reads it as part of the instruction or its arguments: the build breaks.",
    "sql": "MySQL does not read it as a space or punctuation: the statement is a syntax error.",
}
QUOTED_WHY = "inside quotes it is part of the value: a name, path, password or command that differs."
BOM_WHY = {
    "env": "it is read as part of the first name: that line is not KEY=VALUE for djstack.",
    "nginx": "nginx reads it as part of the first directive: unknown directive, nginx stops.",
    "ini": "uWSGI does not see the first line's [section]: the options under it are ignored.",
    "cnf": "MySQL: 'Found option without preceding group'; the server does not start.",
    "redis": "Redis reads it as part of the first line: bad directive, Redis does not start.",
    "shell": "it hides the #! line: the kernel refuses to run the script (exec format error).",
}


def _hits(ctx, rule_id: str):
    for rel, kind, o in ctx.pasted:
        if o.what.rule != rule_id:
            continue
        p = o.what
        if rule_id == SPACE:
            message, fix = f"{p.name} ({p.code}) instead of a space", "Type an ASCII space instead."
        elif rule_id == ZERO_WIDTH:
            message, fix = f"invisible {p.name} ({p.code})", "Delete it (retype the characters around it)."
        elif rule_id in (FULL_WIDTH, QUOTE):
            message = f"{p.char} is {p.name} ({p.code}), not {p.fix}"
            fix = f"Type {p.fix} instead (ASCII: an English / half-width keyboard layout)."
        yield Hit(rel, o.line, message, QUOTED_WHY if o.quoted else WHY[kind], fix, o.column)


@rule(SPACE, ERROR, "paste", ("files",))
def non_ascii_space(ctx):
    """Finds: A non-breaking or other Unicode space outside comments (and, invisible, inside quotes).

    Breaks: A non-breaking space (U+00A0, U+202F, U+2007) or another Unicode space looks like a
    space; to Python, YAML, nginx and the shell it is a character like a letter, so code that holds
    one does not parse, or a name or value silently gains it.

    Fix: Type an ASCII space instead.

    Example:
        DEBUG =\u00a0False   # U+00A0 NO-BREAK SPACE
    """
    yield from _hits(ctx, SPACE)


@rule(ZERO_WIDTH, ERROR, "paste", ("files",))
def zero_width(ctx):
    """Finds: A zero-width character (U+200B/C/D, U+2060, U+00AD, U+FEFF inside a file).

    Breaks: Zero-width characters (U+200B/C/D, U+2060, U+00AD, U+FEFF inside a file) are invisible
    and still part of the text: a name, a value or a line of code that holds one is not what it
    shows.

    Fix: Delete it (retype the characters around it).

    Example:
        DJANGO_SETTINGS_MODULE: mysite.settings\u200b
    """
    yield from _hits(ctx, ZERO_WIDTH)


@rule(FULL_WIDTH, ERROR, "paste", ("files",))
def full_width(ctx):
    """Finds: Full-width punctuation (\uff1a＝，（）；) where code expects ASCII.

    Breaks: Full-width punctuation (`\uff1a` `＝` `，` `（` `）` `；`), typed by a Chinese or Japanese input
    method, is not the ASCII punctuation code and config files are made of.

    Fix: Type the ASCII character instead (an English / half-width keyboard layout).

    Example:
        restart\uff1a unless-stopped
    """
    yield from _hits(ctx, FULL_WIDTH)


@rule(QUOTE, ERROR, "paste", ("files",))
def typographic_quote(ctx):
    """Finds: A typographic quote (\u201c \u201d ‘ ’) where code expects an ASCII quote.

    Breaks: Typographic quotes (`\u201c \u201d` `‘ ’`, from word processors, blogs and chat apps) do not
    quote: where code expects an ASCII quote, a string does not start or does not end.

    Fix: Type the ASCII quote instead.

    Example:
        exec \u201c$@\u201d
    """
    yield from _hits(ctx, QUOTE)


@rule(BOM, ERROR, "paste", ("files",))
def byte_order_mark(ctx):
    """Finds: A byte order mark at the start of a file whose reader does not skip it.

    Breaks: A byte order mark (U+FEFF) at the start of a file, written by some Windows editors, is
    read as part of the first line by nginx, Redis, MySQL, uWSGI, the shell's #! and djstack's .env
    reader (Python, YAML and Dockerfiles skip it).

    Fix: Save it as UTF-8 without BOM.

    Example:
        \ufeff#!/bin/sh
    """
    for rel, kind, o in ctx.pasted:
        if o.what.rule == BOM:
            yield Hit(rel, o.line, "the file starts with a byte order mark (U+FEFF)", BOM_WHY[kind],
                      "Save it as UTF-8 without BOM (or delete the invisible first character).", o.column)


@rule(TAB, ERROR, "compose", ("files",))
def tab_indentation(ctx):
    """Finds: A tab in the indentation of the compose file.

    Breaks: YAML forbids tabs in indentation: Compose cannot read a compose file indented with one.

    Fix: Indent with spaces only.

    Example:
          \trestart: unless-stopped
    """
    for rel, kind, o in ctx.pasted:
        if o.what.rule == TAB:
            yield Hit(rel, o.line, "a tab in the indentation", "YAML forbids tabs in indentation: Compose cannot read the file.",
                      "Indent with spaces only, as many as the lines around it.", o.column)
