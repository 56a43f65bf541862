"""Make the checkout importable as ansible_collections.iis.ccs for every test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / "tests" / "output" / "collections"


def _link_collection() -> None:
    link = COLLECTIONS / "ansible_collections" / "iis" / "ccs"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(REPO, target_is_directory=True)
        except FileExistsError:
            pass  # another xdist worker won the race
    os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))


_link_collection()
for path in (str(COLLECTIONS), str(REPO / "tests" / "lab")):
    if path not in sys.path:
        sys.path.insert(0, path)
