"""Field-by-field validation: each recorded setting has one parser; bad_env_entries names every bad
`.env` entry at once (key and line); build_stack raises the first as a BadEnvEntry, in the same words."""

from __future__ import annotations

import itertools

import pytest

from djstack.detect import detect
from djstack.envfile import read_env, read_env_file
from djstack.errors import BadEnvEntry
from djstack.model import StackOptions, bad_env_entries, build_stack

#: One bad value per key, and the problem build_stack words for it.
BAD = {
    "IMAGE_SOURCE": ("alpine", "Unknown image source 'alpine' (from IMAGE_SOURCE in .env or --images)."),
    "PYTHON_VERSION": ("2.7", ".env's PYTHON_VERSION 2.7: the official images offer Python 3.10, 3.11, 3.12, 3.13, 3.14."),
    "COMPOSE_PROJECT_NAME": ("!!!", "Cannot make a Compose project name from '!!!'."),
    "DOMAINS": ("example..com", "--domain 'example..com' is not a valid domain name."),
    "TLS": ("on", "Unknown TLS mode 'on' (from TLS in .env or --tls)."),
    "TLS_PROFILE": ("old", "Unknown TLS profile 'old' (from TLS_PROFILE in .env or --tls-profile)."),
    "DJANGO_ALLOWED_HOSTS": ("localhost,bad host", "'bad host' is not a valid host name for ALLOWED_HOSTS."),
    "HTTP_PORT": ("eighty", "HTTP_PORT 'eighty' is not a port number (from .env or --port)."),
    "HTTPS_PORT": ("70000", "HTTPS_PORT '70000' is not a port number (from .env or --https-port)."),
    "HSTS_SECONDS": ("a year", "HSTS_SECONDS 'a year' is not a number of seconds."),
    "ADMIN_LOGIN_RATE": ("ten", ".env: ADMIN_LOGIN_RATE='ten' is not a number."),
    "WEB_MEM_LIMIT": ("lots", ".env: WEB_MEM_LIMIT='lots' is not a memory size."),
    "DB_PIDS_LIMIT": ("8", ".env: DB_PIDS_LIMIT='8' is not a process count."),
}


@pytest.fixture
def project(example_copy):
    return detect(example_copy)


def located(entries: list[BadEnvEntry]) -> set[tuple[str | None, int | None]]:
    return {(e.key, e.line) for e in entries}


@pytest.mark.parametrize("key", BAD)
def test_build_stack_names_the_bad_key_in_the_words_it_always_used(project, key):
    value, problem = BAD[key]
    with pytest.raises(BadEnvEntry) as caught:
        build_stack(project, StackOptions(), {key: value})
    assert (caught.value.key, caught.value.message, caught.value.line) == (key, problem, None)
    [entry] = bad_env_entries({key: value})
    assert (entry.key, entry.problem, entry.fix) == (key, problem, caught.value.fix)


def test_every_bad_entry_at_once_with_its_line(project, tmp_path):
    env = tmp_path / ".env"
    good = {"HTTP_BIND": "0.0.0.0", "MYSQL_USER": "mysite"}
    text = "# a comment\n\n" + "".join(f"{k}={v}\n" for k, v in {**good, **{k: v for k, (v, _) in BAD.items()}}.items())
    env.write_text(text + "HTTP_PORT=eighty\n")  # set twice: Compose takes the last line
    read = read_env_file(env)
    entries = bad_env_entries(read.values, env, read.lines)
    assert located(entries) == {(key, 5 + i) for i, key in enumerate(BAD) if key != "HTTP_PORT"} | {
        ("HTTP_PORT", 5 + len(BAD))}
    by_key = {e.key: e for e in entries}
    assert by_key["ADMIN_LOGIN_RATE"].message == f"{env}:{read.lines['ADMIN_LOGIN_RATE']}: {BAD['ADMIN_LOGIN_RATE'][1]}"
    assert all(e.path == env for e in entries)
    # What is left builds.
    build_stack(project, StackOptions(), {k: v for k, v in read.values.items() if k not in by_key})


def test_a_good_env_has_no_bad_entry(example_copy):
    from djstack.initialise import run_init

    run_init(example_copy, StackOptions(image_source="official", domains=("example.com",), tls="provided"), force=False)
    assert bad_env_entries(read_env(example_copy / ".env")) == []


def test_empty_values_mean_the_default(project):
    empty = {key: "" for key in BAD}
    assert bad_env_entries(empty) == []
    assert build_stack(project, StackOptions(), empty).http_port == 80


def test_tls_is_judged_with_the_valid_domains_only():
    assert located(bad_env_entries({"TLS": "provided"})) == {("TLS", None)}
    assert located(bad_env_entries({"TLS": "provided", "DOMAINS": "example.com"})) == set()
    # Bad domains are left out: TLS then has none to cover.
    assert located(bad_env_entries({"TLS": "self-signed", "DOMAINS": "bad..name"})) == {("DOMAINS", None), ("TLS", None)}
    # Valid HTTPS settings beside a bad value: only that value.
    https = {"TLS": "self-signed", "DOMAINS": "djstack.test", "ADMIN_LOGIN_RATE": "ten"}
    assert located(bad_env_entries(https)) == {("ADMIN_LOGIN_RATE", None)}


def test_a_port_clash_names_each_port_recorded(project):
    https = {"DOMAINS": "example.com"}  # TLS defaults to provided
    both = bad_env_entries({**https, "HTTP_PORT": "8443", "HTTPS_PORT": "8443"}, "x/.env", {"HTTP_PORT": 3, "HTTPS_PORT": 4})
    assert located(both) == {("HTTP_PORT", 3), ("HTTPS_PORT", 4)}
    assert {e.problem for e in both} == {"HTTP_PORT and HTTPS_PORT are both 8443."}
    assert located(bad_env_entries({**https, "HTTP_PORT": "443"})) == {("HTTP_PORT", None)}
    assert located(bad_env_entries({**https, "HTTPS_PORT": "80"})) == {("HTTPS_PORT", None)}
    assert bad_env_entries({"TLS": "off", "HTTP_PORT": "443"}) == []  # no HTTPS, no clash
    with pytest.raises(BadEnvEntry, match="HTTP_PORT and HTTPS_PORT are both 443") as caught:
        build_stack(project, StackOptions(), {**https, "HTTP_PORT": "443"})
    assert caught.value.key == "HTTPS_PORT"


def test_python_version_is_judged_against_the_recorded_image_source():
    assert bad_env_entries({"PYTHON_VERSION": "3.12"}) == []
    [entry] = bad_env_entries({"IMAGE_SOURCE": "debian", "PYTHON_VERSION": "3.12"})
    assert entry.key == "PYTHON_VERSION" and "the debian images offer Python 3.11, 3.13, 3.14" in entry.problem
    # A bad source is left out: the version is judged against the default (official) source.
    assert located(bad_env_entries({"IMAGE_SOURCE": "alpine", "PYTHON_VERSION": "3.12"})) == {("IMAGE_SOURCE", None)}


def test_options_are_named_by_the_key_that_records_them(project):
    cases = [(StackOptions(http_port=0), "HTTP_PORT", "HTTP_PORT '0' is not a port number (from .env or --port)."),
             (StackOptions(hosts=("bad host",)), "DJANGO_ALLOWED_HOSTS", None),
             (StackOptions(domains=("localhost",)), "DOMAINS", "--domain 'localhost' is not a valid domain name."),
             (StackOptions(tls="provided"), "TLS", "TLS provided needs the site's domain names."),
             (StackOptions(python="3.9"), "PYTHON_VERSION", None),
             (StackOptions(name="---"), "COMPOSE_PROJECT_NAME", None)]
    for options, key, message in cases:
        with pytest.raises(BadEnvEntry) as caught:
            build_stack(project, options, {})
        assert caught.value.key == key, options
        assert message is None or caught.value.message == message


def test_what_is_left_always_builds(project):
    """Whatever mix of bad and good values: leaving out the entries bad_env_entries names, build_stack accepts
    the rest."""
    values = {"TLS": ["provided", "on", "off"], "DOMAINS": ["example.com", "bad..name", ""],
              "HTTP_PORT": ["443", "x", "8080"], "HTTPS_PORT": ["443", "80", "0"],
              "IMAGE_SOURCE": ["debian", "nope"], "PYTHON_VERSION": ["3.12", "3.13"]}
    for combo in itertools.product(*values.values()):
        recorded = dict(zip(values, combo))
        bad = {e.key for e in bad_env_entries(recorded)}
        build_stack(project, StackOptions(), {k: v for k, v in recorded.items() if k not in bad})
        if not bad:
            build_stack(project, StackOptions(), recorded)


def test_a_line_that_is_not_key_value_is_a_bad_entry_without_a_key(tmp_path):
    env = tmp_path / ".env"
    env.write_text("A=1\nthis is not a variable\n")
    with pytest.raises(BadEnvEntry) as caught:
        read_env(env)
    assert (caught.value.key, caught.value.line, caught.value.path) == (None, 2, env)
    assert caught.value.message == f"{env}:2: not a KEY=VALUE line: 'this is not a variable'"
    assert caught.value.fix == "Fix or remove the line (Compose reads this file too)."


def test_read_env_file_keeps_each_keys_last_line(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# c\nA=1\nexport B='two'\n\nA=3\n")
    read = read_env_file(env)
    assert (read.values, read.lines, read.path) == ({"A": "3", "B": "two"}, {"A": 5, "B": 3}, env)
    missing = read_env_file(tmp_path / "none")
    assert (missing.values, missing.lines) == ({}, {})
