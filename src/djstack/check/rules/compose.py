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


def published(ctx, service_name: str, what: str, users: str = "web"):
    """A finding for each port a service that only `users` reach publishes on the host."""
    service = ctx.service(service_name)
    if service is None:
        return
    needs, reach = ("needs", "reaches") if users == "web" else ("need", "reach")
    for node in seq(service.get("ports")):
        text = service.compose.value(node).text if isinstance(node, yaml.ScalarNode) else "(long syntax)"
        yield Hit(service.compose.rel, line_of(node), f"{what} port published on the host: {text}",
                  f"anyone who reaches this host can try {what} passwords; only {users} {needs} it.",
                  f"Delete `ports:` from {service_name}; {users} {reach} it over their shared network.")


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
    yield from published(ctx, ctx.stack.services.db, "database")


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
    yield from published(ctx, ctx.stack.services.redis, "Redis")


def _stack_services(ctx):
    """(service in the compose file, the model's confinement of it) for each service of the stack."""
    for key, confinement in ctx.stack.confinement.items():
        # A Procfile's process is confined under its service's own name (no Services field has it).
        service = ctx.service(getattr(ctx.stack.services, key, key))
        if service is not None:
            yield service, confinement


def _texts(service, key: str) -> list[tuple[str, int]]:
    """A list-valued key's items (interpolated, upper-cased) with their lines; a scalar counts as one item."""
    node = service.get(key)
    nodes = seq(node) if isinstance(node, yaml.SequenceNode) else [node] if isinstance(node, yaml.ScalarNode) else []
    return [(service.compose.value(n).text.strip().upper(), line_of(n)) for n in nodes if isinstance(n, yaml.ScalarNode)]


@rule("compose-privilege-added", ERROR, "compose", ("compose",))
def privilege_added(ctx):
    """Finds: `privileged: true` on a service of the stack, or a `cap_add` capability beyond those djstack
    gives it (none for web, db and redis; CHOWN, DAC_OVERRIDE, SETGID and SETUID for nginx's master).

    Breaks: A process that is broken into keeps what the capability allows: SYS_ADMIN mounts
    filesystems, NET_ADMIN rewrites the network, SYS_PTRACE reads other processes' memory, and
    `privileged` hands over the host's devices. The stack's services work without them.

    Fix: Delete the line; if a process in the container really needs one, add that one alone, with a
    comment saying why.

    Example:
          web:
            cap_add: [SYS_ADMIN]
    """
    for service, confinement in _stack_services(ctx):
        privileged = service.scalar("privileged")
        if privileged and privileged.text.strip().lower() == "true":
            yield Hit(service.compose.rel, service.key_line("privileged"), f"{service.name} runs privileged",
                      "it gets every capability and the host's devices: a break-in owns the host.",
                      f"Delete `privileged: true` from {service.name}.")
        allowed = {cap for cap, _ in confinement.capabilities}
        for cap, line in _texts(service, "cap_add"):
            if cap.removeprefix("CAP_") not in allowed:
                yield Hit(service.compose.rel, line, f"{service.name} gets capability {cap} back",
                          f"{service.name} works without it; a process broken into would keep it.",
                          f"Delete {cap} from {service.name}'s cap_add.")


@rule("compose-confinement-removed", WARNING, "compose", ("compose",))
def confinement_removed(ctx):
    """Finds: A service of the stack without `cap_drop: [ALL]`, without `read_only: true`, or with a
    `memswap_limit` other than its `mem_limit`.

    Breaks: Without `cap_drop`, root in the container keeps Docker's 14 default capabilities (chown
    any file, kill any process, raw sockets…); with a writable root filesystem a break-in can change
    the container's programs; with more swap than memory a leaking service swaps the host to a crawl
    before its limit stops it.

    Fix: Put back the lines `djstack init` writes: `cap_drop: [ALL]`, `read_only: true` (with a
    `tmpfs:` entry where the service writes), `memswap_limit` equal to `mem_limit`.

    Example:
          web:
            read_only: false
    """
    for service, _ in _stack_services(ctx):
        missing = []  # (what, the line where it is wrong or missing)
        if "ALL" not in {cap for cap, _ in _texts(service, "cap_drop")}:
            missing.append(("cap_drop: [ALL]", service.key_line("cap_drop")))
        read_only = service.scalar("read_only")
        if not read_only or read_only.text.strip().lower() != "true":
            missing.append(("read_only: true", service.key_line("read_only")))
        memory, swap = service.scalar("mem_limit"), service.scalar("memswap_limit")
        if memory and (not swap or swap.text.strip().lower() != memory.text.strip().lower()):
            missing.append(("memswap_limit = mem_limit", service.key_line("memswap_limit")))
        if missing:
            what = ", ".join(text for text, _ in missing)
            yield Hit(service.compose.rel, missing[0][1] or service.line, f"{service.name} without {what}",
                      "a break-in keeps Docker's default capabilities, a writable root, or swap.",
                      "Write them as `djstack init` does (a tmpfs where the service writes).")
