"""tools/windows-check, proven against the lab's WinRM endpoints (a dry run: the harness, not Windows).

It refuses without IIS_CCS_WINDOWS_DISPOSABLE=yes; against the lab it runs every question the
collection's own modules answer, marks every PowerShell-only question "needs a real host", and writes
report.md and report.json with one line per question of tests/windows/questions.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from _lab import LAB, Lab

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "windows-check"
sys.path.insert(0, str(REPO / "tests" / "windows"))

from questions import QUESTIONS  # noqa: E402


def _run_tool(env: dict[str, str], output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOL), "--output", str(output)], capture_output=True, text=True, env={**env, "IIS_CCS_PYTHON": sys.executable},
                          timeout=1200, check=False)


def _create_lab_host(name: str) -> None:
    from iis_lab.inventory import host_definitions
    from iis_lab.state import HostStore

    definitions = host_definitions(yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8")))
    with HostStore(name, definitions[name]["profile"]).locked():
        pass


def test_refuses_without_the_safety_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IIS_CCS_WINDOWS_DISPOSABLE"}
    env["IIS_CCS_WINDOWS_HOST"] = "192.0.2.1"  # TEST-NET: never contacted
    proc = _run_tool(env, tmp_path / "report")
    assert proc.returncode == 2
    assert "IIS_CCS_WINDOWS_DISPOSABLE=yes" in proc.stderr
    assert not (tmp_path / "report").exists(), "a refused run must not start anything"
    proc = _run_tool({**env, "IIS_CCS_WINDOWS_DISPOSABLE": "no"}, tmp_path / "report")
    assert proc.returncode == 2 and not (tmp_path / "report").exists()


def test_dry_run_against_the_lab_winrm_endpoints(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    os.environ["IIS_LAB_STATE_DIR"] = str(tmp_path / "state")
    lab = Lab(tmp_path, transport="winrm")
    try:
        inventory = yaml.safe_load(lab.inventory_for_run(None).read_text(encoding="utf-8"))
        _create_lab_host("fs01")  # the file server and its share folder, as the farm's first contact would
        top = inventory["all"]["vars"]
        web01 = inventory["all"]["children"]["web"]["hosts"]["web01"]
        network = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))["all"]["vars"]["iis_lab_network"]
        env = lab.env({
            "IIS_CCS_WINDOWS_DISPOSABLE": "yes", "IIS_CCS_WINDOWS_TARGET": "lab",
            "IIS_CCS_WINDOWS_HOST": web01["ansible_host"], "IIS_CCS_WINDOWS_PORT": str(top["ansible_port"]),
            "IIS_CCS_WINDOWS_CONNECTION": "winrm", "IIS_CCS_WINDOWS_SCHEME": "http",
            "IIS_CCS_WINDOWS_USER": top["ansible_user"], "IIS_CCS_WINDOWS_PASSWORD": top["ansible_password"],
            "IIS_CCS_WINDOWS_SHARE": "\\\\fs01\\ccs", "IIS_CCS_WINDOWS_SHARE_USER": "LAB\\svc-publish",
            "IIS_CCS_WINDOWS_SHARE_PASSWORD": network["accounts"]["LAB\\svc-publish"],
        })
        output = tmp_path / "report"
        proc = _run_tool(env, output)
        log = (output / "pytest.log").read_text(encoding="utf-8") if (output / "pytest.log").exists() else ""
        assert proc.returncode == 0, proc.stdout + proc.stderr + log[-4000:]
    finally:
        lab.winrm_lab("stop")
    report = json.loads((output / "report.json").read_text(encoding="utf-8"))
    rows = {row["id"]: row for row in report["questions"]}
    assert list(rows) == [q.id for q in QUESTIONS], "one line per open question, in order"
    assert report["target"]["lab"] is True
    # The sweep ran and the lab refused its PowerShell, as it refuses every command but the collection's bootstrap.
    assert report["cleanup"].startswith("sweep failed") and "The lab runs only the iis.ccs bootstrap" in report["cleanup"], report["cleanup"]
    lab_answers = {"publish-renewal-change-only", "ciphertext-digest-stable", "clixml-error-winrm"}
    for question in QUESTIONS:
        status = rows[question.id]["status"]
        if question.id in lab_answers:
            assert status == "answered by the lab (emulated: proves the harness only)", (question.id, rows[question.id])
        else:
            assert status == "needs a real host", (question.id, rows[question.id])
    assert rows["publish-renewal-change-only"]["value"] == {"first_publish": "ok", "renewal": "ok"}
    assert rows["ciphertext-digest-stable"]["value"]["second_run_changed"] is False
    assert rows["clixml-error-winrm"]["value"]["clixml_residue"] is False
    markdown = (output / "report.md").read_text(encoding="utf-8")
    assert all(f"**{q.id}**" in markdown for q in QUESTIONS)
    assert "dry run that proves the harness" in markdown
