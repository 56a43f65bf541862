"""ccs_store_info over real folders holding real PFX files published by ccs_cert_publish."""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import pytest
from audit_helpers import STORE_PASSWORD, Ca, audit, context, local, publish, validated, write_foreign_pfx

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_STORE_INFO
from ansible_collections.iis.ccs.plugins.plugin_utils._audit import task
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError


def checks(result: dict[str, t.Any]) -> set[tuple[str, str, str]]:
    return {(f["check"], f["severity"], f["subject"]) for f in result["findings"]}


@pytest.fixture
def replicas(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "fs01", tmp_path / "fs02"
    first.mkdir()
    second.mkdir()
    return first, second


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for f in folders for p in sorted(f.iterdir())}


def test_a_healthy_store_has_no_findings_and_reports_every_fact(ca: Ca, replicas: tuple[Path, Path]) -> None:
    publish(ca.leaf("www.contoso.test", "api.contoso.test"), ["www.contoso.test", "api.contoso.test"], *replicas)
    result = audit(*replicas)
    assert result["findings"] == []
    assert result["summary"]["healthy"] is True
    assert [f["name"] for f in result["files"]] == ["api.contoso.test.pfx", "www.contoso.test.pfx"]
    www = result["files"][1]
    assert www["opened"] and www["name_matches"] and www["published_by_iis_ccs"] and www["chain_complete"]
    assert www["dns_names"] == ["www.contoso.test", "api.contoso.test"]
    assert www["key_type"] == "ECDSA secp256r1" and www["key_size"] == 256
    assert www["encryption"] == "compatible"
    assert 198 <= www["days_left"] <= 200
    assert www["issuer"] == "CN=audit test CA"
    assert {r["present"] for r in www["replicas"].values()} == {True} and www["drift"] is False
    assert result["summary"]["next_expiry"]["days_left"] == www["days_left"]
    assert [r["status"] for r in result["replicas"]] == ["ok", "ok"]


def test_reading_changes_nothing_in_check_mode_or_not_and_twice_gives_the_same_answer(ca: Ca, replicas: tuple[Path, Path]) -> None:
    publish(ca.leaf("www.contoso.test"), ["www.contoso.test"], *replicas)
    before = snapshot(*replicas)
    first = audit(*replicas)
    second = audit(*replicas, check_mode=True)
    assert snapshot(*replicas) == before
    assert first["changed"] is False and second["changed"] is False
    for result in (first, second):
        result.pop("generated_at")
    assert first == second


def test_expiry_severities(ca: Ca, replicas: tuple[Path, Path]) -> None:
    publish(ca.leaf("soon.contoso.test", days=20), ["soon.contoso.test"], *replicas)
    publish(ca.leaf("sooner.contoso.test", days=3), ["sooner.contoso.test"], *replicas)
    result = audit(*replicas)
    assert ("expiring", "warning", "soon.contoso.test.pfx") in checks(result)
    assert ("expiring", "error", "sooner.contoso.test.pfx") in checks(result)
    assert result["summary"]["next_expiry"]["file"] == "sooner.contoso.test.pfx"
    assert result["summary"]["at_or_above"]["error"] == 1


def test_an_expired_file_is_critical(ca: Ca, replicas: tuple[Path, Path]) -> None:
    first = replicas[0]
    publish(ca.leaf("old.contoso.test", days=5), ["old.contoso.test"], first)
    result = audit(first, expiry_warning_days=30, expiry_error_days=7)
    assert ("expiring", "error", "old.contoso.test.pfx") in checks(result)
    # ccs_cert_publish refuses an expired certificate, so this one arrives the way a foreign file would.
    write_foreign_pfx(first / "gone.contoso.test.pfx", ca.leaf("gone.contoso.test", days=-0.5))
    result = audit(first)
    assert ("expired", "critical", "gone.contoso.test.pfx") in checks(result)
    assert ("foreign_file", "info", "gone.contoso.test.pfx") in checks(result)


def test_wrong_password_name_mismatch_and_junk(ca: Ca, replicas: tuple[Path, Path]) -> None:
    first = replicas[0]
    publish(ca.leaf("www.contoso.test"), ["www.contoso.test"], first, password="another-password")
    publish(ca.leaf("shop.contoso.test"), ["shop.contoso.test"], first)
    os.replace(first / "shop.contoso.test.pfx", first / "blog.contoso.test.pfx")
    (first / "notes.pfx").write_bytes(b"not a pfx")
    result = audit(first)
    found = checks(result)
    assert ("cannot_open", "critical", "www.contoso.test.pfx") in found
    assert ("name_mismatch", "error", "blog.contoso.test.pfx") in found
    assert ("cannot_open", "critical", "notes.pfx") in found
    notes = next(f for f in result["files"] if f["name"] == "notes.pfx")
    assert notes["open_error"].startswith("not a PFX file")
    assert STORE_PASSWORD not in json.dumps(result) and "another-password" not in json.dumps(result)


def test_a_record_whose_pfx_file_was_deleted_by_hand_is_named_until_a_full_listing_publish_deletes_it(
    ca: Ca, replicas: tuple[Path, Path]
) -> None:
    first = replicas[0]
    www, shop = ca.leaf("www.contoso.test"), ca.leaf("shop.contoso.test")
    publish(www, ["www.contoso.test"], first)
    publish(shop, ["shop.contoso.test"], first)
    publish(ca.leaf("api.contoso.test"), ["api.contoso.test"], first)
    assert not any(f["check"] == "orphan_record" for f in audit(first)["findings"])
    (first / "shop.contoso.test.pfx").unlink()
    result = audit(first)
    orphan = [f for f in result["findings"] if f["check"] == "orphan_record"]
    assert [(f["severity"], f["subject"]) for f in orphan] == [("info", result["replicas"][0]["name"])]
    assert "shop.contoso.test.pfx" in orphan[0]["message"] and "api.contoso.test.pfx" not in orphan[0]["message"]
    assert result["replicas"][0]["orphan_records"] == ["shop.contoso.test.pfx"]
    assert result["summary"]["healthy"] is True  # information only: nothing serves a wrong certificate
    # The publish that looks its own files up leaves the record; one that lists the folder deletes it.
    publish(www, ["www.contoso.test"], first)
    assert audit(first)["replicas"][0]["orphan_records"] == ["shop.contoso.test.pfx"]
    publish(www, ["www.contoso.test"], first, prune=True)  # prune also removes api.contoso.test.pfx, as documented
    assert sorted(p.name for p in first.glob("*.pfx")) == ["www.contoso.test.pfx"]
    after = audit(first)
    assert after["replicas"][0]["orphan_records"] == []
    assert not any(f["check"] == "orphan_record" for f in after["findings"])


def test_replica_drift_missing_and_different(ca: Ca, replicas: tuple[Path, Path]) -> None:
    first, second = replicas
    publish(ca.leaf("www.contoso.test"), ["www.contoso.test"], first, second)
    publish(ca.leaf("api.contoso.test"), ["api.contoso.test"], first)
    publish(ca.leaf("www.contoso.test"), ["www.contoso.test"], second)  # a renewal that reached one replica only
    result = audit(first, second)
    assert ("replica_drift", "error", "api.contoso.test.pfx") in checks(result)
    assert ("replica_drift", "error", "www.contoso.test.pfx") in checks(result)
    messages = {f["subject"]: f["message"] for f in result["findings"] if f["check"] == "replica_drift"}
    assert "missing on fs02" in messages["api.contoso.test.pfx"]
    assert "different certificates" in messages["www.contoso.test.pfx"]


def test_the_same_certificate_exported_twice_is_not_drift(ca: Ca, replicas: tuple[Path, Path]) -> None:
    first, second = replicas
    pem = ca.leaf("www.contoso.test")
    publish(pem, ["www.contoso.test"], first)
    publish(pem, ["www.contoso.test"], second)
    assert (first / "www.contoso.test.pfx").read_bytes() != (second / "www.contoso.test.pfx").read_bytes()
    assert audit(first, second)["findings"] == []


def test_missing_chain_and_aes256_with_server_2016_nodes(ca: Ca, replicas: tuple[Path, Path]) -> None:
    first = replicas[0]
    publish(ca.leaf("www.contoso.test"), ["www.contoso.test"], first, chain=False, encryption="aes256")
    result = audit(first)
    assert ("chain_incomplete", "warning", "www.contoso.test.pfx") in checks(result)
    assert not any(f["check"] == "encryption_2016" for f in result["findings"])
    nodes = {"web03": node(["www.contoso.test"], build=14393)}
    assert ("encryption_2016", "error", "www.contoso.test.pfx") in checks(audit(first, nodes=nodes))


def test_an_unreadable_replica_is_reported_and_the_others_are_read(ca: Ca, replicas: tuple[Path, Path], tmp_path: Path) -> None:
    publish(ca.leaf("www.contoso.test"), ["www.contoso.test"], replicas[0])
    result = audit(replicas[0], tmp_path / "gone")
    assert [r["status"] for r in result["replicas"]] == ["ok", "failed"]
    assert ("replica_unreadable", "error", "gone") in checks(result)
    assert not any(f["check"] == "replica_drift" for f in result["findings"])


def node(hosts: t.Sequence[str], *, build: int = 20348, enabled: bool = True, location: str = "\\\\fs01\\ccs") -> dict[str, t.Any]:
    bindings = [{"protocol": "https", "host": h, "port": 443, "uses_ccs": True} for h in hosts]
    return {
        "windows": {"build": build},
        "provider": {"enabled": enabled, "store_location": location},
        "sites": [{"name": "Default Web Site", "bindings": bindings}],
    }


def test_farm_cross_check(ca: Ca, replicas: tuple[Path, Path]) -> None:
    first = replicas[0]
    publish(ca.leaf("www.contoso.test"), ["www.contoso.test"], first)
    publish(ca.leaf("old.contoso.test"), ["old.contoso.test"], first)
    publish(ca.leaf("*.shop.test"), ["*.shop.test"], first)
    nodes = {
        "web01": node(["www.contoso.test", "portal.contoso.test", "eu.shop.test"]),
        "web02": node(["www.contoso.test"], enabled=False),
        "web03": node(["www.contoso.test"], location="\\\\fs09\\other\\"),
    }
    result = audit(first, nodes=nodes, store_location="\\\\FS01\\ccs\\")
    found = checks(result)
    assert ("missing_file", "critical", "portal.contoso.test") in found
    assert ("orphan_file", "warning", "old.contoso.test.pfx") in found
    assert ("provider_disabled", "critical", "web02") in found
    assert ("provider_elsewhere", "error", "web03") in found
    # eu.shop.test is served by the wildcard file, exactly as IIS falls back to _.shop.test.pfx.
    assert not any(f["subject"] in ("eu.shop.test", "_.shop.test.pfx") for f in result["findings"])
    rows = {row["host_name"]: row for row in result["matrix"]}
    assert rows["eu.shop.test"]["file"] == "_.shop.test.pfx"
    assert rows["portal.contoso.test"]["file"] is None
    assert rows["www.contoso.test"]["nodes"] == {"web01": {"bound": True}, "web02": {"bound": True}, "web03": {"bound": True}}


BAD_INPUT = [
    ({"private_key_password": None}, "private_key_password: required"),
    ({"allow_no_private_key_password": True}, "allow_no_private_key_password: true contradicts"),
    ({"expiry_warning_days": -1}, "must be 0 or more"),
    ({"expiry_error_days": 40}, "expiry_error_days (40) must not exceed expiry_warning_days (30)"),
    ({"destinations": []}, "destinations: give at least one destination"),
    ({"destinations": [{"type": "host_path", "path": "relative"}]}, "is not an absolute Windows path"),
    ({"destinations": [{"type": "smb", "path": "not-unc"}]}, "must be a UNC path"),
    ({"destinations": [{"type": "host_unc", "path": "\\\\fs01\\ccs"}]}, "needs user_name and password"),
    ({"nodes": {"web01": "yes"}}, "nodes: each value must be the ccs_info result"),
    ({"acl_audit": {"share": "ccs", "reader_accounts": []}}, "acl_audit.reader_accounts: give the CCS account"),
]


@pytest.mark.parametrize(("override", "message"), BAD_INPUT, ids=[m.split(":")[0][:40] for _o, m in BAD_INPUT])
def test_bad_input_fails_before_any_read(replicas: tuple[Path, Path], override: dict[str, t.Any], message: str) -> None:
    args = {"destinations": local(*replicas), "private_key_password": STORE_PASSWORD, **override}
    args = {k: v for k, v in args.items() if v is not None}
    reads: list[t.Any] = []

    def factory(destination: t.Mapping[str, t.Any], runner: t.Any) -> t.Any:
        reads.append(destination)
        raise AssertionError("a replica was built before the input was checked")

    with pytest.raises(UserInputError) as raised:
        task.run_store_info(context(validated(CCS_STORE_INFO, args)), None, replica_factory=factory)  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert reads == []
