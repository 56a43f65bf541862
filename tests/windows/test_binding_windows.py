"""ccs_binding on a real Windows host (opt-in).

Proves what the lab cannot: that Microsoft.Web.Administration accepts the sslFlags
integer, converts and removes bindings as apply_bindings.ps1 does, that netsh adds and
removes the HTTP.sys ccs entry with the argument array, and that the result read back by
ccs_info matches. Needs, besides IIS_CCS_WINDOWS_HOST (see conftest.py):
  IIS_CCS_WINDOWS_SITE   a disposable IIS site on that host (the test adds and removes
                         bindings for made-up host names under .invalid on it)
and the central certificate provider enabled on the host (iis.ccs.ccs_provider).
"""

from __future__ import annotations

import json
import os
import typing as t
import uuid

import pytest

TASK = """
- hosts: win
  gather_facts: false
  tasks:
    - name: binding
      iis.ccs.ccs_binding: {args}
    - name: info
      iis.ccs.ccs_info:
        gather: [windows, sites, httpsys]
"""


@pytest.fixture
def site() -> str:
    name = os.environ.get("IIS_CCS_WINDOWS_SITE")
    if not name:
        pytest.skip("real-Windows binding test: set IIS_CCS_WINDOWS_SITE to a disposable IIS site")
    return name


def run(windows_host: t.Any, **args: t.Any) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    result = windows_host.run(TASK.format(args=json.dumps(args)))
    assert result.rc == 0, result.stdout[-4000:]
    return result.task("binding"), result.task("info")


def bindings_of(info: dict[str, t.Any], site: str) -> dict[str, dict[str, t.Any]]:
    (match,) = [s for s in info["sites"] if s["name"].lower() == site.lower()]
    return {b["binding_information"]: b for b in match["bindings"] if b["protocol"] == "https"}


def test_add_rerun_flags_and_remove_on_real_iis(windows_host, site):
    windows_host.keep_scripts()  # a host iis.ccs has run on: the round trips below are the module's own
    names = [f"iis-ccs-{uuid.uuid4().hex[:8]}-{index}.invalid" for index in range(2)]
    try:
        added, info = run(windows_host, site=site, host_names=names)
        assert added["changed"] is True and added["round_trips"] == 2
        found = bindings_of(info, site)
        for name in names:
            assert found[f"*:443:{name}"]["ssl_flags"] == 3
        assert 443 in info["httpsys"]["ccs_ports"]

        again = run(windows_host, site=site, host_names=names)[0]
        assert again["changed"] is False and again["round_trips"] == 1

        if info["windows"]["build"] >= 17763:
            _flagged, info = run(windows_host, site=site, host_names=names[:1], disable_http2=True)
            assert bindings_of(info, site)[f"*:443:{names[0]}"]["ssl_flags"] == 7
            kept, info = run(windows_host, site=site, host_names=names[:1])
            assert kept["changed"] is False
    finally:
        removed, info = run(windows_host, site=site, host_names=names, state="absent")
    assert not set(bindings_of(info, site)) & {f"*:443:{name}" for name in names}
    still_ccs = any(b["protocol"] == "https" and b["port"] == 443 and b["uses_ccs"] for s in info["sites"] for b in s["bindings"])
    # The absent run removed the bindings added above, so it changed something; the ccs=443 entry stays
    # exactly when another CCS binding on the port still needs it.
    assert removed["changed"] is True
    assert (443 in info["httpsys"]["ccs_ports"]) == still_ccs
