"""`djstack doctor`'s diagnosis on hand-made facts, no Docker: `diagnose()` turns container states,
probe results and log lines into findings, and reports the deepest cause first — a mistake in the
files, then db and redis, then web, then nginx, then what a client of the site sees."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import copy_example
from djstack.doctor.diagnose import check_findings, diagnose, engine_unreachable, not_running
from djstack.doctor.facts import Container, Facts, Probe
from djstack.doctor.finding import ERROR, WARNING
from djstack.initialise import run_init
from djstack.model import StackOptions

DB_DOWN = "django.db.utils.OperationalError: (2002, \"Can't connect to server on 'db' (115)\")"
REFUSED = ('2026/11/23 23:04:36 [error] 8#8: *7 connect() failed (111: Connection refused) while connecting '
           'to upstream, client: 172.18.0.1, server: localhost, request: "GET / HTTP/1.1"')
ACCESS_DENIED = "django.db.utils.OperationalError: (1045, \"Access denied for user 'mysite'@'172.18.0.4'\")"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack `djstack init` wrote (so `djstack check` finds nothing in its files), without background
    work: its four services (tests/test_doctor_background.py has the others)."""
    root = tmp_path_factory.mktemp("diagnose") / "mysite"
    copy_example(root)
    made, _ = run_init(root, StackOptions(workers=False), force=False)
    return made


def container(service: str, **changes) -> Container:
    healthy = dict(state="running", health="healthy", exit_code=0, restarts=0, oom_killed=False,
                   started_at="2026-11-23T23:00:00.1Z", restart_policy="unless-stopped", memory_limit=0,
                   health_output="")
    return Container(service=service, **{**healthy, **changes})


def facts(stack, states: dict[str, dict] | None = None, probes: tuple[Probe, ...] = (),
          logs: dict[str, list[str]] | None = None, nginx_log: tuple[str, ...] = ()) -> Facts:
    """Every service running and healthy, but for `states` (by model key: web, nginx, db, redis;
    None: no container)."""
    s = stack.services
    names = {"web": s.web, "nginx": s.nginx, "db": s.db, "redis": s.redis}
    containers = {}
    for key, name in names.items():
        changes = (states or {}).get(key, {})
        if changes is not None:
            containers[name] = container(name, **changes)
    return Facts(containers, logs or {}, list(nginx_log), {p.name: p for p in probes})


def ids(stack, found: Facts) -> list[str]:
    return [f.id for f in diagnose(stack, found).findings]


def test_a_healthy_stack_has_no_findings_and_says_what_was_checked(stack):
    probes = (Probe("site", True, "site answers 200", {"status": 200}), Probe("db", True, "database from web: ok"))
    report = diagnose(stack, facts(stack, probes=probes))
    assert report.findings == [] and report.healthy
    assert f"{stack.services.db}: running, healthy, restarts 0" in report.checked
    assert "site answers 200" in report.checked
    assert any("no known error signature" in line for line in report.checked)


def test_db_down_is_reported_before_web_nginx_and_the_site(stack):
    """The cascade of one cause: db stopped → web cannot connect and crash-loops → nginx is refused →
    the site answers 502. Each layer's finding in order, the cause first."""
    web, nginx = stack.services.web, stack.services.nginx
    found = facts(
        stack,
        states={"db": {"state": "exited", "exit_code": 1, "health": ""},
                "web": {"state": "restarting", "exit_code": 1, "restarts": 5, "health": "unhealthy"}},
        probes=(Probe("site", False, "site answers 502", {"status": 502}),
                Probe("nginx→web", False, f"nginx cannot connect to {web}"),
                Probe("db", False, f"database from web: {DB_DOWN}")),
        logs={web: ["Traceback (most recent call last):", DB_DOWN]},
        nginx_log=(REFUSED,),
    )
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == [
        "db-not-running", "db-unreachable", "web-crash-loop", "nginx-cannot-reach-web",
        "nginx-upstream-refused", "site-error"]
    assert not report.healthy
    db_unreachable = report.findings[1]
    # Seen twice (web's log and the probe): one finding with both lines.
    assert any(line.startswith("web:") for line in db_unreachable.evidence)
    assert any(line.startswith("probe:") for line in db_unreachable.evidence)
    assert report.findings[0].service == stack.services.db and report.findings[-1].service == nginx


def test_db_and_redis_findings_come_before_web_ones(stack):
    found = facts(stack, states={"redis": {"health": "unhealthy"}, "db": {"health": "unhealthy"},
                                 "web": {"health": "unhealthy"}, "nginx": {"health": "unhealthy"}})
    order = ids(stack, found)
    # Failing healthchecks are symptoms: with no cause known, doctor says so first (issue 13, item 5).
    assert order.pop(0) == "cause-unknown"
    assert set(order) == {"db-unhealthy", "redis-unhealthy", "web-unhealthy", "nginx-unhealthy"}
    assert order.index("web-unhealthy") > max(order.index("db-unhealthy"), order.index("redis-unhealthy"))
    assert order[-1] == "nginx-unhealthy"


@pytest.mark.parametrize("deeper,shallower", [
    # A container that crashes explains a healthcheck that fails one layer up, and so on.
    ({"db": {"state": "exited", "exit_code": 137}}, {"web": {"health": "unhealthy"}}),
    ({"web": {"health": "unhealthy"}}, {"nginx": {"state": "restarting", "restarts": 2, "exit_code": 1}}),
    ({"db": {"health": "unhealthy"}}, {"web": {"state": "restarting", "restarts": 3, "exit_code": 1}}),
])
def test_a_deeper_service_is_reported_first_whatever_its_state(stack, deeper, shallower):
    order = ids(stack, facts(stack, states={**deeper, **shallower}))
    if order[0] == "cause-unknown":  # only symptoms: no cause is named (issue 13, item 5)
        order.pop(0)
    assert len(order) == 2
    assert order[0].startswith(next(iter(deeper)) + "-") and order[1].startswith(next(iter(shallower)) + "-")


def test_a_container_that_stays_down_comes_before_a_deeper_crash_loop(stack):
    """A crash loop is a symptom (issue 13, item 3: causes before symptoms, always); a container that
    stays down is a fact doctor can name, with its exit code's meaning. (This pair was one of the
    cases above before issue 13.)"""
    order = ids(stack, facts(stack, states={"redis": {"state": "restarting", "restarts": 2, "exit_code": 1},
                                            "web": {"state": "exited", "exit_code": 1}}))
    assert order == ["web-not-running", "redis-crash-loop"]


def test_out_of_memory_comes_before_the_layers(stack):
    found = facts(stack, states={"db": {"state": "exited", "exit_code": 1},
                                 "web": {"oom_killed": True, "restarts": 1, "memory_limit": 256 * 2**20,
                                         "health": "starting"}})
    report = diagnose(stack, found)
    assert [f.id for f in report.findings] == ["oom-killed", "db-not-running", "web-starting"]
    assert "256 MiB" in report.findings[0].evidence[0]
    assert report.findings[-1].severity == WARNING


def test_a_missing_container_is_a_finding_of_its_layer(stack):
    order = ids(stack, facts(stack, states={"web": None, "redis": None},
                             probes=(Probe("site", False, "nothing answers", {"status": None}),)))
    assert order == ["redis-not-running", "web-not-running", "site-unreachable"]


def test_a_file_mistake_djstack_check_finds_is_reported_before_the_containers(stack, tmp_path):
    """A wrong redis.conf explains a redis that web cannot reach: the file comes first."""
    root = tmp_path / "mysite"
    shutil.copytree(stack.project.root, root)
    conf = root / "compose/redis/redis.conf"
    conf.write_text(conf.read_text().replace("bind 0.0.0.0", "bind 127.0.0.1"))
    found = facts(stack, states={"redis": {"state": "exited", "exit_code": 1}},
                  probes=(Probe("cache", False, "cache from web: ConnectionError: Error 111 connecting to redis:6379."),))
    report = diagnose(stack, replace(found, check=check_findings(root)))
    assert [f.id for f in report.findings] == ["redis-bind-loopback", "redis-not-running", "redis-unreachable"]
    first = report.findings[0]
    assert first.severity == ERROR and "compose/redis/redis.conf" in first.fix
    assert first.evidence[0].startswith("djstack check: compose/redis/redis.conf")


def test_a_passing_probe_drops_old_log_lines_and_a_failing_one_keeps_them(stack):
    web = stack.services.web
    logs = {web: [ACCESS_DENIED]}
    assert "db-access-denied" not in ids(stack, facts(stack, probes=(Probe("db", True, "database from web: ok"),),
                                                      logs=logs))
    failing = Probe("db", False, f"database from web: {ACCESS_DENIED}")
    assert ids(stack, facts(stack, probes=(failing,), logs=logs)) == ["db-access-denied"]
    # Unknown to the signatures: the probe's own finding, with its text as evidence.
    odd = diagnose(stack, facts(stack, probes=(Probe("db", False, "database from web: odd"),)))
    # A failed probe is a symptom: with nothing else, doctor says it cannot tell the cause (issue 13, item 5).
    assert [(f.id, f.evidence) for f in odd.findings] == [
        ("cause-unknown", ["no error lines in any service's log"]),
        ("db-probe-failed", ["probe: database from web: odd"])]


def test_only_the_services_logs_are_read_for_their_signatures(stack):
    """db's log is matched as db's: a line that means something in web's log is not a web finding there."""
    s = stack.services
    assert ids(stack, facts(stack, logs={s.db: [DB_DOWN]})) == []
    assert ids(stack, facts(stack, logs={s.web: [DB_DOWN]})) == ["db-unreachable"]
    assert ids(stack, facts(stack, logs={"someone-else": [ACCESS_DENIED]})) == []
    assert ids(stack, facts(stack, logs={s.db: [ACCESS_DENIED]})) == ["db-access-denied"]


@pytest.mark.parametrize("probe,expected", [
    (Probe("static", False, "0 file(s) in the static volume", {"files": 0}), "static-missing"),
    (Probe("static", False, "a static file answers 404", {"files": 12}), "static-not-served"),
    (Probe("media", False, "media not writable by web's user"), "media-not-writable"),
    (Probe("migrations", False, "1 unapplied migration(s)"), "migrations-unapplied"),
    (Probe("models", False, "makemigrations --check: gallery"), "migrations-missing"),
    (Probe("cache", False, "cache from web: odd"), "cache-probe-failed"),
    (Probe("site", False, "site answers 500", {"status": 500}), "site-error"),
])
def test_each_failed_probe_is_its_finding(stack, probe, expected):
    report = diagnose(stack, facts(stack, probes=(probe,)))
    found = report.findings
    if found[-1].symptom:  # symptoms alone: cause-unknown says so before them (issue 13, item 5)
        assert found.pop(0).id == "cause-unknown"
    assert [f.id for f in found] == [expected]
    assert found[0].evidence == [f"probe: {probe.detail}"]


def test_probes_that_pass_or_could_not_run_are_no_finding(stack):
    probes = (Probe("site", None, "not run: nginx is down"), Probe("static", True, "3 files", {"files": 3}),
              Probe("unavailable", False, "probes stopped"))
    assert ids(stack, facts(stack, probes=probes)) == []


def test_fixes_name_the_stacks_own_values(stack):
    s = stack
    report = diagnose(stack, facts(stack, states={"web": {"state": "exited", "exit_code": 0, "restart_policy": "no"}},
                                   probes=(Probe("nginx→web", False, "refused"),
                                           Probe("static", False, "404", {"files": 3}),
                                           Probe("media", False, "EACCES"))))
    by_id = {f.id: f for f in report.findings}
    assert set(by_id) == {"web-exited-0", "nginx-cannot-reach-web", "static-not-served", "media-not-writable"}
    assert f"{s.services.web}:{s.ports.uwsgi}" in by_id["nginx-cannot-reach-web"].title
    assert s.networks.front in by_id["nginx-cannot-reach-web"].fix
    assert s.paths.static in by_id["static-not-served"].fix
    assert s.user.name in by_id["media-not-writable"].fix
    assert by_id["web-exited-0"].service == s.services.web


@pytest.mark.parametrize("policy", ["", "no", "on-failure"])
def test_exit_0_without_a_restart_policy_that_restarts_it_means_the_command_ends(stack, policy):
    """Docker reports no policy as "" or "no": either way the container stays down after a clean exit."""
    found = facts(stack, states={"web": {"state": "exited", "exit_code": 0, "restart_policy": policy, "health": ""}})
    assert ids(stack, found) == ["web-exited-0"]


def test_nginx_and_redis_logs_are_read_for_their_own_signatures(stack):
    s = stack.services
    # nginx refused by uWSGI is a symptom: alone, its cause is unknown (issue 13, item 5).
    assert ids(stack, facts(stack, logs={s.nginx: [REFUSED]})) == ["cause-unknown", "nginx-upstream-refused"]
    assert ids(stack, facts(stack, logs={s.redis: ["1:M 23 Nov 23:00:00.000 # WRONGPASS invalid password"]})) == ["redis-auth"]


def test_fixes_name_the_volumes_and_image_of_the_running_web(stack):
    """Compose may have named the volumes otherwise (another project name): the fix uses web's own."""
    s = stack
    web = container(s.services.web, image="shop-web:r7",
                    volumes={s.paths.static: "shop_static_files", s.paths.media: "shop_media_files"})
    found = facts(stack, probes=(Probe("media", False, "EACCES"),))
    found.containers[s.services.web] = web
    (finding,) = diagnose(stack, found).findings
    assert finding.id == "media-not-writable"
    assert f"-v shop_static_files:{s.paths.static} -v shop_media_files:{s.paths.media} shop-web:r7 " in finding.fix


# --- what doctor says, word for word ---------------------------------------------------------------
# Titles, fixes and evidence are what a person acts on: one golden file holds them for every kind of
# finding diagnose() makes. UPDATE_GOLDEN=1 rewrites it after a deliberate change (and skips).

GOLDEN = Path(__file__).parent / "golden" / "doctor" / "findings.txt"
STATES = {
    "missing": None,
    "oom-killed": {"oom_killed": True, "restarts": 1, "memory_limit": 64 * 2**20, "state": "restarting"},
    "oom-killed-without-limit": {"oom_killed": True, "state": "exited", "exit_code": 137},
    "exited-0-for-good": {"state": "exited", "exit_code": 0, "restart_policy": "no", "health": ""},
    "exited-0-on-failure": {"state": "exited", "exit_code": 0, "restart_policy": "on-failure", "health": ""},
    "stopped": {"state": "exited", "exit_code": 143, "health": ""},
    "crashed": {"state": "dead", "exit_code": 2, "health": ""},
    "created": {"state": "created", "exit_code": 0, "restart_policy": "unless-stopped", "health": ""},
    "restarting": {"state": "restarting", "exit_code": 1, "restarts": 3},
    "restarted-and-unhealthy": {"restarts": 2, "health": "unhealthy"},
    "restarted-and-healthy": {"restarts": 2},
    "restarted-once-and-unhealthy": {"restarts": 1, "health": "unhealthy"},
    "restarted-without-healthcheck": {"restarts": 2, "health": ""},
    "unhealthy": {"health": "unhealthy", "health_output": "curl: (7) Failed to connect"},
    "unhealthy-silent": {"health": "unhealthy"},
    "starting": {"health": "starting"},
}
# Longer than any finding shows: each keeps its own number of last lines.
LOG = [f"log line {n}" for n in range(1, 11)]


def scenarios(stack, tmp_path):
    """(name, Report) for each kind of finding."""
    s = stack.services
    logs = {name: LOG for name in (s.web, s.nginx, s.db, s.redis)}
    for state, changes in STATES.items():
        every = {key: changes for key in ("db", "redis", "web", "nginx")}
        yield f"all four {state}", diagnose(stack, facts(stack, states=every, logs=logs))
    failed = [Probe("db", False, "database from web: odd"), Probe("cache", False, "cache from web: odd"),
              Probe("nginx→web", False, "nginx: connect() refused"), Probe("migrations", False, "2 unapplied"),
              Probe("models", False, "makemigrations --check: gallery"), Probe("media", False, "EACCES"),
              Probe("static", False, "0 file(s)", {"files": 0}), Probe("site", False, "no answer", {"status": None})]
    yield "probes failing", diagnose(stack, facts(stack, probes=tuple(failed)))
    served = (Probe("static", False, "404", {"files": 4}), Probe("site", False, "500", {"status": 500}),
              Probe("db", False, f"database from web: {ACCESS_DENIED}"))
    yield "probes failing, files there", diagnose(stack, facts(stack, probes=served))
    root = tmp_path / "mysite"
    shutil.copytree(stack.project.root, root)
    conf = root / "compose/redis/redis.conf"
    conf.write_text(conf.read_text().replace("bind 0.0.0.0", "bind 127.0.0.1"))
    yield "a mistake in the files", diagnose(stack, replace(facts(stack), check=check_findings(root)))
    yield "nothing running", not_running(stack.project.root, {})
    stopped = facts(stack, states={"db": STATES["crashed"], "web": STATES["stopped"]}).containers
    yield "some stopped", not_running(stack.project.root, stopped)
    yield "engine unreachable", engine_unreachable("Cannot connect to the Docker daemon")


def as_text(name: str, report, root: Path) -> str:
    lines = [f"== {name} (healthy: {report.healthy})"]
    for f in report.findings:
        lines += [f"{f.id} [{f.severity}] rank {f.rank} service {f.service!r}", f"  title: {f.title}",
                  f"  fix: {f.fix}", *(f"  evidence: {e}" for e in f.evidence)]
    lines += [f"  checked: {c}" for c in report.checked]
    return "\n".join(lines).replace(str(root), "<root>") + "\n"


def test_every_kind_of_finding_says_what_it_said(stack, tmp_path):
    text = "".join(as_text(name, report, stack.project.root) for name, report in scenarios(stack, tmp_path))
    text = text.replace(str(tmp_path), "<tmp>")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
        pytest.skip("UPDATE_GOLDEN=1 rewrote tests/golden/doctor/findings.txt")
    assert text == GOLDEN.read_text(), "doctor's findings differ from tests/golden/doctor/findings.txt"
