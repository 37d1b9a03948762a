"""`djstack init`: detect the project, decide the model, write the files."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from . import render, tls
from .detect import DjangoProject, detect, placement
from .detect.pysource import relative_path
from .envfile import read_env
from .files import atomic_write
from .errors import DjstackError, NoStack, TlsProblem
from .model import SETTINGS_KEY, STACK_FILES, Stack, StackOptions, build_stack

#: Docker Hub's registry endpoint answers 401 to anonymous requests: any HTTP answer means reachable.
DOCKER_HUB_PROBE = "https://registry-1.docker.io/v2/"
PROBE_SECONDS = 4.0


def docker_hub_reachable(timeout: float = PROBE_SECONDS) -> tuple[bool, str]:
    """Whether Docker Hub answers within `timeout`, and a phrase saying why we think so."""
    try:
        urllib.request.urlopen(DOCKER_HUB_PROBE, timeout=timeout)
    except urllib.error.HTTPError:
        return True, "Docker Hub answered"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"Docker Hub did not answer within {timeout:.0f} s ({reason})"
    return True, "Docker Hub answered"


def load_stack(folder: Path, options: StackOptions | None = None) -> Stack:
    """The model of an existing or future stack in `folder`: detection plus what `.env` recorded."""
    options = options or StackOptions()
    project = detect(folder, options.settings)
    env_path = _env_path(project)
    recorded = read_env(env_path)
    kept = recorded.get(SETTINGS_KEY)
    if options.settings is None and kept and kept != project.settings_module:
        try:
            project = detect(folder, kept)  # the module `init --settings` chose earlier stays chosen
        except DjstackError as exc:
            raise DjstackError(
                f"{env_path}: {SETTINGS_KEY}={kept} names a settings module that is gone ({exc.message})",
                f"Choose the settings again: djstack init {project.root} --settings MODULE "
                f"(found: {project.settings_module}).") from None
    return build_stack(project, options, recorded)


def _env_path(project: DjangoProject) -> Path:
    """The stack's `.env`, before there is a Stack to ask."""
    return project.root / project.stack_dir / STACK_FILES.env


def load_initialised(folder: Path) -> Stack:
    """The model of a stack that `init` has written; a clear error when it has not."""
    stack = load_stack(folder)
    missing = [name for name in (stack.files.compose, stack.files.env) if not stack.path(name).is_file()]
    if missing:
        raise NoStack(
            stack.project.root,
            f"{stack.project.root} has no djstack stack yet ({', '.join(missing)} missing).",
            f"Run `djstack init {stack.project.root}` first.",
        )
    return stack


def choose_source(project: DjangoProject, requested: str) -> tuple[str | None, str]:
    """Resolve --images: None keeps what `.env` recorded; 'auto' probes Docker Hub."""
    if requested != "auto":
        return requested, f"--images {requested}"
    recorded = read_env(_env_path(project)).get("IMAGE_SOURCE")
    if recorded:
        return None, f"recorded in .env ({recorded})"
    reachable, why = docker_hub_reachable()
    return ("official", why) if reachable else ("debian", why + "; images will be built from a Debian mirror")


def run_init(folder: Path, options: StackOptions, *, force: bool) -> tuple[Stack, list[render.WriteResult]]:
    stack = load_stack(folder, options)
    _refuse_unrunnable_workers(stack, options)
    if options.pip_ca_bundle and not Path(options.pip_ca_bundle).is_file():
        raise DjstackError(
            f"--ca-bundle {options.pip_ca_bundle}: no such file.",
            "Give the path of a PEM bundle, e.g. /etc/ssl/certs/ca-certificates.crt.",
        )
    # Certificates that exist must fit (key, domains, dates) before any file is written. Missing ones
    # are fine for `provided` (they come later; `up` refuses without them) and made for `self-signed`.
    bad = [p for p in tls.blocking_problems(stack) if p.kind != "missing"] if stack.https else []
    if bad:
        first = bad[0]
        fix = (f"Delete {stack.tls_files.folder}/{stack.tls_files.cert} and {stack.tls_files.key}: "
               "init then makes a new self-signed pair for the domains.") if stack.tls in ("self-signed", "acme") else first.fix
        raise TlsProblem(first.kind, f"{first.problem} Nothing was written.", fix, first.path)
    given = [flag for flag, value in (("--acme-server", options.acme_server), ("--acme-email", options.acme_email),
                                      ("--acme-ca-bundle", options.acme_ca_bundle)) if value]
    if given and not stack.acme:
        raise DjstackError(f"{', '.join(given)} only apply to --tls acme (this stack's TLS is {stack.tls}). "
                           "Nothing was written.", "Add --tls acme (with --domain), or leave them out.")
    if stack.acme and options.acme_ca_bundle and not tls.is_certificate(Path(options.acme_ca_bundle)):
        raise TlsProblem("unreadable", "is not a PEM certificate (--acme-ca-bundle). Nothing was written.",
                         "Give the ACME server's CA certificate in PEM (Pebble: its minica or root CA file).",
                         options.acme_ca_bundle)
    results = render.write(stack.project.root, render.render(stack), force=force)
    if stack.acme and options.acme_ca_bundle:
        results.append(_copy_acme_ca(stack, Path(options.acme_ca_bundle)))
    # acme: the same self-signed pair, as the stand-in nginx serves until certbot's first certificate.
    if stack.tls in ("self-signed", "acme") and tls.make_self_signed(stack):
        cert, key = tls.cert_paths(stack)
        results.append(render.WriteResult(str(cert.relative_to(stack.project.root)), "created"))
        results.append(render.WriteResult(str(key.relative_to(stack.project.root)), "created"))
    return stack, results


def _copy_acme_ca(stack: Stack, source: Path) -> render.WriteResult:
    """--acme-ca-bundle's file as compose/certbot/acme-ca.pem: a project file (a CA certificate, no secret)."""
    target = stack.path(stack.files.acme_ca)
    content = source.read_text(encoding="utf-8")
    existing = target.read_text(encoding="utf-8") if target.is_file() else None
    if existing == content:
        return render.WriteResult(stack.from_root(stack.files.acme_ca), "unchanged")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, content, 0o644)
    return render.WriteResult(stack.from_root(stack.files.acme_ca), "created" if existing is None else "updated")


#: The `.env` key that records `--no-workers` (model.py parses it).
WORKERS_KEY = "WORKERS"


def _workers_off(stack: Stack, options: StackOptions) -> bool:
    """Whether the person left background work out: now (--no-workers) or at an earlier init."""
    if options.workers is not None:
        return not options.workers
    return read_env(stack.env_path).get(WORKERS_KEY) == "off"


def _refuse_unrunnable_workers(stack: Stack, options: StackOptions) -> None:
    """Background work the stack cannot run as found stops init before a file is written: a stack
    without the worker would deploy with the project's tasks silently never run."""
    blocking = [p for p in stack.project.worker_problems if p.blocking]
    if not blocking or _workers_off(stack, options):
        return
    raise DjstackError(
        " ".join(p.message for p in blocking) + " Nothing was written.",
        " ".join(p.fix for p in blocking) + f" Or leave background work out: djstack init {stack.project.root} "
        "--no-workers.")


def decisions(stack: Stack) -> list[tuple[str, str]]:
    """What init decided about the project and why, topic by topic, for a person to read."""
    p = stack.project
    said = [
        ("project", f"{p.root} (manage.py in {p.app_dir}, WSGI {p.wsgi_module}.{p.wsgi_callable})"),
        ("settings", p.settings_why),
        ("python", stack.python.how),
    ]
    if stack.python.warning:
        said.append(("warning", stack.python.warning))
    said.append(("installs", p.dependencies.why))
    needed = [f"{pkg.name} ({pkg.stage}, for {pkg.wanted_by})" for pkg in stack.system_packages()
              if not pkg.from_source and "djstack:" not in pkg.wanted_by]
    apt = stack.from_root(stack.files.apt_packages)
    said.append(("system", f"{', '.join(needed)}: in {apt}" if needed
                 else f"nothing beyond the stack's own; add packages in {apt}"))
    for step in p.manage_steps:
        said.append(("build", f"manage.py {' '.join(step.command)}: {step.why}"))
    if p.js_build:
        said.append(("build", f"{p.js_build.run_command} in a Node stage: {p.js_build.why}"))
    if stack.stack_dir == ".":
        said.append(("stack", "beside manage.py's project, at its root"))
    else:
        own = ", ".join(placement.own_docker_files(p.root)) or "its own Docker files"
        said.append(("stack", f"in {stack.stack_dir}/, because the project has {own} of its own (left as they are); "
                              f"plain Compose: cd {stack.dir} && docker compose up -d"))
    if p.own_csp:
        said.append(("headers", f"the project's own Content-Security-Policy ({p.own_csp} in MIDDLEWARE): nginx "
                                "adds none to Django's answers, only to the files it serves itself"))
    else:
        said.append(("headers", f"Content-Security-Policy {stack.csp} and a Permissions-Policy on every answer "
                                "(nginx; a header Django sets itself is kept instead)"))
    if p.asgi:
        said.append(("asgi", p.asgi.statement))
    said += workers_said(stack)
    for v in stack.project_env:
        said.append(("fill in", f"{v.name} in {stack.stack_dir}/.env (read by {v.where}; djstack cannot know it)"
                     if stack.stack_dir != "." else f"{v.name} in .env (read by {v.where}; djstack cannot know it)"))
    return said


def workers_said(stack: Stack) -> list[tuple[str, str]]:
    """What init found of background work (the Celery app and its file, the beat scheduler, the
    Procfile's lines) and the services it adds, or why none."""
    p = stack.project
    said: list[tuple[str, str]] = []
    if p.celery:
        c = p.celery
        reads = (f"its settings are the {c.namespace}_ ones" if c.namespace else "it reads Django's settings unprefixed"
                 if c.namespace == "" else "it does not read Django's settings: the broker and results reach it "
                 "through CELERY_BROKER_URL and CELERY_RESULT_BACKEND in its environment, the overlay's other "
                 "Celery settings do not (app.config_from_object('django.conf:settings', namespace='CELERY') "
                 "would read them)")
        said.append(("celery", f"app {c.module} ({relative_path(c.file, p.root)}); {reads}"))
        said.append(("beat", {"database": f"{c.why_beat}: schedules live in the database",
                              "file": f"periodic work in {c.why_beat}"}.get(c.beat, "no periodic work found: no beat service")))
    for process in p.processes:
        role = {"celery-worker": "Celery's worker", "celery-beat": "Celery's beat"}.get(process.role, "a process of its own")
        said.append(("procfile", f"{process.name}: {process.command} ({role})"))
    for problem in p.worker_problems:
        if not problem.blocking:
            said.append(("note", f"{problem.message} {problem.fix}"))
    if stack.workers is not None:
        services = [*stack.background_services, stack.services.broker]
        said.append(("workers", f"adds {', '.join(services)}: {stack.services.broker} is a Redis of its own "
                                "(no eviction, append-only file), apart from the cache"))
    elif p.celery:
        said.append(("workers", "none: background work is left out (--no-workers, recorded as WORKERS=off in "
                                ".env; --workers puts it back)"))
    elif p.processes:
        said.append(("workers", "none: no Celery app found, and the stack runs the Procfile's lines only beside "
                                "Celery's worker"))
    return said
