"""The missing system package named from a failed build's log.

The logs under tests/data/buildlogs/ are trimmed copies of real pip runs in
djstack.local/python-build:3.13-trixie (no compiler: the *-no-compiler logs; with build-essential
and pkg-config but without the library's -dev package: the others).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from djstack.buildhints import missing_system_library

LOGS = Path(__file__).parent / "data" / "buildlogs"


@pytest.mark.parametrize("log, package, said", [
    ("psycopg2-no-libpq", "libpq-dev", "pg_config executable not found"),
    ("mysqlclient-no-pkg-config", "pkg-config", "pkg-config: not found"),
    ("mysqlclient-no-headers", "default-libmysqlclient-dev", "pkg-config --exists mysqlclient"),
    ("python-ldap-no-compiler", "build-essential", "x86_64-linux-gnu-gcc"),
    ("python-ldap-no-headers", "libldap-dev", "lber.h: No such file or directory"),
    ("pycairo-no-compiler", "build-essential", "Unknown compiler(s)"),
    ("pycairo-no-cairo", "libcairo2-dev", "dependency cairo found: NO"),
    ("gdal-no-gdal-config", "libgdal-dev", "'gdal-config'"),
    ("cffi-no-ffi-h", "libffi-dev", "ffi.h: No such file or directory"),
    ("lxml-no-libxml2", "libxml2-dev libxslt1-dev", "libxml2 and libxslt development packages"),
    ("xmlsec-no-libxmlsec1", "libxmlsec1-dev", "xmlsec1 is not installed"),
    ("pillow-no-libjpeg", "libjpeg-dev", "could not be found for jpeg"),
    ("cryptography-no-rust", "rustc cargo", "Rust not found"),
])
def test_real_build_logs(log, package, said):
    found = missing_system_library((LOGS / f"{log}.log").read_text())
    assert found is not None
    assert found[0] == package
    assert said in found[1]


@pytest.mark.parametrize("line, package", [
    # BuildKit prefixes every line with the step and the time.
    ("#12 41.2       In file included from src/psycopg/psycopgmodule.c:28:\n"
     "#12 41.2       ./psycopg/psycopg.h:36:10: fatal error: Python.h: No such file or directory", "python3-dev"),
    ("src/lxml/includes/etree_defs.h:14:10: fatal error: libxml/xmlversion.h: No such file or directory", "libxml2-dev"),
    ("Modules/LDAPObject.c:16:10: fatal error: sasl/sasl.h: No such file or directory", "libsasl2-dev"),
    ("cairo/pycairo.h:37:10: fatal error: cairo.h: No such file or directory", "libcairo2-dev"),
    ("/usr/bin/ld: cannot find -lpq: No such file or directory", "libpq-dev"),
    ("/usr/bin/ld: cannot find -lssl", "libssl-dev"),
    ("Package 'libffi', required by 'virtual:world', not found", "libffi-dev"),
    ("Package xmlsec1 was not found in the pkg-config search path.\nNo package 'xmlsec1' found", "libxmlsec1-dev"),
    ("Package gobject-introspection-1.0 was not found in the pkg-config search path.", "libgirepository1.0-dev"),
    ("/bin/sh: 1: mysql_config: not found", "default-libmysqlclient-dev"),
    ("OSError: mysql_config not found", "default-libmysqlclient-dev"),
    ("error: can't find Rust compiler", "rustc cargo"),
    ("unable to execute 'x86_64-linux-gnu-gcc': No such file or directory", "build-essential"),
])
def test_signatures(line, package):
    found = missing_system_library(f"Collecting x\n  Building wheel\n{line}\n  error: subprocess-exited-with-error\n")
    assert found is not None and found[0] == package
    assert found[1] in line


def test_the_specific_cause_wins_over_a_generic_one():
    log = ("ERROR: Unknown compiler(s)\n"  # a generic line seen first...
           "psycopg/psycopg.h:36:10: fatal error: libpq-fe.h: No such file or directory\n")
    assert missing_system_library(log)[0] == "libpq-dev"


@pytest.mark.parametrize("log", [
    "",
    "ERROR: Could not find a version that satisfies the requirement djangoo==9 (from versions: none)",
    "ERROR: ResolutionImpossible: conflicting dependencies",
    "error: subprocess-exited-with-error\nfatal error: myproject_private.h: No such file or directory",
])
def test_no_hint_when_no_system_package_is_missing(log):
    assert missing_system_library(log) is None
