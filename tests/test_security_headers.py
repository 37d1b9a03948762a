"""Security headers as rendered: the Content-Security-Policy modes, the project's own CSP, the
Permissions-Policy, and the overlay's one-line log of suspicious requests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from djstack import render, tls
from djstack.detect.apps import own_csp
from djstack.errors import BadEnvEntry
from djstack.model import CSP_MODES, PERMISSIONS_POLICY, bad_env_entries, parse_csp
from helpers import require_tool, write_tree
from test_render import HTTPS_OPTIONS, for_this_nginx, golden_stack

DJANGO_CSP = "django.middleware.csp.ContentSecurityPolicyMiddleware"
MIDDLEWARE = 'MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "{}"]\n'


def rendered(stack) -> dict[str, str]:
    return {o.path: o.content for o in render.render(stack)}


def nginx_conf(stack) -> str:
    return rendered(stack)["compose/nginx/nginx.conf"]


def block(conf: str, opening: str) -> str:
    """The lines of the block that starts with `opening` (e.g. "location / {"), nested blocks left out."""
    lines = conf.split("\n")
    start = next(i for i, line in enumerate(lines) if line.strip() == opening.strip())
    own, depth = [], 1
    for line in lines[start + 1:]:
        depth += line.count("{") - line.count("}")
        if depth == 0:
            return "\n".join(own)
        if depth == 1 and "}" not in line:
            own.append(line)
    raise AssertionError(f"{opening} is not closed")


def added(text: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*add_header (\S+) "?(.*?)"? always;$', text, re.M))


# Detection -------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings, expected", [
    (MIDDLEWARE.format("csp.middleware.CSPMiddleware"), "csp.middleware.CSPMiddleware"),  # django-csp: a default policy
    (MIDDLEWARE.format(DJANGO_CSP) + 'SECURE_CSP = {"default-src": ["\'self\'"]}\n', DJANGO_CSP),
    (MIDDLEWARE.format(DJANGO_CSP) + 'SECURE_CSP_REPORT_ONLY = {"script-src": [CSP.SELF]}\n', DJANGO_CSP),
    (MIDDLEWARE.format(DJANGO_CSP) + "SECURE_CSP = policy()\n", DJANGO_CSP),  # cannot be known: the project's
    (MIDDLEWARE.format(DJANGO_CSP), None),  # Django's middleware with no policy sends nothing
    (MIDDLEWARE.format(DJANGO_CSP) + "SECURE_CSP = {}\n", None),
    (MIDDLEWARE.format("django.middleware.common.CommonMiddleware"), None),
    ("MIDDLEWARE = []\nif PROD:\n    MIDDLEWARE += ['csp.middleware.CSPMiddleware']\n", "csp.middleware.CSPMiddleware"),
])
def test_own_csp_is_read_from_the_settings(tmp_path, settings, expected):
    write_tree(tmp_path, {"site/settings.py": settings})
    assert own_csp(tmp_path / "site/settings.py", tmp_path) == expected


def test_own_csp_through_an_imported_base(tmp_path):
    write_tree(tmp_path, {"site/__init__.py": "", "site/base.py": MIDDLEWARE.format("csp.middleware.CSPMiddleware"),
                          "site/production.py": "from .base import *\nDEBUG = False\n"})
    assert own_csp(tmp_path / "site/production.py", tmp_path) == "csp.middleware.CSPMiddleware"


# The mode: option, .env, parser -------------------------------------------------------------------


def test_csp_mode_is_recorded_and_refused_when_unknown(example_copy):
    stack = golden_stack(example_copy, "official", csp="strict")
    assert stack.env()["CSP"] == "strict"
    assert "CSP=strict\n" in rendered(stack)[".env"]
    assert [parse_csp(mode) for mode in CSP_MODES] == list(CSP_MODES)
    with pytest.raises(BadEnvEntry) as caught:
        parse_csp("strictest")
    assert caught.value.key == "CSP"
    assert [e.key for e in bad_env_entries({"CSP": "off"})] == ["CSP"]


# Rendered headers -------------------------------------------------------------------------------


def test_default_policy_everywhere(example_copy):
    conf = nginx_conf(golden_stack(example_copy, "official"))
    site = block(conf, "server {  # the site")
    default = "object-src 'none'; base-uri 'self'; form-action 'self' https:"
    # Django's answers: a map that is empty when Django sent any policy of its own.
    assert added(site)["Content-Security-Policy"] == "$djstack_csp"
    assert added(site)["Permissions-Policy"] == "$djstack_permissions_policy"
    csp_map = block(conf, "map $upstream_http_content_security_policy"
                          "$upstream_http_content_security_policy_report_only $djstack_csp {")
    assert csp_map.split("\n") == [f'        "" "{default}; frame-ancestors $djstack_frame_ancestors";',
                                       '        default "";']
    assert "Content-Security-Policy-Report-Only" not in conf
    # Files nginx serves itself: the same values, framing refused; uploads keep their sandbox policy.
    static = added(block(conf, "location /static/ {"))
    assert static["Content-Security-Policy"] == f"{default}; frame-ancestors 'none'"
    assert static["Permissions-Policy"] == PERMISSIONS_POLICY
    media = added(block(conf, "location /media/ {"))
    assert media["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; sandbox"
    assert media["Permissions-Policy"] == PERMISSIONS_POLICY
    # location / adds nothing of its own: it inherits the site's (maps) headers.
    assert added(block(conf, "location / {")) == {}


def test_https_refusals_and_redirects_carry_the_headers(example_copy):
    conf = nginx_conf(golden_stack(example_copy, "official", **HTTPS_OPTIONS))
    refusal = added(block(conf, "server {"))  # the first server: the 400 of unknown host names
    assert {"Content-Security-Policy", "Permissions-Policy", "Strict-Transport-Security"} <= set(refusal)
    redirect = conf[conf.index("# Plain HTTP: ACME"):conf.index("server {  # the site")]
    assert "Content-Security-Policy" in added(redirect) and "Permissions-Policy" in added(redirect)
    assert "Strict-Transport-Security" not in added(redirect)  # over plain HTTP it means nothing


@pytest.mark.parametrize("mode, enforced, reported", [
    ("strict", "strict", None),
    ("strict-report-only", "default", "strict"),
])
def test_strict_modes(example_copy, mode, enforced, reported):
    policies = {"default": "object-src 'none'; base-uri 'self'; form-action 'self' https:",
                "strict": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
                          "form-action 'self'; upgrade-insecure-requests"}
    static = added(block(nginx_conf(golden_stack(example_copy, "official", csp=mode, **HTTPS_OPTIONS)),
                         "location /static/ {"))
    assert static["Content-Security-Policy"] == policies[enforced] + "; frame-ancestors 'none'"
    assert static.get("Content-Security-Policy-Report-Only") == (
        reported and policies[reported] + "; frame-ancestors 'none'")
    plain = added(block(nginx_conf(golden_stack(example_copy, "official", csp="strict")), "location /static/ {"))
    assert "upgrade-insecure-requests" not in plain["Content-Security-Policy"]  # no HTTPS to upgrade to


def test_projects_own_csp_is_never_doubled(example_copy):
    stack = golden_stack(example_copy, "official", csp="strict")
    stack = replace(stack, project=replace(stack.project, own_csp=DJANGO_CSP))
    conf = nginx_conf(stack)
    location = added(block(conf, "location / {"))
    # Django's answers: the other headers (maps), and no CSP of nginx's at all.
    assert location["Permissions-Policy"] == "$djstack_permissions_policy"
    assert not [name for name in location if name.startswith("Content-Security-Policy")]
    # nginx's own answers (files, refusals) keep nginx's policy.
    assert "Content-Security-Policy" in added(block(conf, "location /static/ {"))
    assert f"own Content-Security-Policy ({DJANGO_CSP})" in conf


@pytest.mark.parametrize("name", ["own-csp", "strict-report-only"])
def test_nginx_accepts_every_variant(example_copy, tmp_path, name):
    nginx = require_tool("nginx")
    stack = golden_stack(example_copy, "official", **HTTPS_OPTIONS | {"tls": "self-signed"})
    stack = (replace(stack, project=replace(stack.project, own_csp=DJANGO_CSP)) if name == "own-csp"
             else replace(stack, csp=name))
    tls.make_self_signed(stack)
    conf = tmp_path / "nginx.conf"
    conf.write_text(for_this_nginx(nginx_conf(stack), nginx).replace(f"{stack.paths.nginx_ssl}/",
                                                                     f"{stack.project.root / stack.tls_files.folder}/"))
    proc = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_init_says_whose_policy_it_is(example_copy):
    from djstack.initialise import decisions

    stack = golden_stack(example_copy, "official")
    assert ("headers", "Content-Security-Policy default and a Permissions-Policy on every answer (nginx; a "
                       "header Django sets itself is kept instead)") in decisions(stack)
    own = replace(stack, project=replace(stack.project, own_csp=DJANGO_CSP))
    assert any(topic == "headers" and DJANGO_CSP in text for topic, text in decisions(own))


# The overlay's log of suspicious requests --------------------------------------------------------

TOO_MANY_FIELDS = """
import django
from django.test import Client
django.setup()
client = Client(enforce_csrf_checks=True)
client.cookies["csrftoken"] = "c" * 32  # a cookie, so the CSRF check goes on to read the form
answer = client.post("/admin/login/", {f"f{i}": "x" for i in range(1200)})
print("status", answer.status_code)
"""


def test_too_many_fields_is_one_line_not_a_traceback(example_copy):
    pytest.importorskip("django")
    files = rendered(golden_stack(example_copy, "official"))
    for path in ("mysite/settings_docker.py", "mysite/staticfiles_docker.py"):
        (example_copy / path).write_text(files[path])
    # The overlay as it is, but for a database this host has a driver for (none is opened).
    (example_copy / "mysite/settings_here.py").write_text(
        'from .settings_docker import *\nDATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}\n')
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mysite.settings_here", "DJANGO_SECRET_KEY": "k" * 50,
           "DJANGO_ALLOWED_HOSTS": "testserver",
           # The example has a Celery app: the overlay reads the broker's URLs (nothing connects to them).
           "CELERY_BROKER_URL": "redis://broker.invalid:6379/0", "CELERY_RESULT_BACKEND": "redis://broker.invalid:6379/1"}
    proc = subprocess.run([sys.executable, "-c", TOO_MANY_FIELDS], cwd=example_copy, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "status 400" in proc.stdout, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(r".* ERROR django\.security\.TooManyFieldsSent: The number of GET/POST parameters "
                        r"exceeded settings\.DATA_UPLOAD_MAX_NUMBER_FIELDS\. \(POST /admin/login/\)", lines[0])


def test_init_detects_the_projects_own_csp_and_check_accepts_the_result(example_copy):
    from djstack.check import run_check
    from djstack.initialise import run_init
    from djstack.model import StackOptions

    settings = example_copy / "mysite/settings.py"
    settings.write_text(settings.read_text() + "MIDDLEWARE += ['csp.middleware.CSPMiddleware']\n")
    stack, _ = run_init(example_copy, StackOptions(image_source="official"), force=False)
    assert stack.project.own_csp == "csp.middleware.CSPMiddleware"
    conf = (example_copy / stack.files.nginx_conf).read_text()
    assert "add_header Content-Security-Policy" not in block(conf, "location / {")
    assert [f.id for f in run_check(example_copy) if f.id.startswith("nginx-")] == []
