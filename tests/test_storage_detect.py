"""detect/storage.py: does the project choose its own storage for static files?"""

from __future__ import annotations

from pathlib import Path

import pytest

from djstack.detect.storage import find_static_storage, own_static_storage
from helpers import write_tree as write

WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def settings(tmp_path: Path, text: str, **others: str) -> Path:
    write(tmp_path, {"mysite/__init__.py": "", "mysite/settings.py": text, **others})
    return tmp_path / "mysite" / "settings.py"


def test_startproject_settings_choose_nothing(tmp_path):
    file = settings(tmp_path, 'STATIC_URL = "static/"\nDEBUG = True\n')
    assert own_static_storage(file, tmp_path) is False


def test_literal_storages_with_whitenoise(tmp_path):
    file = settings(tmp_path, 'import os\n\nSTORAGES = {\n    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},\n'
                              f'    "staticfiles": {{"BACKEND": "{WHITENOISE}"}},\n}}\n')
    found = find_static_storage(file, tmp_path)
    assert (found.file, found.line, found.setting, found.backend) == (file.resolve(), 3, "STORAGES", WHITENOISE)


def test_storages_for_uploads_only_is_not_a_static_choice(tmp_path):
    file = settings(tmp_path, 'STORAGES = {"default": {"BACKEND": "storages.backends.s3.S3Storage"}}\n'
                              'STORAGES |= {"default": {"BACKEND": "x.Y"}}\n'
                              'STORAGES["default"]["OPTIONS"] = {"bucket": "b"}\n')
    assert own_static_storage(file, tmp_path) is False


def test_old_staticfiles_storage_setting(tmp_path):
    file = settings(tmp_path, f'STATICFILES_STORAGE = "{WHITENOISE}"\n')
    found = find_static_storage(file, tmp_path)
    assert (found.setting, found.backend, found.line) == ("STATICFILES_STORAGE", WHITENOISE, 1)


@pytest.mark.parametrize("statement", [
    'STORAGES["staticfiles"] = {"BACKEND": "x.Y"}',
    'STORAGES["staticfiles"]["BACKEND"] = "x.Y"',
    'STORAGES.update({"staticfiles": {"BACKEND": "x.Y"}})',
    'STORAGES.setdefault("staticfiles", {"BACKEND": "x.Y"})',
    'STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "x.Y"}}',
])
def test_staticfiles_entry_added_to_storages(tmp_path, statement):
    file = settings(tmp_path, f'STORAGES = {{"default": {{"BACKEND": "a.B"}}}}\n{statement}\n')
    found = find_static_storage(file, tmp_path)
    assert found is not None and found.line == 2


@pytest.mark.parametrize("value", ["env.json('STORAGES')", "make_storages()", '{**BASE, "default": {}}', "{KEY: {}}"])
def test_storages_it_cannot_see_into_count_as_the_projects(tmp_path, value):
    file = settings(tmp_path, f"STORAGES = {value}\n")
    found = find_static_storage(file, tmp_path)
    assert found is not None and found.backend is None


def test_through_star_and_named_imports(tmp_path):
    write(tmp_path, {
        "config/__init__.py": "",
        "config/settings/__init__.py": "",
        "config/settings/base.py": f'STORAGES = {{"staticfiles": {{"BACKEND": "{WHITENOISE}"}}}}\n',
        "config/settings/middle.py": "from .base import *  # noqa\n",
        "config/settings/production.py": "from config.settings.middle import *\nDEBUG = False\n",
        "config/settings/other.py": "from .base import STORAGES\n",
        "config/settings/unrelated.py": "from .base import DEBUG\n",
    })
    folder = tmp_path / "config" / "settings"
    found = find_static_storage(folder / "production.py", tmp_path)
    assert found.file == (folder / "base.py").resolve() and found.backend == WHITENOISE
    assert own_static_storage(folder / "other.py", tmp_path)
    assert not own_static_storage(folder / "unrelated.py", tmp_path)


def test_only_in_one_branch_still_counts(tmp_path):
    file = settings(tmp_path, 'import os\nif os.environ.get("S3"):\n    pass\nelse:\n    try:\n'
                              f'        STATICFILES_STORAGE = "{WHITENOISE}"\n    except ImportError:\n        pass\n')
    assert find_static_storage(file, tmp_path).line == 6


def test_function_bodies_and_other_names_do_not_count(tmp_path):
    file = settings(tmp_path, 'def storages():\n    STORAGES = {"staticfiles": {}}\n    return STORAGES\n'
                              'MY_STORAGES = {"staticfiles": {}}\nstorages = {"staticfiles": {}}\n')
    assert own_static_storage(file, tmp_path) is False


def test_import_cycles_end(tmp_path):
    file = settings(tmp_path, "from .other import *\n", **{"mysite/other.py": "from .settings import *\n"})
    assert own_static_storage(file, tmp_path) is False


def test_django_split_settings_components(tmp_path):
    file = settings(tmp_path, 'from split_settings.tools import include\ninclude("components/*.py")\n', **{
        "mysite/components/base.py": "DEBUG = False\n",
        "mysite/components/static.py": f'STATICFILES_STORAGE = "{WHITENOISE}"\n',
    })
    assert find_static_storage(file, tmp_path).file.name == "static.py"


def test_default_file_storage_counts_as_the_projects_own(tmp_path):
    """Django refuses DEFAULT_FILE_STORAGE beside STORAGES: the overlay must not add one."""
    settings = tmp_path / "mysite" / "settings.py"
    settings.parent.mkdir()
    settings.write_text('DEFAULT_FILE_STORAGE = "storages.backends.s3.S3Storage"\n')
    assert own_static_storage(settings, tmp_path)
