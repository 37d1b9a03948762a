"""Local base images built from a Debian mirror alone: the `debian` image source.

For hosts that reach no container registry (China, air-gapped networks, our CI hosts), djstack
builds every base image a stack uses from nothing but a Debian mirror:

1. a root filesystem image per Debian suite (`djstack.local/debian:SUITE`, SUITE one of bookworm,
   trixie, forky): `debootstrap --variant=minbase`, slimmed the way the official `debian:*-slim`
   images are, then `docker import`ed (`rootfs.py`; the config files it writes are in
   `rootfs-files/`);
2. service images, each built `FROM` one of those with a Dockerfile shipped in this package
   (`<dir>/Dockerfile`): python and python-build for the Python a project needs (3.11 on
   bookworm, 3.13 on trixie, 3.14 on forky), node for a JavaScript build stage, and mariadb, redis
   and nginx. Each honours the contract of the official image it stands in for, so one set of
   generated project files runs on either image source.

`ensure_images(names)` builds exactly what those names need and is missing (`plan.py` decides,
as a pure function; `mirror.py` finds the mirror and what it serves). Builds take tens of seconds
per step: progress goes to `say` one short line at a time, and the full output of debootstrap and
docker to a log file (`log.py`), named in any error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .. import docker
from ..imagesets import IMAGE_SETS
from .build import build_service
from .log import image_size, new_log
from .mirror import FALLBACK_MIRROR, SuiteSources, check_mirror, default_mirror, security_mirror, suite_sources
from .plan import BuildStep, build_plan, is_local, recipe
from .rootfs import build_rootfs, check_debootstrap

__all__ = [
    "FALLBACK_MIRROR",
    "BuildStep",
    "SuiteSources",
    "build_base_images",
    "build_plan",
    "default_images",
    "default_mirror",
    "ensure_images",
    "missing_base_images",
    "missing_images",
    "recipe",
    "security_mirror",
]


def default_images() -> list[str]:
    """The names of the default `debian` set (IMAGE_SETS["debian"]), in build order."""
    images = IMAGE_SETS["debian"]
    return list(dict.fromkeys([images.python, images.python_build, images.db, images.redis, images.nginx]))


def missing_images(names: Iterable[str]) -> list[str]:
    """The djstack.local names among `names` that the engine lacks (official names are skipped)."""
    return [n for n in dict.fromkeys(names) if is_local(n) and not docker.image_exists(n)]


def ensure_images(
    names: Iterable[str],
    mirror: str | None = None,
    *,
    rebuild: bool = False,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Build the djstack.local images among `names` that are missing (all of them with `rebuild`).

    Also builds what they are built FROM when that is missing: the root filesystem image of their
    suite, the python image under a python-build one. Returns the names built, in build order.
    Nothing to build means no debootstrap, no mirror access and an empty list. Names outside
    djstack.local are ignored; a local name djstack has no recipe for is a DjstackError, raised
    before anything is built. `mirror` defaults to the host's Debian mirror (`default_mirror()`);
    it must serve every suite involved over http(s), and is what apt inside the images uses. A
    root filesystem step needs debootstrap and root. Images already built are kept when a later
    step fails, so a rerun resumes.
    """
    names = list(names)
    if not any(is_local(n) for n in names):
        return []
    docker.require_engine()
    steps = build_plan(names, docker.image_exists, rebuild=rebuild)
    if not steps:
        return []

    mirror = (mirror or default_mirror()).rstrip("/")
    if any(s.is_rootfs for s in steps):
        check_debootstrap()  # fail before anything slow
    suites = list(dict.fromkeys(s.suite for s in steps))
    for suite in suites:
        check_mirror(mirror, suite)
    served = {s.suite: suite_sources(mirror, s.suite) for s in steps if s.is_rootfs}
    log = new_log()
    say(f"Building {len(steps)} image(s) from {mirror}; full output in {log.path}")
    for sources in served.values():
        extra = [x for x, on in ((f"{sources.suite}-updates", sources.updates),
                                 (f"{sources.suite}-security", sources.security)) if on]  # fmt: skip
        log.write(f"{sources.suite}: apt sources {sources.suite} " + " ".join(extra))

    built: list[str] = []
    for step in steps:
        if step.is_rootfs:
            built.append(build_rootfs(mirror, served[step.suite], log, say))
            continue
        started = time.monotonic()
        say(f"building {step.name} ...")
        build_service(step, mirror, log)
        built.append(step.name)
        say(f"  {step.name} built ({time.monotonic() - started:.0f} s, {image_size(step.name)})")
    return built


def missing_base_images() -> list[str]:
    """Names from IMAGE_SETS["debian"] that are not present in the local engine."""
    return missing_images(default_images())


def build_base_images(
    mirror: str | None = None,
    *,
    rebuild: bool = False,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Build the default `debian` set (IMAGE_SETS["debian"]): `ensure_images(default_images())`."""
    return ensure_images(default_images(), mirror, rebuild=rebuild, say=say)

