"""The project's background work: its Celery application and its Procfile's other processes.

The dataclasses are the contract model.py builds the worker services from (issue 15); detection
itself (finding them in the project's files) lives here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CeleryApp:
    module: str  # what `celery -A` takes: "mysite", or "config.celery_app"; the module creating Celery(...)
    file: Path  # that module's file (init's report names it)
    namespace: str | None  # config_from_object(..., namespace="CELERY") -> "CELERY"; "" without a
    # namespace; None when the app does not read Django's settings
    beat: str  # "" no periodic work found; "file" a schedule in settings or code; "database" django_celery_beat


@dataclass(frozen=True)
class Process:
    """One Procfile line other than web/release."""

    name: str  # the process type: "worker", "beat", "clock", "rq"
    command: str  # as written
    role: str  # "celery-worker" | "celery-beat" | "other"
