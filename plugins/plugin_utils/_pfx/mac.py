# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a PFX password against the file's MAC, without decrypting anything (RFC 7292 appendix B).

A PKCS#12 file carries an HMAC over its contents keyed with a key derived from the password.
Checking it costs a few thousand hash rounds (hashlib, about a millisecond for 2,048
iterations) instead of a full load, whose RSA key consistency check is the slow part. It proves
only that the password opens these exact bytes; what the bytes hold must have been checked by a
full load before (see _publish/proof.py).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import (
    _SEQUENCE,
    _algorithm,
    _children,
    _data_content,
    _expect,
    _integer,
    _Malformed,
    _octets,
    _tlv,
)

# MAC digest algorithms (DigestInfo OIDs) and hashlib's names for them. Anything else, PBMAC1
# (RFC 9579) included, is not checked here: the caller then loads the file in full.
_MAC_HASHES = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
# A file asking for more rounds than this is left to the full load rather than hashed in a Python loop.
MAX_MAC_ITERATIONS = 200_000
_MAC_KEY_PURPOSE = 3  # RFC 7292 B.3: ID 3 derives the MAC key


class _Mac(t.NamedTuple):
    hash_name: str
    digest: bytes
    salt: bytes
    iterations: int
    content: bytes  # the authSafe data the MAC covers


def verify_pfx_mac(data: bytes, password: str | None) -> bool | None:
    """True: the password (as load_pfx tries it) opens the MAC. False: it does not. None: cannot tell.

    "Cannot tell" covers a file without a MAC, an unknown MAC algorithm, too many iterations and
    anything this minimal DER reader does not follow; the caller must then load the file in full.
    """
    try:
        mac = _read_mac(data)
    except (_Malformed, IndexError, ValueError):
        return None
    if mac is None:
        return None
    return opening_secret(mac, password) is not None


def read_mac(data: bytes) -> _Mac | None:
    """The file's MAC, or None when it has none or one verify_pfx_mac cannot check; raises _Malformed."""
    try:
        return _read_mac(data)
    except (IndexError, ValueError):
        raise _Malformed("unreadable macData") from None


def opening_secret(mac: _Mac, password: str | None) -> bytes | None:
    """The form of the password (one of password_forms) whose key opens the MAC, or None.

    The bags of the file are encrypted with that same form: it is the one to decrypt them with.
    Forms are tried in order and each costs one key derivation, so the usual case costs one.
    """
    for secret in password_forms(password):
        key = _mac_key(mac.hash_name, secret, mac.salt, mac.iterations)
        if hmac.compare_digest(hmac.new(key, mac.content, mac.hash_name).digest(), mac.digest):
            return secret
    return None


# A publish checks each PFX source's MAC twice, in the short path's proof and again when the
# quick load opens the file: the derivation is the cost, so its key is kept for the task (a task
# runs in its own worker process). Bounded, for a batch of thousands of sources.
@functools.lru_cache(maxsize=4096)
def _mac_key(hash_name: str, secret: bytes, salt: bytes, iterations: int) -> bytes:
    return pkcs12_kdf(hash_name, secret, salt, iterations, _MAC_KEY_PURPOSE, hashlib.new(hash_name).digest_size)


def password_forms(password: str | None) -> list[bytes]:
    """The password as PKCS#12 key derivation takes it, in every form the full load accepts.

    Exactly the forms OpenSSL's PKCS12_parse tries (the full load, load_pfx): the BMPString
    (UTF-16BE with two zero bytes at the end), then "absent" (no bytes) and the empty string, since a
    given password may also open a file that has none. Not the UTF-8 bytes widened to 16 bits that
    older tools keyed MACs with: the openssl command falls back to that form, the library does not,
    so a file only that form opens is refused by the full load and must not pass here either.
    """
    forms: list[bytes] = []
    if password:
        forms.append(password.encode("utf-16-be") + b"\x00\x00")
    forms += [b"", b"\x00\x00"]
    return forms


def pkcs12_kdf(hash_name: str, password: bytes, salt: bytes, iterations: int, purpose: int, size: int) -> bytes:
    """RFC 7292 appendix B.2: derive size bytes of key material for purpose (1 key, 2 IV, 3 MAC)."""
    digest: t.Callable[[bytes], t.Any] = getattr(hashlib, hash_name)
    block = hashlib.new(hash_name).block_size
    diversifier = bytes([purpose]) * block
    material = bytearray(_stretch(salt, block) + _stretch(password, block))
    output = b""
    while True:
        value: bytes = digest(diversifier + bytes(material)).digest()
        for _round in range(iterations - 1):
            value = digest(value).digest()
        output += value
        if len(output) >= size:
            return output[:size]
        _add_to_blocks(material, int.from_bytes(_repeat(value, block), "big") + 1, block)


def _stretch(data: bytes, block: int) -> bytes:
    """data repeated to a whole number of blocks (empty stays empty)."""
    if not data:
        return b""
    return _repeat(data, block * -(-len(data) // block))


def _repeat(data: bytes, length: int) -> bytes:
    return (data * (length // len(data) + 1))[:length]


def _add_to_blocks(material: bytearray, addend: int, block: int) -> None:
    modulus = 1 << (8 * block)
    for start in range(0, len(material), block):
        value = (int.from_bytes(material[start : start + block], "big") + addend) % modulus
        material[start : start + block] = value.to_bytes(block, "big")


def _read_mac(data: bytes) -> _Mac | None:
    top = _tlv(data, 0)
    if top[2] != len(data):
        raise _Malformed("trailing data")
    pfx = _children(data, *_expect(top, _SEQUENCE))
    if len(pfx) < 3:
        return None  # no macData: nothing to check the password against
    content_start, content_end = _data_content(data, pfx[1])
    mac_data = _children(data, *_expect(pfx[2], _SEQUENCE))
    digest_info = _children(data, *_expect(mac_data[0], _SEQUENCE))
    hash_name = _MAC_HASHES.get(_algorithm(data, digest_info[0]))
    iterations = _integer(data, mac_data[2]) if len(mac_data) > 2 else 1
    if hash_name is None or not 1 <= iterations <= MAX_MAC_ITERATIONS:
        return None
    return _Mac(hash_name, _octets(data, digest_info[1]), _octets(data, mac_data[1]), iterations, data[content_start:content_end])
