"""Where the stack goes: beside manage.py, or in djstack/ when the project has Docker files of its own."""

from __future__ import annotations


import pytest

from djstack import render
from djstack.detect import placement
from djstack.initialise import load_stack, run_init
from djstack.model import StackOptions

PROJECT_OWN = {
    "Dockerfile": "FROM python:3.12\nCMD python manage.py runserver 0.0.0.0:8000\n",
    "docker-compose.yml": "services:\n  web:\n    build: .\n",
    ".env.example": "DATABASE_URL=postgres://localhost/app\n",
}


@pytest.mark.parametrize("name", [*placement.OWN_DOCKER_FILES[:-1], "docker-compose.local.yml"])
def test_any_own_docker_file_moves_the_stack(example_copy, name):
    (example_copy / name).write_text("# the project's own\n")
    assert placement.stack_dir(example_copy) == "djstack"


def test_a_compose_folder_of_the_projects_own(example_copy):
    (example_copy / "compose/production/django").mkdir(parents=True)
    (example_copy / "compose/production/django/Dockerfile").write_text("FROM python:3.12\n")
    assert placement.stack_dir(example_copy) == "djstack"


def test_plain_project_gets_the_stack_at_its_root(example_copy):
    assert placement.stack_dir(example_copy) == "."
    run_init(example_copy, StackOptions(image_source="official"), force=False)
    # djstack's own files never count as the project's: a second look keeps the root.
    assert placement.stack_dir(example_copy) == "."
    (example_copy / "docker-compose.yml").unlink()
    assert placement.stack_dir(example_copy) == "."


def test_project_files_are_left_alone_and_the_stack_goes_to_its_folder(example_copy):
    for name, text in PROJECT_OWN.items():
        (example_copy / name).write_text(text)
    (example_copy / ".dockerignore").write_text("node_modules\n")
    stack, results = run_init(example_copy, StackOptions(image_source="official"), force=False)
    for name, text in PROJECT_OWN.items():
        assert (example_copy / name).read_text() == text, name
    assert stack.dir == example_copy.resolve() / "djstack"
    written = {r.path for r in results}
    assert {"djstack/docker-compose.yml", "djstack/Dockerfile", "djstack/.env", "djstack/compose/web/uwsgi.ini",
            "mysite/settings_docker.py", ".dockerignore", ".gitignore"} <= written
    assert not any(p.startswith(("Dockerfile", "docker-compose", ".env")) for p in written)
    # The project's .dockerignore keeps its lines; djstack's block names the stack's folder.
    ignore = (example_copy / ".dockerignore").read_text().splitlines()
    assert ignore[0] == "node_modules"
    assert {"djstack/.env", "djstack/docker-compose.yml", "djstack/compose/nginx"} <= set(ignore)
    assert "djstack/.env" in (example_copy / ".gitignore").read_text().splitlines()

    compose = (example_copy / "djstack/docker-compose.yml").read_text()
    assert "context: ..\n" in compose and "dockerfile: djstack/Dockerfile" in compose
    assert '"/app/djstack/compose/web/healthcheck.py"' in compose
    dockerfile = (example_copy / "djstack/Dockerfile").read_text()
    assert "COPY djstack/compose/web/requirements-stack.txt" in dockerfile
    assert 'ENTRYPOINT ["/app/djstack/compose/web/entrypoint.sh"]' in dockerfile

    # Later runs find the stack in its folder, keep its secrets and still leave the project's files alone.
    again = load_stack(example_copy)
    assert again.dir == stack.dir and again.secrets == stack.secrets
    _, results = run_init(example_copy, StackOptions(), force=False)
    assert {r.action for r in results if r.path.startswith("djstack/")} == {"unchanged"}
    for name, text in PROJECT_OWN.items():
        assert (example_copy / name).read_text() == text, name


def test_rendered_paths_follow_the_stack_folder(example_copy):
    (example_copy / "Dockerfile").write_text("FROM python:3.12\n")
    outputs = render.render(load_stack(example_copy, StackOptions(image_source="official")))
    paths = [o.path for o in outputs]
    beside_settings = ("mysite/settings_docker.py", "mysite/staticfiles_docker.py")  # the overlay and its storage
    assert all(p.startswith("djstack/") or p in (".gitignore", ".dockerignore", *beside_settings)
               for p in paths), paths


def test_check_reads_the_stack_in_its_folder(example_copy):
    from djstack.check import has_errors, run_check

    for name, text in PROJECT_OWN.items():
        (example_copy / name).write_text(text)
    run_init(example_copy, StackOptions(image_source="official"), force=False)
    findings = run_check(example_copy)
    assert not has_errors(findings), [f for f in findings if f.severity == "error"]
    # It is the stack's compose file that is read, not the project's own.
    (example_copy / "djstack/compose/nginx/nginx.conf").write_text("events {}\nhttp { server { listen 80; } }\n")
    assert has_errors(run_check(example_copy))


def test_a_stack_beside_the_projects_own_compose_file_takes_another_compose_name(example_copy):
    """Plain `docker compose` at the root names the project's own containers after the folder: the
    stack in djstack/ must not take them over (same service names: web, db)."""
    (example_copy / "docker-compose.yml").write_text("services:\n  web:\n    build: .\n  db:\n    image: postgres\n")
    stack, _ = run_init(example_copy, StackOptions(image_source="official"), force=False)
    assert stack.name == "mysite-djstack"
    assert "name: mysite-djstack" in (example_copy / "djstack/docker-compose.yml").read_text()
    assert load_stack(example_copy).name == "mysite-djstack"  # recorded in .env, kept
