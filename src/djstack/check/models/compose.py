"""docker-compose.yml read as written: PyYAML's node API keeps every value's line for findings.

Values are interpolated the way Compose does (`${VAR:-default}` from the `.env` beside the file);
a value that is exactly one `${VAR}` remembers the `.env` line it came from, so a finding about it
points where it can be fixed.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from .dotenv import DotEnv
from .paste import cleaned

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class Unparseable(Exception):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def items(node: yaml.Node | None) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """(key, key node, value node) of a mapping, with `<<: *anchor` merges expanded."""
    if not isinstance(node, yaml.MappingNode):
        return []
    own = [(str(k.value), k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value != "<<"]
    names = {k for k, _, _ in own}
    merged = []
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "<<":
            sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
            for source in sources:
                merged += [item for item in items(source) if item[0] not in names]
    return own + merged


def get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    return next((v for k, _, v in items(node) if k == key), None)


def key_line(node: yaml.Node | None, key: str) -> int | None:
    return next((line_of(kn) for k, kn, _ in items(node) if k == key), None)


def seq(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


@dataclass(frozen=True)
class Value:
    """A string from the compose file after interpolation, and where to fix it."""

    text: str
    file: str
    line: int | None


@dataclass(frozen=True)
class Mount:
    source: str  # volume name, or host path (absolute) for a bind mount
    target: str  # path in the container
    bind: bool
    line: int


class Service:
    def __init__(self, compose: ComposeFile, name: str, key_node: yaml.Node, node: yaml.Node):
        self.compose = compose
        self.name = name
        self.line = line_of(key_node)
        self.node = node

    def get(self, key: str) -> yaml.Node | None:
        return get(self.node, key)

    def key_line(self, key: str) -> int | None:
        return key_line(self.node, key)

    def scalar(self, key: str) -> Value | None:
        node = self.get(key)
        return self.compose.value(node) if isinstance(node, yaml.ScalarNode) else None

    def networks(self) -> dict[str, list[str]] | None:
        """Network name -> aliases on it; None when network_mode takes the service off them."""
        if self.get("network_mode") is not None:
            return None
        node = self.get("networks")
        if node is None:
            return {"default": []}
        if isinstance(node, yaml.SequenceNode):
            return {self.compose.value(n).text: [] for n in seq(node)}
        return {k: [self.compose.value(a).text for a in seq(get(v, "aliases"))] for k, _, v in items(node)}

    def names(self) -> set[str]:
        """Host names other containers resolve to this service, on any network it joins."""
        found = {self.name}
        container = self.scalar("container_name")
        if container:
            found.add(container.text)
        return found

    def mounts(self) -> list[Mount]:
        found = []
        for node in seq(self.get("volumes")):
            if isinstance(node, yaml.ScalarNode):
                parts = self.compose.value(node).text.split(":")
                if len(parts) < 2:
                    continue  # an anonymous volume
                source, target = parts[0], parts[1]
            else:
                source = self.compose.value(get(node, "source")).text if get(node, "source") else ""
                target = self.compose.value(get(node, "target")).text if get(node, "target") else ""
            bind = source.startswith((".", "/", "~"))
            if bind:
                source = str((self.compose.folder / Path(source).expanduser()).resolve())
            found.append(Mount(source, posixpath.normpath(target) if target else target, bind, line_of(node)))
        return found

    def environment(self) -> dict[str, Value]:
        """The variables the container gets from env_file and environment, with where each is set."""
        found: dict[str, Value] = {}
        env_files = self.get("env_file")
        for node in seq(env_files) or ([env_files] if isinstance(env_files, yaml.ScalarNode) else []):
            path_node = get(node, "path") if isinstance(node, yaml.MappingNode) else node
            rel_path = self.compose.value(path_node).text
            path = (self.compose.folder / rel_path).resolve()
            env = DotEnv.read(path, self.compose.rel_of(path))
            for key, text in env.values.items():
                found[key] = Value(text, env.rel, env.lines.get(key))
        node = self.get("environment")
        if isinstance(node, yaml.SequenceNode):
            for item in seq(node):
                value = self.compose.value(item)
                key, sep, text = value.text.partition("=")
                if sep:
                    found[key] = Value(text, value.file, value.line)
        else:
            for key, _, value_node in items(node):
                if isinstance(value_node, yaml.ScalarNode) and value_node.tag != "tag:yaml.org,2002:null":
                    found[key] = self.compose.value(value_node)
        return found

    def argv(self, key: str) -> tuple[list[str], int] | None:
        """`command`/`entrypoint` as a list of words (Compose splits a string the way a shell would)."""
        node = self.get(key)
        if node is None:
            return None
        if isinstance(node, yaml.SequenceNode):
            return [self.compose.value(n).text for n in seq(node)], line_of(node)
        text = self.compose.value(node).text
        try:
            return shlex.split(text), line_of(node)
        except ValueError:
            return text.split(), line_of(node)

    def build(self) -> tuple[Path, Path] | None:
        """(context folder, Dockerfile) of a service built from a Dockerfile."""
        node = self.get("build")
        if node is None:
            return None
        if isinstance(node, yaml.ScalarNode):
            context, dockerfile = self.compose.value(node).text, "Dockerfile"
        else:
            context = self.compose.value(get(node, "context")).text if get(node, "context") else "."
            dockerfile = self.compose.value(get(node, "dockerfile")).text if get(node, "dockerfile") else "Dockerfile"
        folder = (self.compose.folder / context).resolve()
        return folder, (folder / dockerfile).resolve()


class ComposeFile:
    def __init__(self, path: Path, rel: str, dotenv: DotEnv, rel_of):
        self.path = path
        self.folder = path.parent
        self.rel = rel
        self.dotenv = dotenv  # the .env beside the compose file: what ${VAR} reads
        self.rel_of = rel_of
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise Unparseable(None, str(exc)) from exc
        # The rules read the file with its pasted characters fixed (the paste rules report them);
        # when only those stop it from parsing, it is unparseable and still checked.
        self.unparseable: Unparseable | None = None
        try:
            raw_root = _compose(raw)
        except Unparseable as exc:
            raw_root, self.unparseable = None, exc
        try:
            self.root = _compose(cleaned(raw, "yaml"))
        except Unparseable:
            if self.unparseable:
                raise self.unparseable from None
            self.root = raw_root
        if not isinstance(self.root, yaml.MappingNode):
            raise Unparseable(1, "the file is not a mapping of keys (services:, volumes:, …)")
        self.services = {k: Service(self, k, kn, v) for k, kn, v in items(get(self.root, "services"))}

    def value(self, node: yaml.Node) -> Value:
        raw = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
        line = line_of(node)
        whole = _VAR.fullmatch(raw)
        if whole and whole.group(2) and whole.group(2) in self.dotenv.values:
            file, env_line = self.dotenv.origin(whole.group(2))
            return Value(self.interpolate(raw), file, env_line)
        return Value(self.interpolate(raw), self.rel, line)

    def interpolate(self, text: str) -> str:
        env = self.dotenv.values

        def one(match: re.Match) -> str:
            if match.group(1):
                return "$"
            name = match.group(2) or match.group(5)
            op, arg = match.group(3), match.group(4) or ""
            value = env.get(name)
            if op in (":-", "-"):
                return value if (value if op == ":-" else value is not None) else arg
            if op in (":+", "+"):
                return arg if (value if op == ":+" else value is not None) else ""
            return value or ""

        return _VAR.sub(one, text)

    def top_line(self, key: str) -> int | None:
        return key_line(self.root, key)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise Unparseable(mark.line + 1 if mark else None, str(exc.problem or exc)) from exc
    except yaml.YAMLError as exc:
        raise Unparseable(None, str(exc)) from exc


def shared_networks(a: Service, b: Service) -> set[str] | None:
    """Networks both services join; None when either is not on Compose networks at all."""
    na, nb = a.networks(), b.networks()
    if na is None or nb is None:
        return None
    return set(na) & set(nb)


def resolve_host(compose: ComposeFile, host: str) -> Service | None:
    """The service a host name reaches from another container: service names, container names and
    network aliases."""
    for service in compose.services.values():
        aliases = {a for names in (service.networks() or {}).values() for a in names}
        if host in service.names() or host in aliases:
            return service
    return None
