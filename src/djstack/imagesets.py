"""The two image sources a stack can be built from.

One set of project files serves both: the generated Dockerfiles and compose file name their base
images only through variables recorded in `.env`, so switching source changes image names and
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .errors import DjstackError

#: Local images built by `djstack images` carry this registry-looking prefix. It does not resolve,
#: so a missing local image fails with a clear pull error instead of pulling a stranger's image.
LOCAL_PREFIX = "djstack.local"

DEBIAN_SUITE = "trixie"  # the suite of the default images (db, redis, nginx, python 3.13, node)

#: What the web image runs when the project asks for nothing (and what IMAGE_SETS holds).
DEFAULT_PYTHON = "3.13"

#: The Python series each source offers. Official: every CPython still supported upstream (the
#: official library builds a slim trixie variant of each). Debian: the one each suite ships.
PYTHONS: dict[str, tuple[str, ...]] = {
    "official": ("3.10", "3.11", "3.12", "3.13", "3.14"),
    "debian": ("3.11", "3.13", "3.14"),
}

#: Debian suite whose python3.X package a `debian` python image is built from. Python 3.10 and
#: 3.12 are in no current suite. (Images of one web image come from one suite: glibc.)
DEBIAN_PYTHON_SUITES: dict[str, str] = {"3.11": "bookworm", "3.13": "trixie", "3.14": "forky"}

#: Suites a djstack.local image can be built from (each gets its own root filesystem image).
DEBIAN_SUITES: tuple[str, ...] = ("bookworm", "trixie", "forky")

#: Node.js for a JavaScript build stage: the official LTS image, or Debian trixie's nodejs + npm.
NODE_IMAGES: dict[str, str] = {
    "official": "node:22-trixie-slim",
    "debian": f"{LOCAL_PREFIX}/node:20-{DEBIAN_SUITE}",
}

#: certbot for --tls acme: the official image (Alpine), or Debian trixie's certbot package. Both 4.0.
CERTBOT_IMAGES: dict[str, str] = {
    "official": "certbot/certbot:v4.0.0",
    "debian": f"{LOCAL_PREFIX}/certbot:4.0-{DEBIAN_SUITE}",
}


@dataclass(frozen=True)
class ImageSet:
    """Image names for every base image a stack uses."""

    python: str  # runtime stage of the web image
    python_build: str  # build stage of the web image: same Python, plus headers for C extensions
    db: str  # MySQL-compatible server
    redis: str
    nginx: str

    def env(self) -> dict[str, str]:
        """The `.env` variables that carry these names into the compose file."""
        return {f"{f.name.upper()}_IMAGE": getattr(self, f.name) for f in fields(self)}


IMAGE_SETS: dict[str, ImageSet] = {
    # Official images, pinned to a series, for hosts that reach Docker Hub.
    "official": ImageSet(
        python="python:3.13-slim-trixie",
        python_build="python:3.13-slim-trixie",
        db="mysql:8.4",
        redis="redis:8.0",
        nginx="nginx:1.28",
    ),
    # Built locally from a Debian mirror by `djstack images` (debootstrap, no registry needed).
    "debian": ImageSet(
        python=f"{LOCAL_PREFIX}/python:3.13-{DEBIAN_SUITE}",
        python_build=f"{LOCAL_PREFIX}/python-build:3.13-{DEBIAN_SUITE}",
        db=f"{LOCAL_PREFIX}/mariadb:11.8-{DEBIAN_SUITE}",
        redis=f"{LOCAL_PREFIX}/redis:8.0-{DEBIAN_SUITE}",
        nginx=f"{LOCAL_PREFIX}/nginx:1.26-{DEBIAN_SUITE}",
    ),
}

#: The root filesystem every default `debian` image starts from.
DEBIAN_ROOTFS_IMAGE = f"{LOCAL_PREFIX}/debian:{DEBIAN_SUITE}"


def rootfs_image(suite: str) -> str:
    """The root filesystem image of a Debian suite: djstack.local/debian:SUITE."""
    return f"{LOCAL_PREFIX}/debian:{suite}"


def _check_source(source: str) -> None:
    if source not in IMAGE_SETS:
        raise DjstackError(
            f"Unknown image source {source!r}.",
            f"Use one of: {', '.join(IMAGE_SETS)}.",
        )


def python_images(source: str, python: str) -> tuple[str, str]:
    """(runtime, build) image names of Python `python` ("3.12") from `source`."""
    _check_source(source)
    if python not in PYTHONS[source]:
        hint = " (or --images official, which has every supported CPython)" if source == "debian" else ""
        raise DjstackError(
            f"The {source} images have no Python {python}; they offer {', '.join(PYTHONS[source])}.",
            f"Pass --python with one of them{hint}.",
        )
    if source == "official":
        # The official image carries its own headers: one image serves both stages.
        name = f"python:{python}-slim-trixie"
        return name, name
    suite = DEBIAN_PYTHON_SUITES[python]
    return f"{LOCAL_PREFIX}/python:{python}-{suite}", f"{LOCAL_PREFIX}/python-build:{python}-{suite}"


def image_set(source: str, python: str = DEFAULT_PYTHON) -> ImageSet:
    """The images of a stack running Python `python`: python/python_build for it, the rest as ever."""
    runtime, build = python_images(source, python)
    return replace(IMAGE_SETS[source], python=runtime, python_build=build)


def node_image(source: str) -> str:
    """The image of a JavaScript build stage (node and npm on PATH)."""
    _check_source(source)
    return NODE_IMAGES[source]


def certbot_image(source: str) -> str:
    """The certbot service's image (--tls acme only)."""
    _check_source(source)
    return CERTBOT_IMAGES[source]


def image_suite(name: str) -> str | None:
    """The Debian suite an image is built from, read from its tag, or None when the tag names none.

    djstack.local/python:3.11-bookworm -> "bookworm", djstack.local/debian:forky -> "forky";
    official images whose tag names a suite too: python:3.12-slim-trixie -> "trixie",
    node:22-trixie-slim -> "trixie". mysql:8.4 -> None. For runtime apt package names.
    """
    repository, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return None  # no tag (or a registry port, e.g. host:5000/x)
    known = set(DEBIAN_SUITES) | {"bullseye", "duke", "sid"}
    for word in tag.split("-"):
        if word in known:
            return word
    return None
