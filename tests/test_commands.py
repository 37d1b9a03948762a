"""Every command djstack runs, compared as data; the in-container scripts run on this host against
stand-in programs (a fake mysql that prints what it was given), so quoting and exit codes are real."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from djstack import execute
from djstack.commands import compose as cc
from djstack.commands import db, docker as dc, host, in_container_script, shell, web
from djstack.compose import parse_ps, ps_rows
from djstack.execute import Command

ROOT = Path("/srv/shop/djstack")
PROJECT = cc.Project(ROOT)
PREFIX = ("docker", "compose", "--project-directory", str(ROOT), "-f", f"{ROOT}/docker-compose.yml")


def tail(command: Command) -> tuple[str, ...]:
    """The arguments after `docker compose --project-directory … -f …`."""
    assert command.argv[: len(PREFIX)] == PREFIX
    return command.argv[len(PREFIX):]


# --------------------------------------------------------------------------- compose


def test_compose_commands_run_in_the_stack_folder_with_its_files_and_overrides():
    bench = cc.Project(ROOT, ("docker-compose.yml", "bench.yml"), {"WEB_RELEASE": "v2"})
    command = cc.up(bench)
    assert command.argv == ("docker", "compose", "--project-directory", str(ROOT), "-f", f"{ROOT}/docker-compose.yml",
                            "-f", f"{ROOT}/bench.yml", "up", "--detach")
    assert (command.cwd, dict(command.env), command.timeout, command.stdin) == (ROOT, {"WEB_RELEASE": "v2"}, None, None)
    assert cc.ps(PROJECT).env == {}


def test_lifecycle_and_deploy_steps():
    assert tail(cc.ps(PROJECT)) == ("ps", "--all", "--format", "json")
    assert tail(cc.container_ids(PROJECT)) == ("ps", "--all", "--quiet")
    assert tail(cc.build(PROJECT)) == ("--progress", "plain", "build")
    assert tail(cc.build(PROJECT, ["web"])) == ("--progress", "plain", "build", "web")
    assert tail(cc.start_missing(PROJECT)) == ("up", "--detach", "--no-build", "--no-recreate")
    assert cc.start_missing(PROJECT).timeout == 300
    scale = cc.scale_up(PROJECT, "web", 2)
    assert tail(scale) == ("up", "--detach", "--no-deps", "--no-recreate", "--scale", "web=2", "web")
    assert scale.timeout == 600
    assert (tail(cc.stop(PROJECT, "web")), cc.stop(PROJECT, "web").timeout) == (("stop", "web"), 120)
    assert tail(cc.down(PROJECT, volumes=False)) == ("down", "--remove-orphans")
    assert tail(cc.down(PROJECT, volumes=True)) == ("down", "--remove-orphans", "--volumes")
    assert tail(cc.logs(PROJECT, "web", 300, "2026-12-01T10:00:00Z", timeout=60)) == (
        "logs", "--no-color", "--no-log-prefix", "--tail", "300", "--since", "2026-12-01T10:00:00Z", "web")
    assert tail(cc.logs(PROJECT, "db", 30)) == ("logs", "--no-color", "--no-log-prefix", "--tail", "30", "db")
    assert tail(cc.show_logs(PROJECT, None, "200", follow=True)) == ("logs", "--tail", "200", "--follow")
    assert tail(cc.show_logs(PROJECT, "nginx", "all", follow=False)) == ("logs", "--tail", "all", "nginx")


def test_exec_is_without_a_terminal_unless_asked():
    assert tail(cc.exec(PROJECT, "web", ["id"])) == ("exec", "-T", "web", "id")
    assert cc.exec(PROJECT, "web", ["id"]).timeout == 120
    assert tail(cc.exec(PROJECT, "web", ["sh"], tty=True)) == ("exec", "web", "sh")
    assert tail(web.manage(PROJECT, "web", ["shell"], tty=False)) == ("exec", "-T", "web", "python", "manage.py", "shell")
    assert web.manage(PROJECT, "web", ["shell"], tty=True).timeout is None


def test_web_and_nginx_steps():
    assert tail(web.probe(PROJECT, "web", "/srv/djstack/probe.py")) == ("exec", "-T", "web", "python", "/srv/djstack/probe.py")
    assert tail(web.stylesheets(PROJECT, "web", "/srv/static-build")) == (
        "exec", "-T", "web", "find", "/srv/static-build", "-type", "f", "-name", "*.css")
    plan = web.migration_plan(PROJECT, "web", "/srv/djstack/migration_plan.py")
    assert tail(plan) == ("run", "--rm", "--no-deps", "-T", "web", "python", "/srv/djstack/migration_plan.py")
    assert plan.timeout == 600
    migrate = web.migrate(PROJECT, "web")
    assert tail(migrate) == ("run", "--rm", "--no-deps", "-T", "web", "python", "manage.py", "migrate", "--noinput")
    assert migrate.timeout == 3600
    prune = web.prune_static(PROJECT, "web", "/srv/djstack/prune_static.py", "[{}]")
    assert (tail(prune), prune.stdin, prune.timeout) == (
        ("exec", "-T", "web", "python", "/srv/djstack/prune_static.py"), "[{}]", 300)
    assert tail(web.nginx_test(PROJECT, "nginx")) == ("exec", "-T", "nginx", "nginx", "-t")
    assert tail(web.nginx_reload(PROJECT, "nginx")) == ("exec", "-T", "nginx", "nginx", "-s", "reload")
    assert web.nginx_reload(PROJECT, "nginx").timeout == 60


def test_doctor_probes():
    tcp = web.tcp_open(PROJECT, "nginx", "web", 8000)
    assert tail(tcp)[:5] == ("exec", "-T", "nginx", "bash", "-c") and tail(tcp)[6:] == ("bash", "web", "8000")
    assert tcp.timeout == 30
    django = web.django_probes(PROJECT, "web", "/srv/djstack/probe.py")
    assert tail(django)[:5] == ("exec", "-T", "web", "python", "-c")
    assert tail(django)[6:] == ("/srv/djstack/probe.py",) and django.timeout == 120
    assert tail(web.count_files(PROJECT, "nginx", "/srv/static"))[-2:] == ("sh", "/srv/static")
    assert tail(web.media_writable(PROJECT, "web", "/srv/media"))[-2:] == ("sh", "/srv/media")
    ping = web.celery_ping(PROJECT, "web", "config.celery_app")
    assert tail(ping) == ("exec", "-T", "web", "celery", "-A", "config.celery_app", "inspect", "ping", "--json",
                          "--timeout", "5")
    assert ping.timeout == 45  # longer than Celery's own wait for the replies
    queue = web.queue_length(PROJECT, "broker", "app")
    assert tail(queue) == ("exec", "-T", "broker", "redis-cli", "--user", "app", "-n", "0", "LLEN", "celery")


def test_background_services_are_recreated_on_a_release():
    recreate = cc.recreate(cc.Project(ROOT, env={"WEB_RELEASE": "v2"}), ["worker", "beat"], timeout=630)
    assert tail(recreate) == ("up", "--detach", "--no-deps", "--no-build", "--force-recreate", "worker", "beat")
    assert (recreate.timeout, dict(recreate.env)) == (630, {"WEB_RELEASE": "v2"})


# --------------------------------------------------------------------------- backup, restore, dbshell


def test_backup_and_restore_commands():
    dump = db.dump(PROJECT, "db")
    assert tail(dump)[:4] == ("exec", "-T", "db", "sh") and dump.timeout is None and dump.stdin is None
    load = db.load(PROJECT, "db", Path("/tmp/x/db.sql"))
    assert load.stdin == Path("/tmp/x/db.sql") and tail(load)[:4] == ("exec", "-T", "db", "sh")
    count = db.count_rows(PROJECT, "db", ["auth_user", "shop_order"])
    assert count.stdin == "SELECT COUNT(*) FROM `auth_user` UNION ALL SELECT COUNT(*) FROM `shop_order`;\n"
    assert count.timeout == 600
    assert tail(db.media_size(PROJECT, "web", "/srv/media")) == ("exec", "-T", "web", "du", "-sb", "/srv/media")
    assert tail(db.media_tar(PROJECT, "web", "/srv/media")) == ("exec", "-T", "web", "tar", "-C", "/srv/media", "-c", ".")
    media = db.replace_media(PROJECT, "web", "/srv/media", Path("/tmp/x/media.tar"))
    argv = tail(media)
    assert argv[:7] == ("run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", "web")  # as web's user
    assert argv[7] == "-c" and argv[9:] == ("sh", "/srv/media")
    assert media.stdin == Path("/tmp/x/media.tar")
    assert tail(db.dbshell(PROJECT, "db", tty=True))[:3] == ("exec", "db", "sh")
    assert tail(db.dbshell(PROJECT, "db", tty=False))[:4] == ("exec", "-T", "db", "sh")


# --------------------------------------------------------------------------- docker and host programs


def test_docker_commands():
    assert dc.server_version().argv == ("docker", "version", "--format", "{{json .Server}}")
    assert dc.compose_version().argv == ("docker", "compose", "version", "--short")
    assert dc.images("shop-web").argv == ("docker", "image", "ls", "--no-trunc", "--format", "{{json .}}", "shop-web")
    assert dc.remove_image("shop-web:v1").argv == ("docker", "image", "rm", "shop-web:v1")
    assert dc.inspect("a", "b").argv == ("docker", "inspect", "a", "b")
    assert dc.release_label("c").argv == ("docker", "inspect", "--format",
                                          '{{index .Config.Labels "org.djstack.release"}}', "c")
    assert dc.container_image("c").argv == ("docker", "inspect", "--format", "{{.Image}}", "c")
    assert dc.healthcheck_config("c").argv == ("docker", "inspect", "--format", "{{json .Config.Healthcheck}}", "c")
    assert dc.container_logs("c").argv == ("docker", "logs", "--tail", "60", "c")
    assert dc.remove_container("c", force=True).argv == ("docker", "rm", "--force", "c")
    assert dc.remove_container("c", force=False) == Command(("docker", "rm", "c"), timeout=60)
    assert dc.stop_container("c", 30) == Command(("docker", "stop", "--time", "30", "c"), timeout=90)
    assert dc.exec_in("c", ["curl", "-f", "x"]).argv == ("docker", "exec", "c", "curl", "-f", "x")
    assert dc.read_from_image("shop-web:v1", "/srv/s/staticfiles.json").argv == (
        "docker", "run", "--rm", "--cap-drop", "ALL", "--network", "none", "--read-only", "--entrypoint", "cat",
        "shop-web:v1", "/srv/s/staticfiles.json")
    assert dc.import_rootfs(Path("/t/r.tar"), "img", ["ENV A=1", 'CMD ["bash"]'], "msg", 99) == Command(
        ("docker", "import", "--change", "ENV A=1", "--change", 'CMD ["bash"]', "--message", "msg", "/t/r.tar", "img"),
        timeout=99)
    assert dc.build_image("x", "b", "trixie", (), "http://m", Path("/ctx"), 5).argv[-3:] == ("--tag", "x", "/ctx")


def test_host_commands():
    assert host.git_head(Path("/p")) == Command(("git", "-C", "/p", "rev-parse", "--short=12", "HEAD"), timeout=30)
    assert host.git_changes(Path("/p")).argv == ("git", "-C", "/p", "status", "--porcelain")
    assert host.openssl("x509", "-in", "c.pem") == Command(("openssl", "x509", "-in", "c.pem"), timeout=60)
    assert host.pack_tree(Path("/r"), Path("/t.tar")).argv == (
        "tar", "--numeric-owner", "-C", "/r", "-cf", "/t.tar", ".")
    assert host.unmount("/r/proc").argv == ("umount", "-l", "/r/proc")
    boot = host.debootstrap("/usr/sbin/debootstrap", "trixie", Path("/r"), "http://m", {"LC_ALL": "C"})
    assert (boot.argv[::3], boot.stdin, dict(boot.env)) == (("/usr/sbin/debootstrap", "trixie"), b"", {"LC_ALL": "C"})


# --------------------------------------------------------------------------- compose ps


def test_parse_ps_reads_both_formats_compose_prints():
    row = ('{"Service":"web","Name":"shop-web-1","State":"exited","Health":"","ExitCode":3,'
           '"Publishers":[{"URL":"127.0.0.1","PublishedPort":8080,"TargetPort":80}]}')
    other = '{"Service":"db","Name":"shop-db-1","State":"running","Health":"healthy","ExitCode":0,"Publishers":null}'
    lines, array = f"{row}\n{other}\n", f"[{row},{other}]"
    assert ps_rows(lines) == ps_rows(array) and ps_rows(array)[0]["Name"] == "shop-web-1"
    states = parse_ps(array)
    assert parse_ps(lines) == states
    assert [(s.service, s.container, s.state, s.health, s.exit_code) for s in states] == [
        ("web", "shop-web-1", "exited", "", 3), ("db", "shop-db-1", "running", "healthy", 0)]
    assert states[0].publishers == ({"URL": "127.0.0.1", "PublishedPort": 8080, "TargetPort": 80},)
    assert states[1].publishers == ()
    assert parse_ps("") == parse_ps("  \n") == []


# --------------------------------------------------------------------------- the scripts, run


def test_scripts_are_files_shipped_in_the_package():
    folder = Path(__file__).parents[1] / "src" / "djstack" / "incontainer"
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"incontainer/*"' in pyproject
    for path in folder.iterdir():
        if path.suffix in (".sh", ".bash", ".py"):
            assert not in_container_script(path.name).startswith("#"), path.name  # the comments are for people
    assert shell("tcp-open.bash", "web", "8000")[0] == "bash"


@pytest.fixture
def fakes(tmp_path):
    """A PATH whose mysql and mysqldump print their arguments, MYSQL_PWD and stdin."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("mysql", "mysqldump"):
        program = bin_dir / name
        program.write_text(f'#!/bin/sh\necho "{name} pwd=$MYSQL_PWD"; for a in "$@"; do echo "arg=$a"; done\n'
                           'if [ ! -t 0 ]; then sed "s/^/in=/"; fi\n')
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "MYSQL_ROOT_PASSWORD": "r$oot'pw", "MYSQL_PASSWORD": "app pw",
            "MYSQL_USER": "shop", "MYSQL_DATABASE": "shop db"}


def run_here(argv: tuple[str, ...], env: dict, stdin: str = "", cwd: Path | None = None):
    return subprocess.run(argv, env={**os.environ, **env}, input=stdin, capture_output=True, text=True, cwd=cwd)


def test_dump_runs_mysqldump_as_root_with_the_containers_password(fakes):
    out = run_here(shell("db-dump.sh"), fakes).stdout.splitlines()
    assert out[0] == "mysqldump pwd=r$oot'pw"
    assert out[1:] == [f"arg={a}" for a in ("-uroot", "--single-transaction", "--routines", "--triggers", "--events",
                                            "--hex-blob", "--default-character-set=utf8mb4", "shop db")]
    assert run_here(shell("db-version.sh"), fakes).stdout.splitlines()[1:] == [
        "arg=-uroot", "arg=-N", "arg=-B", "arg=-e", "arg=SELECT VERSION()"]
    tables = run_here(shell("db-tables.sh"), fakes).stdout.splitlines()
    assert tables[-1] == ("arg=SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='shop db' "
                          "AND TABLE_TYPE='BASE TABLE'")


def test_load_recreates_the_database_then_reads_the_dump(fakes):
    out = run_here(shell("db-load.sh"), fakes, stdin="INSERT 1;\n").stdout.splitlines()
    assert out[:4] == ["mysql pwd=r$oot'pw", "arg=-uroot", "arg=-e",
                       "arg=DROP DATABASE IF EXISTS `shop db`; CREATE DATABASE `shop db` CHARACTER SET utf8mb4 "
                       "COLLATE utf8mb4_unicode_ci"]
    # The first mysql is a stand-in reading stdin too: the real one reads none with -e.
    assert out[-4:] == ["mysql pwd=r$oot'pw", "arg=-uroot", "arg=--default-character-set=utf8mb4", "arg=shop db"]
    query = run_here(shell("db-query.sh"), fakes, stdin="SELECT 1;\n").stdout.splitlines()
    assert query == ["mysql pwd=r$oot'pw", "arg=-uroot", "arg=-N", "arg=-B", "arg=shop db", "in=SELECT 1;"]


def test_dbshell_is_the_applications_user_over_tcp(fakes):
    out = run_here(shell("dbshell.sh"), fakes).stdout.splitlines()
    assert out == ["mysql pwd=app pw", "arg=-h", "arg=127.0.0.1", "arg=-u", "arg=shop", "arg=shop db"]


def test_a_failing_load_exits_non_zero(fakes, tmp_path):
    (tmp_path / "bin" / "mysql").write_text("#!/bin/sh\necho 'ERROR 1045' >&2; exit 1\n")
    proc = run_here(shell("db-load.sh"), fakes)
    assert proc.returncode == 1 and "ERROR 1045" in proc.stderr


def test_media_is_replaced_through_a_staging_folder(tmp_path):
    media = tmp_path / "media folder"
    (media / "old").mkdir(parents=True)
    (media / "old" / "gone.png").write_text("old")
    source = tmp_path / "src"
    (source / "uploads").mkdir(parents=True)
    (source / "uploads" / "a.png").write_text("a")
    (source / "b.txt").write_text("b")
    tar = subprocess.run(["tar", "-C", str(source), "-c", "."], capture_output=True, check=True).stdout
    argv = db.replace_media(PROJECT, "web", str(media), tmp_path / "unused").argv
    proc = subprocess.run(("sh", *argv[argv.index("-c"):]), input=tar, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().split() == ["2"]
    assert sorted(str(p.relative_to(media)) for p in media.rglob("*")) == ["b.txt", "uploads", "uploads/a.png"]
    bad = subprocess.run(("sh", *argv[argv.index("-c"):]), input=b"not a tar", capture_output=True)
    assert bad.returncode != 0
    assert (media / "b.txt").exists()  # a bad tar stops before anything is deleted


def test_media_writable_and_file_count(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    assert run_here(shell("media-writable.sh", str(folder)), {}).returncode == 0
    assert list(folder.iterdir()) == []  # its probe file is removed
    missing = run_here(shell("media-writable.sh", str(tmp_path / "nowhere")), {})
    assert missing.returncode == 1 and "uid=" in missing.stdout
    (folder / "a").write_text("")
    (folder / "sub").mkdir()
    (folder / "sub" / "b").write_text("")
    assert run_here(shell("count-files.sh", str(folder)), {}).stdout.strip() == "2"


def test_process_listing_names_each_pid_and_its_command_line():
    lines = run_here(shell("nginx-workers.sh"), {}).stdout.splitlines()
    mine = [line for line in lines if line.startswith(f"{os.getpid()} ")]
    assert len(mine) == 1 and "python" in mine[0] and "pytest" in mine[0]


def test_tcp_probe_opens_only_a_listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert run_here(shell("tcp-open.bash", "127.0.0.1", str(port)), {}).returncode == 0
    refused = run_here(shell("tcp-open.bash", "127.0.0.1", str(port)), {})
    assert refused.returncode != 0 and refused.stderr.startswith("bash: ")


def test_the_executor_runs_a_built_command(tmp_path):
    """The same Command value the callers build goes through the executor unchanged."""
    (tmp_path / "f").write_text("")
    assert execute.run(Command(shell("count-files.sh", str(tmp_path)))).stdout.strip() == "1"


# --------------------------------------------------------------------------- the engine checks


@pytest.fixture
def answers(monkeypatch):
    """execute.run answering docker's version commands from a dict: argv → (code, stdout, stderr)."""
    table: dict[tuple[str, ...], tuple[int, str, str]] = {}

    def run(command, *, check=True):
        code, out, err = table[command.argv]
        return execute.Result(command.argv, code, out, err)

    monkeypatch.setattr(execute, "run", run)
    return table


def test_engine_version_or_why_it_is_unreachable(answers):
    from djstack import docker
    from djstack.errors import EngineUnreachable

    answers[dc.server_version().argv] = (0, '{"Version": "20.10.24"}', "")
    assert docker.require_engine.__wrapped__() == "20.10.24"
    answers[dc.server_version().argv] = (1, "", "Client: x\npermission denied while trying to connect\n")
    with pytest.raises(EngineUnreachable) as info:
        docker.require_engine.__wrapped__()
    assert info.value.reason == "permission denied while trying to connect"
    answers[dc.server_version().argv] = (0, "null", "")
    with pytest.raises(EngineUnreachable):
        docker.require_engine.__wrapped__()


def test_compose_v2_or_how_to_get_it(answers):
    from djstack import docker
    from djstack.errors import EngineMissing

    answers[dc.compose_version().argv] = (0, "v2.20.2\n", "")
    assert docker.require_compose.__wrapped__() == "2.20.2"
    answers[dc.compose_version().argv] = (0, "1.29.2\n", "")
    with pytest.raises(EngineMissing, match=r"\(found 1.29.2\)"):
        docker.require_compose.__wrapped__()
    answers[dc.compose_version().argv] = (125, "", "docker: 'compose' is not a docker command.")
    with pytest.raises(EngineMissing, match=r"is not installed\.$"):
        docker.require_compose.__wrapped__()
    answers[dc.image_inspect("x").argv] = (1, "", "No such image")
    assert not docker.image_exists("x")
