"""Findings from the Python exceptions in web's log: those of requests, and those that stop web.

A request's exception is a finding of its own — the exception, where the project's code raised it
(or the template), how many requests it hit — never a start-up failure: the app loaded and answered.
An exception outside any request is why web's start failed: a settings module that does not exist, a
package the image lacks, or else the exception itself (`crash-exception`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..model import Stack
from .confinement import READ_ONLY
from .evidence import WEB, parse
from .finding import APP, CONFIG, ERROR, FILES, REQUEST, SCHEMA, Finding
from .signatures import match
from .tracebacks import Frame, Raised, project_frame, raised_in, request_errors, template_name

#: Signatures an exception's own finding says more than: an import error in general.
MORE_SPECIFIC_THAN = {"web-app-not-loaded"}
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
#: Where Django imports DJANGO_SETTINGS_MODULE: a missing module imported from here is the settings module.
_SETTINGS_IMPORT = "django/conf/__init__.py"
#: Where Django imports each entry of INSTALLED_APPS.
_APPS_IMPORT = "django/apps/config.py"


def _explained(raised: Raised, values: Mapping[str, str]) -> bool:
    """Whether a log signature already names this exception's cause (a database error code, Redis's
    reply, a refused host), confinement.py does (a write on the read-only root) or workers.py (a
    broker that does not answer): then that is the finding, not the exception."""
    line = f"{raised.type}: {raised.message}"
    found = match("web", [line], dict(values))
    facts = parse(WEB, [line])
    # Enqueuing a task on a broker that does not answer (Celery raises a RuntimeError of its own
    # from redis-py's): the broker's findings say why (workers.py).
    chain = parse(WEB, [line, *(f"{kind}: {message}" for kind, message in raised.causes)])
    broker = any(f.kind == "redis-connect-failed" and f.subject == values.get("broker") for f in chain)
    return any(f.id not in MORE_SPECIFIC_THAN for f in found) or any(f.key in READ_ONLY for f in facts) or broker


def in_project(stack: Stack, frame: Frame | None) -> str:
    """A frame's place as a path from the project root (the image holds the root at Paths.app)."""
    if frame is None:
        return ""
    return f"{frame.file.removeprefix(stack.paths.app + '/')}:{frame.line}"


def request_findings(stack: Stack, lines: list[str], values: Mapping[str, str]) -> list[Finding]:
    """One finding per kind of request error (exception type and project frame) in web's log."""
    found = []
    for error in request_errors(lines):
        raised = error.raised
        if _explained(raised, values):
            continue
        where = in_project(stack, project_frame(raised))
        hit = (f"{error.count} request(s): " + ", ".join(dict.fromkeys(error.paths))[:120])
        evidence = [f"web: {raised.type}: {raised.message}"[:200], f"web: {hit}"] + (
            [f"web: raised at {where}"] if where else [])
        found.append(_request_finding(raised, where, hit, values, evidence))
    return found


def _request_finding(raised: Raised, where: str, hit: str, values: Mapping[str, str],
                     evidence: list[str]) -> Finding:
    web = values["web"]
    rebuild = f"then `docker compose up -d --build {web}`"
    if raised.chain_has("OfflineGenerationError"):
        return Finding("compress-offline-missing", ERROR,
                       "Pages fail: django-compressor's offline bundles were never generated (OfflineGenerationError)",
                       "COMPRESS_OFFLINE = True needs `python manage.py compress` after collectstatic in the "
                       f"image build: add it to {values['build_hook']}, or set COMPRESS_OFFLINE = False; {rebuild}.",
                       FILES, web, evidence)
    if "Missing staticfiles manifest entry" in raised.message:
        return Finding("static-file-missing", ERROR,
                       "A page links a static file collectstatic did not collect (not in the manifest)",
                       "Add the file to an app's static/ folder (or correct the name in `{% static %}`"
                       + (f", {where}" if where else "") + f"); {rebuild} (it runs collectstatic).",
                       FILES, web, evidence)
    if raised.chain_has("TemplateSyntaxError", "TemplateDoesNotExist"):
        template = template_name(raised) or "the template in the traceback"
        if raised.chain_has("TemplateDoesNotExist"):
            fix = (f"No templates/ folder of an app in INSTALLED_APPS (nor TEMPLATES DIRS) holds {template}: "
                   f"create it, or correct the name" + (f" at {where}" if where else ""))
        else:
            # Django lists the known libraries on the lines after "Must be one of:": not in the message.
            message = raised.message.removesuffix(" Must be one of:")[:160]
            fix = f"Fix {template}: {message} ({{% load %}} libraries come from apps in INSTALLED_APPS)"
        return Finding("template-error", ERROR, f"A template fails to render: {template} ({raised.name})",
                       f"{fix}; {rebuild}.", REQUEST - 5, web, evidence)
    place = where or "the frame of your code in the traceback"
    return Finding("view-exception", ERROR, f"A view raises {raised.name} ({hit})",
                   f"Fix {place}: it raises {raised.name}: {raised.message[:160]}; {rebuild}.",
                   REQUEST - 5, web, evidence)


def start_findings(stack: Stack, lines: list[str], values: Mapping[str, str]) -> list[Finding]:
    """Findings for exceptions raised outside requests (web's start: migrate, uWSGI loading the app)."""
    raised = [r for r in raised_in(lines) if not r.path and not _explained(r, values)]
    own = project_packages(stack, raised)
    found = []
    for r in raised:
        missing = _MISSING_MODULE.search(r.message) if r.is_a("ModuleNotFoundError") else None
        if missing is None:
            continue
        evidence = [f"web: {r.type}: {r.message}"]
        if _outer_frame(r) is not None and _outer_frame(r).file.endswith(_SETTINGS_IMPORT):
            found.append(Finding(
                "settings-module-not-found", ERROR,
                f"web's settings module {missing.group(1)} does not exist: Django cannot start",
                f"DJANGO_SETTINGS_MODULE (web's environment in {values['compose']}) must name an existing "
                f"module — djstack's is {stack.project.overlay_module}, which imports "
                f"{stack.project.settings_module}; then `docker compose up -d --force-recreate {values['web']}`.",
                # Before check's other readings of the files: they read a settings module web does not run.
                CONFIG - 1, values["web"], evidence))
            continue
        package = missing.group(1)
        # A dotted name's parent package imported (Python names the first part missing): a module of
        # the project or of an installed package is gone; web-app-not-loaded says so.
        if "." in package or package in own:
            continue
        found.append(Finding(
            "missing-dependency", ERROR, f"web's image lacks the package that provides '{package}'",
            f"Add the distribution that provides `{package}` to {values['requirements']} (its name on PyPI "
            f"may differ), then `docker compose up -d --build {values['web']}`.",
            SCHEMA - 1, values["web"], evidence + _importer(stack, r)))
    return found


#: How near the end of the lines an exception must be to be why the run ended (uWSGI and the
#: entrypoint write a few lines after it).
ENDING_LINES = 20


def crash_exception(stack: Stack, lines: list[str], values: Mapping[str, str], key: str = WEB) -> list[Finding]:
    """The last exception outside a request in `lines` (the ended runs of web, or of a background
    service: `key`), as why they ended: only when it stands at their end (an older one is not why the
    last run stopped)."""
    raised = [r for r in raised_in(lines) if not r.path and not _explained(r, values)]
    if not raised or raised[-1].index < len(lines) - ENDING_LINES:
        return []
    last = raised[-1]
    migration = unfinished_migration(lines, last.index) if key == WEB else ""
    if migration:
        return [migration_failed(migration, last, values)]
    where = in_project(stack, project_frame(last))
    name = values.get(key, key)
    # The background services run web's image: a fix reaches them when it is rebuilt.
    rebuild = values["web"] if key == WEB else f"{values['web']} {name}"
    return [Finding("crash-exception" if key == WEB else f"{key}-crash-exception", ERROR,
                    f"{name}'s runs end with {last.name}: {last.message[:120]}",
                    f"Fix {where or 'the code in the traceback'}: `djstack logs {name}` shows the "
                    f"whole traceback; then `docker compose up -d --build {rebuild}`.", APP - 1,
                    name, [f"{name}: {last.type}: {last.message}"[:200]]
                    + ([f"{name}: raised at {where}"] if where else []))]


def unfinished_migration(lines: list[str], index: int) -> str:
    """The migration ("app.name") that raised the exception at `index`: migrate was running (its
    "Running migrations:" came last before the exception, uWSGI not started since) and never printed
    its OK. (The traceback names only Django's frames, and manage.py.) migrate's stdout is flushed at
    exit, so "Applying X..." follows the traceback, in the next run's lines: the last unfinished one."""
    phases = [f.kind for f in parse(WEB, lines[:index]) if f.kind in ("django-migrate-running", "uwsgi-starting")]
    if not phases or phases[-1] != "django-migrate-running":
        return ""
    began = [f.subject for f in parse(WEB, lines) if f.kind == "django-migration-unfinished"]
    return began[-1] if began else ""


def migration_failed(migration: str, raised: Raised, values: Mapping[str, str]) -> Finding:
    app, _, name = migration.partition(".")
    return Finding(
        "migration-failed", ERROR, f"web stops in migrate: migration {migration} fails with {raised.name}",
        f"Correct migration {name} of app {app} (its file {name}.py in the app's migrations/): "
        f"{raised.message[:160]}; then `docker compose up -d --build {values['web']}` (its entrypoint "
        "migrates). MySQL cannot roll back a schema change: if part of it was applied, undo that part "
        f"first (`djstack dbshell`).", APP - 1, values["web"],
        [f"web: {raised.type}: {raised.message}"[:200], f"web: migrate never finished applying {migration}"])


def _importer(stack: Stack, raised: Raised) -> list[str]:
    """Who imported the missing module: a line of the project, or INSTALLED_APPS through Django."""
    frame = _outer_frame(raised)
    if frame is not None and frame.file.endswith(_APPS_IMPORT):
        return ["web: INSTALLED_APPS names it (Django imports each app at start)"]
    if frame is not None and frame is project_frame(raised):
        return [f"web: imported at {in_project(stack, frame)}: {frame.code}"]
    return []


def _outer_frame(raised: Raised) -> Frame | None:
    """The innermost frame outside Python's import machinery: who imported the missing module."""
    frames = [f for f in raised.frames if "importlib" not in f.file]
    return frames[-1] if frames else None


def project_packages(stack: Stack, raised: list[Raised]) -> set[str]:
    """Top-level packages of the project's own code: its settings and WSGI modules, and every package
    a traceback shows a frame of under manage.py's folder in the image."""
    home = stack.app_home.rstrip("/") + "/"
    own = {stack.project.settings_module.split(".")[0], stack.project.wsgi_module.split(".")[0]}
    for r in raised:
        own |= {f.file.removeprefix(home).split("/")[0] for f in r.frames
                if f.file.startswith(home) and "/" in f.file.removeprefix(home)}
    return own
