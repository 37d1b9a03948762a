"""`djstack check`: a fresh stack is clean; each defect planted in one is found at its file and line;
the tutorial's own files show each of the tutorial's defects; the CLI's JSON and exit codes.

Planted edits and expected values use the model's values (<<placeholders>> below), never re-typed
ports, paths or names.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import REPO
from djstack.check import ERROR, RULES, WARNING, run_check
from djstack.cli import main
from djstack.envfile import read_env
from djstack.initialise import run_init
from djstack.model import Stack, StackOptions

TUTORIAL = REPO / "tests" / "fixtures" / "tutorial"
SOURCES = ("official", "debian")
#: A finding's message, why and fix each fit a 100-column terminal after the report's indent.
MAX_TEXT = 90


def init_stack(project: Path, source: str) -> Stack:
    stack, _ = run_init(project, StackOptions(image_source=source), force=False)
    return stack


@pytest.fixture(params=SOURCES)
def fresh(example_copy, request) -> Stack:
    """`djstack init` output of examples/mysite, for each image source."""
    return init_stack(example_copy, request.param)


def values(stack: Stack) -> dict[str, str]:
    """What <<name>> stands for in the catalogue: the model's values and .env's secrets."""
    s = stack
    found = {
        "web": s.services.web, "nginx": s.services.nginx, "db": s.services.db, "redis": s.services.redis,
        "uwsgi_port": str(s.ports.uwsgi), "db_port": str(s.ports.db), "redis_port": str(s.ports.redis),
        "http": str(s.ports.http), "http_port": str(s.http_port), "hosts": ",".join(s.hosts), "host0": s.hosts[0],
        "static": s.paths.static, "media": s.paths.media, "app": s.paths.app,
        "mysql_conf": s.paths.mysql_conf, "redis_conf": s.paths.redis_conf,
        "vol_media": s.volumes.media, "front": s.networks.front, "dbnet": s.networks.db,
        "redisnet": s.networks.redis, "brokernet": s.networks.broker, "broker": s.services.broker,
        "worker": s.services.worker, "broker_port": str(s.ports.broker),
        "worker_grace": str(s.workers.stop_grace_seconds) if s.workers else "", "redis_user": s.redis_acl.user, "db_user": s.db_user, "db_name": s.db_name, "db_image": s.images.db,
        "max_upload": str(s.max_upload_mb), "overlay": str(s.project.overlay_file),
        "overlay_module": s.project.overlay_module,
        "settings": s.project.settings_file.relative_to(s.project.root).as_posix(),
        "static_url": s.url_path(s.project.static_url), "media_url": s.url_path(s.project.media_url),
    }
    found.update(read_env(s.project.root / ".env"))
    return found


def fill(text: str, known: dict[str, str]) -> str:
    for key, value in known.items():
        text = text.replace(f"<<{key}>>", value)
    assert "<<" not in text, f"unknown placeholder in {text!r}"
    return text


def line_of(path: Path, marker: str, after: str | None = None) -> int:
    """The line that is `marker` (stripped), else the first one containing it; with `after`, only
    lines below the first one that is (or contains) `after` count (the broker's command, not redis's)."""
    lines = path.read_text().splitlines()
    start = line_of(path, after) if after is not None else 0
    for number, line in enumerate(lines, start=1):
        if number > start and line.strip() == marker.strip():
            return number
    for number, line in enumerate(lines, start=1):
        if number > start and marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


@dataclass(frozen=True)
class Plant:
    """A defect planted by small text edits in a fresh stack, and the finding it must cause."""

    name: str
    id: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old text, new text); old "" appends / creates
    file: str  # where the finding points
    marker: str | None  # the line it points at; None: no line (something missing)
    sources: tuple[str, ...] = field(default=SOURCES)
    after: str | None = None  # the marker's line is the first below this one

    def apply(self, stack: Stack) -> dict[str, str]:
        """Make the edits; returns the placeholders' values from before them."""
        known = values(stack)
        root = stack.project.root
        for file, old, new in self.edits:
            path = root / fill(file, known)
            text = path.read_text() if path.exists() else ""
            old, new = fill(old, known), fill(new, known)
            if old:
                assert text.count(old) >= 1, f"{old!r} not in {file}"
                text = text.replace(old, new, 1)
            else:
                text += new
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return known

    def expected(self, stack: Stack, known: dict[str, str]) -> tuple[str, str, int | None]:
        file = fill(self.file, known)
        after = fill(self.after, known) if self.after else None
        line = None if self.marker is None else line_of(stack.project.root / file, fill(self.marker, known), after)
        return self.id, file, line


NGINX = "compose/nginx/nginx.conf"
UWSGI = "compose/web/uwsgi.ini"
COMPOSE = "docker-compose.yml"
OVERLAY = "<<overlay>>"
CNF = "compose/mysql/conf/djstack.cnf"
INIT = "compose/mysql/init/01-extra.sql"
REDIS_CONF = "compose/redis/redis.conf"
BROKER_CONF = "compose/redis/broker.conf"
ENTRY = "compose/web/entrypoint.sh"
PASS = "uwsgi_pass $web;"
SET_WEB = "set $web <<web>>:<<uwsgi_port>>;"
DEFAULT_OFF = " --user default off"  # in redis's command
ACL_PASSWORD = '">$$REDISCLI_AUTH"'
REDIS_COMMAND = "      - sh\n"  # where redis's command starts: its findings point there
#: redis's command line, respaced (the same words): an edit of the same text then changes the broker's.
SKIP_REDIS_ACL = (COMPOSE, DEFAULT_OFF, " --user  default off")
AFTER_REDIS = "REDISCLI_AUTH: ${REDIS_PASSWORD"  # the last line of redis's command and environment
WEB_DB_NETS = "      - <<dbnet>>\n      - <<redisnet>>\n"

CATALOGUE = [
    # nginx <-> uWSGI
    Plant("uwsgi speaks http", "nginx-uwsgi-pass-to-http-socket",
          ((UWSGI, "socket = :<<uwsgi_port>>", "http-socket = :<<uwsgi_port>>"),), NGINX, PASS),
    Plant("proxy_pass to uwsgi socket", "nginx-proxy-pass-to-uwsgi-socket",
          ((NGINX, PASS, "proxy_pass http://$web;"),), NGINX, "proxy_pass http://$web;"),
    Plant("upstream port", "nginx-upstream-port-mismatch",
          ((NGINX, SET_WEB, "set $web <<web>>:9000;"),), NGINX, "set $web <<web>>:9000;"),
    Plant("upstream port in an upstream block", "nginx-upstream-port-mismatch",
          ((NGINX, SET_WEB, ""), (NGINX, PASS, "uwsgi_pass django;"),
           (NGINX, "    server {", "    upstream django {\n        server <<web>>:9001;\n    }\n    server {")),
          NGINX, "server <<web>>:9001;"),
    Plant("upstream host", "nginx-upstream-not-a-service",
          ((NGINX, SET_WEB, "set $web webapp:<<uwsgi_port>>;"),), NGINX, "set $web webapp:<<uwsgi_port>>;"),
    Plant("nginx and web share no network", "nginx-upstream-not-on-shared-network",
          ((COMPOSE, "      - <<front>>\n      - <<dbnet>>\n", "      - <<dbnet>>\n"),), NGINX, SET_WEB),
    Plant("nothing passed to web", "nginx-no-pass-to-web",
          ((NGINX, PASS, "return 503;"),), NGINX, "    server {"),
    Plant("uwsgi params missing", "nginx-uwsgi-params-missing",
          ((NGINX, "uwsgi_param REQUEST_METHOD $request_method;", ""),), NGINX, PASS),
    Plant("proxy_set_header under uwsgi_pass", "nginx-proxy-set-header-ignored",
          ((NGINX, PASS, PASS + "\n            proxy_set_header X-Real-IP $remote_addr;"),),
          NGINX, "proxy_set_header X-Real-IP $remote_addr;"),
    Plant("static location without the server's policy", "nginx-location-drops-security-headers",
          ((NGINX, "a minute\n            add_header X-Content-Type-Options nosniff always;", "a minute"),),
          NGINX, "location <<static_url>> {"),
    Plant("scheme never sent", "nginx-forwarded-proto-not-sent",
          ((NGINX, "uwsgi_param HTTP_X_FORWARDED_PROTO $scheme;", ""),), NGINX, PASS),
    Plant("scheme sent with proxy_set_header", "nginx-forwarded-proto-not-sent",
          ((NGINX, "uwsgi_param HTTP_X_FORWARDED_PROTO $scheme;", "proxy_set_header X-Forwarded-Proto $scheme;"),),
          NGINX, PASS),
    Plant("uwsgi on loopback", "uwsgi-listens-on-loopback",
          ((UWSGI, "socket = :<<uwsgi_port>>", "socket = 127.0.0.1:<<uwsgi_port>>"),), UWSGI, "socket = 127.0.0.1"),
    Plant("uwsgi daemonize", "uwsgi-daemonize", ((UWSGI, "", "daemonize = /tmp/uwsgi.log\n"),), UWSGI, "daemonize = /tmp/uwsgi.log"),
    # hosts, HTTPS, body size
    Plant("server_name not allowed", "allowed-hosts-missing-server-name",
          ((".env", "DJANGO_ALLOWED_HOSTS=<<hosts>>", "DJANGO_ALLOWED_HOSTS=<<host0>>"),),
          ".env", "DJANGO_ALLOWED_HOSTS="),
    Plant("allowed hosts empty", "settings-allowed-hosts-empty",
          ((OVERLAY, 'ALLOWED_HOSTS = _list("DJANGO_ALLOWED_HOSTS")', "ALLOWED_HOSTS = []"),), OVERLAY, "ALLOWED_HOSTS = []"),
    Plant("https without trusted origins", "https-csrf-trusted-origins-missing",
          ((NGINX, "listen <<http>>;", "listen 443 ssl;"),
           (OVERLAY, 'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")', "")),
          NGINX, "listen 443 ssl;"),
    Plant("nginx body limit lower", "nginx-body-limit-below-django",
          ((NGINX, "client_max_body_size <<max_upload>>m;", "client_max_body_size 1m;"),), NGINX, "client_max_body_size 1m;"),
    Plant("nginx body limit higher", "nginx-body-limit-above-django",
          ((NGINX, "client_max_body_size <<max_upload>>m;", "client_max_body_size 100m;"),),
          NGINX, "client_max_body_size 100m;"),
    # static and media
    Plant("https without certificate", "tls-certificate-unusable",
          ((".env", "TLS=off", "TLS=provided"), (".env", "DOMAINS=\n", "DOMAINS=example.com\n")),
          "compose/nginx/ssl/fullchain.pem", None),
    Plant("no static location", "nginx-static-location-missing",
          ((NGINX, "location <<static_url>> {", "location /assets/ {"),), NGINX, "    server {  # the site"),
    Plant("no media location", "nginx-media-location-missing",
          ((NGINX, "location <<media_url>> {", "location /uploads/ {"),), NGINX, "    server {  # the site"),
    Plant("static alias elsewhere", "nginx-static-alias-mismatch",
          ((NGINX, "alias <<static>>/;", "alias /var/www/static/;"),), NGINX, "alias /var/www/static/;"),
    Plant("media alias without slash", "nginx-media-alias-mismatch",
          ((NGINX, "alias <<media>>/;", "alias <<media>>;"),), NGINX, "alias <<media>>;"),
    Plant("STATIC_ROOT off the volume", "static-root-not-shared",
          ((OVERLAY, '"DJANGO_STATIC_ROOT", "<<static>>"', '"DJANGO_STATIC_ROOT", "/var/collected"'),),
          OVERLAY, "STATIC_ROOT ="),
    Plant("media volume not in nginx", "media-root-not-shared",
          ((COMPOSE, "      - <<vol_media>>:<<media>>\n", "      - uploads:<<media>>\n"),), OVERLAY, "MEDIA_ROOT ="),
    Plant("MEDIA_ROOT off the volume", "media-root-not-shared",
          ((OVERLAY, 'MEDIA_ROOT = "<<media>>"', 'MEDIA_ROOT = "/var/uploads"'),), OVERLAY, "MEDIA_ROOT ="),
    # settings
    Plant("settings module misspelt", "settings-module-missing",
          ((COMPOSE, "DJANGO_SETTINGS_MODULE: <<overlay_module>>", "DJANGO_SETTINGS_MODULE: mysite.settings_prod"),),
          COMPOSE, "DJANGO_SETTINGS_MODULE: mysite.settings_prod"),
    Plant("DEBUG on", "settings-debug-on", ((OVERLAY, "DEBUG = False", "DEBUG = True"),), OVERLAY, "DEBUG = True"),
    Plant("Debug typo", "settings-debug-typo", ((OVERLAY, "DEBUG = False", "Debug = False"),), OVERLAY, "Debug = False"),
    Plant("secret key in settings", "settings-hardcoded-secret",
          ((OVERLAY, 'SECRET_KEY = _required("DJANGO_SECRET_KEY")', 'SECRET_KEY = "x9-hard-coded-0123456789abcdefghijklmn"'),),
          OVERLAY, "SECRET_KEY ="),
    Plant("required variable not passed", "settings-env-not-set",
          ((COMPOSE, "      DJANGO_SECRET_KEY: ${DJANGO_SECRET_KEY:?set DJANGO_SECRET_KEY in .env}\n", ""),),
          OVERLAY, "SECRET_KEY ="),
    Plant("sqlite", "settings-db-engine-not-mysql",
          ((OVERLAY, '"django.db.backends.mysql"', '"django.db.backends.sqlite3"'),), OVERLAY, '"ENGINE":'),
    Plant("db host", "settings-db-host-not-a-service",
          ((OVERLAY, '"HOST": "<<db>>"', '"HOST": "mysql"'),), OVERLAY, '"HOST":'),
    Plant("db host localhost", "settings-db-host-not-a-service",
          ((OVERLAY, '"HOST": "<<db>>"', '"HOST": "localhost"'),), OVERLAY, '"HOST":'),
    Plant("web off the db network", "settings-db-host-not-on-shared-network",
          ((COMPOSE, WEB_DB_NETS, "      - <<redisnet>>\n"),), OVERLAY, '"HOST":'),
    Plant("redis host", "settings-redis-host-not-a-service",
          ((OVERLAY, "@<<redis>>:", "@cache:"),), OVERLAY, '"LOCATION":'),
    Plant("web off the redis network", "settings-redis-host-not-on-shared-network",
          ((COMPOSE, WEB_DB_NETS, "      - <<dbnet>>\n"),), OVERLAY, '"LOCATION":'),
    Plant("db port", "settings-db-port-mismatch",
          ((OVERLAY, '"PORT": "<<db_port>>"', '"PORT": "3307"'),), OVERLAY, '"PORT":'),
    Plant("redis port", "settings-redis-port-mismatch",
          ((OVERLAY, "@<<redis>>:<<redis_port>>/", "@<<redis>>:6380/"),), OVERLAY, '"LOCATION":'),
    Plant("db user differs (compose)", "settings-db-credentials-mismatch",
          ((COMPOSE, "MYSQL_USER: ${MYSQL_USER:?set MYSQL_USER in .env}", "MYSQL_USER: someone"),),
          COMPOSE, "MYSQL_USER: someone"),
    Plant("db password hard-coded and different", "settings-db-credentials-mismatch",
          ((OVERLAY, '"PASSWORD": os.environ.get("MYSQL_PASSWORD", "")', '"PASSWORD": "x9-other-0123456789abcdefghijklmn"'),),
          OVERLAY, '"PASSWORD":'),
    Plant("utf8 connection", "settings-db-charset-utf8",
          ((OVERLAY, '{"charset": "utf8mb4"}', '{"charset": "utf8"}'),), OVERLAY, '"OPTIONS": {"charset": "utf8"}'),
    # Redis
    Plant("redis bind loopback", "redis-bind-loopback",
          ((REDIS_CONF, "bind 0.0.0.0", "bind 127.0.0.1"),), REDIS_CONF, "bind 127.0.0.1"),
    Plant("redis without password", "redis-no-password",
          ((COMPOSE, DEFAULT_OFF, ""),), COMPOSE, REDIS_COMMAND),
    Plant("redis.conf password differs", "redis-password-mismatch",
          ((COMPOSE, DEFAULT_OFF, ""), (OVERLAY, "redis://<<redis_user>>@", "redis://"),
           (REDIS_CONF, "", "requirepass x9-another-0123456789abcdefghijkl\n")),
          REDIS_CONF, "requirepass"),
    Plant("redis command password differs", "redis-password-mismatch",
          ((COMPOSE, "REDISCLI_AUTH: ${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}", "REDISCLI_AUTH: x9-other-0123456789abcdefghijkl"),),
          COMPOSE, "REDISCLI_AUTH:"),
    Plant("redis user unknown", "redis-user-unknown",
          ((OVERLAY, "redis://<<redis_user>>@", "redis://cache@"),), OVERLAY, '"LOCATION":'),
    Plant("redis user off", "redis-user-unknown",
          ((COMPOSE, "--user <<redis_user>> on ", "--user <<redis_user>> off "),), OVERLAY, '"LOCATION":'),
    Plant("redis user may run CONFIG", "redis-user-unconfined",
          ((COMPOSE, " -@dangerous", ""),), COMPOSE, REDIS_COMMAND),
    Plant("redis user given back CONFIG", "redis-user-unconfined",
          ((COMPOSE, " +info", " +info +config"),), COMPOSE, REDIS_COMMAND),
    Plant("redis password in redis.conf", "redis-hardcoded-password",
          ((REDIS_CONF, "", "requirepass <<REDIS_PASSWORD>>\n"),), REDIS_CONF, "requirepass"),
    Plant("redis password in the ACL", "redis-hardcoded-password",
          ((COMPOSE, ACL_PASSWORD, '">x9-another-0123456789abcdefghijkl"'),), COMPOSE, REDIS_COMMAND),
    Plant("redis.conf not loaded", "redis-conf-not-loaded",
          ((COMPOSE, "exec redis-server <<redis_conf>> ", "exec redis-server "),), COMPOSE, REDIS_COMMAND),
    Plant("redis port published", "redis-port-published",
          ((COMPOSE, "    user: redis\n", '    user: redis\n    ports:\n      - "<<redis_port>>:<<redis_port>>"\n'),),
          COMPOSE, '- "<<redis_port>>:<<redis_port>>"'),
    # background work: the broker's Redis, Celery's broker URL, who reaches the broker
    Plant("broker evicts", "broker-evicting-policy",
          ((BROKER_CONF, "maxmemory-policy noeviction", "maxmemory-policy allkeys-lru"),),
          BROKER_CONF, "maxmemory-policy allkeys-lru"),
    Plant("broker without AOF", "broker-aof-off",
          ((BROKER_CONF, "appendonly yes", "appendonly no"),), BROKER_CONF, "appendonly no"),
    Plant("broker's AOF never fsynced", "broker-aof-off",
          ((BROKER_CONF, "appendfsync everysec", "appendfsync no"),), BROKER_CONF, "appendfsync no"),
    Plant("broker port published", "broker-port-published",
          ((COMPOSE, "      - <<brokernet>>\n    healthcheck:\n",
            '      - <<brokernet>>\n    ports:\n      - "6380:<<broker_port>>"\n    healthcheck:\n'),),
          COMPOSE, '- "6380:<<broker_port>>"'),
    Plant("tasks sent to the cache (compose)", "settings-broker-on-cache-redis",
          ((COMPOSE, "@<<broker>>:<<broker_port>>/0", "@<<redis>>:<<redis_port>>/2"),), COMPOSE, "CELERY_BROKER_URL:"),
    Plant("tasks sent to the cache (overlay)", "settings-broker-on-cache-redis",
          ((COMPOSE, "      CELERY_BROKER_URL: redis://<<redis_user>>:${BROKER_PASSWORD}@<<broker>>:<<broker_port>>/0\n", ""),
           (OVERLAY, 'CELERY_BROKER_URL = _required("CELERY_BROKER_URL")',
            'CELERY_BROKER_URL = "redis://<<redis_user>>:x@<<redis>>:<<redis_port>>/2"')), OVERLAY, "CELERY_BROKER_URL ="),
    Plant("broker without password", "broker-no-password",
          (SKIP_REDIS_ACL, (COMPOSE, DEFAULT_OFF, "")), COMPOSE, REDIS_COMMAND, after=AFTER_REDIS),
    Plant("broker's password differs", "broker-credentials-mismatch",
          ((COMPOSE, "REDISCLI_AUTH: ${BROKER_PASSWORD:?set BROKER_PASSWORD in .env}",
            "REDISCLI_AUTH: x9-other-0123456789abcdefghijkl"),), COMPOSE, "CELERY_BROKER_URL:"),
    Plant("broker user unknown", "broker-credentials-mismatch",
          ((COMPOSE, "redis://<<redis_user>>:${BROKER_PASSWORD}@<<broker>>:<<broker_port>>/0",
            "redis://celery:${BROKER_PASSWORD}@<<broker>>:<<broker_port>>/0"),), COMPOSE, "CELERY_BROKER_URL:"),
    Plant("visibility timeout below the time limit", "settings-visibility-timeout-short",
          ((OVERLAY, '{"visibility_timeout": ', '{"visibility_timeout": 60, "was": '),), OVERLAY,
          "CELERY_BROKER_TRANSPORT_OPTIONS ="),
    Plant("worker stopped before its tasks end", "worker-stop-grace-short",
          ((COMPOSE, "stop_grace_period: <<worker_grace>>s", "stop_grace_period: 1m"),), COMPOSE,
          "stop_grace_period: 1m"),
    Plant("two beats", "beat-scaled",
          ((COMPOSE, '"beat", "--loglevel", "INFO"]\n', '"beat", "--loglevel", "INFO"]\n    scale: 2\n'),), COMPOSE,
          "scale: 2"),
    Plant("worker off the broker network", "worker-off-broker-network",
          ((COMPOSE, "    environment: *django-environment\n    networks:\n      - <<front>>\n      - <<dbnet>>\n"
                     "      - <<redisnet>>\n      - <<brokernet>>\n",
            "    environment: *django-environment\n"),), COMPOSE, "<<worker>>:"),
    # compose, MySQL
    Plant("db port published", "db-port-published",
          ((COMPOSE, "    image: ${DB_IMAGE:?set DB_IMAGE in .env}\n",
            '    image: ${DB_IMAGE:?set DB_IMAGE in .env}\n    ports:\n      - "<<db_port>>:<<db_port>>"\n'),),
          COMPOSE, '- "<<db_port>>:<<db_port>>"'),
    Plant("nginx gets SYS_ADMIN", "compose-privilege-added",
          ((COMPOSE, "      - CHOWN  #", "      - SYS_ADMIN\n      - CHOWN  #"),), COMPOSE, "- SYS_ADMIN"),
    Plant("web privileged", "compose-privilege-added",
          ((COMPOSE, "    cap_drop: [ALL]\n", "    privileged: true\n    cap_drop: [ALL]\n"),), COMPOSE, "privileged: true"),
    Plant("web's root writable", "compose-confinement-removed",
          ((COMPOSE, "    read_only: true\n", "    read_only: false\n"),), COMPOSE, "read_only: false"),
    Plant("db swaps", "compose-confinement-removed",
          ((COMPOSE, "    memswap_limit: ${DB_MEM_LIMIT:-", "    memswap_limit: ${DB_SWAP:-4g}  # was ${DB_MEM_LIMIT:-"),),
          COMPOSE, "memswap_limit: ${DB_SWAP:-4g}"),
    Plant("compose version", "compose-version-obsolete", ((COMPOSE, "name: ", 'version: "3"\nname: '),), COMPOSE, "version:"),
    Plant("nginx service renamed", "compose-service-missing",
          ((COMPOSE, "  <<nginx>>:\n    build:\n      context: ./compose/nginx", "  proxy:\n    build:\n      context: ./compose/nginx"),),
          COMPOSE, "services:"),
    Plant("my.cnf over the main config", "mysql-config-over-main",
          ((COMPOSE, ":<<mysql_conf>>:ro", ":/etc/mysql/my.cnf:ro"),), COMPOSE, "/etc/mysql/my.cnf"),
    Plant("/etc/my.cnf replaced", "mysql-config-over-main",
          ((COMPOSE, ":<<mysql_conf>>:ro", ":/etc/my.cnf:ro"),), COMPOSE, "/etc/my.cnf"),
    Plant("removed option", "mysql-removed-option",
          ((CNF, "max_connections = 200", "max_connections = 200\ndefault-authentication-plugin = caching_sha2_password"),),
          CNF, "default-authentication-plugin"),
    Plant("native password on MySQL 9", "mysql-native-password",
          ((".env", "DB_IMAGE=<<db_image>>", "DB_IMAGE=mysql:9.1"),
           (CNF, "max_connections = 200", "max_connections = 200\nmysql_native_password = ON")),
          CNF, "mysql_native_password = ON"),
    Plant("utf8 server charset", "mysql-charset-utf8",
          ((CNF, "character-set-server = utf8mb4", "character-set-server = utf8"),), CNF, "character-set-server = utf8"),
    Plant("utf8 client charset", "mysql-charset-utf8",
          ((CNF, "default-character-set = utf8mb4", "default-character-set = utf8"),), CNF, "default-character-set = utf8"),
    Plant("mysql bind loopback", "mysql-bind-loopback",
          ((CNF, "max_connections = 200", "max_connections = 200\nbind-address = 127.0.0.1"),), CNF, "bind-address"),
    Plant("db image unpinned in .env", "mysql-image-unpinned",
          ((".env", "DB_IMAGE=<<db_image>>", "DB_IMAGE=mysql"),), ".env", "DB_IMAGE=mysql"),
    Plant("db image latest in compose", "mysql-image-unpinned",
          ((COMPOSE, "image: ${DB_IMAGE:?set DB_IMAGE in .env}", "image: mysql:latest"),), COMPOSE, "image: mysql:latest"),
    Plant("GRANT IDENTIFIED BY", "mysql-init-grant-identified-by",
          ((INIT, "", "-- more rights\nGRANT ALL PRIVILEGES ON <<db_name>>.* TO '<<db_user>>'@'%' IDENTIFIED BY '<<MYSQL_PASSWORD>>';\n"),),
          INIT, "GRANT"),
    Plant("init SQL native password", "mysql-init-native-password",
          ((INIT, "", "ALTER USER '<<db_user>>'@'%' IDENTIFIED WITH mysql_native_password BY '<<MYSQL_PASSWORD>>';\n"),),
          INIT, "ALTER USER", sources=("official",)),
    Plant("init SQL password differs", "mysql-init-password-mismatch",
          ((INIT, "", "/* reset */\nALTER USER '<<db_user>>'@'%'\n  IDENTIFIED BY 'x9-other-0123456789abcdefghijkl';\n"),),
          INIT, "ALTER USER"),
    Plant("init SQL password written", "mysql-init-hardcoded-password",
          ((INIT, "", "CREATE USER IF NOT EXISTS 'reporting'@'%' IDENTIFIED BY 'x9-report-0123456789abcdefghijkl';\n"),),
          INIT, "CREATE USER"),
    # web container
    Plant("makemigrations", "entrypoint-makemigrations",
          ((ENTRY, "    python manage.py migrate", "    python manage.py makemigrations\n    python manage.py migrate"),),
          ENTRY, "python manage.py makemigrations"),
    Plant("no exec", "entrypoint-no-exec", ((ENTRY, 'exec "$@"', '"$@"'),), ENTRY, '"$@"'),
    Plant("tail -f", "entrypoint-tail-f", ((ENTRY, 'exec "$@"', '"$@" &\ntail -f /dev/null'),), ENTRY, "tail -f /dev/null"),
    Plant("apt netcat", "dockerfile-apt-netcat",
          (("Dockerfile", "--no-install-recommends $(sed -n '/^\\[runtime",
            "--no-install-recommends netcat $(sed -n '/^\\[runtime"),),
          "Dockerfile", "netcat $(sed"),
    Plant("shell-form entrypoint", "dockerfile-entrypoint-shell-form",
          (("Dockerfile", 'ENTRYPOINT ["<<app>>/compose/web/entrypoint.sh"]', "ENTRYPOINT <<app>>/compose/web/entrypoint.sh"),),
          "Dockerfile", "ENTRYPOINT"),
    # .env
    Plant("secret missing", "env-secret-missing", ((".env", "REDIS_PASSWORD=<<REDIS_PASSWORD>>\n", ""),), ".env", None),
    Plant("broker secret missing", "env-secret-missing", ((".env", "BROKER_PASSWORD=<<BROKER_PASSWORD>>\n", ""),), ".env", None),
    Plant("secret short", "env-secret-short",
          ((".env", "MYSQL_PASSWORD=<<MYSQL_PASSWORD>>", "MYSQL_PASSWORD=Sh0rt-but-random-x9"),), ".env", "MYSQL_PASSWORD="),
    Plant("sample secret", "env-secret-sample",
          ((".env", "MYSQL_ROOT_PASSWORD=<<MYSQL_ROOT_PASSWORD>>", "MYSQL_ROOT_PASSWORD=123456"),), ".env", "MYSQL_ROOT_PASSWORD="),
    Plant("invalid .env value", "env-invalid-value",
          ((".env", "HTTP_PORT=<<http_port>>", "HTTP_PORT=eighty"),), ".env", "HTTP_PORT=eighty"),
    # files that cannot be parsed: a finding at file:line, not a traceback
    Plant("bad .env line", "env-unparseable", ((".env", "", "this is not a variable\n"),), ".env", "this is not a variable"),
    Plant("bad YAML", "compose-unparseable",
          ((COMPOSE, "    restart: unless-stopped\n", "    restart: unless-stopped\n   bad: indentation\n"),),
          COMPOSE, "bad: indentation"),
    Plant("missing semicolon", "nginx-unparseable",
          ((NGINX, "uwsgi_read_timeout 65s;", "uwsgi_read_timeout 65s"),), NGINX, "uwsgi_read_timeout 65s"),
    Plant("unbalanced brace", "nginx-unparseable", ((NGINX, "", "}  # one too many\n"),), NGINX, "}  # one too many"),
    Plant("settings syntax error", "settings-unparseable",
          ((OVERLAY, "DEBUG = False", "DEBUG = = False"),), OVERLAY, "DEBUG = = False"),
    Plant("unterminated SQL string", "mysql-unparseable",
          ((INIT, "", "SELECT 1;\nSELECT 'unterminated;\n"),), INIT, "SELECT 'unterminated;"),
    Plant("unbalanced quote in redis.conf", "redis-unparseable",
          ((REDIS_CONF, "", 'requirepass "unbalanced\n'),), REDIS_CONF, 'requirepass "unbalanced'),
    Plant("project settings syntax error", "settings-unparseable",
          (("<<settings>>", "DEBUG = True", "DEBUG = = True"),), "<<settings>>", "DEBUG = = True"),
    # characters that come with copy and paste (see check/models/paste.py): one finding per occurrence
    Plant("NBSP in settings code", "paste-non-ascii-space",
          ((OVERLAY, "DEBUG = False", "DEBUG =\u00a0False"),), OVERLAY, "DEBUG =\u00a0False"),
    Plant("NBSP in the project's settings", "paste-non-ascii-space",
          (("<<settings>>", "DEBUG = True", "DEBUG\u00a0= True"),), "<<settings>>", "DEBUG\u00a0= True"),
    Plant("ideographic space in nginx.conf", "paste-non-ascii-space",
          ((NGINX, "client_max_body_size <<max_upload>>m;", "client_max_body_size\u3000<<max_upload>>m;"),),
          NGINX, "client_max_body_size\u3000"),
    Plant("NBSP inside a quoted compose command", "paste-non-ascii-space",
          ((COMPOSE, "exec redis-server <<redis_conf>> ", "exec redis-server\u00a0<<redis_conf>> "),),
          COMPOSE, "exec redis-server\u00a0"),
    Plant("NBSP in .env", "paste-non-ascii-space",
          ((".env", "HTTP_PORT=<<http_port>>", "HTTP_PORT=\u00a0<<http_port>>"),), ".env", "HTTP_PORT="),
    Plant("zero-width space in a compose value", "paste-zero-width-character",
          ((COMPOSE, "DJANGO_SETTINGS_MODULE: <<overlay_module>>", "DJANGO_SETTINGS_MODULE: <<overlay_module>>\u200b"),),
          COMPOSE, "DJANGO_SETTINGS_MODULE:"),
    Plant("word joiner in redis.conf", "paste-zero-width-character",
          ((REDIS_CONF, "bind 0.0.0.0", "bind\u2060 0.0.0.0"),), REDIS_CONF, "bind\u2060"),
    Plant("full-width colon in compose", "paste-full-width-punctuation",
          ((COMPOSE, "    restart: unless-stopped\n", "    restart\uff1a unless-stopped\n"),), COMPOSE, "restart\uff1a"),
    Plant("full-width equals in uwsgi.ini", "paste-full-width-punctuation",
          ((UWSGI, "socket = :<<uwsgi_port>>", "socket \uff1d :<<uwsgi_port>>"),), UWSGI, "socket \uff1d"),
    Plant("full-width comma in settings", "paste-full-width-punctuation",
          ((OVERLAY, '"CONN_MAX_AGE": 300,', '"CONN_MAX_AGE": 300\uff0c'),), OVERLAY, '"CONN_MAX_AGE": 300\uff0c'),
    Plant("full-width semicolon in nginx.conf", "paste-full-width-punctuation",
          ((NGINX, "client_max_body_size <<max_upload>>m;", "client_max_body_size <<max_upload>>m\uff1b"),),
          NGINX, "client_max_body_size <<max_upload>>m\uff1b"),
    Plant("typographic quotes in settings", "paste-typographic-quote",
          ((OVERLAY, '"HOST": "<<db>>"', '\u201cHOST\u201d: "<<db>>"'),), OVERLAY, "\u201cHOST\u201d"),
    Plant("typographic quote in the entrypoint", "paste-typographic-quote",
          ((ENTRY, 'exec "$@"', 'exec \u201c$@\u201d'),), ENTRY, "exec \u201c"),
    Plant("byte order mark on the entrypoint", "paste-byte-order-mark", ((ENTRY, "#!", "\ufeff#!"),), ENTRY, "#!"),
    Plant("byte order mark on nginx.conf", "paste-byte-order-mark",
          ((NGINX, "#", "\ufeff#"),), NGINX, "#"),
    Plant("tab in compose indentation", "compose-tab-indentation",
          ((COMPOSE, "    restart: unless-stopped\n", "  \trestart: unless-stopped\n"),), COMPOSE, "\trestart:"),
]

CASES = [pytest.param(p, source, id=f"{p.id}:{p.name}:{source}") for p in CATALOGUE for source in p.sources]


def where(findings) -> set[tuple[str, str, int | None]]:
    return {(f.id, f.file, f.line) for f in findings}


def assert_short(findings) -> None:
    for f in findings:
        for text in (f.message, f.why, f.fix):
            assert len(text) <= MAX_TEXT, f"{f.id}: {text!r} is {len(text)} characters"


def test_fresh_init_output_is_clean(fresh):
    findings = run_check(fresh.project.root, strict=True)
    assert findings == []


@pytest.mark.parametrize("shape", ["standard", "cookiecutter", "procfile", "tasks-package"])
def test_fresh_init_of_background_work_shapes_is_clean(tmp_path, shape):
    """Each shape of tests/fixtures/workers (a Celery app in its layouts, Procfile processes) gets
    worker, beat and broker services that check finds nothing wrong with."""
    project = shutil.copytree(REPO / "tests" / "fixtures" / "workers" / shape, tmp_path / shape)
    stack = init_stack(project, "debian")
    assert stack.workers is not None
    assert run_check(project, strict=True) == []


@pytest.mark.parametrize("source", SOURCES)
def test_fresh_https_init_is_clean(example_copy, source):
    """HTTPS mode (self-signed certificate made by init) reports nothing either."""
    options = StackOptions(image_source=source, domains=("djstack.test", "www.djstack.test"), tls="self-signed")
    stack, _ = run_init(example_copy, options, force=False)
    assert (stack.project.root / "compose/nginx/ssl/privkey.pem").is_file()
    assert run_check(stack.project.root, strict=True) == []


@pytest.mark.parametrize("plant, source", CASES)
def test_planted_defect_is_found(example_copy, plant, source):
    stack = init_stack(example_copy, source)
    known = plant.apply(stack)
    findings = run_check(stack.project.root, strict=True)
    assert plant.expected(stack, known) in where(findings), "\n".join(f"{f.id} {f.where}: {f.message}" for f in findings)
    assert_short(findings)


STACK_FILES = ["Dockerfile", "compose/nginx/Dockerfile", NGINX, UWSGI, ENTRY, CNF, REDIS_CONF, BROKER_CONF, OVERLAY]


@pytest.mark.parametrize("missing", STACK_FILES)
def test_a_missing_file_crashes_no_rule(example_copy, missing):
    """Rules skip what they cannot read instead of failing (strict: any exception fails the test)."""
    stack = init_stack(example_copy, "official")
    (stack.project.root / fill(missing, values(stack))).unlink()
    run_check(stack.project.root, strict=True)


def test_every_rule_is_planted_or_in_the_tutorial():
    covered = {p.id for p in CATALOGUE} | {i for i, _, _ in TUTORIAL_DEFECTS}
    assert set(RULES) - covered == set()


def test_native_password_is_fine_on_mariadb(example_copy):
    """MariaDB (the debian source) keeps mysql_native_password: no finding there."""
    stack = init_stack(example_copy, "debian")
    next(p for p in CATALOGUE if p.id == "mysql-init-native-password").apply(stack)
    assert "mysql-init-native-password" not in {f.id for f in run_check(stack.project.root, strict=True)}


def test_https_with_forwarded_scheme_needs_no_trusted_origins(example_copy):
    """With SECURE_PROXY_SSL_HEADER and nginx sending the scheme, Django knows a request is HTTPS and
    accepts same-host https origins: CSRF_TRUSTED_ORIGINS is not needed."""
    stack = init_stack(example_copy, "official")
    Plant("ssl", "-", ((NGINX, "listen <<http>> default_server;", "listen 443 ssl default_server;"),), NGINX, None).apply(stack)
    assert run_check(stack.project.root, strict=True) == []


# --- the tutorial's own files ----------------------------------------------------------------------

# Each defect of the tutorial, where its files (tests/fixtures/tutorial) have it. The tutorial's
# init.sql uses `ALTER USER … IDENTIFIED WITH mysql_native_password BY`, not `GRANT … IDENTIFIED BY`
# (its GRANT has no password), so that defect is covered by the catalogue above, not here.
TUTORIAL_DEFECTS = [
    # every service keeps Docker's default capabilities on a writable root filesystem
    ("compose-confinement-removed", "docker-compose.yml", 18),
    ("compose-confinement-removed", "docker-compose.yml", 30),
    ("compose-confinement-removed", "docker-compose.yml", 44),
    ("compose-confinement-removed", "docker-compose.yml", 64),
    # compose `version:` (obsolete)
    ("compose-version-obsolete", "docker-compose.yml", 1),
    # DB and Redis ports published to the world
    ("redis-port-published", "docker-compose.yml", 27),
    ("db-port-published", "docker-compose.yml", 41),
    # `image: mysql` is 9.x now
    ("mysql-image-unpinned", "docker-compose.yml", 31),
    # my.cnf mounted over the image's main config
    ("mysql-config-over-main", "docker-compose.yml", 38),
    # utf8 instead of utf8mb4 (server, [client], [mysql])
    ("mysql-charset-utf8", "compose/mysql/conf/my.cnf", 5),
    ("mysql-charset-utf8", "compose/mysql/conf/my.cnf", 21),
    ("mysql-charset-utf8", "compose/mysql/conf/my.cnf", 25),
    # default-authentication-plugin: removed in MySQL 8.4
    ("mysql-removed-option", "compose/mysql/conf/my.cnf", 7),
    # mysql_native_password: off in 8.4, removed in 9.0; and a password written in init.sql
    ("mysql-init-native-password", "compose/mysql/init/init.sql", 2),
    ("mysql-init-hardcoded-password", "compose/mysql/init/init.sql", 2),
    # `bind 127.0.0.1` in redis.conf; its password written in the file
    ("redis-bind-loopback", "compose/redis/redis.conf", 6),
    ("redis-hardcoded-password", "compose/redis/redis.conf", 9),
    # ...and that password is the default user's, which may run every command (CONFIG, FLUSHALL, …)
    ("redis-user-unconfined", "compose/redis/redis.conf", 9),
    # proxy_set_header under uwsgi_pass (does nothing)
    ("nginx-proxy-set-header-ignored", "compose/nginx/nginx.conf", 35),
    # client_max_body_size 10M while Django keeps its 2.5 MB default
    ("nginx-body-limit-above-django", "compose/nginx/nginx.conf", 15),
    # `apt install netcat` (virtual package on Debian 12+); shell-form ENTRYPOINT
    ("dockerfile-apt-netcat", "myproject/Dockerfile", 5),
    ("dockerfile-entrypoint-shell-form", "myproject/Dockerfile", 38),
    # makemigrations at every start; uwsgi not exec'd; tail -f /dev/null
    ("entrypoint-makemigrations", "myproject/start.sh", 15),
    ("entrypoint-no-exec", "myproject/start.sh", 17),
    ("entrypoint-tail-f", "myproject/start.sh", 18),
    # uWSGI daemonize
    ("uwsgi-daemonize", "myproject/uwsgi.ini", 21),
    # `Debug = False` (typo; DEBUG stays unset)
    ("settings-debug-typo", "myproject/myproject/settings.py", 21),
    # hard-coded passwords: SECRET_KEY, the database's, Redis's
    ("settings-hardcoded-secret", "myproject/myproject/settings.py", 18),
    ("settings-hardcoded-secret", "myproject/myproject/settings.py", 75),
    ("settings-hardcoded-secret", "myproject/myproject/settings.py", 88),
    # ALLOWED_HOSTS = ['your_server_IP', 'your_domain_name'] while nginx's server_name is 127.0.0.1
    ("allowed-hosts-missing-server-name", "myproject/myproject/settings.py", 24),
    # .env: sample passwords, and no DJANGO_SECRET_KEY / REDIS_PASSWORD at all
    ("env-secret-sample", "myproject/.env", 1),
    ("env-secret-sample", "myproject/.env", 4),
    ("env-secret-missing", "myproject/.env", None),
    ("env-secret-missing", "myproject/.env", None),
]


def test_tutorial_defects_are_all_reported():
    """Compose/ beside myproject/: the files are found through the compose file's paths."""
    findings = run_check(TUTORIAL, strict=True)
    reported = sorted(((f.id, f.file, f.line) for f in findings), key=str)
    assert reported == sorted(TUTORIAL_DEFECTS, key=str)
    assert_short(findings)


def test_tutorial_checks_what_it_gets_right_too(tmp_path):
    """The tutorial's static/media volumes and aliases agree; moving an alias is then found."""
    copy = tmp_path / "tutorial"
    shutil.copytree(TUTORIAL, copy)
    conf = copy / "compose/nginx/nginx.conf"
    conf.write_text(conf.read_text().replace("alias /usr/share/nginx/html/static;", "alias /usr/share/nginx/static;"))
    assert ("nginx-static-alias-mismatch", "compose/nginx/nginx.conf", 21) in where(run_check(copy, strict=True))


# --- the command line --------------------------------------------------------------------------------


def invoke(*args):
    return CliRunner().invoke(main, ["check", *map(str, args)])


def test_cli_clean_stack(fresh):
    result = invoke(fresh.project.root)
    assert result.exit_code == 0, result.output
    assert "No problems found" in result.stdout
    result = invoke(fresh.project.root, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_cli_json_lists_findings_and_exits_1_on_errors():
    result = invoke(TUTORIAL, "--json")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert all(set(f) == {"id", "severity", "file", "line", "column", "message", "why", "fix"} for f in findings)
    assert {f["severity"] for f in findings} == {ERROR, WARNING}
    assert {"id": "uwsgi-daemonize", "file": "myproject/uwsgi.ini", "line": 21}.items() <= next(
        f for f in findings if f["id"] == "uwsgi-daemonize").items()


def test_cli_human_output_groups_by_severity():
    result = invoke(TUTORIAL)
    assert result.exit_code == 1
    out = result.stdout
    assert out.index("Errors (") < out.index("Warnings (") < out.index("error(s),")
    assert "myproject/uwsgi.ini:21" in out and "uwsgi-daemonize" in out


def test_cli_warnings_alone_exit_0(example_copy):
    stack = init_stack(example_copy, "official")
    next(p for p in CATALOGUE if p.id == "compose-version-obsolete").apply(stack)
    result = invoke(stack.project.root, "--json")
    assert result.exit_code == 0
    assert [f["id"] for f in json.loads(result.stdout)] == ["compose-version-obsolete"]


def test_cli_unparseable_file_is_a_finding_not_a_traceback(example_copy):
    stack = init_stack(example_copy, "official")
    next(p for p in CATALOGUE if p.name == "bad YAML").apply(stack)
    result = invoke(stack.project.root, "--json")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert [f["id"] for f in json.loads(result.stdout)] == ["compose-unparseable"]


def test_unparseable_env_line_is_shown_as_written(example_copy):
    stack = init_stack(example_copy, "official")
    next(p for p in CATALOGUE if p.name == "bad .env line").apply(stack)
    found = [f for f in run_check(stack.project.root, strict=True) if f.id == "env-unparseable"]
    assert [f.message for f in found] == ["not a KEY=VALUE line: 'this is not a variable'"]


def test_every_bad_env_entry_is_reported_at_once(example_copy):
    """Each refused value is its own finding at its line; the others still build the model."""
    stack = init_stack(example_copy, "official")
    Plant("two bad values", "-", ((".env", "HTTP_PORT=<<http_port>>", "HTTP_PORT=eighty"),
                                  (".env", "", "HSTS_SECONDS=forever\n")), ".env", None).apply(stack)
    found = {(f.file, f.line) for f in run_check(stack.project.root, strict=True) if f.id == "env-invalid-value"}
    env = stack.project.root / ".env"
    assert found == {(".env", line_of(env, "HTTP_PORT=eighty")), (".env", line_of(env, "HSTS_SECONDS=forever"))}


def test_cli_not_a_project(tmp_path):
    result = invoke(tmp_path)
    assert result.exit_code == 2
    assert "not a Django project" in " ".join(result.output.split())


def test_cli_project_without_stack_says_run_init(example_copy):
    result = invoke(example_copy)
    assert result.exit_code == 2
    assert "djstack init" in result.output


@pytest.mark.parametrize("text, seconds", [("330s", 330), ("5m30s", 330), ("1h", 3600), ("1.5s", 1.5),
                                           ("500ms", 0.5), ("10", None), ("s", None), ("5m x", None)])
def test_compose_durations(text, seconds):
    from djstack.check.rules.workers import _duration

    assert _duration(text) == seconds
