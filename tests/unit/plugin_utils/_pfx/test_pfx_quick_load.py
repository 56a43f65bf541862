"""The quick PFX load (unpack.py + quick_load_pfx) against cryptography's full load: same bundles, same refusals."""

from __future__ import annotations

import datetime
import hmac
import typing as t

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ansible_collections.iis.ccs.plugins.plugin_utils._pfx import bundle as bundle_module
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx import mac as mac_module
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx import unpack as unpack_module
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateBundle, CertificateError, export_pfx, load_pfx, quick_load_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.unpack import unpack_pfx

RSA_FILES = [
    "leaf-rsa.3des.pfx",
    "leaf-rsa.aes256.pfx",
    "leaf-rsa.openssl-3des.pfx",
    "leaf-rsa.openssl-aes256.pfx",
    "leaf-rsa.openssl-legacy.pfx",
    "leaf-rsa.shuffled.3des.pfx",
]
EC_FILES = ["leaf-ec.3des.pfx", "leaf-ec.aes256.pfx", "leaf-ec.openssl-3des.pfx", "leaf-ec.openssl-aes256.pfx", "leaf-ec.openssl-legacy.pfx"]


def _summary(bundle: CertificateBundle) -> tuple[t.Any, ...]:
    """Everything a caller reads from a bundle (the key objects themselves have no equality)."""
    return (
        bundle.identity,
        bundle.certificate,
        bundle.chain,
        bundle.thumbprint,
        bundle.dns_names,
        bundle.not_before,
        bundle.not_after,
        bundle.public_key_sha256,
        bundle_module.private_key_sha256(bundle.private_key),
        type(bundle.private_key),
    )


def _full_load(data: bytes, password: str | None, monkeypatch: pytest.MonkeyPatch) -> CertificateBundle:
    """load_pfx as it was before the quick path: cryptography's pkcs12.load_pkcs12 only."""
    with monkeypatch.context() as patch:
        patch.setattr(bundle_module, "quick_load_pfx", lambda *args, **kwargs: None)
        return load_pfx(data, password)


def _full_error(data: bytes, password: str | None, monkeypatch: pytest.MonkeyPatch) -> str:
    with pytest.raises(CertificateError) as caught:
        _full_load(data, password, monkeypatch)
    return str(caught.value)


def _read(cert_corpus: t.Any, name: str) -> bytes:
    if "openssl" in name and cert_corpus.openssl is None:
        pytest.skip("the openssl command is not installed")
    return t.cast("bytes", cert_corpus.read(name))


@pytest.fixture(autouse=True)
def _no_mac_key_kept() -> None:
    """mac.py keeps derived MAC keys for the task: each test counts its derivations from none kept."""
    mac_module._mac_key.cache_clear()


# ---------------------------------------------------------------- same bundle as the full load


@pytest.mark.parametrize("name", RSA_FILES + EC_FILES + ["leaf-rsa.nochain.3des.pfx"])
def test_quick_load_equals_the_full_load(cert_corpus: t.Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _read(cert_corpus, name)
    quick = quick_load_pfx(data, cert_corpus.PFX_PASSWORD)
    assert quick is not None, "the quick path must take this file"
    assert _summary(quick) == _summary(_full_load(data, cert_corpus.PFX_PASSWORD, monkeypatch))
    assert _summary(load_pfx(data, cert_corpus.PFX_PASSWORD)) == _summary(quick)


@pytest.mark.parametrize("encryption", ["compatible", "aes256"])
@pytest.mark.parametrize("name", ["leaf-rsa", "leaf-ec", "wildcard", "idn"])
def test_quick_load_of_this_collections_exports(cert_corpus: t.Any, name: str, encryption: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """export_pfx writes what the store holds ("compatible": 3DES and SHA-1 MAC; "aes256": PBES2 and SHA-256 MAC)."""
    bundle = _full_load(cert_corpus.read(f"{name}.3des.pfx"), cert_corpus.PFX_PASSWORD, monkeypatch)
    data = export_pfx(bundle, "store-password", encryption)
    quick = quick_load_pfx(data, "store-password")
    assert quick is not None
    assert _summary(quick) == _summary(_full_load(data, "store-password", monkeypatch)) == _summary(bundle)
    assert len(quick.chain) == 2


@pytest.mark.parametrize(
    ("name", "password"),
    [("leaf-rsa.nopassword.pfx", None), ("leaf-rsa.nopassword.pfx", "unused"), ("leaf-rsa.emptypassword.pfx", None), ("leaf-rsa.emptypassword.pfx", "")],
)
def test_quick_load_without_or_with_an_empty_password(cert_corpus: t.Any, name: str, password: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _read(cert_corpus, name)
    quick = quick_load_pfx(data, password)
    assert quick is not None
    assert _summary(quick) == _summary(_full_load(data, password, monkeypatch))


def test_every_corpus_file_gives_the_full_loads_answer(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the file and the password: the quick path declines, or agrees with the full load."""
    taken = 0
    for path in sorted(cert_corpus.directory.glob("*.pfx")):
        data = path.read_bytes()
        for password in (cert_corpus.PFX_PASSWORD, cert_corpus.WRONG_PASSWORD, None, ""):
            quick = quick_load_pfx(data, password)
            if quick is None:
                continue
            taken += 1
            assert _summary(quick) == _summary(_full_load(data, password, monkeypatch)), (path.name, password)
    assert taken > 40


def test_legacy_rc2_certificate_bags_are_decrypted_by_cryptographys_load_without_the_key(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """cryptography's RC2 takes only 128-bit keys: the 40-bit RC2 bags (openssl -legacy, older Windows exports) go through
    pkcs12.load_pkcs12 in a PFX of their own, without the key, so no RSA check runs there (nor in the quick path's key load)."""
    data = _read(cert_corpus, "leaf-rsa.openssl-legacy.pfx")
    calls: list[t.Any] = []
    original_load = unpack_module.pkcs12.load_pkcs12
    original_key_load = bundle_module.serialization.load_der_private_key

    def recording_load(pfx: bytes, password: t.Any) -> t.Any:
        loaded = original_load(pfx, password)
        calls.append((loaded.key, len(loaded.additional_certs)))
        return loaded

    def recording_key_load(der: bytes, password: t.Any, **kwargs: t.Any) -> t.Any:
        calls.append(kwargs)
        return original_key_load(der, password, **kwargs)

    monkeypatch.setattr(unpack_module.pkcs12, "load_pkcs12", recording_load)
    monkeypatch.setattr(bundle_module.serialization, "load_der_private_key", recording_key_load)
    quick = quick_load_pfx(data, cert_corpus.PFX_PASSWORD)
    assert quick is not None
    assert calls == [(None, 3), {"unsafe_skip_rsa_key_validation": True}]
    monkeypatch.undo()
    assert _summary(quick) == _summary(_full_load(data, cert_corpus.PFX_PASSWORD, monkeypatch))


def test_the_quick_path_spends_one_key_derivation_per_pbe_key_and_iv(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PKCS#12 KDF is a Python hash loop (about a millisecond): MAC once, then key and IV per 3DES bag; PBES2 uses hashlib's PBKDF2."""
    calls: list[int] = []
    original = mac_module.pkcs12_kdf

    def counting(*args: t.Any) -> bytes:
        calls.append(args[4])
        return original(*args)

    monkeypatch.setattr(mac_module, "pkcs12_kdf", counting)
    monkeypatch.setattr(unpack_module, "pkcs12_kdf", counting)
    assert unpack_pfx(cert_corpus.read("leaf-rsa.3des.pfx"), cert_corpus.PFX_PASSWORD) is not None
    assert sorted(calls) == [1, 1, 2, 2, 3]  # certificate bag and key bag: key (1) and IV (2); the MAC (3)
    calls.clear()
    assert unpack_pfx(cert_corpus.read("leaf-rsa.aes256.pfx"), cert_corpus.PFX_PASSWORD) is not None
    assert calls == [3]


# ---------------------------------------------------------------- refusals stay the full load's


def _rsa_key(cert_corpus: t.Any) -> rsa.RSAPrivateKey:
    return t.cast("rsa.RSAPrivateKey", serialization.load_pem_private_key(cert_corpus.read("leaf-rsa.key"), None))


def _corrupt(key: rsa.RSAPrivateKey, field: str) -> rsa.RSAPrivateKey:
    """The key with one CRT number or d changed, built without cryptography's consistency check (as a damaged file would be)."""
    numbers = key.private_numbers()
    values = {name: getattr(numbers, name) for name in ("p", "q", "d", "dmp1", "dmq1", "iqmp")}
    values[field] += 2
    broken = rsa.RSAPrivateNumbers(**values, public_numbers=numbers.public_numbers)
    return broken.private_key(unsafe_skip_rsa_key_validation=True)


def _pfx(cert_corpus: t.Any, key: t.Any, certificate: x509.Certificate | None, cas: list[x509.Certificate]) -> bytes:
    protection = bundle_module._pfx_protection("compatible", cert_corpus.PFX_PASSWORD.encode())
    return pkcs12.serialize_key_and_certificates(b"test", key, certificate, cas or None, protection)


@pytest.mark.parametrize("field", ["dmp1", "dmq1", "iqmp", "d"])
def test_a_corrupt_rsa_key_is_declined_and_refused_as_before(cert_corpus: t.Any, field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _pfx(cert_corpus, _corrupt(_rsa_key(cert_corpus), field), cert_corpus.certificate("leaf-rsa"), [])
    assert unpack_pfx(data, cert_corpus.PFX_PASSWORD) is not None  # the file opens: the key check is what declines it
    assert quick_load_pfx(data, cert_corpus.PFX_PASSWORD) is None
    expected = _full_error(data, cert_corpus.PFX_PASSWORD, monkeypatch)
    with pytest.raises(CertificateError) as caught:
        load_pfx(data, cert_corpus.PFX_PASSWORD)
    assert str(caught.value) == expected


def test_mutation_without_the_arithmetic_check_a_corrupt_dmp1_gets_through(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is what refuses it: a signature probe would not, OpenSSL quietly signs without the CRT numbers."""
    data = _pfx(cert_corpus, _corrupt(_rsa_key(cert_corpus), "dmp1"), cert_corpus.certificate("leaf-rsa"), [])
    monkeypatch.setattr(bundle_module, "rsa_key_consistent", lambda key, certificate: True)
    assert quick_load_pfx(data, cert_corpus.PFX_PASSWORD) is not None


def test_a_key_of_another_certificate_is_declined_and_refused_as_before(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _pfx(cert_corpus, _rsa_key(cert_corpus), None, [cert_corpus.certificate("wildcard")])
    assert unpack_pfx(data, cert_corpus.PFX_PASSWORD) is not None
    assert quick_load_pfx(data, cert_corpus.PFX_PASSWORD) is None
    expected = _full_error(data, cert_corpus.PFX_PASSWORD, monkeypatch)
    assert expected.startswith("pfx_path: the private key in the PFX does not belong to any certificate in it")
    with pytest.raises(CertificateError) as caught:
        load_pfx(data, cert_corpus.PFX_PASSWORD)
    assert str(caught.value) == expected


@pytest.mark.parametrize(("name", "password"), [(name, "wrong") for name in RSA_FILES + EC_FILES] + [("leaf-rsa.aes256.pfx", None), ("leaf-rsa.3des.pfx", "")])
def test_a_wrong_or_missing_password_is_declined_and_refused_as_before(
    cert_corpus: t.Any, name: str, password: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _read(cert_corpus, name)
    assert unpack_pfx(data, password) is None
    expected = _full_error(data, password, monkeypatch)
    with pytest.raises(CertificateError) as caught:
        load_pfx(data, password)
    assert str(caught.value) == expected


@pytest.mark.parametrize("damage", ["truncate", "flip-in-key-bag", "indefinite-length"])
def test_damaged_files_are_declined(cert_corpus: t.Any, damage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    good = cert_corpus.read("leaf-rsa.3des.pfx")
    if damage == "truncate":
        data = good[:-1]
    elif damage == "flip-in-key-bag":
        data = good[: len(good) // 2] + bytes([good[len(good) // 2] ^ 0x01]) + good[len(good) // 2 + 1 :]
    else:
        data = b"\x30\x80" + good[4:] + b"\x00\x00"  # the outer SEQUENCE as BER indefinite length (its length has 2 bytes)
        assert good[1] == 0x82
    assert unpack_pfx(data, cert_corpus.PFX_PASSWORD) is None
    expected = _full_error(data, cert_corpus.PFX_PASSWORD, monkeypatch) if damage != "indefinite-length" else None
    if expected is not None:
        with pytest.raises(CertificateError) as caught:
            load_pfx(data, cert_corpus.PFX_PASSWORD)
        assert str(caught.value) == expected


_der = unpack_module._der


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytes([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.insert(0, 0x80 | (arc & 0x7F))
        body += bytes(chunk)
    return _der(0x06, body)


def _plain_pfx(certificate: bytes, keys: list[bytes]) -> bytes:
    """An unencrypted PFX without a MAC, built by hand: one certificate bag and the given PKCS#8 key bags."""
    data_oid = _oid("1.2.840.113549.1.7.1")
    cert_bag = _der(0x30, _oid("1.2.840.113549.1.12.10.1.3") + _der(0xA0, _der(0x30, _oid("1.2.840.113549.1.9.22.1") + _der(0xA0, _der(0x04, certificate)))))
    key_bags = b"".join(_der(0x30, _oid("1.2.840.113549.1.12.10.1.1") + _der(0xA0, key)) for key in keys)
    safe_contents = _der(0x30, cert_bag + key_bags)
    auth_safe = _der(0x30, _der(0x30, data_oid + _der(0xA0, _der(0x04, safe_contents))))
    return _der(0x30, _der(0x02, b"\x03") + _der(0x30, data_oid + _der(0xA0, _der(0x04, auth_safe))))


def test_one_plain_key_is_taken_and_several_keys_are_declined(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which of several keys is meant is for the full load to decide; a plain file without a MAC needs no password."""
    certificate = cert_corpus.certificate("leaf-rsa").public_bytes(serialization.Encoding.DER)
    key = _rsa_key(cert_corpus).private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    single = _plain_pfx(certificate, [key])
    quick = quick_load_pfx(single, None)
    assert quick is not None and _summary(quick) == _summary(_full_load(single, None, monkeypatch))
    assert unpack_pfx(_plain_pfx(certificate, [key, key]), None) is None


def test_a_mac_only_older_tools_would_make_is_refused_as_the_full_load_refuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A MAC keyed with each UTF-8 byte of the password widened (older tools; the openssl command falls back to
    it) is not opened by OpenSSL's library, so the full load refuses such a file. mac.py, which the publish
    short path trusts, must refuse it too: before, it opened it, and only the quick load declined it."""
    password = "Pässwörd-€"
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _self_signed(key)
    protection = bundle_module._pfx_protection("aes256", password.encode("utf-8"))
    data = pkcs12.serialize_key_and_certificates(b"test", key, certificate, None, protection)
    assert quick_load_pfx(data, password) is not None  # the standard MAC: taken
    mac = mac_module._read_mac(data)
    assert mac is not None
    widened = b"".join(b"\x00" + bytes([byte]) for byte in password.encode("utf-8")) + b"\x00\x00"
    mac_key = mac_module.pkcs12_kdf(mac.hash_name, widened, mac.salt, mac.iterations, 3, len(mac.digest))
    assert data.count(mac.digest) == 1
    older = data.replace(mac.digest, hmac.new(mac_key, mac.content, mac.hash_name).digest())
    assert mac_module.verify_pfx_mac(data, password) is True
    assert mac_module.verify_pfx_mac(older, password) is False  # the short path's check refuses it ...
    assert unpack_pfx(older, password) is None  # ... the quick load leaves it to the full load ...
    expected = _full_error(older, password, monkeypatch)
    with pytest.raises(CertificateError) as caught:
        load_pfx(older, password)
    assert str(caught.value) == expected  # ... which refuses it


def test_every_password_form_mac_py_tries_is_one_the_full_load_accepts() -> None:
    """For a non-ASCII password the forms are its BMPString, none and empty, the forms PKCS12_parse tries."""
    password = "Pässwörd-€"
    assert mac_module.password_forms(password) == [password.encode("utf-16-be") + b"\x00\x00", b"", b"\x00\x00"]
    assert mac_module.password_forms(None) == mac_module.password_forms("") == [b"", b"\x00\x00"]


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "widened.example.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)
    return builder.not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256())


def test_nothing_unexpected_escapes_the_quick_load(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception the quick path does not foresee (a certificate extension cryptography refuses lazily, say) means
    "load it in full" (None), so that load_pfx raises exactly what the full load raises."""

    def broken(*args: t.Any) -> t.NoReturn:
        raise x509.DuplicateExtension("twice", x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME)

    data = cert_corpus.read("leaf-rsa.3des.pfx")
    with monkeypatch.context() as patch:
        patch.setattr(bundle_module, "_dns_names", broken)
        assert quick_load_pfx(data, cert_corpus.PFX_PASSWORD) is None
    assert quick_load_pfx(data, cert_corpus.PFX_PASSWORD) is not None


def test_the_mac_key_is_derived_once_for_the_short_path_and_the_quick_load(cert_corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A publish checks a source's MAC in the short path's proof, then opens the same file in the quick load:
    the key derivation (the cost) runs once, and a wrong password is still refused by both."""
    purposes: list[int] = []
    derive = mac_module.pkcs12_kdf

    def counting(hash_name: str, password: bytes, salt: bytes, iterations: int, purpose: int, size: int) -> bytes:
        purposes.append(purpose)
        return derive(hash_name, password, salt, iterations, purpose, size)

    monkeypatch.setattr(mac_module, "pkcs12_kdf", counting)
    data = cert_corpus.read("leaf-rsa.aes256.pfx")
    assert mac_module.verify_pfx_mac(data, cert_corpus.PFX_PASSWORD) is True
    assert quick_load_pfx(data, cert_corpus.PFX_PASSWORD) is not None
    assert purposes.count(3) == 1
    assert mac_module.verify_pfx_mac(data, cert_corpus.PFX_PASSWORD + "x") is False
    assert unpack_pfx(data, cert_corpus.PFX_PASSWORD + "x") is None
    assert purposes.count(3) == 4  # the wrong password's forms: its BMPString, none, empty (once each, then cached)
