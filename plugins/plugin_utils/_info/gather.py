# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logic of iis.ccs.ccs_info: one read, shaped for users."""

from __future__ import annotations

import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import HostState, read_state
from ansible_collections.iis.ccs.plugins.plugin_utils._info.expect import EXPECT_SECTIONS, check_expectation, parse_expectation


def describe_state(state: HostState) -> dict[str, t.Any]:
    result: dict[str, t.Any] = {}
    if state.windows is not None:
        result["windows"] = {
            "hostname": state.windows.hostname,
            "build": state.windows.build,
            "product_name": state.windows.product_name,
            "edition_id": state.windows.edition_id,
            "installation_type": state.windows.installation_type,
            "release": state.windows.release,
            "supported": state.windows.supported,
        }
    if state.features is not None:
        result["iis"] = {
            "installed": state.features.iis_installed,
            "version": state.features.iis_version,
            "ccs_feature_installed": state.features.ccs_installed,
        }
    if state.provider is not None:
        result["provider"] = state.provider.public()
    if state.sites is not None:
        result["sites"] = [site.public() for site in state.sites]
    if state.httpsys is not None:
        result["httpsys"] = state.httpsys.public()
    return result


def gather_info(runner: HostOperationRunner, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    expectation = parse_expectation(params.get("expect"))
    sections, site_names = list(params["gather"]), list(params["sites"])
    if expectation is not None:
        sections.extend(section for section in EXPECT_SECTIONS if section not in sections)
        # An empty list reads every site; otherwise the checked sites are read too.
        if site_names:
            site_names.extend(name for name in expectation.site_names if name.lower() not in {s.lower() for s in site_names})
    state = read_state(runner, sections, site_names)
    result = describe_state(state)
    if expectation is not None:
        result["expect"] = check_expectation(state, expectation)
    result["round_trips"] = runner.round_trips
    return result
