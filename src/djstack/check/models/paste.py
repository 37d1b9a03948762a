"""Characters that arrive with copy and paste and break a file while looking right.

Tutorials, chat apps, word processors and Chinese or Japanese input methods put characters into
text that look like the ASCII ones a config file needs and are not: non-breaking and other Unicode
spaces, zero-width characters, full-width punctuation (`：` `＝` `，` `（`), typographic quotes (`“ ”`
`‘ ’`), a byte order mark at the start, tabs where YAML wants spaces. Each file is scanned with a
small lexer for its kind, so only occurrences that break the file or silently change a value are
reported. The rule per kind:

| kind | comments (never reported) | inside quotes | byte order mark at the start |
|---|---|---|---|
| python (settings, manage.py) | `#` | data: nothing reported | accepted (Python skips it) |
| yaml (compose file) | `#` at line start or after a space | invisible characters reported | accepted |
| env (.env) | `#` at line start or after a space | invisible characters reported | reported |
| nginx | `#` starting a word | invisible characters reported | reported |
| ini (uwsgi.ini) | `;` `#` at line start | (uWSGI has no quoting) | reported |
| cnf (my.cnf) | `;` `#` at line start, `#` after a space | invisible characters reported | reported |
| redis (redis.conf) | `#` at line start | invisible characters reported | reported |
| shell (entrypoint) | `#` starting a word | invisible characters reported | reported (it hides `#!`) |
| dockerfile | `#` starting a word | invisible characters reported | accepted (BuildKit skips it) |
| sql (init scripts) | `--`, `#`, `/* */` | invisible characters reported | accepted |

"Invisible" is the spaces and zero-width characters: inside quotes they still become part of the
name, path, password or command the quotes hold, and nobody means them there. Full-width
punctuation and typographic quotes inside quotes are text (a Chinese page title, "it’s") and are
left alone. Python's strings are data too, whatever they hold: a rule that reads a value shows it
with its escapes (`'db\\xa0'`). Everywhere else (the code: keys, directives, operators, unquoted
values) every such character is reported. Tabs are reported only in the compose file's indentation,
which YAML forbids.

A typographic quote that stands where a quote belongs is reported first, and the rest of the line is
then read as if it were the ASCII quote, so `“他说：你好”` in Python code is two quote findings, not
a colon finding as well.

`cleaned(text, kind)` is the text with every reported character replaced by its fix (and a leading
byte order mark dropped): what the readers parse, so the defects behind a paste error are found in
the same run. Replacements never add or remove a line, so line numbers stay those of the file.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path


SPACE = "paste-non-ascii-space"
ZERO_WIDTH = "paste-zero-width-character"
FULL_WIDTH = "paste-full-width-punctuation"
QUOTE = "paste-typographic-quote"
BOM = "paste-byte-order-mark"
TAB = "compose-tab-indentation"

BOM_CHAR = "\ufeff"

#: Unicode spaces that are not U+0020, and what to type instead.
_SPACES = {"\u00a0", "\u1680", "\u202f", "\u205f", "\u3000", *map(chr, range(0x2000, 0x200B))}
_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", BOM_CHAR}
_QUOTES = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u2018": "'", "\u2019": "'",
           "\u201a": "'", "\u2032": "'"}
#: Full-width forms of ASCII punctuation (U+FF01–U+FF5E are ASCII + 0xFEE0; letters and digits are
#: left out: Python folds them into ASCII identifiers, and they are rarely typed by mistake), and
#: the ideographic comma and full stop an input method types for `,` and `.`.
_FULL_WIDTH = {chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum()}
_FULL_WIDTH.update({"\u3001": ",", "\u3002": "."})


@dataclass(frozen=True)
class Pasted:
    """What a pasted character is, and what to type instead."""

    char: str
    rule: str  # the rule id that reports it
    fix: str  # ASCII replacement; "" means delete it

    @property
    def code(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        return "TAB" if self.char == "\t" else unicodedata.name(self.char, self.code)

    @property
    def invisible(self) -> bool:
        return self.rule in (SPACE, ZERO_WIDTH)


def identify(char: str) -> Pasted | None:
    if char in _SPACES:
        return Pasted(char, SPACE, " ")
    if char in _ZERO_WIDTH:
        return Pasted(char, ZERO_WIDTH, "")
    if char in _QUOTES:
        return Pasted(char, QUOTE, _QUOTES[char])
    if char in _FULL_WIDTH:
        fix = _FULL_WIDTH[char]
        return Pasted(char, QUOTE if fix in "'\"" else FULL_WIDTH, fix)
    return None


@dataclass(frozen=True)
class Syntax:
    """Just enough of a file kind's lexical rules to tell code from comments and quoted text."""

    line_comments: str = ""  # start a comment as the first non-blank character of a line
    word_comments: str = ""  # start a comment at line start or after whitespace / `after`
    any_comments: str = ""  # start a comment anywhere in code
    quotes: str = ""
    escaping: str = ""  # quotes inside which a backslash escapes the next character
    quote_at: str = "any"  # "any", "word" (after whitespace / `after`), "scalar" (YAML)
    after: str = ""  # characters that, like whitespace, may precede a word comment or a quote
    triple: bool = False  # Python's ''' and \"\"\"
    multiline: bool = True  # quoted text may span lines
    sql: bool = False  # `-- ` and `/* */` comments
    quoted_data: bool = False  # nothing inside quotes is reported (Python)
    bom_ok: bool = False  # the program reading the file skips a leading byte order mark
    tabs: bool = False  # tabs in indentation are reported (YAML)


SYNTAX = {
    "python": Syntax(any_comments="#", quotes="'\"", escaping="'\"", triple=True, multiline=False,
                     quoted_data=True, bom_ok=True),
    "yaml": Syntax(word_comments="#", quotes="'\"", escaping='"', quote_at="scalar", bom_ok=True, tabs=True),
    "env": Syntax(word_comments="#", quotes="'\"", escaping='"', quote_at="word", after="="),
    "nginx": Syntax(word_comments="#", quotes="'\"", escaping="'\"", quote_at="word", after=";{}"),
    "ini": Syntax(line_comments=";#"),
    "cnf": Syntax(line_comments=";#", word_comments="#", quotes="'\"", escaping="'\"", quote_at="word",
                  after="=", multiline=False),
    "redis": Syntax(line_comments="#", quotes="'\"", escaping="'\"", quote_at="word", multiline=False),
    "shell": Syntax(word_comments="#", quotes="'\"", escaping='"', after=";&|()"),
    "dockerfile": Syntax(word_comments="#", quotes="'\"", escaping='"', after=";&|()[,", bom_ok=True),
    "sql": Syntax(any_comments="#", quotes="'\"`", escaping="'\"", sql=True, bom_ok=True),
}

CODE, QUOTED, COMMENT = "code", "quoted", "comment"


def regions(text: str, syntax: Syntax) -> list[str]:
    """For each character of `text`: CODE, QUOTED (quote marks included) or COMMENT."""
    out = [CODE] * len(text)
    i, n = 0, len(text)
    line_start = True  # nothing but blanks so far on this line

    def mark(start: int, end: int, what: str) -> None:
        out[start:end] = [what] * (end - start)

    while i < n:
        c = text[i]
        if c == "\n":
            line_start, i = True, i + 1
            continue
        prev = text[i - 1] if i else "\n"
        after_blank = line_start or prev in " \t\n" or prev in syntax.after
        if syntax.sql and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            mark(i, end, COMMENT)
            i, line_start = end, False
            continue
        if (
            (c in syntax.line_comments and line_start)
            or (c in syntax.word_comments and after_blank)
            or c in syntax.any_comments
            or (syntax.sql and text.startswith("--", i) and text[i + 2 : i + 3] in ("", " ", "\t", "\n"))
        ):
            end = text.find("\n", i)
            end = n if end < 0 else end
            mark(i, end, COMMENT)
            i = end
            continue
        if c in syntax.quotes and _quote_may_open(text, i, syntax, after_blank):
            end = _quote_end(text, i, syntax)
            mark(i, end, QUOTED)
            i, line_start = end, False
            continue
        if c not in " \t\r":
            line_start = False
        i += 1
    return out


def _quote_may_open(text: str, i: int, syntax: Syntax, after_blank: bool) -> bool:
    if syntax.quote_at == "word":
        return after_blank
    if syntax.quote_at == "scalar":  # YAML quotes only a whole scalar: after `key: `, `- `, `[`, `,`…
        before = text[text.rfind("\n", 0, i) + 1 : i].rstrip(" \t")
        return before == "" or before[-1] in ":-[{,?"
    return True


def _quote_end(text: str, i: int, syntax: Syntax) -> int:
    """The index just past the quoted text opened at `i` (the end of the line or file if unclosed)."""
    c, n = text[i], len(text)
    close = c * 3 if syntax.triple and text.startswith(c * 3, i) else c
    j = i + len(close)
    while j < n:
        if text[j] == "\\" and c in syntax.escaping:
            j += 2
            continue
        if text.startswith(close, j):
            return j + len(close)
        if text[j] == "\n" and len(close) == 1 and not syntax.multiline:
            return j
        j += 1
    return n


@dataclass(frozen=True)
class Occurrence:
    line: int  # 1-based
    column: int  # 1-based, in characters
    index: int  # in the text
    what: Pasted
    quoted: bool  # inside quotes (only invisible characters are reported there)


def scan(text: str, kind: str) -> list[Occurrence]:
    """Every pasted character in `text` that breaks a file of `kind` or silently changes a value."""
    syntax = SYNTAX[kind]
    found: list[Occurrence] = []
    body = text
    if text.startswith(BOM_CHAR):
        if not syntax.bom_ok:
            found.append(Occurrence(1, 1, 0, Pasted(BOM_CHAR, BOM, ""), False))
        body = " " + text[1:]  # keeps the indexes; a BOM is no other finding
    candidates = {i: p for i, ch in enumerate(body) if ch > "\x7f" and (p := identify(ch))}
    # Read invisible characters as spaces while telling code from quotes and comments.
    view = list(body)
    for i, p in candidates.items():
        if p.invisible:
            view[i] = " "
    first = regions("".join(view), syntax)
    # A typographic quote in code stands for an ASCII quote: read it as one from there on.
    quotes = {i for i, p in candidates.items() if p.fix in syntax.quotes and p.fix and first[i] == CODE}
    for i in quotes:
        view[i] = candidates[i].fix
    second = regions("".join(view), syntax) if quotes else first
    starts = _line_starts(text)
    for i, p in sorted(candidates.items()):
        if i in quotes:
            quoted = False
        elif p.fix in syntax.quotes and p.fix:
            continue  # a quote mark inside quotes or a comment is text
        else:
            where = second[i]
            if where == COMMENT or (where == QUOTED and (syntax.quoted_data or not p.invisible)):
                continue
            quoted = where == QUOTED
        line = _line_of(starts, i)
        found.append(Occurrence(line, i - starts[line - 1] + 1, i, p, quoted))
    if syntax.tabs:
        found += _indent_tabs(text, second, starts)
    return sorted(found, key=lambda o: o.index)


def _indent_tabs(text: str, where: list[str], starts: list[int]) -> list[Occurrence]:
    found = []
    for number, start in enumerate(starts, start=1):
        j = start
        while j < len(text) and text[j] in " \t":
            if text[j] == "\t" and where[j] == CODE:
                found.append(Occurrence(number, j - start + 1, j, Pasted("\t", TAB, " "), False))
            j += 1
    return found


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts += [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    return starts


def _line_of(starts: list[int], index: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= index:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def cleaned(text: str, kind: str) -> str:
    """`text` with every reported character replaced by its fix; tabs are left (their width is
    anyone's guess), and a leading byte order mark is dropped."""
    chars = list(text)
    for o in scan(text, kind):
        if o.what.rule != TAB:
            chars[o.index] = o.what.fix
    if chars and chars[0] == BOM_CHAR:
        chars[0] = ""
    return "".join(chars)


def readable(path: Path, kind: str, errors: str = "replace") -> str:
    """A file's text as its readers should parse it: with the pasted characters fixed."""
    return cleaned(path.read_text(encoding="utf-8", errors=errors), kind)
