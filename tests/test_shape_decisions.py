"""What `djstack init` decides for each project shape of the corpus (tests/fixtures/shapes), against
the shape's expect.toml: Python, dependency source, settings module, system packages, where the
stack goes, build steps and the variables a person must fill in. (tests/e2e/test_shapes.py brings
each one up.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from helpers import REPO, copy_project
from djstack import render
from djstack.initialise import load_stack, run_init
from djstack.model import StackOptions

SHAPES = REPO / "tests" / "fixtures" / "shapes"
NAMES = sorted(p.parent.name for p in SHAPES.glob("*/expect.toml"))


def copy(shape: str, tmp_path: Path) -> tuple[Path, dict]:
    expect = tomllib.loads((SHAPES / shape / "expect.toml").read_text())
    target = tmp_path / shape
    copy_project(SHAPES / shape, target)
    return target, expect


def active(stack, stage: str) -> list[str]:
    """Package names djstack adds for the project's own dependencies (not the stack's, not commented)."""
    return [p.name for p in stack.system_packages()
            if p.stage == stage and not p.from_source and not p.wanted_by.endswith("build stage)")
            and "djstack:" not in p.wanted_by]


def test_the_corpus_has_every_shape_issue_10_names():
    assert len(NAMES) >= 13, NAMES


@pytest.mark.parametrize("shape", NAMES)
def test_init_decides_what_the_shape_expects(tmp_path, shape):
    repo, expect = copy(shape, tmp_path)
    stack = load_stack(repo, StackOptions(image_source="debian"))
    project = stack.project
    assert project.root == (repo / expect["project_dir"]).resolve()
    assert stack.python.version == expect["python"]
    assert project.dependencies.kind == expect["dependency_kind"]
    assert str(project.dependencies.source) == expect["dependency_source"]
    assert project.settings_module == expect["settings_module"]
    assert stack.stack_dir == expect["stack_dir"]
    assert active(stack, "build") == expect["apt_build"]
    assert active(stack, "runtime") == expect["apt_runtime"]
    steps = [step.command[0] for step in project.manage_steps] + (["js"] if project.js_build else [])
    assert steps == expect["build_steps"]
    assert [v.name for v in stack.project_env] == list(expect["fill_env"])
    for name in expect.get("not_installed", []):
        assert name not in project.dependencies.names, f"{name} would be installed"
    if "database_engine" in expect:
        overlay = next(o for o in render.render(stack) if o.path == str(project.overlay_file))
        assert f'"ENGINE": "{expect["database_engine"]}"' in overlay.content


@pytest.mark.parametrize("shape", NAMES)
def test_init_writes_the_stack_and_leaves_the_projects_files_alone(tmp_path, shape):
    repo, expect = copy(shape, tmp_path)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and p.name not in (".gitignore", ".dockerignore")}
    stack, results = run_init(repo, StackOptions(image_source="debian"), force=False)
    assert {r.action for r in results} <= {"created", "updated"}
    for path, content in before.items():
        assert path.read_bytes() == content, f"init changed the project's {path.relative_to(repo)}"
    # A second init changes nothing, and an edited apt-packages.txt is the person's.
    apt = stack.dir / "compose/web/apt-packages.txt"
    apt.write_text(apt.read_text().replace("[runtime]\n", "[runtime]\nlibxml2  # mine\n"))
    _, again = run_init(repo, StackOptions(), force=False)
    assert {r.action for r in again} <= {"unchanged", "kept"}
    assert "libxml2  # mine" in apt.read_text()
