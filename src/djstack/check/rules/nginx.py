"""Rules on how nginx reaches web, what it forwards, and how it serves the static and media volumes."""

from __future__ import annotations

import posixpath

from ..finding import ERROR, WARNING, Hit
from ..models.compose import resolve_host, shared_networks
from ..models.nginx import NGINX_DEFAULT_BODY, STOCK_UWSGI_PARAMS, Server, inherited, named, size_bytes
from ..registry import per_kind, rule


def _web_targets(ctx):
    """(pass, target, web's uWSGI listeners) for each address nginx sends requests to that is web."""
    if ctx.nginx is None or ctx.compose is None:
        return
    web = ctx.service(ctx.stack.services.web)
    for p in ctx.nginx.passes():
        for target in p.targets or []:
            if target.host is not None and web is not None and resolve_host(ctx.compose, target.host) is web:
                yield p, target


@rule("nginx-no-pass-to-web", ERROR, "nginx", ('nginx', 'compose', 'uwsgi'))
def no_pass_to_web(ctx):
    """Finds: An nginx config with no location passing requests (uwsgi_pass, proxy_pass) anywhere.

    Breaks: nginx is the only way in: without a location passing requests to web, no page is served.

    Fix: Add `location / { uwsgi_pass web:PORT; include uwsgi_params; }`.

    Example:
        location / { return 503; }
    """
    if ctx.nginx is None or ctx.nginx.errors or ctx.nginx.passes():
        return
    servers = ctx.nginx.servers
    file, line = (servers[0].directive.file, servers[0].directive.line) if servers else (ctx.nginx.files[0], None)
    yield Hit(file, line, "no location passes requests to web",
              "nginx answers every page itself (404 or its default page); Django is never reached.",
              f"Add location / {{ uwsgi_pass {ctx.stack.services.web}:{ctx.uwsgi_port}; include uwsgi_params; }}")


@rule("nginx-upstream-not-a-service", ERROR, "nginx", ('nginx', 'compose'))
def upstream_not_a_service(ctx):
    """Finds: An address nginx passes requests to that is no compose service, container name or alias.

    Breaks: nginx finds web by its service name on a shared network; any other name does not resolve
    (nginx fails to start, or answers 502 when the name is in a variable).

    Fix: Use the web service's name: uwsgi_pass web:PORT.

    Example:
        set $web webapp:8000;
    """
    if ctx.nginx is None or ctx.compose is None:
        return
    for p in ctx.nginx.passes():
        for target in p.targets or []:
            if target.host is not None and resolve_host(ctx.compose, target.host) is None:
                own = " (that is nginx's own container)" if target.host in ("localhost", "127.0.0.1") else ""
                yield Hit(target.file, target.line, f"nginx sends requests to {target.host!r}, not a service{own}",
                          "the name does not resolve to web: nginx fails to start or answers 502.",
                          f"Use the service name: {ctx.stack.services.web}:{ctx.uwsgi_port}")


@rule("nginx-upstream-not-on-shared-network", ERROR, "nginx", ('nginx', 'compose'))
def upstream_not_on_shared_network(ctx):
    """Finds: nginx passing to a service it shares no network with.

    Breaks: Containers reach each other only over a network both join.

    Fix: Put both services on the front network in the compose file.

    Example:
          nginx:
            networks: [front]
          web:
            networks: [db]
    """
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


@rule("nginx-upstream-port-mismatch", ERROR, "nginx", ('nginx', 'compose', 'uwsgi'))
def upstream_port_mismatch(ctx):
    """Finds: nginx passing to web on a port uWSGI does not listen on.

    Breaks: nginx must send to the port uWSGI listens on, or every request gets 502.

    Fix: Use the port uWSGI listens on (socket = :PORT in uwsgi.ini).

    Example:
        set $web web:9000;   # uWSGI: socket = :8000
    """
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


@rule("nginx-uwsgi-pass-to-http-socket", ERROR, "nginx", ('nginx', 'compose', 'uwsgi'))
def uwsgi_pass_to_http(ctx):
    """Finds: uwsgi_pass to a uWSGI http / http-socket listener.

    Breaks: uwsgi_pass speaks the binary uwsgi protocol; a uWSGI http/http-socket expects HTTP.

    Fix: In uwsgi.ini use socket = :PORT (or switch nginx to proxy_pass).

    Example:
        uwsgi_pass web:8000;   # uWSGI: http-socket = :8000
    """
    for p, listener in _protocol_mismatch(ctx, "uwsgi", "http"):
        yield Hit(p.directive.file, p.directive.line, f"uwsgi_pass, but uWSGI speaks HTTP ({listener.describe()})",
                  "uWSGI cannot parse the uwsgi packets nginx sends: requests fail with 502.",
                  f"In uwsgi.ini use socket = :{listener.port} (or switch nginx to proxy_pass).")


@rule("nginx-proxy-pass-to-uwsgi-socket", ERROR, "nginx", ('nginx', 'compose', 'uwsgi'))
def proxy_pass_to_uwsgi_socket(ctx):
    """Finds: proxy_pass to a uWSGI `socket` listener (the uwsgi protocol).

    Breaks: proxy_pass speaks HTTP; a uWSGI `socket` expects the binary uwsgi protocol.

    Fix: Use uwsgi_pass web:PORT; with include uwsgi_params.

    Example:
        proxy_pass http://web:8000;   # uWSGI: socket = :8000
    """
    for p, listener in _protocol_mismatch(ctx, "proxy", "uwsgi"):
        yield Hit(p.directive.file, p.directive.line, f"proxy_pass, but uWSGI speaks uwsgi ({listener.describe()})",
                  "uWSGI reads HTTP text as uwsgi packets: requests fail with 502.",
                  f"Use uwsgi_pass {ctx.stack.services.web}:{listener.port}; with include uwsgi_params.")


@rule("nginx-uwsgi-params-missing", ERROR, "nginx", ('nginx',))
def uwsgi_params_missing(ctx):
    """Finds: A uwsgi_pass whose location (or its parents) sends no REQUEST_METHOD / PATH_INFO params.

    Breaks: Under uwsgi_pass, nginx sends only the uwsgi_param variables: without them Django gets
    no method or path.

    Fix: Add `include uwsgi_params;` (or the uwsgi_param lines) to the location.

    Example:
        location / { uwsgi_pass web:8000; }
    """
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


@rule("nginx-proxy-set-header-ignored", WARNING, "nginx", ('nginx',))
def proxy_set_header_ignored(ctx):
    """Finds: proxy_set_header in effect for a location that uses uwsgi_pass.

    Breaks: proxy_set_header applies to proxy_pass only; under uwsgi_pass it does nothing, so
    headers the tutorial meant to send (X-Forwarded-For, X-Real-IP) never reach Django.

    Fix: Send them as uwsgi_param HTTP_X_FORWARDED_FOR $proxy_add_x_forwarded_for; etc.

    Example:
        uwsgi_pass web:8000;
        proxy_set_header X-Real-IP $remote_addr;
    """
    seen = set()
    for p in ctx.nginx.passes() if ctx.nginx else []:
        headers = inherited(p.chain, "proxy_set_header")
        if p.kind == "uwsgi" and headers and (headers[0].file, headers[0].line) not in seen:
            seen.add((headers[0].file, headers[0].line))
            yield Hit(headers[0].file, headers[0].line, "proxy_set_header under uwsgi_pass does nothing",
                      "uwsgi_pass ignores proxy_* directives: these headers never reach Django.",
                      "Send them as uwsgi_param HTTP_X_FORWARDED_FOR $proxy_add_x_forwarded_for; etc.")


#: Headers a server adds for every answer, which a location with add_header lines of its own must repeat.
SECURITY_HEADERS = ("content-security-policy", "permissions-policy", "strict-transport-security",
                    "x-content-type-options", "x-frame-options", "referrer-policy")


@rule("nginx-location-drops-security-headers", WARNING, "nginx", ('nginx',))
def location_drops_security_headers(ctx):
    """Finds: A location nginx answers itself (files, a return) whose own add_header lines leave out a
    security header its server or http block adds (Content-Security-Policy, Permissions-Policy,
    Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, Referrer-Policy).

    Breaks: nginx takes add_header from the innermost level that has any: one add_header in a location
    (a Cache-Control) silently drops every header of its server for that location's answers.
    Locations that pass requests to web are left out: Django may send those headers itself.

    Fix: Repeat the server's security add_header lines in the location.

    Example:
        add_header Content-Security-Policy "object-src 'none'" always;
        location /downloads/ { add_header Cache-Control "public"; }
    """
    for server in ctx.nginx.servers if ctx.nginx else []:
        for location, chain in server.locations():
            own = named(chain[0], "add_header")
            if not own or named(chain[0], "uwsgi_pass") or named(chain[0], "proxy_pass"):
                continue
            kept = {d.args[0].lower() for d in own if d.args}
            dropped = [d.args[0] for d in inherited(chain[1:], "add_header")
                       if d.args and d.args[0].lower() in SECURITY_HEADERS and d.args[0].lower() not in kept]
            if dropped:
                yield Hit(location.file, location.line, f"location {location.args[-1]} drops {dropped[0]}"
                          + (f" and {len(dropped) - 1} more" if len(dropped) > 1 else ""),
                          "Its own add_header lines replace all of its server's, for its answers.",
                          "Repeat the server's security add_header lines in this location.")


@rule("nginx-forwarded-proto-not-sent", ERROR, "nginx", ('nginx', 'settings'))
def forwarded_proto_not_sent(ctx):
    """Finds: SECURE_PROXY_SSL_HEADER in the settings while nginx never sets that header for web.

    Breaks: SECURE_PROXY_SSL_HEADER makes Django trust a header for the scheme; if nginx does not
    set it, clients can send it themselves (any request claims HTTPS) and real HTTPS goes unnoticed.

    Fix: Add `uwsgi_param HTTP_X_FORWARDED_PROTO $scheme;` (or the proxy_set_header) to the
    location.

    Example:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")   # nginx sends no such param
    """
    header = _trusted_scheme_header(ctx)
    for p, how in _passes_without(ctx, header) if header else []:
        note = " (proxy_set_header is ignored here)" if p.kind == "uwsgi" and inherited(p.chain, "proxy_set_header") else ""
        yield Hit(p.directive.file, p.directive.line, f"nginx never sets {header}{note}",
                  "Django trusts it for the scheme: clients can fake HTTPS, real HTTPS is missed.",
                  f"Add `{how}` to this location.")


def _trusted_scheme_header(ctx) -> str | None:
    """The request header (as Django's META name) SECURE_PROXY_SSL_HEADER trusts for the scheme."""
    header = ctx.settings.value("SECURE_PROXY_SSL_HEADER") if ctx.settings else None
    return header[0] if isinstance(header, (tuple, list)) and header and isinstance(header[0], str) else None


def _passes_without(ctx, meta: str):
    """(pass, the directive that would send it) for each pass to an app server that does not send
    the header `meta` (a META name such as HTTP_X_FORWARDED_PROTO)."""
    http_name = meta.removeprefix("HTTP_").replace("_", "-").lower()
    for p in ctx.nginx.passes() if ctx.nginx else []:
        if p.kind == "uwsgi":
            sent = {d.args[0] for d in inherited(p.chain, "uwsgi_param") if d.args}
            name, how = meta, f"uwsgi_param {meta} $scheme;"
        else:
            sent = {d.args[0].lower() for d in inherited(p.chain, "proxy_set_header") if d.args}
            name, how = http_name, f"proxy_set_header {http_name.title()} $scheme;"
        if name not in sent:
            yield p, how


def _app_servers(ctx) -> list[Server]:
    passing = {id(p.server) for p in ctx.nginx.passes()} if ctx.nginx else set()
    return [s for s in ctx.nginx.servers if id(s.directive) in passing] if ctx.nginx else []


@rule("allowed-hosts-missing-server-name", ERROR, "nginx", ('nginx', 'settings'))
def allowed_hosts_missing_server_name(ctx):
    """Finds: A server_name of nginx (for the site) that ALLOWED_HOSTS does not allow.

    Breaks: Django answers 400 Bad Request to a Host not in ALLOWED_HOSTS, so every name nginx
    serves the site under must be allowed.

    Fix: Add the name to DJANGO_ALLOWED_HOSTS in .env (or ALLOWED_HOSTS in the settings).

    Example:
        server_name example.com www.example.com;   # ALLOWED_HOSTS = ['example.com']
    """
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


@rule("https-csrf-trusted-origins-missing", ERROR, "nginx", ('nginx', 'settings'))
def https_csrf(ctx):
    """Finds: An HTTPS server whose names are not in CSRF_TRUSTED_ORIGINS while Django cannot tell
    requests are HTTPS.

    Breaks: Behind TLS ended at nginx, Django compares a form's https:// Origin with the scheme it
    sees; unless it knows the request was HTTPS (a forwarded scheme it trusts) or the origin is in
    CSRF_TRUSTED_ORIGINS, every POST fails with 403.

    Fix: Add https://NAME to CSRF_TRUSTED_ORIGINS (or send and trust X-Forwarded-Proto).

    Example:
        listen 443 ssl;   # no SECURE_PROXY_SSL_HEADER, CSRF_TRUSTED_ORIGINS = []
    """
    settings = ctx.settings
    if settings is None:
        return
    origins = settings.value("CSRF_TRUSTED_ORIGINS")
    if not isinstance(origins, list):
        return
    header = settings.value("SECURE_PROXY_SSL_HEADER")
    # Django knows a request was HTTPS when it trusts a scheme header and nginx sends it everywhere.
    meta = _trusted_scheme_header(ctx)
    knows_https = isinstance(header, (tuple, list)) and (meta is None or not any(True for _ in _passes_without(ctx, meta)))
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


@rule("nginx-body-limit-below-django", WARNING, "nginx", ('nginx', 'settings'))
def body_limit_below_django(ctx):
    """Finds: client_max_body_size below Django's DATA_UPLOAD_MAX_MEMORY_SIZE.

    Breaks: nginx rejects bodies over client_max_body_size with its own 413 page before Django sees
    them.

    Fix: Make them equal: raise client_max_body_size, or lower Django's limit.

    Example:
        client_max_body_size 1m;   # Django: 2.5 MB
    """
    limits = _body_limits(ctx)
    if limits and limits[0] and limits[0] < limits[1]:
        limit, django, (file, line), text = limits
        yield Hit(file, line, f"client_max_body_size {text} < DATA_UPLOAD_MAX_MEMORY_SIZE ({django} bytes)",
                  "bodies Django accepts are cut off by nginx with a bare 413 page.",
                  f"Make them equal: client_max_body_size {_mb(django)}, or lower Django's limit.")


@rule("nginx-body-limit-above-django", WARNING, "nginx", ('nginx', 'settings'))
def body_limit_above_django(ctx):
    """Finds: client_max_body_size above Django's DATA_UPLOAD_MAX_MEMORY_SIZE (or 0, no limit).

    Breaks: Django rejects (400) request bodies nginx let through, after nginx buffered them.

    Fix: Make them equal: set DATA_UPLOAD_MAX_MEMORY_SIZE to nginx's limit in the settings.

    Example:
        client_max_body_size 100m;   # Django: 2.5 MB
    """
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


per_kind("nginx-{kind}-location-missing", ERROR, "nginx", ("nginx", "settings"), _location_missing, """
    Finds: No nginx location (of the site's server) that serves {KIND}_URL from files.

    Breaks: With DEBUG off Django serves no {kind} files: nginx must, from a location for {KIND}_URL.

    Fix: Add location {KIND}_URL {{ alias <the {kind} volume's path>/; }} to the site's server.

    Example:
        location /assets/ {{ alias /app/{kind}/; }}   # {KIND}_URL is /{kind}/
    """)


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


per_kind("nginx-{kind}-alias-mismatch", ERROR, "nginx", ("nginx", "settings", "compose"), _alias_mismatch, """
    Finds: A location for {KIND}_URL whose alias or root is not where nginx mounts the {kind} volume.

    Breaks: nginx must serve {KIND}_URL from the path where the {kind} volume is mounted in nginx.

    Fix: alias <where nginx mounts the {kind} volume>/; (both with a trailing slash).

    Example:
        location /{kind}/ {{ alias /var/www/{kind}/; }}   # the volume is at /app/{kind}
    """)
