"""What to build for a set of djstack.local image names: a pure function of names and what exists.

Every local image is one of a few recipes, read from its name:

    djstack.local/debian:SUITE               root filesystem (debootstrap), for bookworm/trixie/forky
    djstack.local/python:X.Y-SUITE           python/Dockerfile FROM debian:SUITE (Debian's python3.X)
    djstack.local/python-build:X.Y-SUITE     python-build/Dockerfile FROM python:X.Y-SUITE
    djstack.local/node:MAJOR-SUITE           node/Dockerfile FROM debian:SUITE (Debian's nodejs, npm)
    djstack.local/mariadb:11.8-trixie, redis:8.0-trixie, nginx:1.26-trixie   (IMAGE_SETS["debian"])
    djstack.local/certbot:4.0-trixie         certbot/Dockerfile FROM debian:trixie (--tls acme stacks)

An image is built when it is missing (or with `rebuild`), after the image it is built FROM when
that one has to be built too. A present image is never rebuilt for a missing one built on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import DjstackError
from ..imagesets import (
    DEBIAN_PYTHON_SUITES,
    DEBIAN_SUITES,
    CERTBOT_IMAGES,
    IMAGE_SETS,
    LOCAL_PREFIX,
    rootfs_image,
)

#: Image field of IMAGE_SETS["debian"] -> package directory holding its Dockerfile.
_FIXED_SERVICES: dict[str, str] = {"db": "mariadb", "redis": "redis", "nginx": "nginx"}


@dataclass(frozen=True)
class BuildStep:
    """How to build one local image."""

    name: str
    suite: str
    directory: str | None  # package directory of its Dockerfile; None for a root filesystem
    base: str | None  # the image it is built FROM; None for a root filesystem
    build_args: tuple[tuple[str, str], ...] = ()

    @property
    def is_rootfs(self) -> bool:
        return self.directory is None


def is_local(name: str) -> bool:
    return name.startswith(LOCAL_PREFIX + "/")


def buildable_examples() -> list[str]:
    return [
        rootfs_image(DEBIAN_SUITES[0]),
        *(f"{LOCAL_PREFIX}/python:{v}-{s}" for v, s in DEBIAN_PYTHON_SUITES.items()),
        f"{LOCAL_PREFIX}/node:20-trixie",
        *(getattr(IMAGE_SETS["debian"], f) for f in _FIXED_SERVICES),
        CERTBOT_IMAGES["debian"],
    ]


def recipe(name: str) -> BuildStep:
    """The build step of one djstack.local image; DjstackError for a name djstack cannot build."""

    def unknown(why: str) -> DjstackError:
        return DjstackError(
            f"djstack cannot build the image {name}: {why}.",
            "Local images djstack builds are named like: " + ", ".join(buildable_examples()) + ".",
        )

    if not is_local(name):
        raise unknown(f"only {LOCAL_PREFIX}/ images are built locally")
    for field, directory in _FIXED_SERVICES.items():
        fixed = getattr(IMAGE_SETS["debian"], field)
        if name == fixed:
            suite = fixed.rsplit("-", 1)[1]
            return BuildStep(name, suite, directory, rootfs_image(suite))
    if name == CERTBOT_IMAGES["debian"]:
        suite = name.rsplit("-", 1)[1]
        return BuildStep(name, suite, "certbot", rootfs_image(suite))
    repository, _, tag = name[len(LOCAL_PREFIX) + 1 :].partition(":")
    if repository == "debian":
        if tag not in DEBIAN_SUITES:
            raise unknown(f"no Debian suite {tag!r} (known: {', '.join(DEBIAN_SUITES)})")
        return BuildStep(name, tag, None, None)
    version, _, suite = tag.rpartition("-")
    if suite not in DEBIAN_SUITES or not version:
        raise unknown(f"its tag must be VERSION-SUITE with SUITE one of {', '.join(DEBIAN_SUITES)}")
    if repository in ("python", "python-build"):
        if DEBIAN_PYTHON_SUITES.get(version) != suite:
            offered = ", ".join(f"{v} ({s})" for v, s in DEBIAN_PYTHON_SUITES.items())
            raise unknown(f"Debian {suite} does not ship Python {version}; Debian ships {offered}")
        base = rootfs_image(suite) if repository == "python" else f"{LOCAL_PREFIX}/python:{tag}"
        return BuildStep(name, suite, repository, base, (("PYTHON_VERSION", version),))
    if repository == "node":
        if not version.isdigit():
            raise unknown("a node tag is MAJOR-SUITE, e.g. 20-trixie")
        return BuildStep(name, suite, "node", rootfs_image(suite), (("NODE_MAJOR", version),))
    raise unknown(f"no recipe for {repository!r} images")


def build_plan(
    names: Iterable[str],
    present: Callable[[str], bool],
    *,
    rebuild: bool = False,
) -> list[BuildStep]:
    """The steps that build `names`, in order: each after the image it is built FROM.

    Names outside djstack.local (official images) are ignored: they are pulled, not built.
    Missing images are built, with the missing images they are built FROM; with `rebuild`, every
    named image and everything under it (root filesystem included: fresh security updates).
    """
    steps: dict[str, BuildStep] = {}

    def visit(name: str) -> None:
        if name in steps or not (rebuild or not present(name)):
            return
        step = recipe(name)
        if step.base is not None:
            visit(step.base)
        steps[name] = step

    for name in names:
        if is_local(name):
            visit(name)
    return list(steps.values())
