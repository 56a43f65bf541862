"""Make the checkout importable as ansible_collections.iis.ccs for every test; share the certificate corpus."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest

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


def _keep_test_files_in_the_checkout() -> None:
    # tmp_path and tmp_path_factory folders go under tests/output/tmp (git-ignored), not /tmp/pytest-of-<user>.
    # pytest's own numbered folders under that root keep working as usual: a lock per run, so concurrent
    # runs never share one, the last three kept; pytest-xdist workers get sub-folders of the run's folder.
    # An explicit --basetemp still wins.
    root = REPO / "tests" / "output" / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(root))


_keep_test_files_in_the_checkout()
_link_collection()
for path in (str(COLLECTIONS), str(REPO / "tests" / "lab")):
    if path not in sys.path:
        sys.path.insert(0, path)


_CORPUS_FILE = REPO / "tests" / "unit" / "certs" / "corpus.py"


@pytest.fixture(scope="session")
def cert_corpus_module() -> types.ModuleType:
    """tests/unit/certs/corpus.py; tests/ is not a package, so it is loaded by path under one fixed name."""
    name = "iis_ccs_cert_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _CORPUS_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
