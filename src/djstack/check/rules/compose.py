"""Rules on the compose file itself: obsolete keys, the services djstack addresses, published ports."""

from __future__ import annotations

import yaml

from ..finding import ERROR, WARNING, Hit
from ..models.compose import line_of, seq
from ..registry import rule


@rule("compose-version-obsolete", WARNING, "compose", ("compose",))
def version_obsolete(ctx):
    """Finds: A top-level `version:` key in the compose file.

    Breaks: `version:` is obsolete in Compose v2: it is ignored, with a warning on every command; it
    pins nothing.

    Fix: Delete the `version:` line.

    Example:
        version: "3"
    """
    compose = ctx.compose
    if compose and compose.top_line("version"):
        yield Hit(compose.rel, compose.top_line("version"), "top-level `version:` is obsolete",
                  "Compose v2 ignores it and warns on every command; it pins nothing.",
                  "Delete the `version:` line.")


@rule("compose-service-missing", ERROR, "compose", ("compose",))
def service_missing(ctx):
    """Finds: A service of the stack (web, nginx, db, redis, by the model's names) absent from the
    compose file.

    Breaks: djstack and the other files (the settings, nginx.conf) address the services by the
    model's names.

    Fix: Name the service as the model does again, or run `djstack init --force`.

    Example:
        services:
          proxy:   # was nginx
            build: ./compose/nginx
    """
    compose = ctx.compose
    if compose is None:
        return
    for name in (ctx.stack.services.web, ctx.stack.services.nginx, ctx.stack.services.db, ctx.stack.services.redis):
        if name not in compose.services:
            yield Hit(compose.rel, compose.top_line("services"), f"no service named {name!r}",
                      "the settings, nginx.conf and djstack's commands address it by that name.",
                      f"Name the service {name!r} again (or run `djstack init --force`).")


def _published(ctx, service_name: str, what: str):
    service = ctx.service(service_name)
    if service is None:
        return
    for node in seq(service.get("ports")):
        text = service.compose.value(node).text if isinstance(node, yaml.ScalarNode) else "(long syntax)"
        yield Hit(service.compose.rel, line_of(node), f"{what} port published on the host: {text}",
                  f"anyone who reaches this host can try {what} passwords; only web needs it.",
                  f"Delete `ports:` from {service_name}; web reaches it over their shared network.")


@rule("db-port-published", ERROR, "mysql", ("compose",))
def db_port_published(ctx):
    """Finds: `ports:` on the db service.

    Breaks: A published database port faces the internet (Docker's rules bypass most host
    firewalls).

    Fix: Delete `ports:` from db; web reaches it over their shared network.

    Example:
          db:
            ports:
              - "3306:3306"
    """
    yield from _published(ctx, ctx.stack.services.db, "database")


@rule("redis-port-published", ERROR, "redis", ("compose",))
def redis_port_published(ctx):
    """Finds: `ports:` on the redis service, which publishes Redis on the host.

    Breaks: A published Redis port faces the internet (Docker's rules bypass most host firewalls), and
    Redis is a classic target for takeover: CONFIG SET can make it write files.

    Fix: Delete `ports:` from redis; web reaches it over their shared network.

    Example:
          redis:
            ports: ["6379:6379"]
    """
    yield from _published(ctx, ctx.stack.services.redis, "Redis")
