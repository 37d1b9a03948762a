"""Where djstack's own files go in a project: one rule, the same for every project.

A project that already has Docker files of its own (a development Dockerfile, a Compose file, a
`.env` its settings read, a `compose/` folder like cookiecutter-django's) keeps them untouched: djstack
then writes its stack into the `djstack/` folder at the project root, where it collides with nothing.
Otherwise the stack sits at the project root, beside manage.py. Once written, a stack is found where
it is: its own compose file carries djstack's mark.
"""

from __future__ import annotations

from pathlib import Path

#: The folder djstack writes into when the project root holds Docker files of its own.
SUBFOLDER = "djstack"
#: Files and folders at the project root that a project's own Docker set-up may hold.
OWN_DOCKER_FILES = ("Dockerfile", "docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml",
                    ".env", ".env.example", "compose")
#: djstack writes one of these phrases into the first lines of every file it owns.
MARKS = ("`djstack init`", "the djstack stack")


def is_djstack_file(path: Path) -> bool:
    """Whether `path` is a file djstack wrote (its first lines name djstack)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = "".join(handle.readline() for _ in range(3))
    except OSError:
        return False
    return any(mark in head for mark in MARKS)


def stack_dir(root: Path) -> str:
    """The folder of the stack's files, relative to the project root: "." or SUBFOLDER."""
    if is_djstack_file(root / "docker-compose.yml"):
        return "."
    if (root / SUBFOLDER / "docker-compose.yml").is_file():
        return SUBFOLDER
    return SUBFOLDER if own_docker_files(root) else "."


def own_docker_files(root: Path) -> list[str]:
    """The project's own Docker files at its root (not djstack's), by name."""
    found = []
    for name in OWN_DOCKER_FILES:
        path = root / name
        if path.is_dir():
            # djstack's own compose/ folder (a stack whose compose file was deleted) is not the project's.
            if not any(is_djstack_file(p) for p in path.glob("*/*") if p.is_file()):
                found.append(name)
        elif path.is_file() and not is_djstack_file(path):
            found.append(name)
    # Compose's other conventional names (docker-compose.local.yml, docker-compose.production.yml…).
    found += sorted(p.name for p in root.glob("docker-compose.*.y*ml") if not is_djstack_file(p))
    return found
