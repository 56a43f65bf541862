"""tools/benchmark_publish.py on a tiny store: every run completes and the unchanged re-runs move no PFX bytes.

No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _samba import install_smbclient, install_smbd

REPO = Path(__file__).resolve().parents[2]


def test_tiny_publish_benchmark_reports_every_run() -> None:
    if (install_smbd() is None or install_smbclient() is None) and not os.environ.get("CI"):
        pytest.skip("smbd or smbclient is not installed (apt-get install samba smbclient); set CI=1 to make this a failure")
    args = [sys.executable, str(REPO / "tools" / "benchmark_publish.py"), "--certificates", "20", "--names", "2", "--renew", "2", "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    assert figures["files_on_share"] == 40
    assert figures["batch_first"]["files_changed"] == figures["separate_first"]["files_changed"] == 40
    assert figures["batch_renewal"]["files_changed"] == 4
    for run in ("batch_unchanged", "separate_unchanged"):
        assert figures[run]["pfx_bytes_read"] == figures[run]["pfx_bytes_written"] == figures[run]["files_changed"] == 0
    assert figures["separate_first"]["ms_per_task_first_tenth"] > 0 and figures["floor"]["seconds"] > 0
    # Each separate run has its own per-task floor, grown like the store; its puts left the store alone.
    for run in ("separate_first", "separate_unchanged"):
        assert figures[run]["floor_ms_per_task_first_tenth"] > 0
        assert isinstance(figures[run]["ms_fitted_rise"], float) and isinstance(figures[run]["floor_ms_fitted_rise"], float)


def test_store_sizes_mode_reports_one_unchanged_task_per_store_size() -> None:
    if (install_smbd() is None or install_smbclient() is None) and not os.environ.get("CI"):
        pytest.skip("smbd or smbclient is not installed (apt-get install samba smbclient); set CI=1 to make this a failure")
    args = [sys.executable, str(REPO / "tools" / "benchmark_publish.py"), "--store-sizes", "4,200", "--names", "2", "--repeat", "2", "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sizes = json.loads(proc.stdout)["sizes"]
    assert [run["files"] for run in sizes.values()] == [4, 200]
    small, large = sizes.values()
    # The same bytes and round trips whatever the store's size, and no PFX byte moved (times are only reported).
    assert (small["other_bytes"], small["round_trips"]) == (large["other_bytes"], large["round_trips"])
    assert small["pfx_bytes_read"] == small["pfx_bytes_written"] == large["pfx_bytes_read"] == large["pfx_bytes_written"] == 0
    assert small["ms_task"] > 0 and small["ms_floor"] > 0


def test_smb_steps_benchmark_reports_every_way() -> None:
    if (install_smbd() is None or install_smbclient() is None) and not os.environ.get("CI"):
        pytest.skip("smbd or smbclient is not installed (apt-get install samba smbclient); set CI=1 to make this a failure")
    args = [sys.executable, str(REPO / "tools" / "benchmark_smb_steps.py"), "--files", "6", "--repeat", "1", "--json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    assert set(figures["runs"]) == {"floor", "step-by-step", "compound", "compound x4", "compound x8", "verified x4", "verified x8"}
    assert all(run["seconds"] > 0 for run in figures["runs"].values())
