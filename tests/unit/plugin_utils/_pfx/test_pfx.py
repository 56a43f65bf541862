"""PFX and PEM handling for ccs_cert_publish, against the generated certificate corpus."""

from __future__ import annotations

import datetime
import hashlib
import random
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import parse_host_name
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateBundle, CertificateError, export_pfx, load_pem, load_pfx, pfx_identity
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import expected_encryption, pfx_encryption
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.validate import validate_bundle

NOW = datetime.datetime.now(datetime.timezone.utc)
CRYPTOGRAPHY_PFX = ["3des", "aes256"]
OPENSSL_PFX = ["openssl-legacy", "openssl-3des", "openssl-aes256"]


def _hosts(*names: str) -> list[t.Any]:
    return [parse_host_name(name) for name in names]


def _pem(corpus: t.Any, name: str, *, chain: bool = True) -> CertificateBundle:
    return load_pem(corpus.read(f"{name}.crt"), corpus.read(f"{name}.key"), corpus.read("chain.pem") if chain else None)


def _chain_subjects(bundle: CertificateBundle) -> list[str]:
    return [cert.subject.rfc4514_string() for cert in bundle.chain]


ISSUING_ORDER = ["CN=iis.ccs Test Intermediate CA,O=iis.ccs tests", "CN=iis.ccs Test Root CA,O=iis.ccs tests"]


# ---------------------------------------------------------------- loading PFX


@pytest.mark.parametrize("kind", CRYPTOGRAPHY_PFX + OPENSSL_PFX)
@pytest.mark.parametrize("name", ["leaf-rsa", "leaf-ec", "wildcard", "idn"])
def test_load_pfx_from_cryptography_and_openssl(cert_corpus: t.Any, name: str, kind: str) -> None:
    bundle = load_pfx(cert_corpus.read(f"{name}.{kind}.pfx"), cert_corpus.PFX_PASSWORD)
    leaf = cert_corpus.certificate(name)
    assert bundle.certificate == leaf
    assert bundle.thumbprint == cert_corpus.thumbprint(name)
    assert bundle.thumbprint == hashlib.sha1(leaf.public_bytes(serialization.Encoding.DER)).hexdigest().upper()  # noqa: S324
    assert _chain_subjects(bundle) == ISSUING_ORDER
    assert bundle.dns_names == tuple(n.lower() for n in cert_corpus.leaves[name].dns_names)
    spki = leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert bundle.public_key_sha256 == hashlib.sha256(spki).hexdigest()
    assert bundle.not_after == cert_corpus.leaves[name].not_after and bundle.not_after.tzinfo is not None
    assert bundle.not_before.utcoffset() == datetime.timedelta(0)


def test_same_certificate_has_same_identity_whatever_the_writer(cert_corpus: t.Any) -> None:
    identities = {pfx_identity(cert_corpus.read(f"leaf-rsa.{kind}.pfx"), cert_corpus.PFX_PASSWORD) for kind in CRYPTOGRAPHY_PFX + OPENSSL_PFX}
    identities.add(load_pfx(cert_corpus.read("leaf-rsa.shuffled.3des.pfx"), cert_corpus.PFX_PASSWORD).identity)
    identities.add(_pem(cert_corpus, "leaf-rsa").identity)
    assert len(identities) == 1
    (identity,) = identities
    assert identity.startswith(cert_corpus.thumbprint("leaf-rsa") + "/")


def test_identity_changes_with_chain_and_certificate(cert_corpus: t.Any) -> None:
    full = pfx_identity(cert_corpus.read("leaf-rsa.3des.pfx"), cert_corpus.PFX_PASSWORD)
    no_chain = pfx_identity(cert_corpus.read("leaf-rsa.nochain.3des.pfx"), cert_corpus.PFX_PASSWORD)
    other = pfx_identity(cert_corpus.read("wildcard.3des.pfx"), cert_corpus.PFX_PASSWORD)
    assert len({full, no_chain, other}) == 3


def test_shuffled_chain_is_put_in_issuing_order(cert_corpus: t.Any) -> None:
    bundle = load_pfx(cert_corpus.read("leaf-rsa.shuffled.3des.pfx"), cert_corpus.PFX_PASSWORD)
    assert _chain_subjects(bundle) == ISSUING_ORDER


def test_wrong_password_and_damaged_file_give_different_messages(cert_corpus: t.Any) -> None:
    with pytest.raises(CertificateError) as wrong:
        load_pfx(cert_corpus.read("leaf-rsa.3des.pfx"), cert_corpus.WRONG_PASSWORD)
    assert str(wrong.value) == "pfx_password: the password does not decrypt the PFX; give the password it was exported with"
    for damaged in ["garbage.pfx", "truncated.pfx"]:
        with pytest.raises(CertificateError) as bad:
            load_pfx(cert_corpus.read(damaged), cert_corpus.PFX_PASSWORD, option="pfx_content")
        assert str(bad.value).startswith("pfx_content: the data is not a PFX (PKCS#12) file or it is damaged")
    with pytest.raises(CertificateError, match=r"^pfx_path: the PFX is empty"):
        load_pfx(cert_corpus.read("empty.pfx"), cert_corpus.PFX_PASSWORD)


@pytest.mark.parametrize("kind", CRYPTOGRAPHY_PFX + OPENSSL_PFX)
def test_wrong_password_is_recognised_for_every_writer(cert_corpus: t.Any, kind: str) -> None:
    with pytest.raises(CertificateError, match=r"^pfx_password: the password does not decrypt the PFX"):
        load_pfx(cert_corpus.read(f"leaf-ec.{kind}.pfx"), cert_corpus.WRONG_PASSWORD)


def test_missing_password_asks_for_one(cert_corpus: t.Any) -> None:
    with pytest.raises(CertificateError, match=r"^pfx_password: the PFX is protected by a password; give pfx_password$"):
        load_pfx(cert_corpus.read("leaf-rsa.aes256.pfx"), None)


def test_pfx_without_password_or_with_empty_password(cert_corpus: t.Any) -> None:
    thumbprint = cert_corpus.thumbprint("leaf-rsa")
    assert load_pfx(cert_corpus.read("leaf-rsa.nopassword.pfx"), None).thumbprint == thumbprint
    assert load_pfx(cert_corpus.read("leaf-rsa.emptypassword.pfx"), "").thumbprint == thumbprint
    assert load_pfx(cert_corpus.read("leaf-rsa.emptypassword.pfx"), None).thumbprint == thumbprint


def test_pfx_without_key(cert_corpus: t.Any) -> None:
    with pytest.raises(CertificateError) as caught:
        load_pfx(cert_corpus.read("nokey.pfx"), cert_corpus.PFX_PASSWORD)
    assert str(caught.value) == "pfx_path: the PFX holds no private key; export it with its private key"


def test_pfx_with_a_key_of_another_certificate(cert_corpus: t.Any) -> None:
    with pytest.raises(CertificateError, match=r"^pfx_path: the private key in the PFX does not belong to any certificate in it"):
        load_pfx(cert_corpus.read("mismatched.pfx"), cert_corpus.PFX_PASSWORD)


def test_errors_never_hold_secrets(cert_corpus: t.Any) -> None:
    canary = "CANARY-pfx-secret-7f3a"
    messages = []
    for name in ["leaf-rsa.3des.pfx", "garbage.pfx", "truncated.pfx", "nokey.pfx", "mismatched.pfx"]:
        for password in [canary, cert_corpus.PFX_PASSWORD]:
            try:
                load_pfx(cert_corpus.read(name), password)
            except CertificateError as error:
                messages.append(str(error))
    try:
        load_pem(cert_corpus.read("leaf-rsa.crt"), cert_corpus.read("leaf-rsa.key.enc"), passphrase=canary)
    except CertificateError as error:
        messages.append(str(error))
    assert len(messages) >= 8
    key_pem = cert_corpus.read("leaf-rsa.key").decode()
    key_body = "".join(key_pem.splitlines()[1:-1])
    for message in messages:
        assert canary not in message and cert_corpus.PFX_PASSWORD not in message and cert_corpus.KEY_PASSPHRASE not in message
        assert key_body[:40] not in message and "PRIVATE KEY" not in message


def test_corrupted_pfx_only_ever_raises_certificate_error(cert_corpus: t.Any) -> None:
    good = cert_corpus.read("leaf-rsa.3des.pfx")
    rng = random.Random(1234)
    for _attempt in range(200):
        data = bytearray(good)
        for _flip in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        data = data[: rng.randint(1, len(data))] if rng.random() < 0.3 else data
        assert pfx_encryption(bytes(data)) in ("compatible", "aes256", "none", "other")
        try:
            load_pfx(bytes(data), cert_corpus.PFX_PASSWORD)
        except CertificateError as error:
            assert str(error).startswith(("pfx_path: ", "pfx_password: "))


# ---------------------------------------------------------------- loading PEM


def test_load_pem_with_separate_chain(cert_corpus: t.Any) -> None:
    bundle = _pem(cert_corpus, "leaf-rsa")
    assert bundle.thumbprint == cert_corpus.thumbprint("leaf-rsa")
    assert _chain_subjects(bundle) == ISSUING_ORDER
    assert bundle.source_option == "certificate_path" and bundle.key_option == "private_key_path"


def test_load_pem_fullchain_as_acme_clients_write_it(cert_corpus: t.Any) -> None:
    bundle = load_pem(cert_corpus.read("leaf-ec.fullchain.pem"), cert_corpus.read("leaf-ec.key"))
    assert bundle.thumbprint == cert_corpus.thumbprint("leaf-ec")
    assert _chain_subjects(bundle) == ISSUING_ORDER[:1]
    # The same intermediate again in chain_pem is not duplicated.
    both = load_pem(cert_corpus.read("leaf-ec.fullchain.pem"), cert_corpus.read("leaf-ec.key"), cert_corpus.read("chain.pem"))
    assert _chain_subjects(both) == ISSUING_ORDER


def test_load_pem_fullchain_with_leaf_not_first(cert_corpus: t.Any) -> None:
    reordered = cert_corpus.read("intermediate.crt") + cert_corpus.read("leaf-rsa.crt")
    assert load_pem(reordered, cert_corpus.read("leaf-rsa.key")).thumbprint == cert_corpus.thumbprint("leaf-rsa")


def test_load_der_certificate_and_key(cert_corpus: t.Any) -> None:
    certificate = cert_corpus.certificate("leaf-ec")
    key = serialization.load_pem_private_key(cert_corpus.read("leaf-ec.key"), None)
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    bundle = load_pem(certificate.public_bytes(serialization.Encoding.DER), der_key)
    assert bundle.thumbprint == cert_corpus.thumbprint("leaf-ec")


def test_encrypted_pem_key(cert_corpus: t.Any) -> None:
    crt, key = cert_corpus.read("leaf-rsa.crt"), cert_corpus.read("leaf-rsa.key.enc")
    assert load_pem(crt, key, passphrase=cert_corpus.KEY_PASSPHRASE).thumbprint == cert_corpus.thumbprint("leaf-rsa")
    with pytest.raises(CertificateError, match=r"^private_key_passphrase: the private key is encrypted; give private_key_passphrase$"):
        load_pem(crt, key)
    with pytest.raises(CertificateError, match=r"^private_key_passphrase: the passphrase does not decrypt the private key"):
        load_pem(crt, key, passphrase=cert_corpus.WRONG_PASSWORD)
    # A passphrase for a key that is not encrypted does no harm.
    assert load_pem(crt, cert_corpus.read("leaf-rsa.key"), passphrase="unused").thumbprint == cert_corpus.thumbprint("leaf-rsa")


def test_pem_key_of_another_certificate(cert_corpus: t.Any) -> None:
    with pytest.raises(CertificateError) as caught:
        load_pem(cert_corpus.read("leaf-rsa.crt"), cert_corpus.read("leaf-ec.key"))
    assert str(caught.value).startswith("private_key_path: the private key does not belong to the certificate")
    with pytest.raises(CertificateError, match=r"^private_key_content: the private key does not belong"):
        load_pem(cert_corpus.read("leaf-rsa.crt"), cert_corpus.read("wildcard.key"), private_key_option="private_key_content")


def test_unreadable_pem_names_the_option(cert_corpus: t.Any) -> None:
    with pytest.raises(CertificateError, match=r"^certificate_content: no readable certificate found"):
        load_pem(
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", cert_corpus.read("leaf-rsa.key"), certificate_option="certificate_content"
        )
    with pytest.raises(CertificateError, match=r"^private_key_path: no readable private key found"):
        load_pem(cert_corpus.read("leaf-rsa.crt"), b"garbage")
    with pytest.raises(CertificateError, match=r"^chain_path: no readable certificate found"):
        load_pem(cert_corpus.read("leaf-rsa.crt"), cert_corpus.read("leaf-rsa.key"), b"garbage")


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("name", "hosts", "message"),
    [
        ("expired", ["www.example.test"], r"^certificate_path: the certificate [0-9A-F]{40} expired on "),
        ("not-yet-valid", ["www.example.test"], r"^certificate_path: the certificate [0-9A-F]{40} is not valid before "),
        ("no-server-auth", ["www.example.test"], r"^certificate_path: .* lacks serverAuth"),
        ("rsa-1024", ["www.example.test"], r"^certificate_path: the RSA key has 1024 bits; use .* at least 2048 bits$"),
        ("ec-secp256k1", ["www.example.test"], r"^certificate_path: the EC key uses curve secp256k1; use .*P-256, P-384 or P-521"),
        ("ed25519", ["www.example.test"], r"^certificate_path: IIS cannot serve a certificate with a Ed25519 key"),
        (
            "leaf-rsa",
            ["www.example.test", "other.example.test", "*.example.test"],
            r"^host_names: .* does not cover 'other.example.test', '\*.example.test' \(it is issued for 'www.example.test', 'example.test'\)",
        ),
        ("wildcard", ["example.test"], r"^host_names: .* does not cover 'example.test'"),
        ("wildcard", ["a.b.example.test"], r"^host_names: .* does not cover"),
        ("multi-san", ["*.example.test"], r"^host_names: .* does not cover '\*.example.test'"),
    ],
)  # fmt: skip
def test_validation_refuses(cert_corpus: t.Any, name: str, hosts: list[str], message: str) -> None:
    bundle = _pem(cert_corpus, name)
    with pytest.raises(CertificateError, match=message):
        validate_bundle(bundle, _hosts(*hosts), now=NOW, expiry_warning_days=30)


@pytest.mark.parametrize("name", ["expired", "not-yet-valid", "no-server-auth", "rsa-1024", "ec-secp256k1", "ed25519"])
def test_validation_of_pfx_names_the_pfx_option(cert_corpus: t.Any, name: str) -> None:
    if not (cert_corpus.directory / f"{name}.3des.pfx").exists():
        pytest.skip(f"this cryptography version cannot write {name} keys to PKCS#12")
    bundle = load_pfx(cert_corpus.read(f"{name}.3des.pfx"), cert_corpus.PFX_PASSWORD, option="pfx_content")
    with pytest.raises(CertificateError, match=r"^pfx_content: "):
        validate_bundle(bundle, _hosts("www.example.test"), now=NOW, expiry_warning_days=30)


@pytest.mark.parametrize(
    ("name", "hosts"),
    [
        ("leaf-rsa", ["www.example.test", "EXAMPLE.test"]),
        ("leaf-ec", ["www.example.test"]),
        ("wildcard", ["www.example.test", "*.example.test", "x.example.test"]),
        ("multi-san", ["a.example.test", "c.example.test"]),
        ("idn", ["*.bücher.example", "bücher.example", "www.xn--bcher-kva.example"]),
        ("no-eku", ["www.example.test"]),
        ("cn-only", ["www.example.test"]),
    ],
)
def test_validation_accepts(cert_corpus: t.Any, name: str, hosts: list[str]) -> None:
    assert validate_bundle(_pem(cert_corpus, name), _hosts(*hosts), now=NOW, expiry_warning_days=30) == []


def test_validation_boundaries_use_the_given_clock(cert_corpus: t.Any) -> None:
    bundle = _pem(cert_corpus, "leaf-rsa")
    hosts = _hosts("www.example.test")
    assert validate_bundle(bundle, hosts, now=bundle.not_after, expiry_warning_days=0) == []
    with pytest.raises(CertificateError, match="expired"):
        validate_bundle(bundle, hosts, now=bundle.not_after + datetime.timedelta(seconds=1), expiry_warning_days=0)
    with pytest.raises(CertificateError, match="not valid before"):
        validate_bundle(bundle, hosts, now=bundle.not_before - datetime.timedelta(seconds=1), expiry_warning_days=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_bundle(bundle, hosts, now=datetime.datetime(2026, 1, 1), expiry_warning_days=0)  # noqa: DTZ001


def test_expiry_warning(cert_corpus: t.Any) -> None:
    bundle = _pem(cert_corpus, "expiring-soon")
    hosts = _hosts("www.example.test")
    (warning,) = validate_bundle(bundle, hosts, now=NOW, expiry_warning_days=30)
    assert warning.startswith(f"the certificate {bundle.thumbprint} expires on ")
    assert warning.endswith(("in 9 days; renew it", "in 10 days; renew it"))
    assert validate_bundle(bundle, hosts, now=NOW, expiry_warning_days=5) == []


def test_chain_warnings(cert_corpus: t.Any) -> None:
    hosts = _hosts("www.example.test")
    no_chain = load_pfx(cert_corpus.read("leaf-rsa.nochain.3des.pfx"), cert_corpus.PFX_PASSWORD)
    (warning,) = validate_bundle(no_chain, hosts, now=NOW, expiry_warning_days=30)
    assert "comes without its intermediate certificates" in warning
    # Intermediate without the root: what ACME fullchain files hold, and fine (roots come from the client).
    intermediate_only = load_pfx(cert_corpus.read("leaf-rsa.incomplete-chain.3des.pfx"), cert_corpus.PFX_PASSWORD)
    assert validate_bundle(intermediate_only, hosts, now=NOW, expiry_warning_days=30) == []
    # Root without the intermediate: the leaf's issuer is missing.
    root_only = load_pem(cert_corpus.read("leaf-rsa.crt"), cert_corpus.read("leaf-rsa.key"), cert_corpus.read("root.crt"))
    (warning,) = validate_bundle(root_only, hosts, now=NOW, expiry_warning_days=30)
    assert "is incomplete: the issuer of the certificate" in warning and "Intermediate" in warning
    # Extra certificate that is not on the path.
    extra = load_pem(cert_corpus.read("leaf-rsa.crt"), cert_corpus.read("leaf-rsa.key"), cert_corpus.read("chain.pem") + cert_corpus.read("wildcard.crt"))
    (warning,) = validate_bundle(extra, hosts, now=NOW, expiry_warning_days=30)
    assert "not on its issuing path" in warning and "example.test" in warning
    self_signed = load_pfx(cert_corpus.read("self-signed.3des.pfx"), cert_corpus.PFX_PASSWORD)
    assert validate_bundle(self_signed, _hosts("self.example.test"), now=NOW, expiry_warning_days=30) == []


# ---------------------------------------------------------------- export


@pytest.mark.parametrize("encryption", ["compatible", "aes256"])
@pytest.mark.parametrize("name", ["leaf-rsa", "leaf-ec", "idn"])
def test_export_round_trip(cert_corpus: t.Any, name: str, encryption: t.Literal["compatible", "aes256"]) -> None:
    original = load_pfx(cert_corpus.read(f"{name}.openssl-legacy.pfx"), cert_corpus.PFX_PASSWORD)
    first = export_pfx(original, "Export-pässword", encryption)
    second = export_pfx(original, "Export-pässword", encryption)
    assert first != second  # fresh salts each time: bytes cannot be compared
    assert pfx_encryption(first) == encryption == expected_encryption("Export-pässword", encryption)
    again = load_pfx(first, "Export-pässword")
    assert again.identity == original.identity == pfx_identity(second, "Export-pässword")
    assert _chain_subjects(again) == ISSUING_ORDER
    assert again.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) == original.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_export_friendly_name_and_no_password(cert_corpus: t.Any) -> None:
    bundle = _pem(cert_corpus, "leaf-rsa")
    data = export_pfx(bundle, None, "compatible", friendly_name="www.example.test 2026")
    assert pfx_encryption(data) == "none" == expected_encryption(None, "compatible") == expected_encryption(None, "aes256")
    loaded = pkcs12.load_pkcs12(data, None)
    assert loaded.cert is not None and loaded.cert.friendly_name == b"www.example.test 2026"
    assert load_pfx(data, None).identity == bundle.identity
    with pytest.raises(CertificateError, match=r"^private_key_password: an empty password"):
        export_pfx(bundle, "", "aes256")


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("leaf-rsa.3des.pfx", "compatible"),
        ("leaf-rsa.aes256.pfx", "aes256"),
        ("leaf-rsa.openssl-legacy.pfx", "compatible"),
        ("leaf-rsa.openssl-3des.pfx", "compatible"),
        ("leaf-rsa.openssl-aes256.pfx", "aes256"),
        ("leaf-rsa.nopassword.pfx", "none"),
        ("nokey.pfx", "compatible"),
        ("garbage.pfx", "other"),
        ("truncated.pfx", "other"),
        ("empty.pfx", "other"),
    ],
)
def test_pfx_encryption_of_corpus_files(cert_corpus: t.Any, file: str, expected: str) -> None:
    assert pfx_encryption(cert_corpus.read(file)) == expected


def test_pfx_encryption_other_schemes(cert_corpus: t.Any) -> None:
    bundle = _pem(cert_corpus, "leaf-rsa")
    key = t.cast(pkcs12.PKCS12PrivateKeyTypes, bundle.private_key)
    # AES-256 bags with a SHA-1 MAC is neither of the two schemes publishers ask for.
    mixed = serialization.PrivateFormat.PKCS12.encryption_builder().key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA1())
    assert pfx_encryption(pkcs12.serialize_key_and_certificates(None, key, bundle.certificate, None, mixed.build(b"pw"))) == "other"


def _openssl_info(cert_corpus: t.Any, data: bytes, tmp_path: t.Any, password: str, legacy: bool) -> str:
    path = tmp_path / "exported.pfx"
    path.write_bytes(data)
    return str(cert_corpus.pkcs12_info(path, password, legacy=legacy))


def test_openssl_accepts_compatible_export_as_3des(cert_corpus: t.Any, tmp_path: t.Any) -> None:
    cert_corpus.require_openssl()
    data = export_pfx(_pem(cert_corpus, "leaf-rsa"), "pw-3des", "compatible")
    info = _openssl_info(cert_corpus, data, tmp_path, "pw-3des", legacy=True)
    assert "MAC: sha1" in info
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in info
    assert "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" in info
    assert info.count("Certificate bag") == 3
    assert "AES" not in info and "RC2" not in info


def test_openssl_accepts_aes256_export(cert_corpus: t.Any, tmp_path: t.Any) -> None:
    cert_corpus.require_openssl()
    data = export_pfx(_pem(cert_corpus, "leaf-ec"), "pw-aes", "aes256")
    info = _openssl_info(cert_corpus, data, tmp_path, "pw-aes", legacy=False)
    assert "MAC: sha256" in info
    assert "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC" in info and "PRF hmacWithSHA256" in info
    assert "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC" in info
    assert "3DES" not in info and "TripleDES" not in info
    with pytest.raises(RuntimeError):
        _openssl_info(cert_corpus, data, tmp_path, "wrong", legacy=False)


def test_corpus_openssl_legacy_files_really_use_rc2_and_3des(cert_corpus: t.Any) -> None:
    cert_corpus.require_openssl()
    info = cert_corpus.pkcs12_info(cert_corpus.path("leaf-rsa.openssl-legacy.pfx"), cert_corpus.PFX_PASSWORD, legacy=True)
    assert "pbeWithSHA1And40BitRC2-CBC" in info and "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in info


def test_corpus_idn_certificate_uses_a_labels(cert_corpus: t.Any) -> None:
    san = cert_corpus.certificate("idn").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["*.xn--bcher-kva.example", "xn--bcher-kva.example"]


def test_module_loads_without_cryptography(cert_corpus: t.Any) -> None:
    """ansible-test's import check has no cryptography: loading must work, use must say what to install."""
    code = """
import sys
sys.modules["cryptography"] = None  # makes every "import cryptography..." raise ImportError
sys.path[:0] = [COLLECTIONS]

from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CRYPTOGRAPHY_IMPORT_ERROR, CertificateError, load_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import pfx_encryption
assert CRYPTOGRAPHY_IMPORT_ERROR is not None
print(pfx_encryption(open(PFX, "rb").read()))
try:
    load_pfx(b"x", "pw")
except CertificateError as error:
    print(error)
"""
    collections = str(Path(__file__).resolve().parents[4] / "tests" / "output" / "collections")
    pfx = str(cert_corpus.path("leaf-rsa.3des.pfx"))
    completed = subprocess.run(
        [sys.executable, "-c", code.replace("COLLECTIONS", repr(collections)).replace("PFX", repr(pfx))], capture_output=True, text=True, check=True
    )
    lines = completed.stdout.splitlines()
    assert lines[0] == "compatible"
    assert lines[1].startswith("the Python package 'cryptography' (41 or later) is needed on the Ansible controller")


def test_a_pfx_with_a_key_but_no_certificate_is_refused(cert_corpus: t.Any) -> None:
    key = serialization.load_pem_private_key(cert_corpus.read("leaf-rsa.key"), None)
    data = pkcs12.serialize_key_and_certificates(b"x", key, None, None, serialization.BestAvailableEncryption(b"pw"))  # type: ignore[arg-type]
    with pytest.raises(CertificateError, match="^pfx_path: the PFX holds no certificate; export the certificate together with its private key$"):
        load_pfx(data, "pw")


def test_a_key_on_a_curve_cryptography_cannot_read_names_the_option(cert_corpus: t.Any, tmp_path: Path) -> None:
    # secp112r1: OpenSSL writes it, cryptography refuses the curve (UnsupportedAlgorithm).
    key_file = tmp_path / "secp112r1.pem"
    subprocess.run([cert_corpus.require_openssl(), "ecparam", "-name", "secp112r1", "-genkey", "-noout", "-out", str(key_file)], check=True,
                   capture_output=True)
    with pytest.raises(CertificateError, match="^private_key_path: the private key uses an algorithm this controller cannot read; give an RSA or ECDSA key$"):
        load_pem(cert_corpus.read("leaf-rsa.crt"), key_file.read_bytes(), None, private_key_option="private_key_path")
