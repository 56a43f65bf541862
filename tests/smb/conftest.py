"""pytest fixtures: ``samba_share``, a real smbd on loopback, per test, under tmp_path; ``corpus``, test certificates."""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _samba import SambaServer, SambaUnavailable, install_smbd  # noqa: E402


@pytest.fixture
def samba_factory(tmp_path: Path) -> t.Iterator[t.Callable[[str], SambaServer]]:
    """Starts independent smbd servers (one per replica); all are stopped at the end of the test."""
    servers: list[SambaServer] = []

    def start(name: str = "samba") -> SambaServer:
        # Installs Samba on first use when we are root (the only tests that need it install it).
        if install_smbd() is None and not os.environ.get("CI"):
            pytest.skip("smbd is not installed and we are not root to install it (apt-get install samba); set CI=1 to make this a failure")
        try:
            server = SambaServer(tmp_path / name).setup()
        except SambaUnavailable as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(str(exc))
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.close()


@pytest.fixture
def samba_share(samba_factory: t.Callable[[str], SambaServer]) -> SambaServer:
    """host, port, share, user, password, local_dir; stop()/start() take the replica down and back."""
    return samba_factory("samba")


@pytest.fixture(scope="module")
def corpus(cert_corpus_module: t.Any, tmp_path_factory: pytest.TempPathFactory) -> t.Any:
    return cert_corpus_module.build_corpus(tmp_path_factory.mktemp("smb-corpus"), openssl=None)
