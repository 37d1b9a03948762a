"""Pebble, the ACME test server Let's Encrypt publishes (Debian package `pebble`), run on this host for
an e2e module: a throwaway CA for its HTTPS API, the API on the default bridge's gateway (containers
reach it there), and pebble-challtestsrv as its DNS, which answers 127.0.0.1 for every name unless a
test says otherwise (`point`). Pebble keeps all state in memory: one Pebble serves one module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from helpers import free_port, unavailable

#: Pebble's environment: no artificial validation delays; a fresh authorization for every order (else a
#: name validated once stays valid and a challenge meant to fail is never tried); no rejected nonces (a
#: 5 % default certbot would retry around, which only makes a run slower and less predictable).
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0", "PEBBLE_WFE_NONCEREJECT": "0"}


def _openssl(*args) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


@dataclass
class Pebble:
    folder: Path
    address: str  # where the ACME API listens: the bridge gateway
    http_port: int  # the port Pebble's validator fetches http-01 challenges on: the stack's HTTP port
    port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_port)
    challtest_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def directory(self) -> str:
        return f"https://{self.address}:{self.port}/dir"

    @property
    def ca(self) -> Path:
        """The PEM of the CA that signed Pebble's API certificate: what an ACME client must trust."""
        return self.folder / "ca.pem"

    def make_ca(self) -> None:
        """A throwaway CA and a certificate for the API's addresses (the package ships no test ones)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        f = self.folder
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f / "ca.key", "-out", self.ca, "-days", 2, "-subj", "/CN=djstack e2e Pebble API CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", f / "api.key", "-out", f / "api.pem", "-days", 2, "-subj", "/CN=pebble",
                 "-CA", self.ca, "-CAkey", f / "ca.key",
                 "-addext", f"subjectAltName=IP:{self.address},IP:127.0.0.1,DNS:localhost",
                 "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth")

    def start(self) -> None:
        for tool in ("pebble", "pebble-challtestsrv"):
            if shutil.which(tool) is None:
                unavailable(f"{tool} is not installed (scripts/dev-setup.sh installs Debian's pebble)")
        if not self.ca.exists():
            self.make_ca()
        config = self.folder / "pebble.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"{self.address}:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.folder / "api.pem"), "privateKey": str(self.folder / "api.key"),
            "httpPort": self.http_port, "tlsPort": free_port(), "ocspResponderURL": "",
            "externalAccountBindingRequired": False}}))
        self._spawn("challtestsrv", "pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                    "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                    "-management", f"127.0.0.1:{self.challtest_port}")
        self._wait(lambda: requests.post(f"http://127.0.0.1:{self.challtest_port}/clear-a",
                                         json={"host": "ready.test"}, timeout=5), "pebble-challtestsrv")
        self._spawn("pebble", "pebble", "-config", config, "-dnsserver", f"127.0.0.1:{self.dns_port}")
        self._wait(lambda: requests.get(self.directory, verify=str(self.ca), timeout=5).raise_for_status(), "pebble")

    def _spawn(self, name: str, *argv) -> None:
        log = open(self.folder / f"{name}.log", "ab")
        self.processes.append(subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                                               env={**os.environ, **PEBBLE_ENV}, cwd=self.folder))
        log.close()

    def _wait(self, probe, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"{what} exited at start:\n{self.logs()}")
            try:
                probe()
                return
            except (requests.RequestException, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s:\n{self.logs()}") from None
                time.sleep(0.2)

    def point(self, host: str, address: str | None) -> None:
        """Make the DNS answer `address` for `host` (None: the default, 127.0.0.1 again)."""
        if address is None:
            requests.post(f"http://127.0.0.1:{self.challtest_port}/clear-a", json={"host": host + "."},
                          timeout=5).raise_for_status()
        else:
            requests.post(f"http://127.0.0.1:{self.challtest_port}/add-a",
                          json={"host": host + ".", "addresses": [address]}, timeout=5).raise_for_status()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.processes.clear()
