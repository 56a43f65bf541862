"""ccs_info and the host operation runner on a real Windows host (opt-in).

Proves what the lab cannot: the bootstrap runs under Windows PowerShell 5.1 over the
configured connection, read_host_state parses the real registry and IIS configuration,
and a multi-megabyte, non-ASCII payload survives stdin.
"""

from __future__ import annotations

PLAYBOOK = """
- hosts: win
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
        sites: "{{ site_filter }}"
"""


def test_info_reads_real_host_in_one_round_trip(windows_host):
    run = windows_host.run(PLAYBOOK, extra_vars={"site_filter": []})
    assert run.rc == 0, run.stdout + run.stderr
    info = run.task("info")
    assert info["round_trips"] == 1
    assert info["windows"]["build"] > 14000
    assert isinstance(info["provider"]["enabled"], bool)
    assert all("binding_information" in b for s in info["sites"] for b in s["bindings"])


def test_multi_megabyte_non_ascii_payload(windows_host):
    # About 4 MB of site names with non-ASCII characters: travels on stdin as \\u escapes,
    # is parsed by ConvertFrom-Json on the host, and no site matches them.
    names = [f"bücher-测试-{i:06d}-" + "x" * 60 for i in range(50000)]
    run = windows_host.run(PLAYBOOK, extra_vars={"site_filter": names})
    assert run.rc == 0, run.stdout[-2000:]
    assert run.task("info")["sites"] == []
