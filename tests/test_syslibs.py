"""The system-library table, the apt-packages.txt file made from it, and the shell lines that read it."""

from __future__ import annotations

import subprocess

import jinja2
import pytest

from djstack.detect.syslibs import COMPILERS, GEODJANGO, SystemPackage, suites, system_packages, table
from djstack.errors import DjstackError

# The Dockerfile's way to list one section's packages (given to the integrator for Dockerfile.j2):
# the lines between `[build]` and the next `[...]`, comments removed.
SECTION = "sed -n '/^\\[{0}\\]/,/^\\[/{{/^\\[/d;s/#.*//;p;}}' \"$1\""


def names(packages, stage=None, from_source=False):
    return [p.name for p in packages if (stage is None or p.stage == stage) and p.from_source == from_source]


def test_psycopg_extras_decide_libpq():
    assert names(system_packages([("psycopg", "requirements.txt")], "trixie")) == ["libpq5"]
    assert names(system_packages([("psycopg[binary]", "requirements.txt")], "trixie")) == []
    c = system_packages([("psycopg[c,pool]>=3.2", "requirements.txt")], "trixie")
    assert names(c, "build") == ["build-essential", "pkg-config", "libpq-dev"]
    assert names(c, "runtime") == ["libpq5"]
    assert c[0].wanted_by == "psycopg[c,pool] (requirements.txt)"
    # A lock lists the extra's distribution by itself.
    locked = system_packages([("psycopg", "uv.lock"), ("psycopg-binary", "uv.lock")], "trixie")
    assert locked == []


def test_stack_needs_and_dedup_name_the_first_asker():
    packages = system_packages([
        (COMPILERS, "djstack"),
        ("psycopg2==2.9.9", "requirements/base.txt"),
        ("mysqlclient", "compose/web/requirements-stack.txt"),
    ], "trixie")
    assert packages == [
        SystemPackage("build-essential", "build", "compilers (djstack)"),
        SystemPackage("pkg-config", "build", "compilers (djstack)"),
        SystemPackage("libpq-dev", "build", "psycopg2 (requirements/base.txt)"),
        SystemPackage("default-libmysqlclient-dev", "build", "mysqlclient (compose/web/requirements-stack.txt)"),
        SystemPackage("libpq5", "runtime", "psycopg2 (requirements/base.txt)"),
        SystemPackage("libmariadb3", "runtime", "mysqlclient (compose/web/requirements-stack.txt)"),
    ]


def test_wheels_first_distributions_are_from_source_only_until_something_needs_them_always():
    pillow = system_packages([("Pillow", "requirements.txt")], "trixie")
    assert pillow and all(p.from_source for p in pillow)
    both = system_packages([("Pillow", "requirements.txt"), ("mysqlclient", "stack")], "trixie")
    compilers = [p for p in both if p.name == "build-essential"]
    assert compilers == [SystemPackage("build-essential", "build", "Pillow (requirements.txt)", False)]


@pytest.mark.parametrize("suite, expected", [
    ("bookworm", ["libgdal32", "libgeos-c1v5", "libproj25"]),
    ("trixie", ["libgdal36", "libgeos-c1t64", "libproj25"]),
    ("forky", ["libgdal39", "libgeos-c1t64", "libproj25"]),
])
def test_runtime_names_per_suite(suite, expected):
    assert names(system_packages([(GEODJANGO, "INSTALLED_APPS")], suite), "runtime") == expected


def test_suite_specific_names_for_ldap_and_magic():
    assert "libldap-2.5-0" in names(system_packages([("python-ldap", "r")], "bookworm"))
    assert "libldap2" in names(system_packages([("python-ldap", "r")], "trixie"))
    assert names(system_packages([("python-magic", "r")], "bookworm")) == ["libmagic1"]
    assert names(system_packages([("python-magic", "r")], "trixie")) == ["libmagic1t64"]


def test_every_distribution_the_issue_names_is_in_the_table():
    for name in ["psycopg2", "psycopg2-binary", "psycopg-c", "mysqlclient", "python-ldap", "lxml", "xmlsec",
                 "pillow", "cffi", "cryptography", "pycairo", "pygobject", "gdal", "weasyprint", "python-magic"]:
        assert system_packages([(name, "r")], "trixie"), name
    assert "rustc" in [p.name for p in system_packages([("cryptography", "r")], "trixie")]
    assert "libpango-1.0-0" in names(system_packages([("WeasyPrint", "r")], "trixie"))


def test_table_is_consistent():
    data = table()
    for key, entry in [*data["distributions"].items(), *data["features"].items()]:
        assert set(entry) <= {"build", "runtime", "from_source", "extras", "unless"}, key
        for name in [*entry.get("build", []), *entry.get("runtime", [])]:
            if name.startswith("@"):
                assert name[1:] in data["features"], (key, name)
    assert set(suites()) == {"bookworm", "trixie", "forky"}


def test_unknown_names_need_nothing_and_unknown_suites_are_refused():
    assert system_packages([("django", "r"), ("-e git+https://x/y", "r")], "trixie") == []
    with pytest.raises(DjstackError, match="'buster'") as error:
        system_packages([], "buster")
    assert "bookworm" in error.value.fix


def render(packages, suite="trixie"):
    env = jinja2.Environment(loader=jinja2.PackageLoader("djstack", "templates"), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("compose/web/apt-packages.txt.j2").render(packages=packages, suite=suite)


def section(tmp_path, text, name):
    path = tmp_path / "apt-packages.txt"
    path.write_text(text)
    out = subprocess.run(["sh", "-c", SECTION.format(name), "sh", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_apt_packages_file_and_the_dockerfile_snippets(tmp_path):
    packages = system_packages([(COMPILERS, "djstack"), ("psycopg2", "requirements.txt"),
                                ("Pillow", "requirements.txt"), ("mysqlclient", "requirements-stack.txt")], "trixie")
    text = render(packages)
    assert "libpq-dev                     # psycopg2 (requirements.txt)\n" in text
    assert "# libjpeg62-turbo-dev         # Pillow (requirements.txt): only when built from source\n" in text
    assert "keeps your edits" in text
    assert section(tmp_path, text, "build") == ["build-essential", "pkg-config", "libpq-dev", "default-libmysqlclient-dev"]
    assert section(tmp_path, text, "runtime") == ["libpq5", "libmariadb3"]
    # A person's edits: an uncommented suggestion, an added line, a removed one, odd spacing.
    edited = (text.replace("# libjpeg62-turbo-dev ", "libjpeg62-turbo-dev ")
                  .replace("libmariadb3", "libmariadb3\n   gettext   # mine\n\n"))
    assert section(tmp_path, edited, "build") == ["build-essential", "pkg-config", "libpq-dev",
                                                  "libjpeg62-turbo-dev", "default-libmysqlclient-dev"]
    assert section(tmp_path, edited, "runtime") == ["libpq5", "libmariadb3", "gettext"]


def test_empty_sections_give_nothing(tmp_path):
    text = render([])
    assert section(tmp_path, text, "build") == []
    assert section(tmp_path, text, "runtime") == []
