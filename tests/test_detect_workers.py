"""Detection of background work (detect/workers.py) on the shapes of tests/fixtures/workers and on
the shapes it cannot run as found."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from djstack.detect import detect
from djstack.detect.workers import CeleryApp, Process
from helpers import REPO, write_tree as write

SHAPES = REPO / "tests" / "fixtures" / "workers"
MANAGE = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "{module}")\n'
APP = 'from celery import Celery\n\napp = Celery("{name}")\napp.config_from_object("django.conf:settings", namespace="CELERY")\n'


def shape(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHAPES / name, tmp_path / name))


def minimal(tmp_path: Path, requirements: str = "django\ncelery\n", **files: str) -> Path:
    """A startproject-like project `mysite` with the given extra files (`mysite__celery` is
    mysite/celery.py; Procfile is itself)."""
    return write(tmp_path, {
        "manage.py": MANAGE.format(module="mysite.settings"),
        "requirements.txt": requirements,
        "mysite/__init__.py": "",
        "mysite/settings.py": 'SECRET_KEY = "x"\nINSTALLED_APPS = []\n',
        "mysite/wsgi.py": "application = None\n",
        **{name if name == "Procfile" else name.replace("__", "/") + ".py": text for name, text in files.items()},
    })


def test_standard_layout(tmp_path):
    root = shape("standard", tmp_path)
    project = detect(root)
    assert project.celery == CeleryApp("mysite", root.resolve() / "mysite/celery.py", "CELERY", "file",
                                       "CELERY_BEAT_SCHEDULE in the settings")
    assert project.processes == ()
    assert project.worker_problems == ()


def test_cookiecutter_layout(tmp_path):
    root = shape("cookiecutter", tmp_path)
    project = detect(root)
    celery = project.celery
    assert (celery.module, celery.file, celery.namespace, celery.beat) == (
        "config.celery_app", root.resolve() / "config/celery_app.py", "CELERY", "database")
    assert "CELERY_BEAT_SCHEDULER" in celery.why_beat
    assert project.processes == (
        Process("worker", "REMAP_SIGTERM=SIGQUIT celery -A config.celery_app worker --loglevel=info", "celery-worker"),
        Process("beat", "REMAP_SIGTERM=SIGQUIT celery -A config.celery_app beat --loglevel=info", "celery-beat"),
    )
    assert project.worker_problems == ()


def test_procfile_names_the_app_and_embeds_beat(tmp_path):
    root = shape("procfile", tmp_path)
    project = detect(root)
    assert project.celery == CeleryApp("proj.jobs", root.resolve() / "proj/jobs.py", None, "file",
                                       "the Procfile's worker line")
    assert [(p.name, p.role) for p in project.processes] == [("worker", "celery-worker"), ("clock", "other")]
    assert project.processes[1].command == "python manage.py run_clock"


def test_tasks_package_without_namespace(tmp_path):
    root = shape("tasks-package", tmp_path)
    project = detect(root)
    assert project.celery == CeleryApp("tasks", root.resolve() / "tasks/__init__.py", "", "file",
                                       "add_periodic_task in tasks/__init__.py")


def test_the_example_in_the_standard_shape(example_copy):
    project = detect(example_copy)
    assert project.celery == CeleryApp("mysite", example_copy.resolve() / "mysite/celery.py", "CELERY", "file",
                                       "CELERY_BEAT_SCHEDULE in the settings")
    assert project.processes == ()


@pytest.mark.parametrize("settings, beat", [
    ('CELERY_BEAT_SCHEDULE = {}\n', ""),  # a placeholder holds no work
    ('INSTALLED_APPS = ["django_celery_beat"]\n', "database"),
    ('INSTALLED_APPS = ["django_celery_beat"]\nCELERY_BEAT_SCHEDULER = "celery.beat:PersistentScheduler"\n'
     'CELERY_BEAT_SCHEDULE = {"a": {}}\n', "file"),  # installed for its admin, not the scheduler
    ('CELERYBEAT_SCHEDULE = {"a": {"task": "t", "schedule": 60}}\n', "file"),  # Celery 3's name
])
def test_beat_from_the_settings(tmp_path, settings, beat):
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite"))
    (root / "mysite/settings.py").write_text('SECRET_KEY = "x"\n' + settings)
    assert detect(root).celery.beat == beat


@pytest.mark.parametrize("code, beat", [
    ('app.conf.beat_schedule = {"a": {"task": "t", "schedule": 5.0}}\n', "file"),
    ('app.conf.beat_schedule = {}\n', ""),
    ('app.conf.update(beat_schedule={"a": {}})\n', "file"),
    ('app.conf.beat_scheduler = "django_celery_beat.schedulers:DatabaseScheduler"\n', "database"),
])
def test_beat_on_the_app(tmp_path, code, beat):
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite") + code)
    assert detect(root).celery.beat == beat


def test_celery_py_without_the_package_import_is_its_own_module(tmp_path):
    # Without `from .celery import app` in mysite/__init__.py, Django never loads the app; -A names the module.
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite"))
    assert detect(root).celery.module == "mysite.celery"


@pytest.mark.parametrize("line, role, beat", [
    ("worker: celery -A mysite worker -l info", "celery-worker", ""),
    ("worker: python -m celery -A mysite worker --beat", "celery-worker", "file"),
    ("jobs: exec celery --app mysite beat -S django", "celery-beat", "database"),
    ("beat: celery beat --app=mysite --scheduler=django_celery_beat.schedulers:DatabaseScheduler", "celery-beat",
     "database"),
    ("rq: python manage.py rqworker default", "other", ""),
])
def test_procfile_roles(tmp_path, line, role, beat):
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite"), Procfile=f"web: gunicorn x\n{line}\n")
    project = detect(root)
    assert [p.role for p in project.processes] == [role]
    assert project.celery.beat == beat


def test_several_apps_refused_unless_the_procfile_chooses(tmp_path):
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite"), other__worker=APP.format(name="other"))
    project = detect(root)
    assert project.celery is None
    [problem] = project.worker_problems
    assert problem.blocking and "2 Celery apps" in problem.message and "other/worker.py" in problem.message
    assert "Procfile" in problem.fix
    (root / "Procfile").write_text("worker: celery -A other.worker worker\n")
    assert detect(root).celery.module == "other.worker"


def test_app_without_the_celery_dependency(tmp_path):
    root = minimal(tmp_path, requirements="django\n", mysite__celery=APP.format(name="mysite"))
    project = detect(root)
    assert project.celery is None
    [problem] = project.worker_problems
    assert problem.file == root.resolve() / "mysite/celery.py"
    assert "requirements.txt" in problem.message and "celery[redis]" in problem.fix


def test_celery_dependency_without_an_app_is_said(tmp_path):
    root = minimal(tmp_path)
    [problem] = detect(root).worker_problems
    assert not problem.blocking and "no module of the project creates a Celery app" in problem.message


@pytest.mark.parametrize("procfile, expected", [
    ("worker celery -A mysite worker\n", "is not a Procfile line"),
    ("worker:\n", "is not a Procfile line"),
    ("worker: celery -A 'mysite worker\n", "cannot be read as a shell line"),
    ("clock: python clock.py\nclock: python other.py\n", "also on line 1"),
])
def test_unreadable_procfile_lines(tmp_path, procfile, expected):
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite"), Procfile=procfile)
    project = detect(root)
    blocking = [p for p in project.worker_problems if p.blocking]
    assert len(blocking) == 1 and expected in blocking[0].message
    assert str(root / "Procfile") in blocking[0].message
    assert project.celery is not None  # the app itself is still found


def test_flower_line_is_left_to_the_option(tmp_path):
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite"),
                   Procfile="worker: celery -A mysite worker\nflower: celery -A mysite flower\n")
    project = detect(root)
    assert [p.name for p in project.processes] == ["worker"]
    [note] = project.worker_problems
    assert not note.blocking and note.fix == "djstack init --flower"


def test_files_python_cannot_parse_and_skipped_folders(tmp_path):
    root = minimal(tmp_path, mysite__celery=APP.format(name="mysite"),
                   scripts__old="print 'Celery'\n",  # Python 2: not the app
                   tests__test_celery=APP.format(name="test"), venv__lib__x=APP.format(name="venv"),
                   conftest=APP.format(name="fixture"), mysite__test_tasks=APP.format(name="eager"),
                   build__lib__mysite__celery=APP.format(name="mysite"))
    project = detect(root)
    assert project.celery.module == "mysite.celery" and project.worker_problems == ()


# --- init: the options, the refusal, the report ------------------------------------------------------

def test_init_refuses_what_it_cannot_run_unless_workers_are_left_out(tmp_path):
    from djstack.errors import DjstackError
    from djstack.initialise import run_init
    from djstack.model import StackOptions

    root = minimal(tmp_path, requirements="django\n", mysite__celery=APP.format(name="mysite"))
    with pytest.raises(DjstackError) as refused:
        run_init(root, StackOptions(image_source="debian"), force=False)
    assert "mysite/celery.py" in refused.value.message and "Nothing was written" in refused.value.message
    assert "celery[redis]" in refused.value.fix and "--no-workers" in refused.value.fix
    assert not (root / "docker-compose.yml").exists()
    stack, _ = run_init(root, StackOptions(image_source="debian", workers=False), force=False)
    assert (root / "docker-compose.yml").is_file() and stack.project.celery is None


def test_init_says_what_it_found(tmp_path):
    from djstack.initialise import decisions, load_stack
    from djstack.model import StackOptions

    root = shape("cookiecutter", tmp_path)
    said = dict((topic, text) for topic, text in decisions(load_stack(root, StackOptions(image_source="debian")))
                if topic in ("celery", "beat"))
    assert said == {"celery": "app config.celery_app (config/celery_app.py); its settings are the CELERY_ ones",
                    "beat": "django-celery-beat's DatabaseScheduler (CELERY_BEAT_SCHEDULER in the settings): "
                            "schedules live in the database"}
    procfile = [text for topic, text in decisions(load_stack(root, StackOptions(image_source="debian")))
                if topic == "procfile"]
    assert procfile == ["worker: REMAP_SIGTERM=SIGQUIT celery -A config.celery_app worker --loglevel=info "
                        "(Celery's worker)",
                        "beat: REMAP_SIGTERM=SIGQUIT celery -A config.celery_app beat --loglevel=info (Celery's beat)"]


@pytest.mark.parametrize("args, workers, flower", [
    ([], None, None), (["--no-workers"], False, None), (["--workers"], True, None), (["--flower"], None, True),
    (["--no-flower"], None, False),
])
def test_init_options_reach_stack_options(tmp_path, monkeypatch, args, workers, flower):
    from click.testing import CliRunner

    from djstack import cli, initialise

    seen = {}

    def fake_run_init(folder, options, *, force):
        seen["options"] = options
        raise SystemExit(0)

    monkeypatch.setattr(initialise, "run_init", fake_run_init)
    root = shape("standard", tmp_path)
    CliRunner().invoke(cli.main, ["init", str(root), "--images", "debian", *args])
    assert (seen["options"].workers, seen["options"].flower) == (workers, flower)


def test_flower_without_workers_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from djstack import cli

    result = CliRunner().invoke(cli.main, ["init", str(tmp_path), "--no-workers", "--flower"])
    assert result.exit_code == 2 and "--flower" in result.output and "--no-workers" in result.output


def test_init_says_which_services_it_adds_or_why_none(tmp_path):
    from djstack.initialise import decisions, load_stack
    from djstack.model import StackOptions

    def said(root, **options):
        return [text for topic, text in decisions(load_stack(root, StackOptions(image_source="debian", **options)))
                if topic == "workers"]

    root = shape("procfile", tmp_path)
    [adds] = said(root, flower=True)
    assert adds.startswith("adds worker, beat, flower, clock, broker: broker is a Redis of its own")
    assert said(root, workers=False) == ["none: background work is left out (--no-workers, recorded as "
                                         "WORKERS=off in .env; --workers puts it back)"]
    (root / "Procfile").write_text("clock: python manage.py run_clock\n")  # no Celery line: no app named
    assert said(root) == ["none: no Celery app found, and the stack runs the Procfile's lines only beside "
                          "Celery's worker"]
