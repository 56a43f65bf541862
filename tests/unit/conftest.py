"""Fixtures for the unit tests."""

from __future__ import annotations

import types

import pytest


@pytest.fixture(scope="session")
def cert_corpus(cert_corpus_module: types.ModuleType, tmp_path_factory: pytest.TempPathFactory) -> object:
    """Certificates, keys and PFX files generated once per session (see tests/unit/certs/corpus.py)."""
    return cert_corpus_module.build_corpus(tmp_path_factory.mktemp("cert-corpus"))
