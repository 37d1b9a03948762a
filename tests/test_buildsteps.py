"""Build-time steps: what detection finds on small project trees, and what the macros render."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import pytest

from djstack.detect.buildsteps import JsBuild, ManageStep, build_env_prefix, build_steps
from djstack.errors import DjstackError
from djstack.model import STACK_FILES
from djstack.render import _env
from helpers import write_tree as write

BASE = """\
import os
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
DEBUG = os.environ.get("DJANGO_DEBUG", "True") == "True"
DJANGO_APPS = ["django.contrib.staticfiles"]
THIRD_PARTY_APPS = {third}
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + ["notes"]
"""




def steps_of(root: Path, production: str, base_third: str = "[]", deps=("Django",), extra=None):
    write(root, {"config/settings/base.py": BASE.format(third=base_third),
                 "config/settings/production.py": "from .base import *  # noqa\n" + production,
                 **(extra or {})})
    return build_steps(root, root, root / "config/settings/production.py", {}, deps)


# --- django-compressor --------------------------------------------------------------------------

def test_compress_offline_literal_runs_compress_after_collectstatic(tmp_path):
    steps, js = steps_of(tmp_path, 'INSTALLED_APPS += ["compressor"]\nCOMPRESS_OFFLINE = True\n')
    assert steps == [ManageStep(("compress", "--force"), False, steps[0].why)]
    assert "COMPRESS_OFFLINE = True in config/settings/production.py:3" in steps[0].why
    assert "'compressor' in INSTALLED_APPS" in steps[0].why
    assert js is None


@pytest.mark.parametrize("expression", [
    'env.bool("COMPRESS_OFFLINE", default=True)',
    'env.bool("COMPRESS_OFFLINE", True)',
    'env("COMPRESS_OFFLINE", default=True)',
    'config("COMPRESS_OFFLINE", default="true", cast=bool)',
    'os.environ.get("COMPRESS_OFFLINE", "True") == "True"',
    'os.getenv("COMPRESS_OFFLINE", "1").lower() in ("1", "true")',
    'not DEBUG',  # DJANGO_DEBUG is "False" in the stack
])
def test_compress_offline_from_the_environment_counts_its_default(tmp_path, expression):
    steps, _ = steps_of(tmp_path, f'INSTALLED_APPS += ["compressor"]\nCOMPRESS_OFFLINE = {expression}\n')
    assert [s.command for s in steps] == [("compress", "--force")]
    assert "the stack does not set the variable" in steps[0].why


@pytest.mark.parametrize("expression", [
    'env.bool("COMPRESS_OFFLINE", default=False)',
    "False",
    'os.environ.get("COMPRESS_OFFLINE", "") == "1"',
])
def test_compress_offline_off_by_default_adds_nothing(tmp_path, expression):
    steps, _ = steps_of(tmp_path, f'INSTALLED_APPS += ["compressor"]\nCOMPRESS_OFFLINE = {expression}\n')
    assert steps == []


def test_compress_absent_or_disabled_adds_nothing(tmp_path):
    assert steps_of(tmp_path / "a", 'INSTALLED_APPS += ["compressor"]\n')[0] == []  # offline not set
    assert steps_of(tmp_path / "b", "COMPRESS_OFFLINE = True\n")[0] == []  # not an installed app
    disabled = 'INSTALLED_APPS += ["compressor"]\nCOMPRESS_OFFLINE = True\nCOMPRESS_ENABLED = False\n'
    assert steps_of(tmp_path / "c", disabled)[0] == []


def test_compress_offline_only_in_a_settings_module_not_chosen(tmp_path):
    write(tmp_path, {"config/settings/local.py": "from .base import *\nCOMPRESS_OFFLINE = True\n"})
    assert steps_of(tmp_path, "DEBUG = False\n", base_third='["compressor"]')[0] == []


def test_compressor_found_in_lists_built_every_way(tmp_path):
    for n, production in enumerate([
        'INSTALLED_APPS = [*INSTALLED_APPS, "compressor"]\n',
        'INSTALLED_APPS.append("compressor")\n',
        'INSTALLED_APPS = INSTALLED_APPS + ("compressor.apps.CompressorConfig",)\n',
        'if not DEBUG:\n    INSTALLED_APPS += ["compressor"]\n',
    ]):
        steps, _ = steps_of(tmp_path / str(n), production + "COMPRESS_OFFLINE = True\n")
        assert [s.command for s in steps] == [("compress", "--force")], production


def test_unreadable_installed_apps_falls_back_to_the_dependencies(tmp_path):
    production = "INSTALLED_APPS = load_apps()\nCOMPRESS_OFFLINE = True\n"
    assert steps_of(tmp_path / "a", production)[0] == []
    steps, _ = steps_of(tmp_path / "b", production, deps=["Django==5.2", "Django_Compressor>=4.5"])
    assert [s.command for s in steps] == [("compress", "--force")]
    assert "django-compressor in the dependencies" in steps[0].why
    # Partly known (an unknown list plus a literal one) still shows the literal's apps.
    steps, _ = steps_of(tmp_path / "c", 'INSTALLED_APPS = load_apps() + ["compressor"]\nCOMPRESS_OFFLINE = True\n')
    assert [s.command for s in steps] == [("compress", "--force")]


def test_a_listed_dependency_that_is_not_an_installed_app_has_no_command(tmp_path):
    steps, _ = steps_of(tmp_path, "COMPRESS_OFFLINE = True\n", deps=["django-compressor"])
    assert steps == []


# --- django-sass-processor ----------------------------------------------------------------------

def test_sass_processor_compiles_before_collectstatic_and_compress_after(tmp_path):
    steps, _ = steps_of(tmp_path, 'INSTALLED_APPS += ["compressor"]\nCOMPRESS_OFFLINE = True\n',
                        base_third='["sass_processor"]')
    assert [(s.command, s.before_collectstatic) for s in steps] == [
        (("compilescss",), True), (("compress", "--force"), False)]
    assert "'sass_processor' in INSTALLED_APPS" in steps[0].why


def test_sass_processor_dependency_alone_is_not_enough_when_apps_are_known(tmp_path):
    assert steps_of(tmp_path, "", deps=["django-sass-processor"])[0] == []


# --- JavaScript build ---------------------------------------------------------------------------

def package(scripts: dict | None = None, **extra) -> str:
    return json.dumps({"name": "x", "private": True, **({"scripts": scripts} if scripts is not None else {}), **extra})


def js_of(root: Path, files: dict[str, str]) -> JsBuild | None:
    write(root, {"config/settings/production.py": "DEBUG = False\n", **files})
    return build_steps(root, root, root / "config/settings/production.py", {}, [])[1]


def test_package_json_with_build_script_in_the_root(tmp_path):
    js = js_of(tmp_path, {"package.json": package({"build": "vite build", "dev": "vite"}),
                          "package-lock.json": "{}", ".npmrc": "fund=false\n"})
    assert js.folder == PurePosixPath(".")
    assert (js.lockfile, js.script, js.manager) == ("package-lock.json", "build", "npm")
    assert js.setup_files == ("package.json", "package-lock.json", ".npmrc")
    assert (js.install_command, js.run_command) == ("npm ci --no-audit --no-fund", "npm run build")
    assert js.why == '"build" script in package.json, installed with npm from package-lock.json'


def test_package_json_without_build_script_is_no_build(tmp_path):
    assert js_of(tmp_path / "a", {"package.json": package({"lint": "eslint ."})}) is None
    assert js_of(tmp_path / "b", {"package.json": package()}) is None
    assert js_of(tmp_path / "c", {}) is None


def test_package_json_in_a_subfolder_without_lock_file(tmp_path):
    js = js_of(tmp_path, {"frontend/package.json": package({"build": "webpack --mode production"})})
    assert js.folder == PurePosixPath("frontend")
    assert js.lockfile is None
    assert js.install_command == "npm install --no-audit --no-fund"
    assert "frontend/package.json" in js.why and "no lock file" in js.why


def test_node_modules_and_static_folders_are_not_searched(tmp_path):
    build = package({"build": "make"})
    assert js_of(tmp_path, {"node_modules/package.json": build, "static/package.json": build,
                            "node_modules/x/package.json": build}) is None


def test_the_root_wins_over_a_subfolder_and_says_so(tmp_path):
    js = js_of(tmp_path, {"package.json": package({"build": "a"}), "theme/package.json": package({"build": "b"})})
    assert js.folder == PurePosixPath(".")
    assert "theme/package.json" in js.why


def test_package_json_in_the_app_folder_below_the_root(tmp_path):
    write(tmp_path, {"src/config/settings/production.py": "DEBUG = False\n",
                     "src/package.json": package({"build": "esbuild x"})})
    js = build_steps(tmp_path, tmp_path / "src", tmp_path / "src/config/settings/production.py", {}, [])[1]
    assert js.folder == PurePosixPath("src")


def test_pnpm_and_yarn_run_through_npx_at_the_version_asked_for(tmp_path):
    pnpm = js_of(tmp_path / "p", {"package.json": package({"build": "vite build"}, packageManager="pnpm@9.15.0+sha512.abc"),
                                  "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"})
    assert pnpm.install_command == "npx --yes --package=pnpm@9.15.0 -- pnpm install --frozen-lockfile"
    assert pnpm.run_command == "npx --yes --package=pnpm@9.15.0 -- pnpm run build"
    old_pnpm = js_of(tmp_path / "o", {"package.json": package({"build": "x"}), "pnpm-lock.yaml": "lockfileVersion: '6.0'\n"})
    assert old_pnpm.manager_version == "8"
    classic = js_of(tmp_path / "y", {"package.json": package({"build": "x"}), "yarn.lock": "# yarn lockfile v1\n"})
    assert classic.install_command == "npx --yes --package=yarn@1 -- yarn install --frozen-lockfile"
    berry = js_of(tmp_path / "b", {"package.json": package({"build": "x"}), "yarn.lock": "__metadata:\n  version: 8\n",
                                   ".yarnrc.yml": "nodeLinker: node-modules\n"})
    assert berry.manager == "yarn-berry"
    assert berry.install_command == "npx --yes --package=@yarnpkg/cli-dist@4 -- yarn install --immutable"
    assert ".yarnrc.yml" in berry.setup_files


def test_a_package_manager_field_that_is_not_a_version_never_reaches_a_shell(tmp_path):
    js = js_of(tmp_path, {"package.json": package({"build": "x"}, packageManager="pnpm@$(reboot)"),
                          "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"})
    assert "reboot" not in js.install_command
    assert js.manager_version == "9"


def test_broken_package_json_names_the_file(tmp_path):
    with pytest.raises(DjstackError) as err:
        js_of(tmp_path, {"package.json": "{ not json"})
    assert str(tmp_path / "package.json") in err.value.message


# --- rendering ----------------------------------------------------------------------------------

def stack(stack_dir: str = "."):
    in_context = "" if stack_dir == "." else f"{stack_dir}/"
    return SimpleNamespace(
        paths=SimpleNamespace(app="/app", static_build="/opt/static"),
        in_context=in_context, web_files=f"/app/{in_context}compose/web", app_home="/app", files=STACK_FILES,
        from_root=lambda rel: in_context + rel, in_image=lambda rel: f"/app/{in_context}{rel}",
        project=SimpleNamespace(overlay_module="config.settings.settings_docker"),
    )


def macros():
    return _env.get_template("macros/assets.j2").module


def test_node_stage_installs_before_copying_the_code_and_keeps_node_modules_out(tmp_path):
    js = JsBuild(PurePosixPath("frontend"), "package-lock.json", "build", "why", "npm", None,
                 ("package.json", "package-lock.json"))
    text = str(macros().node_stage(stack(), js))
    assert "FROM ${NODE_IMAGE} AS assets\n" in text
    assert "WORKDIR /app/frontend\n" in text
    lines = text.splitlines()
    order = [next(i for i, line in enumerate(lines) if needle in line) for needle in (
        "COPY frontend/package.json ./package.json", "COPY frontend/package-lock.json ./package-lock.json",
        "npm ci --no-audit --no-fund", "COPY . /app", "touch /tmp/before-build", "NODE_ENV=production npm run build",
        "-cnewer /tmp/before-build")]
    assert order == sorted(order)
    assert "-name node_modules" in text and "-prune" in text
    # The CA bundle is a secret mount, exported only inside the RUN: never an ENV or a COPY.
    assert text.count("--mount=type=secret,id=pip_ca_bundle") == 2
    assert "export NODE_EXTRA_CA_CERTS=/run/secrets/pip_ca_bundle" in text
    assert "ENV NODE_EXTRA_CA_CERTS" not in text and "pip_ca_bundle ./" not in text
    assert "ARG NPM_CONFIG_REGISTRY" in text
    assert str(macros().node_output(stack())).strip().endswith("COPY --from=assets /out/ /app/")


def test_node_stage_in_the_root_with_pnpm_caches(tmp_path):
    js = JsBuild(PurePosixPath("."), "pnpm-lock.yaml", "build", "why", "pnpm", "9", ("package.json", "pnpm-lock.yaml"))
    text = str(macros().node_stage(stack(), js))
    assert "WORKDIR /app\n" in text
    assert "COPY package.json ./package.json" in text
    assert "--mount=type=cache,target=/root/.local/share/pnpm/store" in text


def test_manage_steps_render_around_collectstatic_with_the_same_environment():
    steps = [ManageStep(("compilescss",), True, "sass"), ManageStep(("compress", "--force"), False, "offline")]
    env = build_env_prefix({"DJANGO_SECRET_KEY": "collectstatic-placeholder", "DJANGO_STATIC_ROOT": "/opt/static",
                            "ODD": "a b"})
    assert env == "DJANGO_SECRET_KEY=collectstatic-placeholder DJANGO_STATIC_ROOT=/opt/static ODD='a b'"
    before = str(macros().manage_steps(steps, env, True))
    after = str(macros().manage_steps(steps, env, False))
    assert before == f"# sass.\nRUN {env} python manage.py compilescss\n"
    assert after == f"# offline.\nRUN {env} python manage.py compress --force\n"
    assert str(macros().manage_steps([], env, True)) == ""


def test_build_hook_runs_the_projects_script_from_the_stack_folder():
    text = str(macros().build_hook(stack("djstack"), "A=1"))
    assert "RUN A=1 sh /app/djstack/compose/web/build-hook.sh\n" in text
    assert "djstack/compose/web/build-hook.sh (yours" in text


def test_build_hook_file_is_commented_and_runs_nothing():
    text = _env.get_template("compose/web/build-hook.sh.j2").render(s=stack())
    assert text.startswith("#!/bin/sh\n")
    commands = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands == ["set -eu"]
    assert "config.settings.settings_docker" in text and "no Redis" in text
