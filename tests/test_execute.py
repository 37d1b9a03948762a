"""The executor, with harmless local programs (sh, cat, false): never docker."""

from __future__ import annotations

import io
import time

import pytest

from djstack import execute
from djstack.errors import CommandFailed, CommandTimedOut, EngineMissing, ProgramMissing
from djstack.execute import Command


def sh(script: str, *args: str, **fields) -> Command:
    return Command(("sh", "-c", script, "sh", *args), **fields)


def test_run_captures_stdout_and_stderr_as_text():
    result = execute.run(sh('echo out; echo err >&2; printf "%s|" "$@"', "a b", "c"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\na b|c|", "err\n")
    assert result.argv[:2] == ("sh", "-c")


def test_run_feeds_text_bytes_or_a_file(tmp_path):
    assert execute.run(Command(("cat",), stdin="text in\n")).stdout == "text in\n"
    assert execute.run(Command(("cat",), stdin=b"\x00bytes")).stdout == "\x00bytes"
    source = tmp_path / "dump.sql"
    source.write_bytes(b"SELECT 1;\n" * 1000)
    assert execute.run(Command(("wc", "-c"), stdin=source)).stdout.strip() == "10000"


def test_empty_input_is_end_of_file_at_once():
    assert execute.run(Command(("cat",), stdin=b"")).stdout == ""


def test_run_in_cwd_with_added_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DJSTACK_KEPT", "kept")
    result = execute.run(sh('pwd; echo "$DJSTACK_ADDED $DJSTACK_KEPT"', cwd=tmp_path, env={"DJSTACK_ADDED": "added"}))
    assert result.stdout.splitlines() == [str(tmp_path), "added kept"]


def test_non_zero_exit_raises_command_failed_with_argv_code_and_stderr():
    with pytest.raises(CommandFailed) as info:
        execute.run(sh("echo 'no such table' >&2; exit 3"))
    assert info.value.argv == ("sh", "-c", "echo 'no such table' >&2; exit 3", "sh")
    assert info.value.returncode == 3
    assert info.value.stderr == "no such table\n"
    assert info.value.exit_code == 2  # the CLI's exit code for a DjstackError


def test_non_zero_exit_without_check_is_a_result():
    assert execute.run(Command(("false",)), check=False).returncode == 1


def test_timeout_raises_command_timed_out():
    started = time.monotonic()
    with pytest.raises(CommandTimedOut) as info:
        execute.run(sh("exec sleep 5", timeout=0.3))
    assert time.monotonic() - started < 4
    assert info.value.timeout == 0.3 and info.value.argv[0] == "sh"


def test_missing_docker_is_engine_missing_and_others_program_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: not even docker
    with pytest.raises(EngineMissing) as info:
        execute.run(Command(("docker", "version")))
    assert "scripts/install-docker.sh" in info.value.fix and info.value.program == "docker"
    with pytest.raises(ProgramMissing) as info:
        execute.run(Command(("openssl", "version")))
    assert not isinstance(info.value, EngineMissing) and info.value.program == "openssl"
    for runner in (lambda c: execute.stream(c, lambda line: None, tmp_path / "log"), execute.attached,
                   lambda c: execute.to_sink(c, io.BytesIO())):
        with pytest.raises(EngineMissing):
            runner(Command(("docker", "ps")))


def test_stream_writes_every_line_to_the_log_and_the_callback(tmp_path):
    seen: list[str] = []
    log = tmp_path / "logs" / "build.log"
    code = execute.stream(sh("echo one; echo two >&2; exit 4"), seen.append, log)
    assert code == 4
    assert seen == ["one\n", "two\n"]
    assert log.read_text() == "one\ntwo\n"
    execute.stream(sh("echo three"), seen.append, log, append=True)
    assert log.read_text() == "one\ntwo\nthree\n"
    execute.stream(sh("echo four"), seen.append, log)
    assert log.read_text() == "four\n"


def test_stream_reads_nothing_when_told_and_times_out(tmp_path):
    assert execute.stream(Command(("cat",), stdin=b""), lambda line: None, tmp_path / "log") == 0
    with pytest.raises(CommandTimedOut):
        execute.stream(sh("echo started; exec sleep 5", timeout=0.3), lambda line: None, tmp_path / "log")
    assert (tmp_path / "log").read_text() == "started\n"


def test_to_sink_pipes_stdout_bytes_and_counts_them(tmp_path):
    sink = io.BytesIO()
    counted: list[int] = []
    big = 3 * execute.CHUNK + 5
    execute.to_sink(sh(f"head -c {big} /dev/zero; echo noise >&2"), sink, counted.append)
    assert sink.getvalue() == b"\0" * big
    assert sum(counted) == big and len(counted) >= 2  # in chunks, not all at once


def test_to_sink_feeds_a_file_and_raises_with_stderr(tmp_path):
    source = tmp_path / "in.tar"
    source.write_bytes(b"abc")
    sink = io.BytesIO()
    execute.to_sink(Command(("cat",), stdin=source), sink)
    assert sink.getvalue() == b"abc"
    with pytest.raises(CommandFailed) as info:
        execute.to_sink(sh("printf partial; echo 'mysqldump: Got error' >&2; exit 2"), io.BytesIO())
    assert (info.value.returncode, info.value.stderr) == (2, "mysqldump: Got error\n")
    with pytest.raises(ValueError):
        execute.to_sink(Command(("cat",), stdin=b"data"), io.BytesIO())
    with pytest.raises(CommandTimedOut):
        execute.to_sink(sh("exec sleep 5", timeout=0.3), io.BytesIO())


def test_attached_returns_the_exit_code(capfd):
    assert execute.attached(sh("echo to the terminal; exit 7")) == 7
    assert capfd.readouterr().out == "to the terminal\n"
    with pytest.raises(CommandTimedOut):
        execute.attached(sh("exec sleep 5", timeout=0.3))


def test_a_command_is_data():
    one = Command(("docker", "ps"), timeout=5)
    assert one == Command(("docker", "ps"), timeout=5) and one != Command(("docker", "ps"))
    assert one.shown == "docker ps"
    with pytest.raises(AttributeError):
        one.argv = ("rm",)  # frozen


def test_output_is_text_with_universal_newlines_and_bad_bytes_replaced():
    result = execute.run(sh(r"printf 'a\r\nb\rc\n\377\n'"))
    assert result.stdout == "a\nb\nc\n\ufffd\n"
