"""Rules on the database: MySQL option files, init SQL and the db image."""

from __future__ import annotations

from ...imagesets import IMAGE_SETS
from ..finding import ERROR, WARNING, Hit
from ..models.mysql import LATEST_MYSQL, MAIN_CONFIGS, SERVER_SECTIONS, DbImage, user_passwords
from ..registry import rule

#: Server options MySQL removed, and the version that removed them.
REMOVED = {
    "default-authentication-plugin": (8, 4), "expire-logs-days": (8, 4), "skip-host-cache": (8, 4),
    "query-cache-size": (8, 0), "query-cache-type": (8, 0), "log-warnings": (8, 0),
    "innodb-file-format": (8, 0), "innodb-large-prefix": (8, 0),
}


@rule("mysql-config-over-main", ERROR, "mysql", ('compose',))
def config_over_main(ctx):
    """Finds: A config file bind-mounted over the image's main option file (/etc/mysql/my.cnf,
    /etc/my.cnf).

    Breaks: Mounting over the image's main option file throws away the image's settings and its
    `!includedir` of conf.d; an extra file in conf.d adds to them.

    Fix: Mount it as an extra file in /etc/mysql/conf.d/.

    Example:
              - ./compose/mysql/conf/my.cnf:/etc/mysql/my.cnf:ro
    """
    db = ctx.service(ctx.stack.services.db)
    for mount in db.mounts() if db else []:
        if mount.bind and mount.target in MAIN_CONFIGS:
            yield Hit(db.compose.rel, mount.line, f"a config is mounted over the image's {mount.target}",
                      "it replaces the image's own config and its include of conf.d.",
                      f"Mount it as an extra file: {ctx.stack.paths.mysql_conf}")


@rule("mysql-removed-option", ERROR, "mysql", ('mysql',))
def removed_option(ctx):
    """Finds: A server option the db image's MySQL (or MariaDB) version no longer knows.

    Breaks: mysqld refuses to start on an option it no longer knows ("unknown variable").

    Fix: Delete the line (utf8mb4 and caching_sha2_password need nothing there).

    Example:
        default-authentication-plugin = mysql_native_password
    """
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


@rule("mysql-native-password", ERROR, "mysql", ('mysql',))
def native_password(ctx):
    """Finds: mysql_native_password in the server options while the db image is MySQL 9 (an unpinned
    `mysql` is).

    Breaks: MySQL 9 removed mysql_native_password, and an unpinned `mysql` image is 9.x now.

    Fix: Drop it: Django's mysqlclient speaks caching_sha2_password.

    Example:
        mysql_native_password = ON   # with DB_IMAGE=mysql:9.1
    """
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


@rule("mysql-charset-utf8", ERROR, "mysql", ('mysql',))
def charset_utf8(ctx):
    """Finds: A character set or collation of `utf8` / `utf8mb3` in the MySQL options.

    Breaks: MySQL's `utf8` is utf8mb3, 3 bytes at most: emoji and other 4-byte characters fail to
    save.

    Fix: Use utf8mb4 (and a utf8mb4_ collation).

    Example:
        character-set-server = utf8
    """
    for option in ctx.mysql_options:
        value = option.value.lower()
        charset = option.key.startswith("character-set") or option.key == "default-character-set"
        if (charset and value in ("utf8", "utf8mb3")) or (option.key.startswith("collation") and value.startswith(("utf8_", "utf8mb3_"))):
            yield Hit(option.file, option.line, f"{option.key} = {option.value}: use utf8mb4",
                      "utf8 is 3-byte utf8mb3: emoji fail with 'Incorrect string value'.",
                      f"{option.key} = {value.replace('utf8mb3', 'utf8').replace('utf8', 'utf8mb4')}")


@rule("mysql-bind-loopback", ERROR, "mysql", ('mysql',))
def bind_loopback(ctx):
    """Finds: bind-address = 127.0.0.1 (or localhost, ::1) in the server options.

    Breaks: A server bound to 127.0.0.1 accepts connections only from inside its own container.

    Fix: Delete the line: the db network is internal, only web can reach it.

    Example:
        bind-address = 127.0.0.1
    """
    for option in ctx.mysql_options:
        if option.section in SERVER_SECTIONS and option.key == "bind-address" and option.value in ("127.0.0.1", "localhost", "::1"):
            yield Hit(option.file, option.line, f"bind-address = {option.value}",
                      "web runs in another container and cannot connect.",
                      "Delete the line: the db network is internal, only web can reach it.")


@rule("mysql-image-unpinned", WARNING, "mysql", ('compose', 'runtime'))
def image_unpinned(ctx):
    """Finds: A db image (mysql, mariadb) without a version series in its tag.

    Breaks: An unpinned database image changes major version on the next pull, under a data folder
    the new server may refuse (MySQL cannot downgrade, and skips of series are unsupported).

    Fix: Pin a series, as djstack does (mysql:8.4, or mariadb:<version>).

    Example:
        DB_IMAGE=mysql
    """
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


@rule("mysql-init-grant-identified-by", ERROR, "mysql", ('mysql',))
def grant_identified_by(ctx):
    """Finds: `GRANT … IDENTIFIED BY` in an init SQL script.

    Breaks: MySQL 8 removed `GRANT … IDENTIFIED BY`: the init script fails and the first start
    aborts.

    Fix: Drop it: the image creates MYSQL_USER with rights on MYSQL_DATABASE.

    Example:
        GRANT ALL PRIVILEGES ON mysite.* TO 'mysite'@'%' IDENTIFIED BY 'secret';
    """
    for rel, found in _init_users(ctx):
        if found.grant:
            yield Hit(rel, found.line, "GRANT … IDENTIFIED BY is a syntax error on MySQL 8+",
                      "the init script fails, so the db container's first start aborts.",
                      "Drop it: the image creates MYSQL_USER with rights on MYSQL_DATABASE.")


@rule("mysql-init-native-password", ERROR, "mysql", ('mysql',))
def init_native_password(ctx):
    """Finds: `IDENTIFIED WITH mysql_native_password` in init SQL, on MySQL 8.4 (plugin off) or 9
    (removed).

    Breaks: IDENTIFIED WITH mysql_native_password fails on MySQL 9 (removed) and on 8.4 unless the
    plugin is enabled.

    Fix: Drop the WITH clause (or the statement: the image creates MYSQL_USER).

    Example:
        ALTER USER 'mysite'@'%' IDENTIFIED WITH mysql_native_password BY 'secret';
    """
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


@rule("mysql-init-password-mismatch", ERROR, "mysql", ('mysql', 'compose'))
def init_password_mismatch(ctx):
    """Finds: Init SQL that gives MYSQL_USER (or root) a password other than the one in `.env`.

    Breaks: An init script that sets a user's password to something other than `.env`'s locks web
    out.

    Fix: Delete the statement: the image sets the user's password from .env.

    Example:
        ALTER USER 'mysite'@'%' IDENTIFIED BY 'another-password';
    """
    for rel, found in _init_users(ctx):
        expected, var = _env_password(ctx, found.user)
        if expected is not None and found.password is not None and found.password != expected.text:
            yield Hit(rel, found.line, f"the init SQL gives {found.user!r} a password other than {var}",
                      "web logs in with .env's password: 1045 Access denied.",
                      "Delete the statement: the image sets the user's password from .env.")


@rule("mysql-init-hardcoded-password", WARNING, "mysql", ('mysql', 'compose'))
def init_hardcoded_password(ctx):
    """Finds: A password written in init SQL.

    Breaks: A password written in init SQL is in git and silently goes stale when `.env` changes.

    Fix: Delete it: the image creates MYSQL_USER with MYSQL_PASSWORD from .env.

    Example:
        CREATE USER 'reporting'@'%' IDENTIFIED BY 'x9-report-0123456789';
    """
    for rel, found in _init_users(ctx):
        expected, _ = _env_password(ctx, found.user)
        if found.password and (expected is None or found.password == expected.text):
            yield Hit(rel, found.line, f"the init SQL holds a password for {found.user!r}",
                      "it is in git, and it goes stale when .env's password changes.",
                      "Delete it: the image creates MYSQL_USER with MYSQL_PASSWORD from .env.")
