"""The secret record: salted one-way fingerprints plus ciphertext digests decide whether secrets are re-applied."""

from __future__ import annotations

import functools
import hashlib
import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._provider import secret_record as sr

PASSWORD, KEY, USER = "Lab-Reader-Pa55!", "pfx-secret", "LAB\\svc-ccs"
DIGESTS = {"PasswordCiphertextDigest": "aa" * 32, "PrivateKeyPasswordCiphertextDigest": "bb" * 32}


def stored(user: str = USER, password: str = PASSWORD, key: str | None = KEY) -> dict[str, str]:
    values = sr.SecretRecord.create(user, password, key).host_values()
    values.update(PasswordCiphertextDigest="aa" * 32, PrivateKeyPasswordCiphertextDigest=("bb" * 32) if key else "")
    return values


@functools.cache  # scrypt is slow on purpose
def stored_v1(user: str = USER, password: str = PASSWORD, key: str | None = KEY) -> dict[str, str]:
    """A record as releases before the one-fingerprint format wrote it (two fingerprints)."""
    salt = sr.new_salt()
    return {
        "Algorithm": "scrypt-n32768-r8-p1-v1",
        "Salt": salt,
        "CredentialFingerprint": sr.credential_fingerprint(salt, user, password),
        "PrivateKeyPasswordFingerprint": sr.private_key_fingerprint(salt, key),
        "PasswordCiphertextDigest": "aa" * 32,
        "PrivateKeyPasswordCiphertextDigest": ("bb" * 32) if key else "",
    }


def compare(record: t.Mapping[str, str], user: str = USER, password: str = PASSWORD, key: str | None = KEY,
            pw_digest: str = "aa" * 32, key_digest: str = "bb" * 32) -> sr.SecretStatus:
    return sr.compare(record, user_name=user, password=password, private_key_password=key,
                      password_ciphertext_digest=pw_digest, private_key_password_ciphertext_digest=key_digest)


@pytest.fixture(params=["current", "v1"])
def make_record(request: pytest.FixtureRequest) -> t.Callable[..., dict[str, str]]:
    """Every rule holds for records of the current format and for those earlier releases wrote."""
    return stored if request.param == "current" else stored_v1


def test_same_secrets_and_ciphertext_are_unchanged(make_record: t.Callable[..., dict[str, str]]) -> None:
    assert compare(make_record()) == sr.SecretStatus(False, "unchanged")


def test_user_name_case_does_not_matter(make_record: t.Callable[..., dict[str, str]]) -> None:
    assert compare(make_record(), user="lab\\SVC-CCS").apply is False


def test_rotation_of_either_secret_or_the_user_is_noticed(make_record: t.Callable[..., dict[str, str]]) -> None:
    record = make_record()
    assert compare(record, password="new-password") == sr.SecretStatus(True, "rotated")
    assert compare(record, key="new-key") == sr.SecretStatus(True, "rotated")
    assert compare(record, key=None) == sr.SecretStatus(True, "rotated")
    assert compare(record, user="LAB\\other") == sr.SecretStatus(True, "rotated")


def test_parts_cannot_be_shifted_between_user_password_and_key() -> None:
    # One fingerprint over all three parts: moving characters from one part to the next is a change.
    record = stored(user="u", password="ab", key="c")
    assert compare(record, user="u", password="a", key="bc", key_digest="bb" * 32).apply is True


def test_ciphertext_rewritten_outside_ansible_is_noticed_even_with_the_same_secrets(make_record: t.Callable[..., dict[str, str]]) -> None:
    assert compare(make_record(), pw_digest="cc" * 32) == sr.SecretStatus(True, "changed_outside_ansible")
    assert compare(make_record(), key_digest="") == sr.SecretStatus(True, "changed_outside_ansible")


def test_changed_ciphertext_spends_no_scrypt(monkeypatch: pytest.MonkeyPatch, make_record: t.Callable[..., dict[str, str]]) -> None:
    record = make_record()
    calls: list[str] = []
    monkeypatch.setattr(sr, "fingerprint", lambda salt, secret: calls.append(secret) or "")
    assert compare(record, pw_digest="cc" * 32).reason == "changed_outside_ansible"
    assert calls == []


def test_an_unchanged_check_costs_one_scrypt_with_the_current_format(monkeypatch: pytest.MonkeyPatch) -> None:
    record = stored()
    real = sr.fingerprint
    calls: list[str] = []
    monkeypatch.setattr(sr, "fingerprint", lambda salt, secret: calls.append(secret) or real(salt, secret))
    assert compare(record).reason == "unchanged"
    assert len(calls) == 1


def test_missing_or_foreign_record_applies_once() -> None:
    assert compare({}) == sr.SecretStatus(True, "no_record")
    assert compare({**stored(), "Algorithm": "sha1"}) == sr.SecretStatus(True, "no_record")
    assert compare({**stored(), "Salt": "not-hex"}) == sr.SecretStatus(True, "no_record")
    # A v1 algorithm name on a record that lacks the v1 fingerprints is not mistaken for unchanged.
    assert compare({**stored(), "Algorithm": "scrypt-n32768-r8-p1-v1"}) == sr.SecretStatus(True, "rotated")


def test_no_private_key_password_record(make_record: t.Callable[..., dict[str, str]]) -> None:
    record = make_record(key=None)
    assert compare(record, key=None, key_digest="") == sr.SecretStatus(False, "unchanged")
    assert compare(record, key="", key_digest="") == sr.SecretStatus(False, "unchanged")


def test_the_current_format_is_written_and_old_records_are_only_read() -> None:
    record = stored()
    assert set(record) == {"Algorithm", "Salt", "SecretsFingerprint", *DIGESTS}
    assert record["Algorithm"] == sr.ALGORITHM != sr.ALGORITHM_V1


def test_record_holds_no_reversible_or_fast_copy_of_a_secret() -> None:
    record = stored()
    text = repr(record)
    assert PASSWORD not in text and KEY not in text
    for secret in (PASSWORD, KEY, USER.lower() + "\0" + PASSWORD, f'["{USER.lower()}", "{PASSWORD}", "{KEY}"]'):
        assert hashlib.sha256(secret.encode()).hexdigest() not in text
    # Salted: the same secrets give different fingerprints on another apply.
    again = stored()
    assert again["Salt"] != record["Salt"]
    assert again["SecretsFingerprint"] != record["SecretsFingerprint"]
    assert len(bytes.fromhex(record["Salt"])) == 16


def test_fingerprint_is_scrypt_with_the_documented_cost() -> None:
    salt = "00" * 16
    expected = hashlib.scrypt(b"x", salt=bytes(16), n=32768, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32).hex()
    assert sr.fingerprint(salt, "x") == expected
    joined = b'["lab\\\\svc-ccs", "pw", "key"]'
    assert sr.secrets_fingerprint(salt, "LAB\\svc-ccs", "pw", "key") == hashlib.scrypt(
        joined, salt=bytes(16), n=32768, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32).hex()
