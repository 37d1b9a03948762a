"""Which Debian mirror to build from, and what it serves.

The images' apt sources point at the same mirror the root filesystem came from, so the mirror has
to be reachable over http(s) from containers too. By default it is the host's own mirror, read from
its apt configuration.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DjstackError

FALLBACK_MIRROR = "http://deb.debian.org/debian"

#: Debian code names and archive names; a source whose suite (minus -updates, -security, ...) is
#: one of these is a Debian mirror (Ubuntu's jammy/noble and third-party repositories are not).
_DEBIAN_SUITES = frozenset(
    "buster bullseye bookworm trixie forky duke sid experimental "
    "oldoldstable oldstable stable testing unstable".split()
)


def _suite_is_debian(suite: str) -> bool:
    base = suite.strip().rstrip("/").split("/")[0]
    for suffix in ("-proposed-updates", "-updates", "-backports-sloppy", "-backports", "-security"):
        if base.endswith(suffix):
            if suffix == "-security":
                return False  # the security archive is not the main mirror
            base = base[: -len(suffix)]
            break
    return base in _DEBIAN_SUITES


def _usable_uri(uri: str) -> str | None:
    """The mirror URL without its trailing slash, if containers can use it (http or https)."""
    uri = uri.strip()
    if not re.match(r"^https?://\S+$", uri):
        return None  # file:, cdrom:, mirror+file: ... are not reachable from containers
    return uri.rstrip("/")


def _deb822_mirrors(text: str) -> Iterator[str]:
    """URIs of enabled `Types: deb` stanzas with a Debian suite, from a deb822 .sources file."""
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is not None:  # continuation line of a multi-line field
                fields[last] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip().lower()
            fields[last] = value.strip()
    for st in stanzas:
        if st.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in st.get("types", "").split():
            continue
        if not any(_suite_is_debian(s) for s in st.get("suites", "").split()):
            continue
        if "main" not in st.get("components", "").split():
            continue  # e.g. download.docker.com's "bookworm stable": not the Debian archive
        for uri in st.get("uris", "").split():
            if usable := _usable_uri(uri):
                yield usable


def _one_line_mirrors(text: str) -> Iterator[str]:
    """URIs of `deb` lines with a Debian suite, from a one-line-style sources.list."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)  # drop options: deb [arch=amd64 signed-by=...] URI
        parts = line.split()
        if len(parts) < 4 or parts[0] != "deb" or "main" not in parts[3:]:
            continue
        if _suite_is_debian(parts[2]) and (usable := _usable_uri(parts[1])):
            yield usable


def default_mirror(root: str | os.PathLike[str] = "/") -> str:
    """The host's Debian mirror URL (no trailing slash), else http://deb.debian.org/debian.

    Looks, in this order, at the deb822 files /etc/apt/sources.list.d/*.sources (Debian 12+), at
    /etc/apt/sources.list, then at /etc/apt/sources.list.d/*.list, and takes the first http(s) URI
    of a `deb` entry whose suite is Debian's (bookworm, trixie, stable...; not -security) with the
    `main` component (third-party repositories naming a Debian suite rarely have one). An
    Ubuntu host, or one with no readable apt configuration, gets the fallback. `root` is prefixed
    to those paths (for tests).
    """
    apt = Path(root) / "etc" / "apt"
    candidates: list[tuple[Path, Callable[[str], Iterator[str]]]] = []
    candidates += [(p, _deb822_mirrors) for p in sorted((apt / "sources.list.d").glob("*.sources"))]
    candidates.append((apt / "sources.list", _one_line_mirrors))
    candidates += [(p, _one_line_mirrors) for p in sorted((apt / "sources.list.d").glob("*.list"))]
    for path, parse in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for uri in parse(text):
            return uri
    return FALLBACK_MIRROR


def security_mirror(mirror: str) -> str | None:
    """The debian-security archive next to `mirror`, when the mirror follows Debian's layout."""
    mirror = mirror.rstrip("/")
    return mirror + "-security" if mirror.endswith("/debian") else None


@dataclass(frozen=True)
class SuiteSources:
    """What a mirror serves for one suite, beyond the suite itself."""

    suite: str
    updates: bool  # SUITE-updates on the mirror
    security: str | None  # the debian-security archive serving SUITE-security, if it does


def _release_url(mirror: str, suite: str) -> str:
    return f"{mirror.rstrip('/')}/dists/{suite}/Release"


def _fetch_release(url: str) -> str:
    """The first 4 kB of a Release file; raises urllib's errors."""
    with urllib.request.urlopen(url, timeout=20) as resp:
        return resp.read(4096).decode(errors="replace")


def _serves(mirror: str, suite: str) -> bool:
    try:
        return f"Codename: {suite}" in _fetch_release(_release_url(mirror, suite))
    except (urllib.error.URLError, OSError, ValueError):
        return False


def check_mirror(mirror: str, suite: str) -> None:
    """Fail early, with a clear message, when MIRROR does not serve the suite we need."""
    if not re.match(r"^https?://\S+$", mirror):
        raise DjstackError(
            f"The Debian mirror must be an http(s) URL (containers use it too), not {mirror!r}.",
            "Pass the URL of an http(s) Debian mirror, e.g. http://deb.debian.org/debian.",
        )
    url = _release_url(mirror, suite)
    try:
        head = _fetch_release(url)
    except urllib.error.HTTPError as exc:
        raise DjstackError(
            f"The Debian mirror {mirror} does not serve Debian {suite}: {url} gave HTTP {exc.code}.",
            f"Pass the URL of a Debian mirror (the directory holding dists/{suite}/).",
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DjstackError(
            f"The Debian mirror {mirror} is not reachable: {url} gave {reason}.",
            f"Check the network, or pass a mirror that serves Debian {suite} "
            "(the host's own mirror is the default; see /etc/apt/sources.list.d/).",
        ) from exc
    if f"Codename: {suite}" not in head:
        raise DjstackError(
            f"{url} does not look like the Release file of Debian {suite}.",
            f"Pass the URL of a Debian mirror (the directory holding dists/{suite}/).",
        )


def suite_sources(mirror: str, suite: str, serves: Callable[[str, str], bool] = _serves) -> SuiteSources:
    """Which of SUITE-updates and SUITE-security the mirror serves.

    Asked, not assumed: sid has neither; a testing suite (forky) has them on some mirrors only, and
    an apt source naming a suite the mirror lacks fails every `apt-get update` in the images.
    """
    mirror = mirror.rstrip("/")
    if suite in ("sid", "unstable", "experimental"):
        return SuiteSources(suite, False, None)
    security = security_mirror(mirror)
    return SuiteSources(
        suite,
        updates=serves(mirror, f"{suite}-updates"),
        security=security if security and serves(security, f"{suite}-security") else None,
    )
