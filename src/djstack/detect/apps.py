"""What the settings say about the app: its INSTALLED_APPS, GeoDjango, its own CSP, and an ASGI side.

GeoDjango needs GDAL/GEOS/PROJ in the image; nginx adds no Content-Security-Policy to the answers of
a project that makes its own; the stack serves WSGI (uWSGI), so a project built around websockets or
a custom asgi.py must be told what will not work. Read statically through the settings evaluator
(every branch), never imported.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from .evaluate import Environment, Evaluator, Module, items_of, known
from .pysource import called, is_str, module_file, parse, relative_path

#: Database URL schemes of GeoDjango's backends (dj-database-url, django-environ).
_GIS_URL = re.compile(r"^(postgis|spatialite|mysqlgis|oraclegis)://")


def installed_apps(settings_file: Path, app_dir: Path) -> list[str]:
    """Every app name INSTALLED_APPS can hold, across the import chain: literal lists and tuples,
    names of other lists (DJANGO_APPS + THIRD_PARTY_APPS), `*spread`, `+=`, append/insert/extend.
    Both branches of an if count (an app installed only `if DEBUG:` is still listed)."""
    return _apps(any_branch(settings_file, app_dir)[1])


def uses_gis(settings_file: Path, app_dir: Path) -> bool:
    """GeoDjango: django.contrib.gis installed, or a GIS database backend named anywhere in the
    settings' chain (an ENGINE "django.contrib.gis.db.backends.…", a postgis:// URL default)."""
    evaluator, module = any_branch(settings_file, app_dir)
    if any(app == "django.contrib.gis" or app.startswith("django.contrib.gis.") for app in _apps(module)):
        return True
    for file in evaluator.files:
        for node in ast.walk(parse(file)):
            if is_str(node) and (node.value.startswith("django.contrib.gis.db.") or _GIS_URL.match(node.value)):
                return True
    return False


#: Middleware that sets a Content-Security-Policy, and the settings holding its policies (django-csp
#: has a default policy of its own: it always sends one).
CSP_MIDDLEWARE = {
    "django.middleware.csp.ContentSecurityPolicyMiddleware": ("SECURE_CSP", "SECURE_CSP_REPORT_ONLY"),
    "csp.middleware.CSPMiddleware": (),
}


def own_csp(settings_file: Path, app_dir: Path) -> str | None:
    """The middleware through which the project sends its own Content-Security-Policy, or None.
    Django's own (6.0) sends nothing while its two settings are empty, so it counts only when one of
    them may hold a policy (a value the reader cannot know counts: doubt keeps the project's own)."""
    module = any_branch(settings_file, app_dir)[1]
    for name in items_of(module.values.get("MIDDLEWARE", [])):
        if name in CSP_MIDDLEWARE:
            settings = CSP_MIDDLEWARE[name]
            if not settings or any(not known(v) or v for v in map(module.values.get, settings)):
                return name
    return None


def any_branch(settings_file: Path, app_dir: Path) -> tuple[Evaluator, Module]:
    """The settings evaluated for what any branch could put in a list (every_branch)."""
    evaluator = Evaluator(app_dir.resolve(), Environment({}), every_branch=True)
    return evaluator, evaluator.load(settings_file.resolve())


def _apps(module: Module) -> list[str]:
    return _unique([a for a in items_of(module.values.get("INSTALLED_APPS", [])) if isinstance(a, str)])


# --------------------------------------------------------------------------------------------------
# 4. ASGI
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsgiInfo:
    asgi_file: Path  # the ASGI application's module (the settings file when it cannot be found)
    websocket: bool  # Channels routing that serves websockets
    statement: str  # what the stack will and will not serve, for `init` to print


def asgi_info(app_dir: Path, settings_values: dict, settings_file: Path) -> AsgiInfo | None:
    """What the WSGI-only stack leaves out of an ASGI project, or None for an ordinary project
    (asgi.py as startproject writes it, no Channels/Daphne installed; ASGI_APPLICATION alone serves
    nothing without them)."""
    app_dir = app_dir.resolve()
    apps = installed_apps(settings_file, app_dir)
    channels = [a for a in apps if a.split(".")[0] in ("channels", "daphne")]
    dotted = settings_values.get("ASGI_APPLICATION")
    asgi_module = dotted.rpartition(".")[0] if isinstance(dotted, str) and "." in dotted else None
    try:
        top = settings_file.resolve().relative_to(app_dir).parts[0].removesuffix(".py")
    except ValueError:
        top = ""
    named = module_file(app_dir, asgi_module) if asgi_module else None
    beside = module_file(app_dir, f"{top}.asgi") if top else None
    files = list(dict.fromkeys(f for f in (named, beside) if f))
    evidence = [fact for f in files for fact in _asgi_facts(f)]
    custom = [f for f in files if not _is_startproject_asgi(f)]
    if not channels and not custom:
        return None

    asgi_file = files[0] if files else settings_file
    where = relative_path(asgi_file, app_dir)
    websocket = any(fact.startswith(("ProtocolTypeRouter", "URLRouter", "websocket_urlpatterns")) for fact in evidence)
    wsgi = settings_values.get("WSGI_APPLICATION")
    wsgi_text = f"the WSGI application ({wsgi})" if isinstance(wsgi, str) else "the project's WSGI application"
    serve_asgi = (
        f"run the ASGI application ({dotted if isinstance(dotted, str) else where}) with Daphne or Uvicorn "
        "as a service of its own and have nginx (compose/nginx/nginx.conf) pass those paths to it "
        "with the Upgrade and Connection headers"
    )
    if websocket:
        statement = (
            f"{where} serves websockets through Channels ({', '.join(evidence)}). This stack serves "
            f"HTTP only, through WSGI: uWSGI runs {wsgi_text}, so every HTTP view works, but websocket "
            "connections are not served: the consumers never run and pages that open a websocket fail "
            f"to connect. To serve them, {serve_asgi}; or turn the websocket features off."
        )
    else:
        what = ", ".join(evidence) or (f"{', '.join(channels)} in INSTALLED_APPS" if channels else "a custom asgi.py")
        statement = (
            f"{where} is an ASGI application ({what}). This stack serves it through WSGI: uWSGI runs "
            f"{wsgi_text}, so HTTP views work (async views too, each in a thread of its own), but "
            f"nothing {where} adds around Django is used. If you need it, {serve_asgi}."
        )
    return AsgiInfo(asgi_file, websocket, statement)


def _asgi_facts(path: Path) -> list[str]:
    """What an ASGI module does beyond Django's own handler, as short phrases."""
    facts: list[str] = []
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Call):
            name = called(node)
            if name == "ProtocolTypeRouter":
                keys = [k.value for a in node.args if isinstance(a, ast.Dict) for k in a.keys if is_str(k)]
                if "websocket" in keys:
                    facts.append('ProtocolTypeRouter with "websocket"')
            elif name == "URLRouter":
                facts.append("URLRouter")
        elif isinstance(node, (ast.Name, ast.alias, ast.Attribute)):
            text = getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", "")
            if "websocket_urlpatterns" in text:
                facts.append("websocket_urlpatterns")
    return list(dict.fromkeys(facts))


def _is_startproject_asgi(path: Path) -> bool:
    """Only what startproject writes: imports of os and get_asgi_application, the settings default,
    `application = get_asgi_application()`."""
    for stmt in parse(path).body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # the docstring
        if isinstance(stmt, ast.Import) and all(a.name == "os" for a in stmt.names):
            continue
        if isinstance(stmt, ast.ImportFrom) and stmt.module in ("django.core.asgi", "__future__"):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and called(stmt.value) == "setdefault":
            continue
        if (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.value, ast.Call)
            and called(stmt.value) == "get_asgi_application"
        ):
            continue
        return False
    return True


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
