"""ccs_info against two emulated hosts with different profiles: each host's state in one round trip."""

from __future__ import annotations

PLAYBOOK = """
- hosts: web01,web02
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
"""


def test_two_hosts_report_their_own_profile_in_one_round_trip(lab):
    run = lab.run(PLAYBOOK)
    assert run.rc == 0, run.stdout + run.stderr
    web01, web02 = run.task("info", "web01"), run.task("info", "web02")
    assert (web01["windows"]["build"], web01["windows"]["release"]) == (20348, "Windows Server 2022")
    assert (web02["windows"]["build"], web02["windows"]["release"]) == (17763, "Windows Server 2019")
    assert web01["iis"]["ccs_feature_installed"] is False
    assert web02["iis"]["ccs_feature_installed"] is True
    assert [s["name"] for s in web02["sites"]] == ["Default Web Site", "shop"]
    assert web02["sites"][1]["bindings"][0]["host"] == "shop.contoso.test"
    for host, result in (("web01", web01), ("web02", web02)):
        assert result["round_trips"] == 1
        assert result["changed"] is False
        assert [entry["operation"] for entry in lab.oplog(host)] == ["read_host_state"]


def test_gather_subset_and_site_filter(lab):
    run = lab.run("""
- hosts: web02
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
        gather: [sites]
        sites: [SHOP]
""")
    assert run.rc == 0, run.stdout
    result = run.task("info")
    assert "windows" not in result and "provider" not in result
    assert [site["name"] for site in result["sites"]] == ["shop"]


def test_bad_gather_value_fails_before_contacting_the_host(lab):
    run = lab.run("""
- hosts: web01
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
        gather: [everything]
""")
    assert run.rc != 0
    result = run.task("info")
    assert result["failed"] is True
    assert "gather" in result["msg"]
    assert lab.oplog("web01") == []


def test_check_mode_reads_the_same(lab):
    run = lab.run(PLAYBOOK, check=True)
    assert run.rc == 0
    assert run.task("info", "web01")["windows"]["build"] == 20348


def test_runner_artifacts_and_vvvv_have_no_lab_account_password(lab):
    # The lab network passwords are inventory variables; they must not surface in any output.
    from _lab import assert_secrets_absent

    secrets = ["Lab-Reader-Pa55!", "Lab-Publisher-Pa55!"]
    vvvv = lab.run(PLAYBOOK, verbosity=4)
    assert vvvv.rc == 0
    assert_secrets_absent(vvvv.stdout + vvvv.stderr, secrets)
    job = lab.run_runner(PLAYBOOK)
    job.assert_succeeded(ok={"web01": 1, "web02": 1})
    assert_secrets_absent(job.text, secrets)


def test_expect_lists_every_missing_binding_in_one_read(lab):
    run = lab.run("""
- hosts: web02
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
        gather: [windows]
        expect:
          store_location: \\\\\\\\fs01\\\\ccs
          bindings:
            - {site: SHOP, host_names: [shop.contoso.test, www.contoso.test]}
""")
    assert run.rc == 0, run.stdout
    result = run.task("info")
    assert result["round_trips"] == 1
    assert [entry["operation"] for entry in lab.oplog("web02")] == ["read_host_state"]
    # The sections the check needs are read even though 'gather' left them out.
    assert {"provider", "sites", "httpsys"} <= set(result)
    assert result["expect"]["passed"] is False
    assert result["expect"]["checked_bindings"] == 2
    problems = result["expect"]["problems"]
    assert any("*:443:www.contoso.test" in problem and "missing" in problem for problem in problems), problems
    assert any("central certificate provider" in problem for problem in problems), problems


def test_a_host_new_to_the_collection_is_sent_the_script_once_then_named_by_its_digest(lab, monkeypatch):
    from iis_lab.state import LAB_ACCOUNT, kept_script_path

    from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

    monkeypatch.setenv("IIS_LAB_KEPT_SCRIPTS", "0")  # fresh hosts, as Windows is before the first run
    first = lab.run(PLAYBOOK)
    assert first.rc == 0, first.stdout + first.stderr
    again = lab.run(PLAYBOOK)
    assert again.rc == 0, again.stdout + again.stderr
    digest = host_ops.script_digest("read_host_state")
    for host in ("web01", "web02"):
        # The first run: a miss (nothing ran), then the call with the script; then one round trip.
        assert (first.task("info", host)["round_trips"], again.task("info", host)["round_trips"]) == (2, 1)
        assert first.task("info", host)["windows"] == again.task("info", host)["windows"]
        assert [entry["operation"] for entry in lab.oplog(host)] == ["read_host_state", "read_host_state"]
        assert kept_script_path(host, LAB_ACCOUNT, digest).read_bytes() == host_ops.cached_script("read_host_state").encode("ascii")
    if lab.transport == "winrm":
        stdin = [record["stdin_bytes"] for record in lab.traffic() if record.get("stdin_sha256") and record["host"] == "web01"]
        assert len(stdin) == 3 and stdin[2] < 800 < stdin[1], stdin  # the script travelled once
