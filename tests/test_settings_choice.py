"""Choosing the production settings, the variables they read at import, GeoDjango and ASGI."""

from __future__ import annotations

from pathlib import Path

import pytest

from djstack.detect.apps import asgi_info, installed_apps, uses_gis
from djstack.detect.envreads import env_reads
from djstack.detect.settings import choose_settings, locate_wsgi, settings_candidates
from djstack.errors import DjstackError

MANAGE = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "{module}")\n'
WSGI = (
    "import os\nfrom django.core.wsgi import get_wsgi_application\n"
    'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{module}")\napplication = get_wsgi_application()\n'
)
STARTPROJECT_ASGI = (
    '"""ASGI config."""\nimport os\n\nfrom django.core.asgi import get_asgi_application\n\n'
    'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{module}")\n\napplication = get_asgi_application()\n'
)

# The shape cookiecutter-django generates (written here, not copied): base reads with django-environ,
# local is for development, production reads the deployment's secrets.
COOKIECUTTER_BASE = '''\
from pathlib import Path
import environ

BASE_DIR = Path(__file__).resolve(strict=True).parent.parent.parent
env = environ.Env(DJANGO_READ_DOT_ENV_FILE=(bool, False), DJANGO_TIMEZONE=(str, "UTC"), WORKERS=(int,))

READ_DOT_ENV_FILE = env.bool("DJANGO_READ_DOT_ENV_FILE", default=False)
if READ_DOT_ENV_FILE:
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", False)
TIME_ZONE = env("DJANGO_TIMEZONE")
if "DATABASE_URL" in env:
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {"default": {"NAME": env.str("POSTGRES_DB"), "PORT": env.int("POSTGRES_PORT", default=5432)}}
DJANGO_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
THIRD_PARTY_APPS = ["crispy_forms"]
LOCAL_APPS = ["myshop.users"]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS
ADMIN_URL = "admin/"
'''
COOKIECUTTER_LOCAL = '''\
from .base import *  # noqa
from .base import env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="not-secret-at-all")
INSTALLED_APPS += ["debug_toolbar"]
'''
COOKIECUTTER_PRODUCTION = '''\
from .base import *  # noqa
from .base import env

SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["example.com"])
CACHES = {"default": {"LOCATION": env("REDIS_URL")}}
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=60)
ADMIN_URL = env("DJANGO_ADMIN_URL")
SENTRY_SAMPLE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
AWS_QUERYSTRING = env.bool("DJANGO_AWS_QUERYSTRING_AUTH", default=None)
EMAIL = env.email("DJANGO_EMAIL_URL", default="consolemail://")
WORKERS = env("WORKERS")
'''


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root.resolve()


def cookiecutter(tmp_path: Path, **extra: str) -> Path:
    return write(tmp_path, {
        "manage.py": MANAGE.format(module="config.settings.local"),
        "config/__init__.py": "",
        "config/wsgi.py": WSGI.format(module="config.settings.production"),
        "config/settings/__init__.py": "",
        "config/settings/base.py": COOKIECUTTER_BASE,
        "config/settings/local.py": COOKIECUTTER_LOCAL,
        "config/settings/production.py": COOKIECUTTER_PRODUCTION,
        "config/settings/test.py": "from .base import *\n",
        **extra,
    })


def by_name(reads):
    return {r.name: r for r in reads}


# ---- choosing the settings ---------------------------------------------------------------------

def test_wsgi_names_production_over_managepy_local(tmp_path):
    app = cookiecutter(tmp_path)
    wsgi = locate_wsgi(app, "config.settings.local")
    assert wsgi == app / "config/wsgi.py"
    choice = choose_settings(app, "config.settings.local", wsgi)
    assert choice.module == "config.settings.production"
    assert choice.file == app / "config/settings/production.py"
    assert choice.why == (
        "config/wsgi.py names config.settings.production "
        "(manage.py's default config.settings.local is for development)"
    )


def test_production_sibling_when_wsgi_names_nothing(tmp_path):
    app = cookiecutter(tmp_path, **{"config/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"})
    choice = choose_settings(app, "config.settings.local", app / "config/wsgi.py")
    assert choice.module == "config.settings.production"
    assert "config.settings.local, a development module" in choice.why
    assert "sibling config.settings.production" in choice.why


@pytest.mark.parametrize("name", ["prod", "deploy", "live"])
def test_other_production_names(tmp_path, name):
    app = write(tmp_path, {
        "manage.py": MANAGE.format(module="site_conf.settings.dev"),
        "site_conf/settings/__init__.py": "",
        "site_conf/settings/dev.py": "",
        f"site_conf/settings/{name}.py": "",
    })
    choice = choose_settings(app, "site_conf.settings.dev", None)
    assert choice.module == f"site_conf.settings.{name}"


def test_wsgi_naming_a_development_module_still_prefers_production_sibling(tmp_path):
    app = cookiecutter(tmp_path, **{"config/wsgi.py": WSGI.format(module="config.settings.local")})
    choice = choose_settings(app, "config.settings.local", app / "config/wsgi.py")
    assert choice.module == "config.settings.production"
    assert choice.why.startswith("manage.py and config/wsgi.py both name config.settings.local")


def test_startproject_keeps_managepy_settings(tmp_path):
    app = write(tmp_path, {
        "manage.py": MANAGE.format(module="mysite.settings"),
        "mysite/__init__.py": "",
        "mysite/settings.py": "DEBUG = True\n",
        "mysite/wsgi.py": WSGI.format(module="mysite.settings"),
    })
    choice = choose_settings(app, "mysite.settings", locate_wsgi(app, "mysite.settings"))
    assert (choice.module, choice.why) == ("mysite.settings", "manage.py and mysite/wsgi.py both name mysite.settings")


def test_development_module_without_production_sibling_is_kept(tmp_path):
    app = write(tmp_path, {
        "manage.py": MANAGE.format(module="proj.settings.local"),
        "proj/settings/__init__.py": "",
        "proj/settings/local.py": "",
        "proj/settings/base.py": "",
    })
    assert choose_settings(app, "proj.settings.local", None).module == "proj.settings.local"


def test_wsgi_naming_a_missing_module_falls_back_and_says_so(tmp_path):
    app = write(tmp_path, {
        "manage.py": MANAGE.format(module="mysite.settings"),
        "mysite/settings.py": "",
        "mysite/wsgi.py": WSGI.format(module="mysite.settings_old"),
    })
    choice = choose_settings(app, "mysite.settings", app / "mysite/wsgi.py")
    assert choice.module == "mysite.settings"
    assert "names mysite.settings_old, which does not exist" in choice.why


def test_wsgi_located_from_wsgi_application(tmp_path):
    app = write(tmp_path, {
        "manage.py": MANAGE.format(module="settings"),
        "settings.py": 'WSGI_APPLICATION = "server.app.application"\n',
        "server/app.py": "application = None\n",
    })
    assert locate_wsgi(app, "settings") == app / "server/app.py"


def test_override_wins(tmp_path):
    app = cookiecutter(tmp_path)
    choice = choose_settings(app, "config.settings.local", app / "config/wsgi.py", override="config.settings.test")
    assert (choice.module, choice.why) == ("config.settings.test", "--settings names config.settings.test")


def test_override_that_does_not_exist_lists_candidates(tmp_path):
    app = cookiecutter(tmp_path)
    with pytest.raises(DjstackError) as caught:
        choose_settings(app, "config.settings.local", app / "config/wsgi.py", override="config.settings.staging")
    message = caught.value.message
    assert "'config.settings.staging'" in message
    for candidate in ("config.settings.base", "config.settings.local", "config.settings.production", "config.settings.test"):
        assert candidate in message
    assert caught.value.fix


def test_candidates_leave_out_the_overlay_and_project_code(tmp_path):
    app = cookiecutter(tmp_path, **{"config/settings/settings_docker.py": "", "config/urls.py": ""})
    found = settings_candidates(app, "config.settings.local", "config.settings.production")
    assert "config.settings.settings_docker" not in found
    assert "config.urls" not in found
    assert "config.settings.production" in found


def test_missing_managepy_module(tmp_path):
    app = write(tmp_path, {"manage.py": MANAGE.format(module="gone.settings")})
    with pytest.raises(DjstackError, match="there is no such module"):
        choose_settings(app, "gone.settings", None)


# ---- environment reads --------------------------------------------------------------------------

def test_cookiecutter_production_reads(tmp_path):
    app = cookiecutter(tmp_path)
    reads = env_reads(app / "config/settings/production.py", app)
    found = by_name(reads)
    base, prod = app / "config/settings/base.py", app / "config/settings/production.py"

    # Required: no default, not guarded.
    assert {r.name for r in reads if r.required} == {"DJANGO_SECRET_KEY", "REDIS_URL", "DJANGO_ADMIN_URL", "WORKERS"}
    assert (found["DJANGO_SECRET_KEY"].file, found["DJANGO_SECRET_KEY"].line) == (prod, 4)
    assert found["DJANGO_ADMIN_URL"].line == 8
    # Defaults: keyword, positional (env.bool's second argument), and the Env() scheme.
    assert not found["DJANGO_DEBUG"].required and found["DJANGO_DEBUG"].kind == "bool"
    assert not found["DJANGO_TIMEZONE"].required
    assert not found["DJANGO_ALLOWED_HOSTS"].required
    # A scheme entry without a default gives the type only: WORKERS is still required, as an int.
    assert found["WORKERS"].kind == "int"
    # default=None is a default for django-environ: it returns None.
    assert not found["DJANGO_AWS_QUERYSTRING_AUTH"].required
    # Guarded reads: not required, with the guard for the lead to weigh.
    postgres = found["POSTGRES_DB"]
    assert not postgres.required and postgres.fails_when_unset
    assert postgres.condition == "not ('DATABASE_URL' in env)"
    assert found["DATABASE_URL"].condition == "'DATABASE_URL' in env"
    assert found["DATABASE_URL"].kind == "db_url"
    assert not found["POSTGRES_PORT"].fails_when_unset
    # Typed reads.
    kinds = {r.name: r.kind for r in reads}
    assert kinds["DJANGO_ALLOWED_HOSTS"] == "list"
    assert kinds["CONN_MAX_AGE"] == "int"
    assert kinds["SENTRY_TRACES_SAMPLE_RATE"] == "float"
    assert kinds["DJANGO_EMAIL_URL"] == "email_url"
    assert kinds["REDIS_URL"] == "str"
    # Execution order: base's reads (run by the star import) before production's own.
    names = [r.name for r in reads]
    assert names.index("DJANGO_READ_DOT_ENV_FILE") < names.index("POSTGRES_DB") < names.index("DJANGO_SECRET_KEY")
    assert found["DJANGO_READ_DOT_ENV_FILE"].file == base
    assert len(names) == len(set(names))


def test_local_settings_have_a_default_secret(tmp_path):
    app = cookiecutter(tmp_path)
    found = by_name(env_reads(app / "config/settings/local.py", app))
    assert not found["DJANGO_SECRET_KEY"].required
    assert "REDIS_URL" not in found


def test_absolute_import_and_submodule_import(tmp_path):
    app = write(tmp_path, {
        "proj/__init__.py": "",
        "proj/settings/__init__.py": "",
        "proj/settings/base.py": "import os\nSECRET_KEY = os.environ['SECRET_KEY']\n",
        "proj/settings/envconf.py": "import environ\nenv = environ.Env()\n",
        "proj/settings/prod.py": (
            "from proj.settings.base import *\n"
            "from . import envconf\n"
            "HOST = envconf.env('PUBLIC_HOST')\n"
        ),
    })
    found = by_name(env_reads(app / "proj/settings/prod.py", app))
    assert found["SECRET_KEY"].required
    assert found["PUBLIC_HOST"].required


def test_env_object_imported_from_a_project_module(tmp_path):
    app = write(tmp_path, {
        "config/env.py": "from pathlib import Path\nimport environ\nenv = environ.Env()\n",
        "config/settings.py": "from config.env import env\nAPI_KEY = env.str('API_KEY')\n",
    })
    assert by_name(env_reads(app / "config/settings.py", app))["API_KEY"].required


def test_package_init_runs_first(tmp_path):
    app = write(tmp_path, {
        "proj/__init__.py": "import os\nVERSION = os.environ['APP_VERSION']\n",
        "proj/settings.py": "import os\nSECRET_KEY = os.environ['SECRET_KEY']\n",
    })
    assert [r.name for r in env_reads(app / "proj/settings.py", app)] == ["APP_VERSION", "SECRET_KEY"]


def test_os_environ_rules(tmp_path):
    app = write(tmp_path, {"s.py": '''\
import os
from os import environ, getenv
import json
from pathlib import Path

A = os.environ["A"]
B = os.environ.get("B")
C = os.getenv("C", "fallback")
D = os.environ.get("D").split(",")
E = int(os.getenv("E"))
F = os.getenv("F", None)[0]
G = os.environ.get("G") or "x"
H = getenv("H") + "/static"
I = json.loads(environ.get("I"))
J = Path(os.getenv("J"))
K = environ["K"]
L = int(os.environ.get("L", "5"))
M = os.getenv("M", "a,b").split(",")
'''})
    found = by_name(env_reads(app / "s.py", app))
    required = {name for name, r in found.items() if r.required}
    assert required == {"A", "D", "E", "F", "H", "I", "J", "K"}
    assert found["G"].condition is None and not found["G"].required
    assert (found["D"].kind, found["E"].kind, found["I"].kind, found["J"].kind, found["L"].kind) == (
        "list", "int", "json", "path", "int")
    assert found["M"].kind == "list" and not found["M"].required
    assert found["B"].kind == "str"


def test_value_set_by_the_settings_first_never_fails(tmp_path):
    app = write(tmp_path, {"s.py": (
        "import os\nos.environ.setdefault('DJANGO_SECRET_KEY', 'dev')\nos.environ['MODE'] = 'x'\n"
        "SECRET_KEY = os.environ['DJANGO_SECRET_KEY']\nMODE = os.environ['MODE']\nOTHER = os.environ['OTHER']\n"
    )})
    found = by_name(env_reads(app / "s.py", app))
    assert not found["DJANGO_SECRET_KEY"].required and not found["MODE"].required
    assert found["OTHER"].required


def test_decouple(tmp_path):
    app = write(tmp_path, {"s.py": '''\
from decouple import config, Csv
SECRET_KEY = config("SECRET_KEY")
DEBUG = config("DEBUG", default=False, cast=bool)
ALLOWED_HOSTS = config("ALLOWED_HOSTS", cast=Csv())
PORT = config("PORT", 8000, cast=int)
'''})
    found = by_name(env_reads(app / "s.py", app))
    assert found["SECRET_KEY"].required and found["SECRET_KEY"].kind == "str"
    assert not found["DEBUG"].required and found["DEBUG"].kind == "bool"
    assert found["ALLOWED_HOSTS"].required and found["ALLOWED_HOSTS"].kind == "list"
    assert not found["PORT"].required and found["PORT"].kind == "int"


def test_decouple_autoconfig_instance(tmp_path):
    app = write(tmp_path, {"s.py": "import decouple\nconfig = decouple.AutoConfig(search_path='.')\nX = config('X')\n"})
    assert by_name(env_reads(app / "s.py", app))["X"].required


def test_dj_database_url(tmp_path):
    app = write(tmp_path, {"s.py": '''\
import os
import dj_database_url
DATABASES = {
    "default": dj_database_url.config(conn_max_age=600),
    "replica": dj_database_url.config(env="REPLICA_URL", default="sqlite://"),
    "other": dj_database_url.parse(os.environ["OTHER_DATABASE_URL"]),
}
'''})
    found = by_name(env_reads(app / "s.py", app))
    assert found["DATABASE_URL"].kind == "db_url" and not found["DATABASE_URL"].required
    assert found["REPLICA_URL"].kind == "db_url" and not found["REPLICA_URL"].required
    assert found["OTHER_DATABASE_URL"].kind == "db_url" and found["OTHER_DATABASE_URL"].required


def test_environs(tmp_path):
    app = write(tmp_path, {"s.py": '''\
from environs import Env
env = Env()
env.read_env()
SECRET_KEY = env.str("SECRET_KEY")
DEBUG = env.bool("DEBUG", False)
DATABASES = {"default": env.dj_db_url("DATABASE_URL", default="sqlite://")}
'''})
    found = by_name(env_reads(app / "s.py", app))
    assert found["SECRET_KEY"].required
    assert not found["DEBUG"].required
    assert found["DATABASE_URL"].kind == "db_url" and not found["DATABASE_URL"].required


def test_project_helper_is_not_a_read(tmp_path):
    app = write(tmp_path, {"s.py": '''\
import os

def envsecret(name, default):
    return os.environ.get(name, default)

def env(name):
    return os.environ[name]

SECRET_KEY = envsecret("SECRET_KEY", "---")
TOKEN = env("TOKEN")
'''})
    assert env_reads(app / "s.py", app) == []


def test_project_function_shadowing_environ_instance(tmp_path):
    app = write(tmp_path, {"s.py": (
        "import environ\nenv = environ.Env()\nA = env('A')\n"
        "def env(name, default=None):\n    return default\nB = env('B')\n"
    )})
    assert [r.name for r in env_reads(app / "s.py", app)] == ["A"]


def test_guards_of_every_shape(tmp_path):
    app = write(tmp_path, {"s.py": '''\
import environ
env = environ.Env()
if env("USE_S3", default=False):
    BUCKET = env("S3_BUCKET")
try:
    SENTRY = env("SENTRY_DSN")
except Exception:
    SENTRY = None
try:
    from .nope import *
except ImportError:
    pass
NAME = env("PRIMARY", default=None) or env("FALLBACK")
MODE = env("PROD_KEY") if env.bool("PRODUCTION", default=False) else "dev"
KEY = env("ALWAYS")
KEY2 = env("ALWAYS")
'''})
    found = by_name(env_reads(app / "s.py", app))
    assert found["S3_BUCKET"].condition == "env('USE_S3', default=False)"
    assert found["SENTRY_DSN"].condition == "inside try/except Exception"
    assert found["FALLBACK"].condition == "not (env('PRIMARY', default=None))"
    assert found["PROD_KEY"].condition == "env.bool('PRODUCTION', default=False)"
    assert not found["USE_S3"].required and found["USE_S3"].condition is None
    assert {n for n, r in found.items() if r.required} == {"ALWAYS"}
    assert {n for n, r in found.items() if r.fails_when_unset} == {"S3_BUCKET", "SENTRY_DSN", "FALLBACK", "PROD_KEY", "ALWAYS"}


def test_one_entry_per_name_at_its_required_read(tmp_path):
    app = write(tmp_path, {
        "s/__init__.py": "",
        "s/base.py": "import environ\nenv = environ.Env()\nX = env('TOKEN', default='')\nif X:\n    Y = env('TOKEN')\n",
        "s/prod.py": "from .base import *\nZ = env('TOKEN')\n",
    })
    reads = env_reads(app / "s/prod.py", app)
    assert len(reads) == 1
    token = reads[0]
    assert token.required and (token.file, token.line) == (app / "s/prod.py", 2)


def test_functions_do_not_run_at_import(tmp_path):
    app = write(tmp_path, {"s.py": (
        "import os\ndef later():\n    return os.environ['LATER']\n"
        "CALLBACK = lambda: os.environ['LAMBDA']\nclass Conf:\n    KEY = os.environ['IN_CLASS']\n"
    )})
    assert [r.name for r in env_reads(app / "s.py", app)] == ["IN_CLASS"]


def test_module_imported_twice_is_read_once(tmp_path):
    app = write(tmp_path, {
        "s/__init__.py": "",
        "s/common.py": "import os\nA = os.environ['A']\n",
        "s/base.py": "from .common import *\n",
        "s/prod.py": "from .base import *\nfrom .common import A\nimport s.common\n",
    })
    reads = env_reads(app / "s/prod.py", app)
    assert [(r.name, r.file) for r in reads] == [("A", app / "s/common.py")]


def test_import_cycle_terminates(tmp_path):
    app = write(tmp_path, {
        "s/__init__.py": "",
        "s/a.py": "import os\nfrom .b import *\nA = os.environ['A']\n",
        "s/b.py": "import os\nfrom .a import *\nB = os.environ['B']\n",
    })
    assert [r.name for r in env_reads(app / "s/a.py", app)] == ["B", "A"]


# ---- GeoDjango -----------------------------------------------------------------------------------

def test_gis_through_list_concatenation_across_files(tmp_path):
    app = write(tmp_path, {
        "proj/__init__.py": "",
        "proj/settings/__init__.py": "",
        "proj/settings/apps.py": 'GIS_APPS = ("django.contrib.gis",)\n',
        "proj/settings/base.py": (
            "from .apps import GIS_APPS\n"
            'DJANGO_APPS = ["django.contrib.admin"]\n'
            "INSTALLED_APPS = DJANGO_APPS + list(GIS_APPS) + ['places']\n"
        ),
        "proj/settings/production.py": "from .base import *\nINSTALLED_APPS += ['storages']\n",
    })
    settings = app / "proj/settings/production.py"
    assert installed_apps(settings, app) == ["django.contrib.admin", "django.contrib.gis", "places", "storages"]
    assert uses_gis(settings, app)


def test_gis_through_append_spread_and_branches(tmp_path):
    app = write(tmp_path, {"s.py": (
        "APPS = ['a']\nINSTALLED_APPS = [*APPS, 'b']\n"
        "if DEBUG:\n    INSTALLED_APPS.append('debug_toolbar')\nelse:\n    INSTALLED_APPS.insert(0, 'django.contrib.gis')\n"
        "INSTALLED_APPS.extend(['c'])\n"
    )})
    assert installed_apps(app / "s.py", app) == ["a", "b", "debug_toolbar", "django.contrib.gis", "c"]
    assert uses_gis(app / "s.py", app)


def test_gis_from_engine_or_url(tmp_path):
    app = write(tmp_path, {
        "engine.py": 'INSTALLED_APPS = ["x"]\nDATABASES = {"default": {"ENGINE": "django.contrib.gis.db.backends.postgis"}}\n',
        "url.py": 'import environ\nenv = environ.Env()\nDATABASES = {"default": env.db(default="postgis:///geo")}\n',
        "plain.py": 'INSTALLED_APPS = ["django.contrib.admin"]\nDATABASES = {"default": {"ENGINE": "django.db.backends.mysql"}}\n',
    })
    assert uses_gis(app / "engine.py", app)
    assert uses_gis(app / "url.py", app)
    assert not uses_gis(app / "plain.py", app)


# ---- ASGI ------------------------------------------------------------------------------------------

def test_startproject_asgi_is_ordinary(tmp_path):
    app = write(tmp_path, {
        "mysite/settings.py": 'INSTALLED_APPS = ["django.contrib.admin"]\n',
        "mysite/asgi.py": STARTPROJECT_ASGI.format(module="mysite.settings"),
    })
    values = {"ASGI_APPLICATION": "mysite.asgi.application"}
    assert asgi_info(app, values, app / "mysite/settings.py") is None


def test_channels_project_with_websocket_routing(tmp_path):
    app = write(tmp_path, {
        "chatsite/settings.py": 'INSTALLED_APPS = ["daphne", "django.contrib.admin", "channels", "chat"]\n',
        "chatsite/asgi.py": '''\
import os
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()

from chat.routing import websocket_urlpatterns

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
})
''',
        "chat/routing.py": "websocket_urlpatterns = []\n",
    })
    values = {"ASGI_APPLICATION": "chatsite.asgi.application", "WSGI_APPLICATION": "chatsite.wsgi.application"}
    info = asgi_info(app, values, app / "chatsite/settings.py")
    assert info is not None
    assert info.asgi_file == app / "chatsite/asgi.py"
    assert info.websocket
    text = info.statement
    assert "chatsite/asgi.py serves websockets" in text
    assert "uWSGI runs the WSGI application (chatsite.wsgi.application)" in text
    assert "every HTTP view works" in text
    assert "websocket connections are not served" in text
    assert "Daphne or Uvicorn" in text  # what the user can do


def test_channels_2_routing_module(tmp_path):
    app = write(tmp_path, {
        "proj/settings.py": 'INSTALLED_APPS = ["channels"]\n',
        "proj/asgi.py": (
            "import os\nimport django\nfrom channels.routing import get_default_application\n"
            "django.setup()\napplication = get_default_application()\n"
        ),
        "proj/routing.py": (
            "from channels.routing import ProtocolTypeRouter, URLRouter\nimport chat.routing\n"
            "application = ProtocolTypeRouter({'websocket': URLRouter(chat.routing.websocket_urlpatterns)})\n"
        ),
    })
    info = asgi_info(app, {"ASGI_APPLICATION": "proj.routing.application"}, app / "proj/settings.py")
    assert info.websocket and info.asgi_file == app / "proj/routing.py"


def test_channels_installed_without_websockets(tmp_path):
    app = write(tmp_path, {
        "proj/settings.py": 'INSTALLED_APPS = ["channels"]\n',
        "proj/asgi.py": STARTPROJECT_ASGI.format(module="proj.settings"),
    })
    info = asgi_info(app, {}, app / "proj/settings.py")
    assert info is not None and not info.websocket
    assert "channels in INSTALLED_APPS" in info.statement
    assert "HTTP views work" in info.statement


def test_custom_asgi_without_channels(tmp_path):
    app = write(tmp_path, {
        "proj/settings.py": "INSTALLED_APPS = []\n",
        "proj/asgi.py": STARTPROJECT_ASGI.format(module="proj.settings") + "from starlette.applications import Starlette\napp = Starlette()\n",
    })
    info = asgi_info(app, {}, app / "proj/settings.py")
    assert info is not None and not info.websocket
    assert "nothing proj/asgi.py adds around Django is used" in info.statement


def test_unparsable_settings_name_the_file(tmp_path):
    app = write(tmp_path, {"s.py": "x = (\n"})
    with pytest.raises(DjstackError, match="s.py cannot be parsed"):
        env_reads(app / "s.py", app)


@pytest.mark.parametrize("router, websocket", [
    ('{"http": django_app, "websocket": EchoConsumer.as_asgi()}', True),
    ('{"http": django_app}', False),
])
def test_protocol_router_keys_decide_websocket(tmp_path, router, websocket):
    app = write(tmp_path, {
        "proj/settings.py": 'INSTALLED_APPS = ["channels"]\n',
        "proj/asgi.py": (
            "from channels.routing import ProtocolTypeRouter\nfrom django.core.asgi import get_asgi_application\n"
            "from echo.consumers import EchoConsumer\ndjango_app = get_asgi_application()\n"
            f"application = ProtocolTypeRouter({router})\n"
        ),
    })
    info = asgi_info(app, {}, app / "proj/settings.py")
    assert info is not None and info.websocket is websocket


def test_django_split_settings_components(tmp_path):
    app = write(tmp_path, {
        "server/settings/__init__.py": (
            "from split_settings.tools import include, optional\n"
            "include('components/*.py', optional('environments/local.py'), optional('missing.py'))\n"
        ),
        "server/settings/components/a_common.py": (
            "from decouple import config\nSECRET_KEY = config('DJANGO_SECRET_KEY')\n"
            "INSTALLED_APPS = ['django.contrib.admin']\n"
        ),
        "server/settings/components/b_database.py": (
            "DATABASES = {'default': {'NAME': config('POSTGRES_DB')}}\nINSTALLED_APPS += ['django.contrib.gis']\n"
        ),
        "server/settings/environments/local.py": "DEV_TOKEN = config('DEV_TOKEN')\n",
    })
    settings = app / "server/settings/__init__.py"
    reads = env_reads(settings, app)
    assert [(r.name, r.required) for r in reads] == [
        ("DJANGO_SECRET_KEY", True), ("POSTGRES_DB", True), ("DEV_TOKEN", False)]
    assert reads[1].file == app / "server/settings/components/b_database.py"
    assert reads[2].condition == "optional('server/settings/environments/local.py') exists"
    assert uses_gis(settings, app)
