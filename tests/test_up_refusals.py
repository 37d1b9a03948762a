"""What `djstack up` refuses, and what it says, before and after it drives Docker (no engine needed)."""

from __future__ import annotations

import pytest

from helpers import REPO, copy_project
from djstack import lifecycle
from djstack.envfile import read_env
from djstack.errors import BuildFailed, MissingVariables
from djstack.initialise import run_init
from djstack.model import StackOptions

SHAPES = REPO / "tests" / "fixtures" / "shapes"
BUILD_LOGS = REPO / "tests" / "data" / "buildlogs"


def test_up_lists_exactly_the_variables_the_settings_need(tmp_path):
    project = tmp_path / "shop"
    copy_project(SHAPES / "cookiecutter", project)
    stack, _ = run_init(project, StackOptions(image_source="debian"), force=False)
    env_path = stack.dir / ".env"
    with pytest.raises(MissingVariables) as refused:
        lifecycle.validate_env(stack, read_env(env_path))
    assert refused.value.names == ("DJANGO_ADMIN_URL",)
    assert "config/settings/production.py:" in refused.value.message
    assert str(env_path) in refused.value.fix
    # .env has the empty entry with a comment naming the line that reads it.
    text = env_path.read_text()
    assert "\nDJANGO_ADMIN_URL=\n" in text
    comment = text.split("\nDJANGO_ADMIN_URL=\n")[0].splitlines()[-1]
    assert comment.startswith("# config/settings/production.py:")
    # Filled in, it passes; a second init keeps the value.
    env_path.write_text(text.replace("\nDJANGO_ADMIN_URL=\n", "\nDJANGO_ADMIN_URL=control-room/\n"))
    lifecycle.validate_env(stack, read_env(env_path))
    stack, _ = run_init(project, StackOptions(), force=False)
    assert read_env(env_path)["DJANGO_ADMIN_URL"] == "control-room/"
    lifecycle.validate_env(stack, read_env(env_path))


def test_a_build_failing_for_a_header_names_the_package_and_the_file(example_copy, tmp_path):
    stack, _ = run_init(example_copy, StackOptions(image_source="debian"), force=False)
    log = tmp_path / "build.log"
    log.write_text((BUILD_LOGS / "psycopg2-no-libpq.log").read_text())  # a real build, trimmed
    failure = lifecycle.build_failure(stack, log)
    assert isinstance(failure, BuildFailed)
    assert "libpq-dev" in failure.fix and "compose/web/apt-packages.txt" in failure.fix
    assert "[build]" in failure.fix


def test_deploy_refuses_new_code_that_reads_a_variable_the_stack_does_not_pass(tmp_path):
    from djstack import deploy
    from djstack.errors import DjstackError

    project = tmp_path / "shop"
    copy_project(SHAPES / "cookiecutter", project)
    stack, _ = run_init(project, StackOptions(image_source="debian"), force=False)
    compose = stack.dir / "docker-compose.yml"
    # The stack's files from before the code read DJANGO_ADMIN_URL:
    compose.write_text("\n".join(line for line in compose.read_text().splitlines() if "DJANGO_ADMIN_URL" not in line))
    with pytest.raises(DjstackError, match="DJANGO_ADMIN_URL") as refused:
        deploy._require_variables(stack)
    assert "djstack init" in refused.value.fix
    run_init(project, StackOptions(), force=True)
    with pytest.raises(MissingVariables):  # passed on now, but still empty in .env
        deploy._require_variables(stack)
