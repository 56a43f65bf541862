"""The report page and the JUnit XML: every value escaped, nothing external, every section present."""

from __future__ import annotations

import re
import typing as t
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.iis.ccs.plugins.filter.ccs_report import ccs_report_html, ccs_report_junit
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.junit import junit_xml
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.render import page

HOSTILE = '<script>alert("x")</script>&"\''


def report(**extra: t.Any) -> dict[str, t.Any]:
    files = [
        {
            "name": f"{HOSTILE}.pfx",
            "opened": False,
            "open_error": HOSTILE,
            "days_left": None,
            "drift": True,
            "replicas": {"a": {"present": True, "identity": "1"}, "b": {"present": False, "identity": None}},
        },
        {
            "name": "www.contoso.test.pfx",
            "opened": True,
            "days_left": 5,
            "not_after": "2026-12-07T00:00:00Z",
            "dns_names": [HOSTILE],
            "name_matches": False,
            "key_type": "RSA",
            "key_size": 2048,
            "encryption": "compatible",
            "chain_complete": True,
            "published_by_iis_ccs": True,
            "thumbprint": "AB",
            "issuer": HOSTILE,
            "drift": False,
            "replicas": {},
        },
    ]
    findings = [
        {"check": "expiring", "severity": "error", "subject": "www.contoso.test.pfx", "message": HOSTILE, "fix": HOSTILE},
        {"check": "orphan_file", "severity": "warning", "subject": HOSTILE, "message": "m", "fix": "f"},
    ]
    return {
        "generated_at": "2026-12-02T00:00:00Z",
        "files": files,
        "findings": findings,
        "replicas": [{"name": "a", "type": "local", "path": HOSTILE, "status": "ok"}, {"name": "b", "type": "smb", "path": "p", "status": "ok"}],
        "summary": {
            "files": 2,
            "replicas": 2,
            "nodes": 1,
            "healthy": False,
            "findings": {"critical": 0, "error": 1, "warning": 1, "info": 0},
            "next_expiry": {"file": HOSTILE, "not_after": "2026-12-07", "days_left": 5},
            "expiry_warning_days": 30,
            "expiry_error_days": 7,
        },
        "nodes": [{"name": HOSTILE}],
        "matrix": [{"host_name": HOSTILE, "file": None, "nodes": {HOSTILE: {"bound": True}}}],
        "acl": {
            "share": {"name": HOSTILE, "path": "D:\\CCS"},
            "entries": [{"scope": "share", "account": HOSTILE, "access": "Read", "type": "Allow", "verdict": "error"}],
        },
        **extra,
    }


def test_every_value_is_escaped_and_nothing_is_loaded() -> None:
    html = page(report())
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;&#x27;" in html
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", html, re.I)
    for heading in (
        "Summary",
        "Expiry timeline",
        "Nodes and host names",
        "Findings",
        "Replica drift: 1 of 2 files differ",
        "Files",
        "Share and folder permissions",
    ):
        assert heading in html


def test_a_served_column_appears_only_with_verify_results() -> None:
    data = report(matrix=[{"host_name": "www.contoso.test", "file": "www.contoso.test.pfx", "nodes": {"web01": {"bound": True}}}], nodes=[{"name": "web01"}])
    assert "bound, served" not in page(data)
    served = page(data, verify={"web01": {"checks": [{"name": "www.contoso.test", "ok": False}]}})
    assert "bound, not served" in served


def test_junit_has_one_case_per_finding_failed_from_the_gate_up() -> None:
    root = ET.fromstring(junit_xml(report(), "error"))
    cases = root.findall(".//testcase")
    assert len(cases) == 2
    assert [c.find("failure") is not None for c in cases] == [True, False]
    assert root.get("failures") == "1"
    assert ET.fromstring(junit_xml(report(), "warning")).get("failures") == "2"
    assert len(ET.fromstring(junit_xml(report(findings=[]))).findall(".//testcase")) == 1


def test_the_filters_refuse_what_is_not_a_store_info_result() -> None:
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match="ccs_store_info"):
        ccs_report_html({"x": 1})
    with pytest.raises(AnsibleFilterError, match="fail_on must be one of"):
        ccs_report_junit(report(), fail_on="bad")
