"""`.env` as djstack reads and updates it: the KEY=VALUE lines Compose reads too."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest

from helpers import C_LOCALE_ENV
from djstack.envfile import read_env, set_value
from djstack.errors import DjstackError


def test_a_missing_file_is_no_values(tmp_path):
    assert read_env(tmp_path / ".env") == {}


def test_lines_are_read_as_compose_reads_them(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "# a comment\n"
        "\n"
        "   \n"
        "  # an indented comment\n"
        "PLAIN=value\n"
        "  SPACED  =  around  \n"
        "export EXPORTED=yes\n"
        "DOUBLE=\"quoted value\"\n"
        "SINGLE='quoted'\n"
        "EMPTY=\n"
        "EMPTY_QUOTED=\"\"\n"
        "EMPTY_SINGLE=''\n"
        "QUOTE_CHAR=\"\n"
        "MIXED=\"half'\n"
        "LETTERS=XvalueX\n"
        "EQUALS=a=b\n"
        "_UNDER1=x\n"
        "HASH=a#b\n"
    )
    assert read_env(env) == {
        "PLAIN": "value",
        "SPACED": "around",
        "EXPORTED": "yes",
        "DOUBLE": "quoted value",
        "SINGLE": "quoted",
        "EMPTY": "",
        "EMPTY_QUOTED": "",
        "EMPTY_SINGLE": "",
        "QUOTE_CHAR": '"',  # one quote is a value, not a pair
        "MIXED": "\"half'",  # quotes that do not match stay
        "LETTERS": "XvalueX",  # only quotes are quotes
        "EQUALS": "a=b",
        "_UNDER1": "x",
        "HASH": "a#b",
    }


def test_a_later_line_wins(tmp_path):
    env = tmp_path / ".env"
    env.write_text("A=1\nA=2\n")
    assert read_env(env) == {"A": "2"}


@pytest.mark.parametrize("bad", ["NO_EQUALS_SIGN", "1STARTS_WITH_DIGIT=x", "HAS-DASH=x", "= value"])
def test_a_line_that_is_not_key_value_names_its_line(tmp_path, bad):
    env = tmp_path / ".env"
    env.write_text(f"A=1\n# fine\n{bad}\nB=2\n")
    with pytest.raises(DjstackError) as caught:
        read_env(env)
    error = caught.value
    # Line 3 of the file, by the typed error's field or in the message's path:line.
    assert getattr(error, "line", None) == 3 or f"{env}:3:" in error.message
    assert error.fix == "Fix or remove the line (Compose reads this file too)."


def test_a_bad_lines_message_quotes_its_first_60_characters(tmp_path):
    env = tmp_path / ".env"
    line = "NOT A KEY VALUE LINE " + "x" * 80
    env.write_text(line + "\n")
    with pytest.raises(DjstackError) as caught:
        read_env(env)
    assert repr(line[:60]) in caught.value.message and repr(line[:61]) not in caught.value.message


def test_set_value_replaces_the_keys_line_in_place(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# head\nA=1\nexport TARGET=old\nTARGET_OTHER=keep\nB=2\n")
    env.chmod(0o600)
    set_value(env, "TARGET", "new")
    assert env.read_text() == "# head\nA=1\nTARGET=new\nTARGET_OTHER=keep\nB=2\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_set_value_changes_only_the_first_of_two_lines(tmp_path):
    env = tmp_path / ".env"
    env.write_text("A=1\nA=2\n")
    set_value(env, "A", "3")
    assert env.read_text() == "A=3\nA=2\n"


def test_set_value_appends_an_absent_key_and_ends_with_a_newline(tmp_path):
    env = tmp_path / ".env"
    env.write_text("A=1")
    env.chmod(0o640)
    set_value(env, "NEW", "x")
    assert env.read_text() == "A=1\nNEW=x\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o640
    assert read_env(env) == {"A": "1", "NEW": "x"}


def test_env_is_read_and_updated_as_utf8_under_any_locale(tmp_path):
    """A value with non-ASCII text (a DB password, a project's own variable) reads and updates the same
    when djstack runs under a locale that is not UTF-8 (here ASCII: the C locale, UTF-8 mode off)."""
    env = tmp_path / ".env"
    env.write_text("GREETING=grüße\nWEB_RELEASE=one\n", encoding="utf-8")
    script = (
        "import sys; from pathlib import Path; from djstack.envfile import read_env, set_value\n"
        "p = Path(sys.argv[1]); set_value(p, 'WEB_RELEASE', 'two'); print(ascii(read_env(p)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(env)], env=C_LOCALE_ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ascii({"GREETING": "grüße", "WEB_RELEASE": "two"})
    assert env.read_text(encoding="utf-8") == "GREETING=grüße\nWEB_RELEASE=two\n"
    # And in this process (which is what ties the test to these functions for mutation testing).
    set_value(env, "WEB_RELEASE", "three")
    assert read_env(env) == {"GREETING": "grüße", "WEB_RELEASE": "three"}
