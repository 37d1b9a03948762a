"""Real stacks for end-to-end tests: make one, talk to it over HTTP on 127.0.0.1, remove it."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from helpers import DJSTACK, copy_example, free_port, unavailable, unique_name

from djstack import docker
from djstack.baseimages import build_plan
from djstack.baseimages.rootfs import check_debootstrap
from djstack.errors import DjstackError
from djstack.initialise import load_stack


def require_engine() -> None:
    """A running Docker engine with Compose v2: else skipped, or failed in CI."""
    if shutil.which("docker") is None:
        unavailable("the docker command is not installed (scripts/install-docker.sh installs it)")
    proc = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if proc.returncode != 0:
        unavailable("no Docker engine (scripts/install-docker.sh installs and starts one): "
                    + (proc.stderr.strip().splitlines() or ["docker info failed"])[-1])
    version = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True).stdout
    if not re.match(r"v?([2-9]|\d{2,})\.", version.strip()):
        unavailable(f"no Compose v2 (`docker compose version`: {version.strip() or 'none'}; "
                    "scripts/install-docker.sh installs it)")


def require_base_images(root: Path) -> None:
    """The local base images of the stack initialised at `root` are there, or can be built here:
    else skipped, or failed in CI. (`up` builds what is missing; a root filesystem needs root and
    debootstrap.)"""
    stack = load_stack(root)
    if stack.image_source != "debian":
        return
    steps = build_plan(stack.base_images, docker.image_exists)
    if any(step.is_rootfs for step in steps):
        try:
            check_debootstrap()
        except DjstackError as exc:
            unavailable(f"the base images {', '.join(s.name for s in steps)} are missing and cannot be built "
                        f"here: {exc.message} {exc.fix} (or build them once: `sudo djstack images`)")


@dataclass
class LiveStack:
    root: Path
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kwargs)

    def djstack(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*DJSTACK, *args], capture_output=True, text=True, timeout=1800)
        if check and proc.returncode != 0:
            pytest.fail(f"djstack {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", "compose", *args], cwd=self.root, capture_output=True, text=True,
                              timeout=600)
        if check and proc.returncode != 0:
            pytest.fail(f"docker compose {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def services_all(self) -> list[dict]:
        """Every container of the stack, as `docker compose ps` describes it (read as djstack reads it)."""
        from djstack.compose import ps_rows

        return ps_rows(self.compose("ps", "--all", "--format", "json").stdout)

    def services(self) -> dict[str, dict]:
        return {row["Service"]: row for row in self.services_all()}

    def model_services(self) -> set[str]:
        """The services the stack's model runs: the four, and with Celery the broker and the
        background services (the example has worker and beat)."""
        s = load_stack(self.root)
        broker = (s.services.broker,) if s.workers else ()
        return {s.services.web, s.services.nginx, s.services.db, s.services.redis, *broker, *s.background_services}

    def wait_docker_healthy(self, timeout: float = 60) -> dict[str, dict]:
        """The services once Docker's own healthchecks have passed for all of them (`djstack up` runs
        the checks itself and returns before Docker's first one, an interval after the start)."""
        deadline = time.monotonic() + timeout
        while True:
            services = self.services()
            if all(row.get("Health") == "healthy" for row in services.values()) or time.monotonic() > deadline:
                return services
            time.sleep(1)


def wait_for(condition, timeout: float, what: str, poll: float = 0.5, watch=lambda: None):
    """condition()'s first true value within `timeout` seconds, else the test fails saying `what`;
    `watch()` runs first at every poll, to fail at once on what a background thread recorded rather
    than at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        watch()
        value = condition()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"not within {timeout:.0f} s: {what}")


def stored_notes(stack: LiveStack, tag: str) -> set[str]:
    """Texts of the example's notes starting with `tag-`, read from the database itself (as the
    application's user)."""
    query = f"SELECT text FROM gallery_note WHERE text LIKE '{tag}-%'"
    proc = stack.compose("exec", "-T", "db", "sh", "-c",
                         f'MYSQL_PWD="$MYSQL_PASSWORD" mysql -u"$MYSQL_USER" -N -B "$MYSQL_DATABASE" -e "{query}"')
    return set(proc.stdout.split())


def new_stack(parent: Path, *init_args: str) -> LiveStack:
    """A copy of examples/mysite under `parent`, initialised (not started) on a free loopback port."""
    require_engine()
    root = copy_example(parent / "mysite")
    stack = LiveStack(root=root, name=unique_name("djstack-e2e"), port=free_port())
    images = os.environ.get("DJSTACK_TEST_IMAGES", "auto")
    stack.djstack("init", str(root), "--images", images, "--bind", "127.0.0.1", "--port", str(stack.port),
                  "--name", stack.name, *init_args)
    require_base_images(root)
    return stack


def remove(stack: LiveStack) -> None:
    stack.compose("down", "--volumes", "--remove-orphans", "--rmi", "local", check=False)


@contextmanager
def running_stack(parent: Path):
    """A new stack under `parent`, up while the block runs, removed afterwards."""
    stack = new_stack(parent)
    try:
        stack.djstack("up", str(stack.root))
        yield stack
    finally:
        remove(stack)


# HTTPS stacks ---------------------------------------------------------------------------------------

#: The domains of the shared HTTPS stack (conftest's https_stack), reached on 127.0.0.1 with their Host/SNI.
DOMAINS = ("djstack.test", "www.djstack.test")


def new_https_stack(parent: Path, *init_args: str, domains: tuple[str, ...] = DOMAINS) -> LiveStack:
    """Like new_stack, with --domain for each of `domains` and a free HTTPS port (`stack.https_port`)."""
    https_port = free_port()
    stack = new_stack(parent, *[a for d in domains for a in ("--domain", d)], "--https-port", str(https_port),
                      *init_args)
    stack.https_port = https_port
    return stack


def https(stack, path: str, host: str = DOMAINS[0], session=None, method: str = "GET", **kwargs):
    """A request to the stack's HTTPS port with the Host of `host` (the certificate is not verified)."""
    client = session or requests
    return client.request(method, f"https://127.0.0.1:{stack.https_port}{path}", verify=False, timeout=30,
                          allow_redirects=False, headers={"Host": f"{host}:{stack.https_port}", **kwargs.pop("headers", {})},
                          **kwargs)


def http(stack, path: str, host: str = DOMAINS[0]):
    return requests.get(f"http://127.0.0.1:{stack.port}{path}", headers={"Host": host}, timeout=30,
                        allow_redirects=False)


def tls_handshake(stack, *, ciphers: str | None = None, version: ssl.TLSVersion | None = None,
                  sni: str = DOMAINS[0]) -> tuple[str, tuple]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version:
        context.minimum_version = context.maximum_version = version
    if ciphers:
        context.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=30) as raw:
        with context.wrap_socket(raw, server_hostname=sni) as conn:
            return conn.version(), conn.cipher()


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge, where containers reach a server the test runs on
    the host. The engine leaves IPAM's Gateway empty when docker0 existed before it started; it is then
    the subnet's first address, as Docker assigns it."""
    config = json.loads(subprocess.run(["docker", "network", "inspect", "bridge", "-f", "{{json .IPAM.Config}}"],
                                       capture_output=True, text=True, check=True).stdout)[0]
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


def container(stack, service: str) -> dict:
    """`docker inspect` of the service's container, running or not."""
    cid = stack.compose("ps", "--all", "-q", service).stdout.strip()
    return json.loads(subprocess.run(["docker", "inspect", cid], capture_output=True, text=True, check=True).stdout)[0]
