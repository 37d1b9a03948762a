"""The web image and how its container runs: the Dockerfile, the entrypoint script, and the
mapping between paths in a container and files in the project (bind mounts and COPY/ADD).

Dockerfiles and shell scripts are read with `shlex` word splitting, one command at a time, so
comments and quoted text never count as commands.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .compose import Service, Value
from .paste import readable

_DVAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
#: Separators between commands on one shell line.
_SEPARATORS = {";", "&&", "||", "|", "&", ";;", "(", ")"}


@dataclass
class Instruction:
    keyword: str
    text: str  # arguments, continuation lines joined
    line: int  # first line
    physical: list[tuple[int, str]]  # (line, text) of every line it spans


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Instructions grouped by build stage (a FROM starts one)."""
    stages: list[list[Instruction]] = [[]]
    pending: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if pending and raw.lstrip().startswith("#"):
            continue  # comment lines inside a continuation are dropped
        pending.append((number, raw))
        if raw.rstrip().endswith("\\"):
            continue
        joined = " ".join(part.rstrip().removesuffix("\\").strip() for _, part in pending)
        keyword, _, rest = joined.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip(), pending[0][0], pending)
        if instruction.keyword == "FROM":
            stages.append([])
        stages[-1].append(instruction)
        pending = []
    return stages


def substitute(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(4)
        value = env.get(name, "")
        if match.group(2) == "-":
            return value or match.group(3)
        if match.group(2) == "+":
            return match.group(3) if value else ""
        return value

    return _DVAR.sub(one, text)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _exec_form(text: str) -> list[str] | None:
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return [str(v) for v in value] if isinstance(value, list) else None
    return None


@dataclass
class Image:
    """The final stage of a Dockerfile: what the running container starts from."""

    dockerfile: Path
    context: Path
    stages: list[list[Instruction]]
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    copies: list[tuple[str, Path]] = field(default_factory=list)  # (container path, host path)
    entrypoint: tuple[list[str], bool, int] | None = None  # (argv, shell form, line)
    cmd: tuple[list[str], bool, int] | None = None

    @classmethod
    def read(cls, dockerfile: Path, context: Path) -> Image | None:
        if not dockerfile.is_file():
            return None
        image = cls(dockerfile, context, parse_dockerfile(readable(dockerfile, "dockerfile")))
        for ins in image.stages[-1]:
            image._apply(ins)
        return image

    def _apply(self, ins: Instruction) -> None:
        text = substitute(ins.text, self.env) if ins.keyword not in ("RUN", "CMD", "ENTRYPOINT") else ins.text
        if ins.keyword == "ENV":
            words = _words(text)
            if words and "=" in words[0]:
                self.env.update(w.split("=", 1) for w in words if "=" in w)
            elif words:
                self.env[words[0]] = " ".join(words[1:])
        elif ins.keyword == "ARG":
            name, _, default = text.partition("=")
            self.env.setdefault(name.strip(), default.strip().strip("\"'"))
        elif ins.keyword == "WORKDIR":
            self.workdir = posixpath.join(self.workdir, text.strip())
        elif ins.keyword in ("COPY", "ADD"):
            self._copy(text)
        elif ins.keyword in ("ENTRYPOINT", "CMD"):
            argv = _exec_form(text)
            entry = (argv, False, ins.line) if argv is not None else (["/bin/sh", "-c", text], True, ins.line)
            if ins.keyword == "ENTRYPOINT":
                self.entrypoint = entry
            else:
                self.cmd = entry

    def _copy(self, text: str) -> None:
        words = _exec_form(text) or _words(text)
        if any(w.startswith("--from") for w in words):
            return
        args = [w for w in words if not w.startswith("--")]
        if len(args) < 2:
            return
        *sources, dest = args
        dest = posixpath.join(self.workdir, dest)
        for source in sources:
            host = (self.context / source).resolve()
            if host.is_dir() or len(sources) > 1 or dest.endswith("/"):
                target = dest if host.is_dir() else posixpath.join(dest, host.name)
            else:
                target = dest
            self.copies.append((posixpath.normpath(target), host))

    def instructions(self, keyword: str) -> list[Instruction]:
        return [ins for ins in self.stages[-1] if ins.keyword == keyword]


class Runtime:
    """A compose service as it runs: its Dockerfile's final stage with compose's overrides."""

    def __init__(self, service: Service):
        self.service = service
        build = service.build()
        self.image = Image.read(build[1], build[0]) if build else None
        self.mounts = service.mounts()

    @property
    def env(self) -> dict[str, Value]:
        found = {k: Value(v, self.rel(self.image.dockerfile), None) for k, v in (self.image.env if self.image else {}).items()}
        found.update(self.service.environment())
        return found

    def rel(self, path: Path) -> str:
        return self.service.compose.rel_of(path)

    @property
    def workdir(self) -> str:
        workdir = self.service.scalar("working_dir")
        return workdir.text if workdir else (self.image.workdir if self.image else "/")

    def _mappings(self) -> list[tuple[str, Path]]:
        """(container path, host path), bind mounts first: at run time they hide what the image has."""
        binds = [(m.target, Path(m.source)) for m in self.mounts if m.bind]
        return binds + (self.image.copies if self.image else [])

    def to_host(self, container_path: str) -> Path | None:
        path = posixpath.normpath(posixpath.join(self.workdir, container_path))
        for target, host in sorted(self._mappings(), key=lambda m: -len(m[0])):
            if path == target:
                return host
            if path.startswith(target.rstrip("/") + "/") and host.is_dir():
                return host / path[len(target.rstrip("/")) + 1 :]
        return None

    def to_container(self, host_path: Path) -> str | None:
        host_path = host_path.resolve()
        for target, host in self._mappings():
            if host_path == host:
                return target
            if host.is_dir() and host in host_path.parents:
                return posixpath.join(target, host_path.relative_to(host).as_posix())
        return None

    def files(self) -> list[tuple[str, Path]]:
        """Single files placed into the container, by bind mount or COPY/ADD."""
        return [(t, h) for t, h in self._mappings() if h.is_file()]

    def argv(self) -> tuple[list[str], str, int | None]:
        """The command the container starts with, and where it is written."""
        entry = self.service.argv("entrypoint")
        command = self.service.argv("command")
        image = self.image
        compose_rel = self.service.compose.rel
        if entry is not None:
            argv, file, line = entry[0] + (command[0] if command else []), compose_rel, entry[1]
        else:
            first = image.entrypoint if image and image.entrypoint else None
            rest = command[0] if command else (image.cmd[0] if image and image.cmd else [])
            argv = (first[0] if first else []) + rest
            if first:
                file, line = self.rel(image.dockerfile), first[2]
            elif command:
                file, line = compose_rel, command[1]
            else:
                file, line = (self.rel(image.dockerfile), image.cmd[2]) if image and image.cmd else (compose_rel, self.service.line)
        return argv, file, line

    def scripts(self) -> list[Path]:
        """Shell scripts the start command runs (the entrypoint script)."""
        argv, _, _ = self.argv()
        words = [w for a in argv for w in (_words(a) if " " in a else [a])]
        found = []
        for word in words:
            if word.endswith(".sh"):
                host = self.to_host(word)
                if host and host.is_file() and host not in found:
                    found.append(host)
        return found


# --- shell scripts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    words: list[str]
    line: int

    @property
    def program(self) -> str:
        return posixpath.basename(self.words[0]) if self.words else ""

    def runs(self, program: str) -> bool:
        """Whether this command runs `program`, directly or through exec."""
        words = self.words[1:] if self.program == "exec" else self.words
        return bool(words) and posixpath.basename(words[0]) == program


def shell_commands(text: str, first_line: int = 1) -> list[Command]:
    """Simple commands of a shell script, split at ; && || | &, with the line each starts on."""
    commands: list[Command] = []
    pending, start = "", first_line
    for number, raw in enumerate(text.splitlines(), start=first_line):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        pending += raw
        lexer = shlex.shlex(pending, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:
            if number - start < 50:
                pending += "\n"  # an open quote continues on the next line
                continue
            tokens = pending.split()
        words: list[str] = []
        for token in tokens + [";"]:
            if token in _SEPARATORS:
                if words:
                    commands.append(Command(words, start))
                words = []
            elif not (not words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token)):
                words.append(token)
        pending = ""
    return commands


@dataclass
class Script:
    path: Path
    rel: str
    commands: list[Command]
