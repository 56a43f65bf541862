"""playbooks/farm.yml against the emulated farm (tests/lab/inventory.yml, group ccs_farm).

Publishes to \\\\fs01\\ccs, configures web01..web03 in rolling batches, verifies each batch with
ccs_info; the second run must change nothing, check mode must change nothing, a failing batch must
stop the roll-out before the next batch.
"""

from __future__ import annotations

import json
import sys
import typing as t

import pytest
import yaml
from _lab import LAB, REPO, Lab, PlaybookRun

sys.path.insert(0, str(REPO / "tools"))
import lab_farm_certs  # noqa: E402

FARM = REPO / "playbooks" / "farm.yml"
WEB_NODES = ("web01", "web02", "web03")
HOST_NAMES = ("www.contoso.test", "api.contoso.test", "portal.contoso.test")

FARM_MODULES = ("ccs_info", "ccs_provider", "ccs_binding", "ccs_cert_publish")


def test_farm_modules_exist() -> None:
    # A renamed or missing module must fail the farm tests, never turn them into skips.
    missing = [m for m in FARM_MODULES if not (REPO / "plugins" / "action" / f"{m}.py").exists()]
    assert missing == [], f"farm.yml uses iis.ccs modules whose action plugins are missing: {missing}"


def farm_vars(lab: Lab, **extra: t.Any) -> dict[str, t.Any]:
    certs = lab.root / "certs"
    lab_farm_certs.create(certs)
    return {"ccs_lab_certificate_dir": str(certs), **extra}


def changed_tasks(run: PlaybookRun) -> list[str]:
    return [f"{r['host']}: {r['task']}" for r in run.results if r["status"] == "changed" or r["result"].get("changed")]


def ccs_bindings(state: dict[str, t.Any]) -> set[str]:
    site = next(s for s in state["sites"] if s["name"] == "Default Web Site")
    return {b["binding_information"].lower() for b in site["bindings"] if b["protocol"] == "https" and b["ssl_flags"] & 3 == 3}


def test_farm_builds_every_node_and_a_second_run_changes_nothing(lab: Lab) -> None:
    extra = farm_vars(lab)
    first = lab.run(FARM, extra_vars=extra)
    assert first.rc == 0, first.stdout[-6000:] + first.stderr[-3000:]

    store = lab.state_dir / "fs01.fs" / "d" / "CCS"
    assert sorted(p.name.lower() for p in store.glob("*.pfx")) == sorted(f"{h}.pfx" for h in HOST_NAMES)
    for host in WEB_NODES:
        info = first.task("iis.ccs.web_node : Read the CCS state of the node", host)
        assert info["provider"]["enabled"] is True
        assert info["provider"]["store_location"].lower() == "\\\\fs01\\ccs"
        assert 443 in info["httpsys"]["ccs_ports"]
        # The state files themselves, not only what ccs_info says about them.
        assert ccs_bindings(lab.host_state(host)) == {f"*:443:{h}" for h in HOST_NAMES}
    # Publishing runs once per farm, on fs01 only.
    assert {r["host"] for r in first.results if "publish" in r["task"].lower()} == {"fs01"}

    # A healthy run warns about nothing (the lab inventory defines the empty ccs_file_share_managed group).
    assert "WARNING" not in first.stdout + first.stderr, [line for line in (first.stdout + first.stderr).splitlines() if "WARNING" in line]
    # The summary names the files per certificate: 2 certificates, 3 host names.
    summary = first.task("iis.ccs.cert_publish : Check every certificate was published", "fs01")["msg"]
    assert summary.startswith("2 certificate(s), 2 changed (one PFX file per host name): certificate 1 (thumbprint "), summary
    certificates = summary.split("(one PFX file per host name): ", 1)[1].split("; ")
    per_certificate = [part.split("): ", 1)[1] for part in certificates]
    assert per_certificate == ["www.contoso.test.pfx created, api.contoso.test.pfx created", "portal.contoso.test.pfx created"], summary

    before = lab.snapshot()
    oplog_lengths = {host: len(lab.oplog(host)) for host in (*WEB_NODES, "fs01")}
    second = lab.run(FARM, extra_vars=extra)
    assert second.rc == 0, second.stdout[-6000:]
    assert changed_tasks(second) == []
    assert "WARNING" not in second.stdout + second.stderr
    assert lab.snapshot() == before
    # An unchanged farm is cheap: the second run only reads.
    for host, length in oplog_lengths.items():
        operations = [entry["operation"] for entry in lab.oplog(host)[length:]]
        assert operations and all(op.startswith("read") for op in operations), (host, operations)
    # One read for the provider, one for the bindings (one site); nothing changed, so their reads were the
    # verification and the node is not read a third time.
    for host in WEB_NODES:
        assert len(lab.oplog(host)) - oplog_lengths[host] == 2, (host, lab.oplog(host)[oplog_lengths[host]:])
    assert all(r["status"] == "skipped" for r in second.results if r["task"].endswith("Check every node of the batch with ccs_info"))

    # Asked to, the farm reads and checks unchanged nodes too.
    lengths = {host: len(lab.oplog(host)) for host in WEB_NODES}
    third = lab.run(FARM, extra_vars={**extra, "ccs_verify_unchanged": True})
    assert third.rc == 0, third.stdout[-6000:]
    for host in WEB_NODES:
        assert len(lab.oplog(host)) - lengths[host] == 3, host
        assert third.task("iis.ccs.web_node : Read the CCS state of the node", host)["expect"]["passed"] is True

    # --check --diff on the unchanged farm: no empty before/after blocks, nothing shown for publishing.
    checked = lab.run(FARM, extra_vars=extra, check=True, diff=True)
    assert checked.rc == 0 and changed_tasks(checked) == [], checked.stdout[-6000:]
    assert '"before": {}' not in checked.stdout and '"after": {}' not in checked.stdout, checked.stdout[-6000:]
    assert checked.statuses("iis.ccs.cert_publish : Show what publishing changed (--diff)") == {"fs01": "skipped"}
    assert "WARNING" not in checked.stdout + checked.stderr


def test_check_mode_on_a_fresh_farm_changes_nothing_and_reports_changes(lab: Lab) -> None:
    extra = farm_vars(lab)
    lab.run("- hosts: ccs_farm\n  gather_facts: false\n  tasks:\n    - iis.ccs.ccs_info:\n")  # create the host state files
    before = lab.snapshot()
    run = lab.run(FARM, extra_vars=extra, check=True, diff=True)
    assert run.rc == 0, run.stdout[-6000:]
    assert lab.snapshot() == before
    # Every node reports what it would change: the store on fs01, provider and bindings on each web node.
    changed_hosts = {line.split(": ", 1)[0] for line in changed_tasks(run)}
    assert changed_hosts == {"fs01", *WEB_NODES}, changed_tasks(run)
    for host in WEB_NODES:
        assert f"{host}: iis.ccs.web_node : Enable the central certificate provider" in changed_tasks(run), host


@pytest.mark.parametrize("serial", [1, 2])
def test_a_failing_batch_stops_the_rollout_before_the_next_batch(lab: Lab, serial: int) -> None:
    # web02 is told to bind a site it does not have: its batch fails, web03 (last batch) is never touched.
    inventory = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    web02 = inventory["all"]["children"]["web"]["hosts"]["web02"]
    web02["ccs_bindings"] = [{"site": "no-such-site", "host_names": ["www.contoso.test"]}]
    path = lab.root / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")

    run = lab.run(FARM, inventory=path, extra_vars=farm_vars(lab, ccs_farm_serial=serial, ccs_farm_max_fail_percentage=0))
    assert run.rc != 0
    assert any(r["host"] == "web02" and r["status"] == "failed" for r in run.results)
    assert lab.oplog("web03") == []
    assert lab.host_state("web01")["registry"], "web01 (first batch) should have been configured"


def test_verification_names_the_node_and_what_is_missing(lab: Lab) -> None:
    extra = farm_vars(lab)
    assert lab.run(FARM, extra_vars=extra).rc == 0
    # Ask the verification for a binding nobody configured: the message names node, site and binding.
    run = lab.run("""
- hosts: web01
  gather_facts: false
  tasks:
    - name: verify
      ansible.builtin.include_role:
        name: iis.ccs.web_node
        tasks_from: verify
      vars:
        web_node_store_location: \\\\fs01\\ccs
        web_node_bindings:
          - {site: Default Web Site, host_names: [www.contoso.test, shop.contoso.test]}
""")
    assert run.rc != 0
    failed = [r for r in run.results if r["status"] == "failed"]
    assert failed, run.stdout[-3000:]
    message = str(failed[-1]["result"])
    assert "web01" in message and "Default Web Site" in message and "*:443:shop.contoso.test" in message


def test_a_provider_failure_shows_the_module_message_without_the_secret(lab: Lab) -> None:
    wrong = "Wrong-Canary-Pa55-4c1e!"
    run = lab.run(FARM, extra_vars=farm_vars(lab, ccs_store_password=wrong), verbosity=3)
    assert run.rc != 0
    failed = [r for r in run.results if r["status"] == "failed"]
    # The provider task's own output is hidden (no_log, ignored); the check after it fails with the module's message.
    assert [(r["host"], r["task"]) for r in failed] == [
        ("web01", "iis.ccs.web_node : Enable the central certificate provider"),
        ("web01", "iis.ccs.web_node : Check the provider was configured"),
    ]
    assert "msg" not in failed[0]["result"] or "censored" in json.dumps(failed[0]["result"])
    message = failed[1]["result"]["msg"]
    assert message == (
        "web01: Configuring the CCS provider failed on host 'web01': password: the account 'LAB\\svc-ccs' could not log on "
        "at this node to read '\\\\fs01\\ccs': The user name or password is incorrect."
    ), message
    assert wrong not in run.stdout + run.stderr + json.dumps(run.results)
    assert lab.oplog("web02") == [] and lab.oplog("web03") == []
