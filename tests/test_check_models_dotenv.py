"""check/models/dotenv.py: `.env` as `djstack check` reads it (values, lines, what an unreadable
file says). Found by mutation testing (scripts/mutants.sh, second pass)."""

from __future__ import annotations

from helpers import c_locale
from djstack.check.models.dotenv import DotEnv


def test_a_missing_file_is_empty_and_not_there(tmp_path):
    env = DotEnv.read(tmp_path / ".env", ".env")
    assert (env.rel, env.values, env.lines, env.exists, env.error) == (".env", {}, {}, False, None)
    assert env.origin("A") == (".env", None)


def test_values_and_their_lines(tmp_path):
    (tmp_path / ".env").write_text("# c\nA=1\n\nB='two'\nA=3\n", encoding="utf-8")
    env = DotEnv.read(tmp_path / ".env", "sub/.env")
    assert (env.values, env.lines, env.exists, env.error) == ({"A": "3", "B": "two"}, {"A": 5, "B": 4}, True, None)
    assert env.origin("B") == ("sub/.env", 4)
    assert env.origin("C") == ("sub/.env", None)
    assert type(env.lines) is dict


def test_a_line_that_is_not_key_value_is_shown_as_its_text(tmp_path):
    long = "x" * 70
    (tmp_path / ".env").write_text(f"A=1\n   not a line {long}  \nB=2\n", encoding="utf-8")
    env = DotEnv.read(tmp_path / ".env", ".env")
    assert env.exists is True
    assert env.error == (2, repr(f"not a line {long}"[:60]))
    assert env.values == {} and env.lines == {}


def test_a_file_that_is_not_utf8_says_so(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=caf\xe9\n")
    env = DotEnv.read(tmp_path / ".env", ".env")
    assert env.exists is True
    line, text = env.error
    assert line is None
    assert text == "'utf-8' codec can't decode byte 0xe9 in position 5: invalid continuation byte"


def test_a_bad_line_is_quoted_as_utf8_under_any_locale(tmp_path):
    """The line shown is the file's UTF-8 text, also when djstack runs under the C locale (ASCII)."""
    (tmp_path / ".env").write_text("grüße ohne Gleichheitszeichen\n", encoding="utf-8")
    with c_locale():
        env = DotEnv.read(tmp_path / ".env", ".env")
    assert env.error == (1, repr("grüße ohne Gleichheitszeichen"))
