"""tools/benchmark_winrm.py, quick subset: real ansible-playbook runs over the lab's WinRM endpoints.

No timings and no measured byte counts are asserted: only what the modules promise (an unchanged
run is one read) and what WinRS over NTLM-encrypted HTTP needs for each operation.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "benchmark_winrm.py"
SUBSET = ("ccs_info", "ccs_provider", "ccs_binding")
# NTLM over HTTP, per connection: the anonymous request (401 Negotiate), the NEGOTIATE message
# (401 with the CHALLENGE) and the AUTHENTICATE message on pywinrm's empty first message (200).
NTLM_LEGS = 3


def _servers_of(folder: Path) -> list[int]:
    """Lab endpoint processes still running for a state folder under folder."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"iis_lab.winrm_lab" in cmdline and str(folder).encode() in cmdline:
                pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="module")
def figures() -> t.Iterator[dict[str, t.Any]]:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--json", "--keep", "--only", ",".join(SUBSET)], capture_output=True, text=True,
                          timeout=180, check=False, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    kept = next((Path(line.split(" ", 1)[1]) for line in proc.stderr.splitlines() if line.startswith("kept ")), None)
    try:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        data = json.loads(proc.stdout)
        data["_kept"] = kept
        yield data
    finally:
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)


def runs(figures: dict[str, t.Any], module: str) -> dict[str, dict[str, t.Any]]:
    return {r["run"]: r for r in figures["runs"] if r["module"] == module}


def test_the_script_reports_every_selected_run_and_stops_the_lab(figures: dict[str, t.Any]) -> None:
    assert figures["problems"] == []
    assert [(r["module"], r["run"]) for r in figures["runs"]] == [
        ("ccs_info", "first read"), ("ccs_info", "read again"), ("ccs_provider", "changing"), ("ccs_provider", "unchanged"),
        ("ccs_binding", "changing"), ("ccs_binding", "unchanged")]
    # The lab's fs01 serves its share from the start; the binding's provider comes from the measured provider runs.
    assert figures["setup_runs"] == []
    assert figures["_kept"] is not None and _servers_of(figures["_kept"]) == []


def test_every_run_went_over_http_and_its_counts_agree_with_the_traffic_log(figures: dict[str, t.Any]) -> None:
    logs = list(figures["_kept"].rglob("winrm/traffic.jsonl"))
    assert len(logs) == 1, logs
    traffic = [json.loads(line) for line in logs[0].read_text(encoding="utf-8").splitlines()]
    previous_end = 0
    for run in figures["runs"]:
        label = f"{run['module']} {run['run']}"
        start, end = run["traffic_lines"]
        assert previous_end <= start < end <= len(traffic), (label, run["traffic_lines"])
        previous_end = end
        logged = collections.Counter(record["action"] for record in traffic[start:end])
        http = run["http_requests"]
        # The figures recounted from the endpoints' own log, not from the tool's arithmetic.
        assert http["total"] == end - start, label
        assert run["actions"] == dict(logged), label
        assert (http["command"], http["send"], http["receive"]) == (logged["command"], logged["send"], logged["receive"]), label
        assert run["bytes_sent"] == sum(r["request_bytes"] for r in traffic[start:end]), label
        assert http["other"] == 0, (label, run["actions"])
        assert run["hosts"] == ["web01"], label
        # What the module says it sent, what the host ran and what crossed the wire are the same operations,
        # plus one command per script the host had to be sent (its cached call was a miss, and ran nothing).
        assert run["operations_source"] == "round_trips less script sends", label
        assert run["operations"] == run["host_operations"] >= 1, label
        assert run["round_trips_reported"] == run["commands"] == run["host_operations"] + run["cache_misses"], label
        assert 0 <= run["cache_misses"] <= run["script_sends"], label


def test_an_unchanged_run_is_one_operation_and_never_costs_more_than_the_changing_one(figures: dict[str, t.Any]) -> None:
    first, again = runs(figures, "ccs_info")["first read"], runs(figures, "ccs_info")["read again"]
    assert (first["operations"], first["script_sends"], first["cache_misses"], first["commands"]) == (1, 1, 1, 2)
    assert (again["operations"], again["script_sends"], again["cache_misses"], again["commands"]) == (1, 0, 0, 1)
    # The script travels once: a later read sends the cached loader, the digest and the parameters only.
    assert again["stdin_bytes"] * 4 < first["stdin_bytes"] and again["bytes_sent"] < first["bytes_sent"]
    for module in ("ccs_provider", "ccs_binding"):
        changing, unchanged = runs(figures, module)["changing"], runs(figures, module)["unchanged"]
        assert changing["changed"] is True and unchanged["changed"] is False, module
        assert unchanged["operations"] == 1 and unchanged["script_sends"] == 0, module
        assert unchanged["operations"] <= changing["operations"], module
        assert unchanged["http_requests"]["total"] <= changing["http_requests"]["total"], module
        assert unchanged["bytes_sent"] <= changing["bytes_sent"], module


def test_http_requests_per_operation_are_what_winrs_needs(figures: dict[str, t.Any]) -> None:
    for run in figures["runs"]:
        label = f"{run['module']} {run['run']}"
        http, shells, commands = run["http_requests"], run["shells"], run["commands_detail"]
        # One task on one host: one connection, authenticated once, one shell opened and deleted.
        assert shells == 1, label
        assert http["authentication"] == NTLM_LEGS * shells, label
        assert http["shell"] == 2 * shells, label
        assert len(commands) == run["operations"] + run["cache_misses"], label
        for command in commands:
            # Command, the stdin in as many Sends as the endpoint counted chunks, Receive until done, Signal.
            assert (command["command"], command["signal"]) == (1, 1), (label, command)
            assert command["send"] == command["stdin_chunks"] >= 1, (label, command)
            assert command["receive"] >= 1, (label, command)
            assert command["operation"] in run["operation_names"], (label, command)
        assert http["command"] == http["signal"] == len(commands), label
        assert http["send"] == sum(c["stdin_chunks"] for c in commands), label
        assert http["receive"] == sum(c["receive"] for c in commands), label
        expected = (NTLM_LEGS + 2) * shells + sum(2 + c["send"] + c["receive"] for c in commands)
        assert http["total"] == expected, label


def test_payload_and_wire_bytes(figures: dict[str, t.Any]) -> None:
    for run in figures["runs"]:
        label = f"{run['module']} {run['run']}"
        assert run["stdin_bytes"] == sum(c["stdin_bytes"] for c in run["commands_detail"]) > 0, label
        for command in run["commands_detail"]:
            # The stdin travels base64-encoded (4/3) inside sealed SOAP envelopes: always more on the wire.
            assert command["request_bytes"] > command["stdin_bytes"] * 4 / 3, (label, command)
            assert command["stdout_bytes"] > 0 and command["response_bytes"] > command["stdout_bytes"] * 4 / 3, (label, command)
        assert run["bytes_sent"] > sum(c["request_bytes"] for c in run["commands_detail"]), label  # plus auth and shell requests
        assert run["bytes_received"] > 0, label
