"""The TLS lab's certificate-selection rules (docs/ccs-behaviour.md#selection), tested on iis_lab.tls_lab directly.

Each test proves one rule: tests/unit/test_lab_rules.py (RULE_TESTS) runs it again with that rule
switched off (IIS_LAB_DISABLED_RULES) and expects it to fail.
"""

from __future__ import annotations

import datetime
import json
import sys
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from iis_lab import tls_lab  # noqa: E402
from iis_lab.state import host_file, initial_state  # noqa: E402


@pytest.fixture(autouse=True)
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    return tmp_path


def self_signed_pfx(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return pkcs12.serialize_key_and_certificates(None, key, cert, None, NoEncryption())


def web_node(bindings: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    state = initial_state("web01", {"sites": [{"name": "site", "bindings": list(bindings)}]})
    host_file("web01").parent.mkdir(parents=True, exist_ok=True)
    host_file("web01").write_text(json.dumps(state), encoding="utf-8")


def test_wildcard_binding_tries_the_name_then_the_wildcard_file() -> None:
    bindings = [("*", "*.example.com", tls_lab.SNI | tls_lab.CCS, "")]
    assert tls_lab.ccs_candidates(bindings, "a.example.com") == ["a.example.com.pfx", "_.example.com.pfx"]


def test_exact_binding_tries_only_its_own_file() -> None:
    bindings = [("*", "a.example.com", tls_lab.SNI | tls_lab.CCS, ""), ("*", "*.example.com", tls_lab.SNI | tls_lab.CCS, "")]
    assert tls_lab.ccs_candidates(bindings, "A.Example.com") == ["a.example.com.pfx"]


def test_loaded_certificate_is_served_until_the_polling_interval_passes() -> None:
    cache = tls_lab.CcsCache()
    files = iter([b"first", b"second"])
    assert cache.get("web01", "a.example.com.pfx", lambda: next(files), polling_interval=300) == b"first"
    assert cache.get("web01", "A.example.com.pfx", lambda: next(files), polling_interval=300) == b"first"
    tls_lab.advance_clock(301)
    assert cache.get("web01", "a.example.com.pfx", lambda: next(files), polling_interval=300) == b"second"


def test_cached_certificate_stays_while_the_share_is_unreachable() -> None:
    cache = tls_lab.CcsCache()
    assert cache.get("web01", "a.example.com.pfx", lambda: b"first", polling_interval=300) == b"first"
    tls_lab.advance_clock(301)

    def unreachable() -> bytes:
        raise tls_lab.ShareUnreachable("\\\\fs01\\ccs")

    assert cache.get("web01", "a.example.com.pfx", unreachable, polling_interval=300) == b"first"


def test_sni_name_without_certificate_falls_back_to_the_ip_binding() -> None:
    thumbprint = tls_lab.install_machine_certificate("web01", self_signed_pfx("default.example.com"), None)
    web_node([{"protocol": "https", "binding_information": "*:443:", "ssl_flags": 0, "certificate_hash": thumbprint}])
    selector = tls_lab.Selector({})
    fallback = selector._choose_pem("web01", 443, "unbound.example.com")
    assert fallback is not None and fallback == selector._choose_pem("web01", 443, None)


def test_sni_name_without_any_certificate_gets_none() -> None:
    web_node([{"protocol": "https", "binding_information": "*:443:a.example.com", "ssl_flags": 1, "certificate_hash": "AB" * 20}])
    assert tls_lab.Selector({})._choose_pem("web01", 443, "other.example.com") is None
