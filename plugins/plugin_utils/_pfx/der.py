# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a PFX is protected, read from its DER structure without the password.

PFX encryption (docs/ccs-behaviour.md#pfx-encryption): "compatible" is what Windows Server 2016 can import
(3DES key and certificate bags, SHA-1 MAC); "aes256" (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC,
SHA-256 MAC) needs Windows 10 1709 / Server 2019 and fails on 2016 with a misleading
"The specified network password is not correct".
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

PfxEncryption = t.Literal["compatible", "aes256"]
PfxEncryptionFound = t.Literal["compatible", "aes256", "none", "other"]


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


def looks_like_pfx(data: bytes) -> bool:
    try:
        _read_pfx_algorithms(data)
    except _Malformed:
        return False
    return True


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


def _integer(data: bytes, item: tuple[int, int, int]) -> int:
    start, end = _expect(item, _INTEGER)
    if start == end:
        raise _Malformed("empty INTEGER")
    return int.from_bytes(data[start:end], "big", signed=True)


def _octets(data: bytes, item: tuple[int, int, int]) -> bytes:
    start, end = _expect(item, _OCTET_STRING)
    return data[start:end]


def _only_child(data: bytes, item: tuple[int, int, int], tag: int) -> tuple[int, int, int]:
    """The one element inside a constructed element of the given tag (an EXPLICIT [0] wrapper, say)."""
    inner = _children(data, *_expect(item, tag))
    if len(inner) != 1:
        raise _Malformed(f"expected one element inside tag {tag:#x}, found {len(inner)}")
    return inner[0]


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
