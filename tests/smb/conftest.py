"""pytest fixture ``samba_share``: a real smbd on loopback, per test, under tmp_path."""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _samba import SambaServer, SambaUnavailable, find_smbd  # noqa: E402


@pytest.fixture
def samba_share(tmp_path: Path) -> t.Iterator[SambaServer]:
    if find_smbd() is None and not os.environ.get("CI"):
        pytest.skip("smbd is not installed (apt-get install samba); set CI=1 to make this a failure")
    try:
        server = SambaServer(tmp_path / "samba").setup()
    except SambaUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    server.start()
    try:
        yield server
    finally:
        server.stop()
