"""Read a failed image build's log for the system package pip was missing.

pip ends a failed source build with its own generic last lines ("subprocess-exited-with-error");
the cause is higher up, in the compiler's or the build script's words. Each signature below is one
of those words, with the Debian package that provides the missing header, tool or library.
"""

from __future__ import annotations

import re

#: Package names as every current Debian suite spells them (-dev packages and tools are stable).
_PKG_CONFIG_MODULES = {
    "mysqlclient": "default-libmysqlclient-dev", "mariadb": "default-libmysqlclient-dev",
    "libmariadb": "default-libmysqlclient-dev", "libpq": "libpq-dev", "libffi": "libffi-dev",
    "libxml-2.0": "libxml2-dev", "libxslt": "libxslt1-dev", "xmlsec1": "libxmlsec1-dev",
    "xmlsec1-openssl": "libxmlsec1-dev", "cairo": "libcairo2-dev", "gobject-introspection-1.0":
    "libgirepository1.0-dev", "girepository-2.0": "libgirepository-2.0-dev", "glib-2.0": "libglib2.0-dev",
    "libjpeg": "libjpeg-dev", "jpeg": "libjpeg-dev", "zlib": "zlib1g-dev", "freetype2": "libfreetype-dev", "openssl": "libssl-dev",
    "libssl": "libssl-dev", "gdal": "libgdal-dev", "geos": "libgeos-dev", "proj": "libproj-dev",
    "libsasl2": "libsasl2-dev", "ldap": "libldap-dev", "lber": "libldap-dev", "libmagic": "libmagic-dev",
    "pango": "libpango1.0-dev", "libwebp": "libwebp-dev", "libtiff-4": "libtiff-dev", "lcms2": "liblcms2-dev",
}
#: Libraries linked with -lNAME.
_LINK_LIBRARIES = {
    "pq": "libpq-dev", "ffi": "libffi-dev", "ssl": "libssl-dev", "crypto": "libssl-dev",
    "xml2": "libxml2-dev", "xslt": "libxslt1-dev", "exslt": "libxslt1-dev", "xmlsec1": "libxmlsec1-dev",
    "ldap": "libldap-dev", "lber": "libldap-dev", "sasl2": "libsasl2-dev", "mysqlclient": "default-libmysqlclient-dev",
    "mariadb": "default-libmysqlclient-dev", "jpeg": "libjpeg-dev", "z": "zlib1g-dev", "cairo": "libcairo2-dev",
    "gdal": "libgdal-dev", "geos_c": "libgeos-dev", "proj": "libproj-dev", "magic": "libmagic-dev",
}
#: Header file (as #included) -> package.
_HEADERS = {
    "Python.h": "python3-dev", "ffi.h": "libffi-dev", "libpq-fe.h": "libpq-dev", "pg_config.h": "libpq-dev",
    "lber.h": "libldap-dev", "ldap.h": "libldap-dev", "sasl/sasl.h": "libsasl2-dev", "sasl.h": "libsasl2-dev",
    "cairo.h": "libcairo2-dev", "mysql.h": "default-libmysqlclient-dev", "openssl/opensslv.h": "libssl-dev",
    "openssl/ssl.h": "libssl-dev", "jpeglib.h": "libjpeg-dev", "zlib.h": "zlib1g-dev", "ft2build.h": "libfreetype-dev",
    "magic.h": "libmagic-dev", "gdal.h": "libgdal-dev", "geos_c.h": "libgeos-dev", "proj.h": "libproj-dev",
    "xmlsec/xmlsec.h": "libxmlsec1-dev", "xmlsec/version.h": "libxmlsec1-dev",
}

# (pattern, package or None to take it from the match, what the log said) in order: the most
# specific first, because one log often shows a specific cause and later a generic one.
_SIGNATURES: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(r"pg_config executable not found"), "libpq-dev"),
    (re.compile(r"""(?:fatal error: |error: )?['"<]?((?:[\w.+-]+/)*[\w.+-]+\.h)['">]?: No such file or directory"""), None),
    (re.compile(r"""(?:fatal error: )?((?:[\w.+-]+/)*[\w.+-]+\.h): No such file"""), None),
    (re.compile(r"""gdal-config['"]?(?::| not found| command not found)|No such file or directory: 'gdal-config'"""), "libgdal-dev"),
    (re.compile(r"mysql_config(?: not found|: not found|'\))"), "default-libmysqlclient-dev"),
    (re.compile(r"xmlsec1-config(?: not found|: not found)|Unable to invoke pkg-config\.?\s*$|"
                r"Could not find xmlsec1 config|xmlsec1 is not installed", re.MULTILINE), "libxmlsec1-dev"),
    (re.compile(r"make sure the libxml2 and libxslt development packages are installed"), "libxml2-dev libxslt1-dev"),
    (re.compile(r"The headers or library files could not be found for ([\w.+-]+)"), None),  # Pillow
    (re.compile(r"""Package '?([\w.+-]+)'?,? (?:required by '[^']*', )?(?:was )?not found"""), None),
    (re.compile(r"""No package '([\w.+-]+)' found"""), None),
    (re.compile(r"""pkg-config --exists ([\w.+-]+)' returned non-zero exit status 1\b"""), None),
    (re.compile(r"""(?:Run-time )?[Dd]ependency "?([\w.+-]+)"? found: NO"""), None),
    (re.compile(r"cannot find -l([\w.+-]+)"), None),
    (re.compile(r"pkg-config: (?:command )?not found|'pkg-config'.*No such file|Did not find pkg-config"), "pkg-config"),
    (re.compile(r"Rust not found|can't find Rust compiler|Unable to find a Rust compiler|rustc.*(?:not found|No such file)|"
                r"error: can't find Rust|cargo (?:rustc )?(?:failed|not found)"), "rustc cargo"),
    (re.compile(r"""No such file or directory: '(?:x86_64|aarch64)-linux-gnu-gcc'|error: command '[\w/.-]*gcc' failed|"""
                r"""Unknown compiler\(s\)|gcc: (?:command )?not found|\bcc: (?:command )?not found|"""
                r"""unable to execute '[\w/.-]*gcc'|No such file or directory: 'cc'"""), "build-essential"),
]


def missing_system_library(build_log: str) -> tuple[str, str] | None:
    """(the Debian package to add, the log line that says it is missing), or None when the log shows
    no missing header, tool or library. Several packages ("rustc cargo") are separated by spaces."""
    for pattern, package in _SIGNATURES:
        for match in pattern.finditer(build_log):
            found = package or _package_for(pattern, match.group(1))
            if found:
                return found, _line_of(build_log, match)
    return None


def _package_for(pattern: re.Pattern[str], name: str) -> str | None:
    if pattern.pattern.startswith("cannot find -l"):
        return _LINK_LIBRARIES.get(name)
    if name.endswith(".h"):
        if name in _HEADERS:
            return _HEADERS[name]
        if name.startswith(("libxml/", "libxml2/")):
            return "libxml2-dev"
        if name.startswith(("libxslt/", "libexslt/")):
            return "libxslt1-dev"
        if name.startswith("xmlsec/"):
            return "libxmlsec1-dev"
        if name.startswith("openssl/"):
            return "libssl-dev"
        if name.startswith("mysql/") or name.startswith("mariadb/"):
            return "default-libmysqlclient-dev"
        if name.startswith("postgresql/"):
            return "libpq-dev"
        if name.startswith("girepository"):
            return "libgirepository-2.0-dev"
        if name.startswith(("glib", "gio/")):
            return "libglib2.0-dev"
        return None
    return _PKG_CONFIG_MODULES.get(name.lower())


def _line_of(text: str, match: re.Match[str]) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start:end if end != -1 else len(text)].strip()
