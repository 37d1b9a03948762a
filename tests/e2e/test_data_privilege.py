"""Least privilege in the data services, on the shared HTTPS stack: MariaDB's root only over db's own
socket, no LOAD DATA LOCAL, the app's user with its own database and nothing else; Redis's default
user off, the app's ACL user refused Redis's dangerous commands, and the cache still working."""

from __future__ import annotations

import re

import pytest

from djstack.envfile import read_env
from djstack.model import RedisAcl
from stacks import https

pytestmark = pytest.mark.e2e

ACL_USER = RedisAcl().user


def env(stack) -> dict[str, str]:
    return read_env(stack.root / ".env")


def root_sql(stack, sql: str) -> list[list[str]]:
    """Rows of `sql` run as root over db's socket (tab-separated, no headers, no escapes)."""
    out = stack.compose("exec", "-T", "db", "sh", "-c", 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -uroot -N -B -r -e "$1"',
                        "sql", sql).stdout
    return [line.split("\t") for line in out.splitlines()]


def redis_cli(stack, *args: str, script: str = 'redis-cli --user "$0" "$@"') -> str:
    """redis-cli's reply inside redis, signed in as the app's user unless `script` says otherwise."""
    proc = stack.compose("exec", "-T", "redis", "sh", "-c", script, ACL_USER, *args, check=False)
    return (proc.stdout + proc.stderr).strip()


def test_the_app_user_has_its_own_database_and_nothing_else(https_stack):
    values = env(https_stack)
    user, database = values["MYSQL_USER"], values["MYSQL_DATABASE"]
    grants = [row[0] for row in root_sql(https_stack, f"SHOW GRANTS FOR '{user}'@'%'")]
    print("\n".join(grants))
    assert len(grants) == 2, grants
    assert re.fullmatch(rf"GRANT USAGE ON \*\.\* TO `{user}`@`%` IDENTIFIED BY PASSWORD '\*[0-9A-F]{{40}}'",
                        grants[0]), grants
    # _ is a wildcard in a grant's database name: escaped, the grant covers that one database only.
    assert grants[1] == f"GRANT ALL PRIVILEGES ON `{database.replace('_', chr(92) + '_')}`.* TO `{user}`@`%`"
    seen = https_stack.compose("exec", "-T", "db", "sh", "-c",
                               'MYSQL_PWD="$MYSQL_PASSWORD" mysql -u"$MYSQL_USER" -N -B -e "SHOW DATABASES"').stdout
    assert sorted(seen.split()) == sorted(["information_schema", database])


def test_root_signs_in_only_over_dbs_socket(https_stack):
    rows = root_sql(https_stack, "SELECT User, Host FROM mysql.user WHERE User = 'root'")
    print(rows)
    assert rows == [["root", "localhost"]]
    # With the right password, from web over the db network: refused (1045: no root for that host).
    attempt = ("import MySQLdb, os\n"
               "try:\n"
               "    MySQLdb.connect(host='db', user='root', password=os.environ['ROOT_PASSWORD'])\n"
               "except MySQLdb.OperationalError as exc:\n"
               "    print(exc.args[0])\n"
               "else:\n"
               "    print('connected')\n")
    out = https_stack.compose("exec", "-T", "-e", f"ROOT_PASSWORD={env(https_stack)['MYSQL_ROOT_PASSWORD']}",
                              "web", "python", "-c", attempt).stdout
    assert out.strip() == "1045", out


def test_load_data_local_is_off(https_stack):
    assert root_sql(https_stack, "SELECT @@GLOBAL.local_infile") == [["0"]]


NOPERM = "NOPERM User {user} has no permissions to run the '{name}' command"


@pytest.mark.parametrize("command, name", [
    (("CONFIG", "GET", "maxmemory"), "config|get"), (("MODULE", "LIST"), "module|list"), (("FLUSHALL",), "flushall"),
    (("ACL", "LIST"), "acl|list"), (("REPLICAOF", "NO", "ONE"), "replicaof"), (("KEYS", "*"), "keys"),
    (("SHUTDOWN", "NOSAVE"), "shutdown"), (("MONITOR",), "monitor"), (("BGSAVE",), "bgsave")])
def test_redis_refuses_dangerous_commands_to_the_app(https_stack, command, name):
    reply = redis_cli(https_stack, *command)
    print(" ".join(command), "->", reply)
    assert reply == NOPERM.format(user=ACL_USER, name=name)


def test_redis_refuses_debug_to_everyone(https_stack):
    """DEBUG is refused before the ACL is read (enable-debug-command is off by default); the ACL denies
    it as well (it is @dangerous)."""
    reply = redis_cli(https_stack, "DEBUG", "SLEEP", "0")
    print("DEBUG SLEEP 0 ->", reply)
    assert reply.startswith("ERR DEBUG command not allowed.")


def test_redis_default_user_is_off(https_stack):
    unsigned = redis_cli(https_stack, script='unset REDISCLI_AUTH; redis-cli PING')
    as_default = redis_cli(https_stack, script='p=$REDISCLI_AUTH; unset REDISCLI_AUTH; redis-cli AUTH default "$p"')
    print(unsigned, as_default, sep="\n")
    assert unsigned.startswith("NOAUTH ")
    assert as_default == "WRONGPASS invalid username-password pair or user is disabled."


def test_the_app_user_runs_what_a_cache_and_a_broker_send(https_stack):
    script = ('redis-cli --user "$0" SET djstack:acl 1 && redis-cli --user "$0" -n 1 LPUSH djstack:queue x && '
              'redis-cli --user "$0" -n 1 BRPOP djstack:queue 1 && redis-cli --user "$0" PUBLISH djstack:ch x && '
              'redis-cli --user "$0" DEL djstack:acl && redis-cli --user "$0" INFO server | grep -c redis_version')
    assert redis_cli(https_stack, script=script).split() == ["OK", "1", "djstack:queue", "x", "0", "1", "1"]
    first, second = https(https_stack, "/api/cached/"), https(https_stack, "/api/cached/")
    assert first.status_code == second.status_code == 200
    assert second.json()["hit"] is True


def test_redis_password_is_on_no_command_line(https_stack):
    password = env(https_stack)["REDIS_PASSWORD"]
    shown = https_stack.compose("exec", "-T", "redis", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert "redis-server" in shown and password not in shown
    assert https_stack.wait_docker_healthy()["redis"]["Health"] == "healthy"
