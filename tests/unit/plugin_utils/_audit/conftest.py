"""Fixtures of the store audit tests; helpers live in audit_helpers.py next to this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audit_helpers import Ca  # noqa: E402


@pytest.fixture(scope="session")
def ca() -> Ca:
    return Ca()
