"""tools/lab_farm_certs.py: the certificates the lab farm publishes (tools/farm, molecule, farm tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import lab_farm_certs  # noqa: E402


def test_creates_both_source_forms_with_chain_and_names(tmp_path: Path) -> None:
    lab_farm_certs.create(tmp_path, pfx_password="secret-1")
    pfx = pkcs12.load_pkcs12((tmp_path / "www.contoso.test.pfx").read_bytes(), b"secret-1")
    assert pfx.key is not None and pfx.cert is not None
    names = pfx.cert.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["www.contoso.test", "api.contoso.test"]
    assert [c.certificate.subject for c in pfx.additional_certs] == [pfx.cert.certificate.issuer]

    portal = x509.load_pem_x509_certificate((tmp_path / "portal.contoso.test.crt").read_bytes())
    key = load_pem_private_key((tmp_path / "portal.contoso.test.key").read_bytes(), None)
    assert portal.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    chain = x509.load_pem_x509_certificate((tmp_path / "chain.crt").read_bytes())
    assert portal.issuer == chain.subject
    assert (tmp_path / "portal.contoso.test.key").stat().st_mode & 0o077 == 0


def test_existing_certificates_are_kept_so_a_second_farm_run_changes_nothing(tmp_path: Path) -> None:
    lab_farm_certs.create(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    lab_farm_certs.create(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    lab_farm_certs.create(tmp_path, force=True)
    assert (tmp_path / "www.contoso.test.pfx").read_bytes() != before["www.contoso.test.pfx"]
