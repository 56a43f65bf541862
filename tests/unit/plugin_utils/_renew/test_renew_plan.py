"""ccs_renew_plan: which certificates are due, over real PFX files in a controller folder."""

from __future__ import annotations

import base64
import datetime as dt
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext, UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._renew.plan import (
    EXPIRED,
    EXPIRING,
    FORCED,
    MISSING,
    StoredCertificate,
    parse_names,
    plan_renewals,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._renew.task import run_renew_plan

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
PASSWORD = "store-pw"
# Local destinations never use the host connection.
RUNNER = HostOperationRunner(None, "controller")


def stored(thumbprint: str, days: float, *files: str) -> StoredCertificate:
    return StoredCertificate(thumbprint, NOW + dt.timedelta(days=days), tuple(files))


def plan(certs: t.Sequence[StoredCertificate], *, bound: t.Sequence[str] = (), forced: t.Sequence[str] = (),
         days: int = 30) -> list[tuple[tuple[str, ...], str]]:
    renewals = plan_renewals(certs, now=NOW, renew_before_days=days, bound=parse_names(bound, "b"), forced=parse_names(forced, "f"))
    return [(r.host_names, r.reason) for r in renewals]


def test_expiring_and_expired_certificates_are_due_with_all_their_names() -> None:
    certs = [stored("A", 10, "api.contoso.test.pfx", "www.contoso.test.pfx"), stored("B", -1, "old.contoso.test.pfx"),
             stored("C", 90, "portal.contoso.test.pfx")]
    assert plan(certs) == [(("api.contoso.test", "www.contoso.test"), EXPIRING), (("old.contoso.test",), EXPIRED)]


def test_the_threshold_counts_exact_time_not_whole_days() -> None:
    assert plan([stored("A", 29.9, "a.test.pfx")]) == [(("a.test",), EXPIRING)]
    assert plan([stored("A", 30.1, "a.test.pfx")]) == []
    assert plan([stored("A", 0.5, "a.test.pfx")], days=0) == []


def test_bound_names_without_a_file_get_one_new_certificate_each() -> None:
    certs = [stored("A", 90, "www.contoso.test.pfx", "_.shop.contoso.test.pfx")]
    bound = ["www.contoso.test", "*.shop.contoso.test", "new.contoso.test", "NEW.contoso.test", "*.img.contoso.test"]
    assert plan(certs, bound=bound) == [(("new.contoso.test",), MISSING), (("*.img.contoso.test",), MISSING)]


def test_forced_names_renew_their_whole_certificate_or_order_a_new_one() -> None:
    certs = [stored("A", 90, "api.contoso.test.pfx", "www.contoso.test.pfx")]
    assert plan(certs, forced=["WWW.contoso.test", "fresh.contoso.test"]) == [
        (("api.contoso.test", "www.contoso.test"), FORCED),
        (("fresh.contoso.test",), FORCED),
    ]
    # A forced name that is also bound and missing is ordered once.
    assert plan([], bound=["x.test"], forced=["x.test"]) == [(("x.test",), MISSING)]


def test_identifiers_are_the_ascii_forms() -> None:
    renewal = plan_renewals([], now=NOW, renew_before_days=30, bound=parse_names(["bücher.contoso.test"], "b"), forced=[])[0]
    assert renewal.public(NOW)["identifiers"] == ["xn--bcher-kva.contoso.test"]
    assert renewal.public(NOW)["host_names"] == ["bücher.contoso.test"]


# -- over a real folder ---------------------------------------------------------------------


def make_pfx(names: t.Sequence[str], days: int, password: str = PASSWORD) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    return pkcs12.serialize_key_and_certificates(None, key, cert, None, BestAvailableEncryption(password.encode()))


def context(folder: Path, **params: t.Any) -> TaskContext:
    base = {"destinations": [{"type": "local", "path": str(folder), "name": None, "user_name": None, "password": None, "port": 445, "encrypt": True}],
            "private_key_password": PASSWORD, "allow_no_private_key_password": False, "renew_before_days": 30,
            "bound_host_names": [], "force_host_names": [], "include_previous": True}
    return TaskContext({**base, **params}, False, False, "controller", {})


def test_a_folder_store_is_read_grouped_and_the_due_files_kept_for_rollback(tmp_path: Path) -> None:
    soon = make_pfx(["www.contoso.test", "api.contoso.test"], 5)
    for name in ("www.contoso.test.pfx", "api.contoso.test.pfx"):
        (tmp_path / name).write_bytes(soon)
    (tmp_path / "portal.contoso.test.pfx").write_bytes(make_pfx(["portal.contoso.test"], 200))
    (tmp_path / "foreign.contoso.test.pfx").write_bytes(make_pfx(["foreign.contoso.test"], 1, password="other"))

    result = run_renew_plan(context(tmp_path, bound_host_names=["www.contoso.test", "shop.contoso.test"]), runner=RUNNER)
    assert result["changed"] is False
    assert [(r["host_names"], r["reason"]) for r in result["renewals"]] == [
        (["api.contoso.test", "www.contoso.test"], EXPIRING),
        (["shop.contoso.test"], MISSING),
    ]
    assert result["unreadable_files"] == ["foreign.contoso.test.pfx"] and "foreign.contoso.test.pfx" in result["warnings"][0]
    assert len(result["certificates"]) == 2
    assert result["thumbprint_by_host_name"]["www.contoso.test"] == result["renewals"][0]["thumbprint"]
    [previous] = result["previous"]
    assert previous["host_names"] == ["api.contoso.test", "www.contoso.test"]
    assert base64.b64decode(previous["pfx_content"]) == soon
    assert run_renew_plan(context(tmp_path, include_previous=False), runner=RUNNER)["previous"] == []


def test_bad_input_and_an_unreadable_store_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="renew_before_days"):
        run_renew_plan(context(tmp_path, renew_before_days=-1), runner=RUNNER)
    with pytest.raises(UserInputError, match="force_host_names"):
        run_renew_plan(context(tmp_path, force_host_names=["bad name"]), runner=RUNNER)
    with pytest.raises(UserInputError, match="private_key_password"):
        run_renew_plan(context(tmp_path, private_key_password=None), runner=RUNNER)
    with pytest.raises(ModuleFailure, match="no replica of the certificate store could be read: .*does not exist"):
        run_renew_plan(context(tmp_path / "missing"), runner=RUNNER)
