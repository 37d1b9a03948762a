"""Security headers on a real stack's answers: Django's pages, files, refusals and redirects all carry a
Content-Security-Policy and a Permissions-Policy, once each; the strict policy leaves the admin
working; a policy Django sends itself is passed on alone; and the small nginx and logging limits hold."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from html.parser import HTMLParser

import pytest
import requests

from stacks import DOMAINS, http, https, new_stack, remove
from test_stack import png

from djstack.initialise import load_stack
from djstack.model import CSP_DEFAULT, CSP_STRICT, PERMISSIONS_POLICY

pytestmark = pytest.mark.e2e

CSP = "Content-Security-Policy"
DEFAULT = "; ".join(CSP_DEFAULT) + "; frame-ancestors 'none'"
MEDIA_POLICY = "default-src 'none'; img-src 'self'; sandbox"
#: Pages whose whole header list the report quotes.
LISTED = ("/", "/admin/login/", "/static/gallery/site.css")


def one(response, name: str) -> str:
    """The header's value, which must be sent exactly once (never a policy of nginx's beside Django's)."""
    values = response.raw.headers.getlist(name)
    assert len(values) == 1, (response.url, name, values)
    return values[0]


def assert_headers(response, csp: str = DEFAULT) -> None:
    assert one(response, CSP) == csp, response.url
    assert one(response, "Permissions-Policy") == PERMISSIONS_POLICY, response.url
    assert one(response, "X-Content-Type-Options") == "nosniff"
    assert not response.raw.headers.getlist(CSP + "-Report-Only")


def listing(response) -> str:
    return "\n".join(f"  {name}: {value}" for name, value in response.raw.headers.items())


@pytest.fixture(scope="module")
def media_file(https_stack):
    """An image in the HTTPS stack's media volume, removed afterwards (the stack is shared)."""
    path = f"{load_stack(https_stack.root).paths.media}/headers-{uuid.uuid4().hex[:8]}.png"
    subprocess.run(["docker", "compose", "exec", "-T", "web", "sh", "-c", f"cat > {path}"], cwd=https_stack.root,
                   input=png(), check=True, timeout=60)
    yield "/media/" + path.rsplit("/", 1)[1]
    https_stack.compose("exec", "-T", "web", "rm", "-f", path)


# The HTTPS stack ----------------------------------------------------------------------------------


def test_every_answer_carries_the_policies_once(https_stack, media_file):
    for path, status in [*((p, 200) for p in LISTED), ("/no-such-page/", 404), ("/.env", 404),
                         ("/cached-page/", 200), ("/cached-page/", 200)]:  # the second from nginx's cache
        response = https(https_stack, path)
        assert response.status_code == status, path
        assert_headers(response)
        if path in LISTED:
            print(f"HTTPS {path} ({response.status_code}):\n{listing(response)}")
    media = https(https_stack, media_file)
    assert media.status_code == 200 and media.headers["Content-Type"] == "image/png"
    assert_headers(media, csp=MEDIA_POLICY)  # uploads keep their sandbox policy, alone
    print(f"HTTPS {media_file} ({media.status_code}):\n{listing(media)}")


def test_refusals_and_redirects_carry_the_policies(https_stack):
    for response in (https(https_stack, "/", host="evil.example"), http(https_stack, "/", host="evil.example")):
        assert response.status_code == 400
        assert_headers(response)
    redirect = http(https_stack, "/admin/login/")
    assert redirect.status_code == 301 and redirect.headers["Location"].startswith(f"https://{DOMAINS[0]}")
    assert_headers(redirect)


def test_a_url_near_the_request_line_limit_fits_the_cache_key(https_stack):
    def nginx_output() -> str:  # nginx logs to its container output only
        return https_stack.compose("logs", "--no-color", "nginx").stdout

    before = nginx_output()
    path = "/?q=" + "a" * 8000  # with "GET " and " HTTP/1.1", just under large_client_header_buffers' 8 KB
    assert https(https_stack, path).status_code == 200
    time.sleep(1)
    after = nginx_output()[len(before):]
    assert "not enough for cache key" not in after, after
    assert https(https_stack, path + "a" * 300).status_code == 414  # the limit is where it was


def test_workers_may_open_twice_their_connections(https_stack):
    script = ('for p in /proc/[0-9]*; do grep -q "^nginx: worker process" $p/cmdline 2>/dev/null '
              '&& grep "Max open files" $p/limits; done; true')
    limits = https_stack.compose("exec", "-T", "nginx", "sh", "-c", script).stdout.split("\n")
    assert limits[0] and all(line.split()[3:5] == ["2048", "2048"] for line in limits if line), limits
    log = https_stack.compose("logs", "--no-color", "nginx").stdout
    assert "setrlimit" not in log  # raised without a capability to do it


# The plain-HTTP stack -----------------------------------------------------------------------------


def test_plain_http_answers_carry_the_policies(live_stack):
    for path, status in [*((p, 200) for p in LISTED), ("/no-such-page/", 404)]:
        response = live_stack.get(path, allow_redirects=False)
        assert response.status_code == status, path
        assert_headers(response)
        assert "Strict-Transport-Security" not in response.headers


def test_too_many_fields_is_one_log_line(live_stack):
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    fields = {f"f{i}": "x" for i in range(1200)}  # over DATA_UPLOAD_MAX_NUMBER_FIELDS (1000)
    refused = live_stack.post("/admin/login/", data=fields, cookies={"csrftoken": "c" * 32})
    assert refused.status_code == 400
    time.sleep(1)
    logs = live_stack.compose("logs", "--no-log-prefix", "--since", since, "web").stdout
    lines = [line for line in logs.splitlines() if "TooManyFieldsSent" in line or "Traceback" in line]
    assert len(lines) == 1 and "(POST /admin/login/)" in lines[0], logs


# The strict policy --------------------------------------------------------------------------------

OWN_POLICY = "default-src 'none'; frame-ancestors 'self'"
OWN_VIEW = f'''

def own_policy(request):
    from django.http import HttpResponse
    answer = HttpResponse("a policy of its own")
    answer["Content-Security-Policy"] = "{OWN_POLICY}"
    return answer
'''


@pytest.fixture(scope="module")
def strict_stack(tmp_path_factory):
    """`--csp strict`, with a view that sends a policy of its own, and an admin user."""
    stack = new_stack(tmp_path_factory.mktemp("e2e-strict"), "--csp", "strict")
    (stack.root / "gallery/views.py").write_text((stack.root / "gallery/views.py").read_text() + OWN_VIEW)
    urls = stack.root / "gallery/urls.py"
    urls.write_text(urls.read_text().replace('urlpatterns = [', 'urlpatterns = [\n    path("own/", views.own_policy),'))
    try:
        stack.djstack("up", str(stack.root))
        stack.compose("exec", "-T", "-e", "DJANGO_SUPERUSER_PASSWORD=strict-pass-1234", "web", "python", "manage.py",
                      "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com")
        yield stack
    finally:
        remove(stack)


class Inline(HTMLParser):
    """What a policy without 'unsafe-inline' blocks in a page: inline scripts, <style>, style and on*
    attributes, javascript: URLs; and whatever a page loads from another origin."""

    def __init__(self):
        super().__init__()
        self.blocked: list[str] = []
        self.script_open = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.blocked += [f"<{tag} {name}=>" for name in attrs if name.startswith("on") or name == "style"]
        self.blocked += [f"<{tag} {k}={v}>" for k, v in attrs.items() if (v or "").strip().startswith("javascript:")]
        self.blocked += [f"<{tag} {k}={v}>" for k, v in attrs.items()
                         if k in ("src", "href") and tag in ("script", "link", "img") and re.match(r"(https?:)?//", v or "")]
        if tag == "style":
            self.blocked.append("<style>")
        self.script_open = tag == "script" and "src" not in attrs and attrs.get("type", "text/javascript") in (
            "text/javascript", "module", "application/javascript")

    def handle_data(self, data):
        if self.script_open and data.strip():
            self.blocked.append(f"<script>{data.strip()[:60]}")

    def handle_endtag(self, tag):
        self.script_open = False


def test_admin_works_under_the_strict_policy(strict_stack):
    strict = "; ".join(CSP_STRICT) + "; frame-ancestors 'none'"
    session = requests.Session()
    form = session.get(strict_stack.url + "/admin/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    logged_in = session.post(strict_stack.url + "/admin/login/?next=/admin/", timeout=30, allow_redirects=False,
                             data={"csrfmiddlewaretoken": token, "username": "admin", "password": "strict-pass-1234",
                                   "next": "/admin/"})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/admin/", logged_in.text[:300]
    for path in ("/admin/login/", "/admin/", "/admin/gallery/note/", "/admin/gallery/note/add/",
                 "/admin/auth/user/1/change/", "/admin/password_change/"):
        page = (requests if path == "/admin/login/" else session).get(strict_stack.url + path, timeout=30)
        assert page.status_code == 200, path
        assert_headers(page, csp=strict)
        parser = Inline()
        parser.feed(page.text)
        assert parser.blocked == [], (path, parser.blocked)
    added = session.post(strict_stack.url + "/admin/gallery/note/add/", timeout=30, allow_redirects=False, data={
        "csrfmiddlewaretoken": session.cookies["csrftoken"], "text": "strict-note", "_save": "Save"})
    assert added.status_code == 302, added.text[:300]


def test_a_policy_django_sends_is_passed_on_alone(strict_stack):
    own = strict_stack.get("/own/")
    assert own.text == "a policy of its own"
    assert one(own, CSP) == OWN_POLICY  # exactly Django's: nginx's strict one is not added beside it
    assert one(own, "Permissions-Policy") == PERMISSIONS_POLICY
