"""Render a Stack into files, and write them without clobbering anyone's edits.

Rendering is pure: the same Stack gives the same bytes. Writing never replaces a file whose content
differs unless forced, and then keeps the old one as a `.bak`. `.gitignore` and `.dockerignore` may
be the project's own: djstack owns only a marked block inside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from .errors import DjstackError
from .files import atomic_write
from .model import MEDIA_INLINE_TYPES, SECRET_KEYS, Stack

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("djstack", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)

BLOCK_START = "# >>> djstack: managed block, `djstack init` rewrites it"
BLOCK_END = "# <<< djstack"

SECRET_MODE = 0o600


@dataclass(frozen=True)
class Output:
    path: str  # relative to the project root, POSIX separators
    content: str
    mode: int = 0o644
    block: bool = False  # a managed block inside a file the project may already have
    keep: bool = False  # written once, then the person's: an edited one is kept, never a conflict


def render(stack: Stack) -> list[Output]:
    """Every file of the stack, in a fixed order."""
    s = stack

    def t(name: str, **extra) -> str:
        return _env.get_template(name).render(s=s, **extra)

    env = s.env()
    image_keys = ["IMAGE_SOURCE", *s.images.env(), *(["NODE_IMAGE"] if s.project.js_build else [])]
    env_args = dict(env=env, image_keys=image_keys, secret_keys=SECRET_KEYS)
    app_prefix = "" if str(s.project.app_dir) == "." else f"{s.project.app_dir}/"

    def at(path: str) -> str:
        """A stack file's path from the project root (the stack may sit in a folder of its own)."""
        return s.in_context + path
    return [
        Output(at("docker-compose.yml"), t("docker-compose.yml.j2")),
        Output(at("Dockerfile"), t("Dockerfile.j2")),
        Output(at(".env"), t("env.j2", example=False, **env_args), mode=SECRET_MODE),
        Output(at(".env.example"), t("env.j2", example=True, **env_args)),
        Output(str(s.project.overlay_file), t("settings_docker.py.j2")),
        # The storage the overlay names for static files, unless the project has its own.
        *([] if s.project.own_static_storage else [
            Output(str(s.project.overlay_file.with_name("staticfiles_docker.py")), t("staticfiles_docker.py.j2"))]),
        Output(at("compose/web/uwsgi.ini"), t("compose/web/uwsgi.ini.j2")),
        Output(at("compose/web/entrypoint.sh"), t("compose/web/entrypoint.sh.j2"), mode=0o755),
        Output(at("compose/web/healthcheck.py"), t("compose/web/healthcheck.py.j2")),
        Output(at("compose/web/probe.py"), t("compose/web/probe.py.j2")),
        Output(at("compose/web/publish_static.py"), t("compose/web/publish_static.py.j2")),
        Output(at("compose/web/prune_static.py"), t("compose/web/prune_static.py.j2")),
        Output(at("compose/web/wait_for_db.py"), t("compose/web/wait_for_db.py.j2")),
        Output(at("compose/web/migration_plan.py"), t("compose/web/migration_plan.py.j2")),
        Output(at("compose/web/requirements-stack.txt"), t("compose/web/requirements-stack.txt.j2")),
        Output(at("compose/web/apt-packages.txt"),
               t("compose/web/apt-packages.txt.j2", packages=s.system_packages(), suite=s.suite), keep=True),
        Output(at("compose/web/build-hook.sh"), t("compose/web/build-hook.sh.j2"), mode=0o755, keep=True),
        Output(at("compose/nginx/Dockerfile"), t("compose/nginx/Dockerfile.j2")),
        Output(
            at("compose/nginx/nginx.conf"),
            t(
                "compose/nginx/nginx.conf.j2",
                static_location=s.url_path(s.project.static_url),
                media_location=s.url_path(s.project.media_url),
                media_types=MEDIA_INLINE_TYPES,
            ),
        ),
        Output(at("compose/nginx/.dockerignore"), t("compose/nginx/dockerignore.j2")),
        Output(at(f"{s.nginx_upstream_dir}/README.md"), t("compose/nginx/upstream/README.md.j2")),
        Output(at("compose/nginx/ssl/README.md"), t("compose/nginx/ssl/README.md.j2")),
        Output(at("compose/nginx/ssl/.gitignore"), t("compose/nginx/ssl/gitignore.j2")),
        Output(at("compose/nginx/log/.gitignore"), t("compose/nginx/log/gitignore.j2")),
        *([Output(at(f"{s.tls_files.acme}/.gitignore"), t("compose/nginx/acme/gitignore.j2"))] if s.https else []),
        Output(at("compose/mysql/conf/djstack.cnf"), t("compose/mysql/conf/djstack.cnf.j2")),
        Output(at("compose/mysql/init/README.md"), t("compose/mysql/init/README.md.j2")),
        Output(at("compose/redis/redis.conf"), t("compose/redis/redis.conf.j2")),
        Output(".gitignore", t("gitignore-block.j2", stack_prefix=s.in_context), block=True),
        Output(".dockerignore", t("dockerignore-block.j2", app_prefix=app_prefix, stack_prefix=s.in_context), block=True),
    ]


def with_block(existing: str, block: str) -> str:
    """`existing` with djstack's managed block replaced, or appended when absent."""
    wrapped = f"{BLOCK_START}\n{block.rstrip()}\n{BLOCK_END}\n"
    start = existing.find(BLOCK_START)
    end = existing.find(BLOCK_END, start)
    if start != -1 and end != -1:
        return existing[:start] + wrapped + existing[end + len(BLOCK_END) :].lstrip("\n")
    if not existing:
        return wrapped
    return existing.rstrip("\n") + "\n\n" + wrapped


@dataclass(frozen=True)
class WriteResult:
    path: str
    action: str  # "created", "unchanged", "updated" (managed block), "kept" (yours), "replaced" (forced), "conflict"
    backup: str | None = None


def plan(root: Path, outputs: list[Output]) -> list[tuple[Output, str, WriteResult]]:
    """What writing would do to each file: (output, final content, result). Writes nothing."""
    planned = []
    for out in outputs:
        target = root / out.path
        existing = target.read_text(encoding="utf-8") if target.is_file() else None
        content = with_block(existing or "", out.content) if out.block else out.content
        if existing is None:
            action = "created"
        elif existing == content:
            action = "unchanged"
        elif out.block:
            action = "updated"
        elif out.keep:
            action = "kept"  # the person's edits win; what djstack would write is theirs to take
        else:
            action = "conflict"
        planned.append((out, content, WriteResult(out.path, action)))
    return planned


def write(root: Path, outputs: list[Output], *, force: bool = False) -> list[WriteResult]:
    """Write the stack's files. Without force, any conflict stops everything before a byte is written."""
    planned = plan(root, outputs)
    conflicts = [r.path for _, _, r in planned if r.action == "conflict"]
    if conflicts and not force:
        raise DjstackError(
            "These files exist and differ from what djstack would write: " + ", ".join(conflicts)
            + ". Nothing was written.",
            "Keep your edits (no action needed), or run `djstack init --force` to replace them; "
            "each replaced file is kept as FILE.bak.",
        )
    results = []
    for out, content, result in planned:
        target = root / out.path
        if result.action in ("unchanged", "kept"):
            results.append(result)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        backup = None
        if result.action == "conflict":
            backup = _backup(target)
            result = WriteResult(out.path, "replaced", str(backup.relative_to(root)))
        atomic_write(target, content, out.mode)
        results.append(result)
    return results


def _backup(target: Path) -> Path:
    """Keep the current file as FILE.bak (FILE.bak.1, .2, … when earlier backups exist)."""
    backup = target.with_name(target.name + ".bak")
    n = 0
    while backup.exists():
        n += 1
        backup = target.with_name(f"{target.name}.bak.{n}")
    mode = target.stat().st_mode & 0o777
    atomic_write(backup, target.read_text(encoding="utf-8"), mode)
    return backup
