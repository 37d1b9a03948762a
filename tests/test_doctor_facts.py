"""doctor's facts from a stand-in engine: what it runs, and how it reads the answers."""

from __future__ import annotations

import json

import pytest

from fake_engine import FakeEngine, stack  # noqa: F401 (stack: a fixture)
from djstack.compose import Compose
from djstack.doctor import facts


@pytest.fixture
def engine(monkeypatch):
    return FakeEngine(monkeypatch)


def inspected(service: str, status: str = "running", health: str = "healthy", **state) -> dict:
    return {
        "Id": f"id-{service}", "RestartCount": state.pop("restarts", 0),
        "State": {"Status": status, "ExitCode": state.pop("exit_code", 0), "OOMKilled": state.pop("oom", False),
                  "StartedAt": "2026-12-01T10:00:00.123456789Z",
                  "Health": {"Status": health, "Log": [{"Output": "ok\n"}, {"Output": " last check \n"}]}},
        "Config": {"Labels": {"com.docker.compose.service": service}, "Image": f"img-{service}",
                   "Healthcheck": {"Test": ["CMD", "true"]}},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}, "Memory": 512},
        "Mounts": [{"Type": "volume", "Destination": "/srv/media", "Name": "mysite_media"},
                   {"Type": "bind", "Destination": "/etc/x", "Name": ""}],
    }


def test_containers_are_read_from_one_inspect(stack, engine):
    engine.on("ps", "--all", "--quiet", stdout="id-web\nid-db\n")
    engine.on("docker", "inspect", "id-web", "id-db",
              stdout=json.dumps([inspected("web", restarts=2), inspected("db", "exited", "", exit_code=137, oom=True)]))
    found = facts.inspect_containers(Compose(stack.dir))
    web, db = found["web"], found["db"]
    assert (web.state, web.health, web.restarts, web.restart_policy, web.memory_limit) == (
        "running", "healthy", 2, "unless-stopped", 512)
    assert web.health_output == "last check" and web.image == "img-web" and web.volumes == {"/srv/media": "mysite_media"}
    assert web.up and not db.up
    assert (db.exit_code, db.oom_killed, db.started_at) == (137, True, "2026-12-01T10:00:00.123456789Z")


def test_a_starting_container_that_passes_its_check_now_counts_healthy(stack, engine):
    engine.on("ps", "--all", "--quiet", stdout="id-web\nid-redis\n")
    engine.on("docker", "inspect", stdout=json.dumps([inspected("web", health="starting"),
                                                      inspected("redis", health="starting")]))
    engine.on("docker", "exec", "id-redis", "true", code=1)
    found = facts.inspect_containers(Compose(stack.dir))
    assert (found["web"].health, found["redis"].health) == ("healthy", "starting")


def test_no_containers_no_inspect(stack, engine):
    assert facts.inspect_containers(Compose(stack.dir)) == {}
    assert not engine.ran_with("docker", "inspect")


def container(service="web", **changes) -> facts.Container:
    values = dict(service=service, state="running", health="healthy", exit_code=0, restarts=0, oom_killed=False,
                  started_at="2026-12-01T10:00:00Z", restart_policy="", memory_limit=0, health_output="")
    values.update(changes)
    return facts.Container(**values)


def test_logs_of_a_settled_container_start_at_its_start(stack, engine):
    engine.on("logs", stdout="2026-12-01T10:00:01.5Z \x1b[31mred line\x1b[0m\n\n",
              stderr="2026-12-01T10:00:02.1Z err line\n")
    compose = Compose(stack.dir)
    assert facts.service_logs(compose, container()) == (["red line", "err line"], 0)
    assert engine.ran[-1].argv[-3:] == ("--since", "2026-12-01T10:00:00Z", "web")
    assert "--timestamps" in engine.ran[-1].argv
    facts.service_logs(compose, container(restarts=1))
    assert "--since" not in engine.ran[-1].argv and engine.ran[-1].timeout == 60


def test_the_current_run_starts_at_the_first_line_stamped_after_the_start():
    stamped = ["2026-12-01T09:59:58.1Z Traceback (most recent call last):", "2026-12-01T09:59:58.2Z   ",
               "2026-12-01T09:59:59.9Z OperationalError: (1040, 'Too many connections')",
               "2026-12-01T10:00:00.3Z *** Starting uWSGI", "2026-12-01T10:00:01.0Z spawned"]
    started = facts.parse_time("2026-12-01T10:00:00.2Z")
    lines, first = facts.split_times(stamped, started)
    assert lines[first:] == ["*** Starting uWSGI", "spawned"] and len(lines) == 4
    assert facts.split_times(stamped[:3], started) == (lines[:2], 2)  # the current run wrote nothing yet
    assert facts.split_times(stamped, None)[1] is None
    assert facts.split_times(["no time here"], started) == (["no time here"], 1)


def test_a_restart_within_the_second_splits_the_runs_by_the_fraction():
    """Docker restarts a crashed container within 100 ms: the ended run's traceback and the new run's
    start share a second, and whole seconds counted the traceback as the new run's."""
    stamped = ["2026-12-02T03:50:01.100Z MySQLdb.ProgrammingError: (1064, 'You have an error')",
               "2026-12-02T03:50:01.150Z   Applying gallery.0002_bad_sql...", "2026-12-02T03:50:01.420Z Operations to perform:"]
    lines, first = facts.split_times(stamped, facts.parse_time("2026-12-02T03:50:01.400000000Z"))
    assert first == 2 and lines[first:] == ["Operations to perform:"]


def test_evidence_round_trips_through_json():
    from djstack.doctor.finding import Finding
    saved = facts.Facts({"web": container(volumes={"/srv/media": "x_media"}, error="port is already allocated")},
                        {"web": ["a line"]}, ["2026/12/01 10:00:00 [emerg] 1#1: x"],
                        {"db": facts.Probe("db", False, "database from web: (1045, …)", {"error": "e"})},
                        [Finding("redis-bind-loopback", "error", "t", "f", 12, "", ["e"])], {"web": 0})
    assert facts.Facts.from_json(saved.to_json()) == saved
    with pytest.raises(ValueError):
        facts.Facts.from_json('{"containers": {}}')


def test_nginx_to_web_probe(stack, engine):
    compose = Compose(stack.dir)
    assert facts.probe_nginx_to_web(stack, compose).ok
    engine.on("exec", "-T", "nginx", "bash", code=1, stderr="bash: connect: Connection refused\nbash: line 1: x\n")
    probe = facts.probe_nginx_to_web(stack, compose)
    assert (probe.ok, probe.detail) == (False, "TCP web:8000 from nginx: bash: line 1: x")
    assert engine.ran[-1].argv[-2:] == ("web", "8000")


def test_a_container_gone_under_a_probe_stops_the_probes(stack, engine):
    engine.on("exec", "-T", "nginx", code=1, stderr="Error response from daemon: container is restarting\n")
    with pytest.raises(facts.Unavailable, match="restarting"):
        facts.probe_nginx_to_web(stack, Compose(stack.dir))


def django_answer(db_ok=True, plan="[X] shop.0001_initial\n", models_code=0, models_out="No changes detected\n"):
    probe = json.dumps({"db": {"ok": db_ok, **({} if db_ok else {"error": "Access denied"})}, "cache": {"ok": True}})
    return json.dumps({"probe": {"code": 0, "output": f"noise\n{probe}\n"}, "plan": {"code": 0, "output": plan},
                       "models": {"code": models_code, "output": models_out}})


def test_django_probes_read_one_json_line(stack, engine):
    engine.on("exec", "-T", "web", "python", "-c", stdout=["Booting\n" + django_answer(),
                                                          django_answer(False, "[X] a.1\n[ ] shop.0002_price\n", 1,
                                                                        "Migrations for 'shop':\n  0003_x.py\n")])
    compose = Compose(stack.dir)
    db, cache, migrations, models = facts.probe_django(stack, compose)
    assert [(p.name, p.ok) for p in (db, cache, migrations, models)] == [
        ("db", True), ("cache", True), ("migrations", True), ("models", True)]
    db, cache, migrations, models = facts.probe_django(stack, compose)
    assert (db.ok, db.detail) == (False, "database from web: Access denied")
    assert (migrations.ok, migrations.detail) == (False, "1 unapplied migration(s): shop.0002_price")
    assert models.ok is False and models.detail.startswith("makemigrations --check: Migrations for 'shop':")
    assert engine.ran[-1].argv[-1] == "/app/compose/web/probe.py"


def test_django_that_does_not_start_is_a_failed_db_probe(stack, engine):
    engine.on("exec", "-T", "web", "python", "-c", code=1, stdout="", stderr="Traceback\nImportError: no module x\n")
    (probe,) = facts.probe_django(stack, Compose(stack.dir))
    assert (probe.name, probe.ok) == ("db", False)
    assert probe.detail == "Django failed in web (exit 1): Traceback | ImportError: no module x"


def test_static_probe_counts_files_and_fetches_one_through_nginx(stack, engine, monkeypatch):
    engine.on("exec", "-T", "web", "sh", stdout="12\n")
    engine.on("exec", "-T", "web", "find", stdout="/opt/static/b.css\n/opt/static/admin/a.css\n")
    monkeypatch.setattr(facts, "http_status", lambda url, host: 404 if url.endswith("admin/a.css") else 200)
    probe = facts.probe_static(stack, Compose(stack.dir), "web", through_nginx=True)
    assert probe.ok and probe.data == {"files": 12, "status": 404}
    assert probe.detail == ("12 file(s) in the static volume (/srv/static, seen from web); "
                            "GET /static/admin/a.css through nginx → 404")
    engine.on("exec", "-T", "nginx", "sh", stdout="sh: find: not found\n")
    assert not facts.probe_static(stack, Compose(stack.dir), "nginx", through_nginx=False).ok


def test_media_probe(stack, engine):
    compose = Compose(stack.dir)
    assert facts.probe_media(stack, compose).detail == "/srv/media writable by web's user"
    engine.on("exec", "-T", "web", "sh", code=1, stdout="touch: cannot touch\ndrwxr-xr-x 2 0 0 /srv/media\n",
              stderr="uid=1000(app)\n")
    probe = facts.probe_media(stack, compose)
    assert not probe.ok
    assert probe.detail.endswith("touch: cannot touch | drwxr-xr-x 2 0 0 /srv/media | uid=1000(app)")


def test_gather_probes_what_runs_and_reads_every_log(stack, engine, monkeypatch):
    monkeypatch.setattr(facts, "http_status", lambda url, host: 200)
    engine.on("exec", "-T", "web", "python", "-c", stdout=django_answer())
    engine.on("exec", "-T", "web", "sh", stdout="3\n")
    engine.on("logs", stdout="a line\n")
    containers = {"web": container(), "nginx": container("nginx", started_at="0001-01-01T00:00:00Z"),
                  "db": container("db", state="exited")}
    found = facts.gather(stack, Compose(stack.dir), containers, [])
    assert set(found.probes) == {"site", "nginx→web", "db", "cache", "migrations", "models", "static", "media"}
    assert found.logs == {"web": ["a line"], "nginx": ["a line"], "db": ["a line"]}
    # web restarting and not healthy: only nginx's side is probed
    engine.on("exec", "-T", "nginx", "bash", code=1, stderr="Error response from daemon: gone\n")
    found = facts.gather(stack, Compose(stack.dir), {"web": container(restarts=3, health="starting"),
                                                     "nginx": container("nginx")}, [])
    assert set(found.probes) == {"site", "unavailable"} and found.probes["unavailable"].ok is None


def test_a_probe_that_times_out_stops_the_probes_and_doctor_goes_on(stack, engine, monkeypatch):
    """A container hanging while it crash-loops: the probe's timeout is no crash of doctor (it exited 2)."""
    from djstack.errors import CommandTimedOut

    def hang():
        raise CommandTimedOut(("docker", "compose", "exec", "nginx"), 30)

    monkeypatch.setattr(facts, "http_status", lambda url, host: 502)
    engine.on("exec", "-T", "nginx", "bash", stdout=[hang])
    found = facts.gather(stack, Compose(stack.dir), {"web": container(restarts=3, health="starting"),
                                                     "nginx": container("nginx")}, [])
    assert set(found.probes) == {"site", "unavailable"}
    assert found.probes["unavailable"].ok is None and "within 30 s" in found.probes["unavailable"].detail


def test_nothing_is_probed_while_a_container_is_paused(stack, engine, monkeypatch):
    """Requests to a paused db or web hang until their timeouts: doctor took over 2 minutes."""
    monkeypatch.setattr(facts, "http_status", lambda url, host: pytest.fail("probed the site"))
    engine.on("logs", stdout="a line\n")
    found = facts.gather(stack, Compose(stack.dir), {"web": container(), "nginx": container("nginx"),
                                                     "db": container("db", state="paused")}, [])
    assert list(found.probes) == ["unavailable"] and "db paused" in found.probes["unavailable"].detail
    assert not engine.ran_with("exec") and found.logs["db"] == ["a line"]


def test_gather_asks_web_for_its_workers_and_the_broker_for_its_queue(stack, engine, monkeypatch):
    from fake_engine import with_workers

    background = with_workers(stack)
    monkeypatch.setattr(facts, "http_status", lambda url, host: 200)
    engine.on("exec", "-T", "web", "python", "-c", stdout=django_answer())
    engine.on("exec", "-T", "web", "celery", "-A", "mysite", "inspect", "ping",
              stdout='{"worker@4b0f3c1e2d5a": {"ok": "pong"}}\n')
    engine.on("exec", "-T", "broker", "redis-cli", stdout="2\n")
    containers = {name: container(name) for name in ("web", "nginx", "db", "redis", "broker", "worker", "beat")}
    found = facts.gather(background, Compose(stack.dir), containers, [])
    assert found.probes["workers"].ok and found.probes["workers"].data == {"workers": ["worker@4b0f3c1e2d5a"]}
    assert (found.probes["queue"].ok, found.probes["queue"].data) == (True, {"waiting": 2})
    engine.on("exec", "-T", "web", "celery", code=69, stderr="Error: No nodes replied within time constraint\n")
    found = facts.gather(background, Compose(stack.dir), containers, [])
    assert found.probes["workers"].detail == ("workers from web: none answered a ping: Error: No nodes replied "
                                              "within time constraint")
