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


class MissingVariables(DjstackError):
    """`.env` lacks values the project's settings need and djstack cannot know."""

    def __init__(self, env_path, variables):
        self.names = tuple(v.name for v in variables)
        listed = "\n".join(f"  {v.name}  (read by {v.where})" for v in variables)
        super().__init__(
            f"{env_path}: the project's settings read {len(self.names)} variable(s) without a default that "
            f"djstack cannot know, and they are empty:\n{listed}",
            f"Fill in {', '.join(self.names)} in {env_path}, then run `djstack up` again.",
        )


class BuildFailed(DjstackError):
    """An image build failed; the message holds the build's last lines."""
