"""The stack model: the one place that decides every name, port, path, user and secret.

Every generated file is rendered from a `Stack`; no template invents a value of its own. The values a
person may want to change per host (ports, hosts, image names, secrets) are recorded in `.env`, which
Compose reads; the rest are fixed here, so all files agree by construction.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .detect import DjangoProject
from .detect.workers import Process
from .envfile import new_secret
from .errors import BadEnvEntry, DjstackError
from .detect.python import PythonChoice, PythonRequest, choose_python
from .detect import syslibs
from .detect.buildsteps import STACK_ENVIRONMENT, build_env_prefix
from .detect.syslibs import SystemPackage
from .imagesets import (DEBIAN_SUITE, DEFAULT_PYTHON, IMAGE_SETS, PYTHONS, ImageSet, certbot_image, image_set,
                        image_suite, node_image)


@dataclass(frozen=True)
class Services:
    web: str = "web"
    nginx: str = "nginx"
    db: str = "db"
    redis: str = "redis"
    worker: str = "worker"  # Celery's worker (only with a Celery app: Stack.workers)
    beat: str = "beat"  # Celery's scheduler, exactly one
    broker: str = "broker"  # the Redis holding the task queues: never the cache's
    flower: str = "flower"  # Celery's web monitor (--flower)
    certbot: str = "certbot"  # obtains and renews the certificate (--tls acme only)


@dataclass(frozen=True)
class Ports:
    """Ports inside the containers; only nginx's are published (see Stack.http_port)."""

    uwsgi: int = 8000
    db: int = 3306
    redis: int = 6379
    broker: int = 6379
    flower: int = 5555
    http: int = 80
    https: int = 443
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
    nginx_conf: str = "/etc/nginx/nginx.conf"  # the image's copy of compose/nginx/nginx.conf
    nginx_ssl: str = "/etc/nginx/ssl"
    nginx_public_roots: str = "/etc/ssl/certs/ca-certificates.crt"  # both nginx images' ca-certificates
    nginx_upstream: str = "/etc/nginx/upstream"  # web.conf: which web container nginx sends requests to
    acme_webroot: str = "/var/www/acme"  # certbot --webroot writes challenges here (host: compose/nginx/acme)
    letsencrypt: str = "/etc/letsencrypt"  # certbot's account, certificates and logs (host: compose/certbot/letsencrypt)
    # compose/nginx/entrypoint.sh, in the image. No "nginx" in its name: its watcher, a root shell beside
    # the master, is not an nginx process.
    nginx_entrypoint: str = "/usr/local/bin/djstack-entrypoint.sh"
    certbot_script: str = "/opt/djstack/run.sh"  # compose/certbot/run.sh, certbot's entrypoint and deploy hook
    acme_ca: str = "/opt/djstack/acme-ca.pem"  # compose/certbot/acme-ca.pem: the private ACME server's CA
    mysql_conf: str = "/etc/mysql/conf.d/djstack.cnf"  # an extra file, never the image's main config
    mysql_init: str = "/docker-entrypoint-initdb.d"
    mysql_data: str = "/var/lib/mysql"
    mysql_tmp: str = "/tmp"  # the server's tmpdir: temporary tables and sort files (a tmpfs, CONFINEMENT)
    redis_conf: str = "/usr/local/etc/redis/redis.conf"
    redis_data: str = "/data"  # redis's and broker's
    beat: str = "/srv/beat"  # the beat volume: the file scheduler's state (the root is read-only)

    @property
    def beat_schedule(self) -> str:
        """Celery beat's schedule file (a dbm file: each entry's last run)."""
        return f"{self.beat}/celerybeat-schedule"


@dataclass(frozen=True)
class Volumes:
    db: str = "db_data"
    redis: str = "redis_data"
    static: str = "static"
    media: str = "media"
    broker: str = "broker_data"  # the broker's append-only file: queued tasks survive a restart
    beat: str = "beat_data"  # Paths.beat


@dataclass(frozen=True)
class Networks:
    """nginx reaches only web (and flower); db, redis and broker are internal, reachable only from web
    and the background services."""

    front: str = "nginx_network"
    db: str = "db_network"
    redis: str = "redis_network"
    broker: str = "broker_network"


@dataclass(frozen=True)
class AppUser:
    name: str = "app"
    uid: int = 10001


@dataclass(frozen=True)
class RedisAcl:
    """Redis's users: the default user is off, and web (its cache, a Celery broker) authenticates as
    `user` with REDIS_PASSWORD. `rules` are Redis ACL rules: every key and pub/sub channel (Celery's
    broadcasts use channels), every command but Redis's @dangerous category (CONFIG, DEBUG, MODULE,
    ACL, SHUTDOWN, FLUSHALL, REPLICAOF, SAVE, MONITOR, KEYS, …), less two that are safe for a client
    to run: FLUSHDB, which Django's cache.clear() sends (it empties only the cache's database), and
    INFO, which tells its version and memory to client libraries and `redis-cli`."""

    user: str = "app"
    rules: tuple[str, ...] = ("~*", "&*", "+@all", "-@dangerous", "+flushdb", "+info")

    @property
    def shell_rules(self) -> str:
        """The rules as words of a shell command line (redis-server's, in docker-compose.yml)."""
        return " ".join(shlex.quote(rule) for rule in self.rules)


#: The `.env` key recording the project's settings module the overlay imports (`init --settings`).
SETTINGS_KEY = "DJANGO_PROJECT_SETTINGS"

#: The `.env` key naming the release live before the current one: what `djstack rollback` puts back.
PREVIOUS_KEY = "WEB_PREVIOUS_RELEASE"

#: Secrets in `.env`: generated on first init, never changed by a later one.
#: Every stack has these; Stack.secret_keys adds the background services' own.
SECRET_KEYS = ("DJANGO_SECRET_KEY", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD")
#: The broker's password: a secret of the stacks with workers (an old .env gets one on the next init).
BROKER_SECRET = "BROKER_PASSWORD"
#: Flower's basic-auth password: a secret only stacks with Flower have.
FLOWER_SECRET = "FLOWER_PASSWORD"
MIN_SECRET_LENGTH = 32
SECRET_LENGTHS = {"DJANGO_SECRET_KEY": 50}

IMAGE_SOURCES = tuple(IMAGE_SETS)

#: --tls: off (plain HTTP), provided (your certificates in compose/nginx/ssl/), self-signed (made by init,
#: for testing: browsers warn), acme (the certbot service obtains and renews one; a self-signed stand-in
#: until then).
TLS_MODES = ("off", "provided", "self-signed", "acme")
#: --acme-server's default: Let's Encrypt's production directory.
LETSENCRYPT_SERVER = "https://acme-v02.api.letsencrypt.org/directory"
#: How often certbot checks for a renewal (`certbot renew` renews only within 30 days of expiry), and
#: how long it waits after a failure: Let's Encrypt limits failed validations (5 an hour per name).
#: Compose reads both from .env (ACME_RENEW_SECONDS, ACME_RETRY_SECONDS) when set there.
ACME_RENEW_SECONDS = 43200
ACME_RETRY_SECONDS = 3600
#: How often nginx's watcher compares the certificate's checksum, in every HTTPS mode (CERT_CHECK_SECONDS).
CERT_CHECK_SECONDS = 30
#: How long `djstack up` waits for the certbot service's first outcome after the stack is healthy.
ACME_WAIT_SECONDS = 180
#: HSTS for real certificates: one year. Off for self-signed ones (a browser would pin an untrusted site).
DEFAULT_HSTS_SECONDS = 31536000


#: Key exchange groups offered, preferred first (OpenSSL's group list): the hybrid post-quantum one,
#: then Mozilla's three. X25519MLKEM768 comes with OpenSSL 3.5, which both image sets' nginx links
#: (Debian trixie's; the official nginx:1.28 is built on trixie since 1.28.1); its "?" lets a 3.5 built
#: without it skip it. An OpenSSL before 3.5 refuses the whole list, and nginx does not start.
TLS_GROUPS = ("?X25519MLKEM768", "X25519", "prime256v1", "secp384r1")


@dataclass(frozen=True)
class TlsProfile:
    """One of Mozilla's server-side TLS profiles (ssl-config.mozilla.org, the guidelines sslyze's
    --mozilla_config checks) as nginx takes it. TLS 1.3's three suites are OpenSSL's default in both."""

    protocols: str  # nginx ssl_protocols
    ciphers: str  # TLS 1.2's suites (OpenSSL names), forward-secret AEAD only; "" without TLS 1.2
    certificate_days: int  # the profile's longest certificate life: the self-signed certificate's
    groups: tuple[str, ...] = TLS_GROUPS  # nginx ssl_ecdh_curve


#: --tls-profile: intermediate (TLS 1.2 and 1.3: clients from Firefox 27, Chrome 31, IE 11, Safari 9 on) or
#: modern (TLS 1.3 only: Firefox 63, Chrome 70, Safari 12.1 on). Mozilla's longest certificate lives are
#: 366 and 90 days.
TLS_PROFILES = {
    "intermediate": TlsProfile(
        "TLSv1.2 TLSv1.3",
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
        365),
    "modern": TlsProfile("TLSv1.3", "", 90),
}


@dataclass(frozen=True)
class StackFiles:
    """The stack's files and folders on the host, relative to the stack folder (Stack.dir; Stack.path
    makes them absolute). Render writes them from the template of the same path (templates/), check
    and doctor read them, lifecycle and deploy change a few: each takes its path from here. The one
    generated file outside the stack folder is the settings overlay (Stack.overlay_file)."""

    compose: str = "docker-compose.yml"
    dockerfile: str = "Dockerfile"  # the web image's
    env: str = ".env"
    env_example: str = ".env.example"
    web: str = "compose/web"  # web's scripts and configs; Stack.web_files inside the image
    uwsgi_ini: str = "compose/web/uwsgi.ini"
    apt_packages: str = "compose/web/apt-packages.txt"
    requirements_stack: str = "compose/web/requirements-stack.txt"  # what the stack itself installs
    entrypoint: str = "compose/web/entrypoint.sh"  # the web image's ENTRYPOINT
    build_hook: str = "compose/web/build-hook.sh"  # the project's own build steps (yours once written)
    healthcheck: str = "compose/web/healthcheck.py"  # web's Compose healthcheck
    publish_static: str = "compose/web/publish_static.py"  # run by the entrypoint
    wait_for_db: str = "compose/web/wait_for_db.py"  # run by the entrypoint
    probe: str = "compose/web/probe.py"  # the smoke check's and doctor's probe
    migration_plan: str = "compose/web/migration_plan.py"
    prune_static: str = "compose/web/prune_static.py"  # run by deploy
    nginx: str = "compose/nginx"  # nginx's build context
    nginx_dockerfile: str = "compose/nginx/Dockerfile"
    nginx_dockerignore: str = "compose/nginx/.dockerignore"  # keeps certificates out of nginx's image
    nginx_conf: str = "compose/nginx/nginx.conf"
    nginx_upstream: str = "compose/nginx/upstream"  # mounted at Paths.nginx_upstream
    upstream_conf: str = "compose/nginx/upstream/web.conf"  # written by deploy (not init): the live release
    ssl: str = "compose/nginx/ssl"  # certificates (TlsFiles), mounted at Paths.nginx_ssl
    acme: str = "compose/nginx/acme"  # ACME http-01 challenges (certbot --webroot -w this folder)
    nginx_log: str = "compose/nginx/log"  # mounted at Paths.nginx_logs
    nginx_error_log: str = "compose/nginx/log/error.log"  # nginx writes it (doctor reads it)
    nginx_entrypoint: str = "compose/nginx/entrypoint.sh"  # nginx's: reloads it when the certificate changes
    certbot: str = "compose/certbot"  # the certbot service's files (--tls acme)
    certbot_script: str = "compose/certbot/run.sh"  # mounted at Paths.certbot_script
    acme_ca: str = "compose/certbot/acme-ca.pem"  # --acme-ca-bundle's copy, mounted at Paths.acme_ca
    letsencrypt: str = "compose/certbot/letsencrypt"  # mounted at Paths.letsencrypt (keys: not for git)
    mysql: str = "compose/mysql"  # db's files (not in the web image's build context)
    mysql_conf: str = "compose/mysql/conf/djstack.cnf"  # mounted at Paths.mysql_conf
    mysql_init: str = "compose/mysql/init"  # mounted at Paths.mysql_init
    redis: str = "compose/redis"
    redis_conf: str = "compose/redis/redis.conf"  # mounted at Paths.redis_conf
    broker_conf: str = "compose/redis/broker.conf"  # the broker's, mounted at Paths.redis_conf in broker
    wait_for_migrations: str = "compose/web/wait_for_migrations.py"  # background services' entrypoint
    beat_health: str = "compose/web/beat_health.py"  # beat's Compose healthcheck

    @staticmethod
    def inside(rel: str, folder: str) -> str:
        """A stack file's path relative to one of the stack's folders (e.g. nginx's build context)."""
        return posixpath.relpath(rel, folder)


#: The stack's files where no Stack is at hand (a module constant, a hand-laid stack check reads).
STACK_FILES = StackFiles()


@dataclass(frozen=True)
class TlsFiles:
    """Certificate files, in StackFiles.ssl on the host and Paths.nginx_ssl in nginx."""

    folder: str = STACK_FILES.ssl
    cert: str = "fullchain.pem"  # the certificate followed by its intermediates (certbot's fullchain.pem)
    key: str = "privkey.pem"
    acme: str = STACK_FILES.acme


#: Media files shown inline (with these types); every other upload is served as a download.
MEDIA_INLINE_TYPES = (("image/jpeg", "jpg jpeg"), ("image/png", "png"), ("image/gif", "gif"),
                      ("image/webp", "webp"), ("image/avif", "avif"))
#: POSTs a minute per client address to the admin login (nginx limit_req); 0 turns the limit off.
DEFAULT_LOGIN_RATE = 10

#: --csp: the Content-Security-Policy nginx sends where Django sends none. "default" restricts only
#: what no ordinary Django page needs (plugins, <base>, form targets off HTTPS, framing);
#: "strict-report-only" enforces that and reports (in the browser's console) what "strict" would
#: block; "strict" allows only the site's own scripts, styles, fonts and frames, and no inline code.
CSP_MODES = ("default", "strict-report-only", "strict")
#: The default policy. form-action allows any https: target, because a login or payment form may post
#: to, or be redirected to, another site (OAuth, a payment provider), which Chrome checks as well.
CSP_DEFAULT = ("object-src 'none'", "base-uri 'self'", "form-action 'self' https:")
#: The strict policy (the admin has no inline script, style or handler: it keeps working under it).
CSP_STRICT = ("default-src 'self'", "img-src 'self' data:", "object-src 'none'", "base-uri 'self'",
              "form-action 'self'")
#: Powerful features no ordinary site uses, off for the page and every frame in it. Payment stays
#: allowed (a payment provider's frame asks for it).
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
                      "microphone=(), usb=()")


@dataclass(frozen=True)
class CspHeader:
    """A Content-Security-Policy header nginx sends: its name, the nginx variable that holds it for
    Django's answers, and its policy without frame-ancestors (nginx adds that, see nginx.conf)."""

    name: str
    var: str
    policy: str

    def value(self, frame_ancestors: str) -> str:
        return f"{self.policy}; frame-ancestors {frame_ancestors}"


#: Resource limits per service: (memory, pids), recorded in .env as <SERVICE>_MEM_LIMIT / _PIDS_LIMIT.
#: Generous enough for the defaults (uWSGI's processes, InnoDB's buffer pool), tight enough that one
#: runaway service cannot take the host's memory or fork without end.
#: A stack has the limits of the services it runs (Stack.limits); the background services' come with
#: a Celery app. A Procfile's other processes get EXTRA_LIMITS under their own names.
DEFAULT_LIMITS = {"web": ("1g", 512), "nginx": ("256m", 256), "db": ("1g", 512), "redis": ("512m", 128),
                  "worker": ("1g", 512), "beat": ("256m", 64), "broker": ("512m", 128), "flower": ("256m", 128),
                  "certbot": ("256m", 64)}
EXTRA_LIMITS = ("512m", 256)


@dataclass(frozen=True)
class Confinement:
    """What a service may do once Docker's default capabilities are dropped (`cap_drop: [ALL]`) and its
    root filesystem is read-only: the capabilities it gets back, the tmpfs folders it writes to (each
    (path, size, why); tmpfs is memory, counted in the service's mem_limit) and the user it runs as
    (None: the image's own)."""

    capabilities: tuple[tuple[str, str], ...] = ()  # (capability, why)
    tmpfs: tuple[tuple[str, str, str], ...] = ()
    user: str | None = None


#: nginx's page cache (uwsgi_cache_path max_size), in its /tmp tmpfs beside the request bodies, and how
#: much of one response may wait there (uwsgi_max_temp_file_size; beyond it nginx reads from uWSGI only
#: as fast as the client takes it).
NGINX_PAGE_CACHE = "64m"
NGINX_RESPONSE_FILE = "16m"

#: Per service. A capability is added back only for a root process that cannot do its work without it;
#: web, db and redis run as their own users from the start and need none. Binding 80/443 needs no
#: NET_BIND_SERVICE: nginx's net.ipv4.ip_unprivileged_port_start is 0 (docker-compose.yml).
CONFINEMENT = {
    "web": Confinement(tmpfs=(("/tmp", "128m", "uploads over 2.5 MB (Django's temporary files)"),)),
    "nginx": Confinement(
        capabilities=(
            ("CHOWN", "the master gives its temporary folders in /tmp to the workers' user"),
            ("DAC_OVERRIDE", "the master writes the log folder and reads the key of the deploying user"),
            ("SETGID", "the master starts the workers as group www-data"),
            ("SETUID", "the master starts the workers as user www-data: they keep no capability"),
        ),
        tmpfs=(("/tmp", "128m",
                f"bodies, responses (up to {NGINX_RESPONSE_FILE} each), the {NGINX_PAGE_CACHE} page cache"),
               ("/run", "1m", "nginx.pid"))),
    "db": Confinement(
        tmpfs=(("/run/mysqld", "1m", "the server's socket and pid file"),
               (Paths.mysql_tmp, "256m", "temporary tables and sort files")),
        user="mysql"),
    "redis": Confinement(user="redis"),
    # Tasks are the project's code, like its views: the same /tmp as web.
    "worker": Confinement(tmpfs=(("/tmp", "128m", "the tasks' temporary files"),)),
    "beat": Confinement(),  # writes only its schedule, in the beat volume
    "broker": Confinement(user="redis"),
    "flower": Confinement(),  # keeps its state in memory
    # certbot runs as root (both images' user) and writes only its bind mounts, which belong to the
    # deploying user: hence DAC_OVERRIDE; CHOWN gives the installed certificate to that user too.
    "certbot": Confinement(
        capabilities=(
            ("CHOWN", "gives the installed certificate and key to the owner of compose/nginx/ssl"),
            ("DAC_OVERRIDE", "writes the deploying user's letsencrypt, acme and ssl folders"),
        ),
        tmpfs=(("/tmp", "16m", "certbot's work folder (--work-dir)"),)),
}
#: A Procfile's other processes: the project's code, confined like a worker.
EXTRA_CONFINEMENT = CONFINEMENT["worker"]


#: Placeholders by the type a setting reads a variable as: collectstatic imports the settings at build
#: time, when no real value exists (none of these is ever used to serve or sign anything).
PLACEHOLDERS = {"int": "0", "float": "0", "bool": "false", "url": "http://build.invalid/", "json": "{}",
                "db_url": "mysql://build:build@build.invalid/build", "cache_url": "locmemcache://",
                "path": "/tmp"}
PLACEHOLDER = "build-placeholder"


@dataclass(frozen=True)
class ProjectVariable:
    """A variable the project's settings read without a default, which djstack cannot know."""

    name: str
    where: str  # "config/settings/production.py:12": who reads it, for .env's comment and `up`'s refusal
    kind: str  # how it is read (str, int, bool, list…): decides its build-time placeholder
    value: str  # from .env; empty until the person fills it in

    @property
    def placeholder(self) -> str:
        return PLACEHOLDERS.get(self.kind, PLACEHOLDER)


#: TASK_TIME_LIMIT's default: the longest a task may run, in seconds.
DEFAULT_TASK_SECONDS = 300
#: WORKER_CONCURRENCY's default is the host's CPUs, at most this many: each prefork child is a copy of
#: the project (Django and its imports, 60-150 MB), and four fit in the worker's default 1g limit.
MAX_DEFAULT_CONCURRENCY = 4
#: Celery's beat writes its state at least this often (celery.beat.Scheduler.sync_every; also
#: django_celery_beat's DatabaseScheduler's) when nothing else made it write.
BEAT_SYNC_SECONDS = 180
#: What a warm shutdown needs beyond the task in flight: acknowledging it and closing the connection.
SHUTDOWN_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class BackupFiles:
    """Where `djstack backup` notes what it was scheduled to do and how its last run went (hidden
    files: `backups` lists archives only)."""

    schedule: str = ".djstack-backup-schedule.json"  # in the stack's folder
    last_run: str = ".djstack-last-backup.json"  # in the archive folder


BACKUP_FILES = BackupFiles()


@dataclass(frozen=True)
class WorkerPlan:
    """The background services of a stack whose project has a Celery app (Stack.workers)."""

    app: str  # what `celery -A` takes
    namespace: str  # the prefix of the app's settings in Django's ("CELERY_"); "" when it reads none
    beat: str  # "" | "file" | "database": a beat service exists iff beat != ""
    flower: bool  # --flower
    concurrency: int  # WORKER_CONCURRENCY in .env: the worker's prefork children
    task_seconds: int  # TASK_TIME_LIMIT in .env: the longest a task may run
    extra: tuple[Process, ...] = ()  # the Procfile's "other" processes: a service each, from the web image

    @property
    def time_limit(self) -> int:
        """Celery's hard task_time_limit: the child running a task longer is killed, the task fails."""
        return self.task_seconds

    @property
    def stop_grace_seconds(self) -> int:
        """The worker's stop_grace_period: a warm shutdown (SIGTERM) lets the tasks in flight finish,
        which the time limit bounds; only then does Docker's SIGKILL come."""
        return self.task_seconds + SHUTDOWN_MARGIN_SECONDS

    @property
    def visibility_timeout(self) -> int:
        """How long the broker waits for a reserved task's acknowledgement before it hands the task to
        another worker. A task is acknowledged when it ends (task_acks_late): it runs at most
        task_seconds, and a warm shutdown may hold it for the grace period. Longer than both, so a
        running task is never delivered twice; a task whose worker was killed is delivered again
        after it."""
        return self.task_seconds + self.stop_grace_seconds

    def service_of(self, process: Process) -> str:
        """An extra process's service: its Procfile name, unless a service of the stack has that name."""
        name = re.sub(r"[^a-z0-9_-]+", "-", process.name.lower()).strip("-_") or "process"
        return f"{name}-process" if name in vars(Services()).values() else name

    @property
    def extra_services(self) -> tuple[tuple[str, Process], ...]:
        """(service, process) of each extra process."""
        return tuple((self.service_of(p), p) for p in self.extra)


def stack_secret_keys(workers: WorkerPlan | None) -> tuple[str, ...]:
    """The secrets of a stack with these background services (none: SECRET_KEYS)."""
    if workers is None:
        return SECRET_KEYS
    return SECRET_KEYS + (BROKER_SECRET,) + ((FLOWER_SECRET,) if workers.flower else ())


def default_concurrency() -> int:
    """WORKER_CONCURRENCY at init: the host's CPUs, at most MAX_DEFAULT_CONCURRENCY."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_CONCURRENCY))


@dataclass(frozen=True)
class Stack:
    project: DjangoProject
    name: str  # Compose project name
    image_source: str
    images: ImageSet
    python: PythonChoice  # the Python the web image runs, and which project file asked for it
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
    domains: tuple[str, ...] = ()  # --domain: the names the certificate covers (HTTPS mode)
    tls: str = "off"
    tls_profile: str = "intermediate"  # a key of TLS_PROFILES
    https_port: int = 443
    hsts_seconds: int = 0
    acme_server: str = LETSENCRYPT_SERVER  # --acme-server (ACME_SERVER in .env)
    acme_email: str = ""  # --acme-email (ACME_EMAIL); empty: an account without e-mail
    acme_ca: bool = False  # --acme-ca-bundle was given: compose/certbot/acme-ca.pem is the ACME server's CA
    certbot_image: str = ""  # CERTBOT_IMAGE (acme only)
    acme_renew_seconds: int = ACME_RENEW_SECONDS  # defaults of the .env keys of the same names
    acme_retry_seconds: int = ACME_RETRY_SECONDS
    cert_check_seconds: int = CERT_CHECK_SECONDS
    acme_wait_seconds: int = ACME_WAIT_SECONDS  # `up` waits this long for certbot's first outcome
    limits: dict[str, tuple[str, int]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    confinement: Mapping[str, Confinement] = field(default_factory=lambda: CONFINEMENT)
    nginx_page_cache: str = NGINX_PAGE_CACHE
    nginx_response_file: str = NGINX_RESPONSE_FILE
    project_env: tuple[ProjectVariable, ...] = ()
    web_release: str = "latest"  # the live release's image tag (`djstack deploy` records it)
    previous_release: str = ""  # the one live before it (PREVIOUS_KEY)
    login_rate: int = DEFAULT_LOGIN_RATE
    csp: str = "default"  # CSP_MODES
    workers: WorkerPlan | None = None  # None: no Celery app, or --no-workers (WORKERS=off)
    # How long db may take to accept connections after a start (a first start initialises the data
    # folder): its healthcheck's start_period, and how long web's entrypoint waits for it.
    db_start_seconds: int = 180
    # Docker's healthcheck interval for every service. Each check is a `docker exec` (0.1-0.2 s of CPU);
    # `djstack up` runs the checks itself rather than wait for Docker's first one.
    health_interval_seconds: int = 10
    # The background services' healthchecks load the project (about 1 s of CPU each): less often.
    worker_health_interval_seconds: int = 30
    migrations_wait_seconds: int = 600  # how long a background service waits for web's migrations
    beat_loop_seconds: int = 60  # beat_max_loop_interval: beat wakes (and may write its state) this often
    flower_location: str = "/flower/"  # nginx's path to Flower (its --url_prefix)
    flower_user: str = "admin"  # Flower's basic-auth user; the password is FLOWER_PASSWORD
    admin_login_path: str = "/admin/login/"
    tls_files: TlsFiles = field(default_factory=TlsFiles)
    files: StackFiles = STACK_FILES
    services: Services = field(default_factory=Services)
    ports: Ports = field(default_factory=Ports)
    paths: Paths = field(default_factory=Paths)
    volumes: Volumes = field(default_factory=Volumes)
    networks: Networks = field(default_factory=Networks)
    user: AppUser = field(default_factory=AppUser)
    redis_acl: RedisAcl = field(default_factory=RedisAcl)

    @property
    def https(self) -> bool:
        return self.tls != "off"

    @property
    def acme(self) -> bool:
        return self.tls == "acme"

    @property
    def background_services(self) -> tuple[str, ...]:
        """The services running the project's code besides web: worker, beat, flower and the
        Procfile's other processes (what ps, logs, doctor and deploy go through)."""
        w = self.workers
        if w is None:
            return ()
        return (self.services.worker, *([self.services.beat] if w.beat else []),
                *([self.services.flower] if w.flower else []), *(name for name, _ in w.extra_services))

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The secrets this stack's .env holds."""
        return stack_secret_keys(self.workers)

    @property
    def beat_stale_seconds(self) -> int:
        """How old beat's schedule file may get before beat counts as stuck: Celery writes it every
        BEAT_SYNC_SECONDS, checked each time beat wakes (at least every beat_loop_seconds), plus a
        minute's slack."""
        return BEAT_SYNC_SECONDS + self.beat_loop_seconds + 60

    @property
    def broker_maxmemory_mb(self) -> int:
        """The broker's maxmemory: half its mem_limit. The rest is for what Redis holds beyond the data
        (client buffers, the AOF rewrite's copy-on-write pages); at maxmemory it refuses new tasks
        (noeviction) rather than be killed by the kernel and lose the last second of them."""
        return memory_bytes(self.limits[self.services.broker][0]) // 2 // 2**20

    @property
    def tls_settings(self) -> TlsProfile:
        return TLS_PROFILES[self.tls_profile]

    @property
    def https_port_suffix(self) -> str:
        """':PORT' in https:// URLs when the published HTTPS port is not 443."""
        return "" if self.https_port == 443 else f":{self.https_port}"

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.http_bind in ("0.0.0.0", "::", "") else self.http_bind
        if self.https:
            return f"https://{host}{self.https_port_suffix}/"
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{host}{port}/"

    @property
    def site_url(self) -> str:
        """The site's address for a person: in HTTPS mode at its first domain (nginx answers 400 to any
        other name), else base_url."""
        return f"https://{self.domains[0]}{self.https_port_suffix}/" if self.https else self.base_url

    @property
    def csrf_trusted_origins(self) -> tuple[str, ...]:
        if self.https:
            return tuple(f"https://{h.lstrip('.')}{self.https_port_suffix}" for h in self.hosts if h != "*")
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return tuple(f"http://{h.lstrip('.')}{port}" for h in self.hosts if h != "*")

    @property
    def server_names(self) -> tuple[str, ...]:
        """nginx server_name of the site; empty when any host is allowed ('*'): then it is the default."""
        return () if "*" in self.hosts else self.hosts

    @property
    def request_host(self) -> str:
        """The Host header djstack's own requests through nginx send: the first allowed host that is a
        name (".example.com" sends example.com), else localhost."""
        return next((h.lstrip(".") for h in self.hosts if h != "*"), "localhost")

    @property
    def web_image(self) -> str:
        """The web image's repository; each release is a tag of it (WEB_RELEASE in .env)."""
        return f"{self.name}-web"

    @property
    def nginx_upstream_dir(self) -> str:
        """The folder of nginx's web.conf, relative to the stack folder (the compose file names it)."""
        return self.files.nginx_upstream

    def web_upstream(self, host: str) -> str:
        """The `host:port` nginx's web.conf names: the service, or one release's container."""
        return f"{host}:{self.ports.uwsgi}"

    @property
    def node_image(self) -> str:
        """The image of the JavaScript build stage (the project's package.json build)."""
        return node_image(self.image_source)

    @property
    def base_images(self) -> list[str]:
        """Every base image the stack's builds and services use."""
        return [*self.images.env().values(), *([self.node_image] if self.project.js_build else []),
                *([self.certbot_image] if self.acme else [])]

    @property
    def stack_dir(self) -> str:
        """Where djstack's files live, relative to the project root (see detect/placement.py)."""
        return self.project.stack_dir

    @property
    def dir(self) -> Path:
        """The stack's folder on the host: docker-compose.yml, .env and compose/ are here."""
        return self.project.root if self.stack_dir == "." else self.project.root / self.stack_dir

    def path(self, rel: str) -> Path:
        """A stack file on the host: `rel` is relative to the stack folder (a StackFiles value)."""
        return self.dir / rel

    @property
    def env_path(self) -> Path:
        return self.path(self.files.env)

    @property
    def compose_path(self) -> Path:
        return self.path(self.files.compose)

    def from_root(self, rel: str) -> str:
        """A stack file's path from the project root, POSIX (the stack may sit in a folder of its own)."""
        return self.in_context + rel

    @property
    def overlay_file(self) -> str:
        """The settings overlay, from the project root: beside the project's own settings module."""
        return str(self.project.overlay_file)

    @property
    def static_storage_file(self) -> str:
        """The static files storage the overlay names, beside it (unless the project has its own)."""
        return str(self.project.overlay_file.with_name("staticfiles_docker.py"))

    @property
    def in_context(self) -> str:
        """The stack folder as a prefix of paths in the web image's build context (the project root)."""
        return "" if self.stack_dir == "." else f"{self.stack_dir}/"

    @property
    def build_context(self) -> str:
        """The web image's build context (the project root), relative to the stack folder."""
        return "." if self.stack_dir == "." else "/".join(".." for _ in Path(self.stack_dir).parts)

    def in_image(self, rel: str) -> str:
        """A stack file's path inside the web image, which holds the project root (less what the
        .dockerignore block leaves out: nginx's, db's and redis's files)."""
        return f"{self.paths.app}/{self.from_root(rel)}"

    @property
    def web_files(self) -> str:
        """StackFiles.web inside the web image: its entrypoint, healthcheck and probes."""
        return self.in_image(self.files.web)

    @property
    def app_home(self) -> str:
        """Where manage.py sits in the image."""
        rel = str(self.project.app_dir)
        return self.paths.app if rel == "." else f"{self.paths.app}/{rel}"

    @property
    def hsts_value(self) -> str:
        """The Strict-Transport-Security header nginx sends when HSTS is on."""
        return f"max-age={self.hsts_seconds}; includeSubDomains"

    @property
    def csp_headers(self) -> tuple[CspHeader, ...]:
        """The Content-Security-Policy headers of the --csp mode (strict upgrades http: URLs under HTTPS)."""
        strict = "; ".join(CSP_STRICT + (("upgrade-insecure-requests",) if self.https else ()))
        enforced = CspHeader("Content-Security-Policy", "$djstack_csp",
                             strict if self.csp == "strict" else "; ".join(CSP_DEFAULT))
        if self.csp == "strict-report-only":
            return enforced, CspHeader("Content-Security-Policy-Report-Only", "$djstack_csp_report_only", strict)
        return (enforced,)

    def url_path(self, django_url: str) -> str | None:
        """STATIC_URL/MEDIA_URL as an nginx location ('/static/'); None when it is a full URL (CDN)."""
        if re.match(r"^[a-z]+://", django_url) or django_url.startswith("//"):
            return None
        return "/" + django_url.strip("/") + "/"

    def env(self) -> dict[str, str]:
        """The variables `.env` records, in the order the file lists them."""
        return {**self._env(), **self.worker_env()}

    def worker_env(self) -> dict[str, str]:
        """The background services' settings in .env: only for a project with a Celery app."""
        if self.project.celery is None:
            return {}
        w = self.workers
        return {
            "WORKERS": "on" if w else "off",
            "FLOWER": "on" if w and w.flower else "off",
            **({"WORKER_CONCURRENCY": str(w.concurrency), "TASK_TIME_LIMIT": str(w.task_seconds)} if w else {}),
        }

    def _env(self) -> dict[str, str]:
        return {
            "COMPOSE_PROJECT_NAME": self.name,
            "WEB_RELEASE": self.web_release,
            PREVIOUS_KEY: self.previous_release,
            "IMAGE_SOURCE": self.image_source,
            "PYTHON_VERSION": self.python.version,
            SETTINGS_KEY: self.project.settings_module,
            **self.images.env(),
            **({"NODE_IMAGE": self.node_image} if self.project.js_build else {}),
            **({"CERTBOT_IMAGE": self.certbot_image} if self.acme else {}),
            "DEBIAN_MIRROR": self.debian_mirror,
            "PIP_INDEX_URL": self.pip_index_url,
            "PIP_CA_BUNDLE": self.pip_ca_bundle,
            "HTTP_BIND": self.http_bind,
            "HTTP_PORT": str(self.http_port),
            "DOMAINS": ",".join(self.domains),
            "TLS": self.tls,
            "TLS_PROFILE": self.tls_profile,
            "HTTPS_PORT": str(self.https_port),
            "HSTS_SECONDS": str(self.hsts_seconds),
            **({"ACME_SERVER": self.acme_server, "ACME_EMAIL": self.acme_email} if self.acme else {}),
            "ADMIN_LOGIN_RATE": str(self.login_rate),
            "CSP": self.csp,
            "DJANGO_ALLOWED_HOSTS": ",".join(self.hosts),
            "DJANGO_CSRF_TRUSTED_ORIGINS": ",".join(self.csrf_trusted_origins),
            "MYSQL_DATABASE": self.db_name,
            "MYSQL_USER": self.db_user,
            **{limit_keys(svc)[0]: mem for svc, (mem, _) in self.limits.items()},
            **{limit_keys(svc)[1]: str(pids) for svc, (_, pids) in self.limits.items()},
            **self.secrets,
            **{v.name: v.value for v in self.project_env},
        }

    @property
    def _db_scheme(self) -> str:
        """DATABASE_URL's scheme: django-environ and dj-database-url map mysqlgis:// to GeoDjango's backend."""
        return "mysqlgis" if self.project.gis else "mysql"

    def conventional_env(self) -> dict[str, str]:
        """What Django projects conventionally read from the environment (django-environ, dj-database-url,
        Celery), as Compose values: web gets them all, so a project's own settings work at import time,
        before the overlay sets the same values itself."""
        db, redis = self.services, self.ports
        auth = "${MYSQL_USER}:${MYSQL_PASSWORD}"
        redis_auth = f"{self.redis_acl.user}:${{REDIS_PASSWORD}}"
        celery = {"CELERY_BROKER_URL": f"redis://{redis_auth}@{db.redis}:{redis.redis}/1"}
        if self.workers:
            celery = {"CELERY_BROKER_URL": self.broker_url(0), "CELERY_RESULT_BACKEND": self.broker_url(1)}
        return {
            "SECRET_KEY": "${DJANGO_SECRET_KEY}",
            **STACK_ENVIRONMENT,  # DJANGO_DEBUG: what build-step detection assumes too
            "DATABASE_URL": f"{self._db_scheme}://{auth}@{db.db}:{redis.db}/${{MYSQL_DATABASE}}",
            "REDIS_URL": f"redis://{redis_auth}@{db.redis}:{redis.redis}/0",
            "CACHE_URL": f"redis://{redis_auth}@{db.redis}:{redis.redis}/0",
            **celery,
        }

    def broker_url(self, database: int) -> str:
        """A database of the broker's Redis as a Compose value: 0 holds the queues, 1 the results."""
        return (f"redis://{self.redis_acl.user}:${{BROKER_PASSWORD}}@{self.services.broker}:"
                f"{self.ports.broker}/{database}")

    def build_env(self) -> dict[str, str]:
        """Placeholders for every variable the settings need at import, for manage.py steps at build time."""
        return {
            "DJANGO_SECRET_KEY": PLACEHOLDER,
            "SECRET_KEY": PLACEHOLDER,
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "DATABASE_URL": f"{self._db_scheme}://build:build@build.invalid/build",
            "REDIS_URL": "redis://build.invalid:6379/0",
            "CACHE_URL": PLACEHOLDERS["cache_url"],
            "CELERY_BROKER_URL": "redis://build.invalid:6379/1",
            **({"CELERY_RESULT_BACKEND": "redis://build.invalid:6379/2"} if self.workers else {}),
            "DJANGO_STATIC_ROOT": self.paths.static_build,  # collectstatic writes into the image, not the volume
            "DJSTACK_IMAGE_BUILD": "1",  # the overlay then uses a cache in memory: no Redis while an image builds
            **{v.name: v.placeholder for v in self.project_env},
        }

    @property
    def build_env_prefix(self) -> str:
        """build_env() as the `NAME=value …` prefix of a Dockerfile RUN line."""
        return build_env_prefix(self.build_env())

    @property
    def suite(self) -> str:
        """The Debian suite of the web image (package names in apt-packages.txt are that suite's)."""
        return image_suite(self.images.python) or DEBIAN_SUITE

    def system_packages(self) -> list[SystemPackage]:
        """The Debian packages the web image needs, each with the dependency that asked for it."""
        deps = self.project.dependencies
        asked = [(syslibs.COMPILERS, "djstack: the build stage"), ("mysqlclient", "djstack: Django's MySQL backend")]
        asked += [(name, str(deps.source)) for name in deps.wanted or deps.names]
        if self.project.gis:
            asked.append((syslibs.GEODJANGO, "django.contrib.gis in the settings"))
        return syslibs.system_packages(asked, self.suite)


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
    domains: tuple[str, ...] = ()
    tls: str | None = None
    tls_profile: str | None = None
    https_port: int | None = None
    hsts_seconds: int | None = None
    acme_server: str | None = None  # --acme-server URL
    acme_email: str | None = None  # --acme-email ADDRESS
    acme_ca_bundle: str | None = None  # --acme-ca-bundle FILE (init copies it to StackFiles.acme_ca)
    csp: str | None = None  # --csp
    python: str | None = None  # --python X.Y
    settings: str | None = None  # --settings MODULE: the project's production settings
    workers: bool | None = None  # --no-workers: False (recorded as WORKERS=off)
    flower: bool | None = None  # --flower: True (FLOWER=on)


DEFAULT_HOSTS = ("localhost", "127.0.0.1")
#: Every variable web's environment gets from the stack (docker-compose.yml, and the overlay's own):
#: a project's settings may read these without a default.
SUPPLIED_ENV = frozenset({
    "DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_CSRF_TRUSTED_ORIGINS",
    "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD", "REDIS_PASSWORD",
    "SECRET_KEY", "DJANGO_DEBUG", "DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL",
})
#: What web and the background services get besides, with a Celery app.
WORKER_SUPPLIED_ENV = frozenset({"CELERY_RESULT_BACKEND"})
#: pip in the build trusts what the host trusts: behind a TLS-inspecting proxy the host's bundle has
#: the proxy's CA, and elsewhere it is the ordinary public CAs, so passing it is never harmful.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def build_stack(project: DjangoProject, options: StackOptions, recorded: dict[str, str]) -> Stack:
    """Decide every value: explicit options first, then what `.env` recorded, then defaults. Each
    setting goes through its parser (below): the first bad one raises its BadEnvEntry."""

    def pick(option, key, default):
        if option is not None:
            return option
        return recorded.get(key) or default

    source = parse_image_source(pick(options.image_source, "IMAGE_SOURCE", "official"))
    same_source = recorded.get("IMAGE_SOURCE", source) == source
    # --python, else the version .env recorded (while the source is the same), else the project's request.
    kept_python = recorded.get("PYTHON_VERSION") if same_source else None
    python = parse_python(project.python_request, source, options.python or kept_python,
                          "--python" if options.python else ".env's PYTHON_VERSION")
    default_images = image_set(source, python.version)
    # A recorded image name is kept only while the source and the Python are unchanged: switching
    # either switches names.
    same_source = same_source and recorded.get("PYTHON_VERSION", python.version) == python.version
    images = ImageSet(
        **{
            k.lower().removesuffix("_image"): (recorded.get(k) if same_source and recorded.get(k) else v)
            for k, v in default_images.env().items()
        }
    )
    # In djstack/, beside the project's own compose file, the folder's name is the one plain
    # `docker compose` gives the project's own containers: djstack's must not take it over.
    own_name = project.root.name if project.stack_dir == "." else f"{project.root.name}-{project.stack_dir}"
    name = compose_name(options.name or recorded.get("COMPOSE_PROJECT_NAME") or own_name)
    domains = parse_domains(options.domains or _listed(recorded.get("DOMAINS", "")))
    tls = parse_tls(pick(options.tls, "TLS", "provided" if domains else "off"), domains)
    # With domains the site answers to them (and any extra --host); otherwise to --host or the defaults.
    if options.hosts or options.domains:
        hosts = tuple(dict.fromkeys((*domains, *options.hosts)))
    else:
        hosts = _listed(recorded.get("DJANGO_ALLOWED_HOSTS", "")) or domains
    http_port = parse_port(pick(options.http_port, "HTTP_PORT", 80), "HTTP_PORT", "--port")
    https_port = parse_port(pick(options.https_port, "HTTPS_PORT", 443), "HTTPS_PORT", "--https-port")
    distinct_ports(http_port, https_port, tls)
    # acme as provided: a browser ignores HSTS on the untrusted stand-in, and keeps it once the real
    # certificate is served.
    real = ("provided", "acme")
    hsts = parse_hsts(pick(options.hsts_seconds, "HSTS_SECONDS", DEFAULT_HSTS_SECONDS if tls in real else 0))
    if tls in real and options.hsts_seconds is None and recorded.get("TLS", tls) not in real:
        # Recorded under another TLS mode, where it was forced to 0 rather than chosen: a stack that
        # moves from self-signed to real certificates gets the default.
        hsts = DEFAULT_HSTS_SECONDS
    if tls not in real:
        hsts = 0  # never pin a self-signed certificate, and HSTS means nothing over plain HTTP
    acme_server = parse_acme_server(pick(options.acme_server, "ACME_SERVER", LETSENCRYPT_SERVER))
    acme_email = parse_acme_email(pick(options.acme_email, "ACME_EMAIL", ""))
    stack_dir = project.root if project.stack_dir == "." else project.root / project.stack_dir
    acme_ca = options.acme_ca_bundle is not None or (stack_dir / STACK_FILES.acme_ca).is_file()
    hosts = parse_hosts(hosts)
    workers = worker_plan(project, options, recorded)
    services = Services()
    present = {services.web, services.nginx, services.db, services.redis, *([services.certbot] if tls == "acme" else [])}
    extras = dict(workers.extra_services) if workers else {}
    if workers:
        present |= {services.broker, services.worker, *([services.beat] if workers.beat else []),
                    *([services.flower] if workers.flower else [])}
    limits = {}
    for svc, (mem, pids) in [*DEFAULT_LIMITS.items(), *((name, EXTRA_LIMITS) for name in extras)]:
        if svc not in present and svc not in extras:
            continue  # a service this stack does not run has no limits in its .env
        mem_key, pids_key = limit_keys(svc)
        limits[svc] = (parse_memory(recorded.get(mem_key) or mem, mem_key),
                       parse_pids(recorded.get(pids_key) or str(pids), pids_key))
    login_rate = parse_login_rate(recorded.get("ADMIN_LOGIN_RATE") or str(DEFAULT_LOGIN_RATE))
    csp = parse_csp(pick(options.csp, "CSP", "default"))
    project_env = tuple(
        ProjectVariable(read.name, f"{_relative(read.file, project.root)}:{read.line}", read.kind,
                        recorded.get(read.name, ""))
        for read in project.env_reads
        if read.required and read.name not in SUPPLIED_ENV and not (workers and read.name in WORKER_SUPPLIED_ENV)
    )
    db_default = re.sub(r"[^a-z0-9_]", "_", name.lower())[:32]
    stack_secrets = {}
    for key in stack_secret_keys(workers):
        value = recorded.get(key) or new_secret(SECRET_LENGTHS.get(key, 40))
        stack_secrets[key] = parse_url_secret(value, key) if key in URL_SECRETS else value
    return Stack(
        project=project,
        name=name,
        image_source=source,
        images=images,
        python=python,
        hosts=hosts or DEFAULT_HOSTS,
        http_bind=pick(options.http_bind, "HTTP_BIND", "0.0.0.0"),
        http_port=http_port,
        secrets=stack_secrets,
        db_name=recorded.get("MYSQL_DATABASE") or db_default,
        db_user=recorded.get("MYSQL_USER") or db_default[:32],
        pip_index_url=pick(options.pip_index_url, "PIP_INDEX_URL", ""),
        pip_ca_bundle=pick(options.pip_ca_bundle, "PIP_CA_BUNDLE", str(HOST_CA_BUNDLE) if HOST_CA_BUNDLE.is_file() else ""),
        debian_mirror=pick(options.debian_mirror, "DEBIAN_MIRROR", ""),
        domains=domains,
        tls=tls,
        tls_profile=parse_tls_profile(pick(options.tls_profile, "TLS_PROFILE", "intermediate")),
        https_port=https_port,
        hsts_seconds=hsts,
        acme_server=acme_server,
        acme_email=acme_email,
        acme_ca=acme_ca,
        certbot_image=(recorded.get("CERTBOT_IMAGE") if same_source and recorded.get("CERTBOT_IMAGE")
                       else certbot_image(source)) if tls == "acme" else "",
        limits=limits,
        confinement={**CONFINEMENT, **{name: EXTRA_CONFINEMENT for name in extras}},
        workers=workers,
        login_rate=login_rate,
        csp=csp,
        project_env=project_env,
        web_release=recorded.get("WEB_RELEASE") or "latest",
        previous_release=recorded.get(PREVIOUS_KEY, ""),
    )


def worker_plan(project: DjangoProject, options: StackOptions, recorded: Mapping[str, str]) -> WorkerPlan | None:
    """The background services: with a Celery app, unless --no-workers (or WORKERS=off) says not."""
    def switch(option: bool | None, key: str, default: str) -> bool:
        text = ("on" if option else "off") if option is not None else recorded.get(key) or default
        return parse_switch(text, key)

    app = project.celery
    if app is None or not switch(options.workers, "WORKERS", "on"):
        return None
    return WorkerPlan(
        app=app.module,
        namespace=f"{app.namespace}_" if app.namespace else "",
        beat=app.beat,
        flower=switch(options.flower, "FLOWER", "off"),
        concurrency=parse_concurrency(recorded.get("WORKER_CONCURRENCY") or str(default_concurrency())),
        task_seconds=parse_task_seconds(recorded.get("TASK_TIME_LIMIT") or str(DEFAULT_TASK_SECONDS)),
        extra=tuple(p for p in project.processes if p.role == "other"),
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --- the recorded settings: one parser each --------------------------------------------------------
# Each takes the setting's text (from .env or a CLI option) and returns its value, or raises a
# BadEnvEntry naming the .env key that records it. build_stack assembles a Stack from them;
# bad_env_entries runs them on a .env's values and collects every bad entry.


def _listed(text: str) -> tuple[str, ...]:
    """A comma-separated .env value (DOMAINS, DJANGO_ALLOWED_HOSTS) as its items."""
    return tuple(item for item in text.split(",") if item)


def limit_keys(service: str) -> tuple[str, str]:
    """The .env keys of a service's memory and process limits."""
    return f"{service.upper()}_MEM_LIMIT", f"{service.upper()}_PIDS_LIMIT"


def parse_image_source(text: str) -> str:
    if text not in IMAGE_SETS:
        raise BadEnvEntry("IMAGE_SOURCE", f"Unknown image source {text!r} (from IMAGE_SOURCE in .env or --images).",
                          f"Use one of: {', '.join(IMAGE_SOURCES)}.")
    return text


def parse_python(request: PythonRequest | None, source: str, version: str | None, given_by: str) -> PythonChoice:
    """The web image's Python: `version` (from `given_by`) when the source's images offer it, else
    the project's request (see choose_python)."""
    try:
        return choose_python(request, PYTHONS[source], DEFAULT_PYTHON, version, images=source, override_from=given_by)
    except DjstackError as exc:
        raise BadEnvEntry("PYTHON_VERSION", exc.message, exc.fix) from None


def compose_name(text: str) -> str:
    """A valid Compose project name: lowercase letters, digits, '-' and '_', starting alphanumeric."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    if not name:
        raise BadEnvEntry("COMPOSE_PROJECT_NAME", f"Cannot make a Compose project name from {text!r}.",
                          "Pass --name NAME.")
    return name


def parse_tls(text: str, domains: tuple[str, ...]) -> str:
    if text not in TLS_MODES:
        raise BadEnvEntry("TLS", f"Unknown TLS mode {text!r} (from TLS in .env or --tls).",
                          f"Use one of: {', '.join(TLS_MODES)}.")
    if text != "off" and not domains:
        raise BadEnvEntry("TLS", f"TLS {text} needs the site's domain names.",
                          "Pass --domain NAME (repeatable), e.g. --domain example.com --domain www.example.com.")
    return text


_ACME_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$")
_EMAIL = re.compile(r"^[^@\s,]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def parse_acme_server(text: str) -> str:
    """An ACME directory URL: https only (RFC 8555 requires it)."""
    if not _ACME_URL.match(text):
        raise BadEnvEntry("ACME_SERVER", f"ACME_SERVER {text!r} is not an https:// URL (from .env or --acme-server).",
                          f"Give the ACME server's directory URL, e.g. {LETSENCRYPT_SERVER}.")
    return text


def parse_acme_email(text: str) -> str:
    """The ACME account's contact address; empty for none."""
    if text and not _EMAIL.match(text):
        raise BadEnvEntry("ACME_EMAIL", f"ACME_EMAIL {text!r} is not an e-mail address (from .env or --acme-email).",
                          "Give one address, e.g. admin@example.com, or leave it empty (no expiry e-mails).")
    return text


def parse_seconds(text: str, key: str) -> int:
    """ACME_RENEW_SECONDS, ACME_RETRY_SECONDS, CERT_CHECK_SECONDS: a whole number of seconds, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise BadEnvEntry(key, f".env: {key}={text!r} is not a number of seconds.", "Use a whole number, e.g. 3600.")
    return int(text)


def parse_tls_profile(text: str) -> str:
    if text not in TLS_PROFILES:
        raise BadEnvEntry("TLS_PROFILE", f"Unknown TLS profile {text!r} (from TLS_PROFILE in .env or --tls-profile).",
                          f"Use one of: {', '.join(TLS_PROFILES)}.")
    return text


def parse_port(value, key: str, option: str) -> int:
    text = str(value)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise BadEnvEntry(key, f"{key} {text!r} is not a port number (from .env or {option}).",
                          "Use a number from 1 to 65535.")
    return int(text)


def distinct_ports(http_port: int, https_port: int, tls: str) -> None:
    """With HTTPS on, nginx cannot publish both on one port."""
    if tls != "off" and https_port == http_port:
        raise BadEnvEntry("HTTPS_PORT", f"HTTP_PORT and HTTPS_PORT are both {http_port}.",
                          "Give --https-port a different port.")


def parse_hsts(value) -> int:
    text = str(value)
    if not text.isdigit():
        raise BadEnvEntry("HSTS_SECONDS", f"HSTS_SECONDS {text!r} is not a number of seconds.",
                          "Use 0 (off) or e.g. 31536000 (a year), in .env or with --hsts-seconds.")
    return int(text)


def parse_login_rate(text: str) -> int:
    if not text.isdigit():
        raise BadEnvEntry("ADMIN_LOGIN_RATE", f".env: ADMIN_LOGIN_RATE={text!r} is not a number.",
                          "Use the number of login POSTs a minute per address, or 0 for no limit.")
    return int(text)


def parse_csp(text: str) -> str:
    if text not in CSP_MODES:
        raise BadEnvEntry("CSP", f"Unknown CSP mode {text!r} (from CSP in .env or --csp).",
                          f"Use one of: {', '.join(CSP_MODES)}.")
    return text


_MEMORY = re.compile(r"^[1-9][0-9]*[kmg]?$")
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def memory_bytes(text: str) -> int:
    """A memory size as parse_memory accepts it ("512m"), in bytes."""
    unit = text[-1] if text[-1] in _UNITS else ""
    return int(text.removesuffix(unit)) * _UNITS[unit]


def parse_memory(text: str, key: str) -> str:
    if not _MEMORY.match(text.lower()):
        raise BadEnvEntry(key, f".env: {key}={text!r} is not a memory size.", "Use e.g. 512m or 1g.")
    return text.lower()


def parse_pids(text: str, key: str) -> int:
    if not text.isdigit() or int(text) < 16:
        raise BadEnvEntry(key, f".env: {key}={text!r} is not a process count.", "Use a number of at least 16, e.g. 256.")
    return int(text)


def parse_switch(text: str, key: str) -> bool:
    """WORKERS, FLOWER: on or off."""
    if text not in ("on", "off"):
        option = {"WORKERS": "--no-workers", "FLOWER": "--flower"}.get(key, "the command line")
        raise BadEnvEntry(key, f".env: {key}={text!r} is neither on nor off.",
                          f"Use {key}=on or {key}=off (init's {option} records it).")
    return text == "on"


def parse_concurrency(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise BadEnvEntry("WORKER_CONCURRENCY", f".env: WORKER_CONCURRENCY={text!r} is not a number of processes.",
                          "Use a number from 1 to 256: the worker's processes, e.g. the host's CPUs.")
    return int(text)


def parse_task_seconds(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 7 * 24 * 3600:
        raise BadEnvEntry("TASK_TIME_LIMIT", f".env: TASK_TIME_LIMIT={text!r} is not a number of seconds.",
                          f"Use the longest a task may run, in seconds (e.g. {DEFAULT_TASK_SECONDS}).")
    return int(text)


#: Secrets written into URLs (the broker's) and command lines unquoted: they take only URL-safe characters.
URL_SECRETS = (BROKER_SECRET, FLOWER_SECRET)
_URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_url_secret(text: str, key: str) -> str:
    if not _URL_SAFE.match(text):
        raise BadEnvEntry(key, f".env: {key} has characters other than letters, digits, '-' and '_'.",
                          f"It goes into a URL as it is: empty {key} and run `djstack init`, which makes a new one.")
    return text


_HOST = re.compile(r"^(\*|\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$")


_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def parse_domains(domains: tuple[str, ...]) -> tuple[str, ...]:
    """Certificates' DNS names: dot-separated labels, at least two, no wildcard, no IP address."""
    for domain in domains:
        labels = domain.lower().split(".")
        if (
            len(domain) > 253
            or len(labels) < 2
            or not all(_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()
        ):
            raise BadEnvEntry(
                "DOMAINS",
                f"--domain {domain!r} is not a valid domain name.",
                "Use a full DNS name such as example.com or www.example.com: letters, digits and '-' in "
                "dot-separated labels, no spaces, no empty label ('..'), no wildcard, no IP address.",
            )
    return tuple(domains)


def parse_hosts(hosts: tuple[str, ...]) -> tuple[str, ...]:
    """ALLOWED_HOSTS entries: domains, leading-dot wildcards, IP addresses, or '*'."""
    bad = next((host for host in hosts if not _HOST.match(host) or ".." in host), None)
    if bad is not None:
        raise BadEnvEntry(
            "DJANGO_ALLOWED_HOSTS",
            f"{bad!r} is not a valid host name for ALLOWED_HOSTS.",
            "Use a domain (example.com), a leading-dot wildcard (.example.com) or an IP address.",
        )
    return tuple(hosts)


#: The parser of each .env key whose text alone decides whether it is valid.
PARSERS: dict[str, Callable[[str], object]] = {
    "IMAGE_SOURCE": parse_image_source,
    "COMPOSE_PROJECT_NAME": compose_name,
    "DOMAINS": lambda text: parse_domains(_listed(text)),
    "DJANGO_ALLOWED_HOSTS": lambda text: parse_hosts(_listed(text)),
    "HTTP_PORT": lambda text: parse_port(text, "HTTP_PORT", "--port"),
    "HTTPS_PORT": lambda text: parse_port(text, "HTTPS_PORT", "--https-port"),
    "TLS_PROFILE": parse_tls_profile,
    "HSTS_SECONDS": parse_hsts,
    "ADMIN_LOGIN_RATE": parse_login_rate,
    "CSP": parse_csp,
    "ACME_SERVER": parse_acme_server,
    "ACME_EMAIL": parse_acme_email,
    **{key: partial(parse_seconds, key=key) for key in ("ACME_RENEW_SECONDS", "ACME_RETRY_SECONDS", "CERT_CHECK_SECONDS")},
    "WORKERS": partial(parse_switch, key="WORKERS"),
    "FLOWER": partial(parse_switch, key="FLOWER"),
    "WORKER_CONCURRENCY": parse_concurrency,
    "TASK_TIME_LIMIT": parse_task_seconds,
    **{key: partial(parse_url_secret, key=key) for key in URL_SECRETS},
    **{mem: partial(parse_memory, key=mem) for mem, _ in map(limit_keys, DEFAULT_LIMITS)},
    **{pids: partial(parse_pids, key=pids) for _, pids in map(limit_keys, DEFAULT_LIMITS)},
}


def bad_env_entries(values: Mapping[str, str], path: Path | str | None = None,
                    lines: Mapping[str, int] | None = None) -> list[BadEnvEntry]:
    """Every entry of a `.env` (its `values`, read from `path` with each key's line in `lines`) that
    build_stack would refuse, all at once, each naming its key and line. An empty value is never bad
    (it means the default). build_stack(project, StackOptions(), values without these keys) accepts
    what is left: a setting that depends on another is judged with the other's valid value."""
    lines = lines or {}
    bad: list[BadEnvEntry] = []
    good: dict[str, object] = {}

    def refuse(key: str, exc: BadEnvEntry) -> None:
        bad.append(BadEnvEntry(key, exc.problem, exc.fix, path=path, line=lines.get(key)))

    def judge(key: str, parse: Callable[[str], object]) -> None:
        try:
            good[key] = parse(values[key])
        except BadEnvEntry as exc:
            refuse(key, exc)

    for key, parse in PARSERS.items():
        if values.get(key):
            judge(key, parse)
    source = good.get("IMAGE_SOURCE", "official")
    domains = good.get("DOMAINS", ())
    if values.get("PYTHON_VERSION"):
        judge("PYTHON_VERSION", lambda text: parse_python(None, source, text, ".env's PYTHON_VERSION"))
    if values.get("TLS"):
        judge("TLS", lambda text: parse_tls(text, domains))
    try:
        distinct_ports(good.get("HTTP_PORT", 80), good.get("HTTPS_PORT", 443),
                       good.get("TLS") or ("provided" if domains else "off"))
    except BadEnvEntry as exc:
        # Each port recorded makes the clash: left out alone, the other would still meet its default.
        for key in ("HTTP_PORT", "HTTPS_PORT"):
            if key in good:
                refuse(key, exc)
    return bad
