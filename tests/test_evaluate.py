"""The one settings evaluator (detect/evaluate.py) and its two policies: web's environment (check)
and the stack's, with lists known in part (build steps)."""

from __future__ import annotations

from types import SimpleNamespace

from djstack.detect.evaluate import LIBRARY_READERS, OS_READERS, UNKNOWN, AtLeast, EnvStr, Environment, Evaluator
from helpers import write_tree as write

SETTINGS = """\
import os
DEBUG = os.environ.get("DJANGO_DEBUG", "True") == "True"
HOST = os.environ["DB_HOST"]
OFFLINE = env.bool("COMPRESS_OFFLINE", default=True)
APPS = load_apps() + ["compressor"]
if FLAG:
    EXTRA = ["debug_toolbar"]
"""


def evaluate(tmp_path, environment, partial=False):
    write(tmp_path, {"s.py": SETTINGS})
    evaluator = Evaluator(tmp_path, environment, partial=partial)
    return evaluator, evaluator.load(tmp_path / "s.py")


def test_a_containers_environment_remembers_where_each_value_is_set(tmp_path):
    env = {"DB_HOST": SimpleNamespace(text="db", file=".env", line=4)}
    evaluator, module = evaluate(tmp_path, Environment.of_container(env))
    host = module.values["HOST"]
    assert host == "db" and isinstance(host, EnvStr) and host.origin == (".env", 4)
    assert module.values["DEBUG"] is True  # unset: the read's default
    assert module.values["OFFLINE"] is UNKNOWN  # django-environ is not one of its readers
    assert module.values["APPS"] is UNKNOWN and module.values["EXTRA"] is UNKNOWN
    assert [(r.var, r.required, r.present) for r in evaluator.reads] == [
        ("DJANGO_DEBUG", False, False), ("DB_HOST", True, True)]


def test_the_stacks_environment_with_lists_known_in_part(tmp_path):
    stack = Environment({"DJANGO_DEBUG": "False"}, {**OS_READERS, **LIBRARY_READERS}, none_is_unknown=False)
    _, module = evaluate(tmp_path, stack, partial=True)
    assert module.values["DEBUG"] is False
    assert module.values["HOST"] is UNKNOWN
    assert module.values["OFFLINE"] is True  # the default, cast to bool
    assert module.values["APPS"] == AtLeast(("compressor",))
    assert module.values["EXTRA"] == AtLeast(("debug_toolbar",))
    assert module.writes["APPS"][-1].source == "load_apps() + ['compressor']"


def test_every_branch_lists_what_any_branch_could_set(tmp_path):
    write(tmp_path, {
        "s.py": (
            "from split_settings.tools import include\n"
            "APPS = ['a']\n"
            "if DEBUG:\n    APPS += ['debug_toolbar']\nelse:\n    APPS = ['b']\n"
            "try:\n    APPS.append('c')\nexcept ImportError:\n    APPS.append('d')\n"
            "include('more.py')\n"
        ),
        "more.py": "APPS += ['e']\n",
    })
    evaluator = Evaluator(tmp_path, Environment({}), every_branch=True)
    module = evaluator.load(tmp_path / "s.py")
    assert module.values["APPS"] == ["a", "debug_toolbar", "b", "c", "d", "e"]
    assert evaluator.files == [tmp_path / "s.py", (tmp_path / "more.py").resolve()]


HELPER_SETTINGS = """\
import os
from django.core.exceptions import ImproperlyConfigured

def envsecret(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the {name} environment variable")
    return value

SECRET_KEY = envsecret("SECRET_KEY", "---")
SENTRY_DSN = envsecret("SENTRY_DSN", default="")
DB_PASSWORD = envsecret("DB_PASSWORD")
"""


def test_a_helper_given_a_default_is_not_a_required_read(tmp_path):
    """A project's own helper that raises only without a default: the calls that pass one are optional
    (issue 13: check said "settings require SECRET_KEY" for `envsecret("SECRET_KEY", "---")`)."""
    write(tmp_path, {"s.py": HELPER_SETTINGS})
    evaluator = Evaluator(tmp_path, Environment.of_container({}))
    evaluator.load(tmp_path / "s.py")
    assert [(r.var, r.required) for r in evaluator.reads] == [
        ("SECRET_KEY", False), ("SENTRY_DSN", False), ("DB_PASSWORD", True)]
