"""The one exception type commands raise for problems a person can fix."""

from __future__ import annotations


class DjstackError(Exception):
    """A problem with the user's input or host, with what to do about it.

    The CLI prints `message` and `fix` and exits non-zero; nothing else about it is shown, because
    a traceback says nothing useful to someone fixing a config file.
    """

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix
