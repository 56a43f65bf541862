"""tools/skip_budget.py: only the real-Windows tests and tools left out on purpose may skip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "skip_budget.py"
WINDOWS = "SKIPPED [9] tests/windows/conftest.py:62: real-Windows test: set IIS_CCS_WINDOWS_HOST (see tests/windows/conftest.py)"
MOLECULE = "SKIPPED [1] tests/playbooks/_lab.py:40: molecule: left out of this run on purpose (IIS_CCS_WITHOUT_TOOLS, see tools/test)"
OPENSSL = "SKIPPED [3] tests/unit/certs/corpus.py:170: the openssl command is not installed"


def budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *lines: str, without: str = "") -> subprocess.CompletedProcess[str]:
    log = tmp_path / "pytest.log"
    log.write_text("\n".join(["....s..", "=== short test summary info ===", *lines, "10 passed, 9 skipped"]) + "\n", encoding="utf-8")
    monkeypatch.delenv("IIS_CCS_WINDOWS_HOST", raising=False)
    monkeypatch.setenv("IIS_CCS_WITHOUT_TOOLS", without)
    return subprocess.run([sys.executable, str(SCRIPT), str(log)], capture_output=True, text=True, check=False)


def test_real_windows_skips_are_within_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = budget(tmp_path, monkeypatch, WINDOWS)
    assert result.returncode == 0, result.stdout
    assert "9 expected skips, 0 over budget" in result.stdout


def test_any_other_skip_fails_and_is_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = budget(tmp_path, monkeypatch, WINDOWS, OPENSSL)
    assert result.returncode == 1
    assert "[NOT EXPECTED] tests/unit/certs/corpus.py: the openssl command is not installed" in result.stdout
    assert "9 expected skips, 3 over budget" in result.stdout


def test_a_tool_skips_only_in_the_run_that_leaves_it_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert budget(tmp_path, monkeypatch, WINDOWS, MOLECULE).returncode == 1
    assert budget(tmp_path, monkeypatch, WINDOWS, MOLECULE, without="molecule,ansible-builder").returncode == 0
