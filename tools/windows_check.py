"""tools/windows-check: answer every open question of tests/windows/questions.py on one real Windows host.

Runs the opt-in suite against the host named by the IIS_CCS_WINDOWS_* variables (tests/windows/conftest.py),
refuses unless IIS_CCS_WINDOWS_DISPOSABLE=yes (the probes create and remove sites, HTTP.sys entries,
certificates, provider settings and files), sweeps anything named iisccscheck* it may have left, and writes
report.md and report.json with one line per question and the value the host showed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WINDOWS_TESTS = REPO / "tests" / "windows"
sys.path.insert(0, str(WINDOWS_TESTS))

REFUSAL = ("tools/windows-check changes IIS, HTTP.sys, the certificate store and the provider settings of the host it runs on."
           " Point it at a disposable Windows Server and set IIS_CCS_WINDOWS_DISPOSABLE=yes to confirm.")

SWEEP = r"""
$ErrorActionPreference = 'Continue'
$swept = @()
$mwa = "$env:windir\System32\inetsrv\Microsoft.Web.Administration.dll"
if (Test-Path -LiteralPath $mwa) {
    Add-Type -Path $mwa
    $m = New-Object Microsoft.Web.Administration.ServerManager
    foreach ($s in @($m.Sites | Where-Object { $_.Name -like 'iisccscheck*' })) { $swept += 'site ' + $s.Name; $m.Sites.Remove($s) }
    $m.CommitChanges()
}
foreach ($f in @(Get-ChildItem -Path 'C:\', $env:TEMP -Filter 'iisccscheck*' -Force -ErrorAction SilentlyContinue)) {
    $swept += 'path ' + $f.FullName; Remove-Item -LiteralPath $f.FullName -Recurse -Force
}
foreach ($c in @(Get-ChildItem Cert:\LocalMachine\My | Where-Object { $_.Subject -eq 'CN=check.iis-ccs.test' })) {
    $swept += 'certificate ' + $c.Thumbprint; Remove-Item -LiteralPath ('Cert:\LocalMachine\My\' + $c.Thumbprint) -Force
}
'IISCCS-SWEPT:' + ($swept -join '; ')
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tools/windows-check", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "tests" / "output" / "windows-check", help="folder for report.md and report.json")
    parser.add_argument("--all", action="store_true", help="also run every other opt-in test in tests/windows")
    return parser.parse_args(argv)


def refuse_unless_disposable(env: t.Mapping[str, str]) -> str | None:
    if env.get("IIS_CCS_WINDOWS_DISPOSABLE") != "yes":
        return REFUSAL
    if not env.get("IIS_CCS_WINDOWS_HOST"):
        return "Set IIS_CCS_WINDOWS_HOST (and IIS_CCS_WINDOWS_USER / _PASSWORD / _CONNECTION: see tests/windows/conftest.py)."
    return None


def run_suite(output: Path, everything: bool) -> int:
    observations = output / "observations.jsonl"
    observations.unlink(missing_ok=True)
    targets = [str(WINDOWS_TESTS)] if everything else [str(WINDOWS_TESTS / "test_open_questions_windows.py")]
    env = {**os.environ, "IIS_CCS_WINDOWS_OBSERVATIONS": str(observations)}
    with open(output / "pytest.log", "w", encoding="utf-8") as log:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", "-rs", "--basetemp", str(output / "tmp"),
                               *targets], cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    return proc.returncode


def sweep(output: Path) -> str:
    """Remove leftovers named iisccscheck* (the probes clean up in finally; this catches an interrupted run).

    Against the lab the sweep runs too and is refused (the lab runs only the collection's operations), which the
    report says; the probes that would have left something never ran there."""
    WindowsHost, inventory = _windows_host_helpers()
    host = WindowsHost(output)
    (output / "state").mkdir(exist_ok=True)
    host.inventory = inventory(output)
    run = host.run(f"- hosts: win\n  gather_facts: false\n  tasks:\n    - name: sweep\n      ansible.builtin.raw: {json.dumps(SWEEP)}\n")
    marker = [line for line in str(run.task("sweep").get("stdout", "")).splitlines() if line.startswith("IISCCS-SWEPT:")]
    if not marker:
        return "sweep failed: " + " ".join(run.stdout.split())[-400:]
    return marker[0].split(":", 1)[1].strip() or "nothing left over"


def _windows_host_helpers() -> tuple[t.Any, t.Any]:
    """tests/windows/conftest.py's WindowsHost, importable outside pytest (tests/conftest.py sets the paths up)."""
    spec = importlib.util.spec_from_file_location("iis_ccs_tests_conftest", REPO / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    from conftest import WindowsHost, _inventory

    return WindowsHost, _inventory


def build_report(output: Path, pytest_rc: int, swept: str) -> dict[str, t.Any]:
    from questions import QUESTIONS

    seen: dict[str, dict[str, t.Any]] = {}
    path = output / "observations.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        entry = json.loads(line)
        seen[entry["id"]] = entry
    missing = "no answer: its test failed (see pytest.log)" if pytest_rc not in (0, 5) else "not run"
    rows = []
    for question in QUESTIONS:
        entry = seen.get(question.id, {"status": missing, "value": None, "detail": ""})
        rows.append({"id": question.id, "question": question.question, "raised_in": question.raised_in, "kind": question.kind,
                     "status": entry["status"], "value": entry["value"], "detail": entry.get("detail", "")})
    return {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "target": {"host": os.environ.get("IIS_CCS_WINDOWS_HOST"), "connection": os.environ.get("IIS_CCS_WINDOWS_CONNECTION", "psrp"),
                   "lab": os.environ.get("IIS_CCS_WINDOWS_TARGET") == "lab"},
        "pytest_exit_code": pytest_rc,
        "cleanup": swept,
        "questions": rows,
    }


def markdown(report: t.Mapping[str, t.Any]) -> str:
    target = report["target"]
    lines = [
        "# iis.ccs: open questions answered by a Windows host",
        "",
        f"Generated {report['generated']} against `{target['host']}` over {target['connection']}"
        + (" (the emulated lab: a dry run that proves the harness, not Windows)." if target["lab"] else "."),
        f"Clean-up: {report['cleanup']}. pytest exit code: {report['pytest_exit_code']} (pytest.log beside this file).",
        "",
        "| Question | Status | Observed | Raised in |",
        "|---|---|---|---|",
    ]
    for row in report["questions"]:
        value = json.dumps(row["value"], sort_keys=True) if row["value"] is not None else row["detail"]
        cells = [f"**{row['id']}**: {row['question']}", row["status"], value, row["raised_in"]]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    refusal = refuse_unless_disposable(os.environ)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    output = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    rc = run_suite(output, args.all)
    swept = sweep(output)
    report = build_report(output, rc, swept)
    (output / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    (output / "report.md").write_text(markdown(report), encoding="utf-8")
    answered = sum(1 for row in report["questions"] if row["status"].startswith("answered"))
    print(f"{answered} of {len(report['questions'])} questions answered; report: {output / 'report.md'} and report.json")
    return 0 if rc in (0, 5) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
