"""Detection on the project shapes people have."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from djstack.detect import detect
from djstack.errors import DjstackError
from helpers import write_tree as write

MANAGE = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "{module}")\n'




def test_example_project(example_copy):
    project = detect(example_copy)
    assert project.root == example_copy.resolve()
    assert project.app_dir == PurePosixPath(".")
    assert project.settings_module == "mysite.settings"
    assert (project.wsgi_module, project.wsgi_callable) == ("mysite.wsgi", "application")
    assert project.dependencies.kind == "requirements"
    assert project.dependencies.files == (PurePosixPath("requirements.txt"),)
    assert project.dependencies.mentions_django
    assert (project.static_url, project.media_url) == ("static/", "media/")
    assert project.overlay_module == "mysite.settings_docker"


def test_settings_package_with_star_import_chain(tmp_path):
    write(tmp_path, {
        "manage.py": MANAGE.format(module="config.settings.production"),
        "config/__init__.py": "",
        "config/wsgi.py": "application = None\n",
        "config/settings/__init__.py": "",
        "config/settings/base.py": 'WSGI_APPLICATION = "config.wsgi.application"\nSTATIC_URL = "/assets/"\n',
        "config/settings/production.py": 'from .base import *\nMEDIA_URL = "/uploads/"\n',
        "requirements/production.txt": "-r base.txt\ngunicorn\n",
        "requirements/base.txt": "Django==5.2.1\n",
    })
    project = detect(tmp_path)
    assert project.settings_module == "config.settings.production"
    assert project.settings_file == tmp_path.resolve() / "config/settings/production.py"
    assert project.wsgi_module == "config.wsgi"
    assert (project.static_url, project.media_url) == ("/assets/", "/uploads/")
    assert project.dependencies.files == (PurePosixPath("requirements/production.txt"), PurePosixPath("requirements/base.txt"))
    assert project.dependencies.mentions_django
    # The overlay sits beside the settings module it imports.
    assert project.overlay_module == "config.settings.settings_docker"
    assert project.overlay_file == PurePosixPath("config/settings/settings_docker.py")


def test_pyproject_dependencies(tmp_path):
    write(tmp_path, {
        "manage.py": MANAGE.format(module="shop.settings"),
        "shop/settings.py": "DEBUG = True\n",
        "shop/wsgi.py": "application = None\n",
        "pyproject.toml": '[project]\nname = "shop"\nversion = "1"\ndependencies = ["django>=5.2", "pillow"]\n',
    })
    project = detect(tmp_path)
    assert project.dependencies.kind == "pyproject"
    assert project.dependencies.mentions_django
    # No WSGI_APPLICATION literal: the startproject layout is assumed and checked.
    assert project.wsgi_module == "shop.wsgi"


def test_nested_project_folder(tmp_path):
    write(tmp_path, {
        "requirements.txt": "django\n",
        "README.md": "a repository with the Django project one level down\n",
        "src/manage.py": MANAGE.format(module="site_conf.settings"),
        "src/site_conf/settings.py": 'WSGI_APPLICATION = "site_conf.wsgi.application"\n',
        "src/site_conf/wsgi.py": "application = None\n",
    })
    project = detect(tmp_path)
    assert project.root == tmp_path.resolve()  # where the requirements are: the build context
    assert project.app_dir == PurePosixPath("src")
    assert project.overlay_file == PurePosixPath("src/site_conf/settings_docker.py")


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"setup.py": "print('not django')\n"}, "is not a Django project: no manage.py"),
        ({"manage.py": "print('no settings')\n"}, "does not set DJANGO_SETTINGS_MODULE"),
        ({"manage.py": MANAGE.format(module="gone.settings"), "requirements.txt": "django\n"},
         "there is no such module"),
        ({"manage.py": MANAGE.format(module="p.settings"), "p/settings.py": "", "p/wsgi.py": ""},
         "No dependency list found"),
        ({"manage.py": MANAGE.format(module="p.settings"), "p/settings.py": 'WSGI_APPLICATION = "p.nope.app"\n',
          "requirements.txt": "django\n"}, "module 'p.nope' does not exist"),
        ({"manage.py": MANAGE.format(module="p.settings"), "p/settings.py": "x = (", "requirements.txt": ""},
         "cannot be parsed"),
        ({"a/manage.py": MANAGE.format(module="a.s"), "b/manage.py": MANAGE.format(module="b.s")},
         "holds several Django projects"),
    ],
)
def test_not_a_usable_project(tmp_path, files, expected):
    write(tmp_path, files)
    with pytest.raises(DjstackError, match=expected):
        detect(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(DjstackError, match="is not a folder"):
        detect(tmp_path / "nope")
