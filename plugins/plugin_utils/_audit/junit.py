# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's findings as JUnit XML: one test case per finding, failed when at or above the gate."""

from __future__ import annotations

import typing as t
from xml.etree import ElementTree as ET

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.findings import rank


def junit_xml(report: t.Mapping[str, t.Any], fail_on: str = "error") -> str:
    findings = list(report.get("findings") or [])
    failing = [f for f in findings if rank(f["severity"]) >= rank(fail_on)]
    suite = ET.Element(
        "testsuite",
        name="iis.ccs store audit",
        tests=str(max(1, len(findings))),
        failures=str(len(failing)),
        errors="0",
        timestamp=str(report.get("generated_at") or ""),
    )
    if not findings:
        ET.SubElement(suite, "testcase", classname="iis.ccs.store", name="no findings")
    for finding in findings:
        case = ET.SubElement(suite, "testcase", classname=f"iis.ccs.{finding['check']}", name=f"{finding['subject']}: {finding['check']}")
        text = f"{finding['severity']}: {finding['message']}\nFix: {finding['fix']}"
        if finding in failing:
            failure = ET.SubElement(case, "failure", message=finding["message"], type=finding["severity"])
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = text
    root = ET.Element("testsuites", name="iis.ccs report", tests=suite.get("tests", "0"), failures=suite.get("failures", "0"))
    root.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
