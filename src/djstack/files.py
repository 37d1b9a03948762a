"""Writing files so that a crash or a reader never sees half of one."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(target: Path, content: str, mode: int) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    tmp = target.with_name(f".{target.name}.djstack-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        os.chmod(tmp, mode)  # umask may have narrowed it; secrets stay 0600 either way
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
