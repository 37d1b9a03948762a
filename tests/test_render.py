"""Rendering: golden files, determinism, never clobbering, and the files' validity to the real tools."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import REPO, require_tool
from testca import make_ca
from djstack import render, tls
from djstack.envfile import read_env
from djstack.errors import DjstackError
from djstack.initialise import load_stack, run_init
from djstack.detect import detect
from djstack.detect.workers import CeleryApp, Process
from djstack.model import SECRET_KEYS, StackOptions, build_stack

GOLDEN = REPO / "tests" / "golden"
FIXED_SECRETS = {key: f"golden-{key.lower().replace('_', '-')}-0123456789abcdef" for key in SECRET_KEYS}


#: HTTPS mode's golden case: provided certificates (none exist: rendering never reads them).
HTTPS_OPTIONS = dict(domains=("example.com", "www.example.com"), tls="provided")


def golden_stack(project: Path, source: str, **options):
    # The first line marks the file as djstack's own .env (a project's own would move the stack to djstack/).
    # The worker's concurrency is fixed too: its default is the host's CPUs.
    (project / ".env").write_text("# Settings of the djstack stack (golden secrets)\n"
                                  + "".join(f"{k}={v}\n" for k, v in FIXED_SECRETS.items())
                                  + "BROKER_PASSWORD=golden-broker-password-0123456789abcdef\nWORKER_CONCURRENCY=2\n")
    return load_stack(project, StackOptions(image_source=source, http_port=8080, pip_ca_bundle="", **options))


#: The Celery case's project: the example with a Celery app (mysite/celery.py, the standard shape), a file
#: schedule, and a Procfile whose `clock` line is a process of its own. Given, not detected, so the golden
#: files do not move with detection (or with the example gaining Celery itself).
GOLDEN_CELERY = CeleryApp(module="mysite", file=Path("mysite/celery.py"), namespace="CELERY", beat="file")
GOLDEN_PROCESSES = (Process("worker", "celery -A mysite worker -l info", "celery-worker"),
                    Process("beat", "celery -A mysite beat -l info", "celery-beat"),
                    Process("clock", "python manage.py clock --every $CLOCK_SECONDS", "other"))


def celery_stack(project: Path, celery: CeleryApp = GOLDEN_CELERY, processes=GOLDEN_PROCESSES,
                 recorded: dict[str, str] | None = None, **options):
    """The model of `project` given a Celery app, with --flower unless told otherwise; the worker's
    concurrency fixed (its default is the host's CPUs)."""
    detected = replace(detect(project), celery=celery, processes=processes)
    values = {**FIXED_SECRETS, "BROKER_PASSWORD": "golden-broker-password-0123456789abcdef",
              "FLOWER_PASSWORD": "golden-flower-password-0123456789abcdef",
              "WORKER_CONCURRENCY": "2", **(recorded or {})}
    options = {"image_source": "official", "http_port": 8080, "pip_ca_bundle": "", "flower": True, **options}
    return build_stack(detected, StackOptions(**options), values)


#: The acme case: a private ACME server (its CA given), on the debian images (the certbot image built here).
ACME_OPTIONS = dict(domains=("example.com", "www.example.com"), tls="acme", acme_server="https://172.17.0.1:14000/dir",
                    acme_email="admin@example.com", acme_ca_bundle="/tmp/pebble-ca.pem")

GOLDEN_CASES = ["official", "debian", "https", "celery", "acme"]
#: UPDATE_GOLDEN=1 rewrites the golden files after a deliberate change; the comparison then waits for a
#: run without it (comparing files with what was just written from them would pass whatever they hold).
UPDATE_GOLDEN = bool(os.environ.get("UPDATE_GOLDEN"))


def golden_outputs(project: Path, case: str) -> list[render.Output]:
    if case == "https":
        return render.render(golden_stack(project, "official", **HTTPS_OPTIONS))
    if case == "celery":
        return render.render(celery_stack(project))
    if case == "acme":
        return render.render(golden_stack(project, "debian", **ACME_OPTIONS))
    return render.render(golden_stack(project, case))


def golden(case: str, path: str) -> Path:
    # A suffix, so git never reads a golden .gitignore as its own.
    return GOLDEN / f"mysite-{case}" / f"{path}.golden"


@pytest.mark.skipif(not UPDATE_GOLDEN, reason="UPDATE_GOLDEN=1 rewrites tests/golden")
@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_update_golden_files(example_copy, case):
    """Rewrite one case's golden files from the code as it is: exactly the files it renders."""
    for stale in (GOLDEN / f"mysite-{case}").rglob("*.golden"):
        stale.unlink()
    for out in golden_outputs(example_copy, case):
        golden(case, out.path).parent.mkdir(parents=True, exist_ok=True)
        golden(case, out.path).write_text(out.content)


@pytest.mark.skipif(UPDATE_GOLDEN, reason="UPDATE_GOLDEN is set: the golden files were just rewritten; "
                                          "compare them in a run without it")
@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_files(example_copy, case):
    """The generated files, byte for byte, against tests/golden (never written here)."""
    outputs = golden_outputs(example_copy, case)
    folder = GOLDEN / f"mysite-{case}"
    for out in outputs:
        assert golden(case, out.path).read_text() == out.content, f"{out.path} differs from tests/golden"
    assert sorted(p for p in folder.rglob("*") if p.is_file()) == sorted(golden(case, o.path) for o in outputs)


def test_sources_differ_only_in_image_names(example_copy):
    official = {o.path: o.content for o in render.render(golden_stack(example_copy, "official"))}
    debian = {o.path: o.content for o in render.render(golden_stack(example_copy, "debian"))}
    differing = {path for path in official if official[path] != debian[path]}
    assert differing == {".env", ".env.example"}
    changed = {line.split("=")[0] for line in set(official[".env"].splitlines()) ^ set(debian[".env"].splitlines())}
    assert changed == {"IMAGE_SOURCE", "PYTHON_IMAGE", "PYTHON_BUILD_IMAGE", "DB_IMAGE", "REDIS_IMAGE", "NGINX_IMAGE"}


def test_init_twice_is_a_no_op_and_keeps_secrets(example_copy):
    _, first = run_init(example_copy, StackOptions(image_source="debian"), force=False)
    assert {r.action for r in first} <= {"created", "updated"}
    secrets = {k: read_env(example_copy / ".env")[k] for k in SECRET_KEYS}
    assert all(len(v) >= 32 for v in secrets.values())
    assert len(set(secrets.values())) == len(secrets)
    _, second = run_init(example_copy, StackOptions(), force=False)
    assert {r.action for r in second} == {"unchanged"}
    assert {k: read_env(example_copy / ".env")[k] for k in SECRET_KEYS} == secrets


def test_env_is_private_and_ignored(example_copy):
    run_init(example_copy, StackOptions(image_source="official"), force=False)
    assert stat.S_IMODE((example_copy / ".env").stat().st_mode) == 0o600
    assert ".env\n" in (example_copy / ".gitignore").read_text()
    dockerignore = (example_copy / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore and ".env.*" in dockerignore
    # The project's own .gitignore lines survive around djstack's block.
    assert (example_copy / ".gitignore").read_text().startswith("db.sqlite3\n")
    example = read_env(example_copy / ".env.example")
    assert all(example[k] == "" for k in SECRET_KEYS)


def test_edited_file_is_not_clobbered_without_force(example_copy):
    run_init(example_copy, StackOptions(image_source="official"), force=False)
    conf = example_copy / "compose/nginx/nginx.conf"
    edited = conf.read_text() + "# my edit\n"
    conf.write_text(edited)
    compose_before = (example_copy / "docker-compose.yml").read_text()
    (example_copy / "docker-compose.yml").unlink()
    with pytest.raises(DjstackError, match="compose/nginx/nginx.conf"):
        run_init(example_copy, StackOptions(), force=False)
    assert conf.read_text() == edited
    assert not (example_copy / "docker-compose.yml").exists()  # nothing at all was written

    _, results = run_init(example_copy, StackOptions(), force=True)
    assert (example_copy / "compose/nginx/nginx.conf.bak").read_text() == edited
    assert "# my edit" not in conf.read_text()
    assert (example_copy / "docker-compose.yml").read_text() == compose_before
    replaced = [r for r in results if r.action == "replaced"]
    assert [(r.path, r.backup) for r in replaced] == [("compose/nginx/nginx.conf", "compose/nginx/nginx.conf.bak")]

    # A second forced replacement keeps the first backup too.
    conf.write_text(edited + "# again\n")
    run_init(example_copy, StackOptions(), force=True)
    assert (example_copy / "compose/nginx/nginx.conf.bak").read_text() == edited
    assert (example_copy / "compose/nginx/nginx.conf.bak.1").read_text() == edited + "# again\n"


def for_this_nginx(text: str, nginx: str) -> str:
    """The config with what the images' nginx (1.26 or later, OpenSSL 3.5) accepts and this host's older
    one would refuse taken out, each only when this nginx lacks it; the e2e stacks start the real images
    with every line."""
    built = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    version = tuple(int(n) for n in re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", built).groups())
    openssl = tuple(int(n) for n in re.search(r"built with OpenSSL (\d+)\.(\d+)", built).groups())
    newer = [("http2 on;", version < (1, 25, 1)), ("?X25519MLKEM768:", openssl < (3, 5))]
    for line, unknown_here in newer:
        assert line in text or "ssl_certificate" not in text  # a taken-out line must be there to take out
        if unknown_here:
            text = text.replace(line, "")
    return text


@pytest.mark.parametrize("flower", [False, True])
@pytest.mark.parametrize("tls_mode", ["off", "self-signed", "provided"])
def test_nginx_accepts_the_config(example_copy, tmp_path, tls_mode, flower):
    nginx = require_tool("nginx")
    tls_options = HTTPS_OPTIONS | {"tls": tls_mode} if tls_mode != "off" else {}
    stack = celery_stack(example_copy, **tls_options) if flower else golden_stack(example_copy, "official", **tls_options)
    text = for_this_nginx(next(o.content for o in render.render(stack) if o.path == "compose/nginx/nginx.conf"), nginx)
    cert, key = tls.cert_paths(stack)
    if tls_mode == "self-signed":
        tls.make_self_signed(stack)
    elif tls_mode == "provided":  # a CA's certificate whose issuer is in the chain, without an OCSP URL
        cert.parent.mkdir(parents=True)
        make_ca(tmp_path / "ca").issue(cert, key, stack.domains, 90)
    # The mounted certificate pair is where nginx.conf expects it.
    text = text.replace(f"{stack.paths.nginx_ssl}/", f"{cert.parent}/")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    proc = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "syntax is ok" in proc.stderr
    # Stapling is on only with a provided certificate: without an OCSP URL it is a warning, not a failure.
    stapling = '"ssl_stapling" ignored, no OCSP responder URL in the certificate'
    assert (stapling in proc.stderr) == (tls_mode == "provided"), proc.stderr
    assert "[emerg]" not in proc.stderr and "issuer certificate not found" not in proc.stderr


def compose_config(folder) -> dict:
    """`docker compose config` of the stack in `folder`, as Compose itself reads it."""
    import json

    proc = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=folder,
                          capture_output=True, text=True)
    if "is not a docker command" in proc.stderr and not os.environ.get("CI"):
        pytest.skip("Compose v2 is not installed")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_accepts_the_file(example_copy):
    require_tool("docker")
    run_init(example_copy, StackOptions(image_source="official"), force=False)
    config = compose_config(example_copy)
    services = config["services"]
    # The example has a Celery app with a periodic job: worker, beat and their broker.
    assert set(services) == {"web", "nginx", "db", "redis", "broker", "worker", "beat"}
    assert [name for name, svc in services.items() if svc.get("ports")] == ["nginx"]
    assert all("healthcheck" in svc for svc in services.values())
    assert all(config["networks"][name]["internal"] for name in ("db_network", "redis_network", "broker_network"))
    assert not config["networks"]["nginx_network"].get("internal")
    assert set(services["nginx"]["networks"]) == {"nginx_network"}
    assert set(services["db"]["networks"]) == {"db_network"}
    assert set(services["redis"]["networks"]) == {"redis_network"}
    assert set(services["broker"]["networks"]) == {"broker_network"}
    assert "version" not in config
    for svc in services.values():
        assert svc["restart"] == "unless-stopped"


def test_name_given_once_is_kept(example_copy):
    run_init(example_copy, StackOptions(image_source="debian", name="Shop Site"), force=False)
    assert read_env(example_copy / ".env")["COMPOSE_PROJECT_NAME"] == "shop-site"
    stack, results = run_init(example_copy, StackOptions(), force=False)
    assert stack.name == "shop-site"
    assert {r.action for r in results} == {"unchanged"}


def test_web_gets_exactly_the_variables_the_model_says_it_supplies(example_copy):
    """SUPPLIED_ENV (what a project's settings may read without a default) is web's environment."""
    import yaml

    from djstack.model import SUPPLIED_ENV, WORKER_SUPPLIED_ENV

    outputs = {o.path: o.content for o in render.render(golden_stack(example_copy, "official"))}
    web = yaml.safe_load(outputs["docker-compose.yml"])["services"]["web"]
    assert set(web["environment"]) == SUPPLIED_ENV | WORKER_SUPPLIED_ENV  # the example has a Celery app


def test_compose_accepts_the_celery_stack(example_copy):
    """Compose reads the background services as meant: web's environment (the YAML anchor), the
    broker on its own internal network, no port but nginx's, the worker's grace from the time limit."""
    require_tool("docker")
    stack = celery_stack(example_copy)
    render.write(example_copy, render.render(stack))
    config = compose_config(example_copy)
    services = config["services"]
    assert set(services) == {"web", "nginx", "db", "redis", "broker", "worker", "beat", "flower", "clock"}
    assert [name for name, svc in services.items() if svc.get("ports")] == ["nginx"]
    assert config["networks"]["broker_network"]["internal"]
    joined = {name for name, svc in services.items() if "broker_network" in svc["networks"]}
    assert joined == {"web", "worker", "beat", "flower", "clock", "broker"}
    assert set(services["broker"]["networks"]) == {"broker_network"}
    for name in ("worker", "beat", "flower", "clock"):
        assert services[name]["image"] == services["web"]["image"]
        assert set(services["web"]["environment"]) <= set(services[name]["environment"]), name
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == f"admin:{stack.secrets['FLOWER_PASSWORD']}"
    assert stack.workers.stop_grace_seconds == 330 and services["worker"]["stop_grace_period"] == "5m30s"
    assert services["worker"]["command"][:2] == ["wait-for-migrations", "celery"]
    # A literal $ for the shell (`compose config` prints it escaped again).
    assert services["clock"]["command"][-1] == "python manage.py clock --every $$CLOCK_SECONDS"
    assert services["beat"]["volumes"][0]["target"] == stack.paths.beat
    # Tasks read and write uploads as the views do (a thumbnail of one).
    for name in ("worker", "clock"):
        assert [(v["source"], v["target"]) for v in services[name]["volumes"]] == [("media", stack.paths.media)]
    for svc in services.values():
        assert svc["restart"] == "unless-stopped" and svc["read_only"] and svc["cap_drop"] == ["ALL"]


def test_broker_conf_is_a_store_that_never_evicts(example_copy):
    outputs = {o.path: o.content for o in render.render(celery_stack(example_copy))}
    conf = dict(line.split(" ", 1) for line in outputs["compose/redis/broker.conf"].splitlines()
                if line and not line.startswith("#"))
    assert conf["appendonly"] == "yes" and conf["appendfsync"] == "everysec"
    assert conf["maxmemory-policy"] == "noeviction" and conf["maxmemory"] == "256mb"
    # The cache keeps evicting: it is not where tasks go.
    assert "allkeys-lru" in outputs["compose/redis/redis.conf"]


def test_overlay_celery_settings_compile_and_follow_the_namespace(example_copy):
    stack = celery_stack(example_copy)
    overlay = next(o.content for o in render.render(stack) if o.path == stack.overlay_file)
    compile(overlay, stack.overlay_file, "exec")
    w = stack.workers
    for line in ("CELERY_TASK_ACKS_LATE = True", "CELERY_TASK_REJECT_ON_WORKER_LOST = True",
                 "CELERY_WORKER_PREFETCH_MULTIPLIER = 1", f"CELERY_TASK_TIME_LIMIT = {w.time_limit}",
                 f'CELERY_BROKER_TRANSPORT_OPTIONS = {{"visibility_timeout": {w.visibility_timeout}}}',
                 "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True",
                 f'CELERY_BEAT_SCHEDULE_FILENAME = "{stack.paths.beat_schedule}"'):
        assert line in overlay.splitlines(), line
    # A database scheduler keeps no file; an app reading settings under another namespace gets that one.
    other = celery_stack(example_copy, celery=replace(GOLDEN_CELERY, namespace="TASKS", beat="database"))
    text = next(o.content for o in render.render(other) if o.path == stack.overlay_file)
    assert 'TASKS_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"' in text
    assert "BEAT_SCHEDULE_FILENAME" not in text and "TASKS_TASK_ACKS_LATE = True" in text


@pytest.mark.parametrize("beat", ["file", "database"])
def test_background_scripts_compile(example_copy, beat):
    stack = celery_stack(example_copy, celery=replace(GOLDEN_CELERY, beat=beat))
    outputs = {o.path: o.content for o in render.render(stack)}
    for path in (stack.files.beat_health, stack.files.wait_for_migrations):
        compile(outputs[path], path, "exec")


def test_no_workers_leaves_the_stack_as_it_was(example_copy):
    """--no-workers (WORKERS=off): no background service, no broker, nothing of Celery in the overlay."""
    import yaml

    stack = celery_stack(example_copy, workers=False)
    outputs = {o.path: o.content for o in render.render(stack)}
    compose = outputs["docker-compose.yml"]
    services = set(yaml.safe_load(compose)["services"])
    assert services == {"web", "nginx", "db", "redis"} and "&django-environment" not in compose
    assert stack.files.broker_conf not in outputs and stack.files.beat_health not in outputs
    assert "CELERY_TASK_ACKS_LATE" not in outputs[stack.overlay_file]
    assert "WORKERS=off" in outputs[".env"].splitlines()


def test_beat_health_judges_the_schedule_file_by_its_age(example_copy, tmp_path):
    """The file scheduler's healthcheck: a schedule written lately passes, an old or missing one fails
    (sqlite3's -wal beside it counts: that is where its writes land first)."""
    stack = celery_stack(example_copy)
    script = next(o.content for o in render.render(stack) if o.path == stack.files.beat_health)
    schedule = tmp_path / "celerybeat-schedule"
    (tmp_path / "beat_health.py").write_text(script.replace(stack.paths.beat_schedule, str(schedule)))

    def check() -> subprocess.CompletedProcess:
        return subprocess.run(["python3", str(tmp_path / "beat_health.py")], capture_output=True, text=True)

    assert check().returncode == 1 and "has not written" in check().stdout
    schedule.write_bytes(b"")
    old = stack.beat_stale_seconds + 30
    os.utime(schedule, (schedule.stat().st_atime - old, schedule.stat().st_mtime - old))
    stale = check()
    assert stale.returncode == 1 and "its loop is stuck" in stale.stdout
    (tmp_path / "celerybeat-schedule-wal").write_bytes(b"")  # a write just now
    assert check().returncode == 0


@pytest.mark.parametrize("namespace", ["", None])
def test_an_app_without_a_settings_namespace_is_told_so(example_copy, namespace):
    """An app that does not read Django's settings under a namespace cannot take the overlay's: the
    overlay says so, and sets nothing it would ignore under a name it does not read."""
    stack = celery_stack(example_copy, celery=replace(GOLDEN_CELERY, namespace=namespace))
    assert stack.workers.namespace == ""
    overlay = next(o.content for o in render.render(stack) if o.path == stack.overlay_file)
    compile(overlay, stack.overlay_file, "exec")
    assert "does not read Django's settings under a namespace" in overlay
    assert "TASK_ACKS_LATE" not in overlay and "BROKER_URL =" not in overlay
    import yaml

    compose = yaml.safe_load(next(o.content for o in render.render(stack) if o.path == "docker-compose.yml"))
    assert compose["services"]["beat"]["command"][-4:] == ["--schedule", stack.paths.beat_schedule,
                                                            "--max-interval", str(stack.beat_loop_seconds)]
