"""The molecule default scenario (extensions/molecule/default): converge, idempotence, verify on the emulated farm."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from _lab import BIN, REPO, require_tool

# No skip when a module is missing: test_farm.py::test_farm_modules_exist fails instead, and so do these.


def test_molecule_default_scenario_passes_with_zero_changes_on_the_second_run(tmp_path: Path) -> None:
    require_tool("molecule")
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        # A state folder of this run's own: nothing shared with other runs or the developer's tools/farm.
        MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"),
        ANSIBLE_NOCOLOR="1",
        NO_COLOR="1",
    )
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", "default"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    for step in ("converge", "idempotence", "verify"):
        assert f"[default > {step}] Executed: Successful" in output, output[-8000:]
    assert "Verify the store on the file server" in output and "One PFX file per published host name" in output
    # destroy ran last: nothing is left behind in the run's folder.
    assert not (tmp_path / "molecule" / "lab-state").exists()
