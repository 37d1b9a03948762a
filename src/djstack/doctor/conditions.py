"""What must hold for a finding, and what rules it out: a finding the evidence contradicts is dropped
(a `djstack check` reading of the files too, when web's log disproves it), and a more specific
finding replaces the general one it explains."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..model import Stack
from .confinement import host_disk_ruled_out
from .evidence import WEB, Evidence
from .facts import Container, Facts
from .finding import Finding
from .signatures import signature

#: Findings that say web cannot start (load its app): uWSGI reporting the app loaded in web's current
#: run contradicts them.
WEB_CANNOT_START = {"web-app-not-loaded", "settings-module-not-found", "missing-dependency",
                    "migrations-conflict", "crash-exception", "migration-failed", "uwsgi-config-invalid"}
#: djstack check's readings of the files that mean web's settings cannot be imported. check reads the
#: files, not the running code (a project's own env helper with a default reads as a variable that
#: must be set): web's log showing the settings imported contradicts them.
CHECK_SETTINGS_FAIL = {"settings-env-not-set", "settings-module-missing"}
#: Findings that say the host's disk is full: contradicted when every errno 28 of the logs they read
#: that names its path names one on a tmpfs (memory: confinement's `<service>-tmpfs-full` says it).
HOST_DISK_FULL = ("db-disk-full",)

#: Findings that a service's name does not resolve → that service (the model's key).
UNRESOLVED_NAME_OF = {"db-name-unresolved": "db", "nginx-upstream-unresolved": "web", "broker-unreachable": "broker"}

#: A specific finding → the general ones it explains (their evidence joins it, and their rank when deeper).
SUPERSEDES = {
    # check names the line that sets DJANGO_SETTINGS_MODULE; web's traceback confirms it.
    "settings-module-missing": ("settings-module-not-found",),
    "settings-module-not-found": ("web-app-not-loaded",),
    "missing-dependency": ("web-app-not-loaded",),
    "db-name-unresolved": ("db-unreachable",),
    "static-missing": ("static-file-missing",),
    # beat's liveness check failing is what beat-not-scheduling reads.
    "beat-not-scheduling": ("beat-unhealthy",),
}


def app_loaded(evidence: Evidence) -> bool:
    """uWSGI said it loaded the WSGI app in web's current run."""
    return evidence.has("uwsgi-app-loaded", source=WEB, current=True)


def settings_imported(evidence: Evidence) -> bool:
    """web's container imported its settings in some run: uWSGI loaded the app, migrate planned, or
    Django opened a database connection. (Its runs share one environment: a restart keeps it.)"""
    return evidence.has("uwsgi-app-loaded", "django-settings-loaded", source=WEB)


def hold(stack: Stack, found: list[Finding], evidence: Evidence, facts: Facts,
         names: Mapping[str, str]) -> list[Finding]:
    """`found` without what the evidence rules out, each general finding folded into its specific one."""
    loaded = app_loaded(evidence)
    on_tmpfs = {i for i in HOST_DISK_FULL if host_disk_ruled_out(stack, evidence, signature(i).services)}
    kept = []
    for f in found:
        if (loaded and f.id in WEB_CANNOT_START) or f.id in on_tmpfs:
            continue
        # An unresolved name while its container is down or restarting is that container's own
        # failure (its findings say it), not the network: Docker's DNS drops a container's name
        # while it is not running.
        owner = names.get(UNRESOLVED_NAME_OF.get(f.id, ""), "")
        if f.id in UNRESOLVED_NAME_OF and not _settled_up(facts.containers.get(owner)):
            continue
        if f.id == "uwsgi-worker-killed" and _harakiri_killed(evidence):
            continue
        kept.append(f)
    if settings_imported(evidence):
        # A reading the running code disproves is no finding: shown, it would send the user to
        # change a value that is right.
        kept = [f for f in kept if f.id not in CHECK_SETTINGS_FAIL]
    return _fold(kept)


def _settled_up(c: Container | None) -> bool:
    """Running, and healthy (or, without a healthcheck, never restarted)."""
    return c is not None and c.up and (c.health == "healthy" or (c.health == "" and c.restarts == 0))


def _harakiri_killed(evidence: Evidence) -> bool:
    """Every worker killed by a signal is one harakiri killed (uWSGI logs both)."""
    harakiri = {f.code for f in evidence.of("uwsgi-harakiri", source=WEB)}  # the worker's number
    return all(f.subject in harakiri for f in evidence.of("uwsgi-worker-killed", source=WEB))


def _fold(found: list[Finding]) -> list[Finding]:
    # Copies: a folded finding changes, and one from Facts.check must stay as gathered.
    found = [replace(f, evidence=list(f.evidence)) for f in found]
    present = {f.id: f for f in found}

    def superseder(f: Finding) -> Finding | None:
        by = None
        while True:  # the most specific one present: settings-module-missing over -not-found over …
            nxt = next((present[s] for s, general in SUPERSEDES.items()
                        if (by or f).id in general and s in present), None)
            if nxt is None:
                return by
            by = nxt

    folded = []
    for f in found:
        by = superseder(f)
        if by is None:
            folded.append(f)
        else:
            by.rank = min(by.rank, f.rank)
            by.evidence += [line for line in f.evidence if line not in by.evidence]
    return folded
