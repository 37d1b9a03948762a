"""nginx's configuration, parsed by crossplane (nginx's own grammar, not regexes): servers,
locations with their inheritance chains, and where each pass sends requests.

A file mounted into /etc/nginx/conf.d/ is read as the image's main config reads it: inside `http`.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import crossplane

from .paste import readable

#: Names the stock /etc/nginx/uwsgi_params file sets (nginx 1.x); none of them is a forwarded header.
STOCK_UWSGI_PARAMS = {
    "QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE", "CONTENT_LENGTH", "REQUEST_URI", "PATH_INFO",
    "DOCUMENT_ROOT", "SERVER_PROTOCOL", "REQUEST_SCHEME", "HTTPS", "REMOTE_ADDR", "REMOTE_PORT",
    "SERVER_PORT", "SERVER_NAME",
}
NGINX_DEFAULT_BODY = 1024 * 1024  # client_max_body_size when unset
_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")
_NGINX_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def size_bytes(text: str) -> int | None:
    match = _SIZE.match(text)
    if not match:
        return None
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]


@dataclass
class Directive:
    name: str
    args: list[str]
    line: int
    file: str
    block: list[Directive] | None

    @classmethod
    def tree(cls, parsed: list[dict], file: str) -> list[Directive]:
        return [
            cls(d["directive"], d.get("args", []), d["line"], file,
                cls.tree(d["block"], file) if "block" in d else None)
            for d in parsed
        ]


def named(block: list[Directive], name: str) -> list[Directive]:
    return [d for d in block if d.name == name]


def inherited(chain: list[list[Directive]], name: str, also: str | None = None) -> list[Directive]:
    """nginx's array inheritance: the innermost level that sets `name` (or includes `also`) wins."""
    for level in chain:
        found = named(level, name)
        included = [d for d in named(level, "include") if also and any(also in a for a in d.args)]
        if found or included:
            return found + included
    return []


@dataclass
class Target:
    host: str | None  # None: a unix socket
    port: int | None
    file: str
    line: int  # where the address is written (set, upstream server, or the pass itself)


@dataclass
class Pass:
    """A location handing requests to an application server."""

    kind: str  # "uwsgi" or "proxy"
    directive: Directive
    chain: list[list[Directive]]  # innermost first: location(s), server, http
    server: Directive
    targets: list[Target] | None  # None when a variable cannot be resolved


@dataclass
class Server:
    directive: Directive
    chain: list[list[Directive]]  # server block, http block

    @property
    def names(self) -> list[str]:
        return [a for d in named(self.directive.block, "server_name") for a in d.args]

    @property
    def ssl_listens(self) -> list[Directive]:
        ssl_on = any(d.args == ["on"] for d in named(self.directive.block, "ssl"))
        return [d for d in named(self.directive.block, "listen") if "ssl" in d.args or ssl_on]

    def locations(self) -> list[tuple[Directive, list[list[Directive]]]]:
        """Every location, nested ones too, with its inheritance chain (innermost first)."""
        found = []

        def walk(block, chain):
            for d in named(block, "location"):
                inner = [d.block or []] + chain
                found.append((d, inner))
                walk(d.block or [], inner)

        walk(self.directive.block, self.chain)
        return found

    def match(self, uri: str) -> tuple[Directive, list[list[Directive]]] | None:
        """The location nginx picks for `uri` (exact, longest prefix, ^~, then regexes in order)."""
        best = None
        for loc, chain in self.locations():
            args = loc.args
            if len(args) == 2 and args[0] == "=" and args[1] == uri:
                return loc, chain
            prefix = args[-1] if len(args) == 1 or args[0] == "^~" else None
            if prefix is not None and uri.startswith(prefix) and (best is None or len(prefix) > len(best[0].args[-1])):
                best = (loc, chain)
        if best and best[0].args[0] == "^~":
            return best
        for loc, chain in self.locations():
            if loc.args[0] in ("~", "~*"):
                try:
                    if re.search(loc.args[1], uri, re.IGNORECASE if loc.args[0] == "~*" else 0):
                        return loc, chain
                except (re.error, IndexError):
                    continue
        return best


class Nginx:
    """Every nginx config file the nginx container uses, parsed."""

    def __init__(self, files: list[tuple[Path, str]]):
        """files: (path, name relative to the checked folder). A file without an `http` block is a
        conf.d file, which the image's main config includes inside `http`."""
        self.errors: list[tuple[str, int | None, str]] = []
        self.http: list[list[Directive]] = []
        self.files = [rel for _, rel in files]
        for path, rel in files:
            payload = _parse(path)
            for error in payload["errors"]:
                message = str(error.get("error", "")).split(" in /")[0]
                self.errors.append((rel, error.get("line"), message))
            # The rules read the config with its pasted characters fixed (the paste rules report them).
            fixed = readable(path, "nginx")
            if fixed != path.read_text(encoding="utf-8", errors="replace"):
                with tempfile.TemporaryDirectory(prefix="djstack-check-") as tmp:
                    copy = Path(tmp) / path.name
                    copy.write_text(fixed, encoding="utf-8")
                    payload = _parse(copy)
            for config in payload["config"]:
                top = Directive.tree(config["parsed"], rel)
                self.http += [d.block or [] for d in named(top, "http")] or [top]
        self.servers = [Server(s, [s.block or [], http]) for http in self.http for s in named(http, "server")]
        self.upstreams = {u.args[0]: u for http in self.http for u in named(http, "upstream") if u.args}

    def passes(self) -> list[Pass]:
        found = []
        for server in self.servers:
            for loc, chain in server.locations():
                for d in (loc.block or []) + [x for i in named(loc.block or [], "if") for x in i.block or []]:
                    if d.name in ("uwsgi_pass", "proxy_pass") and d.args:
                        found.append(Pass(d.name.split("_")[0], d, chain, server.directive, self._targets(d, chain)))
        return found

    def _targets(self, d: Directive, chain: list[list[Directive]]) -> list[Target] | None:
        text, where = d.args[0], (d.file, d.line)
        for _ in range(5):  # resolve `set $web web:8000;` (variables set from variables too)
            match = _NGINX_VAR.search(text)
            if not match:
                break
            name = "$" + (match.group(1) or match.group(2))
            setter = next((s for level in chain for s in reversed(named(level, "set")) if s.args[:1] == [name]), None)
            if setter is None or len(setter.args) < 2:
                return None
            text = text[: match.start()] + setter.args[1] + text[match.end() :]
            where = (setter.file, setter.line)
        address = re.sub(r"^[a-z]+://", "", text).split("/")[0]
        if text.startswith("unix:") or address.startswith("unix:"):
            return [Target(None, None, *where)]
        if address in self.upstreams:
            servers = named(self.upstreams[address].block or [], "server")
            return [Target(*_host_port(s.args[0]), s.file, s.line) for s in servers if s.args]
        return [Target(*_host_port(address), *where)]


def _parse(path: Path) -> dict:
    return crossplane.parse(str(path), single=True, catch_errors=True, comments=False, check_ctx=False, check_args=True)


def _host_port(address: str) -> tuple[str | None, int | None]:
    if address.startswith("unix:"):
        return None, None
    host, sep, port = address.rpartition(":")
    if not sep or "]" in port:
        return address, 80
    return host.strip("[]"), int(port) if port.isdigit() else None
