"""The errors callers tell apart by type and field, raised where the problem is found, and what doctor
says with them: no engine needed (a stand-in Compose, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import unique_name

from djstack import doctor, lifecycle
from djstack.detect import detect
from djstack.doctor.diagnose import container_findings
from djstack.doctor.facts import Container
from djstack.doctor.signatures import finding_for, placeholders
from djstack.errors import ENGINE_START_HINT, EngineUnreachable, NoStack, NotDjangoProject, StackUnhealthy
from djstack.initialise import load_initialised, run_init
from djstack.model import StackOptions


def init(root: Path):
    stack, _ = run_init(root, StackOptions(image_source="debian", name=unique_name("djstack-err")), force=False)
    return stack


def test_doctor_without_an_engine_gives_the_reason_as_evidence(example_copy, monkeypatch):
    init(example_copy)
    said = "Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?"

    def unreachable(folder, **kw):
        raise EngineUnreachable(said)

    monkeypatch.setattr(doctor, "Compose", unreachable)
    finding, = doctor.run_doctor(example_copy).findings
    assert finding.id == "engine-unreachable"
    assert finding.evidence == [said]  # not the title again
    assert finding.fix == EngineUnreachable(said).fix == ENGINE_START_HINT


def test_folders_that_are_not_one_django_project(tmp_path, example_copy):
    with pytest.raises(NotDjangoProject) as raised:
        detect(tmp_path / "nowhere")
    assert raised.value.message == f"{tmp_path / 'nowhere'} is not a folder."
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotDjangoProject, match="is not a Django project: no manage.py") as raised:
        detect(tmp_path / "empty")
    assert raised.value.folder == tmp_path / "empty"
    for name in ("one", "two"):
        (tmp_path / "many" / name).mkdir(parents=True)
        (tmp_path / "many" / name / "manage.py").write_text("")
    with pytest.raises(NotDjangoProject, match=r"holds several Django projects \(one/manage.py, two/manage.py\)"):
        detect(tmp_path / "many")


def test_a_project_without_a_stack(example_copy):
    with pytest.raises(NoStack) as raised:
        load_initialised(example_copy)
    assert raised.value.message == (f"{example_copy} has no djstack stack yet (docker-compose.yml, .env missing).")
    assert raised.value.fix == f"Run `djstack init {example_copy}` first."


class SiteDown:
    """A Compose whose web logs say why the site does not answer."""

    def logs(self, service: str, lines: int) -> str:
        return "ImportError: shop"


def test_a_site_that_does_not_answer_is_an_unhealthy_stack(example_copy, monkeypatch):
    stack = init(example_copy)
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: None)
    with pytest.raises(StackUnhealthy) as raised:
        lifecycle.smoke_check(stack, SiteDown())
    assert raised.value.message.startswith(f"The site answered nothing at {stack.base_url} through nginx.")
    assert raised.value.fix == "Run `djstack doctor` for a diagnosis."


def test_a_failed_build_names_the_command_to_run_again(example_copy, tmp_path):
    stack = init(example_copy)
    log = tmp_path / "build.log"
    log.write_text("#9 ERROR: pip failed\n")
    assert lifecycle.build_failure(stack, log).fix == "Fix the error shown above, then run `djstack up` again."
    assert lifecycle.build_failure(stack, log, rerun="djstack deploy").fix == \
        "Fix the error shown above, then run `djstack deploy` again."


def test_doctor_names_stack_files_from_the_project_root(example_copy):
    (example_copy / "Dockerfile").write_text("# the project's own\n")  # the stack goes to djstack/
    stack = init(example_copy)
    assert stack.stack_dir == "djstack"
    values = placeholders(stack)
    assert (values["compose"], values["nginx_conf"], values["uwsgi_ini"]) == (
        "djstack/docker-compose.yml", "djstack/compose/nginx/nginx.conf", "djstack/compose/web/uwsgi.ini")
    assert "network in djstack/docker-compose.yml" in finding_for("nginx-upstream-unresolved", values, [], "nginx").fix
    db = Container(service="db", state="exited", health="", exit_code=137, restarts=1, oom_killed=True,
                   started_at="2026-11-23T23:00:00.1Z", restart_policy="unless-stopped", memory_limit=64 * 2**20,
                   health_output="")
    oom, = [f for f in container_findings("db", "db", db, {}, values) if f.id == "oom-killed"]
    assert "mem_limit in djstack/docker-compose.yml" in oom.fix and "in djstack/compose/web/uwsgi.ini" in oom.fix


def test_a_missing_or_short_secret_is_a_bad_env_entry_naming_its_key(example_copy):
    from djstack import lifecycle
    from djstack.envfile import read_env
    from djstack.errors import BadEnvEntry

    stack = init(example_copy)
    recorded = read_env(stack.env_path)
    with pytest.raises(BadEnvEntry) as missing:
        lifecycle.validate_env(stack, {**recorded, "REDIS_PASSWORD": ""})
    assert (missing.value.key, missing.value.message) == (
        "REDIS_PASSWORD", f"{stack.env_path}: REDIS_PASSWORD is missing or empty.")
    with pytest.raises(BadEnvEntry) as short:
        lifecycle.validate_env(stack, {**recorded, "MYSQL_PASSWORD": "x" * 5})
    assert (short.value.key, short.value.message) == (
        "MYSQL_PASSWORD", f"{stack.env_path}: MYSQL_PASSWORD is only 5 characters long.")
    # The example has Celery: the broker's password is one of its secrets (a stack without it has none).
    with pytest.raises(BadEnvEntry) as broker:
        lifecycle.validate_env(stack, {**recorded, "BROKER_PASSWORD": ""})
    assert broker.value.key == "BROKER_PASSWORD"
