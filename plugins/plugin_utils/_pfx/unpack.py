# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open a PFX with its password and return its certificates and key as DER, without loading them.

cryptography's pkcs12.load_pkcs12 checks the RSA key's consistency with OpenSSL, primality
tests of p and q included: tens of milliseconds per certificate, with no option to skip it.
This reader does the PKCS#12 part itself (RFC 7292: MAC, bag decryption) so that bundle.py can
load the key with load_der_private_key and check its consistency cheaply (see quick_load_pfx).

It understands only what the PFX files this collection meets are made of, and returns None for
anything else so the caller loads the file in full: DER only (no BER indefinite lengths), a
MAC with a hash mac.py knows (required whenever anything is encrypted), certificate bags in
plain or encryptedData SafeContents, exactly one key in a keyBag or pkcs8ShroudedKeyBag, and
the ciphers pbeWithSHAAnd3-KeyTripleDES-CBC and PBES2 (PBKDF2 with HMAC-SHA-1/-2, AES-CBC or
3DES-CBC). Windows' legacy 40-bit RC2 certificate bags, which cryptography's RC2 (decrepit, 128-bit
keys only) cannot decrypt, go through pkcs12.load_pkcs12 without the key (_certificates_by_openssl).
"""

from __future__ import annotations

import hashlib
import hmac
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import (
    _CONTEXT_0,
    _CONTEXT_0_PRIMITIVE,
    _INTEGER,
    _OCTET_STRING,
    _OID_DATA,
    _OID_ENCRYPTED_DATA,
    _OID_KEY_BAG,
    _OID_PBES2,
    _OID_PBKDF2,
    _OID_SHROUDED_KEY_BAG,
    _PBE_3DES,
    _PBE_RC2_40,
    _SEQUENCE,
    _children,
    _data_content,
    _expect,
    _integer,
    _Malformed,
    _octets,
    _oid,
    _only_child,
    _tlv,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.mac import MAX_MAC_ITERATIONS, opening_secret, password_forms, pkcs12_kdf, read_mac

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
    from cryptography.hazmat.primitives.serialization import pkcs12
except ImportError:  # pragma: no cover - the test environments have cryptography
    HAS_CIPHERS = False
else:
    HAS_CIPHERS = True
try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - cryptography before 43 has it among the primitives
    try:
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    except ImportError:
        HAS_CIPHERS = False

_OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
_OID_X509_CERTIFICATE = "1.2.840.113549.1.9.22.1"
_OID_DES_EDE3_CBC = "1.2.840.113549.3.7"
# PBES2 block ciphers: OID -> (key bytes, block cipher class name)
_PBES2_CIPHERS = {
    "2.16.840.1.101.3.4.1.2": (16, "AES"),
    "2.16.840.1.101.3.4.1.22": (24, "AES"),
    "2.16.840.1.101.3.4.1.42": (32, "AES"),
    _OID_DES_EDE3_CBC: (24, "TripleDES"),
}
# PBKDF2 pseudo-random functions (HMAC with ...), as hashlib names them; HMAC-SHA-1 is the default.
_PBKDF2_PRFS = {
    "1.2.840.113549.2.7": "sha1",
    "1.2.840.113549.2.8": "sha224",
    "1.2.840.113549.2.9": "sha256",
    "1.2.840.113549.2.10": "sha384",
    "1.2.840.113549.2.11": "sha512",
}
# PBKDF2 runs in C (hashlib); a file asking for more rounds than this is left to the full load.
_MAX_PBKDF2_ITERATIONS = 10_000_000
_KEY_PURPOSE, _IV_PURPOSE, _MAC_KEY_PURPOSE = 1, 2, 3  # RFC 7292 B.3
# Encoded OIDs of the PFX built around RC2 bags (_certificates_by_openssl): data, SHA-256, and a NULL.
_DER_OID_DATA = bytes.fromhex("06092a864886f70d010701")
_DER_OID_SHA256 = bytes.fromhex("0609608648016503040201")
_DER_NULL = b"\x05\x00"


class PfxContents(t.NamedTuple):
    """What a PFX holds, still DER: its certificates in bag order, and its one private key (PKCS#8)."""

    certificates: tuple[bytes, ...]
    private_key: bytes
    key_algorithm: str  # the OID of the PKCS#8 privateKeyAlgorithm (1.2.840.113549.1.1.1 for RSA)


class _Unsupported(Exception):
    """Valid PKCS#12, perhaps, but not something this reader handles: the caller loads in full."""


def unpack_pfx(data: bytes, password: str | None) -> PfxContents | None:
    """The certificates and the key of a PFX opened with the password as load_pfx tries it; None when unsure.

    None means "load it in full": a wrong password, a damaged file and a file this reader does
    not handle all give None, so that the full load reports them with its usual messages.
    """
    if not HAS_CIPHERS or not isinstance(data, bytes):
        return None
    try:
        return _Reader(data, password).contents()
    except (_Malformed, _Unsupported, IndexError, ValueError, OverflowError, TypeError, UnsupportedAlgorithm):
        return None


class _Reader:
    def __init__(self, data: bytes, password: str | None) -> None:
        self.data = data
        self.password = password
        # The password form that opened the MAC (PKCS#12 key derivation input) and the plain
        # password PBKDF2 takes; None while nothing may be decrypted (a file without a MAC).
        self.secret: bytes | None = None
        self.pbkdf2_password = b""
        self.certificates: list[bytes] = []
        self.keys: list[tuple[bytes, str]] = []
        self._derived: dict[tuple[bytes, int, int, int], bytes] = {}

    def contents(self) -> PfxContents:
        data = self.data
        top = _tlv(data, 0)
        if top[2] != len(data):
            raise _Malformed("trailing data")
        pfx = _children(data, *_expect(top, _SEQUENCE))
        if len(pfx) not in (2, 3) or _integer(data, pfx[0]) != 3:
            raise _Malformed("not a PFX version 3")
        if len(pfx) == 3:
            self._open_mac()
        auth_start, auth_end = _data_content(data, pfx[1])
        auth_safe = _tlv(data, auth_start)
        if auth_safe[2] != auth_end:
            raise _Malformed("data after the AuthenticatedSafe")
        for content_info in _children(data, *_expect(auth_safe, _SEQUENCE)):
            self._read_content_info(content_info)
        if len(self.keys) != 1 or not self.certificates:
            raise _Unsupported("not exactly one private key and at least one certificate")
        key, algorithm = self.keys[0]
        return PfxContents(tuple(self.certificates), key, algorithm)

    def _open_mac(self) -> None:
        mac = read_mac(self.data)
        if mac is None:
            raise _Unsupported("a MAC mac.py cannot check")
        # mac.password_forms are the forms OpenSSL's PKCS12_parse (the full load) tries, no more.
        secret = opening_secret(mac, self.password)
        if secret is None:
            raise _Unsupported("the password does not open the MAC as the full load would")
        self.secret = secret
        # The forms for "no password" (absent, or empty as a BMPString) are both an empty PBKDF2 password.
        self.pbkdf2_password = self.password.encode("utf-8") if self.password and secret not in (b"", b"\x00\x00") else b""

    def _read_content_info(self, content_info: tuple[int, int, int]) -> None:
        data = self.data
        fields = _children(data, *_expect(content_info, _SEQUENCE))
        content_type = _oid(data, fields[0])
        if len(fields) != 2:
            raise _Malformed("ContentInfo without its content")
        if content_type == _OID_DATA:
            start, end = _data_content(data, content_info)
            self._read_safe_contents(data, start, end)
        elif content_type == _OID_ENCRYPTED_DATA:
            encrypted_data = _children(data, *_expect(_only_child(data, fields[1], _CONTEXT_0), _SEQUENCE))
            if len(encrypted_data) != 2:
                raise _Unsupported("EncryptedData with unprotected attributes")
            encrypted_content_info = _children(data, *_expect(encrypted_data[1], _SEQUENCE))
            if len(encrypted_content_info) != 3 or _oid(data, encrypted_content_info[0]) != _OID_DATA:
                raise _Unsupported("encrypted content that is not data")
            if _oid(data, _children(data, *_expect(encrypted_content_info[1], _SEQUENCE))[0]) == _PBE_RC2_40:
                self.certificates += self._certificates_by_openssl(_der(_SEQUENCE, data[content_info[1] : content_info[2]]))
                return
            start, end = _expect(encrypted_content_info[2], _CONTEXT_0_PRIMITIVE)
            plain = self._decrypt(data, encrypted_content_info[1], data[start:end])
            self._read_safe_contents(plain, 0, len(plain))
        else:
            raise _Unsupported(f"content type {content_type}")

    def _read_safe_contents(self, data: bytes, start: int, end: int) -> None:
        safe_contents = _tlv(data, start)
        if safe_contents[2] != end:
            raise _Malformed("data after the SafeContents")
        for bag in _children(data, *_expect(safe_contents, _SEQUENCE)):
            fields = _children(data, *_expect(bag, _SEQUENCE))
            if len(fields) not in (2, 3):
                raise _Malformed("SafeBag")
            bag_id = _oid(data, fields[0])
            value = _only_child(data, fields[1], _CONTEXT_0)
            explicit_start, explicit_end = fields[1][1], fields[1][2]  # the whole value, header included
            if bag_id == _OID_CERT_BAG:
                cert_bag = _children(data, *_expect(value, _SEQUENCE))
                if len(cert_bag) != 2 or _oid(data, cert_bag[0]) != _OID_X509_CERTIFICATE:
                    raise _Unsupported("a certificate bag that is not X.509")
                self.certificates.append(_octets(data, _only_child(data, cert_bag[1], _CONTEXT_0)))
            elif bag_id == _OID_KEY_BAG:
                self._add_key(data[explicit_start:explicit_end])
            elif bag_id == _OID_SHROUDED_KEY_BAG:
                encrypted_key = _children(data, *_expect(value, _SEQUENCE))
                if len(encrypted_key) != 2:
                    raise _Malformed("EncryptedPrivateKeyInfo")
                self._add_key(self._decrypt(data, encrypted_key[0], _octets(data, encrypted_key[1])))
            else:
                raise _Unsupported(f"bag type {bag_id}")

    def _add_key(self, key: bytes) -> None:
        """A PKCS#8 PrivateKeyInfo, which must be exactly one DER element."""
        top = _tlv(key, 0)
        if top[2] != len(key):
            raise _Malformed("data after the private key")
        fields = _children(key, *_expect(top, _SEQUENCE))
        algorithm = _children(key, *_expect(fields[1], _SEQUENCE))
        self.keys.append((key, _oid(key, algorithm[0])))

    def _certificates_by_openssl(self, content_info: bytes) -> list[bytes]:
        """The certificates of a 40-bit RC2 encryptedData (Windows' and openssl -legacy's certificate bags).

        cryptography's RC2 takes only 128-bit keys, but its PKCS#12 load decrypts these bags: it is
        given a PFX of just this ContentInfo, with a new MAC keyed by the password form that opened the
        file's MAC (one iteration: the file's own MAC, checked above, is what authenticates these bytes).
        Without a key in it, the load makes no RSA key check, so it stays cheap.
        """
        if self.secret is None:
            raise _Unsupported("encrypted bags without a MAC to check the password against")
        auth_safe = _der(_SEQUENCE, content_info)
        salt = b"\x00" * 8
        mac_key = pkcs12_kdf("sha256", self.secret, salt, 1, _MAC_KEY_PURPOSE, 32)
        digest_info = _der(_SEQUENCE, _der(_SEQUENCE, _DER_OID_SHA256 + _DER_NULL) + _der(_OCTET_STRING, hmac.new(mac_key, auth_safe, "sha256").digest()))
        mac_data = _der(_SEQUENCE, digest_info + _der(_OCTET_STRING, salt))  # iterations: DEFAULT 1, so absent in DER
        pfx = _der(_SEQUENCE, _der(_INTEGER, b"\x03") + _der(_SEQUENCE, _DER_OID_DATA + _der(_CONTEXT_0, _der(_OCTET_STRING, auth_safe))) + mac_data)
        # OpenSSL tries the password given, or none and then the empty one: what opened the file's MAC.
        password = self.password.encode("utf-8") if self.password and self.secret == _bmp_string(self.password) else None
        loaded = pkcs12.load_pkcs12(pfx, password)
        if loaded.key is not None or loaded.cert is not None:
            raise _Unsupported("a key among RC2-encrypted bags")
        return [certificate.certificate.public_bytes(serialization.Encoding.DER) for certificate in loaded.additional_certs]

    # ------------------------------------------------------------ decryption

    def _decrypt(self, data: bytes, algorithm: tuple[int, int, int], ciphertext: bytes) -> bytes:
        if self.secret is None:
            raise _Unsupported("encrypted bags without a MAC to check the password against")
        fields = _children(data, *_expect(algorithm, _SEQUENCE))
        if len(fields) != 2:
            raise _Malformed("AlgorithmIdentifier without parameters")
        oid = _oid(data, fields[0])
        if oid == _PBE_3DES:
            params = _children(data, *_expect(fields[1], _SEQUENCE))
            if len(params) != 2:
                raise _Malformed("PBE parameters")
            salt, iterations = _octets(data, params[0]), _integer(data, params[1])
            key = self._pkcs12_key(salt, iterations, _KEY_PURPOSE, 24)
            iv = self._pkcs12_key(salt, iterations, _IV_PURPOSE, 8)
            return _cbc_decrypt(TripleDES(key), iv, ciphertext)
        if oid == _OID_PBES2:
            return self._pbes2_decrypt(data, fields[1], ciphertext)
        raise _Unsupported(f"cipher {oid}")

    def _pkcs12_key(self, salt: bytes, iterations: int, purpose: int, size: int) -> bytes:
        """RFC 7292 B.2 with SHA-1, as the PBES1 ciphers use it; each derivation is one Python hash loop."""
        if self.secret is None or not 1 <= iterations <= MAX_MAC_ITERATIONS:
            raise _Unsupported("PBE iterations")
        cache_key = (salt, iterations, purpose, size)
        if cache_key not in self._derived:
            self._derived[cache_key] = pkcs12_kdf("sha1", self.secret, salt, iterations, purpose, size)
        return self._derived[cache_key]

    def _pbes2_decrypt(self, data: bytes, params_item: tuple[int, int, int], ciphertext: bytes) -> bytes:
        params = _children(data, *_expect(params_item, _SEQUENCE))
        kdf = _children(data, *_expect(params[0], _SEQUENCE))
        scheme = _children(data, *_expect(params[1], _SEQUENCE))
        if len(params) != 2 or len(kdf) != 2 or _oid(data, kdf[0]) != _OID_PBKDF2 or len(scheme) != 2:
            raise _Unsupported("PBES2 other than PBKDF2 with a CBC cipher")
        pbkdf2 = _children(data, *_expect(kdf[1], _SEQUENCE))
        salt, iterations = _octets(data, pbkdf2[0]), _integer(data, pbkdf2[1])
        cipher_oid = _oid(data, scheme[0])
        if cipher_oid not in _PBES2_CIPHERS:
            raise _Unsupported(f"PBES2 cipher {cipher_oid}")
        key_size, cipher_name = _PBES2_CIPHERS[cipher_oid]
        prf = "sha1"
        for part in pbkdf2[2:]:
            if part[0] == _SEQUENCE:
                prf_fields = _children(data, part[1], part[2])
                prf_oid = _oid(data, prf_fields[0])
                if prf_oid not in _PBKDF2_PRFS:
                    raise _Unsupported(f"PBKDF2 PRF {prf_oid}")
                prf = _PBKDF2_PRFS[prf_oid]
            elif _integer(data, part) != key_size:
                raise _Unsupported("PBKDF2 key length that does not fit the cipher")
        if not 1 <= iterations <= _MAX_PBKDF2_ITERATIONS:
            raise _Unsupported("PBKDF2 iterations")
        key = hashlib.pbkdf2_hmac(prf, self.pbkdf2_password, salt, iterations, key_size)
        cipher: BlockCipherAlgorithm = algorithms.AES(key) if cipher_name == "AES" else TripleDES(key)
        return _cbc_decrypt(cipher, _octets(data, scheme[1]), ciphertext)


def _der(tag: int, content: bytes) -> bytes:
    """One DER element (definite length, short or long form)."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _bmp_string(password: str | None) -> bytes:
    """The password as RFC 7292 key derivation takes it: UTF-16BE with two zero bytes at the end (mac.password_forms' first form)."""
    return password_forms(password)[0] if password else b""


def _cbc_decrypt(cipher: BlockCipherAlgorithm, iv: bytes, ciphertext: bytes) -> bytes:
    """CBC decryption and a strict check of the PKCS#7 padding (a wrong key shows there, most of the time)."""
    block = cipher.block_size // 8
    if len(iv) != block or not ciphertext or len(ciphertext) % block:
        raise _Malformed("ciphertext or IV length")
    decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
    plain = decryptor.update(ciphertext) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= block or plain[-pad:] != bytes([pad]) * pad:
        raise _Malformed("bad padding")
    return plain[:-pad]
