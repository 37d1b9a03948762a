"""The model's paths (StackFiles) and the render table agree: every path the model names is a file
render writes, or a folder it writes into; every template makes a file; every rule is a real template."""

from __future__ import annotations

import dataclasses
import posixpath
from pathlib import Path

import pytest

from djstack import render
from djstack.initialise import load_stack
from djstack.detect.workers import CeleryApp
from djstack.model import STACK_FILES, StackOptions, build_stack

#: Not rendered: written while the stack runs, or copied by init (--acme-ca-bundle's file); they lie
#: in a folder init writes.
RUNTIME_FILES = {"upstream_conf", "nginx_error_log", "acme_ca"}
#: Folders: init writes files into each.
FOLDERS = {"web", "nginx", "nginx_upstream", "ssl", "acme", "nginx_log", "mysql_init", "mysql", "redis", "certbot",
           "letsencrypt"}
#: acme: the HTTPS mode with every file (the certbot service's too).
HTTPS = dict(domains=("example.com",), tls="acme")
#: What a folder may hold besides the model's files: a README or a .gitignore of its own.
PLACEHOLDERS = {"README.md", ".gitignore"}
IGNORE_FILES = (".gitignore", ".dockerignore")


#: A Celery app with a file schedule, and --flower: the stack with every file.
CELERY = CeleryApp(module="mysite", file=Path("mysite/celery.py"), namespace="CELERY", beat="file")


def celery_stack(project, **options):
    """The stack of `project` given a Celery app (and Flower): the model's every file is rendered."""
    stack = load_stack(project, StackOptions(image_source="official", pip_ca_bundle="", flower=True, **options))
    return build_stack(dataclasses.replace(stack.project, celery=CELERY), StackOptions(flower=True, **options),
                       stack.env())


def rendered(project, **options) -> dict[str, render.Output]:
    return {o.path: o for o in render.render(celery_stack(project, **options))}


@pytest.mark.parametrize("own_folder", [False, True])
def test_every_model_path_is_rendered(example_copy, own_folder):
    if own_folder:  # a project with a Dockerfile of its own: the stack goes to djstack/
        (example_copy / "Dockerfile").write_text("FROM python:3.12\n")
    outputs = rendered(example_copy, **HTTPS)
    prefix = "djstack/" if own_folder else ""
    for field in dataclasses.fields(STACK_FILES):
        path = prefix + getattr(STACK_FILES, field.name)
        if field.name in FOLDERS:
            assert any(p.startswith(path + "/") for p in outputs), (field.name, path)
        elif field.name in RUNTIME_FILES:
            assert path not in outputs and any(posixpath.dirname(p) == posixpath.dirname(path) for p in outputs)
        else:
            assert path in outputs, (field.name, path)


@pytest.mark.parametrize("own_folder", [False, True])
def test_every_rendered_path_is_a_model_path(example_copy, own_folder):
    if own_folder:
        (example_copy / "Dockerfile").write_text("FROM python:3.12\n")
    stack = celery_stack(example_copy, **HTTPS)
    outputs = {o.path: o for o in render.render(stack)}
    prefix = "djstack/" if own_folder else ""
    files = {prefix + getattr(STACK_FILES, f.name) for f in dataclasses.fields(STACK_FILES)}
    folders = {prefix + getattr(STACK_FILES, name) for name in FOLDERS}
    # Outside the model's files by design: the overlay and its storage sit beside the project's own
    # settings, and the project's .gitignore/.dockerignore get a managed block, not a file of ours.
    beside_settings = {stack.overlay_file, stack.static_storage_file}
    for path, output in outputs.items():
        if path in files or path in beside_settings or (output.block and path.endswith(IGNORE_FILES)):
            continue
        # Otherwise only a folder's placeholder: a README saying what goes there, or its .gitignore.
        assert posixpath.basename(path) in PLACEHOLDERS and posixpath.dirname(path) in folders, path
    assert beside_settings & set(outputs) and any(o.block for o in outputs.values())  # the exceptions exist


def test_the_absolute_paths_follow_the_stack_folder(example_copy):
    (example_copy / "Dockerfile").write_text("FROM python:3.12\n")
    stack = load_stack(example_copy, StackOptions(image_source="official"))
    assert stack.dir == example_copy.resolve() / "djstack"
    assert stack.env_path == stack.dir / ".env"
    assert stack.compose_path == stack.dir / "docker-compose.yml"
    assert stack.path(stack.files.nginx_conf) == stack.dir / "compose/nginx/nginx.conf"
    assert stack.from_root(stack.files.uwsgi_ini) == "djstack/compose/web/uwsgi.ini"
    assert stack.web_files == "/app/djstack/compose/web"
    assert stack.nginx_upstream_dir == "compose/nginx/upstream"
    assert (stack.tls_files.folder, stack.tls_files.acme) == (stack.files.ssl, stack.files.acme)
    assert stack.overlay_file == "mysite/settings_docker.py"
    assert stack.static_storage_file == "mysite/staticfiles_docker.py"


def test_every_template_makes_a_file_and_every_rule_names_a_template(example_copy):
    templates = render.templates()
    assert set(render.RULES) <= set(templates)
    assert not any(t.startswith(render.HELPERS) for t in templates)
    outputs = rendered(example_copy, **HTTPS)
    # One file per template, two for env.j2 (.env and .env.example); staticfiles_docker.py: the example
    # has no static storage of its own.
    assert len(outputs) == len(templates) + 1


def test_a_template_path_is_its_file_path():
    assert render.own_path("compose/nginx/nginx.conf.j2") == "compose/nginx/nginx.conf"
    assert render.own_path("compose/nginx/ssl/gitignore.j2") == "compose/nginx/ssl/.gitignore"
    assert render.own_path("compose/nginx/dockerignore.j2") == "compose/nginx/.dockerignore"
    assert render.own_path("Dockerfile.j2") == "Dockerfile"


def test_the_table_decides_modes_blocks_and_conditions(example_copy):
    plain = rendered(example_copy)
    assert plain[".env"].mode == 0o600 and plain[".env.example"].mode == 0o644
    assert plain["compose/web/entrypoint.sh"].mode == 0o755
    assert plain["compose/web/build-hook.sh"].keep and plain["compose/web/build-hook.sh"].mode == 0o755
    assert plain["compose/web/apt-packages.txt"].keep and not plain["compose/web/uwsgi.ini"].keep
    assert plain[".gitignore"].block and plain[".dockerignore"].block and not plain[".env"].block
    assert "compose/nginx/acme/.gitignore" not in plain  # only with HTTPS
    assert "compose/nginx/acme/.gitignore" in rendered(example_copy, **HTTPS)
    settings = example_copy / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + '\nSTORAGES = {"staticfiles": {"BACKEND": '
                        '"whitenoise.storage.CompressedManifestStaticFilesStorage"}}\n')
    own_storage = rendered(example_copy)
    assert "mysite/staticfiles_docker.py" in plain and "mysite/staticfiles_docker.py" not in own_storage
    assert "mysite/settings_docker.py" in own_storage
