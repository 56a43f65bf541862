#!/usr/bin/env python
# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create the test certificates the emulated lab farm publishes (tests/lab/inventory.yml, group ccs_farm).

A throw-away CA chain (root -> intermediate) and two leaf certificates, in the two source forms
ccs_cert_publish accepts:
  www.contoso.test.pfx        www.contoso.test + api.contoso.test, PFX with key and chain
  portal.contoso.test.crt/.key + chain.crt   PEM certificate, PEM key, PEM intermediate

Existing files are kept (a second farm run must find the same certificates); --force renews them.
Lab use only: nothing here is a secret worth keeping.

usage: lab_farm_certs.py OUT_DIR [--pfx-password PASSWORD] [--force]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_PFX_PASSWORD = "Lab-Pfx-Pa55!"  # the lab inventory's ccs_lab_pfx_password
OUTPUTS = ("www.contoso.test.pfx", "portal.contoso.test.crt", "portal.contoso.test.key", "chain.crt")
Issuer = tuple[x509.Certificate, rsa.RSAPrivateKey]


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iis.ccs lab"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(common_name: str, key: rsa.RSAPrivateKey, issuer: Issuer | None, *, ca: bool,
                 dns_names: list[str] | None = None, days: int = 365) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = _name(common_name)
    issuer_name, signing_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def create(out_dir: Path, pfx_password: str = DEFAULT_PFX_PASSWORD, force: bool = False) -> list[Path]:
    """Write the lab certificates into out_dir unless they are all there already; returns the files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in OUTPUTS]
    if not force and all(p.exists() for p in paths):
        return paths

    root_key, intermediate_key = _key(), _key()
    root = _certificate("iis.ccs lab root CA", root_key, None, ca=True, days=3650)
    intermediate = _certificate("iis.ccs lab issuing CA", intermediate_key, (root, root_key), ca=True, days=1825)

    www_key = _key()
    www = _certificate("www.contoso.test", www_key, (intermediate, intermediate_key), ca=False,
                       dns_names=["www.contoso.test", "api.contoso.test"])
    # 3DES/SHA-1 protection: what every Windows version (and so every lab web node) can read.
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(pfx_password.encode())
    )
    (out_dir / "www.contoso.test.pfx").write_bytes(
        pkcs12.serialize_key_and_certificates(b"www.contoso.test", www_key, www, [intermediate], encryption))

    portal_key = _key()
    portal = _certificate("portal.contoso.test", portal_key, (intermediate, intermediate_key), ca=False,
                          dns_names=["portal.contoso.test"])
    (out_dir / "portal.contoso.test.crt").write_bytes(_pem(portal))
    key_path = out_dir / "portal.contoso.test.key"
    key_path.write_bytes(portal_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    key_path.chmod(0o600)
    (out_dir / "chain.crt").write_bytes(_pem(intermediate))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--pfx-password", default=DEFAULT_PFX_PASSWORD)
    parser.add_argument("--force", action="store_true", help="renew the certificates even when they exist")
    args = parser.parse_args(argv)
    for path in create(args.out_dir, args.pfx_password, args.force):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
