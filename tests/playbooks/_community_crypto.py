"""community.crypto for the renewal tests, without Galaxy: taken from the pinned ``ansible`` wheel on PyPI.

The ``ansible`` package ships the community collections under ``ansible_collections/``. The wheel is
downloaded once (``pip download --no-deps``) and cached under tests/output/wheels; only
``ansible_collections/community/crypto`` is extracted, into the collections path every test run uses
(tests/output/collections, next to the iis.ccs link). Users install it with
``ansible-galaxy collection install -r meta/requirements.yml`` instead (docs/user-guide.md).
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import zipfile
from pathlib import Path

ANSIBLE_PACKAGE = "ansible==14.5.0"  # ships community.crypto 3.5.0
COMMUNITY_CRYPTO_VERSION = "3.5.0"
PREFIX = "ansible_collections/community/crypto/"


def ensure_community_crypto(repo: Path) -> Path:
    """The collection path holding community.crypto (extracted on first use); safe with parallel workers."""
    output = repo / "tests" / "output"
    collections = output / "collections"
    target = collections / PREFIX
    wheels = output / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    with open(wheels / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version(target) != COMMUNITY_CRYPTO_VERSION:
            _extract(_wheel(wheels), collections)
    version = _installed_version(target)
    if version != COMMUNITY_CRYPTO_VERSION:
        raise RuntimeError(f"community.crypto {COMMUNITY_CRYPTO_VERSION} expected in {target}, found {version}")
    return collections


def _installed_version(target: Path) -> str | None:
    manifest = target / "MANIFEST.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"])


def _wheel(wheels: Path) -> Path:
    name = ANSIBLE_PACKAGE.replace("==", "-")
    found = sorted(wheels.glob(f"{name}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(wheels), ANSIBLE_PACKAGE],
                       check=True, capture_output=True)
        found = sorted(wheels.glob(f"{name}-*.whl"))
    return found[0]


def _extract(wheel: Path, collections: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith(PREFIX)]
        archive.extractall(collections, members=members)
