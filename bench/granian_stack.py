"""The Granian contender (bench/granian/): djstack's generated stack with Granian's WSGI server in
place of uWSGI, sized like uWSGI (workers = its processes, blocking threads per worker = its threads,
both read from the generated uwsgi.ini), behind the same nginx over HTTP as Gunicorn (proxy_pass).

Its web image is not a second full build: bench/granian/Dockerfile starts FROM the djstack stack's
built web image and adds Granian from the PyPI index the stack uses (PIP_INDEX_URL in .env, empty for
PyPI itself). bench.py makes the stack (a `djstack init` of its own copy, its own db and cache) and
calls prepare() on it. Dependencies: the standard library and inprocess.py (the uwsgi.ini reading).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from inprocess import uwsgi_sizing  # bench/inprocess.py

HERE = Path(__file__).resolve().parent / "granian"
FILES = ["docker-compose.yml", "compose.granian.yml"]


def prepare(root: Path, web_image: str, proxy_conf: str, cores: int | None = None) -> dict[str, str]:
    """Write the override, the Dockerfile and nginx-granian.conf (`proxy_conf`, the generated nginx.conf
    switched to proxy_pass) into the initialised copy at `root`; the variables its compose files need."""
    sizing = uwsgi_sizing((root / "compose" / "web" / "uwsgi.ini").read_text(encoding="utf-8"),
                          cores or os.cpu_count() or 1)
    (root / "compose" / "granian").mkdir(exist_ok=True)
    shutil.copy(HERE / "Dockerfile", root / "compose" / "granian" / "Dockerfile")
    shutil.copy(HERE / "compose.granian.yml", root / "compose.granian.yml")
    (root / "nginx-granian.conf").write_text(proxy_conf, encoding="utf-8")
    return {"GRANIAN_FROM_IMAGE": web_image, "BENCH_GRANIAN_WORKERS": str(sizing["processes"]),
            "BENCH_GRANIAN_THREADS": str(sizing["threads"])}
