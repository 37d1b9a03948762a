"""Fast tests of the project's Python: reading the request, choosing a version, naming its images,
and what `ensure_images` would build for them (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from djstack import baseimages, docker
from djstack.baseimages import plan, rootfs
from djstack.baseimages.mirror import suite_sources
from djstack.commands import host
from helpers import write_tree as write
from djstack.detect.python import PythonRequest, choose_python, poetry_specifier, python_request
from djstack.errors import DjstackError
from djstack.imagesets import (
    DEFAULT_PYTHON,
    IMAGE_SETS,
    PYTHONS,
    image_set,
    image_suite,
    node_image,
)




def req(tmp_path: Path, files: dict[str, str]) -> PythonRequest | None:
    return python_request(write(tmp_path, files), tmp_path)


# --------------------------------------------------------------------------- reading requests


@pytest.mark.parametrize(
    ("files", "raw", "specifier", "source"),
    [
        ({".python-version": "3.12\n"}, "3.12", "==3.12.*", ".python-version"),
        ({".python-version": "# pinned by uv\n\nsystem\n3.12.4\n3.11\n"}, "3.12.4", "==3.12.4", ".python-version"),
        ({".python-version": "cpython-3.13.1-linux-x86_64-gnu\n"}, "cpython-3.13.1-linux-x86_64-gnu", "==3.13.1", ".python-version"),
        ({".python-version": "3.14t\n"}, "3.14t", "==3.14.*", ".python-version"),
        ({"runtime.txt": "python-3.10.2\n"}, "python-3.10.2", "==3.10.2", "runtime.txt"),
        ({".tool-versions": "nodejs 20.1.0\npython 3.11.4 3.10.1  # primary first\n"}, "python 3.11.4", "==3.11.4", ".tool-versions"),
        ({"Pipfile": '[packages]\ndjango = "*"\n\n[requires]\npython_version = "3.10"\n'}, "3.10", "==3.10.*", "Pipfile"),
        ({"Pipfile": '[requires]\npython_version = "3.10"\npython_full_version = "3.10.13"\n'}, "3.10.13", "==3.10.13", "Pipfile"),
        ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.11,<3.13"\n'}, ">=3.11,<3.13", "<3.13,>=3.11", "pyproject.toml"),
        ({"pyproject.toml": '[project]\nrequires-python = "==3.14.*"\n'}, "==3.14.*", "==3.14.*", "pyproject.toml"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\ndjango = "^5.0"\n'}, "^3.10", "<4.0,>=3.10", "pyproject.toml"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "~3.11"\n'}, "~3.11", "<3.12,>=3.11", "pyproject.toml"),
    ],
)
def test_each_file_kind(tmp_path, files, raw, specifier, source):
    request = req(tmp_path, files)
    assert request == PythonRequest(raw=raw, specifier=specifier, source=source)


def test_nothing_asked(tmp_path):
    files = {
        "pyproject.toml": '[project]\nname = "x"\ndependencies = ["django"]\n',
        "Pipfile": '[packages]\ndjango = "*"\n',
        ".tool-versions": "nodejs 20.1.0\n",
        ".python-version": "# only a comment\nsystem\n",
        "runtime.txt": "\n",
    }
    assert req(tmp_path, files) is None


def test_requires_python_star_is_no_request(tmp_path):
    assert req(tmp_path, {"pyproject.toml": '[project]\nrequires-python = "*"\n'}) is None
    assert req(tmp_path, {"pyproject.toml": '[tool.poetry.dependencies]\npython = "*"\n'}) is None


def test_most_explicit_pin_wins(tmp_path):
    files = {
        "pyproject.toml": '[project]\nrequires-python = ">=3.10"\n',
        "Pipfile": '[requires]\npython_version = "3.11"\n',
        ".tool-versions": "python 3.12.1\n",
        "runtime.txt": "python-3.13.0\n",
        ".python-version": "3.14\n",
    }
    write(tmp_path, files)
    order = [".python-version", "runtime.txt", ".tool-versions", "Pipfile", "pyproject.toml"]
    for name in order:
        assert python_request(tmp_path, tmp_path).source == name
        (tmp_path / name).unlink()
    assert python_request(tmp_path, tmp_path) is None


def test_requires_python_beats_poetry_python(tmp_path):
    text = '[project]\nrequires-python = ">=3.12"\n[tool.poetry.dependencies]\npython = "^3.10"\n'
    assert req(tmp_path, {"pyproject.toml": text}).specifier == ">=3.12"


def test_app_dir_before_root_and_source_relative_to_root(tmp_path):
    write(tmp_path, {"runtime.txt": "python-3.11.9\n", "src/runtime.txt": "python-3.12.1\n", "src/manage.py": ""})
    request = python_request(tmp_path, tmp_path / "src")
    assert request.source == "src/runtime.txt" and request.specifier == "==3.12.1"
    # a more explicit kind in the root still beats a looser kind in the app directory
    write(tmp_path, {".python-version": "3.13\n", "src/pyproject.toml": '[project]\nrequires-python = ">=3.10"\n'})
    (tmp_path / "src" / "runtime.txt").unlink()
    assert python_request(tmp_path, tmp_path / "src").source == ".python-version"


@pytest.mark.parametrize(
    ("files", "in_message"),
    [
        ({".python-version": "pypy3.10-7.3.12\n"}, "pypy"),
        ({".python-version": "latest\n"}, "not a Python version"),
        ({".python-version": "2.7.18\n"}, "Python 2"),
        ({"runtime.txt": "ruby-3.2\n"}, "python-3.12.4"),
        ({".tool-versions": "python banana\n"}, ".tool-versions:1"),
        ({"Pipfile": "[requires]\npython_version = 3.10\n"}, "must be a string"),
        ({"Pipfile": "[requires\n"}, "not valid TOML"),
        ({"pyproject.toml": '[project]\nrequires-python = ">=three"\n'}, "PEP 440"),
        ({"pyproject.toml": '[project]\nrequires-python = ">=3.13,<3.12"\n'}, "allows no Python 3"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^^3"\n'}, "not a version constraint"),
    ],
)
def test_nonsense_names_the_file_and_the_fix(tmp_path, files, in_message):
    with pytest.raises(DjstackError) as info:
        req(tmp_path, files)
    name = next(iter(files))
    assert name in info.value.message and in_message in info.value.message
    assert info.value.fix and name.split("/")[-1] in info.value.fix or "--python" in info.value.fix


@pytest.mark.parametrize(
    ("constraint", "specifier"),
    [
        ("^3.10", "<4.0,>=3.10"),
        ("^3.10.2", "<4.0.0,>=3.10.2"),
        ("~3.11", "<3.12,>=3.11"),
        ("~3.11.4", "<3.12.0,>=3.11.4"),
        ("~=3.11", "~=3.11"),
        (">=3.9,<3.13", "<3.13,>=3.9"),
        (">= 3.9 < 3.13", "<3.13,>=3.9"),
        ("3.10", "==3.10.*"),
        ("3.10.*", "==3.10.*"),
        ("^3.9 || ^3.12", "<4.0,>=3.9 || <4.0,>=3.12"),
        ("*", None),
    ],
)
def test_poetry_constraints(constraint, specifier):
    assert poetry_specifier(constraint) == specifier


def test_poetry_alternatives_allow_either(tmp_path):
    request = req(tmp_path, {"pyproject.toml": '[tool.poetry.dependencies]\npython = "~3.10 || ~3.13"\n'})
    assert request.allowed_series() == ["3.10", "3.13"]
    assert request.allows("3.13") and not request.allows("3.11")


def test_allows_works_by_series():
    request = PythonRequest(">=3.11.4", ">=3.11.4", "pyproject.toml")
    assert request.allows("3.11") and request.allows("3.14") and not request.allows("3.10")
    assert PythonRequest("python-3.10.2", "==3.10.2", "runtime.txt").allowed_series() == ["3.10"]
    holes = PythonRequest("x", ">=3.10,!=3.11.*,!=3.12.0,<3.14", "pyproject.toml")
    assert holes.allowed_series() == ["3.10", "3.12", "3.13"]
    assert PythonRequest("x", ">3.13.5,<3.14", "pyproject.toml").allowed_series() == ["3.13"]


# --------------------------------------------------------------------------- choosing

DEBIAN = PYTHONS["debian"]
OFFICIAL = PYTHONS["official"]


def test_no_request_is_the_default():
    choice = choose_python(None, DEBIAN, DEFAULT_PYTHON)
    assert (choice.version, choice.warning) == ("3.13", None)
    assert "no Python version asked for" in choice.how and "runtime.txt" in choice.how


def test_exact_available():
    request = PythonRequest("python-3.10.2", "==3.10.2", "runtime.txt")
    choice = choose_python(request, OFFICIAL, "3.13", images="official")
    assert (choice.version, choice.warning, choice.request) == ("3.10", None, request)
    assert choice.how == "runtime.txt asks for python-3.10.2; using 3.10"


def test_pin_not_available_takes_the_nearest_with_a_warning():
    request = PythonRequest("python-3.10.2", "==3.10.2", "runtime.txt")
    choice = choose_python(request, DEBIAN, "3.13", images="debian")
    assert choice.version == "3.11"
    assert choice.how == "runtime.txt asks for python-3.10.2; using 3.11 (nearest available on debian images)"
    assert "runtime.txt" in choice.warning and "python-3.10.2" in choice.warning and "3.11" in choice.warning
    assert "--images official" in choice.warning


def test_tie_goes_to_the_older_version():
    request = PythonRequest("3.12", "==3.12.*", ".python-version")
    assert choose_python(request, DEBIAN, "3.13").version == "3.11"
    assert choose_python(request, ("3.11", "3.13"), "3.13").version == "3.11"


def test_range_satisfied_by_the_default_keeps_it():
    request = PythonRequest("^3.10", "<4.0,>=3.10", "pyproject.toml")
    choice = choose_python(request, DEBIAN, "3.13")
    assert (choice.version, choice.warning) == ("3.13", None)


def test_range_not_satisfied_by_the_default_takes_the_nearest_satisfying():
    older = PythonRequest(">=3.10,<3.13", "<3.13,>=3.10", "pyproject.toml")
    assert choose_python(older, OFFICIAL, "3.13").version == "3.12"
    choice = choose_python(older, DEBIAN, "3.13", images="debian")
    assert (choice.version, choice.warning) == ("3.11", None)
    assert "satisfies" in choice.how
    newer = PythonRequest("==3.14.*", "==3.14.*", "pyproject.toml")
    assert choose_python(newer, DEBIAN, "3.13").version == "3.14"


def test_range_nothing_satisfies_nearest_overall_with_warning():
    request = PythonRequest(">=3.15", ">=3.15", "pyproject.toml")
    choice = choose_python(request, DEBIAN, "3.13", images="debian")
    assert choice.version == "3.14"
    assert "pyproject.toml" in choice.warning and ">=3.15" in choice.warning and "3.14" in choice.warning
    below = PythonRequest("<3.10", "<3.10", "pyproject.toml")
    assert choose_python(below, OFFICIAL, "3.13").version == "3.10"


def test_override_valid():
    choice = choose_python(None, DEBIAN, "3.13", "3.14")
    assert (choice.version, choice.warning) == ("3.14", None) and "--python" in choice.how
    request = PythonRequest("python-3.10.2", "==3.10.2", "runtime.txt")
    choice = choose_python(request, DEBIAN, "3.13", "3.11")
    assert choice.version == "3.11" and "runtime.txt asks for python-3.10.2" in choice.how
    assert "--python 3.11" in choice.warning  # it contradicts the file: say so
    assert choose_python(PythonRequest(">=3.11", ">=3.11", "pyproject.toml"), DEBIAN, "3.13", "3.11").warning is None


def test_override_from_env_is_worded_as_such():
    request = PythonRequest("python-3.10.2", "==3.10.2", "runtime.txt")
    choice = choose_python(request, DEBIAN, "3.13", "3.14", override_from=".env's PYTHON_VERSION")
    assert choice.how == "runtime.txt asks for python-3.10.2; using 3.14 (.env's PYTHON_VERSION)"
    assert choice.warning.startswith(".env's PYTHON_VERSION 3.14 overrides runtime.txt")


def test_override_invalid_lists_the_available():
    with pytest.raises(DjstackError) as info:
        choose_python(None, DEBIAN, "3.13", "3.12", images="debian")
    assert "3.11, 3.13, 3.14" in info.value.message and "--images official" in info.value.fix


# --------------------------------------------------------------------------- image names


def test_image_sets_per_source_and_version():
    assert image_set("official", "3.10").python == "python:3.10-slim-trixie"
    assert image_set("official", "3.10").python_build == "python:3.10-slim-trixie"
    deb = image_set("debian", "3.11")
    assert (deb.python, deb.python_build) == ("djstack.local/python:3.11-bookworm", "djstack.local/python-build:3.11-bookworm")
    forky = image_set("debian", "3.14")
    assert (forky.python, forky.python_build) == ("djstack.local/python:3.14-forky", "djstack.local/python-build:3.14-forky")
    for source in IMAGE_SETS:  # db/redis/nginx unchanged; the default python is IMAGE_SETS'
        for python in PYTHONS[source]:
            got = image_set(source, python)
            assert (got.db, got.redis, got.nginx) == (IMAGE_SETS[source].db, IMAGE_SETS[source].redis, IMAGE_SETS[source].nginx)
        assert image_set(source, DEFAULT_PYTHON) == IMAGE_SETS[source]


def test_image_set_refuses_a_version_the_source_lacks():
    with pytest.raises(DjstackError) as info:
        image_set("debian", "3.12")
    assert "3.11, 3.13, 3.14" in info.value.message
    with pytest.raises(DjstackError):
        image_set("dockerhub", "3.13")


def test_node_images():
    assert node_image("official") == "node:22-trixie-slim"
    assert node_image("debian") == "djstack.local/node:20-trixie"


@pytest.mark.parametrize(
    ("name", "suite"),
    [
        ("djstack.local/python:3.11-bookworm", "bookworm"),
        ("djstack.local/python-build:3.14-forky", "forky"),
        ("djstack.local/debian:trixie", "trixie"),
        ("djstack.local/mariadb:11.8-trixie", "trixie"),
        ("djstack.local/node:20-trixie", "trixie"),
        ("python:3.12-slim-trixie", "trixie"),
        ("node:22-trixie-slim", "trixie"),
        ("mysql:8.4", None),
        ("nginx", None),
        ("registry.example:5000/app", None),
    ],
)
def test_image_suite(name, suite):
    assert image_suite(name) == suite


# --------------------------------------------------------------------------- build plan


def names(steps):
    return [s.name for s in steps]


def test_plan_builds_missing_images_after_their_bases():
    wanted = [
        "djstack.local/python:3.11-bookworm",
        "djstack.local/python-build:3.11-bookworm",
        "python:3.13-slim-trixie",  # official: pulled, never built
        "djstack.local/node:20-trixie",
    ]
    present = {"djstack.local/debian:trixie"}
    steps = plan.build_plan(wanted, present.__contains__)
    assert names(steps) == [
        "djstack.local/debian:bookworm",
        "djstack.local/python:3.11-bookworm",
        "djstack.local/python-build:3.11-bookworm",
        "djstack.local/node:20-trixie",
    ]
    assert steps[0].is_rootfs and steps[0].suite == "bookworm"
    assert steps[1].base == "djstack.local/debian:bookworm" and steps[1].build_args == (("PYTHON_VERSION", "3.11"),)
    assert steps[2].base == "djstack.local/python:3.11-bookworm" and steps[2].directory == "python-build"
    assert steps[3].base == "djstack.local/debian:trixie" and steps[3].build_args == (("NODE_MAJOR", "20"),)


def test_plan_a_present_base_is_not_rebuilt():
    present = {"djstack.local/python:3.14-forky"}
    steps = plan.build_plan(["djstack.local/python-build:3.14-forky"], present.__contains__)
    assert names(steps) == ["djstack.local/python-build:3.14-forky"]  # no forky rootfs needed
    assert plan.build_plan(["djstack.local/python:3.14-forky"], present.__contains__) == []


def test_plan_rebuild_takes_everything_under_the_names():
    steps = plan.build_plan(baseimages.default_images(), lambda name: True, rebuild=True)
    images = IMAGE_SETS["debian"]
    assert names(steps) == [
        "djstack.local/debian:trixie", images.python, images.python_build, images.db, images.redis, images.nginx,
    ]


@pytest.mark.parametrize(
    "name",
    [
        "djstack.local/python:3.12-trixie",  # Debian ships no 3.12
        "djstack.local/python:3.11-trixie",  # 3.11 is bookworm's
        "djstack.local/debian:jessie",
        "djstack.local/mariadb:10.11-bookworm",
        "djstack.local/node:latest-trixie",
        "djstack.local/whatever:1-trixie",
    ],
)
def test_plan_refuses_names_it_cannot_build(name):
    with pytest.raises(DjstackError) as info:
        plan.build_plan([name], lambda n: False)
    assert name in info.value.message and "djstack.local/python:3.11-bookworm" in info.value.fix


def test_every_recipe_has_its_dockerfile_and_build_args():
    from importlib import resources

    package = resources.files("djstack.baseimages")
    for name in plan.buildable_examples():
        step = plan.recipe(name)
        if step.is_rootfs:
            continue
        text = package.joinpath(step.directory, "Dockerfile").read_text()
        assert "ARG BASE_IMAGE" in text and "FROM ${BASE_IMAGE}" in text and "# syntax=" not in text
        for key, _ in step.build_args:
            assert f"ARG {key}" in text, (name, key)


def test_missing_images_only_local_absent_ones(monkeypatch):
    present = {"djstack.local/python:3.11-bookworm"}
    monkeypatch.setattr(docker, "image_exists", present.__contains__)
    wanted = ["python:3.11-slim-trixie", "djstack.local/python:3.11-bookworm", "djstack.local/python-build:3.11-bookworm"]
    assert baseimages.missing_images(wanted) == ["djstack.local/python-build:3.11-bookworm"]


def test_ensure_images_with_only_official_names_touches_no_engine(monkeypatch):
    def no_engine():
        raise AssertionError("no engine needed")

    monkeypatch.setattr(docker, "require_engine", no_engine)
    assert baseimages.ensure_images(image_set("official", "3.10").env().values()) == []


# --------------------------------------------------------------------------- root filesystems per suite


def test_forky_bootstraps_with_sids_script_when_debootstrap_lacks_one(tmp_path):
    (tmp_path / "sid").write_text("")
    (tmp_path / "trixie").write_text("")
    cmd = list(host.debootstrap("debootstrap", "forky", Path("/r"), "http://m/debian", {}, tmp_path).argv)
    assert cmd[-4:] == ["forky", "/r", "http://m/debian", str(tmp_path / "sid")]
    cmd = list(host.debootstrap("debootstrap", "trixie", Path("/r"), "http://m/debian", {}, tmp_path).argv)
    assert cmd[-3:] == ["trixie", "/r", "http://m/debian"]
    (tmp_path / "forky").write_text("")  # a newer debootstrap knows forky itself
    assert host.debootstrap("debootstrap", "forky", Path("/r"), "http://m/debian", {}, tmp_path).argv[-1] == "http://m/debian"


def test_sources_list_only_what_the_mirror_serves():
    served = {("http://m/debian", "forky-updates"): False, ("http://m/debian-security", "forky-security"): True}
    sources = suite_sources("http://m/debian/", "forky", serves=lambda m, s: served[(m, s)])
    assert (sources.updates, sources.security) == (False, "http://m/debian-security")
    text = rootfs.sources_text("http://m/debian", "forky", updates=sources.updates, security=True)
    assert "Suites: forky\n" in text and "forky-updates" not in text and "Suites: forky-security\n" in text
    none = rootfs.sources_text("http://m/debian", "forky", updates=False, security=False)
    assert "security" not in none and "Suites: forky\n" in none


def test_rootfs_config_files_are_package_files():
    assert "path-exclude /usr/share/doc/*" in rootfs.config_file("dpkg-excludes")
    assert 'APT::Install-Recommends "false";' in rootfs.config_file("apt.conf")
    assert rootfs.config_file("policy-rc.d").startswith("#!/bin/sh") and "exit 101" in rootfs.config_file("policy-rc.d")


def test_docker_build_arguments_of_a_step():
    from djstack.commands import docker as dc

    step = plan.recipe("djstack.local/python-build:3.14-forky")
    args = list(dc.build_image(step.name, step.base, step.suite, step.build_args, "http://m/debian",
                               Path("/ctx"), 60).argv[1:-1])  # `docker` and the context left out
    assert args[:3] == ["build", "--build-arg", "BASE_IMAGE=djstack.local/python:3.14-forky"]
    assert "PYTHON_VERSION=3.14" in args and "org.djstack.debian.suite=forky" in args
    assert args[-2:] == ["--tag", "djstack.local/python-build:3.14-forky"]
