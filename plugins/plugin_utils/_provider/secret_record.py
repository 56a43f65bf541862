# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret idempotency without a reversible copy of any secret.

IIS stores the provider's two passwords encrypted with the machine key, with random
padding, so neither the plain values nor a stable ciphertext can be compared between
runs. Instead, when iis.ccs applies secrets it leaves a record next to them, under
``HKLM\\SOFTWARE\\iis.ccs\\CentralCertProvider``:

* ``Salt``: random, new on every apply;
* ``CredentialFingerprint``: scrypt(salt, lower(user name) + NUL + password);
* ``PrivateKeyPasswordFingerprint``: scrypt(salt, private-key password), empty when none;
* ``PasswordCiphertextDigest`` / ``PrivateKeyPasswordCiphertextDigest``: SHA-256 of the
  encrypted registry values exactly as IIS wrote them (computed on the host after applying).

A later run recomputes the fingerprints with the stored salt. The secrets count as
unchanged only if both fingerprints match AND the current ciphertext digests equal the
recorded ones. Anyone re-setting a password outside Ansible (IIS Manager, a script)
makes IIS write new ciphertext, so the digests differ and the secrets are re-applied.

scrypt with a per-apply random salt and a deliberately high cost keeps the record from
being a cheap oracle for guessing the passwords; it is one-way, so nothing reversible is
stored. (Whoever can read that key as an administrator could decrypt IIS's own copy with
the machine key anyway, so the record adds no practical exposure.)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import typing as t
from dataclasses import dataclass

ALGORITHM = "scrypt-n32768-r8-p1-v1"
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
# scrypt needs 128 * n * r bytes (32 MiB here); hashlib's default ceiling is lower.
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_SALT_BYTES = 16

RECORD_VALUE_NAMES = (
    "Algorithm",
    "Salt",
    "CredentialFingerprint",
    "PrivateKeyPasswordFingerprint",
    "PasswordCiphertextDigest",
    "PrivateKeyPasswordCiphertextDigest",
)


class SecretStatus(t.NamedTuple):
    apply: bool
    reason: str  # unchanged | always | no_record | rotated | changed_outside_ansible


def new_salt() -> str:
    return os.urandom(_SALT_BYTES).hex()


def fingerprint(salt: str, secret: str) -> str:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=bytes.fromhex(salt), n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32
    ).hex()


def credential_fingerprint(salt: str, user_name: str, password: str) -> str:
    # Account names are case-insensitive on Windows; the NUL cannot occur in either part.
    return fingerprint(salt, user_name.lower() + "\0" + password)


def private_key_fingerprint(salt: str, private_key_password: str | None) -> str:
    return fingerprint(salt, private_key_password) if private_key_password else ""


@dataclass(frozen=True)
class SecretRecord:
    """What the controller asks the host to store; the host adds the ciphertext digests."""

    salt: str
    credential_fingerprint: str
    private_key_password_fingerprint: str

    @classmethod
    def create(cls, user_name: str, password: str, private_key_password: str | None) -> SecretRecord:
        salt = new_salt()
        return cls(
            salt=salt,
            credential_fingerprint=credential_fingerprint(salt, user_name, password),
            private_key_password_fingerprint=private_key_fingerprint(salt, private_key_password),
        )

    def host_values(self) -> dict[str, str]:
        return {
            "Algorithm": ALGORITHM,
            "Salt": self.salt,
            "CredentialFingerprint": self.credential_fingerprint,
            "PrivateKeyPasswordFingerprint": self.private_key_password_fingerprint,
        }


def compare(
    record: t.Mapping[str, t.Any],
    *,
    user_name: str,
    password: str,
    private_key_password: str | None,
    password_ciphertext_digest: str,
    private_key_password_ciphertext_digest: str,
) -> SecretStatus:
    """Decide whether the wanted secrets are already the ones IIS holds."""
    salt = str(record.get("Salt") or "")
    if record.get("Algorithm") != ALGORITHM or not _is_hex(salt):
        return SecretStatus(True, "no_record")
    # Ciphertext first: a changed digest means someone else wrote the secrets, whatever they are now.
    if not _same(record.get("PasswordCiphertextDigest"), password_ciphertext_digest) or not _same(
        record.get("PrivateKeyPasswordCiphertextDigest"), private_key_password_ciphertext_digest
    ):
        return SecretStatus(True, "changed_outside_ansible")
    if not _same(record.get("CredentialFingerprint"), credential_fingerprint(salt, user_name, password)):
        return SecretStatus(True, "rotated")
    if not _same(record.get("PrivateKeyPasswordFingerprint"), private_key_fingerprint(salt, private_key_password)):
        return SecretStatus(True, "rotated")
    return SecretStatus(False, "unchanged")


def _same(stored: t.Any, current: str) -> bool:
    return hmac.compare_digest(str(stored or "").lower().encode("ascii", "replace"), (current or "").lower().encode("ascii", "replace"))


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return bool(text)
