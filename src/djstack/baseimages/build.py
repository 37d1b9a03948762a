"""`docker build` of one service image from a Dockerfile directory shipped in this package."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from ..commands import docker as dc
from ..errors import DjstackError
from .log import BUILD_TIMEOUT, Log, fail
from .plan import BuildStep


def copy_context(directory: str, dest: Path) -> None:
    """Copy a Dockerfile directory out of the package (works for any importlib loader)."""

    def copy(src, dst: Path) -> None:
        dst.mkdir(parents=True, exist_ok=True)
        for entry in src.iterdir():
            if entry.name == "__pycache__":
                continue
            if entry.is_dir():
                copy(entry, dst / entry.name)
            else:
                target = dst / entry.name
                target.write_bytes(entry.read_bytes())
                # Package data loses file modes: scripts are made executable here (the build
                # context's modes are what COPY puts in the image).
                target.chmod(0o755 if entry.name.endswith(".sh") else 0o644)

    src = resources.files(__package__).joinpath(directory)
    if not src.is_dir():
        raise DjstackError(
            f"djstack is incomplete: its Dockerfile directory {directory!r} is missing.",
            "Reinstall djstack.",
        )
    copy(src, dest)


def build_service(step: BuildStep, mirror: str, log: Log) -> None:
    assert step.directory is not None
    with tempfile.TemporaryDirectory(prefix=f"djstack-{step.directory}-") as tmp:
        context = Path(tmp)
        copy_context(step.directory, context)
        command = dc.build_image(step.name, step.base, step.suite, step.build_args, mirror, context, BUILD_TIMEOUT)
        proc = log.run(command)
        if proc.returncode != 0:
            raise fail(
                f"Building {step.name} failed (docker build exit {proc.returncode})",
                proc.stdout + proc.stderr,
                log,
                f"If apt failed, check that containers reach the mirror {mirror}; otherwise see the "
                "log. Then run the command again: images already built are kept.",
            )
