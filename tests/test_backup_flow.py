"""backup and restore against a stand-in engine: real archives from the bytes the commands give,
and what a failing step says."""

from __future__ import annotations

import io
import tarfile

import pytest

from fake_engine import FakeEngine, ps_json, stack, with_workers  # noqa: F401 (stack: a fixture)
from djstack.backup import archive, run
from djstack.errors import DjstackError

DUMP = b"CREATE TABLE shop (id int);\nINSERT INTO shop VALUES (1);\n-- Dump completed on 2026-12-01\n"
ALL_UP = ps_json(*((s, "running", "healthy") for s in ("web", "nginx", "db", "redis")))


def media_tar(*names: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(f"./{name}")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"png"))
    return out.getvalue()


@pytest.fixture
def engine(monkeypatch, stack):
    monkeypatch.setattr(run.time, "sleep", lambda seconds: None)
    engine = FakeEngine(monkeypatch)
    engine.on("ps", "--all", "--format", "json", stdout=ALL_UP)
    engine.on("exec", "-T", "db", "sh", stdout=DUMP)  # the dump, and any other mysql unless told
    engine.on("exec", "-T", "web", "du", "-sb", stdout="6\t/srv/media\n")
    engine.on("exec", "-T", "web", "tar", stdout=media_tar("a.png", "b.png"))
    return engine


def db_script(name: str) -> tuple[str, ...]:
    """The words that pick out one of db's scripts (its text is sh -c's argument)."""
    from djstack.commands import in_container_script

    return ("db", "sh", "-c", in_container_script(name))


def test_backup_writes_one_verified_archive_of_the_dump_and_the_media(stack, engine, tmp_path):
    engine.on(*db_script("db-version.sh"), stdout="11.4.2-MariaDB\n")
    result = run.backup(stack, tmp_path / "backups")
    (tmp_path / "out").mkdir()
    assert (result.dump_size, result.media_files, result.deleted) == (len(DUMP), 2, ())
    verified = archive.verify(result.path, extract_to=tmp_path / "out")
    assert verified.manifest["db_server_version"] == "11.4.2-MariaDB" and verified.project == "mysite"
    assert (tmp_path / "out" / archive.DUMP).read_bytes() == DUMP
    [listed] = run.list_backups(tmp_path / "backups")
    assert (listed.path, listed.problem) == (result.path, None)


def test_an_archive_that_does_not_verify_is_listed_with_its_problem(stack, engine, tmp_path):
    folder = tmp_path / "backups"
    good = run.backup(stack, folder).path
    good.write_bytes(good.read_bytes()[:200])
    [listed] = run.list_backups(folder)
    assert listed.problem.startswith("the archive is ") and str(good) not in listed.problem
    assert listed.created.endswith("(file time)")


def test_a_dump_cut_short_or_failing_writes_no_archive(stack, engine, tmp_path):
    engine.on("exec", "-T", "db", "sh", stdout=DUMP[:30])
    with pytest.raises(DjstackError, match="no 'Dump completed' line"):
        run.backup(stack, tmp_path / "backups")
    engine.on("exec", "-T", "db", "sh", code=2, stdout=b"", stderr="mysqldump: Got error: 1045: Access denied\n")
    with pytest.raises(DjstackError) as failed:
        run.backup(stack, tmp_path / "backups")
    assert failed.value.message == "mysqldump in db failed (exit 2):\nmysqldump: Got error: 1045: Access denied"
    assert failed.value.fix == "See `djstack logs db`. No archive was written."
    assert list((tmp_path / "backups").iterdir()) == []


def test_backup_needs_db_and_web_running(stack, engine, tmp_path):
    engine.on("ps", "--all", "--format", "json", stdout=ps_json(("web", "running", "healthy"), ("db", "exited", "")))
    with pytest.raises(DjstackError, match="The db service is not running"):
        run.backup(stack, tmp_path / "backups")


def test_restore_takes_a_safety_backup_then_replaces_database_and_media(stack, engine, tmp_path, monkeypatch):
    folder = tmp_path / "backups"
    made = run.backup(stack, folder).path
    engine.on("run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", stdout="2\n")
    engine.on(*db_script("db-tables.sh"), stdout="shop\nauth_user\n")
    engine.on(*db_script("db-query.sh"), stdout="5\n7\n")
    result = run.restore(stack, made, yes=True, allow_other_project=False, folder=folder)
    assert (result.tables, result.rows, result.media_files) == (2, 12, 2)
    assert result.safety.name.startswith("mysite-") and "pre-restore" in result.safety.name
    order = [c.argv[6:8] for c in engine.ran if c.argv[6:7] in (("stop",), ("up",), ("run",))]
    assert order == [("stop", "web"), ("run", "--rm"), ("up", "--detach")]
    load = engine.ran_with(*db_script("db-load.sh"))[0]
    assert load.stdin.name == archive.DUMP and load.stdin.parent.parent == folder
    counted = engine.ran_with(*db_script("db-query.sh"))[0]
    assert counted.stdin == "SELECT COUNT(*) FROM `shop` UNION ALL SELECT COUNT(*) FROM `auth_user`;\n"


def test_a_failed_load_says_the_stack_may_hold_a_partial_restore(stack, engine, tmp_path):
    folder = tmp_path / "backups"
    made = run.backup(stack, folder).path
    engine.on(*db_script("db-load.sh"), code=1, stderr="ERROR 1064 (42000) at line 1\n")
    with pytest.raises(DjstackError) as failed:
        run.restore(stack, made, yes=True, allow_other_project=False, folder=folder)
    assert failed.value.message == ("loading the dump failed (exit 1):\nERROR 1064 (42000) at line 1\n"
                                    "The stack may hold a partial restore.")
    assert failed.value.fix.startswith("Restore the safety backup: djstack restore ")
    assert engine.ran_with("up", "--detach", "--no-build", "--no-recreate")  # web is started again anyway


def test_restore_refuses_another_projects_archive_before_touching_anything(stack, engine, tmp_path):
    folder = tmp_path / "backups"
    made = run.backup(stack, folder).path
    other = folder / made.name.replace("mysite", "shop")
    (tmp_path / "x").mkdir()
    manifest = archive.verify(made, extract_to=tmp_path / "x").manifest
    archive.write_archive(other, {**manifest, "project": "shop"},
                          {archive.DUMP: tmp_path / "x" / archive.DUMP, archive.MEDIA: tmp_path / "x" / archive.MEDIA})
    ran = len(engine.ran)
    with pytest.raises(DjstackError, match="is a backup of project 'shop', not of 'mysite'"):
        run.restore(stack, other, yes=True, allow_other_project=False, folder=folder)
    assert len(engine.ran) == ran


def test_restore_stops_the_background_services_with_web(stack, engine, tmp_path):
    background = with_workers(stack)
    folder = tmp_path / "backups"
    made = run.backup(background, folder).path
    engine.on("run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", stdout="2\n")
    engine.on(*db_script("db-tables.sh"), stdout="shop\n")
    engine.on(*db_script("db-query.sh"), stdout="5\n")
    run.restore(background, made, yes=True, allow_other_project=False, folder=folder)
    stops = engine.ran_with("stop")
    assert [c.argv[-1] for c in stops] == ["web", "worker", "beat"]
    assert stops[1].timeout > background.workers.task_seconds  # a worker's warm shutdown finishes its tasks


def test_backup_says_queued_tasks_are_not_in_the_archive(stack, engine, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from djstack import cli, ui

    said: list[str] = []
    monkeypatch.setattr(ui, "ok", said.append)
    monkeypatch.setattr("djstack.initialise.load_initialised", lambda folder: with_workers(stack))
    result = CliRunner().invoke(cli.main, ["backup", str(stack.project.root), "--to", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert said[-1].endswith(run.NOT_IN_ARCHIVE) and "broker is no store of record" in said[-1]
    assert "Queued tasks" in run.NOT_IN_ARCHIVE
    helped = CliRunner().invoke(cli.main, ["backup", "--help"])
    assert "queued tasks" in helped.output and "store of" in helped.output
