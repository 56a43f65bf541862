"""ccs_info and the host operation runner on a real Windows host (opt-in).

Proves what the lab cannot: the bootstrap runs under Windows PowerShell 5.1 over the
configured connection, read_host_state parses the real registry and IIS configuration,
and a multi-megabyte, non-ASCII payload survives stdin.
"""

from __future__ import annotations

import json
import os

# Reads the provider's two machine-encrypted values straight from the registry, to look for them in the results.
CIPHERTEXT_PLAYBOOK = r"""
- hosts: win
  gather_facts: false
  tasks:
    - name: ciphertext
      ansible.builtin.raw: >-
        $v = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\IIS\CentralCertProvider' -ErrorAction SilentlyContinue;
        ConvertTo-Json -Compress @{ p = [string]$v.Password; k = [string]$v.PrivateKeyPassword }
      no_log: false
"""

PLAYBOOK = """
- hosts: win
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
        sites: "{{ site_filter }}"
"""


def test_info_reads_real_host_in_one_round_trip(windows_host):
    windows_host.keep_scripts()  # a host iis.ccs has run on: the round trips below are the module's own
    run = windows_host.run(PLAYBOOK, extra_vars={"site_filter": []})
    assert run.rc == 0, run.stdout + run.stderr
    info = run.task("info")
    assert info["round_trips"] == 1
    assert info["windows"]["build"] > 14000
    assert isinstance(info["provider"]["enabled"], bool)
    assert all("binding_information" in b for s in info["sites"] for b in s["bindings"])
    # No secret or ciphertext in any result: the stored values, the account password, and any slice of them.
    stored = windows_host.run(CIPHERTEXT_PLAYBOOK)
    assert stored.rc == 0, stored.stdout[-2000:]
    values = json.loads(stored.task("ciphertext")["stdout"].strip().splitlines()[-1])
    secrets = [s for s in (values["p"], values["k"], os.environ.get("IIS_CCS_WINDOWS_PASSWORD", "")) if s]
    everything = run.stdout + run.stderr + json.dumps(run.results)
    for secret in secrets:
        assert secret not in everything
        assert all(secret[i:i + 16] not in everything for i in range(0, max(len(secret) - 16, 1), 8))
    assert set(info["provider"]) >= {"enabled"} and not {k for k in info["provider"] if k.lower() in {"password", "private_key_password"}}


def test_multi_megabyte_non_ascii_payload(windows_host):
    # About 4 MB of site names with non-ASCII characters: travels on stdin as \\u escapes,
    # is parsed by ConvertFrom-Json on the host, and no site matches them.
    names = [f"bücher-测试-{i:06d}-" + "x" * 60 for i in range(50000)]
    run = windows_host.run(PLAYBOOK, extra_vars={"site_filter": names})
    assert run.rc == 0, run.stdout[-2000:]
    assert run.task("info")["sites"] == []
