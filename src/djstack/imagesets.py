"""The two image sources a stack can be built from.

One set of project files serves both: the generated Dockerfiles and compose file name their base
images only through variables recorded in `.env`, so switching source changes image names and
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: Local images built by `djstack images` carry this registry-looking prefix. It does not resolve,
#: so a missing local image fails with a clear pull error instead of pulling a stranger's image.
LOCAL_PREFIX = "djstack.local"

DEBIAN_SUITE = "trixie"


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

#: The root filesystem every `debian` image starts from.
DEBIAN_ROOTFS_IMAGE = f"{LOCAL_PREFIX}/debian:{DEBIAN_SUITE}"
