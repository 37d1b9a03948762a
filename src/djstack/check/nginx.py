"""nginx's configuration, parsed by crossplane (nginx's own grammar, not regexes), and the rules
about how nginx reaches web and serves the static and media volumes.

A file mounted into /etc/nginx/conf.d/ is read as the image's main config reads it: inside `http`.
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import crossplane

from .compose import resolve_host, shared_networks
from .finding import ERROR, WARNING, Hit, per_kind, rule
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


# --- rules --------------------------------------------------------------------------------------


@rule("nginx-unparseable", ERROR)
def nginx_unparseable(ctx):
    """nginx refuses to start with a config it cannot parse (the image build runs `nginx -t`)."""
    ctx.nginx
    yield from ctx.parse_errors("nginx")


def _web_targets(ctx):
    """(pass, target, web's uWSGI listeners) for each address nginx sends requests to that is web."""
    if ctx.nginx is None or ctx.compose is None:
        return
    web = ctx.service(ctx.stack.services.web)
    for p in ctx.nginx.passes():
        for target in p.targets or []:
            if target.host is not None and web is not None and resolve_host(ctx.compose, target.host) is web:
                yield p, target


@rule("nginx-no-pass-to-web", ERROR)
def no_pass_to_web(ctx):
    """nginx is the only way in: without a location passing requests to web, no page is served."""
    if ctx.nginx is None or ctx.nginx.errors or ctx.nginx.passes():
        return
    servers = ctx.nginx.servers
    file, line = (servers[0].directive.file, servers[0].directive.line) if servers else (ctx.nginx.files[0], None)
    yield Hit(file, line, "no location passes requests to web",
              "nginx answers every page itself (404 or its default page); Django is never reached.",
              f"Add location / {{ uwsgi_pass {ctx.stack.services.web}:{ctx.uwsgi_port}; include uwsgi_params; }}")


@rule("nginx-upstream-not-a-service", ERROR)
def upstream_not_a_service(ctx):
    """nginx finds web by its service name on a shared network; any other name does not resolve
    (nginx fails to start, or answers 502 when the name is in a variable)."""
    if ctx.nginx is None or ctx.compose is None:
        return
    for p in ctx.nginx.passes():
        for target in p.targets or []:
            if target.host is not None and resolve_host(ctx.compose, target.host) is None:
                own = " (that is nginx's own container)" if target.host in ("localhost", "127.0.0.1") else ""
                yield Hit(target.file, target.line, f"nginx sends requests to {target.host!r}, not a service{own}",
                          "the name does not resolve to web: nginx fails to start or answers 502.",
                          f"Use the service name: {ctx.stack.services.web}:{ctx.uwsgi_port}")


@rule("nginx-upstream-not-on-shared-network", ERROR)
def upstream_not_on_shared_network(ctx):
    """Containers reach each other only over a network both join."""
    nginx = ctx.service(ctx.stack.services.nginx)
    if nginx is None or ctx.nginx is None:
        return
    for p in ctx.nginx.passes():
        for target in p.targets or []:
            service = resolve_host(ctx.compose, target.host) if target.host else None
            if service is not None and shared_networks(nginx, service) == set():
                yield Hit(target.file, target.line, f"nginx and {service.name} share no network",
                          f"nginx cannot resolve or reach {target.host}: every request gets 502.",
                          f"Put both on {ctx.stack.networks.front} in {service.compose.rel}.")


@rule("nginx-upstream-port-mismatch", ERROR)
def upstream_port_mismatch(ctx):
    """nginx must send to the port uWSGI listens on, or every request gets 502."""
    listeners = ctx.uwsgi_listeners
    ports = {l.port for l in listeners} if listeners else {ctx.stack.ports.uwsgi}
    for p, target in _web_targets(ctx):
        if target.port not in ports:
            said = ", ".join(l.describe() for l in listeners) or f"port {ctx.stack.ports.uwsgi}"
            yield Hit(target.file, target.line, f"nginx sends to port {target.port}; uWSGI listens on {said}",
                      "nothing listens on that port in web: every request gets 502.",
                      f"Use {ctx.stack.services.web}:{min(p for p in ports if p) if any(ports) else ctx.stack.ports.uwsgi}.")


def _protocol_mismatch(ctx, kind: str, wrong: str):
    for p, target in _web_targets(ctx):
        if p.kind != kind:
            continue
        for listener in ctx.uwsgi_listeners:
            if listener.port == target.port and listener.protocol == wrong:
                yield p, listener


@rule("nginx-uwsgi-pass-to-http-socket", ERROR)
def uwsgi_pass_to_http(ctx):
    """uwsgi_pass speaks the binary uwsgi protocol; a uWSGI http/http-socket expects HTTP."""
    for p, listener in _protocol_mismatch(ctx, "uwsgi", "http"):
        yield Hit(p.directive.file, p.directive.line, f"uwsgi_pass, but uWSGI speaks HTTP ({listener.describe()})",
                  "uWSGI cannot parse the uwsgi packets nginx sends: requests fail with 502.",
                  f"In uwsgi.ini use socket = :{listener.port} (or switch nginx to proxy_pass).")


@rule("nginx-proxy-pass-to-uwsgi-socket", ERROR)
def proxy_pass_to_uwsgi_socket(ctx):
    """proxy_pass speaks HTTP; a uWSGI `socket` expects the binary uwsgi protocol."""
    for p, listener in _protocol_mismatch(ctx, "proxy", "uwsgi"):
        yield Hit(p.directive.file, p.directive.line, f"proxy_pass, but uWSGI speaks uwsgi ({listener.describe()})",
                  "uWSGI reads HTTP text as uwsgi packets: requests fail with 502.",
                  f"Use uwsgi_pass {ctx.stack.services.web}:{listener.port}; with include uwsgi_params.")


@rule("nginx-uwsgi-params-missing", ERROR)
def uwsgi_params_missing(ctx):
    """Under uwsgi_pass, nginx sends only the uwsgi_param variables: without them Django gets no
    method or path."""
    for p in ctx.nginx.passes() if ctx.nginx else []:
        if p.kind != "uwsgi":
            continue
        params = inherited(p.chain, "uwsgi_param", also="uwsgi_params")
        names = {d.args[0] for d in params if d.name == "uwsgi_param" and d.args}
        if any(d.name == "include" for d in params):
            names |= STOCK_UWSGI_PARAMS
        if not {"REQUEST_METHOD", "PATH_INFO"} <= names:
            yield Hit(p.directive.file, p.directive.line, "uwsgi_pass without REQUEST_METHOD/PATH_INFO params",
                      "Django receives requests without a method or path and cannot answer them.",
                      "Add `include uwsgi_params;` (or the uwsgi_param lines) to this location.")


@rule("nginx-proxy-set-header-ignored", WARNING)
def proxy_set_header_ignored(ctx):
    """proxy_set_header applies to proxy_pass only; under uwsgi_pass it does nothing, so headers the
    tutorial meant to send (X-Forwarded-For, X-Real-IP) never reach Django."""
    seen = set()
    for p in ctx.nginx.passes() if ctx.nginx else []:
        headers = inherited(p.chain, "proxy_set_header")
        if p.kind == "uwsgi" and headers and (headers[0].file, headers[0].line) not in seen:
            seen.add((headers[0].file, headers[0].line))
            yield Hit(headers[0].file, headers[0].line, "proxy_set_header under uwsgi_pass does nothing",
                      "uwsgi_pass ignores proxy_* directives: these headers never reach Django.",
                      "Send them as uwsgi_param HTTP_X_FORWARDED_FOR $proxy_add_x_forwarded_for; etc.")


@rule("nginx-forwarded-proto-not-sent", ERROR)
def forwarded_proto_not_sent(ctx):
    """SECURE_PROXY_SSL_HEADER makes Django trust a header for the scheme; if nginx does not set it,
    clients can send it themselves (any request claims HTTPS) and real HTTPS goes unnoticed."""
    settings = ctx.settings
    header = settings.value("SECURE_PROXY_SSL_HEADER") if settings else None
    if not (isinstance(header, (tuple, list)) and header and isinstance(header[0], str)):
        return
    meta = header[0]
    http_name = meta.removeprefix("HTTP_").replace("_", "-").lower()
    for p in ctx.nginx.passes() if ctx.nginx else []:
        if p.kind == "uwsgi":
            sent = {d.args[0] for d in inherited(p.chain, "uwsgi_param") if d.args}
            how = f"uwsgi_param {meta} $scheme;"
        else:
            sent = {d.args[0].lower() for d in inherited(p.chain, "proxy_set_header") if d.args}
            meta, how = http_name, f"proxy_set_header {http_name.title()} $scheme;"
        if meta not in sent:
            note = " (proxy_set_header is ignored here)" if p.kind == "uwsgi" and inherited(p.chain, "proxy_set_header") else ""
            yield Hit(p.directive.file, p.directive.line, f"nginx never sets {header[0]}{note}",
                      "Django trusts it for the scheme: clients can fake HTTPS, real HTTPS is missed.",
                      f"Add `{how}` to this location.")


def _app_servers(ctx) -> list[Server]:
    passing = {id(p.server) for p in ctx.nginx.passes()} if ctx.nginx else set()
    return [s for s in ctx.nginx.servers if id(s.directive) in passing] if ctx.nginx else []


@rule("allowed-hosts-missing-server-name", ERROR)
def allowed_hosts_missing_server_name(ctx):
    """Django answers 400 Bad Request to a Host not in ALLOWED_HOSTS, so every name nginx serves the
    site under must be allowed."""
    settings = ctx.settings
    hosts = settings.value("ALLOWED_HOSTS") if settings else None
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts) or "*" in hosts:
        return
    for server in _app_servers(ctx):
        for name in server.names:
            if name in ("_", "") or name.startswith("~") or _host_allowed(name, hosts):
                continue
            file, line = settings.where("ALLOWED_HOSTS")
            yield Hit(file, line, f"ALLOWED_HOSTS lacks {name!r}, a server_name of nginx",
                      f"Django answers 400 Bad Request to requests for {name}.",
                      f"Add {name} to {_setting_home(hosts, 'ALLOWED_HOSTS')}.")


def _setting_home(value, setting: str) -> str:
    """Where a person changes a list setting: the .env variable it is read from, or the setting."""
    var = getattr(value, "var", None)
    return f"{var} in .env (comma-separated)" if var else f"{setting} in the settings"


def _host_allowed(name: str, hosts: list[str]) -> bool:
    name = name.lower().lstrip("*")
    for host in (h.lower() for h in hosts):
        if host == name or (host.startswith(".") and (name.endswith(host) or name == host[1:])):
            return True
    return False


@rule("https-csrf-trusted-origins-missing", ERROR)
def https_csrf(ctx):
    """Behind TLS ended at nginx, Django compares a form's https:// Origin with the scheme it sees;
    unless it knows the request was HTTPS (a forwarded scheme it trusts) or the origin is in
    CSRF_TRUSTED_ORIGINS, every POST fails with 403."""
    settings = ctx.settings
    if settings is None:
        return
    origins = settings.value("CSRF_TRUSTED_ORIGINS")
    if not isinstance(origins, list):
        return
    header = settings.value("SECURE_PROXY_SSL_HEADER")
    knows_https = isinstance(header, (tuple, list)) and not any(True for _ in forwarded_proto_not_sent(ctx))
    if knows_https:
        return
    for server in _app_servers(ctx):
        listens = server.ssl_listens
        for name in server.names if listens else []:
            if name in ("_", "") or name.startswith("~") or f"https://{name.lstrip('*.')}" in origins:
                continue
            yield Hit(listens[0].file, listens[0].line, f"HTTPS, but CSRF_TRUSTED_ORIGINS lacks https://{name}",
                      "Django sees http behind nginx: the https Origin of forms fails, POSTs get 403.",
                      f"Add https://{name} to {_setting_home(origins, 'CSRF_TRUSTED_ORIGINS')}.")


def _body_limits(ctx):
    settings = ctx.settings
    if settings is None or ctx.nginx is None:
        return None
    django = settings.value("DATA_UPLOAD_MAX_MEMORY_SIZE")
    if not isinstance(django, int) or isinstance(django, bool):
        return None
    for p in ctx.nginx.passes():
        found = inherited(p.chain, "client_max_body_size")
        limit = size_bytes(found[0].args[0]) if found and found[0].args else NGINX_DEFAULT_BODY
        if limit is not None:
            where = (found[0].file, found[0].line) if found else (p.directive.file, p.directive.line)
            return limit, django, where, (found[0].args[0] if found else "1m (nginx's default)")
    return None


@rule("nginx-body-limit-below-django", WARNING)
def body_limit_below_django(ctx):
    """nginx rejects bodies over client_max_body_size with its own 413 page before Django sees them."""
    limits = _body_limits(ctx)
    if limits and limits[0] and limits[0] < limits[1]:
        limit, django, (file, line), text = limits
        yield Hit(file, line, f"client_max_body_size {text} < DATA_UPLOAD_MAX_MEMORY_SIZE ({django} bytes)",
                  "bodies Django accepts are cut off by nginx with a bare 413 page.",
                  f"Make them equal: client_max_body_size {_mb(django)}, or lower Django's limit.")


@rule("nginx-body-limit-above-django", WARNING)
def body_limit_above_django(ctx):
    """Django rejects (400) request bodies nginx let through, after nginx buffered them."""
    limits = _body_limits(ctx)
    if limits and (limits[0] == 0 or limits[0] > limits[1]):
        limit, django, (file, line), text = limits
        yield Hit(file, line, f"client_max_body_size {text} > DATA_UPLOAD_MAX_MEMORY_SIZE ({django} bytes)",
                  "form posts between the two limits pass nginx, then fail in Django with 400.",
                  f"Make them equal: DATA_UPLOAD_MAX_MEMORY_SIZE = {limit or 'None'} in settings.")


def _mb(size: int) -> str:
    return f"{size // 1024**2}m" if size % 1024**2 == 0 else f"{-(-size // 1024)}k"


# --- static and media -----------------------------------------------------------------------------

PROBE = "djstack-probe.txt"


def _served(ctx, kind: str):
    """(url path, location, file nginx serves for a probe URL) for STATIC_URL / MEDIA_URL."""
    settings = ctx.settings
    url = settings.value(f"{kind.upper()}_URL") if settings else None
    if not isinstance(url, str) or not url or ctx.nginx is None:
        return None
    path = ctx.stack.url_path(url)
    if path is None:
        return None  # served from another host (a CDN)
    servers = _app_servers(ctx)
    if not servers:
        return None
    match = servers[0].match(path + PROBE)
    if match is None:
        return path, None, None
    loc, chain = match
    alias = named(loc.block or [], "alias")
    root = inherited(chain, "root")
    if alias and alias[0].args and len(loc.args) == 1:
        prefix = loc.args[0]
        return path, loc, (alias[0], alias[0].args[0] + (path + PROBE)[len(prefix) :])
    if root and root[0].args and not alias:
        return path, loc, (root[0], root[0].args[0].rstrip("/") + path + PROBE)
    return path, loc, None


def _location_passes(loc) -> bool:
    return any(d.name in ("uwsgi_pass", "proxy_pass") for d in loc.block or [])


def _location_missing(ctx, kind: str):
    served = _served(ctx, kind)
    if served is None:
        return
    path, loc, _ = served
    if loc is None or _location_passes(loc):
        server = _app_servers(ctx)[0].directive
        yield Hit(server.file, server.line, f"no nginx location serves {kind.upper()}_URL ({path})",
                  f"{kind} requests go to Django, which does not serve them with DEBUG off: 404.",
                  f"Add location {path} {{ alias {getattr(ctx.stack.paths, kind)}/; }} to this server.")


per_kind("nginx-{kind}-location-missing", ERROR,
         "With DEBUG off Django serves no {kind} files: nginx must, from a location for {KIND}_URL.",
         _location_missing)


def _alias_mismatch(ctx, kind: str):
    served = _served(ctx, kind)
    expected = ctx.nginx_path_of(kind)
    if served is None or expected is None or served[1] is None or _location_passes(served[1]):
        return
    path, loc, got = served
    want = posixpath.join(expected, PROBE)
    if got is None or posixpath.normpath(got[1]) != want:
        where = got[0] if got else loc
        shown = got[0].args[0] if got else "(no alias or root)"
        yield Hit(where.file, where.line, f"{path} is served from {shown}; the {kind} volume is at {expected}",
                  f"nginx looks for {kind} files where the volume is not: they answer 404.",
                  f"In location {path}: alias {expected}/; (both with a trailing slash)")


per_kind("nginx-{kind}-alias-mismatch", ERROR,
         "nginx must serve {KIND}_URL from the path where the {kind} volume is mounted in nginx.",
         _alias_mismatch)
