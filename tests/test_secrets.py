"""Generated secrets reach the services exactly as `.env` holds them.

Compose reads `.env` and interpolates `$NAME` in its values, strips quotes and drops a ` #` comment:
a secret with any of those would give MySQL, Redis and Django a different password than the one
recorded (and shown to the person). So every generated secret is plain: letters, digits, '-', '_'.
"""

from __future__ import annotations

import string

import pytest

from djstack.envfile import new_secret, read_env
from djstack.initialise import run_init
from djstack.model import MIN_SECRET_LENGTH, SECRET_KEYS, StackOptions

#: What Compose reads verbatim in an unquoted `.env` value (and a URL or SQL needs no escaping for).
VERBATIM = set(string.ascii_letters + string.digits + "-_")
#: Django's `check --deploy` (security.W009) wants a SECRET_KEY of at least 50 characters.
DJANGO_MIN_KEY = 50


@pytest.mark.parametrize("length", [MIN_SECRET_LENGTH, 40, DJANGO_MIN_KEY])
def test_a_new_secret_has_nothing_compose_would_change(length):
    # 300 draws: were one character of 65 a '$', a 32-character secret would miss it 300 times in a row
    # with odds below 1e-180.
    drawn = [new_secret(length) for _ in range(300)]
    for secret in drawn:
        assert len(secret) == length
        assert set(secret) <= VERBATIM, f"{secret!r} has a character Compose or a URL would alter"
        assert secret[0].isalnum(), f"{secret!r} would read as an option on a command line"
    assert len(set(drawn)) == len(drawn), "secrets repeat: not random"


def test_every_secret_in_env_is_what_the_stack_hands_the_services(example_copy):
    stack, _ = run_init(example_copy, StackOptions(), force=False)
    env = read_env(stack.project.root / ".env")
    compose = (stack.project.root / "docker-compose.yml").read_text()
    assert set(SECRET_KEYS) <= set(stack.secrets)
    for key in SECRET_KEYS:
        value = env[key]
        assert value == stack.secrets[key] == stack.env()[key]
        assert "$" not in value and set(value) <= VERBATIM, f"{key}: Compose would interpolate {value!r}"
        assert len(value) >= MIN_SECRET_LENGTH
        # The compose file refers to the secret by name only: one value, in .env.
        assert value not in compose
    assert len(env["DJANGO_SECRET_KEY"]) >= DJANGO_MIN_KEY


def test_a_second_init_keeps_the_recorded_secrets(example_copy):
    first, _ = run_init(example_copy, StackOptions(), force=False)
    again, _ = run_init(example_copy, StackOptions(), force=True)
    assert {k: again.secrets[k] for k in SECRET_KEYS} == {k: first.secrets[k] for k in SECRET_KEYS}
    assert len({first.secrets[k] for k in SECRET_KEYS}) == len(SECRET_KEYS), "two secrets are the same"
