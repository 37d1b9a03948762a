"""The model's values at their edges: ports, limits, host and domain names, Compose names, HSTS, TLS
and which of an option, `.env` and a default wins — built in-process from a detected project and a
recorded `.env` (dict), so each edge costs milliseconds."""

from __future__ import annotations

import pytest

from djstack.detect import detect
from djstack.errors import DjstackError
from djstack.model import DEFAULT_HOSTS, DEFAULT_LIMITS, PREVIOUS_KEY, StackOptions, build_stack, compose_name


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from helpers import copy_example

    root = tmp_path_factory.mktemp("model") / "mysite"
    copy_example(root)
    return detect(root, None)


def build(project, recorded=None, **options):
    return build_stack(project, StackOptions(**options), dict(recorded or {}))


def refused(project, key: str, recorded=None, **options) -> DjstackError:
    """The error for a bad value; it names the `.env` key or option it came from (`key`), or at least
    the value."""
    with pytest.raises(DjstackError) as caught:
        build(project, recorded, **options)
    error = caught.value
    named = [key, *(recorded or {}).values()]
    assert getattr(error, "key", None) == key or any(n and n in error.message for n in named), error.message
    assert error.fix
    return error


# --- ports ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("port", ["1", "8080", "65535"])
def test_any_port_from_1_to_65535_is_taken(project, port):
    assert build(project, {"HTTP_PORT": port}).http_port == int(port)
    assert build(project, http_port=int(port)).http_port == int(port)


@pytest.mark.parametrize("port", ["0", "65536", "-1", "80a", "8 0"])
def test_a_port_outside_1_to_65535_is_refused(project, port):
    refused(project, "HTTP_PORT", {"HTTP_PORT": port})
    refused(project, "HTTPS_PORT", {"HTTPS_PORT": port})


def test_an_option_beats_env_which_beats_the_default(project):
    assert build(project).http_port == 80 and build(project).https_port == 443
    assert build(project, {"HTTP_PORT": "8000"}).http_port == 8000
    assert build(project, {"HTTP_PORT": "8000"}, http_port=9000).http_port == 9000
    assert build(project, {"HTTP_BIND": "127.0.0.1"}).http_bind == "127.0.0.1"
    assert build(project).http_bind == "0.0.0.0"
    assert build(project, {"HTTP_BIND": "127.0.0.1"}, http_bind="10.0.0.1").http_bind == "10.0.0.1"
    assert build(project, {"PIP_INDEX_URL": "https://pypi.example/simple"}).pip_index_url == "https://pypi.example/simple"
    assert build(project, {"DEBIAN_MIRROR": "http://deb.example"}, debian_mirror="http://other").debian_mirror == "http://other"


def test_https_needs_its_own_port(project):
    refused(project, "HTTPS_PORT", domains=("example.com",), tls="self-signed", http_port=8443, https_port=8443)
    # Plain HTTP never listens on HTTPS_PORT: the same number is no clash.
    assert build(project, http_port=443).https_port == 443


# --- memory and process limits --------------------------------------------------------------------

def test_limits_default_per_service_and_read_from_env(project):
    # Only the services the stack runs: without workers, no worker, beat, broker or flower.
    assert build(project, workers=False).limits == {svc: DEFAULT_LIMITS[svc] for svc in ("web", "nginx", "db", "redis")}
    assert set(build(project).limits) == {"web", "nginx", "db", "redis", "worker", "beat", "broker"}  # the example's Celery
    stack = build(project, {"WEB_MEM_LIMIT": "2G", "WEB_PIDS_LIMIT": "16", "REDIS_MEM_LIMIT": "64m"})
    assert stack.limits["web"] == ("2g", 16)
    assert stack.limits["redis"] == ("64m", DEFAULT_LIMITS["redis"][1])
    assert stack.limits["db"] == DEFAULT_LIMITS["db"]
    assert stack.env()["WEB_MEM_LIMIT"] == "2g" and stack.env()["WEB_PIDS_LIMIT"] == "16"


@pytest.mark.parametrize("key,value", [("WEB_PIDS_LIMIT", "15"), ("DB_PIDS_LIMIT", "many"), ("NGINX_MEM_LIMIT", "0m"),
                                       ("REDIS_MEM_LIMIT", "1t"), ("WEB_MEM_LIMIT", "m")])
def test_a_limit_that_is_no_size_or_count_is_refused(project, key, value):
    refused(project, key, {key: value})


# --- host and domain names ------------------------------------------------------------------------

LABEL_63 = "a" * 63


@pytest.mark.parametrize("host", ["example.com", ".example.com", "*", "10.0.0.5", "localhost", "web-1",
                                  f"{LABEL_63}.com", "A.Example.COM"])
def test_good_hosts_are_taken(project, host):
    assert build(project, hosts=(host,)).hosts == (host,)


@pytest.mark.parametrize("host", ["a..b", "-a.com", "a-.com", "exa mple.com", f"{LABEL_63}a.com", "*.example.com",
                                  "", "example.com/", "..com"])
def test_bad_hosts_are_refused(project, host):
    refused(project, "DJANGO_ALLOWED_HOSTS", hosts=(host,))


def domain_of_length(n: int) -> str:
    """A valid domain name of exactly `n` characters (labels of up to 63)."""
    labels, left = [], n - 4  # ".com"
    while left > 0:
        size = min(63, left)
        if left - size == 1:  # a label needs a character after its dot
            size -= 2
        labels.append("a" * size)
        left -= size + 1
    name = ".".join(labels) + ".com"
    assert len(name) == n, (len(name), n)
    return name


@pytest.mark.parametrize("domain", ["example.com", "www.example.com", "Example.COM", f"{LABEL_63}.com",
                                    "xn--bcher-kva.example", "x.1.com", "1.example.com", domain_of_length(253)])
def test_good_domains_are_taken(project, domain):
    assert build(project, domains=(domain,)).domains == (domain,)


@pytest.mark.parametrize("domain", ["localhost", "example", "10.0.0.5", "*.example.com", "a..com", "-a.com",
                                    f"{LABEL_63}a.com", "example.com.", domain_of_length(254), "exa_mple.com",
                                    "example.123", "a.b.7"])
def test_bad_domains_are_refused(project, domain):
    refused(project, "DOMAINS", domains=(domain,))


def test_hosts_come_from_the_domains_and_extra_hosts_once_each(project):
    stack = build(project, domains=("example.com", "www.example.com"), hosts=("www.example.com", "10.0.0.5"))
    assert stack.hosts == ("example.com", "www.example.com", "10.0.0.5")
    assert stack.tls == "provided"  # domains without --tls: certificates the person provides


def test_hosts_are_kept_from_env_else_the_defaults(project):
    assert build(project).hosts == DEFAULT_HOSTS
    assert build(project, {"DJANGO_ALLOWED_HOSTS": "a.example,,b.example"}).hosts == ("a.example", "b.example")
    assert build(project, {"DJANGO_ALLOWED_HOSTS": "a.example"}, hosts=("c.example",)).hosts == ("c.example",)
    refused(project, "DJANGO_ALLOWED_HOSTS", {"DJANGO_ALLOWED_HOSTS": "bad..host"})


def test_recorded_domains_are_kept_and_checked(project):
    stack = build(project, {"DOMAINS": "example.com,,www.example.com", "TLS": "provided"})
    assert stack.domains == ("example.com", "www.example.com") and stack.https
    refused(project, "DOMAINS", {"DOMAINS": "not_a_domain", "TLS": "provided"})


# --- TLS and HSTS ---------------------------------------------------------------------------------

def test_tls_modes(project):
    assert build(project).tls == "off" and not build(project).https
    refused(project, "TLS", tls="letsencrypt-please", domains=("example.com",))
    refused(project, "TLS", {"TLS": "self-signed"})  # no domain to make a certificate for


def test_tls_profiles(project):
    """Mozilla's profiles: intermediate by default, modern on request and kept by .env; the self-signed
    certificate lives as long as the profile allows."""
    stack = build(project, domains=("example.com",))
    assert (stack.tls_profile, stack.tls_settings.protocols, stack.tls_settings.certificate_days) == (
        "intermediate", "TLSv1.2 TLSv1.3", 365)
    modern = build(project, {"TLS_PROFILE": "modern"}, domains=("example.com",))
    assert (modern.tls_settings.protocols, modern.tls_settings.ciphers, modern.tls_settings.certificate_days) == (
        "TLSv1.3", "", 90)
    assert build(project, {"TLS_PROFILE": "modern"}, tls_profile="intermediate").tls_profile == "intermediate"
    assert modern.env()["TLS_PROFILE"] == "modern"
    refused(project, "TLS_PROFILE", tls_profile="old")


def test_the_printed_address_is_the_first_domain_in_https_mode(project):
    """nginx answers 400 to any name but the domains: the address to open is the first one's."""
    https = build(project, domains=("example.com", "www.example.com"), https_port=8443)
    assert (https.site_url, https.base_url) == ("https://example.com:8443/", "https://127.0.0.1:8443/")
    assert build(project, domains=("example.com",)).site_url == "https://example.com/"
    plain = build(project, http_port=8080)
    assert plain.site_url == plain.base_url == "http://127.0.0.1:8080/"


def test_hsts_only_for_provided_certificates(project):
    provided = build(project, domains=("example.com",))
    assert provided.hsts_seconds == 31536000
    assert build(project, {"HSTS_SECONDS": "600"}, domains=("example.com",)).hsts_seconds == 600
    assert build(project, {"HSTS_SECONDS": "600"}, domains=("example.com",), tls="self-signed").hsts_seconds == 0
    assert build(project, {"HSTS_SECONDS": "600"}).hsts_seconds == 0
    refused(project, "HSTS_SECONDS", {"HSTS_SECONDS": "a year"}, domains=("example.com",))


def test_hsts_forced_off_does_not_carry_over_to_provided_certificates(project):
    """A stack first made with --tls self-signed recorded HSTS_SECONDS=0; moved to a real certificate
    it gets the default, not the 0 it never chose (a value recorded under provided stays)."""
    recorded = {"TLS": "self-signed", "HSTS_SECONDS": "0"}
    assert build(project, recorded, domains=("example.com",), tls="provided").hsts_seconds == 31536000
    kept = {"TLS": "provided", "HSTS_SECONDS": "0"}
    assert build(project, kept, domains=("example.com",)).hsts_seconds == 0
    assert build(project, recorded, domains=("example.com",), tls="provided", hsts_seconds=600).hsts_seconds == 600


# --- names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,name", [("Shop Site", "shop-site"), ("--my__site--", "my__site"), ("a_b-c9", "a_b-c9"),
                                       ("Ünïcode Shop!", "n-code-shop"), ("x" * 70, "x" * 70)])
def test_compose_names(text, name):
    assert compose_name(text) == name


@pytest.mark.parametrize("text", ["", "!!!", "-_-", "ü"])
def test_no_compose_name_from_nothing_usable(text):
    with pytest.raises(DjstackError):
        compose_name(text)


def test_database_names_follow_the_compose_name_within_mysqls_32_characters(project):
    stack = build(project, name="A-Shop.Site")
    assert stack.name == "a-shop-site"
    assert (stack.db_name, stack.db_user) == ("a_shop_site", "a_shop_site")
    long = build(project, name="s" * 40)
    assert long.db_name == long.db_user == "s" * 32
    kept = build(project, {"MYSQL_DATABASE": "shopdb", "MYSQL_USER": "shopper", "COMPOSE_PROJECT_NAME": "shop"})
    assert (kept.name, kept.db_name, kept.db_user) == ("shop", "shopdb", "shopper")


def test_releases_default_to_latest_and_none_before(project):
    stack = build(project)
    assert (stack.web_release, stack.previous_release) == ("latest", "")
    kept = build(project, {"WEB_RELEASE": "r2", PREVIOUS_KEY: "r1"})
    assert (kept.web_release, kept.previous_release) == ("r2", "r1")


@pytest.mark.parametrize("rate,expected", [("0", 0), ("25", 25), (None, 10)])
def test_admin_login_rate(project, rate, expected):
    assert build(project, {} if rate is None else {"ADMIN_LOGIN_RATE": rate}).login_rate == expected


def test_a_login_rate_that_is_no_number_is_refused(project):
    refused(project, "ADMIN_LOGIN_RATE", {"ADMIN_LOGIN_RATE": "ten"})


# --- image source ---------------------------------------------------------------------------------

def test_the_recorded_python_and_images_are_kept_on_the_same_source(project):
    """A `.env` from before IMAGE_SOURCE was recorded counts as the default source's."""
    assert build(project, {"PYTHON_VERSION": "3.12"}).python.version == "3.12"
    assert build(project, {"IMAGE_SOURCE": "official", "PYTHON_VERSION": "3.12"}).python.version == "3.12"
    assert build(project, {"REDIS_IMAGE": "redis:pinned"}).images.redis == "redis:pinned"
    # Another source offers other versions: the recorded one is the old source's, not a request.
    switched = build(project, {"IMAGE_SOURCE": "official", "PYTHON_VERSION": "3.12"}, image_source="debian")
    assert switched.python.version != "3.12"


def test_node_image_only_for_a_project_with_a_js_build(project):
    assert not project.js_build
    assert "NODE_IMAGE" not in build(project).env()


def test_an_unknown_image_source_is_refused(project):
    refused(project, "IMAGE_SOURCE", {"IMAGE_SOURCE": "quay"})
    refused(project, "IMAGE_SOURCE", image_source="quay")


def test_recorded_images_are_kept_only_while_the_source_is_the_same(project):
    default = build(project, image_source="official")
    pinned = {"IMAGE_SOURCE": "official", "PYTHON_VERSION": default.python.version, "REDIS_IMAGE": "redis:pinned"}
    assert build(project, pinned).images.redis == "redis:pinned"
    switched = build(project, pinned, image_source="debian")
    assert switched.images.redis != "redis:pinned" and switched.image_source == "debian"
    assert build(project, {**pinned, "REDIS_IMAGE": ""}).images.redis == default.images.redis


# --- URL paths nginx serves -----------------------------------------------------------------------

@pytest.mark.parametrize("url,location", [("/static/", "/static/"), ("static", "/static/"), ("/a/b", "/a/b/"),
                                          ("https://cdn.example/s/", None), ("//cdn.example/s/", None),
                                          ("http://cdn.example/", None), ("/Xfiles/X/", "/Xfiles/X/")])
def test_url_path(project, url, location):
    assert build(project).url_path(url) == location


@pytest.mark.parametrize("recorded,options,fix", [
    ({"HTTP_PORT": "0"}, {}, "Use a number from 1 to 65535."),
    ({"WEB_MEM_LIMIT": "lots"}, {}, "Use e.g. 512m or 1g."),
    ({"WEB_PIDS_LIMIT": "8"}, {}, "Use a number of at least 16, e.g. 256."),
    ({"IMAGE_SOURCE": "quay"}, {}, "Use one of: official, debian."),
    ({}, {"domains": ("localhost",)},
     "Use a full DNS name such as example.com or www.example.com: letters, digits and '-' in dot-separated "
     "labels, no spaces, no empty label ('..'), no wildcard, no IP address."),
    ({}, {"hosts": ("a..b",)}, "Use a domain (example.com), a leading-dot wildcard (.example.com) or an IP address."),
])
def test_each_refusal_says_what_to_use_instead(project, recorded, options, fix):
    with pytest.raises(DjstackError) as caught:
        build(project, recorded, **options)
    assert caught.value.fix == fix
