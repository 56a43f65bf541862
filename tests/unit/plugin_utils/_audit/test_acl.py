"""The share and NTFS audit rules, over answers shaped like read_store_acl's (and the lab's emulation of it)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.acl import AclPolicy, acl_findings, grants, ntfs_level, share_name, table
from iis_lab.errors import WindowsError_
from iis_lab.network import Network
from iis_lab.ops import OpContext
from iis_lab.ops.read_store_acl import read_store_acl

POLICY = AclPolicy("ccs", ("LAB\\svc-ccs",), ("LAB\\svc-publish",), ("BUILTIN\\Administrators", "NT AUTHORITY\\SYSTEM"), "full")
STOCK_SHARE = {"unc": "\\\\fs01\\ccs", "host": "fs01", "path": "D:\\CCS", "read": ["LAB\\svc-ccs"], "change": ["LAB\\svc-publish"]}


def lab_answer(share: t.Mapping[str, t.Any], name: str = "ccs", host: str = "fs01") -> dict[str, t.Any]:
    ctx = OpContext(host=host, state={}, network=Network({"shares": [share]}), params={"share": name})
    return read_store_acl(ctx)


def audit(share: t.Mapping[str, t.Any], policy: AclPolicy = POLICY) -> set[tuple[str, str, str]]:
    return {(f.check, f.severity, f.subject) for f in acl_findings(grants(lab_answer(share)), policy)}


def test_the_stock_lab_share_is_least_privilege() -> None:
    answer = lab_answer(STOCK_SHARE)
    assert answer["share"] == {"name": "ccs", "path": "D:\\CCS"}
    assert {(e["account"], e["right"]) for e in answer["share_access"]} == {("LAB\\svc-ccs", "Read"), ("LAB\\svc-publish", "Change")}
    # Without an ntfs entry the folder grants what the share grants.
    assert {(e["account"], e["rights"]) for e in answer["ntfs"]} == {
        ("LAB\\svc-ccs", "ReadAndExecute, Synchronize"),
        ("LAB\\svc-publish", "Modify, Synchronize"),
    }
    assert audit(STOCK_SHARE) == set()


def test_over_broad_and_over_privileged_grants() -> None:
    share = {
        **STOCK_SHARE,
        "read": ["LAB\\svc-ccs", "Everyone"],
        "full": ["LAB\\svc-publish"],
        "ntfs": {"LAB\\svc-ccs": "Modify", "LAB\\svc-publish": "FullControl"},
    }
    found = audit(share)
    assert ("acl_broad_group", "error", "Everyone (share)") in found
    assert ("acl_publisher_full", "error", "LAB\\svc-publish (share)") in found
    assert ("acl_publisher_full", "error", "LAB\\svc-publish (ntfs)") in found
    assert ("acl_reader_writes", "error", "LAB\\svc-ccs (ntfs)") in found


def test_a_reader_without_read_and_unexpected_accounts() -> None:
    share = {**STOCK_SHARE, "read": ["LAB\\someone"], "ntfs": {"LAB\\svc-ccs": "Read", "BUILTIN\\Administrators": "FullControl"}}
    found = audit(share)
    assert ("acl_reader_cannot_read", "critical", "LAB\\svc-ccs (share)") in found
    assert ("acl_unexpected_account", "warning", "LAB\\someone (share)") in found
    assert not any(subject.startswith("BUILTIN\\Administrators") for _c, _s, subject in found)


def test_administrator_access_is_the_organisations_choice() -> None:
    share = {**STOCK_SHARE, "ntfs": {"LAB\\svc-ccs": "Read", "LAB\\svc-publish": "Modify", "BUILTIN\\Administrators": "FullControl"}}
    strict = AclPolicy("ccs", POLICY.reader_accounts, POLICY.publisher_accounts, POLICY.administrator_accounts, "read")
    assert ("acl_admin_access", "warning", "BUILTIN\\Administrators (ntfs)") in audit(share, strict)
    assert audit(share) == set()


def test_the_table_marks_each_entry_with_its_verdict() -> None:
    share = {**STOCK_SHARE, "read": ["LAB\\svc-ccs", "NT AUTHORITY\\Authenticated Users"]}
    found = grants(lab_answer(share))
    rows = {(r["scope"], r["account"]): r["verdict"] for r in table(found, acl_findings(found, POLICY))}
    assert rows[("share", "NT AUTHORITY\\Authenticated Users")] == "error"
    assert rows[("share", "LAB\\svc-ccs")] == "ok"


def test_an_unknown_share_fails_as_on_windows() -> None:
    with pytest.raises(WindowsError_) as raised:
        lab_answer(STOCK_SHARE, name="nope")
    assert raised.value.rule == "smb-share-not-found"
    with pytest.raises(WindowsError_):
        lab_answer(STOCK_SHARE, host="web01")  # the share lives on fs01, and Get-SmbShare only sees local shares


@pytest.mark.parametrize(
    ("rights", "level"),
    [
        ("FullControl", "full"),
        ("Modify, Synchronize", "change"),
        ("ReadAndExecute, Synchronize", "read"),
        ("Write", "change"),
        ("ChangePermissions, Read", "full"),
        ("268435456", "full"),
        ("-1610612736", "read"),
        ("-536805376", "change"),
        ("1179817", "read"),
        ("", "none"),
    ],
)
def test_ntfs_rights_levels(rights: str, level: str) -> None:
    assert ntfs_level(rights) == level


def test_share_name_from_a_unc_path() -> None:
    assert share_name("\\\\fs01\\ccs\\sub") == "ccs"
    assert share_name("ccs") == "ccs"
