"""Render a Stack into files, and write them without clobbering anyone's edits.

Rendering is pure: the same Stack gives the same bytes. Writing never replaces a file whose content
differs unless forced, and then keeps the old one as a `.bak`. `.gitignore` and `.dockerignore` may
be the project's own: djstack owns only a marked block inside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .errors import DjstackError
from .files import atomic_write
from .model import BACKUP_FILES, MEDIA_INLINE_TYPES, PERMISSIONS_POLICY, Stack

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


@dataclass(frozen=True)
class FileRule:
    """How one template becomes a file, when that is more than "the template's own path (minus .j2)
    in the stack folder, mode 0644, always"."""

    to: Callable[[Stack], str] | None = None  # its path from the project root, when not the template's
    values: Callable[[Stack], dict] = lambda s: {}  # what the template reads besides `s`
    only: Callable[[Stack], bool] = lambda s: True  # rendered only for the stacks this holds for
    mode: int = 0o644
    block: bool = False  # see Output
    keep: bool = False  # see Output


def _env_values(example: bool) -> Callable[[Stack], dict]:
    def values(s: Stack) -> dict:
        image_keys = ["IMAGE_SOURCE", *s.images.env(), *(["NODE_IMAGE"] if s.project.js_build else []),
                      *(["CERTBOT_IMAGE"] if s.acme else [])]
        return dict(env=s.env(), image_keys=image_keys, secret_keys=s.secret_keys, example=example)
    return values


def _app_prefix(s: Stack) -> str:
    return "" if str(s.project.app_dir) == "." else f"{s.project.app_dir}/"


#: Every template whose file is not plain, by template path; a list when it makes more than one file.
RULES: dict[str, list[FileRule]] = {
    "env.j2": [FileRule(to=lambda s: s.from_root(s.files.env), values=_env_values(False), mode=SECRET_MODE),
               FileRule(to=lambda s: s.from_root(s.files.env_example), values=_env_values(True))],
    "settings_docker.py.j2": [FileRule(to=lambda s: s.overlay_file)],
    # The storage the overlay names for static files, unless the project has its own.
    "staticfiles_docker.py.j2": [FileRule(to=lambda s: s.static_storage_file,
                                          only=lambda s: not s.project.own_static_storage)],
    "gitignore-block.j2": [FileRule(to=lambda s: ".gitignore", block=True, values=lambda s: dict(
        stack_prefix=s.in_context, backup_schedule=BACKUP_FILES.schedule))],
    "dockerignore-block.j2": [FileRule(to=lambda s: ".dockerignore", block=True, values=lambda s: dict(
        app_prefix=_app_prefix(s), stack_prefix=s.in_context))],
    "compose/web/entrypoint.sh.j2": [FileRule(mode=0o755)],
    "compose/web/apt-packages.txt.j2": [FileRule(keep=True, values=lambda s: dict(
        packages=s.system_packages(), suite=s.suite))],
    "compose/web/build-hook.sh.j2": [FileRule(mode=0o755, keep=True)],
    "compose/nginx/nginx.conf.j2": [FileRule(values=lambda s: dict(
        static_location=s.url_path(s.project.static_url), media_location=s.url_path(s.project.media_url),
        media_types=MEDIA_INLINE_TYPES, permissions_policy=PERMISSIONS_POLICY))],
    "compose/nginx/acme/gitignore.j2": [FileRule(only=lambda s: s.https)],
    "compose/nginx/entrypoint.sh.j2": [FileRule(mode=0o755, only=lambda s: s.https)],
    # --tls acme: the certbot service's script and folder.
    "compose/certbot/run.sh.j2": [FileRule(mode=0o755, only=lambda s: s.acme)],
    "compose/certbot/letsencrypt/gitignore.j2": [FileRule(only=lambda s: s.acme)],
    # The background services' files, only in a stack that has them.
    "compose/redis/broker.conf.j2": [FileRule(only=lambda s: s.workers is not None)],
    "compose/web/wait_for_migrations.py.j2": [FileRule(only=lambda s: s.workers is not None)],
    "compose/web/beat_health.py.j2": [FileRule(only=lambda s: bool(s.workers and s.workers.beat))],
}

#: Templates only other templates include.
HELPERS = "macros/"
#: Files whose names start with a dot are templates without it (packaging and file browsers hide dotfiles).
DOTTED = ("gitignore", "dockerignore")


def templates() -> list[str]:
    """Every template that makes a file, by its path under templates/, in a fixed order."""
    return [name for name in _env.list_templates(extensions=["j2"]) if not name.startswith(HELPERS)]


def own_path(template: str) -> str:
    """A template's file, relative to the stack folder: the template's path, minus .j2."""
    folder, _, name = template.removesuffix(".j2").rpartition("/")
    name = f".{name}" if name in DOTTED else name
    return f"{folder}/{name}" if folder else name


def render(stack: Stack) -> list[Output]:
    """Every file of the stack, in the templates' order."""
    outputs = []
    for template in templates():
        for rule in RULES.get(template, [FileRule()]):
            if not rule.only(stack):
                continue
            path = rule.to(stack) if rule.to else stack.from_root(own_path(template))
            content = _env.get_template(template).render(s=stack, **rule.values(stack))
            outputs.append(Output(path, content, rule.mode, rule.block, rule.keep))
    return outputs


def with_block(existing: str, block: str) -> str:
    """`existing` with djstack's managed block replaced, or appended when absent."""
    wrapped = f"{BLOCK_START}\n{block.rstrip()}\n{BLOCK_END}\n"
    span = _block_span(existing)
    if span:
        return existing[:span[0]] + wrapped + existing[span[1]:].lstrip("\n")
    if not existing:
        return wrapped
    return existing.rstrip("\n") + "\n\n" + wrapped


def _block_span(text: str) -> tuple[int, int] | None:
    """Where the managed block is: an end marker and the nearest start marker before it. A marker left
    alone (a block cut short by hand) is the person's text, never the start of what gets replaced."""
    end = text.find(BLOCK_END)
    while end != -1:
        start = text.rfind(BLOCK_START, 0, end)
        if start != -1:
            return start, end + len(BLOCK_END)
        end = text.find(BLOCK_END, end + 1)
    return None


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
