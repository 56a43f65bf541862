"""A generated corpus of certificates, keys and PFX files for tests (nothing binary is committed).

Usage from any test (the ``cert_corpus`` fixture in tests/unit/conftest.py does this once per session)::

    corpus = build_corpus(tmp_path)          # -> CertCorpus
    corpus.read("leaf-rsa.3des.pfx")         # bytes
    corpus.path("leaf-rsa.fullchain.pem")    # pathlib.Path
    corpus.PFX_PASSWORD, corpus.KEY_PASSPHRASE
    corpus.certificate("leaf-rsa"), corpus.thumbprint("leaf-rsa"), corpus.leaves["idn"].dns_names
    corpus.pkcs12_info(path, password, legacy=True)   # openssl pkcs12 -info -noout output

Other test folders (tests/playbooks, tests/windows) cannot see tests/unit/conftest.py; they load
this file by path (it only needs the standard library, cryptography and optionally openssl)::

    spec = importlib.util.spec_from_file_location("iis_ccs_cert_corpus", REPO / "tests/unit/certs/corpus.py")
    module = importlib.util.module_from_spec(spec); sys.modules[spec.name] = module; spec.loader.exec_module(module)
    corpus = module.build_corpus(tmp_path_factory.mktemp("certs"))

PKI: a test root CA (RSA 2048) issues an intermediate CA (EC P-256), which issues the leaves.

Leaves (``<name>.crt``, ``<name>.key`` PEM, ``<name>.key.enc`` PEM encrypted with KEY_PASSPHRASE,
``<name>.fullchain.pem`` = leaf + intermediate, ``<name>.3des.pfx`` / ``<name>.aes256.pfx`` from
cryptography with the chain, and for LEAVES_FOR_OPENSSL also ``<name>.openssl-legacy.pfx``
(``-legacy``: RC2-40 certificates, 3DES key, SHA-1 MAC), ``<name>.openssl-3des.pfx``
(``-certpbe/-keypbe PBE-SHA1-3DES -macalg sha1``) and ``<name>.openssl-aes256.pfx`` (OpenSSL 3 default)):

========================  ==========================================================
leaf-rsa                  RSA 2048, SAN www.example.test + example.test
leaf-ec                   EC P-256, SAN www.example.test
wildcard                  RSA 2048, SAN *.example.test
multi-san                 RSA 2048, SAN a/b/c.example.test
idn                       RSA 2048, SAN *.xn--bcher-kva.example + xn--bcher-kva.example (A-labels, RFC 5280)
expired                   valid until 10 days ago
not-yet-valid             valid from 10 days from now
expiring-soon             expires in 10 days
no-server-auth            EKU clientAuth only
no-eku                    no EKU extension at all (allowed for any use)
cn-only                   no SAN extension; CN www.example.test
rsa-1024                  RSA 1024 (weak)
ec-secp256k1              EC secp256k1 (a curve SChannel does not offer)
ed25519                   Ed25519 leaf (IIS cannot use it; PFX files only where cryptography can write them)
self-signed               self-signed RSA 2048, SAN self.example.test (no chain needed)
========================  ==========================================================

Other files: ``root.crt``, ``intermediate.crt``, ``chain.pem`` (intermediate + root),
``intermediate-only.pem``, ``leaf-rsa.nochain.3des.pfx``, ``leaf-rsa.nopassword.pfx`` (unencrypted),
``leaf-rsa.emptypassword.pfx`` (openssl, empty password), ``nokey.pfx`` (certificates only),
``mismatched.pfx`` (the leaf-ec key beside the leaf-rsa certificate), ``leaf-rsa.incomplete-chain.3des.pfx`` (intermediate without
root; fine) and ``leaf-rsa.shuffled.3des.pfx`` (root before intermediate), ``garbage.pfx``,
``truncated.pfx``, ``empty.pfx``, ``hostile-host-names.json``.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PFX_PASSWORD = "Corpus-PFX-pässword-1"
KEY_PASSPHRASE = "Corpus-key-passphrase-2"
WRONG_PASSWORD = "not-the-password"

LEAVES_FOR_OPENSSL = ("leaf-rsa", "leaf-ec", "wildcard", "idn")

# Host names that must never become a binding, an SNI name or a file name.
HOSTILE_HOST_NAMES: tuple[str, ...] = (
    "",
    " ",
    "www.example.com ",
    "www example.com",
    "www.example.com\n",
    "www.example.com\r\nX-Injected: 1",
    "www.exa\x00mple.com",
    "'www.example.com'",
    '"www.example.com"',
    "$(Remove-Item C:\\ -Recurse).example.com",
    "www.example.com;calc",
    "`calc`.example.com",
    "$env:COMPUTERNAME.example.com",
    "../../windows/system32",
    "..\\..\\windows",
    "www/../x.example.com",
    "c:\\temp\\x.example.com",
    "\\\\server\\share\\x",
    "www..example.com",
    "www.exa|mple.com",
    "www.exa\u202emple.com",
    "www.exa\uff0fmple.com",
    "con",
    "nul.example.com",
    "com1.example.com",
    "_.example.com",
    "*",
    "*.com",
    "a*.example.com",
    "www.*.example.com",
    "-www.example.com",
    "1.2.3.4",
    "::1",
    "a" * 64 + ".example.com",
)

_NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class LeafSpec:
    name: str
    dns_names: Sequence[str] = ("www.example.test",)
    key: str = "rsa2048"
    not_before: datetime.datetime = _NOW - _DAY
    not_after: datetime.datetime = _NOW + 365 * _DAY
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,)
    san: bool = True
    self_signed: bool = False


LEAVES: tuple[LeafSpec, ...] = (
    LeafSpec("leaf-rsa", ("www.example.test", "example.test")),
    LeafSpec("leaf-ec", key="ec-p256"),
    LeafSpec("wildcard", ("*.example.test",)),
    LeafSpec("multi-san", ("a.example.test", "b.example.test", "c.example.test")),
    LeafSpec("idn", ("*.xn--bcher-kva.example", "xn--bcher-kva.example")),
    LeafSpec("expired", not_before=_NOW - 100 * _DAY, not_after=_NOW - 10 * _DAY),
    LeafSpec("not-yet-valid", not_before=_NOW + 10 * _DAY, not_after=_NOW + 100 * _DAY),
    LeafSpec("expiring-soon", not_after=_NOW + 10 * _DAY),
    LeafSpec("no-server-auth", eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)),
    LeafSpec("no-eku", eku=None),
    LeafSpec("cn-only", san=False),
    LeafSpec("rsa-1024", key="rsa1024"),
    LeafSpec("ec-secp256k1", key="ec-secp256k1"),
    LeafSpec("ed25519", key="ed25519"),
    LeafSpec("self-signed", ("self.example.test",), self_signed=True),
)


@dataclass(frozen=True)
class CertCorpus:
    directory: Path
    openssl: str | None
    leaves: dict[str, LeafSpec] = field(default_factory=dict)
    PFX_PASSWORD: str = PFX_PASSWORD
    KEY_PASSPHRASE: str = KEY_PASSPHRASE
    WRONG_PASSWORD: str = WRONG_PASSWORD
    HOSTILE_HOST_NAMES: tuple[str, ...] = HOSTILE_HOST_NAMES

    def require_openssl(self) -> str:
        """The openssl command, which checks PFX encryption independently of cryptography.

        tools/bootstrap installs it; without it a test is skipped on a developer's machine and fails
        under CI (CI set), so a missing tool can never hide a regression there.
        """
        if self.openssl is None:
            import os

            import pytest

            message = "the openssl command is not installed (tools/test installs it: apt-get install openssl)"
            if os.environ.get("CI"):
                pytest.fail(message + "; under CI this is a failure")
            pytest.skip(message)
        return self.openssl

    def path(self, name: str) -> Path:
        path = self.directory / name
        if not path.exists():
            raise FileNotFoundError(f"the certificate corpus has no file {name!r}")
        return path

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def certificate(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.read(f"{name}.crt"))

    def thumbprint(self, name: str) -> str:
        return self.certificate(name).fingerprint(hashes.SHA1()).hex().upper()

    def pkcs12_info(self, pfx: Path, password: str, *, legacy: bool = False) -> str:
        """``openssl pkcs12 -info -noout`` of a PFX (needs the openssl command)."""
        if self.openssl is None:
            raise RuntimeError("the openssl command is not installed")
        return openssl_pkcs12_info(self.openssl, pfx, password, legacy=legacy)


def build_corpus(directory: Path, *, openssl: str | None = "openssl") -> CertCorpus:
    """Write the whole corpus into directory; openssl=None (or not installed) skips the openssl files."""
    directory.mkdir(parents=True, exist_ok=True)
    openssl_path = shutil.which(openssl) if openssl else None
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _ca_certificate("iis.ccs Test Root CA", root_key, root_key, None)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _ca_certificate("iis.ccs Test Intermediate CA", intermediate_key, root_key, root)
    _write_pem(directory / "root.crt", root)
    _write_pem(directory / "intermediate.crt", intermediate)
    _write_pem(directory / "chain.pem", intermediate, root)
    _write_pem(directory / "intermediate-only.pem", intermediate)
    keys: dict[str, object] = {}
    certs: dict[str, x509.Certificate] = {}
    for spec in LEAVES:
        key = _generate_key(spec.key)
        certificate = _leaf_certificate(spec, key, intermediate_key, intermediate)
        keys[spec.name], certs[spec.name] = key, certificate
        _write_leaf_files(directory, spec, key, certificate, intermediate, root)
    _write_special_pfx(directory, keys, certs, intermediate, root)
    if openssl_path:
        for name in LEAVES_FOR_OPENSSL:
            _write_openssl_pfx(openssl_path, directory, name)
        _openssl_export(openssl_path, directory, "leaf-rsa", "leaf-rsa.emptypassword.pfx", "", [])
    (directory / "hostile-host-names.json").write_text(json.dumps(list(HOSTILE_HOST_NAMES), ensure_ascii=True), encoding="ascii")
    return CertCorpus(directory=directory, openssl=openssl_path, leaves={spec.name: spec for spec in LEAVES})


def openssl_pkcs12_info(openssl: str, pfx: Path, password: str, *, legacy: bool = False) -> str:
    """Output of ``openssl pkcs12 -info -noout`` (algorithm lines go to stderr in OpenSSL 3)."""
    command = [openssl, "pkcs12", "-info", "-noout", "-in", str(pfx), "-passin", f"pass:{password}"]
    if legacy and _openssl_is_3(openssl):
        command.append("-legacy")
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"openssl pkcs12 -info failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout + completed.stderr


# ---------------------------------------------------------------- building blocks


def _generate_key(kind: str) -> object:
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    curves = {"ec-p256": ec.SECP256R1(), "ec-secp256k1": ec.SECP256K1()}
    if kind in curves:
        return ec.generate_private_key(curves[kind])
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iis.ccs tests"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca_certificate(common_name: str, key: object, issuer_key: object, issuer: x509.Certificate | None) -> x509.Certificate:
    subject = _name(common_name)
    public_key = key.public_key()  # type: ignore[attr-defined]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - 30 * _DAY)
        .not_valid_after(_NOW + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)  # type: ignore[arg-type]
    return builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]


def _leaf_certificate(spec: LeafSpec, key: object, ca_key: object, ca: x509.Certificate) -> x509.Certificate:
    public_key = key.public_key()  # type: ignore[attr-defined]
    subject = _name(spec.dns_names[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if spec.self_signed else ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if spec.san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in spec.dns_names]), critical=False)
    if spec.eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
    signer = key if spec.self_signed else ca_key
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm)  # type: ignore[arg-type]


def _write_pem(path: Path, *certificates: x509.Certificate) -> None:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))


def _key_pem(key: object, passphrase: str | None = None) -> bytes:
    protection = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protection)  # type: ignore[attr-defined]


def _pfx_protection(encryption: str, password: str) -> serialization.KeySerializationEncryption:
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
    if encryption == "3des":
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
    else:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
    return builder.build(password.encode("utf-8"))


def _write_pfx(path: Path, key: object, certificate: x509.Certificate | None, cas: Sequence[x509.Certificate], encryption: str = "3des") -> None:
    protection = _pfx_protection(encryption, PFX_PASSWORD) if encryption != "none" else serialization.NoEncryption()
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"iis.ccs test", key, certificate, list(cas) or None, protection))  # type: ignore[arg-type]


def _write_leaf_files(
    directory: Path, spec: LeafSpec, key: object, certificate: x509.Certificate, intermediate: x509.Certificate, root: x509.Certificate
) -> None:
    _write_pem(directory / f"{spec.name}.crt", certificate)
    (directory / f"{spec.name}.key").write_bytes(_key_pem(key))
    (directory / f"{spec.name}.key.enc").write_bytes(_key_pem(key, KEY_PASSPHRASE))
    _write_pem(directory / f"{spec.name}.fullchain.pem", certificate, *([] if spec.self_signed else [intermediate]))
    chain = [] if spec.self_signed else [intermediate, root]
    try:
        _write_pfx(directory / f"{spec.name}.3des.pfx", key, certificate, chain, "3des")
        _write_pfx(directory / f"{spec.name}.aes256.pfx", key, certificate, chain, "aes256")
    except (TypeError, ValueError):
        if spec.key != "ed25519":
            raise  # only older cryptography releases refuse Ed25519 keys in PKCS#12


def _write_special_pfx(
    directory: Path, keys: dict[str, object], certs: dict[str, x509.Certificate], intermediate: x509.Certificate, root: x509.Certificate
) -> None:
    leaf_key, leaf = keys["leaf-rsa"], certs["leaf-rsa"]
    _write_pfx(directory / "leaf-rsa.nochain.3des.pfx", leaf_key, leaf, [])
    _write_pfx(directory / "leaf-rsa.incomplete-chain.3des.pfx", leaf_key, leaf, [intermediate])
    _write_pfx(directory / "leaf-rsa.shuffled.3des.pfx", leaf_key, leaf, [root, intermediate])
    _write_pfx(directory / "leaf-rsa.nopassword.pfx", leaf_key, leaf, [intermediate, root], "none")
    # cryptography and openssl both refuse a key next to the wrong certificate in the key's slot,
    # so the mismatched PFX carries the leaf-ec key with only the leaf-rsa certificate beside it.
    _write_pfx(directory / "mismatched.pfx", keys["leaf-ec"], None, [leaf, intermediate, root])
    protection = _pfx_protection("3des", PFX_PASSWORD)
    (directory / "nokey.pfx").write_bytes(pkcs12.serialize_key_and_certificates(None, None, None, [leaf, intermediate, root], protection))
    good = (directory / "leaf-rsa.3des.pfx").read_bytes()
    (directory / "truncated.pfx").write_bytes(good[: len(good) // 2])
    (directory / "garbage.pfx").write_bytes(b"This is not a PFX file at all, just text.\n" * 20)
    (directory / "empty.pfx").write_bytes(b"")


def _openssl_is_3(openssl: str) -> bool:
    version = subprocess.run([openssl, "version"], capture_output=True, text=True, check=True).stdout
    return not version.startswith(("OpenSSL 1.", "OpenSSL 0.", "LibreSSL"))


def _write_openssl_pfx(openssl: str, directory: Path, name: str) -> None:
    # OpenSSL 1.x has no -legacy option: its default already is the legacy scheme (RC2-40, 3DES, SHA-1).
    legacy = ["-legacy"] if _openssl_is_3(openssl) else []
    _openssl_export(openssl, directory, name, f"{name}.openssl-legacy.pfx", PFX_PASSWORD, legacy)
    _openssl_export(
        openssl, directory, name, f"{name}.openssl-3des.pfx", PFX_PASSWORD, ["-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"]
    )
    # OpenSSL 3's default is PBES2/AES-256-CBC with a SHA-256 MAC; 1.x must be asked for it.
    aes = [] if _openssl_is_3(openssl) else ["-certpbe", "AES-256-CBC", "-keypbe", "AES-256-CBC", "-macalg", "sha256"]
    _openssl_export(openssl, directory, name, f"{name}.openssl-aes256.pfx", PFX_PASSWORD, aes)


def _openssl_export(openssl: str, directory: Path, name: str, output: str, password: str, extra: Sequence[str]) -> None:
    command = [
        openssl, "pkcs12", "-export",
        "-in", str(directory / f"{name}.crt"),
        "-inkey", str(directory / f"{name}.key"),
        "-certfile", str(directory / "chain.pem"),
        "-name", f"{name} (openssl)",
        "-out", str(directory / output),
        "-passout", f"pass:{password}",
        *extra,
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
