"""playbooks/report.yml (iis.ccs.report) and iis.ccs.ccs_store_info against the emulated farm.

The stock farm after playbooks/farm.yml reports healthy; a farm with deliberate problems (one expiring
certificate, one orphan, one missing file, one drifted replica, one over-broad share ACL) shows every
one of them, in the JSON, the JUnit XML and the HTML page as real headless chromium renders it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import typing as t
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from _browser import BrowserUnavailable, ensure_chromium, render
from _lab import LAB, REPO, Lab, PlaybookRun

sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests" / "unit" / "plugin_utils" / "_audit"))
import lab_farm_certs  # noqa: E402
from audit_helpers import Ca  # noqa: E402

FARM = REPO / "playbooks" / "farm.yml"
REPORT = REPO / "playbooks" / "report.yml"
STORE_TASK = "Audit the store, the farm and the share permissions"
FS01_CCS = ("fs01.fs", "d", "CCS")


def build_farm(lab: Lab, inventory: Path | None = None) -> dict[str, t.Any]:
    certs = lab.root / "certs"
    lab_farm_certs.create(certs)
    extra = {"ccs_lab_certificate_dir": str(certs)}
    run = lab.run(FARM, extra_vars=extra, inventory=inventory)
    assert run.rc == 0, run.stdout[-6000:] + run.stderr[-3000:]
    return extra


def run_report(lab: Lab, extra: dict[str, t.Any], out: Path, *, inventory: Path | None = None, check: bool = False,
               verbosity: int = 0, **report_vars: t.Any) -> PlaybookRun:
    out.mkdir(parents=True, exist_ok=True)
    return lab.run(REPORT, extra_vars={**extra, "report_dir": str(out), **report_vars}, inventory=inventory, check=check, verbosity=verbosity)


def lab_inventory(lab: Lab, name: str, edit: t.Callable[[dict[str, t.Any]], None]) -> Path:
    data = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    edit(data)
    path = lab.root / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def findings(out: Path) -> set[tuple[str, str, str]]:
    report = json.loads((out / "ccs-report.json").read_text(encoding="utf-8"))
    return {(f["check"], f["severity"], f["subject"]) for f in report["findings"]}


def test_the_stock_farm_reports_healthy_and_the_report_only_reads(lab: Lab) -> None:
    extra = build_farm(lab)
    before = lab.snapshot()
    out = lab.root / "report"
    run = run_report(lab, extra, out)
    assert run.rc == 0, run.stdout[-6000:]
    store = run.task(STORE_TASK, "fs01")
    assert store["changed"] is False
    assert store["findings"] == [], store["findings"]
    assert store["summary"]["healthy"] is True
    assert [f["name"] for f in store["files"]] == ["api.contoso.test.pfx", "portal.contoso.test.pfx", "www.contoso.test.pfx"]
    hosts = ("api.contoso.test", "portal.contoso.test", "www.contoso.test")
    assert {row["host_name"]: row["file"] for row in store["matrix"]} == {h: f"{h}.pfx" for h in hosts}
    assert {e["verdict"] for e in store["acl"]["entries"]} == {"ok"}
    junit = ET.parse(out / "ccs-report.junit.xml").getroot()
    assert junit.get("failures") == "0"
    assert "No findings" in (out / "ccs-report.html").read_text(encoding="utf-8")
    assert lab.snapshot() == before

    # Check mode reads the same, and nothing on the farm changes in either run.
    checked = run_report(lab, extra, lab.root / "report-check", check=True)
    assert checked.rc == 0, checked.stdout[-6000:]
    assert checked.task(STORE_TASK, "fs01")["findings"] == []
    assert checked.task(STORE_TASK, "fs01")["changed"] is False
    assert lab.snapshot() == before


def _problem_certificates(lab: Lab) -> list[dict[str, t.Any]]:
    ca = Ca()
    replica = {"type": "host_path", "path": "D:\\CCS-replica"}
    items = [
        (ca.leaf("portal.contoso.test", days=12), ["portal.contoso.test"], [{"type": "host_path", "path": "D:\\CCS"}, replica]),
        (ca.leaf("old.contoso.test", days=200), ["old.contoso.test"], [{"type": "host_path", "path": "D:\\CCS"}, replica]),
        # A renewal that reached one replica only (publishing it there also retires the replica's
        # api.contoso.test.pfx, which belonged to the replaced certificate).
        (ca.leaf("www.contoso.test", "api.contoso.test", days=300), ["www.contoso.test"], [replica]),
    ]
    return [{"cert": p.certificate, "key": p.key, "chain": p.chain, "names": names, "destinations": d} for p, names, d in items]


PROBLEM_PLAYBOOK = """
- hosts: fs01
  gather_facts: false
  tasks:
    - name: publish the problem certificates
      iis.ccs.ccs_cert_publish:
        certificate_content: "{{ item.cert }}"
        private_key_content: "{{ item.key }}"
        chain_content: "{{ item.chain }}"
        host_names: "{{ item.names }}"
        destinations: "{{ item.destinations }}"
        private_key_password: "{{ ccs_private_key_password }}"
        expiry_warning_days: 0
      loop: "{{ problem_certificates }}"
      no_log: true
"""


def build_problem_farm(lab: Lab) -> tuple[dict[str, t.Any], Path]:
    """The stock farm, then: a second replica, and the five problems."""
    extra = build_farm(lab)
    store = lab.state_dir.joinpath(*FS01_CCS)
    shutil.copytree(store, store.with_name("CCS-replica"))
    published = lab.run(PROBLEM_PLAYBOOK, extra_vars={**extra, "problem_certificates": _problem_certificates(lab)})
    assert published.rc == 0, published.stdout[-4000:]
    (store / "api.contoso.test.pfx").unlink()  # the missing file: bound on every node, now on no replica

    def over_broad(data: dict[str, t.Any]) -> None:
        data["all"]["vars"]["iis_lab_network"]["shares"][0]["read"].append("Everyone")

    return extra, lab_inventory(lab, "inventory-problems.yml", over_broad)


DESTINATIONS = [{"type": "host_path", "path": "D:\\CCS", "name": "fs01"}, {"type": "host_path", "path": "D:\\CCS-replica", "name": "fs01-replica"}]
PROBLEMS = {
    ("expiring", "warning", "portal.contoso.test.pfx"): "portal.contoso.test.pfx expires on",
    ("orphan_file", "warning", "old.contoso.test.pfx"): "old.contoso.test.pfx is in the store but no web node binds a host name it serves",
    ("replica_drift", "error", "www.contoso.test.pfx"): "different certificates on different replicas",
    ("acl_broad_group", "error", "Everyone (share)"): "Everyone has Read (share permission)",
}


@pytest.mark.parametrize("lab", ["plugin"], indirect=True)
def test_the_problem_farm_shows_every_problem_in_json_junit_and_the_rendered_page(lab: Lab) -> None:
    try:
        chromium = ensure_chromium()
    except BrowserUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    extra, inventory = build_problem_farm(lab)
    out = lab.root / "report"
    run = run_report(lab, extra, out, inventory=inventory, report_destinations=DESTINATIONS)
    # The gate: a missing file is critical, so the play fails after writing the report.
    assert run.rc != 0
    assert "finding(s) at or above error" in run.stdout
    found = findings(out)
    assert set(PROBLEMS) <= found, sorted(found)
    # One missing file, seen from every node that binds it (the exact file; no wildcard stands in).
    assert ("missing_file", "critical", "api.contoso.test") in found
    junit = ET.parse(out / "ccs-report.junit.xml").getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) == len(json.loads((out / "ccs-report.json").read_text(encoding="utf-8"))["findings"])
    assert {c.get("name") for c in cases if c.find("failure") is not None} >= {"api.contoso.test: missing_file", "Everyone (share): acl_broad_group"}

    page = render(chromium, out / "ccs-report.html", lab.root / "browser")
    assert page.console == []
    text = page.text
    for message in [*PROBLEMS.values(), "api.contoso.test is bound on web01 but the store has no api.contoso.test.pfx file"]:
        assert message in text, message
    assert "Replica drift: 1 of 3 files differ" in text
    assert page.screenshot.stat().st_size > 20_000
    if os.environ.get("IIS_CCS_UPDATE_SCREENSHOT"):
        shutil.copyfile(page.screenshot, REPO / "docs" / "report-screenshot.png")


@pytest.mark.parametrize("lab", ["plugin"], indirect=True)
def test_the_browser_check_catches_console_errors(lab: Lab) -> None:
    """A control for the test above: a page that logs to the console is caught."""
    try:
        chromium = ensure_chromium()
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    page = lab.root / "noisy.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("canary-console-error")</script></body></html>', encoding="utf-8")
    rendered = render(chromium, page, lab.root / "browser")
    assert any("canary-console-error" in message for message in rendered.console)


CANARIES = {"store": "Canary-Report-Store-5c1d", "share": "Canary-Report-Share-8e2a"}


@pytest.mark.parametrize("lab", ["plugin"], indirect=True)
def test_canary_secrets_never_reach_output_report_files_or_runner_artifacts(lab: Lab) -> None:
    def canaries(data: dict[str, t.Any]) -> None:
        data["all"]["vars"]["iis_lab_network"]["accounts"]["LAB\\svc-publish"] = CANARIES["share"]
        data["all"]["children"]["ccs_farm"]["vars"]["ccs_private_key_password"] = CANARIES["store"]

    inventory = lab_inventory(lab, "inventory-canary.yml", canaries)
    extra = build_farm(lab, inventory)
    destinations = [{"type": "host_unc", "path": "\\\\fs01\\ccs", "name": "share", "user_name": "LAB\\svc-publish", "password": CANARIES["share"]}]
    out = lab.root / "report"
    run = run_report(lab, extra, out, inventory=inventory, verbosity=4, report_destinations=destinations)
    assert run.rc == 0, run.stdout[-6000:]
    assert len(run.task(STORE_TASK, "fs01")["files"]) == 3  # the files did open with the canary store password
    texts = [run.stdout, run.stderr, *(p.read_text(encoding="utf-8") for p in out.iterdir())]
    runner_vars = {**extra, "report_dir": str(lab.root / "runner-report"), "report_destinations": destinations}
    job = lab.run_runner(REPORT.read_text(encoding="utf-8"), inventory=inventory, extra_vars=runner_vars)
    assert (job.status, job.rc) == ("successful", 0), job.text[-3000:]
    assert "TASK [Hand the summary to AWX (job artifacts)]" in job.text
    assert job.stats()["fs01"]["failures"] == 0 and job.count("runner_on_ok", "fs01") > 0, job.stats()
    texts.append(job.text)
    for text in texts:
        for secret in CANARIES.values():
            assert secret not in text


BAD_TASKS = """
- hosts: fs01
  gather_facts: false
  tasks:
    - name: relative path
      iis.ccs.ccs_store_info:
        destinations: [{type: host_path, path: CCS}]
        private_key_password: x
      ignore_errors: true
    - name: no share
      iis.ccs.ccs_store_info:
        destinations: [{type: host_path, path: 'D:\\\\CCS'}]
        private_key_password: x
        acl_audit: {reader_accounts: [LAB\\\\svc-ccs]}
      ignore_errors: true
    - name: unknown share
      iis.ccs.ccs_store_info:
        destinations: [{type: host_path, path: 'D:\\\\CCS'}]
        private_key_password: x
        acl_audit: {share: nope, reader_accounts: [LAB\\\\svc-ccs]}
      ignore_errors: true
"""


@pytest.mark.parametrize("lab", ["plugin"], indirect=True)
def test_bad_input_names_the_option_and_the_fix(lab: Lab) -> None:
    run = lab.run(BAD_TASKS)
    assert "is not an absolute Windows path such as D:\\CCS" in run.task("relative path", "fs01")["msg"]
    assert "acl_audit" in run.task("no share", "fs01")["msg"] and "share" in run.task("no share", "fs01")["msg"]
    unknown = run.task("unknown share", "fs01")
    assert unknown["failed"] is True and "No MSFT_SMBShare objects found with property 'Name' equal to 'nope'" in unknown["msg"]
    gate = run_report(lab, {"ccs_lab_certificate_dir": str(lab.root)}, lab.root / "out", report_fail_on="sometimes")
    assert gate.rc != 0 and "report_fail_on: must be one of critical, error, warning, info or never" in gate.stdout


@pytest.mark.skipif(not (REPO / "plugins" / "action" / "ccs_verify.py").exists(), reason="needs the iis.ccs.ccs_verify module")
@pytest.mark.parametrize("lab", ["plugin"], indirect=True)
def test_report_verify_tls_fills_the_served_column(lab: Lab) -> None:
    from iis_lab import tls_lab  # type: ignore[attr-defined,unused-ignore]
    from iis_lab.inventory import load, write_lab_hosts

    extra = build_farm(lab)
    served = tls_lab.TlsLab(write_lab_hosts(load(LAB / "inventory.yml")), ports=[443], mapped={443: 0}).start()
    out = lab.root / "report"
    try:
        run = run_report(lab, extra, out, report_verify_tls=True, ccs_verify_tls_from="node", ccs_verify_tls_ca_path=str(lab.root / "certs" / "chain.crt"))
    finally:
        served.stop()
    assert run.rc == 0, run.stdout[-6000:]
    report = json.loads((out / "ccs-report.json").read_text(encoding="utf-8"))
    assert sorted(report["verify"]) == ["web01", "web02", "web03"]
    assert all(check["ok"] for node in report["verify"].values() for check in node["checks"]), report["verify"]
    assert (out / "ccs-report.html").read_text(encoding="utf-8").count("bound, served") == 9
