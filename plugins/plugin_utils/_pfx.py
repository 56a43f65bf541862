# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates for the Central Certificate Store: load PFX or PEM, check them, write PFX.

Only ``cryptography`` is used (no openssl on the controller). Error messages name the option
and the fix and never hold a password, key material or the bytes of a file: cryptography's own
exception text is never passed on, because it could quote input.

PFX encryption (see docs/ccs-behaviour): "compatible" is what Windows Server 2016 can import
(3DES key and certificate bags, SHA-1 MAC); "aes256" (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC,
SHA-256 MAC) needs Windows 10 1709 / Server 2019 and fails on 2016 with a misleading
"The specified network password is not correct".
"""

from __future__ import annotations

import datetime
import hashlib
import typing as t
from collections.abc import Sequence
from dataclasses import dataclass, field

from ansible_collections.iis.ccs.plugins.plugin_utils._dns_names import HostName, certificate_covers

# ansible-test's import check (and a controller without cryptography) must be able to load this
# module; using it then fails with CertificateError saying what to install.
try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError as _import_error:  # pragma: no cover - the test environments have cryptography
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = _import_error
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

if t.TYPE_CHECKING:
    PrivateKey = (
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | dsa.DSAPrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey
        | x25519.X25519PrivateKey
        | x448.X448PrivateKey
    )

PfxEncryption = t.Literal["compatible", "aes256"]
PfxEncryptionFound = t.Literal["compatible", "aes256", "none", "other"]

MINIMUM_RSA_BITS = 2048
SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")
# Windows' own PFX exports use 2000 iterations; more makes each on-demand CCS load slower for little gain.
KDF_ROUNDS = 2048


class CertificateError(ValueError):
    """A certificate, key or PFX that cannot be published; the message names the option and the fix."""


@dataclass(frozen=True)
class CertificateBundle:
    """A leaf certificate with its private key and issuing chain (leaf excluded, in issuing order)."""

    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    thumbprint: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    dns_names: tuple[str, ...]
    public_key_sha256: str
    # Which options the certificate and the key came from, so later errors can name them.
    source_option: str = field(default="pfx_path", compare=False)
    key_option: str = field(default="pfx_path", compare=False)

    @property
    def identity(self) -> str:
        """What idempotency compares: the same certificate, key and chain give the same string,
        although every PFX export is encrypted with fresh salts and so differs byte for byte."""
        chain = ",".join(thumbprint(cert) for cert in self.chain)
        return f"{self.thumbprint}/{_private_key_sha256(self.private_key)}/{chain}"


def thumbprint(certificate: x509.Certificate) -> str:
    """SHA-1 of the DER certificate, uppercase hex, as Windows shows it."""
    _require_cryptography()
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - identifier, not security


def load_pfx(data: bytes, password: str | None, *, option: str = "pfx_path", password_option: str = "pfx_password") -> CertificateBundle:
    """Read a PFX (PKCS#12); distinguishes a wrong password from a damaged file."""
    _require_cryptography()
    loaded = _load_pkcs12(data, password, option=option, password_option=password_option)
    if loaded.key is None:
        raise CertificateError(f"{option}: the PFX holds no private key; export it with its private key")
    certificates = ([loaded.cert.certificate] if loaded.cert is not None else []) + [c.certificate for c in loaded.additional_certs]
    leaf = _leaf_for_key(certificates, loaded.key)
    if leaf is None:
        if not certificates:
            raise CertificateError(f"{option}: the PFX holds no certificate; export the certificate together with its private key")
        raise CertificateError(f"{option}: the private key in the PFX does not belong to any certificate in it; export the certificate with its own key")
    others = [cert for cert in certificates if cert is not leaf]
    return _bundle(leaf, t.cast("PrivateKey", loaded.key), others, source_option=option, key_option=option)


def load_pem(
    certificate_pem: bytes,
    private_key_pem: bytes,
    chain_pem: bytes | None = None,
    passphrase: str | None = None,
    *,
    certificate_option: str = "certificate_path",
    private_key_option: str = "private_key_path",
    chain_option: str = "chain_path",
    passphrase_option: str = "private_key_passphrase",
) -> CertificateBundle:
    """Read PEM (or DER) certificate, key and optional chain; certificate_pem may be a fullchain."""
    _require_cryptography()
    certificates = _load_certificates(certificate_pem, certificate_option)
    key = _load_private_key(private_key_pem, passphrase, private_key_option, passphrase_option)
    leaf = _leaf_for_key(certificates, key)
    if leaf is None:
        raise CertificateError(f"{private_key_option}: the private key does not belong to the certificate; give the key the certificate was issued for")
    others = [cert for cert in certificates if cert is not leaf]
    if chain_pem:
        others += _load_certificates(chain_pem, chain_option)
    return _bundle(leaf, key, others, source_option=certificate_option, key_option=private_key_option)


def validate_bundle(bundle: CertificateBundle, host_names: Sequence[HostName], *, now: datetime.datetime, expiry_warning_days: int) -> list[str]:
    """Refuse what IIS cannot serve; return warnings for what it can serve badly.

    Errors: key missing or not the certificate's, expired, not yet valid, an extended key usage
    without serverAuth, a host name the certificate does not cover, RSA under 2048 bits, EC curves
    other than P-256/P-384/P-521, other key types. Warnings: expiry within expiry_warning_days,
    missing or broken chain (see _chain_warnings).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    _check_key(bundle)
    _check_validity_period(bundle, now)
    _check_server_auth(bundle)
    _check_host_names(bundle, host_names)
    return _expiry_warnings(bundle, now, expiry_warning_days) + _chain_warnings(bundle)


def export_pfx(bundle: CertificateBundle, password: str | None, encryption: PfxEncryption, *, friendly_name: str | None = None) -> bytes:
    """A PFX with the key, the leaf and the whole chain.

    Without a password the PFX is written unencrypted (cryptography cannot encrypt with an
    empty password); pfx_encryption() reports such a file as "none".
    """
    _require_cryptography()
    protection: serialization.KeySerializationEncryption
    if password is None:
        protection = serialization.NoEncryption()
    elif password == "":
        raise CertificateError("private_key_password: an empty password cannot protect a PFX; give a password or none at all")
    else:
        protection = _pfx_protection(encryption, password.encode("utf-8"))
    name = friendly_name.encode("utf-8") if friendly_name else None
    key = t.cast("pkcs12.PKCS12PrivateKeyTypes", bundle.private_key)
    try:
        return pkcs12.serialize_key_and_certificates(name, key, bundle.certificate, list(bundle.chain) or None, protection)
    except (TypeError, ValueError, UnsupportedAlgorithm):
        # Older cryptography releases refuse some key types (validate_bundle refuses them anyway).
        raise CertificateError(
            f"{bundle.key_option}: a {_key_type_name(bundle.private_key)} key cannot be written to a PFX for IIS; use an RSA or ECDSA certificate"
        ) from None


def pfx_identity(data: bytes, password: str | None, *, option: str = "pfx_path", password_option: str = "pfx_password") -> str:
    """Identity of an existing PFX (a file on the share, or one just written and read back)."""
    return load_pfx(data, password, option=option, password_option=password_option).identity


def expected_encryption(password: str | None, encryption: PfxEncryption) -> PfxEncryptionFound:
    """What pfx_encryption() reports for export_pfx(bundle, password, encryption): compare this,
    not the requested encryption, with files found on the share (no password means "none")."""
    return "none" if password is None else encryption


def pfx_encryption(data: bytes) -> PfxEncryptionFound:
    """How a PFX is protected, read from its ASN.1 structure without the password.

    "compatible": every encrypted bag uses pbeWithSHAAnd3-KeyTripleDES-CBC (certificate bags may
    also use the 40-bit RC2 that Windows' own legacy export uses) and the MAC is SHA-1.
    "aes256": every encrypted bag uses PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, MAC SHA-256.
    "none": nothing is encrypted (a PFX written without a password). "other": anything else,
    including BER encodings this minimal reader does not follow.
    """
    try:
        algorithms = _read_pfx_algorithms(data)
    except _Malformed:
        return "other"
    ciphers = set(algorithms.key_ciphers) | set(algorithms.certificate_ciphers)
    if not ciphers:
        return "none" if algorithms.plain_key_bags else "other"
    if algorithms.mac == _OID_SHA1 and set(algorithms.key_ciphers) <= {_PBE_3DES} and set(algorithms.certificate_ciphers) <= {_PBE_3DES, _PBE_RC2_40}:
        return "compatible"
    if algorithms.mac == _OID_SHA256 and ciphers == {_PBES2_SHA256_AES256}:
        return "aes256"
    return "other"


# ---------------------------------------------------------------- loading


def _require_cryptography() -> None:
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        raise CertificateError(
            "the Python package 'cryptography' (41 or later) is needed on the Ansible controller to handle certificates; "
            f"install it in the controller's Python environment ({CRYPTOGRAPHY_IMPORT_ERROR})"
        )


def _load_pkcs12(data: bytes, password: str | None, *, option: str, password_option: str) -> pkcs12.PKCS12KeyAndCertificates:
    if not isinstance(data, bytes) or not data:
        raise CertificateError(f"{option}: the PFX is empty; give a PFX (PKCS#12) file")
    # No password: Windows tools write either no password or an empty one. A password for a file
    # that has none is harmless, so the file is still read.
    candidates = [password.encode("utf-8"), None] if password else [None, b""]
    for candidate in candidates:
        try:
            return pkcs12.load_pkcs12(data, candidate)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    if not _looks_like_pfx(data):
        raise CertificateError(f"{option}: the data is not a PFX (PKCS#12) file or it is damaged; give a PFX exported with its private key")
    if not password:
        raise CertificateError(f"{password_option}: the PFX is protected by a password; give {password_option}")
    raise CertificateError(f"{password_option}: the password does not decrypt the PFX; give the password it was exported with")


def _looks_like_pfx(data: bytes) -> bool:
    try:
        _read_pfx_algorithms(data)
    except _Malformed:
        return False
    return True


def _load_certificates(data: bytes, option: str) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            certificates = x509.load_pem_x509_certificates(data)
        else:
            certificates = [x509.load_der_x509_certificate(data)]
    except (ValueError, TypeError):
        raise CertificateError(f"{option}: no readable certificate found; give PEM ('-----BEGIN CERTIFICATE-----') or DER certificates") from None
    return certificates


def _load_private_key(data: bytes, passphrase: str | None, option: str, passphrase_option: str) -> PrivateKey:
    secret = passphrase.encode("utf-8") if passphrase else None
    loader = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        return t.cast("PrivateKey", loader(data, secret))
    except TypeError:
        if secret is None:
            raise CertificateError(f"{passphrase_option}: the private key is encrypted; give {passphrase_option}") from None
        # A passphrase for a key that is not encrypted is harmless: read the key without it.
        return _load_private_key(data, None, option, passphrase_option)
    except ValueError:
        if secret is not None and b"ENCRYPTED" in data:
            raise CertificateError(f"{passphrase_option}: the passphrase does not decrypt the private key; give the right passphrase") from None
        raise CertificateError(f"{option}: no readable private key found; give a PEM ('-----BEGIN PRIVATE KEY-----') or DER private key") from None
    except UnsupportedAlgorithm:
        raise CertificateError(f"{option}: the private key uses an algorithm this controller cannot read; give an RSA or ECDSA key") from None


def _leaf_for_key(certificates: Sequence[x509.Certificate], key: object) -> x509.Certificate | None:
    key_digest = _private_key_sha256(key)
    for certificate in certificates:
        if _public_key_sha256(certificate) == key_digest:
            return certificate
    return None


def _bundle(leaf: x509.Certificate, key: PrivateKey, others: Sequence[x509.Certificate], *, source_option: str, key_option: str) -> CertificateBundle:
    return CertificateBundle(
        certificate=leaf,
        private_key=key,
        chain=_issuing_order(leaf, others),
        thumbprint=thumbprint(leaf),
        not_before=_utc(leaf, "not_valid_before"),
        not_after=_utc(leaf, "not_valid_after"),
        dns_names=_dns_names(leaf),
        public_key_sha256=_public_key_sha256(leaf),
        source_option=source_option,
        key_option=key_option,
    )


def _utc(certificate: x509.Certificate, attribute: str) -> datetime.datetime:
    """A validity bound as an aware UTC datetime (the *_utc attributes exist from cryptography 42)."""
    aware = getattr(certificate, f"{attribute}_utc", None)
    if isinstance(aware, datetime.datetime):
        return aware
    naive: datetime.datetime = getattr(certificate, attribute)
    return naive.replace(tzinfo=datetime.timezone.utc)


def _issuing_order(leaf: x509.Certificate, others: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """The issuer of the leaf first, then its issuer, ...; certificates off that path follow, in input order."""
    pool: list[x509.Certificate] = []
    seen = {thumbprint(leaf)}
    for cert in others:
        if thumbprint(cert) not in seen:
            seen.add(thumbprint(cert))
            pool.append(cert)
    path: list[x509.Certificate] = []
    current = leaf
    while not _is_self_issued(current):
        issuer = next((cert for cert in pool if _issued(current, cert)), None)
        if issuer is None:
            break
        path.append(issuer)
        pool.remove(issuer)
        current = issuer
    return tuple(path + pool)


def _issued(subject: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        subject.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _is_self_issued(certificate: x509.Certificate) -> bool:
    return _issued(certificate, certificate)


def _dns_names(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return tuple(str(attribute.value).lower() for attribute in common_names)
    return tuple(name.lower() for name in san.get_values_for_type(x509.DNSName))


def _public_key_sha256(certificate: x509.Certificate) -> str:
    return _spki_sha256(certificate.public_key())


def _private_key_sha256(key: object) -> str:
    public_key = getattr(key, "public_key", None)
    if public_key is None:
        return ""
    return _spki_sha256(public_key())


def _spki_sha256(public_key: t.Any) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


# ---------------------------------------------------------------- validation


def _check_key(bundle: CertificateBundle) -> None:
    if bundle.private_key is None:
        raise CertificateError(f"{bundle.key_option}: there is no private key; give the certificate together with its private key")
    if _private_key_sha256(bundle.private_key) != bundle.public_key_sha256:
        raise CertificateError(f"{bundle.key_option}: the private key does not belong to the certificate; give the key the certificate was issued for")
    key = bundle.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MINIMUM_RSA_BITS:
            raise CertificateError(
                f"{bundle.source_option}: the RSA key has {key.key_size} bits; use a certificate with an RSA key of at least {MINIMUM_RSA_BITS} bits"
            )
        return
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in SUPPORTED_CURVES:
            raise CertificateError(f"{bundle.source_option}: the EC key uses curve {key.curve.name}; use a certificate with a P-256, P-384 or P-521 key")
        return
    raise CertificateError(
        f"{bundle.source_option}: IIS cannot serve a certificate with a {_key_type_name(key)} key from the Central Certificate Store; "
        "use an RSA or ECDSA certificate"
    )


def _key_type_name(key: object) -> str:
    names = {
        ed25519.Ed25519PrivateKey: "Ed25519",
        ed448.Ed448PrivateKey: "Ed448",
        dsa.DSAPrivateKey: "DSA",
        x25519.X25519PrivateKey: "X25519",
        x448.X448PrivateKey: "X448",
    }
    return next((name for cls, name in names.items() if isinstance(key, cls)), type(key).__name__)


def _check_validity_period(bundle: CertificateBundle, now: datetime.datetime) -> None:
    if now > bundle.not_after:
        raise CertificateError(f"{bundle.source_option}: the certificate {bundle.thumbprint} expired on {_day(bundle.not_after)}; give a current certificate")
    if now < bundle.not_before:
        raise CertificateError(
            f"{bundle.source_option}: the certificate {bundle.thumbprint} is not valid before {_day(bundle.not_before)}; "
            "publish it once it is valid, or check the controller clock"
        )


def _check_server_auth(bundle: CertificateBundle) -> None:
    try:
        usages = bundle.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return  # no EKU extension: any use is allowed
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        raise CertificateError(
            f"{bundle.source_option}: the certificate {bundle.thumbprint} is not issued for server authentication "
            "(its extended key usage lacks serverAuth); use a TLS server certificate"
        )


def _check_host_names(bundle: CertificateBundle, host_names: Sequence[HostName]) -> None:
    uncovered = [host for host in host_names if not certificate_covers(bundle.dns_names, host)]
    if uncovered:
        hosts = ", ".join(repr(host.unicode) for host in uncovered)
        issued_for = ", ".join(repr(name) for name in bundle.dns_names) or "no DNS name"
        raise CertificateError(
            f"host_names: the certificate {bundle.thumbprint} does not cover {hosts} (it is issued for {issued_for}); "
            "give a certificate whose subject alternative names include every host name"
        )


def _expiry_warnings(bundle: CertificateBundle, now: datetime.datetime, expiry_warning_days: int) -> list[str]:
    remaining = bundle.not_after - now
    if remaining >= datetime.timedelta(days=expiry_warning_days):
        return []
    return [f"the certificate {bundle.thumbprint} expires on {_day(bundle.not_after)}, in {remaining.days} days; renew it"]


def _chain_warnings(bundle: CertificateBundle) -> list[str]:
    """Warn when clients may not be able to build a path to a trusted root from what IIS sends.

    A chain that ends in an intermediate whose issuer (a root) is absent is normal and not
    warned about: roots come from the client's trust store, and ACME fullchain files omit them.
    What is warned about: no intermediates at all for a CA-issued leaf, and certificates that do
    not link up (the leaf's issuer missing while others are present, or unrelated extras).
    """
    if _is_self_issued(bundle.certificate):
        return []
    if not bundle.chain:
        return [
            f"the certificate {bundle.thumbprint} comes without its intermediate certificates; "
            "clients that do not already have them will not trust the site: include the chain"
        ]
    linked = _linked_length(bundle.certificate, bundle.chain)
    if linked == 0:
        return [
            f"the chain of certificate {bundle.thumbprint} is incomplete: the issuer of the certificate "
            f"({bundle.certificate.issuer.rfc4514_string()!r}) is missing; include the intermediate certificates"
        ]
    if linked < len(bundle.chain):
        extras = ", ".join(repr(cert.subject.rfc4514_string()) for cert in bundle.chain[linked:])
        return [f"the chain of certificate {bundle.thumbprint} holds certificates that are not on its issuing path ({extras}); they are published but not used"]
    return []


def _linked_length(leaf: x509.Certificate, chain: Sequence[x509.Certificate]) -> int:
    """How many certificates at the start of chain each issue the one before."""
    current = leaf
    for index, cert in enumerate(chain):
        if _is_self_issued(current) or not _issued(current, cert):
            return index
        current = cert
    return len(chain)


def _day(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _pfx_protection(encryption: PfxEncryption, password: bytes) -> serialization.KeySerializationEncryption:
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(KDF_ROUNDS)
    if encryption == "compatible":
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())  # noqa: S303 - what Server 2016 imports
    elif encryption == "aes256":
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
    else:
        raise ValueError(f"unknown PFX encryption {encryption!r}")
    return builder.build(password)


# ---------------------------------------------------------------- minimal PKCS#12 structure reader
#
# Just enough DER to find which algorithms protect each bag and the MAC, without the password.
# PFX { version 3, authSafe ContentInfo(data -> AuthenticatedSafe), macData? }
# AuthenticatedSafe = SEQUENCE OF ContentInfo: data (plain SafeContents) or encryptedData.

_OID_DATA = "1.2.840.113549.1.7.1"
_OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
_OID_KEY_BAG = "1.2.840.113549.1.12.10.1.1"
_OID_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
_OID_SHA1 = "1.3.14.3.2.26"
_OID_SHA256 = "2.16.840.1.101.3.4.2.1"
_OID_PBES2 = "1.2.840.113549.1.5.13"
_OID_PBKDF2 = "1.2.840.113549.1.5.12"
_OID_HMAC_SHA1 = "1.2.840.113549.2.7"
_OID_HMAC_SHA256 = "1.2.840.113549.2.9"
_OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
_PBE_3DES = "1.2.840.113549.1.12.1.3"
_PBE_RC2_40 = "1.2.840.113549.1.12.1.6"
_PBES2_SHA256_AES256 = "pbes2/hmacWithSHA256/aes256-cbc"

_SEQUENCE = 0x30
_SET = 0x31
_INTEGER = 0x02
_OCTET_STRING = 0x04
_OID = 0x06
_CONTEXT_0 = 0xA0
_CONTEXT_0_PRIMITIVE = 0x80


class _Malformed(Exception):
    """The bytes are not a DER PFX this reader understands."""


@dataclass
class _PfxAlgorithms:
    mac: str | None = None
    key_ciphers: list[str] = field(default_factory=list)
    certificate_ciphers: list[str] = field(default_factory=list)
    plain_key_bags: int = 0


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at offset."""
    if offset + 2 > len(data):
        raise _Malformed("truncated")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise _Malformed("unsupported length")  # 0 is BER indefinite length
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise _Malformed("truncated")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    offset = start
    while offset < end:
        item = _tlv(data, offset)
        if item[2] > end:
            raise _Malformed("element overruns its parent")
        items.append(item)
        offset = item[2]
    return items


def _expect(item: tuple[int, int, int], tag: int) -> tuple[int, int]:
    if item[0] != tag:
        raise _Malformed(f"expected tag {tag:#x}, found {item[0]:#x}")
    return item[1], item[2]


def _oid(data: bytes, item: tuple[int, int, int]) -> str:
    start, end = _expect(item, _OID)
    if start == end:
        raise _Malformed("empty OID")
    first = data[start]
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in data[start + 1 : end]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(arc) for arc in arcs)


def _algorithm(data: bytes, item: tuple[int, int, int]) -> str:
    """An AlgorithmIdentifier as an OID, or a PBES2 summary 'pbes2/<prf>/<cipher>'."""
    fields = _children(data, *_expect(item, _SEQUENCE))
    if not fields:
        raise _Malformed("empty AlgorithmIdentifier")
    oid = _oid(data, fields[0])
    if oid != _OID_PBES2:
        return oid
    params = _children(data, *_expect(fields[1], _SEQUENCE))
    kdf = _children(data, *_expect(params[0], _SEQUENCE))
    cipher = _oid(data, _children(data, *_expect(params[1], _SEQUENCE))[0])
    prf = _OID_HMAC_SHA1  # PBKDF2's default PRF when none is given
    if _oid(data, kdf[0]) != _OID_PBKDF2:
        return f"pbes2/{_oid(data, kdf[0])}/{cipher}"
    for part in _children(data, *_expect(kdf[1], _SEQUENCE)):
        if part[0] == _SEQUENCE:
            prf = _oid(data, _children(data, part[1], part[2])[0])
    names = {_OID_HMAC_SHA1: "hmacWithSHA1", _OID_HMAC_SHA256: "hmacWithSHA256", _OID_AES256_CBC: "aes256-cbc"}
    return f"pbes2/{names.get(prf, prf)}/{names.get(cipher, cipher)}"


def _read_pfx_algorithms(data: bytes) -> _PfxAlgorithms:
    try:
        return _read_pfx_structure(data)
    except IndexError:
        raise _Malformed("missing field") from None


def _read_pfx_structure(data: bytes) -> _PfxAlgorithms:
    top = _tlv(data, 0)
    if top[2] != len(data):
        raise _Malformed("trailing data")
    pfx = _children(data, *_expect(top, _SEQUENCE))
    version_start, version_end = _expect(pfx[0], _INTEGER)
    if data[version_start:version_end] != b"\x03":
        raise _Malformed("not PFX version 3")
    result = _PfxAlgorithms()
    if len(pfx) > 2:
        mac_data = _children(data, *_expect(pfx[2], _SEQUENCE))
        digest_info = _children(data, *_expect(mac_data[0], _SEQUENCE))
        result.mac = _algorithm(data, digest_info[0])
    auth_safe = _data_content(data, pfx[1])
    for content_info in _children(data, *_expect(_tlv(data, auth_safe[0]), _SEQUENCE)):
        _read_content_info(data, content_info, result)
    return result


def _data_content(data: bytes, content_info: tuple[int, int, int]) -> tuple[int, int]:
    """Value range of the OCTET STRING inside a ContentInfo of type data."""
    fields = _children(data, *_expect(content_info, _SEQUENCE))
    if _oid(data, fields[0]) != _OID_DATA:
        raise _Malformed("authSafe is not of type data")
    explicit = _children(data, *_expect(fields[1], _CONTEXT_0))
    return _expect(explicit[0], _OCTET_STRING)


def _read_content_info(data: bytes, content_info: tuple[int, int, int], result: _PfxAlgorithms) -> None:
    fields = _children(data, *_expect(content_info, _SEQUENCE))
    content_type = _oid(data, fields[0])
    if content_type == _OID_DATA:
        start, _end = _data_content(data, content_info)
        _read_safe_contents(data, _tlv(data, start), result)
    elif content_type == _OID_ENCRYPTED_DATA:
        encrypted_data = _children(data, *_expect(_children(data, *_expect(fields[1], _CONTEXT_0))[0], _SEQUENCE))
        encrypted_content_info = _children(data, *_expect(encrypted_data[1], _SEQUENCE))
        result.certificate_ciphers.append(_algorithm(data, encrypted_content_info[1]))
    else:
        raise _Malformed(f"unexpected content type {content_type}")


def _read_safe_contents(data: bytes, safe_contents: tuple[int, int, int], result: _PfxAlgorithms) -> None:
    for bag in _children(data, *_expect(safe_contents, _SEQUENCE)):
        fields = _children(data, *_expect(bag, _SEQUENCE))
        bag_id = _oid(data, fields[0])
        if bag_id == _OID_SHROUDED_KEY_BAG:
            encrypted_key = _children(data, *_expect(_children(data, *_expect(fields[1], _CONTEXT_0))[0], _SEQUENCE))
            result.key_ciphers.append(_algorithm(data, encrypted_key[0]))
        elif bag_id == _OID_KEY_BAG:
            result.plain_key_bags += 1
