# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret idempotency without a reversible copy of any secret.

IIS stores the provider's two passwords encrypted with the machine key, with random
padding, so neither the plain values nor a stable ciphertext can be compared between
runs. Instead, when iis.ccs applies secrets it leaves a record next to them, under
``HKLM\\SOFTWARE\\iis.ccs\\CentralCertProvider``:

* ``Algorithm``: the record's format and scrypt cost;
* ``Salt``: random, new on every apply;
* ``SecretsFingerprint``: scrypt(salt, the JSON list [lower(user name), password,
  private-key password or ""]): one fingerprint of everything the provider holds;
* ``PasswordCiphertextDigest`` / ``PrivateKeyPasswordCiphertextDigest``: SHA-256 of the
  encrypted registry values exactly as IIS wrote them (computed on the host after applying).

A later run first compares the ciphertext digests (a mismatch re-applies the secrets with
no scrypt at all), then recomputes the fingerprint with the stored salt. The secrets count
as unchanged only if the digests equal the recorded ones AND the fingerprint matches.
Anyone re-setting a password outside Ansible (IIS Manager, a script) makes IIS write new
ciphertext, so the digests differ and the secrets are re-applied.

Records written by earlier releases (``...-v1``) hold two fingerprints instead of one,
``CredentialFingerprint`` = scrypt(salt, lower(user name) + NUL + password) and
``PrivateKeyPasswordFingerprint`` = scrypt(salt, private-key password) or empty. They are
still recognised (both scrypt runs at once: hashlib releases the GIL while it hashes), and
the next apply replaces them with the one-fingerprint format. One scrypt per check instead
of two halves the unchanged run's CPU without lowering the cost of a guess against the record.

scrypt with a per-apply random salt and a deliberately high cost keeps the record from
being a cheap oracle for guessing the passwords; it is one-way, so nothing reversible is
stored. (Whoever can read that key as an administrator could decrypt IIS's own copy with
the machine key anyway, so the record adds no practical exposure.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

ALGORITHM = "scrypt-n32768-r8-p1-v2"
# Records written by releases before the one-fingerprint format; read, never written.
ALGORITHM_V1 = "scrypt-n32768-r8-p1-v1"
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
# scrypt needs 128 * n * r bytes (32 MiB here); hashlib's default ceiling is lower.
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_SALT_BYTES = 16

RECORD_VALUE_NAMES = (
    "Algorithm",
    "Salt",
    "SecretsFingerprint",
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


def secrets_fingerprint(salt: str, user_name: str, password: str, private_key_password: str | None) -> str:
    # A JSON list keeps the three parts apart whatever characters they hold; account names are
    # case-insensitive on Windows; no private-key password and an empty one are the same to IIS.
    text = json.dumps([user_name.lower(), password, private_key_password or ""], ensure_ascii=False)
    return fingerprint(salt, text)


@dataclass(frozen=True)
class SecretRecord:
    """What the controller asks the host to store; the host adds the ciphertext digests."""

    salt: str
    secrets_fingerprint: str

    @classmethod
    def create(cls, user_name: str, password: str, private_key_password: str | None) -> SecretRecord:
        salt = new_salt()
        return cls(salt=salt, secrets_fingerprint=secrets_fingerprint(salt, user_name, password, private_key_password))

    def host_values(self) -> dict[str, str]:
        return {"Algorithm": ALGORITHM, "Salt": self.salt, "SecretsFingerprint": self.secrets_fingerprint}


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
    if record.get("Algorithm") not in (ALGORITHM, ALGORITHM_V1) or not _is_hex(salt):
        return SecretStatus(True, "no_record")
    # Ciphertext first, and cheap: a changed digest means someone else wrote the secrets, whatever
    # they are now, so they are re-applied and no scrypt is spent on them.
    if not _same(record.get("PasswordCiphertextDigest"), password_ciphertext_digest) or not _same(
        record.get("PrivateKeyPasswordCiphertextDigest"), private_key_password_ciphertext_digest
    ):
        return SecretStatus(True, "changed_outside_ansible")
    if record.get("Algorithm") == ALGORITHM_V1:
        same = _same_v1(record, salt, user_name, password, private_key_password)
    else:
        same = _same(record.get("SecretsFingerprint"), secrets_fingerprint(salt, user_name, password, private_key_password))
    return SecretStatus(False, "unchanged") if same else SecretStatus(True, "rotated")


def _same_v1(record: t.Mapping[str, t.Any], salt: str, user_name: str, password: str, private_key_password: str | None) -> bool:
    """A record of the two-fingerprint format; both scrypt runs at once (hashlib releases the GIL)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        credential = pool.submit(credential_fingerprint, salt, user_name, password)
        private_key = pool.submit(private_key_fingerprint, salt, private_key_password)
        return _same(record.get("CredentialFingerprint"), credential.result()) and _same(
            record.get("PrivateKeyPasswordFingerprint"), private_key.result()
        )


def _same(stored: t.Any, current: str) -> bool:
    return hmac.compare_digest(str(stored or "").lower().encode("ascii", "replace"), (current or "").lower().encode("ascii", "replace"))


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return bool(text)
