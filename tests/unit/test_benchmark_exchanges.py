"""tools/benchmark_exchanges.py runs both endpoint variants and reports its figures (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "benchmark_exchanges.py"


def test_the_benchmark_reports_both_variants_and_the_operation_timeout() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--reps", "1", "--rounds", "2", "--json"], capture_output=True, text=True,
                          timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    assert (figures["exchanges_per_run"], figures["repetitions"]) == (8, 1)
    for key in ("median_s_with_tcp_nodelay", "median_s_without_tcp_nodelay", "median_s_until_operation_timeout", "ratio_without_over_with"):
        assert figures[key] > 0, key
