"""Fixtures for playbook tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lab import Lab  # noqa: E402


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    (tmp_path / "state").mkdir()
    return Lab(tmp_path)
