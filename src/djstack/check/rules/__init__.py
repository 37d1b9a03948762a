"""Every rule of `djstack check`, one module per area; importing this package registers them all
in the table (check/registry.py)."""

from . import compose, env, mysql, nginx, paste, redis, settings, tls, unparseable, uwsgi, web, workers  # noqa: F401
