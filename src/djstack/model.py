"""The stack model: the one place that decides every name, port, path, user and secret.

Every generated file is rendered from a `Stack`; no template invents a value of its own. The values a
person may want to change per host (ports, hosts, image names, secrets) are recorded in `.env`, which
Compose reads; the rest are fixed here, so all files agree by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .detect import DjangoProject
from .envfile import new_secret
from .errors import DjstackError
from .imagesets import IMAGE_SETS, ImageSet


@dataclass(frozen=True)
class Services:
    web: str = "web"
    nginx: str = "nginx"
    db: str = "db"
    redis: str = "redis"


@dataclass(frozen=True)
class Ports:
    """Ports inside the containers; only nginx's are published (see Stack.http_port)."""

    uwsgi: int = 8000
    db: int = 3306
    redis: int = 6379
    http: int = 80
    nginx_health: int = 8081  # loopback-only server the nginx healthcheck asks


@dataclass(frozen=True)
class Paths:
    """Paths inside the containers."""

    app: str = "/app"  # the project's code (the build context)
    venv: str = "/opt/venv"
    static_build: str = "/opt/static"  # collectstatic output, baked into the web image
    static: str = "/srv/static"  # static volume: web publishes into it, nginx serves it
    media: str = "/srv/media"  # media volume: web writes uploads, nginx serves them
    nginx_logs: str = "/var/log/nginx"
    nginx_ssl: str = "/etc/nginx/ssl"
    mysql_conf: str = "/etc/mysql/conf.d/djstack.cnf"  # an extra file, never the image's main config
    mysql_init: str = "/docker-entrypoint-initdb.d"
    mysql_data: str = "/var/lib/mysql"
    redis_conf: str = "/usr/local/etc/redis/redis.conf"
    redis_data: str = "/data"


@dataclass(frozen=True)
class Volumes:
    db: str = "db_data"
    redis: str = "redis_data"
    static: str = "static"
    media: str = "media"


@dataclass(frozen=True)
class Networks:
    """nginx reaches only web; db and redis are internal and reachable only from web."""

    front: str = "nginx_network"
    db: str = "db_network"
    redis: str = "redis_network"


@dataclass(frozen=True)
class AppUser:
    name: str = "app"
    uid: int = 10001


#: Secrets in `.env`: generated on first init, never changed by a later one.
SECRET_KEYS = ("DJANGO_SECRET_KEY", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD")
MIN_SECRET_LENGTH = 32
SECRET_LENGTHS = {"DJANGO_SECRET_KEY": 50}

IMAGE_SOURCES = tuple(IMAGE_SETS)


@dataclass(frozen=True)
class Stack:
    project: DjangoProject
    name: str  # Compose project name
    image_source: str
    images: ImageSet
    hosts: tuple[str, ...]  # ALLOWED_HOSTS
    http_bind: str
    http_port: int
    secrets: dict[str, str]
    db_name: str
    db_user: str
    pip_index_url: str = ""
    pip_ca_bundle: str = ""
    debian_mirror: str = ""
    max_upload_mb: int = 10
    services: Services = field(default_factory=Services)
    ports: Ports = field(default_factory=Ports)
    paths: Paths = field(default_factory=Paths)
    volumes: Volumes = field(default_factory=Volumes)
    networks: Networks = field(default_factory=Networks)
    user: AppUser = field(default_factory=AppUser)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.http_bind in ("0.0.0.0", "::", "") else self.http_bind
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{host}{port}/"

    @property
    def csrf_trusted_origins(self) -> tuple[str, ...]:
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return tuple(f"http://{h.lstrip('.')}{port}" for h in self.hosts if h != "*")

    @property
    def app_home(self) -> str:
        """Where manage.py sits in the image."""
        rel = str(self.project.app_dir)
        return self.paths.app if rel == "." else f"{self.paths.app}/{rel}"

    def url_path(self, django_url: str) -> str | None:
        """STATIC_URL/MEDIA_URL as an nginx location ('/static/'); None when it is a full URL (CDN)."""
        if re.match(r"^[a-z]+://", django_url) or django_url.startswith("//"):
            return None
        return "/" + django_url.strip("/") + "/"

    def env(self) -> dict[str, str]:
        """The variables `.env` records, in the order the file lists them."""
        return {
            "IMAGE_SOURCE": self.image_source,
            **self.images.env(),
            "DEBIAN_MIRROR": self.debian_mirror,
            "PIP_INDEX_URL": self.pip_index_url,
            "PIP_CA_BUNDLE": self.pip_ca_bundle,
            "HTTP_BIND": self.http_bind,
            "HTTP_PORT": str(self.http_port),
            "DJANGO_ALLOWED_HOSTS": ",".join(self.hosts),
            "DJANGO_CSRF_TRUSTED_ORIGINS": ",".join(self.csrf_trusted_origins),
            "MYSQL_DATABASE": self.db_name,
            "MYSQL_USER": self.db_user,
            **self.secrets,
        }


@dataclass(frozen=True)
class StackOptions:
    """What `djstack init` was asked for; None means "keep what .env says, else the default"."""

    name: str | None = None
    image_source: str | None = None
    hosts: tuple[str, ...] = ()
    http_bind: str | None = None
    http_port: int | None = None
    pip_index_url: str | None = None
    pip_ca_bundle: str | None = None
    debian_mirror: str | None = None


DEFAULT_HOSTS = ("localhost", "127.0.0.1")
#: pip in the build trusts what the host trusts: behind a TLS-inspecting proxy the host's bundle has
#: the proxy's CA, and elsewhere it is the ordinary public CAs, so passing it is never harmful.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def build_stack(project: DjangoProject, options: StackOptions, recorded: dict[str, str]) -> Stack:
    """Decide every value: explicit options first, then what `.env` recorded, then defaults."""

    def pick(option, key, default):
        if option is not None:
            return option
        return recorded.get(key) or default

    source = pick(options.image_source, "IMAGE_SOURCE", "official")
    if source not in IMAGE_SETS:
        raise DjstackError(
            f"Unknown image source {source!r} (from IMAGE_SOURCE in .env or --images).",
            f"Use one of: {', '.join(IMAGE_SOURCES)}.",
        )
    default_images = IMAGE_SETS[source]
    # A recorded image name is kept only while the source is unchanged: switching source switches names.
    same_source = recorded.get("IMAGE_SOURCE", source) == source
    images = ImageSet(
        **{
            k.lower().removesuffix("_image"): (recorded.get(k) if same_source and recorded.get(k) else v)
            for k, v in default_images.env().items()
        }
    )
    name = compose_name(options.name or project.root.name)
    hosts = options.hosts or tuple(h for h in recorded.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h)
    port_text = str(pick(options.http_port, "HTTP_PORT", 80))
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DjstackError(f"HTTP_PORT {port_text!r} is not a port number.", "Use a number from 1 to 65535.")
    for host in hosts:
        validate_host(host)
    db_default = re.sub(r"[^a-z0-9_]", "_", name.lower())[:32]
    stack_secrets = {}
    for key in SECRET_KEYS:
        value = recorded.get(key) or new_secret(SECRET_LENGTHS.get(key, 40))
        stack_secrets[key] = value
    return Stack(
        project=project,
        name=name,
        image_source=source,
        images=images,
        hosts=tuple(hosts) or DEFAULT_HOSTS,
        http_bind=pick(options.http_bind, "HTTP_BIND", "0.0.0.0"),
        http_port=int(port_text),
        secrets=stack_secrets,
        db_name=recorded.get("MYSQL_DATABASE") or db_default,
        db_user=recorded.get("MYSQL_USER") or db_default[:32],
        pip_index_url=pick(options.pip_index_url, "PIP_INDEX_URL", ""),
        pip_ca_bundle=pick(options.pip_ca_bundle, "PIP_CA_BUNDLE", str(HOST_CA_BUNDLE) if HOST_CA_BUNDLE.is_file() else ""),
        debian_mirror=pick(options.debian_mirror, "DEBIAN_MIRROR", ""),
    )


def compose_name(text: str) -> str:
    """A valid Compose project name: lowercase letters, digits, '-' and '_', starting alphanumeric."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    if not name:
        raise DjstackError(f"Cannot make a Compose project name from {text!r}.", "Pass --name NAME.")
    return name


_HOST = re.compile(r"^(\*|\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$")


def validate_host(host: str) -> None:
    if not _HOST.match(host) or ".." in host:
        raise DjstackError(
            f"{host!r} is not a valid host name for ALLOWED_HOSTS.",
            "Use a domain (example.com), a leading-dot wildcard (.example.com) or an IP address.",
        )
