"""MySQL option files (compose/mysql/conf/*.cnf), init SQL (compose/mysql/init/*.sql) and the db
image, as the db service mounts and names them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .paste import readable

#: The image's main option files: a file mounted over one of them replaces the image's settings
#: (and its `!includedir` of conf.d) instead of adding to them.
MAIN_CONFIGS = ("/etc/mysql/my.cnf", "/etc/my.cnf")
SERVER_SECTIONS = ("mysqld", "server", "mariadb", "mysqld_safe")
LATEST_MYSQL = (9, 99)  # what an unpinned `mysql` image is now: an innovation release, 9.x


@dataclass(frozen=True)
class CnfOption:
    section: str
    key: str  # lowercase, '-' for '_'
    value: str
    file: str
    line: int


def read_cnf(path: Path, rel: str) -> list[CnfOption]:
    options = []
    section = ""
    for number, raw in enumerate(readable(path, "cnf").splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;!":
            continue
        if line.startswith("["):
            section = line.strip("[] \t").lower()
            continue
        key, _, value = line.partition("=")
        value = re.split(r"\s#", value, maxsplit=1)[0].strip().strip("\"'")
        options.append(CnfOption(section, key.split("#")[0].strip().lower().replace("_", "-"), value, rel, number))
    return options


@dataclass(frozen=True)
class DbImage:
    text: str
    file: str
    line: int | None

    @property
    def flavour(self) -> str:
        name = self.text.split("@")[0].rsplit("/", 1)[-1].split(":")[0].lower()
        return "mariadb" if "mariadb" in name else "mysql" if "mysql" in name else "other"

    @property
    def tag(self) -> str:
        last = self.text.split("@")[0].rsplit("/", 1)[-1]
        return last.split(":", 1)[1] if ":" in last else ""

    @property
    def pinned(self) -> bool:
        return bool(re.match(r"\d", self.tag)) or self.tag == "lts" or "@sha256:" in self.text

    @property
    def version(self) -> tuple[int, int] | None:
        """MySQL's major.minor; the latest series when unpinned."""
        if self.flavour != "mysql":
            return None
        if self.tag == "lts":
            return (8, 4)
        match = re.match(r"(\d+)(?:\.(\d+))?", self.tag)
        if not match:
            return LATEST_MYSQL
        return int(match.group(1)), int(match.group(2) or (99 if int(match.group(1)) >= 9 else 0))


# --- init SQL -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    text: str  # upper-cased word, or a string literal's content
    quoted: bool


@dataclass
class Statement:
    tokens: list[Token]
    line: int

    def words(self) -> list[str]:
        return [t.text if t.quoted else t.text.upper() for t in self.tokens]


class SqlError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def read_sql(text: str) -> list[Statement]:
    """Statements of a MySQL script: comments dropped, string literals kept apart from keywords."""
    statements: list[Statement] = []
    tokens: list[Token] = []
    start = line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("--", i) or c == "#":
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise SqlError(line, "unterminated /* comment")
            line += text.count("\n", i, end)
            i = end + 2
        elif c in "'\"`":
            j, value = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                value.append(text[j])
                j += 1
            if j >= n:
                raise SqlError(line, f"unterminated {c}quoted{c} text")
            if not tokens:
                start = line
            tokens.append(Token("".join(value), c != "`"))
            line += text.count("\n", i, j)
            i = j + 1
        elif c == ";":
            if tokens:
                statements.append(Statement(tokens, start))
            tokens = []
            i += 1
        else:
            match = re.compile(r"[A-Za-z0-9_$.]+|.").match(text, i)
            if not tokens:
                start = line
            tokens.append(Token(match.group(0), False))
            i = match.end()
    if tokens:
        statements.append(Statement(tokens, start))
    return statements


@dataclass(frozen=True)
class UserPassword:
    user: str
    plugin: str | None
    password: str | None
    line: int
    grant: bool  # GRANT … IDENTIFIED BY


def user_passwords(statement: Statement) -> list[UserPassword]:
    """Users given a password: CREATE/ALTER USER … IDENTIFIED [WITH plugin] BY, GRANT … IDENTIFIED BY,
    SET PASSWORD FOR u = '…'."""
    words = statement.words()
    if len(words) < 3:
        return []
    kind = words[0]
    if kind in ("CREATE", "ALTER") and words[1] == "USER":
        i = 2
        while i < len(words) and words[i] in ("IF", "NOT", "EXISTS"):
            i += 1
        user_at = i
    elif kind == "GRANT" and "TO" in words:
        user_at = words.index("TO") + 1
    elif kind == "SET" and words[1] == "PASSWORD" and "FOR" in words:
        user_at = words.index("FOR") + 1
        password = next((words[j] for j in range(user_at, len(words)) if statement.tokens[j].quoted and j > user_at + 2), None)
        return [UserPassword(words[user_at], None, password, statement.line, False)] if user_at < len(words) else []
    else:
        return []
    if user_at >= len(words) or "IDENTIFIED" not in words:
        return []
    k = words.index("IDENTIFIED")
    plugin = words[k + 2].lower() if k + 2 < len(words) and words[k + 1] == "WITH" else None
    password = None
    if "BY" in words[k:]:
        b = k + words[k:].index("BY") + 1
        if b < len(words) and words[b] == "PASSWORD":
            b += 1  # BY PASSWORD 'hash'
        password = words[b] if b < len(words) and statement.tokens[b].quoted else None
    return [UserPassword(words[user_at], plugin, password, statement.line, kind == "GRANT")]
