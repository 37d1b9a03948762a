"""check/models/mysql.py through its public parse functions: option files, the db image's name, init
SQL statements and the users they give passwords. Found by mutation testing (scripts/mutants.sh,
second pass)."""

from __future__ import annotations

import pytest

from djstack.check.models.mysql import CnfOption, DbImage, SqlError, Statement, Token, UserPassword, read_cnf, read_sql, user_passwords


def test_read_cnf(tmp_path):
    path = tmp_path / "my.cnf"
    path.write_text("# comment\n; another\n!includedir /etc/mysql/conf.d/\nskip_before_section\n\n"
                    "[ MySQLd ]\nCharacter_Set_Server = \"utf8mb4\"  # why\nbind-address=0.0.0.0\n"
                    "skip-name-resolve\nsql_mode = 'STRICT'\nport#c = 3306\nhash = a#b\n[client]\nport = 3307\n",
                    encoding="utf-8")
    rel = "compose/mysql/conf/my.cnf"
    assert read_cnf(path, rel) == [
        CnfOption("", "skip-before-section", "", rel, 4),
        CnfOption("mysqld", "character-set-server", "utf8mb4", rel, 7),
        CnfOption("mysqld", "bind-address", "0.0.0.0", rel, 8),
        CnfOption("mysqld", "skip-name-resolve", "", rel, 9),
        CnfOption("mysqld", "sql-mode", "STRICT", rel, 10),
        CnfOption("mysqld", "port", "3306", rel, 11),
        CnfOption("mysqld", "hash", "a#b", rel, 12),
        CnfOption("client", "port", "3307", rel, 14),
    ]


def test_read_cnf_reads_pasted_characters_as_their_fix(tmp_path):
    path = tmp_path / "my.cnf"
    path.write_text("[mysqld]\nport\u00a0= 3306\n", encoding="utf-8")
    assert read_cnf(path, "c") == [CnfOption("mysqld", "port", "3306", "c", 2)]


@pytest.mark.parametrize("text, flavour, tag, pinned, version", [
    ("mysql:8.0", "mysql", "8.0", True, (8, 0)),
    ("mysql:8", "mysql", "8", True, (8, 0)),
    ("mysql:9", "mysql", "9", True, (9, 99)),
    ("mysql:9.1", "mysql", "9.1", True, (9, 1)),
    ("mysql:10", "mysql", "10", True, (10, 99)),
    ("mysql:lts", "mysql", "lts", True, (8, 4)),
    ("mysql", "mysql", "", False, (9, 99)),
    ("mysql:latest", "mysql", "latest", False, (9, 99)),
    ("docker.io/library/MySQL:5.7", "mysql", "5.7", True, (5, 7)),
    ("mysql@sha256:abc", "mysql", "", True, (9, 99)),
    ("mysql:oracle@sha256:abc", "mysql", "oracle", True, (9, 99)),
    ("registry:5000/mysql:8.4", "mysql", "8.4", True, (8, 4)),
    ("mariadb:11", "mariadb", "11", True, None),
    ("bitnami/mariadb-galera:10", "mariadb", "10", True, None),
    ("postgres:16", "other", "16", True, None),
    ("mysqlx/postgres", "other", "", False, None),
])
def test_db_image(text, flavour, tag, pinned, version):
    image = DbImage(text, "docker-compose.yml", 3)
    assert (image.flavour, image.tag, image.pinned, image.version) == (flavour, tag, pinned, version)


def words(text: str) -> list[tuple[list[str], int]]:
    return [(s.words(), s.line) for s in read_sql(text)]


def test_read_sql_statements_words_and_lines():
    text = ("-- a comment\nCREATE database `my db`;\n# another ; comment\n\n  /* multi\nline ; */ grant all\n"
            "on x.* to 'u'@'%';select 'it\\'s', \"two\nlines\", 1;\nlast")
    assert words(text) == [
        (["CREATE", "DATABASE", "MY DB"], 2),
        (["GRANT", "ALL", "ON", "X.", "*", "TO", "u", "@", "%"], 6),
        (["SELECT", "it's", ",", "two\nlines", ",", "1"], 7),
        (["LAST"], 9),
    ]


def test_read_sql_keeps_quoted_words_apart_and_backticks_unquoted():
    [statement] = read_sql("select `Name`, 'Name', $x")
    assert statement.tokens == [Token("select", False), Token("Name", False), Token(",", False), Token("Name", True),
                                Token(",", False), Token("$x", False)]
    assert statement.words() == ["SELECT", "NAME", ",", "Name", ",", "$X"]


def test_read_sql_a_statement_starting_with_a_string_starts_on_its_line():
    assert words("\n\n'x' y;\n;;\n-- end") == [(["x", "Y"], 3)]


def test_read_sql_a_comment_at_the_end_without_newline():
    assert words("select 1 -- done") == [(["SELECT", "1"], 1)]
    assert words("select 1 # done") == [(["SELECT", "1"], 1)]


@pytest.mark.parametrize("text, line, message", [
    ("select 1;\n/* open", 2, "unterminated /* comment"),
    ("select 1;\nselect 'open", 2, "unterminated 'quoted' text"),
    ("select `open\n", 1, "unterminated `quoted` text"),
    ("select 'a\\'", 1, "unterminated 'quoted' text"),
])
def test_read_sql_errors(text, line, message):
    with pytest.raises(SqlError) as caught:
        read_sql(text)
    assert (caught.value.line, caught.value.message, str(caught.value)) == (line, message, message)


def users(text: str) -> list[UserPassword]:
    return [u for s in read_sql(text) for u in user_passwords(s)]


def test_create_and_alter_user_passwords():
    assert users("CREATE USER 'app'@'%' IDENTIFIED BY 'secret';\n"
                 "create user if not exists bob identified with mysql_native_password by 'pw';\n"
                 "ALTER USER 'app' IDENTIFIED WITH caching_sha2_password;\n"
                 "ALTER USER 'app' IDENTIFIED BY PASSWORD '*hash';\n"
                 "CREATE USER 'nopw'@'%';\nCREATE USER x IDENTIFIED BY;\n") == [
        UserPassword("app", None, "secret", 1, False),
        UserPassword("BOB", "mysql_native_password", "pw", 2, False),
        UserPassword("app", "caching_sha2_password", None, 3, False),
        UserPassword("app", None, "*hash", 4, False),
        UserPassword("X", None, None, 6, False),
    ]


def test_grant_and_set_password():
    assert users("GRANT ALL ON *.* TO 'app'@'%' IDENTIFIED BY 'pw';\nGRANT ALL ON x.* TO app;\n"
                 "SET PASSWORD FOR 'app'@'%' = 'new';\nSET PASSWORD FOR app = PASSWORD('old');\n"
                 "SET PASSWORD = 'mine';\nSET PASSWORD FOR\n;") == [
        UserPassword("app", None, "pw", 1, True),
        UserPassword("app", None, "new", 3, False),
        UserPassword("APP", None, "old", 4, False),
    ]


def test_statements_that_give_no_password():
    assert users("CREATE USER;\nCREATE TABLE users (x int) IDENTIFIED BY 'x';\nDROP USER 'app';\n"
                 "GRANT ALL ON x.*;\nCREATE USER IF NOT EXISTS;\nSET x = 1;\nAB;\n") == []


def test_a_grant_to_nobody_gives_nothing():
    assert user_passwords(Statement([Token("GRANT", False), Token("ALL", False), Token("TO", False)], 1)) == []
    assert user_passwords(Statement([Token("SET", False), Token("PASSWORD", False), Token("FOR", False)], 1)) == []
