#!/usr/bin/env python
"""An unchanged playbooks/farm.yml against the emulated lab, N nodes x M host names (not a timed test).

    tools/benchmark_farm.py [--nodes 20] [--names 20[,200...]] [--repeat 3] [--forks 5] [--json] [--keep]

Builds a lab inventory of N web nodes (fs01 publishes the lab certificates), each binding M host
names on Default Web Site, converges the farm once (not measured), then times, interleaved:

  farm   the unchanged farm.yml run (iis_lab connection, serial 1, --forks);
  floor  the same plays, hosts, serial and task graph (same includes, loops, loop labels, when,
         register, run_once) with every task an ansible.builtin.debug: ansible-core's own cost.

Prints the median of each, their ratio and how many times each was run. With several M values
(--names 20,200) each gets its own lab state and floor, and the rounds interleave all of them, so
a change of load on a shared machine hits every M alike and the ratios can be compared: the goal
is a ratio that does not grow with M. The 1-minute load average is recorded before every run.
Exit status 1 when a run fails or the measured farm run is not unchanged.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "tests" / "lab"
sys.path.insert(0, str(LAB))
sys.path.insert(0, str(REPO / "tools"))

import lab_farm_certs  # noqa: E402

from iis_lab.inventory import bypass_proxy  # noqa: E402

BIN = Path(sys.executable).parent
# Task keys that shape the task graph; everything else (the module and its arguments, vars) is dropped.
GRAPH_KEYS = ("name", "loop", "loop_control", "when", "register", "run_once", "changed_when", "ignore_errors", "no_log")
INCLUDES = ("ansible.builtin.include_tasks", "ansible.builtin.include_role", "ansible.builtin.import_tasks")


def host_names(count: int) -> list[str]:
    fixed = ["www.contoso.test", "api.contoso.test", "portal.contoso.test"]
    return (fixed + [f"site{n:04d}.contoso.test" for n in range(count)])[:count]


def write_inventory(path: Path, nodes: int, names: int) -> None:
    """tests/lab/inventory.yml with N identical web nodes binding M names each."""
    inventory = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    groups = inventory["all"]["children"]
    profile = {"windows_build": 20348, "features": ["Web-Server"],
               "sites": [{"name": "Default Web Site", "bindings": [{"protocol": "http", "binding_information": "*:80:"}]}]}
    groups["web"]["hosts"] = {f"web{n:02d}": {"iis_lab_profile": copy.deepcopy(profile)} for n in range(1, nodes + 1)}
    farm_vars = groups["ccs_farm"]["vars"]
    farm_vars["ccs_bindings"] = [{"site": "Default Web Site", "host_names": host_names(names)}]
    path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")


def floor_task(task: dict[str, t.Any]) -> dict[str, t.Any]:
    if any(key in task for key in INCLUDES):
        return task
    kept = {key: task[key] for key in GRAPH_KEYS if key in task}
    kept["ansible.builtin.debug"] = {"msg": "floor"}
    return kept


def write_floor_collection(root: Path) -> Path:
    """A copy of the collection's roles and farm.yml where every task is a debug task."""
    collection = root / "ansible_collections" / "iis" / "ccs"
    for sub in ("roles", "playbooks", "meta"):
        shutil.copytree(REPO / sub, collection / sub)
    shutil.copy(REPO / "galaxy.yml", collection / "galaxy.yml")
    # The lab's connection plugin runs the collection's host operations (it imports plugins/), so the
    # floor keeps them; its roles call none of its modules.
    (collection / "plugins").symlink_to(REPO / "plugins")
    for tasks_file in (collection / "roles").glob("*/tasks/*.yml"):
        tasks = yaml.safe_load(tasks_file.read_text(encoding="utf-8")) or []
        tasks_file.write_text(yaml.safe_dump([floor_task(task) for task in tasks], sort_keys=False), encoding="utf-8")
    playbook = yaml.safe_load((collection / "playbooks" / "farm.yml").read_text(encoding="utf-8"))
    for play in playbook:
        for section in ("tasks", "pre_tasks", "post_tasks"):
            play[section] = [floor_task(task) for task in play.get(section, [])]
    (collection / "playbooks" / "farm.yml").write_text(yaml.safe_dump(playbook, sort_keys=False), encoding="utf-8")
    return collection / "playbooks" / "farm.yml"


class Runner:
    def __init__(self, work: Path, forks: int) -> None:
        self.work, self.forks = work, forks
        self.inventory = work / "inventory.yml"
        self.extra = work / "extra-vars.json"

    def env(self, collections: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            IIS_LAB_STATE_DIR=str(self.work / "state"),
            ANSIBLE_CONFIG=str(LAB / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(collections),
            ANSIBLE_NOCOLOR="1",
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            **bypass_proxy(env),
        )
        return env

    def run(self, playbook: Path, collections: Path) -> tuple[float, str]:
        args = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook), "-e", f"@{self.extra}", "-f", str(self.forks)]
        start = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True, env=self.env(collections), cwd=str(self.work), timeout=3600, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{playbook} failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
        return elapsed, proc.stdout


def changed_count(stdout: str) -> int:
    """Sum of changed= over the PLAY RECAP lines."""
    total = 0
    for line in stdout.splitlines():
        if "changed=" in line and "ok=" in line:
            total += int(line.split("changed=")[1].split()[0])
    return total


def collection_link(work: Path) -> Path:
    root = work / "collections"
    (root / "ansible_collections" / "iis").mkdir(parents=True)
    (root / "ansible_collections" / "iis" / "ccs").symlink_to(REPO)
    return root


class Farm:
    """One N x M farm: its work folder, lab state, the real collection and the floor's copy."""

    def __init__(self, work: Path, nodes: int, names: int, forks: int) -> None:
        self.nodes, self.names = nodes, names
        work.mkdir(parents=True)
        self.runner = Runner(work, forks)
        write_inventory(self.runner.inventory, nodes, names)
        certs = work / "certs"
        lab_farm_certs.create(certs)
        self.runner.extra.write_text(json.dumps({"ccs_lab_certificate_dir": str(certs)}), encoding="utf-8")
        self.real = (collection_link(work), REPO / "playbooks" / "farm.yml")
        floor_root = work / "floor"
        self.floor = (floor_root, write_floor_collection(floor_root))
        self.times: dict[str, list[float]] = {"farm": [], "floor": []}
        self.load: dict[str, list[float]] = {"farm": [], "floor": []}

    def converge(self) -> None:
        self.runner.run(self.real[1], self.real[0])  # not measured

    def round(self) -> None:
        self.load["farm"].append(round(os.getloadavg()[0], 2))
        elapsed, stdout = self.runner.run(self.real[1], self.real[0])
        if changed_count(stdout):
            raise SystemExit(f"the unchanged farm run reported changes:\n{stdout[-4000:]}")
        self.times["farm"].append(elapsed)
        self.load["floor"].append(round(os.getloadavg()[0], 2))
        self.times["floor"].append(self.runner.run(self.floor[1], self.floor[0])[0])

    def result(self, repeat: int, forks: int) -> dict[str, t.Any]:
        farm, floor_median = statistics.median(self.times["farm"]), statistics.median(self.times["floor"])
        return {"nodes": self.nodes, "names": self.names, "runs": repeat, "forks": forks, "farm_s": round(farm, 2),
                "floor_s": round(floor_median, 2), "ratio": round(farm / floor_median, 2), "samples": self.times,
                "load_1min_before_each_run": self.load}


def benchmark(nodes: int, names: t.Sequence[int], repeat: int, forks: int, work: Path) -> list[dict[str, t.Any]]:
    farms = [Farm(work / f"{nodes}x{count}", nodes, count, forks) for count in names]
    for farm in farms:
        farm.converge()
    for _round in range(repeat):
        for farm in farms:
            farm.round()
    return [farm.result(repeat, forks) for farm in farms]


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--names", default="20", help="host names per node; several (20,200) are measured interleaved")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed on stderr)")
    args = parser.parse_args(argv)
    output = REPO / "tests" / "output"
    output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="benchmark-farm-", dir=output))
    names = [int(value) for value in str(args.names).split(",") if value.strip()]
    try:
        results = benchmark(args.nodes, names, args.repeat, args.forks, work)
    finally:
        if args.keep:
            print(f"work folder: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
        return 0
    print("| farm | farm.yml unchanged | floor | ratio | runs | load average (1 min) |\n|---|---:|---:|---:|---:|---|")
    for result in results:
        loads = result["load_1min_before_each_run"]["farm"] + result["load_1min_before_each_run"]["floor"]
        print(f"| {result['nodes']} nodes x {result['names']} names | {result['farm_s']:.2f} s | {result['floor_s']:.2f} s "
              f"| {result['ratio']:.2f}x | {result['runs']} | {min(loads):.1f}-{max(loads):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
