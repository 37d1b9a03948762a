"""`djstack check` rules at their edges: each test edits a stack `djstack init` wrote, runs the whole
check and asserts which finding ids come out (and where). They pin what test_check.py's one planted
defect per rule leaves open — found by mutation testing (scripts/mutants.sh)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import copy_example
from djstack.check import run_check
from djstack.envfile import read_env
from djstack.initialise import run_init
from djstack.model import RedisAcl, StackOptions

REDIS_CONF = "compose/redis/redis.conf"
COMPOSE = "docker-compose.yml"
OVERLAY = "mysite/settings_docker.py"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """A clean stack, written once; each test edits a copy."""
    root = tmp_path_factory.mktemp("written") / "mysite"
    copy_example(root)
    run_init(root, StackOptions(), force=False)
    assert run_check(root, strict=True) == []
    return root


@pytest.fixture
def stack_dir(written, tmp_path) -> Path:
    root = tmp_path / "mysite"
    shutil.copytree(written, root)
    return root


def edit(root: Path, rel: str, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new`; old "" appends `new`."""
    path = root / rel
    text = path.read_text()
    if old:
        assert old in text, f"{old!r} not in {rel}"
        text = text.replace(old, new, 1)
    else:
        text += new
    path.write_text(text)


def found(root: Path) -> dict[str, set[tuple[str, int | None]]]:
    """Finding id → the (file, line) places it points at."""
    places: dict[str, set[tuple[str, int | None]]] = {}
    for f in run_check(root, strict=True):
        places.setdefault(f.id, set()).add((f.file, f.line))
    return places


def line_number(root: Path, rel: str, text: str, last: bool = False) -> int:
    numbers = [n for n, line in enumerate((root / rel).read_text().splitlines(), start=1) if line.strip() == text]
    assert numbers, f"{text!r} not a line of {rel}"
    return numbers[-1] if last else numbers[0]


# --- Redis ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("addresses", ["127.0.0.1 0.0.0.0", "0.0.0.0 -::1", "127.0.0.1 10.0.0.5"])
def test_redis_bound_to_loopback_and_another_address_is_reachable(stack_dir, addresses):
    """Only a bind that lists loopback addresses alone shuts web out."""
    edit(stack_dir, REDIS_CONF, "bind 0.0.0.0", f"bind {addresses}")
    assert "redis-bind-loopback" not in found(stack_dir)


@pytest.mark.parametrize("addresses", ["127.0.0.1", "127.0.0.1 -::1", "localhost ::1"])
def test_redis_bound_to_loopback_addresses_only_is_found(stack_dir, addresses):
    edit(stack_dir, REDIS_CONF, "bind 0.0.0.0", f"bind {addresses}")
    assert found(stack_dir)["redis-bind-loopback"] == {(REDIS_CONF, line_number(stack_dir, REDIS_CONF, f"bind {addresses}"))}


def test_redis_takes_the_last_bind_of_its_file(stack_dir):
    edit(stack_dir, REDIS_CONF, "bind 0.0.0.0", "bind 127.0.0.1\nbind 0.0.0.0")
    assert "redis-bind-loopback" not in found(stack_dir)


def test_a_later_loopback_bind_overrides_an_earlier_open_one(stack_dir):
    edit(stack_dir, REDIS_CONF, "", "bind 127.0.0.1\n")
    line = line_number(stack_dir, REDIS_CONF, "bind 127.0.0.1", last=True)
    assert found(stack_dir)["redis-bind-loopback"] == {(REDIS_CONF, line)}


def test_the_command_lines_password_overrides_the_files(stack_dir):
    """redis-server applies command-line options after the file's: the password from .env is in effect,
    so web's matches; the one in the file is only stale (and in git)."""
    edit(stack_dir, REDIS_CONF, "", "requirepass x9-stale-0123456789abcdefghijkl\n")
    places = found(stack_dir)
    assert "redis-password-mismatch" not in places and "redis-no-password" not in places
    assert places["redis-hardcoded-password"] == {(REDIS_CONF, line_number(stack_dir, REDIS_CONF, "requirepass x9-stale-0123456789abcdefghijkl"))}


def test_a_password_only_in_the_file_must_be_webs(stack_dir):
    """Without the ACL on the command line, the file's requirepass is the one Redis asks for."""
    edit(stack_dir, COMPOSE, DEFAULT_OFF + "\n" + ACL_USER, "")
    edit(stack_dir, OVERLAY, f"redis://{RedisAcl().user}@", "redis://")
    password = read_env(stack_dir / ".env")["REDIS_PASSWORD"]
    edit(stack_dir, REDIS_CONF, "", f"requirepass {password}\n")
    places = found(stack_dir)
    assert not {"redis-password-mismatch", "redis-no-password", "redis-user-unknown"} & set(places)
    assert "redis-hardcoded-password" in places


#: redis's command as `djstack init` writes it: the default user off, then the app's user.
DEFAULT_OFF = " --user default off"
ACL_USER = f'        --user {RedisAcl().user} on ">$$REDISCLI_AUTH" {RedisAcl().shell_rules}'
ACL_PASSWORD = '">$$REDISCLI_AUTH"'


def test_redis_reads_its_directives_in_any_case_and_skips_comments(stack_dir):
    edit(stack_dir, REDIS_CONF, "bind 0.0.0.0", "   # bind 127.0.0.1\nBIND 127.0.0.1")
    assert found(stack_dir)["redis-bind-loopback"] == {(REDIS_CONF, line_number(stack_dir, REDIS_CONF, "BIND 127.0.0.1"))}


def test_an_option_on_the_command_line_overrides_the_file(stack_dir):
    edit(stack_dir, COMPOSE, DEFAULT_OFF, " --bind 127.0.0.1" + DEFAULT_OFF)
    # The finding points at the start of redis's command (a YAML list: its first item).
    command = line_number(stack_dir, COMPOSE, "- sh")
    assert found(stack_dir)["redis-bind-loopback"] == {(COMPOSE, command)}


def test_a_literal_word_is_no_variable_even_when_it_ends_in_ones_name(stack_dir):
    edit(stack_dir, COMPOSE, ACL_PASSWORD, '">xREDISCLI_AUTH"')
    places = found(stack_dir)
    assert "redis-password-mismatch" in places and "redis-hardcoded-password" in places


@pytest.mark.parametrize("reference", ["$${REDISCLI_AUTH}", "$$REDISCLI_AUTH"])
def test_the_command_lines_password_is_read_from_the_containers_environment(stack_dir, reference):
    edit(stack_dir, COMPOSE, ACL_PASSWORD, f'">{reference}"')
    places = found(stack_dir)
    assert not {"redis-password-mismatch", "redis-no-password", "redis-hardcoded-password"} & set(places)


def test_a_variable_the_container_does_not_have_is_taken_as_written(stack_dir):
    edit(stack_dir, COMPOSE, ACL_PASSWORD, '">$$NO_SUCH_VARIABLE"')
    places = found(stack_dir)
    assert "redis-password-mismatch" in places and "redis-hardcoded-password" in places


def test_a_user_turned_off_later_on_the_line_is_off(stack_dir):
    """ACL rules apply in order: `on … off` leaves the user off, and web cannot sign in as it."""
    edit(stack_dir, COMPOSE, ACL_USER, ACL_USER + " off")
    assert "redis-user-unknown" in found(stack_dir)


def test_a_stack_from_before_the_acl_is_unconfined(stack_dir):
    """`--requirepass` (djstack's files before the ACL): the password is right, but web signs in as the
    default user, which may run every command."""
    edit(stack_dir, COMPOSE, DEFAULT_OFF + "\n" + ACL_USER, ' --requirepass "$$REDISCLI_AUTH"')
    edit(stack_dir, OVERLAY, f"redis://{RedisAcl().user}@", "redis://")
    places = found(stack_dir)
    assert places["redis-user-unconfined"] == {(COMPOSE, line_number(stack_dir, COMPOSE, "- sh"))}
    assert not {"redis-password-mismatch", "redis-no-password", "redis-user-unknown"} & set(places)


@pytest.mark.parametrize("rules, unconfined", [
    (" '+config|get'", False),  # a subcommand (quoted: | is a pipe in sh): CONFIG SET stays denied
    (" +@admin", True), (" -@all +@all", True), (" nocommands +get", False), (" +flushall", True),
    (" +FLUSHALL -@dangerous", False)])
def test_acl_rules_apply_in_order(stack_dir, rules, unconfined):
    edit(stack_dir, COMPOSE, ACL_USER, ACL_USER + rules)
    assert ("redis-user-unconfined" in found(stack_dir)) is unconfined


@pytest.mark.parametrize("url_user, unknown", [("", True), (f"{RedisAcl().user}@", False)])
def test_the_caches_options_name_the_user_when_its_url_does_not(stack_dir, url_user, unknown):
    """Django passes OPTIONS to redis-py's pool, whose from_url takes the URL's user over theirs."""
    edit(stack_dir, OVERLAY, f"redis://{RedisAcl().user}@", f"redis://{url_user}")
    edit(stack_dir, OVERLAY, '"OPTIONS": {"password":', '"OPTIONS": {"username": "cache", "password":')
    assert ("redis-user-unknown" in found(stack_dir)) is unknown


def test_a_password_in_the_cache_url_wins_over_the_options(stack_dir):
    edit(stack_dir, OVERLAY, f"redis://{RedisAcl().user}@", f"redis://{RedisAcl().user}:x9-stale-0123456789abcdef@")
    assert "redis-password-mismatch" in found(stack_dir)


def test_nopass_on_the_default_user_is_no_password(stack_dir):
    edit(stack_dir, COMPOSE, DEFAULT_OFF, " --user default on nopass")
    assert "redis-no-password" in found(stack_dir)


def test_an_indented_comment_in_redis_conf_is_not_read(stack_dir):
    """redis-server skips comment lines however indented: an apostrophe in one is no unbalanced quote."""
    edit(stack_dir, REDIS_CONF, "bind 0.0.0.0", "    # don't bind to loopback here\nbind 0.0.0.0")
    assert "redis-unparseable" not in found(stack_dir)


def test_an_unreadable_redis_conf_line_says_what_is_wrong_with_it(stack_dir):
    edit(stack_dir, REDIS_CONF, "", 'requirepass "unbalanced\n')
    (finding,) = [f for f in run_check(stack_dir, strict=True) if f.id == "redis-unparseable"]
    assert "unbalanced quotes" in f"{finding.message} {finding.why}"
    assert (finding.file, finding.line) == (REDIS_CONF, line_number(stack_dir, REDIS_CONF, 'requirepass "unbalanced'))
