"""tools/benchmark_farm.py on a tiny farm: it runs, the measured run is unchanged, the floor has the task graph.

No timing is asserted: only that both playbooks ran and the report is complete.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import benchmark_farm  # noqa: E402


def test_floor_keeps_the_task_graph_and_drops_the_modules(tmp_path: Path) -> None:
    playbook = benchmark_farm.write_floor_collection(tmp_path)
    tasks = yaml.safe_load((playbook.parents[1] / "roles" / "web_node" / "tasks" / "main.yml").read_text(encoding="utf-8"))
    original = yaml.safe_load((REPO / "roles" / "web_node" / "tasks" / "main.yml").read_text(encoding="utf-8"))
    assert [task.get("name") for task in tasks] == [task.get("name") for task in original]
    for task, source in zip(tasks, original):
        assert {key: source[key] for key in ("loop", "when", "register") if key in source} == {
            key: task[key] for key in ("loop", "when", "register") if key in task
        }
        assert "ansible.builtin.debug" in task or "ansible.builtin.include_tasks" in task
    assert not any(key.startswith("iis.ccs.") for task in tasks for key in task)


def test_tiny_farm_benchmark_reports_medians_and_ratio_for_each_m_interleaved() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "benchmark_farm.py"), "--nodes", "2", "--names", "2,3", "--repeat", "1", "--json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(proc.stdout)
    assert [(r["nodes"], r["names"], r["runs"]) for r in results] == [(2, 2, 1), (2, 3, 1)]
    for result in results:
        assert len(result["samples"]["farm"]) == len(result["samples"]["floor"]) == 1
        assert abs(result["ratio"] - result["farm_s"] / result["floor_s"]) < 0.05
        assert all(len(loads) == 1 and loads[0] >= 0 for loads in result["load_1min_before_each_run"].values())
