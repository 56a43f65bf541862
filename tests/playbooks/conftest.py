"""Fixtures for playbook tests."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lab import TRANSPORTS, Lab  # noqa: E402


@pytest.fixture(params=TRANSPORTS)
def lab(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[Lab]:
    """Fresh emulated hosts, reached through each transport in turn: one suite, two transports.

    Each host starts as one iis.ccs has run on before (it keeps the operation scripts), so the round trips
    the tests count are a module's own; a test of a host new to the collection sets IIS_LAB_KEPT_SCRIPTS=0.
    """
    (tmp_path / "state").mkdir()
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IIS_LAB_KEPT_SCRIPTS", "1")
    lab = Lab(tmp_path, transport=request.param)
    yield lab
    if lab.transport == "winrm":
        lab.winrm_lab("stop")
