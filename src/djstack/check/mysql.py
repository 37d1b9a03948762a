"""MySQL option files (compose/mysql/conf/*.cnf), init SQL (compose/mysql/init/*.sql) and the db
image, as the db service mounts and names them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..imagesets import IMAGE_SETS
from .finding import ERROR, WARNING, Hit, rule
from .paste import readable

#: The image's main option files: a file mounted over one of them replaces the image's settings
#: (and its `!includedir` of conf.d) instead of adding to them.
MAIN_CONFIGS = ("/etc/mysql/my.cnf", "/etc/my.cnf")
SERVER_SECTIONS = ("mysqld", "server", "mariadb", "mysqld_safe")
#: Server options MySQL removed, and the version that removed them.
REMOVED = {
    "default-authentication-plugin": (8, 4), "expire-logs-days": (8, 4), "skip-host-cache": (8, 4),
    "query-cache-size": (8, 0), "query-cache-type": (8, 0), "log-warnings": (8, 0),
    "innodb-file-format": (8, 0), "innodb-large-prefix": (8, 0),
}
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


# --- rules --------------------------------------------------------------------------------------


@rule("mysql-unparseable", ERROR)
def mysql_unparseable(ctx):
    """The db image runs each init script once; one it cannot run aborts the first start."""
    ctx.init_sql
    yield from ctx.parse_errors("mysql")


@rule("mysql-config-over-main", ERROR)
def config_over_main(ctx):
    """Mounting over the image's main option file throws away the image's settings and its
    `!includedir` of conf.d; an extra file in conf.d adds to them."""
    db = ctx.service(ctx.stack.services.db)
    for mount in db.mounts() if db else []:
        if mount.bind and mount.target in MAIN_CONFIGS:
            yield Hit(db.compose.rel, mount.line, f"a config is mounted over the image's {mount.target}",
                      "it replaces the image's own config and its include of conf.d.",
                      f"Mount it as an extra file: {ctx.stack.paths.mysql_conf}")


@rule("mysql-removed-option", ERROR)
def removed_option(ctx):
    """mysqld refuses to start on an option it no longer knows ("unknown variable")."""
    image = ctx.db_image
    version = image.version if image else LATEST_MYSQL
    for option in ctx.mysql_options:
        if option.section not in SERVER_SECTIONS or option.key not in REMOVED:
            continue
        gone = REMOVED[option.key]
        mariadb_unknown = image is not None and image.flavour == "mariadb" and option.key == "default-authentication-plugin"
        if mariadb_unknown or (version is not None and version >= gone):
            where = "MariaDB" if mariadb_unknown else f"MySQL {gone[0]}.{gone[1]}"
            yield Hit(option.file, option.line, f"{option.key} was removed ({where})",
                      "mysqld stops at start with 'unknown variable': the database never comes up.",
                      "Delete the line (utf8mb4 and caching_sha2_password need nothing here).")


@rule("mysql-native-password", ERROR)
def native_password(ctx):
    """MySQL 9 removed mysql_native_password, and an unpinned `mysql` image is 9.x now."""
    image = ctx.db_image
    version = image.version if image else LATEST_MYSQL
    if version is None or version < (9, 0):
        return
    for option in ctx.mysql_options:
        if option.section in SERVER_SECTIONS and "native-password" in f"{option.key} {option.value}".replace("_", "-").lower():
            if option.key == "default-authentication-plugin":
                continue  # reported as a removed option
            yield Hit(option.file, option.line, f"mysql_native_password on MySQL {_series(image)}",
                      "MySQL 9 removed the plugin: the server or the user logins fail.",
                      "Drop it: Django's mysqlclient speaks caching_sha2_password.")


def _series(image: DbImage | None) -> str:
    return f"{image.text} (9.x)" if image and not image.pinned else (image.tag if image else "9.x")


@rule("mysql-charset-utf8", ERROR)
def charset_utf8(ctx):
    """MySQL's `utf8` is utf8mb3, 3 bytes at most: emoji and other 4-byte characters fail to save."""
    for option in ctx.mysql_options:
        value = option.value.lower()
        charset = option.key.startswith("character-set") or option.key == "default-character-set"
        if (charset and value in ("utf8", "utf8mb3")) or (option.key.startswith("collation") and value.startswith(("utf8_", "utf8mb3_"))):
            yield Hit(option.file, option.line, f"{option.key} = {option.value}: use utf8mb4",
                      "utf8 is 3-byte utf8mb3: emoji fail with 'Incorrect string value'.",
                      f"{option.key} = {value.replace('utf8mb3', 'utf8').replace('utf8', 'utf8mb4')}")


@rule("mysql-bind-loopback", ERROR)
def bind_loopback(ctx):
    """A server bound to 127.0.0.1 accepts connections only from inside its own container."""
    for option in ctx.mysql_options:
        if option.section in SERVER_SECTIONS and option.key == "bind-address" and option.value in ("127.0.0.1", "localhost", "::1"):
            yield Hit(option.file, option.line, f"bind-address = {option.value}",
                      "web runs in another container and cannot connect.",
                      "Delete the line: the db network is internal, only web can reach it.")


@rule("mysql-image-unpinned", WARNING)
def image_unpinned(ctx):
    """An unpinned database image changes major version on the next pull, under a data folder the
    new server may refuse (MySQL cannot downgrade, and skips of series are unsupported)."""
    image = ctx.db_image
    if image and image.flavour in ("mysql", "mariadb") and not image.pinned:
        yield Hit(image.file, image.line, f"the db image {image.text!r} is not pinned to a series",
                  "a pull moves the data to a new major version (mysql is 9.x now) without asking.",
                  f"Pin a series, as djstack does: {IMAGE_SETS['official'].db} (or mariadb:<version>).")


def _init_users(ctx):
    for rel, statements in ctx.init_sql:
        for statement in statements:
            for found in user_passwords(statement):
                yield rel, found


@rule("mysql-init-grant-identified-by", ERROR)
def grant_identified_by(ctx):
    """MySQL 8 removed `GRANT … IDENTIFIED BY`: the init script fails and the first start aborts."""
    for rel, found in _init_users(ctx):
        if found.grant:
            yield Hit(rel, found.line, "GRANT … IDENTIFIED BY is a syntax error on MySQL 8+",
                      "the init script fails, so the db container's first start aborts.",
                      "Drop it: the image creates MYSQL_USER with rights on MYSQL_DATABASE.")


@rule("mysql-init-native-password", ERROR)
def init_native_password(ctx):
    """IDENTIFIED WITH mysql_native_password fails on MySQL 9 (removed) and on 8.4 unless the
    plugin is enabled."""
    image = ctx.db_image
    version = image.version if image else LATEST_MYSQL
    enabled = any(o.key == "mysql-native-password" and o.value.lower() in ("on", "1", "force") for o in ctx.mysql_options)
    if version is None or version < (8, 4) or (version < (9, 0) and enabled):
        return
    for rel, found in _init_users(ctx):
        if found.plugin == "mysql_native_password":
            yield Hit(rel, found.line, f"user {found.user!r} IDENTIFIED WITH mysql_native_password",
                      "the plugin is off on MySQL 8.4 and gone in 9: the init script fails.",
                      "Drop the WITH clause (or the statement: the image creates MYSQL_USER).")


def _env_password(ctx, user: str):
    env = ctx.db_env or {}
    if user == "root":
        return env.get("MYSQL_ROOT_PASSWORD"), "MYSQL_ROOT_PASSWORD"
    if env.get("MYSQL_USER") and env["MYSQL_USER"].text == user:
        return env.get("MYSQL_PASSWORD"), "MYSQL_PASSWORD"
    return None, None


@rule("mysql-init-password-mismatch", ERROR)
def init_password_mismatch(ctx):
    """An init script that sets a user's password to something other than `.env`'s locks web out."""
    for rel, found in _init_users(ctx):
        expected, var = _env_password(ctx, found.user)
        if expected is not None and found.password is not None and found.password != expected.text:
            yield Hit(rel, found.line, f"the init SQL gives {found.user!r} a password other than {var}",
                      "web logs in with .env's password: 1045 Access denied.",
                      "Delete the statement: the image sets the user's password from .env.")


@rule("mysql-init-hardcoded-password", WARNING)
def init_hardcoded_password(ctx):
    """A password written in init SQL is in git and silently goes stale when `.env` changes."""
    for rel, found in _init_users(ctx):
        expected, _ = _env_password(ctx, found.user)
        if found.password and (expected is None or found.password == expected.text):
            yield Hit(rel, found.line, f"the init SQL holds a password for {found.user!r}",
                      "it is in git, and it goes stale when .env's password changes.",
                      "Delete it: the image creates MYSQL_USER with MYSQL_PASSWORD from .env.")
