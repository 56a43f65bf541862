"""ccs_verify from: node on a real Windows host (opt-in).

Proves what the lab cannot: that verify_tls.ps1 runs under Windows PowerShell 5.1, that
SslStream.AuthenticateAsClient sends the host name as SNI so HTTP.sys picks the CCS certificate
for it, and that the chain the node builds comes back. Needs, besides IIS_CCS_WINDOWS_HOST
(see conftest.py):
  IIS_CCS_WINDOWS_TLS_NAMES   comma-separated host names with CCS bindings on port 443 of that host
                              whose certificates are in its store (e.g. set up by ccs_cert_publish
                              and ccs_binding)
  IIS_CCS_WINDOWS_CA_PATH     optional: a PEM file on the controller with the issuing root
"""

from __future__ import annotations

import json
import os
import typing as t

import pytest

TASK = """
- hosts: win
  gather_facts: false
  tasks:
    - name: verify
      iis.ccs.ccs_verify: {args}
"""


@pytest.fixture
def names() -> list[str]:
    value = os.environ.get("IIS_CCS_WINDOWS_TLS_NAMES")
    if not value:
        pytest.skip("real-Windows TLS test: set IIS_CCS_WINDOWS_TLS_NAMES to host names bound with CCS on the host")
    return [name.strip() for name in value.split(",") if name.strip()]


def test_from_node_sends_sni_and_gets_each_names_certificate(windows_host: t.Any, names: list[str]) -> None:
    windows_host.keep_scripts()  # a host iis.ccs has run on: the round trips below are the module's own
    args: dict[str, t.Any] = {"from": "node", "host_names": names, "fail_on": "never"}
    if os.environ.get("IIS_CCS_WINDOWS_CA_PATH"):
        args["ca_path"] = os.environ["IIS_CCS_WINDOWS_CA_PATH"]
    result = windows_host.run(TASK.format(args=json.dumps(args)))
    assert result.rc == 0, result.stdout[-4000:]
    checks = result.task("verify")["checks"]
    for check in checks:
        # With SNI the node gets the certificate of that very name (a missing SNI would get the
        # non-SNI binding's certificate, or a reset).
        assert check.get("covers_name") is True, check
        assert check["tls_version"].startswith("TLSv1."), check
    assert result.task("verify")["round_trips"] == 1
