"""`djstack deploy` against a stand-in engine: the switch's steps in order (nginx pinned, the new
release beside the live one, nginx switched, the old one retired), and a failing release removed."""

from __future__ import annotations

import json

import pytest

from fake_engine import FakeEngine, holds, ps_json, stack, with_workers  # noqa: F401 (stack: a fixture)
from djstack import deploy
from djstack.envfile import read_env
from djstack.initialise import load_initialised

WEB_FILES = "/app/compose/web"  # Stack.web_files
PLAN = json.dumps({"plan": [{"app": "shop", "name": "0002_price", "operations": []}]})


class Live:
    """The engine's side of a deploy: which web containers exist, nginx's workers across reloads."""

    def __init__(self, engine: FakeEngine, new_state: str = "running", background: tuple[str, ...] = (),
                 background_state: str = "running"):
        self.background = background
        self.background_state = background_state
        self.started_new = False
        self.reloads = 0
        self.new_state = new_state
        engine.on("ps", "--all", "--format", "json", stdout=[self.ps])
        engine.on("--scale", stdout=[self.scale])
        engine.on("nginx", "-s", "reload", stdout=[self.reload])
        engine.on("nginx", "sh", "-c", stdout=[self.workers])
        engine.on("image", "ls", stdout=[lambda: (0, self.images(), "")])
        engine.on("--entrypoint", "cat", stdout='{"paths": {"a.css": "a.1.css"}}')
        engine.on(f"{WEB_FILES}/prune_static.py", stdout='{"deleted": ["old.css"]}\n')
        engine.on(f"{WEB_FILES}/migration_plan.py", stdout=PLAN)

    def ps(self):
        rows = [("web", "running", "healthy"), ("nginx", "running", "healthy"), ("db", "running", "healthy"),
                *((s, self.background_state, "") for s in self.background)]
        text = ps_json(*rows)
        if self.started_new:
            text += "\n" + json.dumps({"Service": "web", "Name": "mysite-web-2", "State": self.new_state})
        return 0, text, ""

    def scale(self):
        self.started_new = True
        return 0, "", ""

    def reload(self):
        self.reloads += 1
        return 0, "", ""

    def workers(self):
        """One worker per nginx configuration: a reload replaces it (the old one is gone at once)."""
        return 0, f"1 nginx: master process\n{100 + self.reloads} nginx: worker process\n", ""

    def images(self) -> str:
        return "\n".join(json.dumps({"Tag": tag, "ID": f"sha256:{tag}", "CreatedAt": created}) for tag, created in
                         (("latest", "2026-12-01 10:00"), ("v1", "2026-12-01 09:00"), ("v0", "2026-12-01 08:00")))


@pytest.fixture
def engine(monkeypatch, tmp_path):
    monkeypatch.setattr(deploy.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(deploy.tempfile, "tempdir", str(tmp_path))  # the lock and the build log
    monkeypatch.setattr(deploy, "http_status", lambda url, host, **kw: 200)
    return FakeEngine(monkeypatch)


def steps(engine: FakeEngine) -> list[str]:
    """What the deploy did to containers and nginx, in order."""
    named = {("--progress", "plain", "build"): "build", (f"{WEB_FILES}/migration_plan.py",): "plan", ("migrate",): "migrate",
             ("--scale",): "start new", ("nginx", "-t"): "nginx -t", ("nginx", "-s", "reload"): "reload",
             ("docker", "stop"): "stop old", ("docker", "rm"): "rm old", ("image", "rm"): "prune image",
             ("--force-recreate",): "recreate background"}
    return [name for c in engine.ran for words, name in named.items() if holds(c.argv, words)]


def test_a_deploy_switches_nginx_to_the_new_release_and_retires_the_old(stack, engine):
    assert stack.web_files == WEB_FILES
    live = Live(engine)
    result = deploy.deploy(stack, tag="v2", keep=1)
    assert (result.tag, result.previous, result.migrations) == ("v2", "latest", ["shop.0002_price"])
    assert result.pruned == ["v0"] and result.static_pruned == 1
    assert steps(engine) == ["build", "plan", "migrate", "nginx -t", "reload", "start new", "nginx -t", "reload",
                             "stop old", "rm old", "nginx -t", "reload", "prune image"]
    assert live.reloads == 3
    assert engine.ran_with("--scale")[0].env == {"WEB_RELEASE": "v2"}  # the new release's Compose
    assert engine.ran_with("docker", "stop")[0].argv[-1] == "mysite-web-1"
    env = read_env(stack.env_path)
    assert (env["WEB_RELEASE"], env["WEB_PREVIOUS_RELEASE"]) == ("v2", "latest")
    assert not stack.path(stack.files.upstream_conf).exists()  # back to the service name


def test_a_release_that_stops_is_removed_and_the_live_one_stays(stack, engine, monkeypatch):
    Live(engine, new_state="exited")
    engine.on("docker", "logs", "--tail", "60", "mysite-web-2", stdout="Traceback\nImportError: shop\n")
    monkeypatch.setattr(deploy, "run_doctor", lambda root: type("Report", (), {"findings": []})())
    with pytest.raises(deploy.DeployFailed) as failed:
        deploy.deploy(stack, tag="v2")
    message = failed.value.message
    assert "mysite-web-2 stopped while starting" in message and "the live release still serves" in message
    assert "ImportError: shop" in message
    assert engine.ran_with("docker", "rm", "--force", "mysite-web-2")
    assert engine.ran_with("image", "rm", "mysite-web:v2")  # a release that never went live is no release
    assert not engine.ran_with("docker", "stop")
    assert read_env(stack.env_path)["WEB_RELEASE"] == "latest"
    assert not stack.path(stack.files.upstream_conf).exists()


def test_a_failed_nginx_test_is_a_failed_deploy(stack, engine):
    Live(engine)
    env = stack.env_path.read_text()
    engine.on("nginx", "-t", code=1, stderr="nginx: [emerg] host not found in upstream\n")
    with pytest.raises(deploy.DeployFailed, match=r"nginx refused to reload: nginx: \[emerg\] host not found"):
        deploy.deploy(stack, tag="v2")
    assert not engine.ran_with("--scale")
    # The config nginx refused is not left for its next restart, and nginx never reloaded it.
    assert not stack.path(stack.files.upstream_conf).exists()
    assert not engine.ran_with("nginx", "-s", "reload")
    assert engine.ran_with("image", "rm", "mysite-web:v2")  # the release that never went live
    assert stack.env_path.read_text() == env


def test_rollback_puts_the_previous_release_back(stack, engine):
    Live(engine)
    env = stack.env_path.read_text()
    stack.env_path.write_text(env + "\nWEB_PREVIOUS_RELEASE=v1\n")
    result = deploy.rollback(load_initialised(stack.project.root))
    assert (result.tag, result.previous) == ("v1", "latest")
    assert engine.ran_with("--scale")[0].env == {"WEB_RELEASE": "v1"}
    assert not engine.ran_with("build") and not engine.ran_with("migrate")


def test_the_background_services_move_to_the_new_release_once_web_serves_it(stack, engine):
    background = with_workers(stack)
    Live(engine, background=("worker", "beat"))
    result = deploy.deploy(background, tag="v2", keep=1)
    assert result.restarted == ["worker", "beat"]
    assert steps(engine)[-4:] == ["nginx -t", "reload", "recreate background", "prune image"]
    [recreate] = engine.ran_with("--force-recreate")
    assert recreate.argv[-2:] == ("worker", "beat") and recreate.env == {"WEB_RELEASE": "v2"}
    assert recreate.timeout > background.workers.task_seconds  # the warm shutdowns' time


def test_background_services_that_fail_on_the_new_release_say_web_serves_it(stack, engine):
    background = with_workers(stack, beat="")
    Live(engine, background=("worker",), background_state="exited")
    with pytest.raises(deploy.DeployFailed) as failed:
        deploy.deploy(background, tag="v2", keep=1)
    assert failed.value.message.startswith("web serves release v2, but worker did not come back healthy on it")
    assert "djstack rollback" in failed.value.fix
    assert read_env(stack.env_path)["WEB_RELEASE"] == "v2"
