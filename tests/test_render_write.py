"""Writing a stack: file modes, files that become the person's, and djstack's block inside the
project's own .gitignore and .dockerignore — as `djstack init` leaves them on disk."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest

from helpers import C_LOCALE_ENV
from djstack import render
from djstack.errors import DjstackError
from djstack.initialise import run_init
from djstack.model import StackOptions

#: Written once, then the person's to edit (a later init keeps them, forced or not).
THEIRS = ("compose/web/apt-packages.txt", "compose/web/build-hook.sh")
EXECUTABLE = ("compose/web/entrypoint.sh", "compose/web/build-hook.sh")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def init(root, force=False):
    return run_init(root, StackOptions(), force=force)


def test_modes_private_env_executable_scripts_readable_rest(example_copy):
    _, results = init(example_copy)
    written = {r.path for r in results}
    assert mode(example_copy / ".env") == 0o600
    for rel in EXECUTABLE:
        assert mode(example_copy / rel) == 0o755, rel
    for rel in written - set(EXECUTABLE) - {".env", ".gitignore", ".dockerignore"}:
        assert mode(example_copy / rel) == 0o644, rel


@pytest.mark.parametrize("force", [False, True])
def test_files_that_are_the_persons_are_kept_even_when_forced(example_copy, force):
    init(example_copy)
    for rel in THEIRS:
        (example_copy / rel).write_text((example_copy / rel).read_text() + "# mine\n")
    _, results = init(example_copy, force=force)
    actions = {r.path: r.action for r in results}
    assert all(actions[rel] == "kept" for rel in THEIRS)
    assert all((example_copy / rel).read_text().endswith("# mine\n") for rel in THEIRS)
    assert not any((example_copy / f"{rel}.bak").exists() for rel in THEIRS)
    assert set(actions.values()) == {"unchanged", "kept"}


def test_every_conflicting_file_is_named_and_none_is_written(example_copy):
    init(example_copy)
    edited = ["compose/nginx/nginx.conf", "compose/web/uwsgi.ini"]
    for rel in edited:
        (example_copy / rel).write_text("# mine\n")
    with pytest.raises(DjstackError) as caught:
        init(example_copy)
    assert caught.value.message == ("These files exist and differ from what djstack would write: "
                                    "compose/nginx/nginx.conf, compose/web/uwsgi.ini. Nothing was written.")
    assert caught.value.fix == ("Keep your edits (no action needed), or run `djstack init --force` to replace "
                                "them; each replaced file is kept as FILE.bak.")
    assert all((example_copy / rel).read_text() == "# mine\n" for rel in edited)


def block_of(text: str) -> str:
    """djstack's managed block in an ignore file, its marker lines included."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("# >>> djstack"))
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("# <<< djstack"))
    return "".join(lines[start:end + 1])


@pytest.mark.parametrize("name", [".gitignore", ".dockerignore"])
@pytest.mark.parametrize("own", ["node_modules/\n*.log", "*.logX\n\n", "spaced/ \t\n"])
def test_the_block_is_appended_after_the_projects_lines(example_copy, name, own):
    (example_copy / name).write_text(own)  # with or without final newlines: one blank line before the block
    _, results = init(example_copy)
    text = (example_copy / name).read_text()
    block = block_of(text)
    assert text == own.rstrip("\n") + "\n\n" + block
    assert {r.path: r.action for r in results}[name] == "updated"  # the project's file, with the block added


@pytest.mark.parametrize("name", [".gitignore", ".dockerignore"])
@pytest.mark.parametrize("after", ["after\n", "  indented\n", "Xfiles/\n"])
def test_a_changed_block_is_rewritten_in_place_keeping_lines_around_it(example_copy, name, after):
    init(example_copy)
    path = example_copy / name
    block = block_of(path.read_text())
    inside = block.splitlines(keepends=True)
    stale = "".join([inside[0], "stale-entry\n", inside[-1]])
    path.write_text("before\n" + stale + "\n\n" + after)
    _, results = init(example_copy)
    assert path.read_text() == "before\n" + block + after
    assert {r.path: r.action for r in results}[name] == "updated"


def test_an_ignore_file_that_is_only_the_block_stays_so(example_copy):
    (example_copy / ".dockerignore").unlink(missing_ok=True)
    init(example_copy)
    text = (example_copy / ".dockerignore").read_text()
    assert text == block_of(text)
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_a_block_start_without_its_end_is_left_and_the_block_appended(example_copy):
    """A cut block (its end line deleted) is no block: nothing of the person's is taken as djstack's."""
    init(example_copy)
    path = example_copy / ".gitignore"
    block = block_of(path.read_text())
    start = block.splitlines(keepends=True)[0]
    path.write_text("mine\n" + start + "also-mine\n")
    init(example_copy)
    assert path.read_text() == "mine\n" + start + "also-mine\n\n" + block


def markers(root):
    """djstack's block's first and last lines, as init writes them."""
    lines = block_of((root / ".gitignore").read_text()).splitlines(keepends=True)
    return lines[0], lines[-1]


def test_the_block_is_the_rendered_lines_between_the_markers(example_copy):
    stack, _ = init(example_copy)
    (rendered,) = [o.content for o in render.render(stack) if o.path == ".gitignore"]
    start, end = markers(example_copy)
    assert block_of((example_copy / ".gitignore").read_text()) == start + rendered.strip("\n") + "\n" + end


def test_a_block_at_the_second_character_is_still_found(example_copy):
    init(example_copy)
    path = example_copy / ".gitignore"
    block = block_of(path.read_text())
    path.write_text("\n" + block)
    init(example_copy)
    assert path.read_text() == "\n" + block


def test_end_markers_outside_the_block_are_the_persons(example_copy):
    """An end marker before the block, or a second one after it, does not move the block's end."""
    init(example_copy)
    path = example_copy / ".gitignore"
    block = block_of(path.read_text())
    start, end = markers(example_copy)
    stale = start + "stale\n" + end
    path.write_text(end + "mine\n" + stale + "also mine\n" + end)
    init(example_copy)
    assert path.read_text() == end + "mine\n" + block + "also mine\n" + end


def test_lines_after_a_cut_blocks_start_survive_a_second_init(example_copy):
    init(example_copy)
    path = example_copy / ".gitignore"
    block = block_of(path.read_text())
    start, _ = markers(example_copy)
    path.write_text("mine\n" + start + "also-mine\n")
    init(example_copy)
    init(example_copy)
    text = path.read_text()
    assert "also-mine\n" in text and text.count(block) == 1
    init(example_copy)
    assert path.read_text() == text  # settled: the stray marker stays the person's text


def test_each_forced_replacement_keeps_a_backup_with_the_files_mode(example_copy):
    init(example_copy)
    entry, env = example_copy / "compose/web/entrypoint.sh", example_copy / ".env"
    for n in range(3):
        entry.write_text(entry.read_text() + f"# edit {n}\n")
        env.write_text(env.read_text() + f"# note {n}\n")
        init(example_copy, force=True)
    assert [p.name for p in sorted(entry.parent.glob("entrypoint.sh.bak*"))] == [
        "entrypoint.sh.bak", "entrypoint.sh.bak.1", "entrypoint.sh.bak.2"]
    assert (entry.parent / "entrypoint.sh.bak.2").read_text().endswith("# edit 2\n")
    assert all(mode(p) == 0o755 for p in entry.parent.glob("entrypoint.sh.bak*"))
    # A backup of .env holds the secrets: as private as .env itself.
    assert sorted(mode(p) for p in example_copy.glob(".env.bak*")) == [0o600, 0o600, 0o600]


def test_init_reads_its_own_files_under_a_locale_that_is_not_utf8(example_copy):
    """The generated files hold non-ASCII text (comments): a second and a forced init read them back
    as UTF-8 whatever the locale (here ASCII: the C locale, UTF-8 mode off), as the first wrote them."""
    init(example_copy)
    (example_copy / "Dockerfile").write_text((example_copy / "Dockerfile").read_text() + "# édité\n")
    script = ("import sys; from pathlib import Path; from djstack.initialise import run_init; "
              "from djstack.model import StackOptions\n"
              "_, results = run_init(Path(sys.argv[1]), StackOptions(), force=True)\n"
              "print(sorted({r.action for r in results}))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(example_copy)], env=C_LOCALE_ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['replaced', 'unchanged']"
    assert (example_copy / "Dockerfile.bak").read_text(encoding="utf-8").endswith("# édité\n")
    # In this process too (which is what ties the test to these functions for mutation testing).
    (example_copy / "Dockerfile").write_text((example_copy / "Dockerfile").read_text() + "# encore\n")
    _, results = init(example_copy, force=True)
    assert {r.action for r in results} == {"unchanged", "replaced"}
