# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn an iis.ccs.ccs_store_info result into the farm report (HTML page, JUnit XML)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.findings import SEVERITIES
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.junit import junit_xml
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.render import page


def _report(value: t.Any, filter_name: str) -> t.Mapping[str, t.Any]:
    if not isinstance(value, t.Mapping) or "findings" not in value:
        raise AnsibleFilterError(f"{filter_name}: expects the registered result of iis.ccs.ccs_store_info")
    return value


def ccs_report_html(value: t.Any, title: str = "CCS certificate report", verify: t.Mapping[str, t.Any] | None = None) -> str:
    return page(_report(value, "ccs_report_html"), title=title, verify=verify or None)


def ccs_report_junit(value: t.Any, fail_on: str = "error") -> str:
    if fail_on not in SEVERITIES:
        raise AnsibleFilterError(f"ccs_report_junit: fail_on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    return junit_xml(_report(value, "ccs_report_junit"), fail_on)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., str]]:
        return {"ccs_report_html": ccs_report_html, "ccs_report_junit": ccs_report_junit}
