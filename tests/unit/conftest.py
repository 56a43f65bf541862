"""Fixtures for the unit tests."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

_CORPUS_FILE = Path(__file__).parent / "certs" / "corpus.py"


def _corpus_module() -> types.ModuleType:
    # tests/ is not a package, so the corpus is loaded by path under one fixed module name.
    name = "iis_ccs_cert_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _CORPUS_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def cert_corpus(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Certificates, keys and PFX files generated once per session (see tests/unit/certs/corpus.py)."""
    return _corpus_module().build_corpus(tmp_path_factory.mktemp("cert-corpus"))
