"""Commands of the docker CLI itself: the engine, images, containers (not a stack's Compose project)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..execute import Command


def docker(*args: str, timeout: float | None = None) -> Command:
    return Command(("docker", *args), timeout=timeout)


def server_version() -> Command:
    return docker("version", "--format", "{{json .Server}}", timeout=30)


def compose_version() -> Command:
    return docker("compose", "version", "--short", timeout=30)


def image_inspect(name: str) -> Command:
    return docker("image", "inspect", name, timeout=60)


def image_size(name: str) -> Command:
    """The image's size in bytes, on stdout."""
    return docker("image", "inspect", "--format", "{{.Size}}", name, timeout=60)


def images(repository: str) -> Command:
    """Every tag of `repository`, one JSON object a line."""
    return docker("image", "ls", "--no-trunc", "--format", "{{json .}}", repository, timeout=60)


def remove_image(reference: str) -> Command:
    return docker("image", "rm", reference, timeout=120)


def inspect(*containers: str) -> Command:
    return docker("inspect", *containers, timeout=60)


def inspect_field(container: str, template: str) -> Command:
    """One value of a container's `docker inspect`, by Go template (e.g. "{{.Image}}")."""
    return docker("inspect", "--format", template, container, timeout=60)


def healthcheck_config(container: str) -> Command:
    return inspect_field(container, "{{json .Config.Healthcheck}}")


def release_label(container: str) -> Command:
    return inspect_field(container, '{{index .Config.Labels "org.djstack.release"}}')


def container_image(container: str) -> Command:
    return inspect_field(container, "{{.Image}}")


def container_logs(container: str, tail: int = 60) -> Command:
    return docker("logs", "--tail", str(tail), container, timeout=60)


def remove_container(container: str, *, force: bool) -> Command:
    return docker("rm", *(["--force"] if force else []), container, timeout=120 if force else 60)


def stop_container(container: str, grace: int) -> Command:
    """A graceful stop: the container's own stop signal, then `grace` seconds before it is killed."""
    return docker("stop", "--time", str(grace), container, timeout=grace + 60)


def exec_in(container: str, argv: Sequence[str], timeout: float = 30) -> Command:
    return docker("exec", container, *argv, timeout=timeout)


def read_from_image(image: str, path: str) -> Command:
    """A file of an image, on stdout, from a throwaway container of it: no capability, no network, nothing
    written."""
    return docker("run", "--rm", "--cap-drop", "ALL", "--network", "none", "--read-only", "--entrypoint", "cat",
                  image, path, timeout=120)


def import_rootfs(tarball: Path, image: str, changes: Sequence[str], message: str, timeout: float) -> Command:
    args = ["import"]
    for change in changes:
        args += ["--change", change]
    return docker(*args, "--message", message, str(tarball), image, timeout=timeout)


def build_image(tag: str, base: str, suite: str, build_args: Sequence[tuple[str, str]], mirror: str,
                context: Path, timeout: float) -> Command:
    """`docker build` of a base image FROM `base` (its BASE_IMAGE build argument), labelled with the
    Debian mirror and suite it was built from."""
    args = ["build", "--build-arg", f"BASE_IMAGE={base}"]
    for key, value in build_args:
        args += ["--build-arg", f"{key}={value}"]
    args += [
        "--label", f"org.djstack.debian.mirror={mirror}",
        "--label", f"org.djstack.debian.suite={suite}",
        "--tag", tag,
    ]  # fmt: skip
    return docker(*args, str(context), timeout=timeout)
