# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates for the Central Certificate Store: load PFX or PEM into a bundle, write PFX.

Only ``cryptography`` is used (no openssl on the controller). Error messages name the option
and the fix and never hold a password, key material or the bytes of a file: cryptography's own
exception text is never passed on, because it could quote input.
"""

from __future__ import annotations

import datetime
import hashlib
import typing as t
from collections.abc import Sequence
from dataclasses import dataclass, field

from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import PfxEncryption, looks_like_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.unpack import PfxContents, unpack_pfx

# ansible-test's import check (and a controller without cryptography) must be able to load this
# module; using it then fails with CertificateError saying what to install.
try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID
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

_OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"

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
        return f"{self.thumbprint}/{private_key_sha256(self.private_key)}/{chain}"


def thumbprint(certificate: x509.Certificate) -> str:
    """SHA-1 of the DER certificate, uppercase hex, as Windows shows it."""
    _require_cryptography()
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - identifier, not security


def load_pfx(data: bytes, password: str | None, *, option: str = "pfx_path", password_option: str = "pfx_password") -> CertificateBundle:
    """Read a PFX (PKCS#12); distinguishes a wrong password from a damaged file.

    The quick load (quick_load_pfx) first; anything it is not sure of takes cryptography's full
    load, which gives every error message.
    """
    _require_cryptography()
    quick = quick_load_pfx(data, password, option=option)
    if quick is not None:
        return quick
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


def quick_load_pfx(data: bytes, password: str | None, *, option: str = "pfx_path") -> CertificateBundle | None:
    """The bundle load_pfx returns, without OpenSSL's primality tests of an RSA key's primes; None when unsure.

    unpack.py checks the MAC and decrypts the bags; the key is then loaded without cryptography's
    RSA consistency check, and rsa_key_consistent() makes every check of it but the primality
    of p and q (see its docstring for why that is enough). None (a wrong password, a damaged or
    unusual file, a key that fails a check, no certificate for the key) sends load_pfx to the
    full load, which refuses or accepts the file exactly as without this path.
    """
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        return None
    contents = unpack_pfx(data, password)
    if contents is None:
        return None
    try:
        return _quick_bundle(contents, option)
    except Exception:  # noqa: BLE001 - whatever goes wrong here, the full load decides and raises what it always raised
        return None


def _quick_bundle(contents: PfxContents, option: str) -> CertificateBundle | None:
    is_rsa = contents.key_algorithm == _OID_RSA_ENCRYPTION
    try:
        certificates = [x509.load_der_x509_certificate(der) for der in contents.certificates]
        # The skip applies to RSA keys only; others (EC: the point is checked) load as in full.
        key = serialization.load_der_private_key(contents.private_key, None, unsafe_skip_rsa_key_validation=is_rsa)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    leaf = _leaf_for_key(certificates, key)
    if leaf is None or is_rsa != isinstance(key, rsa.RSAPrivateKey):
        return None
    if isinstance(key, rsa.RSAPrivateKey) and not rsa_key_consistent(key, leaf):
        return None
    others = [cert for cert in certificates if cert is not leaf]
    return _bundle(leaf, t.cast("PrivateKey", key), others, source_option=option, key_option=option)


def rsa_key_consistent(key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> bool:
    """OpenSSL's RSA key check without the primality tests: the arithmetic that ties the numbers together.

    Why not a signature probe instead: OpenSSL's CRT signing quietly falls back to the slow
    non-CRT path when the CRT parameters are wrong, so a sign and verify passes with a corrupt
    dmp1, dmq1 or iqmp, while Windows imports the key and then signs wrongly. These relations
    catch a corrupt p, q, d, dmp1, dmq1 or iqmp. What is not re-proved is that p and q are prime:
    with n the certificate's modulus, p*q == n leaves them no choice but n's two prime factors
    when n was made from two primes, so only a key generated with a composite factor (which no
    damage produces) would pass here and fail OpenSSL's test.
    """
    numbers = key.private_numbers()
    public = numbers.public_numbers
    p, q, d, e, n = numbers.p, numbers.q, numbers.d, public.e, public.n
    if not (1 < p and 1 < q and p != q and 1 < e and 0 < d and p * q == n):
        return False
    if (e * d) % (p - 1) != 1 or (e * d) % (q - 1) != 1:  # e*d = 1 mod lcm(p-1, q-1)
        return False
    if numbers.dmp1 != d % (p - 1) or numbers.dmq1 != d % (q - 1) or numbers.iqmp != pow(q, -1, p):
        return False
    leaf_public = certificate.public_key()
    return isinstance(leaf_public, rsa.RSAPublicKey) and leaf_public.public_numbers() == public


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
    # Only RSA and ECDSA keys get here (validate_bundle refuses the others first), and every supported
    # cryptography release writes those.
    return pkcs12.serialize_key_and_certificates(name, key, bundle.certificate, list(bundle.chain) or None, protection)


def pfx_identity(data: bytes, password: str | None, *, option: str = "pfx_path", password_option: str = "pfx_password") -> str:
    """Identity of an existing PFX (a file on the share, or one just written and read back)."""
    return load_pfx(data, password, option=option, password_option=password_option).identity


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
    if not looks_like_pfx(data):
        raise CertificateError(f"{option}: the data is not a PFX (PKCS#12) file or it is damaged; give a PFX exported with its private key")
    if not password:
        raise CertificateError(f"{password_option}: the PFX is protected by a password; give {password_option}")
    raise CertificateError(f"{password_option}: the password does not decrypt the PFX; give the password it was exported with")


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
    key_digest = private_key_sha256(key)
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
    while not is_self_issued(current):
        issuer = next((cert for cert in pool if issued_by(current, cert)), None)
        if issuer is None:
            break
        path.append(issuer)
        pool.remove(issuer)
        current = issuer
    return tuple(path + pool)


def issued_by(subject: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        subject.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def is_self_issued(certificate: x509.Certificate) -> bool:
    return issued_by(certificate, certificate)


def _dns_names(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return tuple(str(attribute.value).lower() for attribute in common_names)
    return tuple(name.lower() for name in san.get_values_for_type(x509.DNSName))


def _public_key_sha256(certificate: x509.Certificate) -> str:
    return _spki_sha256(certificate.public_key())


def private_key_sha256(key: object) -> str:
    public_key = getattr(key, "public_key", None)
    if public_key is None:
        return ""
    return _spki_sha256(public_key())


def _spki_sha256(public_key: t.Any) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def key_type_name(key: object) -> str:
    names = {
        ed25519.Ed25519PrivateKey: "Ed25519",
        ed448.Ed448PrivateKey: "Ed448",
        dsa.DSAPrivateKey: "DSA",
        x25519.X25519PrivateKey: "X25519",
        x448.X448PrivateKey: "X448",
    }
    return next((name for cls, name in names.items() if isinstance(key, cls)), type(key).__name__)


def _pfx_protection(encryption: PfxEncryption, password: bytes) -> serialization.KeySerializationEncryption:
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(KDF_ROUNDS)
    if encryption == "compatible":
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())  # noqa: S303 - what Server 2016 imports
    elif encryption == "aes256":
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
    else:
        raise ValueError(f"unknown PFX encryption {encryption!r}")
    return builder.build(password)
