"""uWSGI's configuration: the ini file named by `--ini`, plus options on the uwsgi command line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .paste import readable

#: Options that open a listening socket, and the protocol spoken on it.
LISTENERS = {
    "socket": "uwsgi", "uwsgi-socket": "uwsgi", "suwsgi-socket": "uwsgi",
    "http-socket": "http", "http": "http", "https-socket": "http", "https": "http", "http11-socket": "http",
    "fastcgi-socket": "fastcgi", "scgi-socket": "scgi",
}


@dataclass(frozen=True)
class Option:
    key: str  # normalised: lowercase, '-' for '_'
    value: str
    file: str
    line: int | None


@dataclass(frozen=True)
class Listener:
    option: Option
    protocol: str
    host: str | None  # None for a unix socket
    port: int | None

    def describe(self) -> str:
        return f"{self.option.key} = {self.option.value}"


def normalise(key: str) -> str:
    return key.strip().lower().replace("_", "-")


def read_ini(path: Path, rel: str) -> list[Option]:
    """The [uwsgi] section; `%(name)` placeholders expanded from options set before them."""
    options: list[Option] = []
    section = None
    known: dict[str, str] = {}
    for number, raw in enumerate(readable(path, "ini").splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section != "uwsgi" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = re.sub(r"%\(([^)]+)\)", lambda m: known.get(normalise(m.group(1)), m.group(0)), value.strip())
        option = Option(normalise(key), value, rel, number)
        known[option.key] = value
        options.append(option)
    return options


def command_options(words: list[str], file: str, line: int | None) -> list[Option]:
    """Options given on a uwsgi command line: --key value, --key=value, or a bare flag."""
    options = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            key, eq, value = word[2:].partition("=")
            if not eq and i + 1 < len(words) and not words[i + 1].startswith("-"):
                value = words[i + 1]
                i += 1
            options.append(Option(normalise(key), value if (eq or value) else "true", file, line))
        i += 1
    return options


def parse_address(text: str) -> tuple[str | None, int | None]:
    text = text.split(",")[0].strip()
    if "/" in text and ":" not in text.split("/")[0] or text.startswith("@"):
        return None, None  # unix socket
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else None


@dataclass
class Uwsgi:
    options: list[Option]

    def all(self, key: str) -> list[Option]:
        return [o for o in self.options if o.key == key]

    @property
    def listeners(self) -> list[Listener]:
        found = []
        for option in self.options:
            if option.key in LISTENERS:
                host, port = parse_address(option.value)
                found.append(Listener(option, LISTENERS[option.key], host, port))
        return found
