"""HTTPS mode end to end: a stack with --domain and a self-signed certificate, reached on 127.0.0.1 with
the Host header (and SNI) of its domains (the shared https_stack of conftest.py); plus the hardening of a running stack and the secret scan.
"""

from __future__ import annotations

import io
import json
import re
import ssl
import subprocess
import tarfile

import pytest
import requests

from stacks import DOMAINS, container, http, https, tls_handshake
from djstack.envfile import read_env
from djstack.model import SECRET_KEYS

pytestmark = [pytest.mark.e2e,  # and the certificate is self-signed: no warning for each request
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

def test_http_redirects_to_https(https_stack):
    for host in DOMAINS:
        response = http(https_stack, "/api/notes/?page=2", host=host)
        assert response.status_code == 301
        assert response.headers["Location"] == f"https://{host}:{https_stack.https_port}/api/notes/?page=2"


def test_acme_challenge_is_served_over_http(https_stack):
    """certbot --webroot -w compose/nginx/acme: the challenge is answered on port 80, not redirected."""
    folder = https_stack.root / "compose/nginx/acme/.well-known/acme-challenge"
    folder.mkdir(parents=True)
    (folder / "token-abc").write_text("token-abc.thumbprint")
    try:
        response = http(https_stack, "/.well-known/acme-challenge/token-abc")
        assert response.status_code == 200 and response.text == "token-abc.thumbprint"
        assert http(https_stack, "/.well-known/acme-challenge/missing").status_code == 404
    finally:
        (folder / "token-abc").unlink()


def test_site_over_https_knows_it_is_secure(https_stack):
    # SECURE_SSL_REDIRECT is on: were request.is_secure() false behind nginx, this would be a 301 loop.
    response = https(https_stack, "/")
    assert response.status_code == 200
    assert re.search(r"/static/gallery/site\.[0-9a-f]{12}\.css", response.text)  # its hashed name
    assert "Strict-Transport-Security" not in response.headers  # never for a self-signed certificate
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    static = https(https_stack, "/static/gallery/site.css")
    assert static.status_code == 200 and "Strict-Transport-Security" not in static.headers


def test_cookies_are_secure_and_csrf_works_over_https(https_stack):
    session = requests.Session()
    form = https(https_stack, "/admin/login/", session=session)
    assert form.status_code == 200
    assert re.search(r"csrftoken=[^;]+;.*\bSecure\b", form.headers["Set-Cookie"], re.IGNORECASE)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    origin = f"https://{DOMAINS[0]}:{https_stack.https_port}"
    data = {"csrfmiddlewaretoken": token, "username": "nobody", "password": "wrong", "next": "/admin/"}
    headers = {"Origin": origin, "Referer": origin + "/admin/login/"}
    answer = https(https_stack, "/admin/login/", session=session, method="POST", data=data, headers=headers)
    assert answer.status_code == 200, answer.text[:300]  # the form again, with "enter a correct username"
    assert "csrfmiddlewaretoken" in answer.text and "CSRF" not in answer.text
    # Control: the same POST without the token is refused, so the 200 above means CSRF passed.
    del data["csrfmiddlewaretoken"]
    refused = https(https_stack, "/admin/login/", session=session, method="POST", data=data, headers=headers)
    assert refused.status_code == 403


def test_unknown_hosts_are_400(https_stack):
    for host in ("evil.example", "127.0.0.1", "localhost"):  # in HTTPS mode only the domains are served
        assert https(https_stack, "/", host=host).status_code == 400, host
        assert http(https_stack, "/", host=host).status_code == 400, host


def test_modern_tls_only(https_stack):
    version, cipher = tls_handshake(https_stack)
    assert version == "TLSv1.3"
    version, cipher = tls_handshake(https_stack, version=ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2" and cipher[0].startswith("ECDHE-") and ("GCM" in cipher[0] or "CHACHA" in cipher[0])
    # Ciphers without forward secrecy or with CBC are refused by the server (a handshake alert).
    for weak in ("AES128-SHA", "ECDHE-ECDSA-AES128-SHA", "AES256-GCM-SHA384"):
        with pytest.raises(ssl.SSLError, match="(?i)handshake failure|no shared cipher"):
            tls_handshake(https_stack, version=ssl.TLSVersion.TLSv1_2, ciphers=weak)


def test_check_deploy_is_clean(https_stack):
    proc = https_stack.compose("exec", "-T", "web", "python", "manage.py", "check", "--deploy")
    output = (proc.stdout + proc.stderr).strip()
    print(output)
    assert "System check identified no issues" in output and "WARNING" not in output


def test_djstack_check_is_clean(https_stack):
    proc = https_stack.djstack("check", str(https_stack.root), "--json")
    assert json.loads(proc.stdout) == []


# Hardening of a running stack -------------------------------------------------------------------


def test_only_nginx_publishes_and_db_redis_are_internal(https_stack):
    published = {svc: container(https_stack, svc)["HostConfig"]["PortBindings"] or {} for svc in ("web", "nginx", "db", "redis")}
    assert {svc for svc, ports in published.items() if ports} == {"nginx"}
    assert set(published["nginx"]) == {"80/tcp", "443/tcp"}
    assert all(b["HostIp"] == "127.0.0.1" for bindings in published["nginx"].values() for b in bindings)
    for svc in ("db", "redis"):
        networks = container(https_stack, svc)["NetworkSettings"]["Networks"]
        for name in networks:
            info = json.loads(subprocess.run(["docker", "network", "inspect", name], capture_output=True, text=True,
                                             check=True).stdout)[0]
            assert info["Internal"] is True, (svc, name)


def test_processes_are_unprivileged_and_limited(https_stack):
    # nginx: only the master is root (it binds 80/443 and reads the key); workers are www-data.
    status = https_stack.compose("exec", "-T", "nginx", "sh", "-c",
                                 "for s in /proc/[0-9]*/status; do grep -E '^(Name|Uid):' $s | tr '\\n' ' '; echo; done").stdout
    workers = [line for line in status.splitlines() if "nginx" in line]
    www_data = https_stack.compose("exec", "-T", "nginx", "id", "-u", "www-data").stdout.strip()
    uids = [line.split("Uid:")[1].split()[0] for line in workers]
    assert uids.count("0") == 1 and len(uids) >= 2 and set(uids) - {"0"} == {www_data}, status
    for svc in ("web", "nginx", "db", "redis"):
        host_config = container(https_stack, svc)["HostConfig"]
        assert host_config["Memory"] > 0 and host_config["PidsLimit"] > 0, svc
        assert "no-new-privileges:true" in host_config["SecurityOpt"], svc


# Secret scan ---------------------------------------------------------------------------------------

#: The secrets (by their .env name) each container must have in its environment; no other may appear.
NEEDED = {"web": {"DJANGO_SECRET_KEY", "MYSQL_PASSWORD", "REDIS_PASSWORD"}, "nginx": set(),
          "db": {"MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"}, "redis": {"REDIS_PASSWORD"}}


def test_no_secret_in_images_or_container_config(https_stack):
    env = read_env(https_stack.root / ".env")
    secrets = {key: env[key] for key in SECRET_KEYS}
    key_pem = (https_stack.root / "compose/nginx/ssl/privkey.pem").read_text()
    key_body = "".join(line for line in key_pem.splitlines() if not line.startswith("-----"))
    secrets["TLS private key"] = key_body[:40]
    needles = {name: value.encode() for name, value in secrets.items()}

    for svc, needed in NEEDED.items():
        info = container(https_stack, svc)
        present = {name for name, value in secrets.items() if any(value in item for item in info["Config"]["Env"])}
        assert present == needed, svc
        without_env = json.dumps({**info, "Config": {**info["Config"], "Env": []}})
        assert not [n for n, v in secrets.items() if v in without_env], svc

    images = {info["Config"]["Image"] for info in (container(https_stack, svc) for svc in NEEDED)}
    built = [image for image in images if image.startswith(https_stack.name)]
    assert len(built) == 2  # web and nginx
    for image in built:
        saved = subprocess.run(["docker", "save", image], capture_output=True, check=True, timeout=600).stdout
        found, paths = [], []
        with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
            for member in outer.getmembers():
                if not member.isfile():
                    continue
                data = outer.extractfile(member).read()  # layers, the image config, its history
                found += [n for n, v in needles.items() if v in data]
                if member.name.endswith("layer.tar"):
                    with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                        paths += layer.getnames()
        assert found == [], (image, found)
        leaked = [p for p in paths if p.rsplit("/", 1)[-1] in (".env", "privkey.pem", "fullchain.pem")]
        assert leaked == [], (image, leaked)
        if image.endswith("-web"):
            assert "app/manage.py" in paths  # the scan did see the project's files
            assert not [p for p in paths if p.startswith("app/compose/nginx/ssl/") or p == "app/.env"]
