"""The secret record: salted one-way fingerprints plus ciphertext digests decide whether secrets are re-applied."""

from __future__ import annotations

import hashlib

from ansible_collections.iis.ccs.plugins.plugin_utils._provider import secret_record as sr

PASSWORD, KEY = "Lab-Reader-Pa55!", "pfx-secret"


def stored(user: str = "LAB\\svc-ccs", password: str = PASSWORD, key: str | None = KEY) -> dict[str, str]:
    values = sr.SecretRecord.create(user, password, key).host_values()
    values.update(PasswordCiphertextDigest="aa" * 32, PrivateKeyPasswordCiphertextDigest=("bb" * 32) if key else "")
    return values


def compare(record: dict[str, str], user: str = "LAB\\svc-ccs", password: str = PASSWORD, key: str | None = KEY,
            pw_digest: str = "aa" * 32, key_digest: str = "bb" * 32) -> sr.SecretStatus:
    return sr.compare(record, user_name=user, password=password, private_key_password=key,
                      password_ciphertext_digest=pw_digest, private_key_password_ciphertext_digest=key_digest)


def test_same_secrets_and_ciphertext_are_unchanged() -> None:
    assert compare(stored()) == sr.SecretStatus(False, "unchanged")


def test_user_name_case_does_not_matter() -> None:
    assert compare(stored(), user="lab\\SVC-CCS").apply is False


def test_rotation_of_either_secret_or_the_user_is_noticed() -> None:
    record = stored()
    assert compare(record, password="new-password") == sr.SecretStatus(True, "rotated")
    assert compare(record, key="new-key") == sr.SecretStatus(True, "rotated")
    assert compare(record, key=None) == sr.SecretStatus(True, "rotated")
    assert compare(record, user="LAB\\other") == sr.SecretStatus(True, "rotated")


def test_ciphertext_rewritten_outside_ansible_is_noticed_even_with_the_same_secrets() -> None:
    assert compare(stored(), pw_digest="cc" * 32) == sr.SecretStatus(True, "changed_outside_ansible")
    assert compare(stored(), key_digest="") == sr.SecretStatus(True, "changed_outside_ansible")


def test_missing_or_foreign_record_applies_once() -> None:
    assert compare({}) == sr.SecretStatus(True, "no_record")
    assert compare({**stored(), "Algorithm": "sha1"}) == sr.SecretStatus(True, "no_record")
    assert compare({**stored(), "Salt": "not-hex"}) == sr.SecretStatus(True, "no_record")


def test_no_private_key_password_record() -> None:
    record = stored(key=None)
    assert record["PrivateKeyPasswordFingerprint"] == ""
    assert compare(record, key=None, key_digest="") == sr.SecretStatus(False, "unchanged")


def test_record_holds_no_reversible_or_fast_copy_of_a_secret() -> None:
    record = stored()
    text = repr(record)
    assert PASSWORD not in text and KEY not in text
    for secret in (PASSWORD, KEY, "LAB\\svc-ccs\0" + PASSWORD):
        assert hashlib.sha256(secret.encode()).hexdigest() not in text
    # Salted: the same secrets give different fingerprints on another apply.
    again = stored()
    assert again["Salt"] != record["Salt"]
    assert again["CredentialFingerprint"] != record["CredentialFingerprint"]
    assert record["Algorithm"] == sr.ALGORITHM and len(bytes.fromhex(record["Salt"])) == 16


def test_fingerprint_is_scrypt_with_the_documented_cost() -> None:
    salt = "00" * 16
    expected = hashlib.scrypt(b"x", salt=bytes(16), n=32768, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32).hex()
    assert sr.fingerprint(salt, "x") == expected
