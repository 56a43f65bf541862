"""What the transport does to a task: host-side PowerShell errors, a connection lost mid-command,
non-ASCII text, refused credentials and commands the lab does not emulate.

The first three run through both transports (fixture ``lab``); the rest need real WinRM
(``winrm_only``): ansible-core's winrm connection against the lab's endpoints.
"""

from __future__ import annotations

import json
import typing as t

import pytest
import yaml
from _lab import LAB, Lab, PlaybookRun
from test_ccs_binding import seed
from test_ccs_provider import playbook as provider_playbook
from test_ccs_provider import provider_args


def ok(run: PlaybookRun) -> PlaybookRun:
    assert run.rc == 0, run.stdout[-6000:] + run.stderr[-3000:]
    return run


def info_playbook(host: str = "web01") -> str:
    return f"""
- hosts: {host}
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
"""


def test_powershell_refusing_the_bootstrap_is_a_clear_task_failure(lab: Lab) -> None:
    lab.set_faults(powershell_blocked=["web01"])
    run = lab.run(info_playbook())
    assert run.rc == 2
    result = run.task("info", "web01")
    # Decoded from the CLIXML error record on stderr, not shown as raw XML.
    assert result["failed"] is True and result["operation"] == "read_host_state"
    assert "blocked by your antivirus software" in result["msg"] and "<S S=" not in result["msg"]
    assert "ScriptContainedMaliciousContent" in result["msg"]
    lab.set_faults()
    assert ok(lab.run(info_playbook())).task("info", "web01")["windows"]["build"] == 20348


def test_connection_lost_after_the_change_is_reported_and_a_rerun_converges(lab: Lab) -> None:
    lab.set_faults(drop_connection=[{"host": "web01", "operation": "configure_provider"}])
    run = lab.run(provider_playbook({"enable": provider_args()}))
    assert run.rc == 4, run.stdout[-4000:]
    assert run.statuses("enable") == {"web01": "unreachable"}
    message = run.task("enable", "web01")["msg"]
    assert "Configuring the CCS provider failed on host 'web01': the connection was lost before the host answered" in message
    assert "run the play again" in message
    # The host did apply it before the connection broke: the controller could not know.
    assert lab.host_state("web01")["registry"]["HKLM\\SOFTWARE\\Microsoft\\IIS\\CentralCertProvider"]["Enabled"] == 1
    rerun = ok(lab.run(provider_playbook({"enable": provider_args()})))
    assert rerun.task("enable", "web01")["changed"] is False
    assert rerun.task("enable", "web01")["round_trips"] == 1


UNICODE_SITE = "Boutique Zürich 東京 🎉"


def test_non_ascii_site_and_host_names_round_trip(lab: Lab) -> None:
    seed(lab, sites=[{"name": UNICODE_SITE, "bindings": [{"protocol": "http", "binding_information": "*:80:bücher.example"}]}])
    bind = f"""
- hosts: web01
  gather_facts: false
  tasks:
    - name: binding
      iis.ccs.ccs_binding: {json.dumps({"site": UNICODE_SITE, "host_names": ["bücher.example", "例え.テスト"]}, ensure_ascii=False)}
    - name: info
      iis.ccs.ccs_info: {{sites: {json.dumps([UNICODE_SITE], ensure_ascii=False)}}}
"""
    run = ok(lab.run(bind))
    assert run.task("binding", "web01")["changed"] is True
    sites = run.task("info", "web01")["sites"]
    assert [s["name"] for s in sites] == [UNICODE_SITE]
    hosts = {b["host"] for b in sites[0]["bindings"] if b["protocol"] == "https"}
    assert hosts == {"xn--bcher-kva.example", "xn--r8jz45g.xn--zckzah"}
    state_site = lab.host_state("web01")["sites"][0]
    assert state_site["name"] == UNICODE_SITE
    assert ok(lab.run(bind)).task("binding", "web01")["changed"] is False


# --- WinRM only ------------------------------------------------------------------------------------------


# The lab fixture, through the WinRM transport only.
winrm_only = pytest.mark.parametrize("lab", ["winrm"], indirect=True)


def endpoints(lab: Lab) -> dict[str, t.Any]:
    lab.inventory_for_run(None)  # starts the endpoints
    return t.cast(dict[str, t.Any], json.loads((lab.state_dir / "winrm" / "endpoints.json").read_text(encoding="utf-8")))


@winrm_only
def test_wrong_credentials_make_the_host_unreachable_with_the_reason(lab: Lab) -> None:
    run = lab.run(info_playbook(), extra_vars={"ansible_password": "Not-The-Password-1"})
    assert run.rc == 4
    assert run.statuses("info") == {"web01": "unreachable"}
    assert "ntlm: the specified credentials were rejected by the server" in run.task("info", "web01")["msg"]
    assert not lab.oplog("web01"), "nothing may run on the host"
    # An account that exists but may not use WinRM is refused the same way.
    refused = lab.run(info_playbook(), extra_vars={"ansible_user": "LAB\\svc-ccs", "ansible_password": "Lab-Reader-Pa55!"})
    assert refused.statuses("info") == {"web01": "unreachable"}
    assert [r["action"] for r in lab.traffic() if r["action"] in ("create", "command")] == []


@winrm_only
def test_https_with_the_lab_ca_basic_and_ntlm_with_channel_binding_and_never_basic_over_http(lab: Lab) -> None:
    ports = endpoints(lab)
    https = {"ansible_port": ports["https_port"], "ansible_winrm_scheme": "https", "ansible_winrm_transport": "basic",
             "ansible_winrm_ca_trust_path": ports["ca"]}
    run = ok(lab.run(info_playbook(), extra_vars=https))
    assert run.task("info", "web01")["round_trips"] == 1
    assert {r["scheme"] for r in lab.traffic() if r["action"] == "command"} == {"https"}
    # NTLM over HTTPS too, its channel binding checked against the endpoint's certificate.
    ok(lab.run(info_playbook(), extra_vars={**https, "ansible_winrm_transport": "ntlm"}))
    unbound = lab.run(info_playbook(), extra_vars={**https, "ansible_winrm_transport": "ntlm", "ansible_winrm_send_cbt": False})
    assert unbound.statuses("info") == {"web01": "unreachable"}
    # Without the lab CA the server certificate is not trusted: real TLS verification.
    untrusted = lab.run(info_playbook(), extra_vars={**https, "ansible_winrm_ca_trust_path": str(LAB / "inventory.yml")})
    assert untrusted.statuses("info") == {"web01": "unreachable"}
    clear_text = lab.run(info_playbook(), extra_vars={"ansible_winrm_transport": "basic"})
    assert clear_text.statuses("info") == {"web01": "unreachable"}
    assert "basic: the specified credentials were rejected by the server" in clear_text.task("info", "web01")["msg"]


@winrm_only
def test_anything_but_the_bootstrap_exits_non_zero_as_not_emulated(lab: Lab) -> None:
    run = lab.run("""
- hosts: web01
  gather_facts: false
  tasks:
    - name: raw
      ansible.builtin.raw: Get-Date
      ignore_errors: true
    - name: module
      ansible.builtin.ping:
      ignore_errors: true
""")
    raw, module = run.task("raw", "web01"), run.task("module", "web01")
    assert raw["rc"] == 1 and "iis_lab: not emulated" in raw["stderr"]
    assert module["failed"] is True and "iis_lab: not emulated" in module["module_stderr"]


def test_the_winrm_inventory_is_the_lab_inventory_over_winrm() -> None:
    from iis_lab.inventory import assign_addresses, host_definitions, load, to_winrm

    lab_inventory = load(LAB / "inventory.yml")
    expected = to_winrm(lab_inventory, assign_addresses(host_definitions(lab_inventory)))
    assert load(LAB / "inventory-winrm.yml") == expected, "tests/lab/inventory-winrm.yml differs from `tests/lab/winrm-lab inventory`"
    assert yaml.safe_load((LAB / "inventory-winrm.yml").read_text(encoding="utf-8"))["all"]["vars"]["ansible_connection"] == "winrm"
