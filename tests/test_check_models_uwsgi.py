"""check/models/uwsgi.py through its public parse functions: the ini file's [uwsgi] section, the
command line's options and the sockets they open. Found by mutation testing (scripts/mutants.sh,
second pass)."""

from __future__ import annotations

import pytest

from djstack.check.models.uwsgi import Listener, Option, Uwsgi, command_options, normalise, parse_address, read_ini


def ini(tmp_path, text: str) -> list[Option]:
    path = tmp_path / "uwsgi.ini"
    path.write_text(text, encoding="utf-8")
    return read_ini(path, "compose/web/uwsgi.ini")


def test_read_ini_reads_the_uwsgi_section_only(tmp_path):
    options = ini(tmp_path, "[other]\nsocket = :1\n[uwsgi]\n; a comment\n# another\n\n"
                            "Http_Socket =  :8000  \nno equals sign\nprocesses=4\n[ uwsgi ]\nmaster = true\n"
                            "; socket = :3\n#socket=:4\nx\nXkey = 1\nenv = DJANGO_SETTINGS_MODULE=mysite.settings\n"
                            "env = LIST=[a]\nvacuum = true\n[x]\nsocket = :2\n")
    rel = "compose/web/uwsgi.ini"
    assert options == [
        Option("http-socket", ":8000", rel, 7),
        Option("processes", "4", rel, 9),
        Option("master", "true", rel, 11),
        Option("xkey", "1", rel, 15),
        Option("env", "DJANGO_SETTINGS_MODULE=mysite.settings", rel, 16),
        Option("env", "LIST=[a]", rel, 17),
        Option("vacuum", "true", rel, 18),
    ]


def test_read_ini_expands_placeholders_from_options_set_before(tmp_path):
    options = ini(tmp_path, "[uwsgi]\nbase = /app\nchdir = %(base)/src\nlog = %(later)/x\nlater = /l\n"
                            "home = %(Base)\n")
    assert [(o.key, o.value) for o in options] == [
        ("base", "/app"), ("chdir", "/app/src"), ("log", "%(later)/x"), ("later", "/l"), ("home", "/app"),
    ]


def test_read_ini_without_a_uwsgi_section_is_empty(tmp_path):
    assert ini(tmp_path, "socket = :8000\n") == []


def test_read_ini_reads_pasted_characters_as_their_fix(tmp_path):
    [option] = ini(tmp_path, "[uwsgi]\nhttp-socket\u00a0= :8000\n")
    assert (option.key, option.value, option.line) == ("http-socket", ":8000", 2)


def test_normalise():
    assert normalise("  HTTP_Socket ") == "http-socket"


def test_command_options():
    words = ["uwsgi", "--ini", "/app/uwsgi.ini", "--http-socket=:9000", "--master", "--processes", "4",
             "--enable-threads", "-p", "2", "--die-on-term", "--harakiri=", "--vacuum"]
    assert command_options(words, "docker-compose.yml", 12) == [
        Option("ini", "/app/uwsgi.ini", "docker-compose.yml", 12),
        Option("http-socket", ":9000", "docker-compose.yml", 12),
        Option("master", "true", "docker-compose.yml", 12),
        Option("processes", "4", "docker-compose.yml", 12),
        Option("enable-threads", "true", "docker-compose.yml", 12),
        Option("die-on-term", "true", "docker-compose.yml", 12),
        Option("harakiri", "", "docker-compose.yml", 12),
        Option("vacuum", "true", "docker-compose.yml", 12),
    ]


def test_command_options_takes_the_next_word_only_when_it_is_a_value():
    assert command_options(["--socket", "--master"], "f", None) == [
        Option("socket", "true", "f", None), Option("master", "true", "f", None)]
    assert command_options(["--Socket", ":8000"], "f", 1) == [Option("socket", ":8000", "f", 1)]
    assert command_options(["--socket"], "f", 1) == [Option("socket", "true", "f", 1)]
    assert command_options(["--socket", "-x"], "f", 1) == [Option("socket", "true", "f", 1)]


@pytest.mark.parametrize("text, address", [
    (":8000", ("", 8000)), ("0.0.0.0:8000", ("0.0.0.0", 8000)), ("[::]:8000", ("::", 8000)),
    ("web:8000,foo", ("web", 8000)), (" web:8001 ", ("web", 8001)), ("web:http", ("web", None)),
    ("/run/uwsgi.sock", (None, None)), ("@abstract", (None, None)), ("run/x.sock", (None, None)),
    ("127.0.0.1:8000/x", ("127.0.0.1", None)), ("8000", ("", 8000)), ("/run/web:1.sock", (None, None)),
    ("XwebX:8000", ("XwebX", 8000)),
])
def test_parse_address(text, address):
    assert parse_address(text) == address


def test_listeners_and_their_protocols():
    options = command_options(["--socket", ":1", "--http", ":2", "--https-socket", ":3", "--fastcgi-socket", ":4",
                               "--scgi-socket", "/s.sock", "--processes", "2", "--http11-socket", ":5"], "f", 3)
    uwsgi = Uwsgi(options)
    assert [(l.protocol, l.host, l.port) for l in uwsgi.listeners] == [
        ("uwsgi", "", 1), ("http", "", 2), ("http", "", 3), ("fastcgi", "", 4), ("scgi", None, None), ("http", "", 5)]
    assert uwsgi.listeners[0] == Listener(Option("socket", ":1", "f", 3), "uwsgi", "", 1)
    assert uwsgi.listeners[1].describe() == "http = :2"
    assert uwsgi.all("processes") == [Option("processes", "2", "f", 3)]
    assert uwsgi.all("master") == []
