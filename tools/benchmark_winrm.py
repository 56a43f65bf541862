#!/usr/bin/env python
"""Round trips and bytes per module run over real WinRM (not a timed test).

Starts the lab's WinRM endpoints (tests/lab/winrm-lab, free ports, a temporary state folder)
and runs each module as its own one-task ansible-playbook run through ansible-core's winrm
connection (pywinrm, NTLM over HTTP with message encryption), then the whole playbooks/farm.yml
against fresh hosts, and reports what each run cost on the wire:

    tools/benchmark_winrm.py [--only raw,ccs_info,ccs_provider,ccs_binding,ccs_cert_publish,farm] [--json] [--keep] [--python PY]

  raw               web01, ansible.builtin.raw with a trivial command: the floor of a module run
  ccs_info          web01, default gather (first read of a fresh host, then again)
  ccs_provider      web01, enable with the ccs_farm store and account (changing, then unchanged)
  ccs_binding       web01, the ccs_farm binding of Default Web Site (changing, then unchanged)
  ccs_cert_publish  fs01, the first ccs_farm certificate to host_path D:\\CCS (changing, then unchanged)
  farm              playbooks/farm.yml on the whole lab farm (first build, then unchanged re-run)

Module arguments come from the ccs_farm group variables of tests/lab/inventory-winrm.yml (the
tasks reference those variables), certificates from tools/lab_farm_certs.py. A run a module needs
first (the provider enabled for a binding) is run as unmeasured setup when that module was not
selected. (The lab's fs01 serves its share from the start: the provider's store check needs no
earlier run on it.)

Per run: operations (the modules' round_trips; the hosts' operation logs where no_log hides a
result, as in farm.yml), WinRM shells and commands, HTTP requests in total and by kind
(authentication, shell create/delete, command, stdin send, receive, signal), bytes on the wire
(HTTP requests and responses with headers, from the endpoints' traffic log) and the stdin
payload and output bytes, as the endpoint logged them for each command (the stdin it received
in full, the output it streamed back).

Exit status 1 when a run failed or the traffic does not add up (a command without its
operation or payload, an unexpected HTTP action, commands and host operations that differ).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "tests" / "lab"
sys.path.insert(0, str(LAB))

from iis_lab.inventory import bypass_proxy, host_definitions, load  # noqa: E402
from iis_lab.state import read_oplog  # noqa: E402

INVENTORY = LAB / "inventory-winrm.yml"
FARM = REPO / "playbooks" / "farm.yml"
MODULES = ("raw", "ccs_info", "ccs_provider", "ccs_binding", "ccs_cert_publish", "farm")

# HTTP actions of the endpoints' traffic log, by what they are for.
GROUPS = {
    "auth-challenge": "authentication", "auth-negotiate": "authentication", "auth-complete": "authentication",
    "auth-rejected": "authentication",
    "create": "shell", "delete": "shell",
    "command": "command",
    "send": "send",
    "receive": "receive",
    "signal": "signal",
}
GROUP_ORDER = ("authentication", "shell", "command", "send", "receive", "signal", "other")

# The tasks use the inventory's ccs_farm variables (the values tests/playbooks and farm.yml use).
PROVIDER_ARGS = {
    "state": "enabled",
    "store_location": "{{ ccs_store_location }}",
    "user_name": "{{ ccs_store_user_name }}",
    "password": "{{ ccs_store_password }}",
    "private_key_password": "{{ ccs_private_key_password }}",
}
BINDING_ARGS = {"site": "{{ ccs_bindings[0].site }}", "host_names": "{{ ccs_bindings[0].host_names }}"}
PUBLISH_ARGS = {
    "pfx_path": "{{ ccs_certificates[0].pfx_path }}",
    "pfx_password": "{{ ccs_certificates[0].pfx_password }}",
    "host_names": "{{ ccs_certificates[0].host_names }}",
    "private_key_password": "{{ ccs_private_key_password }}",
    "destinations": "{{ ccs_publish_destinations }}",
}


@dataclasses.dataclass(frozen=True)
class Step:
    module: str
    run: str
    host: str
    action: str | None = None  # iis.ccs.<module>; None: the farm playbook
    args: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    requires: tuple[str, ...] = ()  # setup facts needed first: "provider" (enabled on web01)
    provides: tuple[str, ...] = ()


# The floor: ansible.builtin.raw with a trivial command over the same connection. The lab answers
# every command but the collection's bootstrap with "not emulated" (exit 1), a short reply as
# a trivial command's would be, so the task is allowed to fail.
RAW = Step("raw", "floor", "web01", "ansible.builtin.raw", {"_raw_params": "exit 0"})
INFO = Step("ccs_info", "first read", "web01", "iis.ccs.ccs_info")
PROVIDER = Step("ccs_provider", "changing", "web01", "iis.ccs.ccs_provider", PROVIDER_ARGS, provides=("provider",))
BINDING = Step("ccs_binding", "changing", "web01", "iis.ccs.ccs_binding", BINDING_ARGS, requires=("provider",))
PUBLISH = Step("ccs_cert_publish", "changing", "fs01", "iis.ccs.ccs_cert_publish", PUBLISH_ARGS)
SETUP = {"provider": dataclasses.replace(PROVIDER, module="setup", run="enable provider")}


def module_steps(selected: t.Collection[str]) -> list[Step]:
    steps: list[Step] = []
    if "raw" in selected:
        steps.append(RAW)
    if "ccs_info" in selected:
        # The first read of a fresh host sends the script it keeps; the next one is every later read.
        steps += [INFO, dataclasses.replace(INFO, run="read again")]
    for step, name in ((PROVIDER, "ccs_provider"), (BINDING, "ccs_binding"), (PUBLISH, "ccs_cert_publish")):
        if name in selected:
            steps += [step, dataclasses.replace(step, run="unchanged")]
    return steps


# -- the lab -------------------------------------------------------------------------------------
class WinrmLab:
    """winrm-lab endpoints for one state folder: start, run playbooks against them, stop."""

    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.state = root / "state"
        self.state.mkdir(parents=True)
        self.python = python
        self.port = 0
        self.traffic_lines = 0
        self.started = False
        self.count = 0

    def env(self, extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            IIS_LAB_STATE_DIR=str(self.state),
            IIS_LAB_PYTHON=self.python,
            IIS_LAB_WINRM_HTTP_PORT="0",
            IIS_LAB_WINRM_HTTPS_PORT="0",
            ANSIBLE_CONFIG=str(LAB / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            IIS_LAB_KEPT_SCRIPTS="0",  # fresh hosts, new to the collection: the first contact is measured too
            **bypass_proxy(env),
        )
        env.update(extra or {})
        return env

    def winrm_lab(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(LAB / "winrm-lab"), *args], capture_output=True, text=True, env=self.env(), timeout=120, check=False)

    def start(self) -> None:
        self.started = True
        proc = self.winrm_lab("start", "-i", str(INVENTORY))
        if proc.returncode != 0:
            raise RuntimeError(f"winrm-lab start failed:\n{proc.stdout}{proc.stderr}")
        endpoints = json.loads((self.state / "winrm" / "endpoints.json").read_text(encoding="utf-8"))
        self.port = int(endpoints["http_port"])
        # The inventory's ansible_host must be the address each endpoint listens on.
        wanted = {name: d["address"] for name, d in host_definitions(load(INVENTORY)).items() if d["address"]}
        if any(endpoints["hosts"].get(name) != address for name, address in wanted.items()):
            raise RuntimeError(f"endpoints {endpoints['hosts']} do not listen where {INVENTORY.name} says the hosts are: {wanted}")

    def stop(self) -> None:
        if self.started:
            self.winrm_lab("stop")
            self.started = False

    def traffic(self) -> list[dict[str, t.Any]]:
        path = self.state / "winrm" / "traffic.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    def oplogs(self) -> dict[str, list[dict[str, t.Any]]]:
        suffix = ".oplog.jsonl"
        hosts = sorted(path.name[: -len(suffix)] for path in self.state.glob(f"*{suffix}"))
        return {host: read_oplog(host, self.state) for host in hosts}

    def playbook(self, plays: t.Any) -> Path:
        import yaml

        self.count += 1
        path = self.root / f"playbook-{self.count}.yml"
        path.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
        return path

    def measure(self, step: Step, playbook: Path, extra_vars: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """One ansible-playbook run and what it added to the traffic log, the operation logs and the stdin log."""
        self.count += 1
        results_file, vars_file = (self.root / f"{name}-{self.count}.jsonl" for name in ("results", "vars"))
        vars_file.write_text(json.dumps({"ansible_port": self.port, **extra_vars}), encoding="utf-8")
        traffic_before, oplog_before = len(self.traffic()), {h: len(log) for h, log in self.oplogs().items()}
        args = [str(Path(self.python).parent / "ansible-playbook"), "-i", str(INVENTORY), "-e", f"@{vars_file}", str(playbook)]
        proc = subprocess.run(args, capture_output=True, text=True, cwd=str(self.root), timeout=900, check=False,
                              env=self.env({"IIS_LAB_RESULTS_FILE": str(results_file)}))
        traffic = self.traffic()[traffic_before:]
        oplog = {h: log[oplog_before.get(h, 0):] for h, log in self.oplogs().items()}
        summary = summarise(step, proc, traffic, oplog, _json_lines(results_file))
        # Which lines of the traffic log this run added (with --keep, a reader can recount them).
        summary["traffic_lines"] = [traffic_before, traffic_before + len(traffic)]
        return summary


def _json_lines(path: Path) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def task_playbook(step: Step) -> list[dict[str, t.Any]]:
    task = {"name": step.module, str(step.action): dict(step.args)}
    if step is RAW:
        task["ignore_errors"] = True
    return [{"name": f"{step.module} {step.run}", "hosts": step.host, "gather_facts": False, "tasks": [task]}]


# -- figures -----------------------------------------------------------------------------------------
def _round_trips(result: t.Mapping[str, t.Any]) -> tuple[int, int, int]:
    """(round_trips reported, results that report them, results no_log hid) of one task result, loops included."""
    if "censored" in result:
        return 0, 0, 1
    if isinstance(result.get("results"), list):
        totals = [_round_trips(item) for item in result["results"] if isinstance(item, dict)]
        return sum(x[0] for x in totals), sum(x[1] for x in totals), sum(x[2] for x in totals)
    if isinstance(result.get("round_trips"), int):
        return result["round_trips"], 1, 0
    return 0, 0, 0


def summarise(step: Step, proc: subprocess.CompletedProcess[str], traffic: list[dict[str, t.Any]],
              oplog: t.Mapping[str, list[dict[str, t.Any]]], results: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    problems: list[str] = []
    if proc.returncode != 0:
        problems.append(f"ansible-playbook exited {proc.returncode}: {(proc.stdout + proc.stderr)[-3000:]}")
    floor = step is RAW
    failed = [f"{r['host']}: {r['task']}" for r in results if r["status"] in ("failed", "unreachable") and not floor]
    if failed:
        problems.append(f"failed tasks: {failed}")

    actions = collections.Counter(str(record.get("action")) for record in traffic)
    groups = dict.fromkeys(GROUP_ORDER, 0)
    for action, count in actions.items():
        groups[GROUPS.get(action, "other")] += count
    if groups["other"]:
        unexpected = {a: n for a, n in actions.items() if a not in GROUPS}
        problems.append(f"unexpected HTTP actions: {unexpected}")

    # Per WinRM command: its requests, in the order the endpoints served them.
    commands: dict[str, dict[str, t.Any]] = {}
    for record in traffic:
        command_id = record.get("command_id")
        if not command_id:
            continue
        entry = commands.setdefault(command_id, {"host": record["host"], "command_id": command_id, "command": 0, "send": 0, "stdin_chunks": 0,
                                                 "stdin_bytes": 0, "stdout_bytes": 0, "operation": "", "receive": 0, "signal": 0,
                                                 "request_bytes": 0, "response_bytes": 0})
        entry[record["action"]] = entry.get(record["action"], 0) + 1
        entry["request_bytes"] += record["request_bytes"]
        entry["response_bytes"] += record["response_bytes"]
        entry["stdout_bytes"] += int(record.get("output_bytes") or 0)
        if record.get("stdin_sha256"):
            entry.update(stdin_chunks=record["stdin_chunks"], stdin_bytes=record["stdin_bytes"], operation=record["operation"],
                         sends_script=bool(record.get("sends_script")))
    for entry in commands.values():
        if not floor and (not entry["operation"] or not entry["stdin_bytes"]):
            problems.append(f"command {entry['command_id']} on {entry['host']}: no iis.ccs operation payload reached the endpoint")

    host_operations = sum(len(log) for log in oplog.values())
    # A host that does not hold an operation's script answers the cached call with a miss (nothing runs,
    # nothing is logged) and the runner sends the script; after one miss, the task's other operations go
    # with their script at once. So every command ran an operation but the misses, and each miss was
    # followed by a send.
    script_sends = sum(1 for e in commands.values() if e.get("sends_script"))
    cache_misses = 0 if floor else len(commands) - host_operations
    exchanges = len(commands)
    if not floor and not 0 <= cache_misses <= script_sends:
        problems.append(f"{len(commands)} commands, {host_operations} host operations and {script_sends} script sends do not add up")
    ccs_results = [r for r in results if str(r.get("action", "")).startswith("iis.ccs.")]
    reported, reporting, hidden = 0, 0, 0
    for r in ccs_results:
        counts = _round_trips(r["result"])
        reported, reporting, hidden = reported + counts[0], reporting + counts[1], hidden + counts[2]
    if not hidden:
        operations, source = host_operations, "round_trips less script sends"
        if not floor and reported != exchanges:
            problems.append(f"the modules report {reported} round trips, the endpoints served {exchanges} commands")
    else:
        operations, source = host_operations, f"host operation logs ({hidden} no_log results hide round_trips)"
    if not floor and actions["command"] != exchanges:
        problems.append(f"{actions['command']} WinRM commands, {exchanges} with an iis.ccs payload")

    hosts = sorted({record["host"] for record in traffic})
    per_host = {
        host: {
            "shells": sum(1 for r in traffic if r["host"] == host and r["action"] == "create"),
            "commands": sum(1 for r in traffic if r["host"] == host and r["action"] == "command"),
            "http_requests": sum(1 for r in traffic if r["host"] == host),
            "bytes_sent": sum(r["request_bytes"] for r in traffic if r["host"] == host),
            "bytes_received": sum(r["response_bytes"] for r in traffic if r["host"] == host),
        }
        for host in hosts
    }
    total = sum(groups.values())
    return {
        "module": step.module,
        "run": step.run,
        "hosts": hosts,
        "rc": proc.returncode,
        "changed": any(r["status"] == "changed" or r["result"].get("changed") for r in ccs_results),
        "operations": operations,
        "operations_source": source,
        "round_trips_reported": reported,
        "results_reporting_round_trips": reporting,
        "results_hidden_by_no_log": hidden,
        "host_operations": host_operations,
        "script_sends": script_sends,
        "cache_misses": cache_misses,
        "operation_names": [e["operation"] for log in oplog.values() for e in log],
        "shells": actions["create"],
        "commands": actions["command"],
        "http_requests": {"total": total, **groups},
        "http_requests_per_operation": round(total / operations, 2) if operations else None,
        "actions": dict(sorted(actions.items())),
        "bytes_sent": sum(r["request_bytes"] for r in traffic),
        "bytes_received": sum(r["response_bytes"] for r in traffic),
        "stdin_bytes": sum(e["stdin_bytes"] for e in commands.values()),
        "stdout_bytes": sum(e["stdout_bytes"] for e in commands.values()),
        "per_host": per_host,
        "commands_detail": list(commands.values()),
        "problems": problems,
    }


# -- the benchmark -----------------------------------------------------------------------------------------
def run_modules(lab: WinrmLab, selected: t.Collection[str], extra_vars: t.Mapping[str, t.Any]) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]]:
    runs, setup = [], []
    done: set[str] = set()

    def ensure(fact: str) -> None:
        if fact in done:
            return
        step = SETUP[fact]
        for needed in step.requires:
            ensure(needed)
        setup.append(lab.measure(step, lab.playbook(task_playbook(step)), extra_vars))
        done.update(step.provides)

    for step in module_steps(selected):
        for needed in step.requires:
            ensure(needed)
        runs.append(lab.measure(step, lab.playbook(task_playbook(step)), extra_vars))
        done.update(step.provides)
    return runs, setup


def run_farm(lab: WinrmLab, extra_vars: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    return [lab.measure(Step("farm.yml", run, "ccs_farm"), FARM, extra_vars) for run in ("first build", "unchanged")]


def benchmark(selected: t.Collection[str], python: str, keep: bool) -> dict[str, t.Any]:
    sys.path.insert(0, str(REPO / "tools"))
    lab_farm_certs = importlib.import_module("lab_farm_certs")

    # Work files stay in the checkout (tests/output, git-ignored), not in /tmp.
    (REPO / "tests" / "output").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="iis-ccs-bench-winrm-", dir=REPO / "tests" / "output"))
    runs: list[dict[str, t.Any]] = []
    setup: list[dict[str, t.Any]] = []
    try:
        certs = work / "certs"
        lab_farm_certs.create(certs)
        extra_vars = {"ccs_lab_certificate_dir": str(certs)}
        if set(selected) - {"farm"}:
            lab = WinrmLab(work / "modules", python)
            try:
                lab.start()
                runs, setup = run_modules(lab, selected, extra_vars)
            finally:
                lab.stop()
        if "farm" in selected:
            # Fresh hosts: the farm's first build starts from the inventory's profiles.
            farm_lab = WinrmLab(work / "farm", python)
            try:
                farm_lab.start()
                runs += run_farm(farm_lab, extra_vars)
            finally:
                farm_lab.stop()
    finally:
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    floor = next((r["bytes_sent"] for r in runs if r["module"] == "raw"), 0)
    for run in runs:
        run["sent_vs_raw"] = round(run["bytes_sent"] / floor, 3) if floor else None
    problems = [f"{r['module']} {r['run']}: {p}" for r in (*setup, *runs) for p in r["problems"]]
    return {
        "transport": "ansible-core winrm connection (pywinrm), NTLM over HTTP with message encryption, lab endpoints on loopback",
        "inventory": str(INVENTORY.relative_to(REPO)),
        "bytes": "HTTP requests and responses as on the wire, headers included (no TCP/IP framing)",
        "runs": runs,
        "setup_runs": [f"{r['module']}: {r['run']}" for r in setup],
        "problems": problems,
    }


COLUMNS = (
    ("module", 16, lambda r: r["module"]),
    ("run", 11, lambda r: r["run"]),
    ("ops", 4, lambda r: f"{r['operations']}{'*' if r['results_hidden_by_no_log'] else ''}"),
    ("shells", 6, lambda r: r["shells"]),
    ("sends", 5, lambda r: r["script_sends"]),
    ("misses", 6, lambda r: r["cache_misses"]),
    ("cmds", 4, lambda r: r["commands"]),
    ("HTTP", 5, lambda r: r["http_requests"]["total"]),
    ("auth", 4, lambda r: r["http_requests"]["authentication"]),
    ("shell", 5, lambda r: r["http_requests"]["shell"]),
    ("cmd", 4, lambda r: r["http_requests"]["command"]),
    ("send", 4, lambda r: r["http_requests"]["send"]),
    ("recv", 4, lambda r: r["http_requests"]["receive"]),
    ("sig", 4, lambda r: r["http_requests"]["signal"]),
    ("bytes sent", 11, lambda r: f"{r['bytes_sent']:,}"),
    ("bytes recv", 11, lambda r: f"{r['bytes_received']:,}"),
    ("stdin B", 9, lambda r: f"{r['stdin_bytes']:,}"),
    ("sent/stdin", 10, lambda r: f"{r['bytes_sent'] / r['stdin_bytes']:.2f}" if r["stdin_bytes"] else "-"),
    ("sent/raw", 8, lambda r: f"{r['sent_vs_raw']:.2f}x" if r.get("sent_vs_raw") else "-"),
)


def table(figures: t.Mapping[str, t.Any]) -> str:
    lines = [figures["transport"] + "; bytes: " + figures["bytes"] + ".", ""]
    lines.append("  ".join(f"{name:<{width}}" if index < 2 else f"{name:>{width}}" for index, (name, width, _get) in enumerate(COLUMNS)))
    for run in figures["runs"]:
        lines.append("  ".join(f"{get(run)!s:<{width}}" if index < 2 else f"{get(run)!s:>{width}}"
                               for index, (_name, width, get) in enumerate(COLUMNS)))
    lines.append("")
    lines.append("ops: operations sent to the hosts (the modules' round_trips; * counted from the hosts' operation logs where no_log")
    lines.append("hides the results). sends: calls that carried an operation's script (a host new to it); misses: cached calls")
    lines.append("the host could not serve (nothing ran; cmds = ops + misses). HTTP by kind: auth = NTLM legs, shell = create +")
    lines.append("delete, cmd, send = stdin, recv, sig = signal. sent/raw: bytes sent against the raw floor's, in the same run.")
    if figures["setup_runs"]:
        lines.append(f"Unmeasured setup runs: {', '.join(figures['setup_runs'])}.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(MODULES), help=f"comma-separated subset of {','.join(MODULES)} (default: all)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (lab state, traffic log, playbooks)")
    parser.add_argument("--python", default=sys.executable, help="Python with ansible-core and pywinrm, for the lab and ansible-playbook")
    options = parser.parse_args()
    selected = [m.strip() for m in options.only.split(",") if m.strip()]
    unknown = sorted(set(selected) - set(MODULES))
    if unknown or not selected:
        parser.error(f"--only: unknown {unknown}; choose from {', '.join(MODULES)}")
    # A SIGTERM still stops the lab endpoints (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    figures = benchmark(selected, options.python, options.keep)
    print(json.dumps(figures, indent=2) if options.json else table(figures))
    for problem in figures["problems"]:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
