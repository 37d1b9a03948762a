"""Build-time steps a project needs before its static files are complete.

A project that compresses its CSS/JS offline with django-compressor answers 500 on every page
(`OfflineGenerationError`) unless `manage.py compress` ran at build time; one that uses
django-sass-processor serves no CSS unless `manage.py compilescss` ran before collectstatic; one with
a JavaScript build serves no bundle unless the build ran. This module finds those steps by reading
the project (never importing it); the Dockerfile runs them (templates/macros/assets.j2).

The settings are evaluated by the settings evaluator (detect/evaluate.py), further than
`pysource.settings_literals` does, because the values that matter here are rarely literals:
`INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS`, `INSTALLED_APPS += ["compressor"]`,
`COMPRESS_OFFLINE = env.bool("COMPRESS_OFFLINE", default=True)`. A value read from the environment
is taken as its default: djstack's `.env` sets none of these variables, so the default is what the
settings will hold in the stack (the few variables the stack does set are in STACK_ENVIRONMENT). A
list an unknown branch adds to is known in part (AtLeast its items).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DjstackError
from .evaluate import LIBRARY_READERS, OS_READERS, AtLeast, Environment, Evaluator, known


@dataclass(frozen=True)
class ManageStep:
    """A `manage.py` command the image build runs around collectstatic."""

    command: tuple[str, ...]  # e.g. ("compress", "--force"), ("compilescss",)
    before_collectstatic: bool  # compilescss writes .css beside the .scss for collectstatic to collect
    why: str  # one line for `init`

    @property
    def shell_command(self) -> str:
        return shlex.join(("python", "manage.py", *self.command))


@dataclass(frozen=True)
class JsBuild:
    """A package.json build script, run in a Node stage whose output alone reaches the web image.

    npm comes with Node. pnpm and Yarn are fetched from the npm registry by `npx` at the version
    the project asks for: corepack (in Debian's npm and in the official images up to Node 24) was
    tried and is not used, because corepack 0.24 resolves an unpinned pnpm to a release it cannot
    run, and fetches Yarn 2+ from repo.yarnpkg.com, which a host that reaches only the npm registry
    (or a mirror of it) cannot reach.
    """

    folder: PurePosixPath  # where package.json is, relative to the project root ("." or "frontend")
    lockfile: str | None  # npm-shrinkwrap.json, package-lock.json, pnpm-lock.yaml or yarn.lock
    script: str  # "build"
    why: str
    manager: str = "npm"  # "npm", "pnpm", "yarn" (1.x) or "yarn-berry" (2+)
    manager_version: str | None = None  # "9.15.0" from "packageManager", "9" from the lock file
    setup_files: tuple[str, ...] = ("package.json",)  # copied before the install, so its layer is reused

    @property
    def tool(self) -> str:
        """The package manager's command line."""
        if self.manager == "npm":
            return "npm"
        package = {"pnpm": "pnpm", "yarn": "yarn", "yarn-berry": "@yarnpkg/cli-dist"}[self.manager]
        binary = "yarn" if self.manager.startswith("yarn") else "pnpm"
        version = self.manager_version or DEFAULT_VERSIONS[self.manager]
        return f"npx --yes --package={package}@{version} -- {binary}"

    @property
    def install_command(self) -> str:
        """Exactly the locked versions when there is a lock file; devDependencies too (build tools
        usually are ones)."""
        frozen = {"npm": "", "pnpm": " --frozen-lockfile", "yarn": " --frozen-lockfile",
                  "yarn-berry": " --immutable"}[self.manager] if self.lockfile else ""
        if self.manager == "npm":
            return f"npm {'ci' if self.lockfile else 'install'} --no-audit --no-fund"
        return f"{self.tool} install{frozen}"

    @property
    def run_command(self) -> str:
        return f"{self.tool} run {shlex.quote(self.script)}"

    @property
    def cache_dirs(self) -> tuple[str, ...]:
        """Download caches kept between builds (BuildKit cache mounts: in no layer)."""
        extra = {"npm": (), "pnpm": ("/root/.local/share/pnpm/store", "/root/.cache/pnpm"),
                 "yarn": ("/usr/local/share/.cache/yarn",), "yarn-berry": ("/root/.yarn/berry",)}
        return ("/root/.npm", *extra[self.manager])


#: The version of each package manager used when neither "packageManager" nor the lock file says.
DEFAULT_VERSIONS = {"pnpm": "9", "yarn": "1", "yarn-berry": "4"}


#: Environment variables the stack sets for web (and the image build) that settings commonly read.
STACK_ENVIRONMENT = {"DJANGO_DEBUG": "False"}
#: Scripts that build assets, best first. "build" is the convention of every bundler's templates.
BUILD_SCRIPTS = ("build", "build:prod", "build:production")
#: Folders never searched for package.json: dependencies, environments, collected or vendored files.
SKIP_DIRS = {"node_modules", "venv", ".venv", "env", "site-packages", "compose", "backups", "media",
             "static", "staticfiles", "vendor", "dist", "build", "djstack"}
#: Lock files by precedence, with the package manager each belongs to.
LOCKFILES = (("npm-shrinkwrap.json", "npm"), ("package-lock.json", "npm"), ("pnpm-lock.yaml", "pnpm"),
             ("yarn.lock", "yarn"))
#: Files package managers read during the install, copied with package.json when present.
INSTALL_CONFIG = (".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml", ".pnpmfile.cjs", ".yarn/releases",
                  ".yarn/plugins", ".yarn/patches", "patches")


def build_steps(
    root: Path,
    app_dir: Path,
    settings_file: Path,
    settings_values: dict,
    dependency_names: Iterable[str],
) -> tuple[list[ManageStep], JsBuild | None]:
    """The manage.py steps (in the order they run) and the JavaScript build the project needs.

    `settings_file` is the production settings module's file (the one the image runs with, before
    djstack's overlay); `settings_values` its literal values (pysource.settings_literals), used where
    this module's own evaluation finds a value unknown; `dependency_names` the project's Python
    distributions (any spelling: "django_compressor", "Django-Compressor==4.5").
    """
    deps = {_normalise_name(name) for name in dependency_names}
    settings = _evaluate(settings_file, app_dir)
    for name, value in settings_values.items():
        settings.setdefault(name, _Known(value, settings_file, 0))
    steps = [s for s in (_sass_step(settings, deps, root), _compress_step(settings, deps, root)) if s]
    steps.sort(key=lambda step: not step.before_collectstatic)
    return steps, _js_build(root, app_dir)


def build_env_prefix(environment: Mapping[str, str]) -> str:
    """`NAME=value …` for a Dockerfile RUN line, each value quoted only when the shell needs it."""
    return " ".join(f"{name}={shlex.quote(str(value))}" for name, value in environment.items())


# --- manage.py steps ----------------------------------------------------------------------------

def _compress_step(settings: dict, deps: set[str], root: Path) -> ManageStep | None:
    installed = _installed(settings, "compressor", "django-compressor", deps, root)
    if not installed:
        return None
    offline = settings.get("COMPRESS_OFFLINE")
    if offline is None or (offline.known and not offline.value):
        return None  # compressor's default: compress on the fly at request time, nothing to build
    enabled = settings.get("COMPRESS_ENABLED")
    if enabled is not None and enabled.known and not enabled.value:
        return None  # disabled: templates render their files uncompressed, the manifest is never read
    # --force: COMPRESS_ENABLED defaults to `not DEBUG`, and a computed value could still read True
    # at run time; a manifest that is not used costs nothing, a missing one answers 500.
    if offline.known:
        how = f"COMPRESS_OFFLINE = {offline.source} in {offline.where(root)}"
        if offline.source != "True":
            how += " (True: the stack does not set the variable)"
    else:
        how = (f"COMPRESS_OFFLINE is computed in {offline.where(root)} ({offline.source}); "
               "compressing offline is harmless if it turns out False")
    return ManageStep(("compress", "--force"), before_collectstatic=False, why=f"{how} ({installed})")


def _sass_step(settings: dict, deps: set[str], root: Path) -> ManageStep | None:
    installed = _installed(settings, "sass_processor", "django-sass-processor", deps, root)
    if not installed:
        return None
    return ManageStep(
        ("compilescss",),
        before_collectstatic=True,  # writes each .css beside its .scss, where collectstatic finds it
        why=f"{installed}: with DEBUG off, SCSS is never compiled on request, so the build compiles it",
    )


def _installed(settings: dict, app: str, distribution: str, deps: set[str], root: Path) -> str | None:
    """Why `app` counts as installed, or None.

    INSTALLED_APPS decides when it is fully known: a distribution that is listed as a dependency but
    is not an installed app has no management command (running it would fail the build). When it is
    not fully known, the app found in the part that is known, or the dependency list, decides.
    """
    apps = settings.get("INSTALLED_APPS")
    if apps is not None and apps.known and isinstance(apps.value, (list, tuple)):
        return f"{app!r} in INSTALLED_APPS, {apps.where(root)}" if _has_app(apps.value, app) else None
    if apps is not None and isinstance(apps.value, AtLeast) and _has_app(apps.value.items, app):
        return f"{app!r} in INSTALLED_APPS, {apps.where(root)}"
    if distribution in deps:
        return f"{distribution} in the dependencies; INSTALLED_APPS not readable"
    return None


def _has_app(apps: Iterable, app: str) -> bool:
    # "compressor" or its AppConfig ("compressor.apps.CompressorConfig").
    return any(isinstance(a, str) and (a == app or a.startswith(app + ".apps.")) for a in apps)


def _normalise_name(requirement: str) -> str:
    """PEP 503 name of a distribution or requirement string: "Django_Compressor>=4" -> "django-compressor"."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


# --- settings evaluation ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    """A setting's value (possibly UNKNOWN or AtLeast) and where it was last assigned."""

    value: object
    file: Path
    line: int
    source: str = ""  # the assigned expression as written, for messages

    @property
    def known(self) -> bool:
        return known(self.value)

    def where(self, root: Path) -> str:
        try:
            path: Path = self.file.relative_to(root)
        except ValueError:
            path = self.file
        return f"{path}:{self.line}" if self.line else str(path)


def _evaluate(settings_file: Path, app_dir: Path) -> dict[str, _Known]:
    """The settings' values in the stack: the variables it sets, else each read's default; a list
    an unknown branch or value adds to is known in part (AtLeast)."""
    environment = Environment(STACK_ENVIRONMENT, {**OS_READERS, **LIBRARY_READERS}, none_is_unknown=False)
    module = Evaluator(app_dir, environment, partial=True).load(settings_file)
    found = {}
    for name, value in module.values.items():
        last = module.writes.get(name, [])[-1:]
        found[name] = _Known(value, last[0].file, last[0].line, last[0].source) if last else _Known(value, settings_file, 0)
    return found


# --- JavaScript build ---------------------------------------------------------------------------

def _js_build(root: Path, app_dir: Path) -> JsBuild | None:
    found = [(folder, script) for folder in _package_folders(root, app_dir)
             if (script := _build_script(folder / "package.json")) is not None]
    if not found:
        return None
    folder, script = found[0]
    rel = PurePosixPath(folder.relative_to(root).as_posix()) if folder != root else PurePosixPath(".")
    lockfile, manager = next(((name, pm) for name, pm in LOCKFILES if (folder / name).is_file()), (None, None))
    declared, declared_version = _package_manager(folder / "package.json")
    manager = manager or declared or "npm"
    version = declared_version if declared == manager else None
    if manager == "yarn":
        lock_text = (folder / lockfile).read_text(encoding="utf-8", errors="replace")[:4000] if lockfile else ""
        if "__metadata:" in lock_text or (version and not version.startswith("1.")) or (folder / ".yarnrc.yml").exists():
            manager = "yarn-berry"
    if manager == "pnpm" and version is None and lockfile:
        version = _pnpm_major((folder / lockfile).read_text(encoding="utf-8", errors="replace")[:200])
    setup = ("package.json", *([lockfile] if lockfile else []),
             *(name for name in INSTALL_CONFIG if (folder / name).exists()))
    location = "package.json" if rel == PurePosixPath(".") else f"{rel}/package.json"
    why = f'"{script}" script in {location}, installed with {_install_phrase(manager, version, lockfile)}'
    others = [f"{f.relative_to(root).as_posix()}/package.json" for f, _ in found[1:]]
    if others:
        why += f" (also has a build script, not run: {', '.join(others)})"
    return JsBuild(rel, lockfile, script, why, manager, version, setup)


def _pnpm_major(lock_head: str) -> str | None:
    """The pnpm that writes this lock file format: lockfileVersion 9.0 is pnpm 9 (and 10), 6.x pnpm 8,
    5.x pnpm 7."""
    match = re.search(r"lockfileVersion:\s*'?(\d+)", lock_head)
    if not match:
        return None
    return {"9": "9", "6": "8", "5": "7"}.get(match.group(1))


def _install_phrase(manager: str, version: str | None, lockfile: str | None) -> str:
    name = {"yarn-berry": "yarn"}.get(manager, manager)
    if manager != "npm":
        name += f" {version or DEFAULT_VERSIONS[manager]}"
    if lockfile is None:
        return f"{name} (no lock file: versions resolved at build time)"
    return f"{name} from {lockfile}"


def _package_folders(root: Path, app_dir: Path) -> list[Path]:
    """The project root, manage.py's folder, then their immediate subfolders (a `frontend/`)."""
    tops = [root] + ([app_dir] if app_dir != root else [])
    folders = [top for top in tops if (top / "package.json").is_file()]
    for top in tops:
        for sub in sorted(p for p in top.iterdir() if p.is_dir()):
            if sub.name.startswith(".") or sub.name in SKIP_DIRS or sub in tops:
                continue
            if (sub / "package.json").is_file() and sub not in folders:
                folders.append(sub)
    return folders


def _read_package(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DjstackError(f"{path} is not valid JSON: {exc}", "Fix the file: npm cannot read it either.") from exc
    if not isinstance(data, dict):
        raise DjstackError(f"{path} is not a JSON object.", "A package.json holds one object: { \"name\": … }.")
    return data


def _build_script(path: Path) -> str | None:
    scripts = _read_package(path).get("scripts")
    if not isinstance(scripts, dict):
        return None
    return next((name for name in BUILD_SCRIPTS if isinstance(scripts.get(name), str) and scripts[name].strip()), None)


def _package_manager(path: Path) -> tuple[str | None, str | None]:
    """The manager and version package.json's "packageManager" field names ("pnpm@9.1.0+sha512.…")."""
    declared = _read_package(path).get("packageManager")
    if not isinstance(declared, str):
        return None, None
    name, _, version = declared.partition("@")
    version = version.partition("+")[0] or None
    if version is not None and not re.fullmatch(r"[0-9A-Za-z.\-]+", version):
        version = None  # not a plain version: never put it on a shell line
    return (name, version) if name in ("npm", "pnpm", "yarn") else (None, None)
