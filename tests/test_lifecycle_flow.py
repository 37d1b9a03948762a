"""`djstack up` and `down` against a stand-in engine: the steps they run, in order, and what they
make of the answers (a failed build, a service that stops, a site that does not answer)."""

from __future__ import annotations

import json

import pytest

from fake_engine import FakeEngine, ps_json, stack, with_workers  # noqa: F401 (stack: a fixture)
from djstack import lifecycle
from djstack.compose import Compose
from djstack.envfile import read_env
from djstack.errors import BuildFailed, DjstackError, StackUnhealthy
from djstack.initialise import load_initialised


@pytest.fixture
def engine(monkeypatch, tmp_path):
    monkeypatch.setattr(lifecycle.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(lifecycle.tempfile, "tempdir", str(tmp_path))  # the build logs
    return FakeEngine(monkeypatch)


ALL_UP = ps_json(("web", "running", "healthy"), ("nginx", "running", "healthy"), ("db", "running", "healthy"),
            ("redis", "running", "healthy"))
PROBE_OK = json.dumps({"db": {"ok": True}, "cache": {"ok": True}})


def test_wait_ready_runs_each_healthcheck_itself_until_it_passes(stack, engine):
    engine.on("ps", "--all", "--format", "json", stdout=ps_json(("web", "running", "starting"), ("db", "running", "")))
    engine.on("inspect", "--format", "{{json .Config.Healthcheck}}", "mysite-web-1",
              stdout=json.dumps({"Test": ["CMD-SHELL", "curl -f localhost"]}))
    engine.on("docker", "exec", "mysite-web-1", code=1)
    engine.on("docker", "exec", "mysite-web-1", stdout=[lambda: (1, "", ""), lambda: (0, "", "")])
    progress: list[str] = []
    assert lifecycle.wait_ready(Compose(stack.dir), progress.append) is None
    assert progress == ["waiting for web"]
    assert engine.ran_with("docker", "exec", "mysite-web-1")[0].argv[-3:] == ("sh", "-c", "curl -f localhost")
    assert len(engine.ran_with("{{json .Config.Healthcheck}}", "mysite-web-1")) == 1  # read once


def test_wait_ready_names_a_service_that_stops_or_never_gets_ready(stack, engine):
    engine.on("ps", "--all", "--format", "json", stdout=ps_json(("web", "running", "healthy"), ("db", "exited", "")))
    assert lifecycle.wait_ready(Compose(stack.dir), lambda _: None) == ("db stopped while starting.", ["db"])
    engine.on("ps", "--all", "--format", "json", stdout=ps_json(("web", "created", "")))
    reason, waiting = lifecycle.wait_ready(Compose(stack.dir), lambda _: None, timeout=-1)
    assert (reason, waiting) == ("not ready after -1 s: web.", ["web"])


def test_build_of_a_deployed_release_builds_only_nginx(stack, engine):
    (stack.dir / ".env").write_text((stack.dir / ".env").read_text().replace("WEB_RELEASE=latest", "WEB_RELEASE=v7"))
    deployed = load_initialised(stack.project.root)
    assert deployed.web_release == "v7"
    lifecycle.build(deployed, Compose(deployed.dir))
    assert engine.ran_with("image", "inspect", "mysite-web:v7")
    assert engine.ran[-1].argv[-4:] == ("--progress", "plain", "build", "nginx")
    engine.on("image", "inspect", code=1)
    lifecycle.build(deployed, Compose(deployed.dir))
    assert engine.ran[-1].argv[-3:] == ("--progress", "plain", "build")


def test_a_failed_build_says_its_last_lines_and_the_fix(stack, engine):
    engine.on("build", code=1, stdout="#1 step\nfatal error: libpq-fe.h: No such file or directory\n")
    with pytest.raises(BuildFailed) as failed:
        lifecycle.build(stack, Compose(stack.dir))
    assert "libpq-fe.h" in failed.value.message and str(lifecycle.build_log(stack, "build")) in failed.value.message
    assert "libpq-dev" in failed.value.fix


def test_start_failure_reports_composes_words_and_the_bad_services_logs(stack, engine):
    engine.on("up", "--detach", code=1, stdout="Creating network\nError: port 80 is already allocated\n")
    engine.on("ps", "--all", "--format", "json", stdout=ps_json(("web", "running", "healthy"), ("db", "exited", "")))
    engine.on("--tail", "300", "db", stdout="[ERROR] InnoDB: cannot allocate\nbye\n")
    with pytest.raises(DjstackError) as failed:
        lifecycle.start(stack, Compose(stack.dir))
    text = failed.value.message
    assert "Compose said:\n  Creating network\n  Error: port 80 is already allocated" in text
    assert "Service db is exited, exit code 1." in text and "  [ERROR] InnoDB: cannot allocate" in text
    assert "Service web" not in text


def test_up_builds_starts_waits_and_checks_the_site(stack, engine, monkeypatch):
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 200)
    engine.on("ps", "--all", "--format", "json", stdout=ALL_UP)
    engine.on("exec", "-T", "web", "python", stdout="starting\n" + PROBE_OK + "\n")
    engine.on("exec", "-T", "web", "find", stdout="/opt/static/css/site.css\n")
    result = lifecycle.up(stack, read_env(stack.dir / ".env"))
    assert (result.page_status, result.static_path, result.static_status) == (200, "/static/css/site.css", 200)
    assert result.probe == {"db": {"ok": True}, "cache": {"ok": True}}
    steps = [c.argv[6:9] for c in engine.ran if c.argv[:2] == ("docker", "compose")]
    assert steps[:2] == [("--progress", "plain", "build"), ("up", "--detach")]


def test_smoke_check_failures(stack, engine, monkeypatch):
    compose = Compose(stack.dir)
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 502)
    engine.on("logs", stdout="web log line\n")
    with pytest.raises(DjstackError, match="The site answered 502") as failed:
        lifecycle.smoke_check(stack, compose)
    assert "web log line" in failed.value.message
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 404 if "css" in url else 200)
    engine.on("exec", "-T", "web", "find", stdout="/opt/static/a.css\n")
    with pytest.raises(DjstackError, match="nginx answered 404 for the static file /static/a.css"):
        lifecycle.smoke_check(stack, compose)
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 200)
    engine.on("exec", "-T", "web", "python", code=1, stdout="", stderr="OperationalError: (2002)")
    with pytest.raises(DjstackError, match="the database or cache check failed: {'error': 'OperationalError"):
        lifecycle.smoke_check(stack, compose)


def test_up_forgets_a_switch_an_interrupted_deploy_left(stack, engine):
    left = stack.dir / stack.nginx_upstream_dir / "web.conf"
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_text("set $web mysite-web-2:8000;\n")
    lifecycle._forget_interrupted_switch(stack, Compose(stack.dir))
    assert not left.exists()
    assert engine.ran[-1].argv[-4:] == ("nginx", "nginx", "-s", "reload")


def test_down_keeps_volumes_unless_told(stack, engine):
    lifecycle.down(stack, volumes=False)
    lifecycle.down(stack, volumes=True)
    assert [c.argv[6:] for c in engine.ran] == [("down", "--remove-orphans"), ("down", "--remove-orphans", "--volumes")]


def test_an_unhealthy_stack_names_the_service(stack, engine, monkeypatch):
    engine.on("ps", "--all", "--format", "json", stdout=ps_json(("web", "running", "healthy"), ("db", "exited", "")))
    with pytest.raises(StackUnhealthy) as failed:
        lifecycle.start(stack, Compose(stack.dir))
    assert failed.value.service == "db"
    compose = Compose(stack.dir)
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 502)
    with pytest.raises(StackUnhealthy) as failed:
        lifecycle.smoke_check(stack, compose)
    assert failed.value.service == "web"
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 404 if "css" in url else 200)
    engine.on("exec", "-T", "web", "find", stdout="/opt/static/a.css\n")
    with pytest.raises(StackUnhealthy) as failed:
        lifecycle.smoke_check(stack, compose)
    assert failed.value.service == "nginx"


WORKERS_UP = ps_json(*((s, "running", "healthy") for s in ("web", "nginx", "db", "redis", "broker", "worker", "beat")))
PONG = json.dumps({"worker@4b0f3c1e2d5a": {"ok": "pong"}})


def test_up_waits_for_the_background_services_and_proves_a_worker_answers_through_the_broker(stack, engine,
                                                                                             monkeypatch):
    background = with_workers(stack)
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 200)
    said: list[str] = []
    monkeypatch.setattr(lifecycle.ui, "ok", said.append)
    engine.on("ps", "--all", "--format", "json", stdout=WORKERS_UP)
    engine.on("exec", "-T", "web", "python", stdout=PROBE_OK + "\n")
    engine.on("exec", "-T", "web", "celery", "-A", "mysite", "inspect", "ping", stdout=PONG + "\n")
    result = lifecycle.up(background, read_env(stack.dir / ".env"))
    assert result.workers == ("worker@4b0f3c1e2d5a",)
    assert "1 Celery worker(s) answering through the broker, beat's scheduler running." in said[-1]
    assert "(web, nginx, db, redis, broker, worker, beat)" in said[-1]


def test_no_worker_answering_web_is_an_unhealthy_stack(stack, engine, monkeypatch):
    background = with_workers(stack)
    monkeypatch.setattr(lifecycle, "http_status", lambda url, host, **kw: 200)
    engine.on("exec", "-T", "web", "python", stdout=PROBE_OK + "\n")
    engine.on("exec", "-T", "web", "celery", code=69, stderr="Error: No nodes replied within time constraint\n")
    engine.on("--tail", "20", "worker", stdout="[2026-12-02 05:20:11,412: INFO/MainProcess] beat: nothing\n")
    with pytest.raises(StackUnhealthy) as failed:
        lifecycle.smoke_check(background, Compose(stack.dir))
    assert failed.value.service == "worker"
    assert "No Celery worker answered a ping from web through the broker" in failed.value.message
    assert "No nodes replied within time constraint" in failed.value.message
    # Without background work nothing is pinged.
    engine.ran.clear()
    lifecycle.smoke_check(stack, Compose(stack.dir))
    assert not engine.ran_with("celery")
