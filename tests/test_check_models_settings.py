"""check/models/settings.py: the settings web runs as `djstack check` evaluates them (values, where
to fix each, the default database and Redis cache, modules Python cannot parse). Built from its
public `evaluator` and `Settings` on settings files written by the test, with web's environment
given as compose Values. Found by mutation testing (scripts/mutants.sh, second pass)."""

from __future__ import annotations

from pathlib import Path

from helpers import c_locale
from djstack.check.models.compose import Value
from djstack.check.models.settings import UNKNOWN, Settings, SettingsError, evaluator


def settings(tmp_path: Path, text: str, env: dict[str, str] | None = None, name: str = "settings.py") -> Settings:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    values = {k: Value(v, ".env", n) for n, (k, v) in enumerate((env or {}).items(), start=1)}
    reader, parser = evaluator(tmp_path, values, lambda p: "/app/" + p.name)
    found = Settings(reader, path, lambda p: "proj/" + Path(p).name)
    found.parser = parser
    return found


def test_values_and_django_defaults(tmp_path):
    s = settings(tmp_path, "DEBUG = True\nTIME_ZONE = 'Europe/Paris'\n")
    assert s.value("DEBUG") is True
    assert s.value("TIME_ZONE") == "Europe/Paris"
    assert s.value("ALLOWED_HOSTS") == []  # Django's default
    assert s.value("NOT_A_SETTING") is UNKNOWN
    assert s.rel == "proj/settings.py"
    assert s.path == tmp_path / "settings.py"


def test_an_opaque_module_has_no_defaults(tmp_path):
    s = settings(tmp_path, "X = (\n")  # cannot be read, even with its paste fixed
    assert s.module.opaque
    assert s.value("ALLOWED_HOSTS") is UNKNOWN


def test_nested_values_by_key(tmp_path):
    s = settings(tmp_path, "DATABASES = {'default': {'ENGINE': 'x', 'OPTIONS': {'charset': 'utf8'}}}\n")
    assert s.value("DATABASES", "default", "ENGINE") == "x"
    assert s.value("DATABASES", "default", "OPTIONS", "charset") == "utf8"
    assert s.value("DATABASES", "default", "HOST") is UNKNOWN
    assert s.value("DATABASES", "other") is UNKNOWN
    assert s.value("DATABASES", "default", "ENGINE", "x") is UNKNOWN
    assert s.database() == {"ENGINE": "x", "OPTIONS": {"charset": "utf8"}}


def test_no_database_when_it_is_not_a_dict(tmp_path):
    assert settings(tmp_path, "DATABASES = {'default': 'x'}\n").database() is None
    assert settings(tmp_path, "DATABASES = {}\n").database() is None


def test_where_points_at_the_env_line_a_value_came_from(tmp_path):
    s = settings(tmp_path, "import os\nX = 1\nDEBUG = os.environ.get('DEBUG') == '1'\n"
                           "ALLOWED_HOSTS = os.environ['HOSTS'].split(',')\nSECRET = os.environ['SECRET']\n",
                 env={"SECRET": "s", "HOSTS": "a,b"})
    assert s.where("SECRET") == (".env", 1)
    assert s.where("DEBUG") == ("proj/settings.py", 3)  # a bool computed from the environment
    assert s.where("X") == ("proj/settings.py", 2)
    assert s.where("NOWHERE") == ("proj/settings.py", None)
    assert [(r.var, r.line) for r in s.reads] == [("DEBUG", 3), ("HOSTS", 4), ("SECRET", 5)]


def test_where_of_a_value_with_no_env_line_is_where_it_is_written(tmp_path):
    path = tmp_path / "settings.py"
    path.write_text("import os\nSECRET = os.environ['SECRET']\n", encoding="utf-8")
    reader, _ = evaluator(tmp_path, {"SECRET": Value("s", "docker-compose.yml", None)}, lambda p: None)
    assert Settings(reader, path, lambda p: "proj/" + Path(p).name).where("SECRET") == ("proj/settings.py", 2)


def test_written_follows_dict_keys_to_their_line(tmp_path):
    s = settings(tmp_path, "DATABASES = {\n    'default': {\n        'ENGINE': 'x',\n        'HOST': 'db',\n"
                           "        'OPTIONS': {'charset': 'utf8'},\n    },\n}\n"
                           "DATABASES['default']['PORT'] = 3306\n")
    assert s.written("DATABASES") == ("proj/settings.py", 1)
    assert s.written("DATABASES", "default", "HOST") == ("proj/settings.py", 4)
    assert s.written("DATABASES", "default", "PORT") == ("proj/settings.py", 8)
    assert s.written("DATABASES", "default", "NAME") == ("proj/settings.py", 2)
    assert s.written("DATABASES", "default", "OPTIONS", "charset") == ("proj/settings.py", 5)
    assert s.written("DATABASES", "default", "ENGINE", "deeper") == ("proj/settings.py", 3)
    assert s.where("DATABASES", "default", "HOST") == ("proj/settings.py", 4)


def test_written_in_an_imported_module_names_that_module(tmp_path):
    (tmp_path / "base.py").write_text("X = 1\n\nY = 2\n", encoding="utf-8")
    s = settings(tmp_path, "from base import *\nY = 3\n")
    assert s.value("X") == 1
    assert s.written("X") == ("proj/base.py", 1)
    assert s.written("Y") == ("proj/settings.py", 2)


REDIS = "CACHES = {'default': {'BACKEND': 'django_redis.cache.RedisCache', 'LOCATION': %s}}\n"


def test_redis_cache_gives_the_url_and_where_it_is(tmp_path):
    s = settings(tmp_path, REDIS % "'redis://redis:6379/1'")
    parts, where = s.redis_cache()
    assert (parts.hostname, parts.port, parts.path) == ("redis", 6379, "/1")
    assert where == ("proj/settings.py", 1)


def test_redis_cache_takes_the_first_of_a_list_and_any_case_of_backend(tmp_path):
    text = "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.REDIS.RedisCache',\n" \
           "  'LOCATION': ['redis://a:1', 'redis://b:2']}}\n"
    parts, _ = settings(tmp_path, text).redis_cache()
    assert (parts.hostname, parts.port) == ("a", 1)


def test_redis_cache_none_when_it_is_not_redis_at_a_url(tmp_path):
    nothing = (None, None)
    assert settings(tmp_path, "X = 1\n").redis_cache() == nothing
    assert settings(tmp_path, "CACHES = {'default': {'BACKEND': 'locmem', 'LOCATION': 'redis://a'}}\n").redis_cache() == nothing
    assert settings(tmp_path, "CACHES = {'default': {'LOCATION': 'redis://a'}}\n").redis_cache() == nothing
    assert settings(tmp_path, REDIS % "'/run/redis.sock'").redis_cache() == nothing
    assert settings(tmp_path, REDIS % "[]").redis_cache() == nothing
    assert settings(tmp_path, REDIS % "3").redis_cache() == nothing
    assert settings(tmp_path, REDIS % "'redis://redis:notaport/1'").redis_cache() == nothing
    assert settings(tmp_path, "CACHES = {'default': 'redis'}\n").redis_cache() == nothing


def test_a_module_python_cannot_parse_is_an_error_and_read_with_its_paste_fixed(tmp_path):
    s = settings(tmp_path, "DEBUG = True\nX\u00a0= 1\n")
    [error] = s.parser.errors
    assert isinstance(error, SettingsError)
    assert (error.file, error.line) == (tmp_path / "settings.py", 2)
    assert error.message == str(error) and "invalid" in error.message
    assert s.value("X") == 1 and s.value("DEBUG") is True


def test_a_module_not_parseable_even_fixed_keeps_the_error(tmp_path):
    s = settings(tmp_path, "DEBUG = True\nX = (\n")
    [error] = s.parser.errors
    assert error.line == 2
    assert s.module.opaque and s.value("DEBUG") is UNKNOWN


def test_a_byte_order_mark_is_skipped_as_python_skips_it(tmp_path):
    s = settings(tmp_path, "\ufeffDEBUG = True\n")
    assert s.parser.errors == []
    assert s.value("DEBUG") is True


def test_a_module_that_is_not_utf8_is_an_error(tmp_path):
    path = tmp_path / "settings.py"
    path.write_bytes(b"X = 'caf\xe9'\n")
    reader, parser = evaluator(tmp_path, {}, lambda p: None)
    Settings(reader, path, str)
    [error] = parser.errors
    assert (error.file, error.line, error.message) == (path, None, "not UTF-8 text")


def test_settings_are_read_as_utf8_under_any_locale(tmp_path):
    """Non-ASCII text in the settings reads the same when djstack runs under the C locale (ASCII)."""
    with c_locale():
        s = settings(tmp_path, "GREETING = 'grüße'\n")
    assert s.parser.errors == []
    assert s.value("GREETING") == "grüße"
