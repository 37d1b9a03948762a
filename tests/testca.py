"""A certificate authority for tests, made with the host's openssl: a root, and an intermediate that
issues server certificates (ECDSA P-256) and signs the OCSP answers about them. A client that trusts
the root trusts what it issues, as browsers trust a public CA."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

#: A new P-256 key, no passphrase, and a certificate for it (`openssl req -x509`, which signs with -CA).
NEW_EC_CERT = ("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
CA_EXTENSIONS = ("-addext", "keyUsage=critical,keyCertSign,cRLSign")


def _openssl(*args) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class CertAuthority:
    folder: Path

    @property
    def root(self) -> Path:
        return self.folder / "root.pem"

    @property
    def root_key(self) -> Path:
        return self.folder / "root.key"

    @property
    def issuer(self) -> tuple[Path, Path]:
        """The intermediate's certificate and key."""
        return self.folder / "intermediate.pem", self.folder / "intermediate.key"

    def issue(self, cert: Path, key: Path, names: tuple[str, ...], days: int, ocsp_url: str = "") -> None:
        """A server certificate for `names` written as `cert` (followed by the intermediate: a
        fullchain.pem) and `key`, valid `days` days, naming `ocsp_url` as its OCSP responder if given."""
        issuer, issuer_key = self.issuer
        aia = ("-addext", f"authorityInfoAccess=OCSP;URI:{ocsp_url}") if ocsp_url else ()
        _openssl(*NEW_EC_CERT, "-keyout", key, "-out", cert, "-days", days, "-subj", f"/CN={names[0]}",
                 "-CA", issuer, "-CAkey", issuer_key,
                 "-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in names),
                 "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
                 "-addext", "extendedKeyUsage=serverAuth", *aia)
        cert.write_text(cert.read_text() + issuer.read_text())

    def index(self, cert: Path) -> Path:
        """openssl ocsp's database, naming `cert` valid (openssl ca's index.txt format)."""
        serial = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-serial"], check=True,
                                capture_output=True, text=True).stdout.strip().split("=")[1]
        index = self.folder / "index.txt"
        index.write_text(f"V\t991231235959Z\t\t{serial}\tunknown\t/CN=leaf\n")
        return index

    def ocsp_responder(self, cert: Path, port: int, signer: tuple[Path, Path] | None = None) -> list[str]:
        """The argv of an OCSP responder on all addresses at `port` answering for `cert`, its answers
        signed by the intermediate (as a CA's own responder signs) or by `signer` (certificate, key)."""
        issuer, issuer_key = self.issuer
        signer_cert, signer_key = signer or self.issuer
        return ["openssl", "ocsp", "-port", str(port), "-index", str(self.index(cert)), "-CA", str(issuer),
                "-rsigner", str(signer_cert), "-rkey", str(signer_key), "-nmin", "10"]


def make_ca(folder: Path) -> CertAuthority:
    folder.mkdir(parents=True, exist_ok=True)
    ca = CertAuthority(folder)
    _openssl(*NEW_EC_CERT, "-keyout", ca.root_key, "-out", ca.root, "-days", 30, "-subj", "/CN=djstack test root",
             "-addext", "basicConstraints=critical,CA:TRUE", *CA_EXTENSIONS)
    issuer, issuer_key = ca.issuer
    _openssl(*NEW_EC_CERT, "-keyout", issuer_key, "-out", issuer, "-days", 30, "-subj", "/CN=djstack test issuer",
             "-CA", ca.root, "-CAkey", ca.root_key, "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
             *CA_EXTENSIONS)
    return ca
