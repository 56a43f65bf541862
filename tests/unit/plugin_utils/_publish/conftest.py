# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the ccs_cert_publish unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def folders(tmp_path: Path) -> list[Path]:
    """Two empty replica folders on the controller."""
    result = [tmp_path / "a", tmp_path / "b"]
    for folder in result:
        folder.mkdir()
    return result
