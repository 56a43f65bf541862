"""Samba is installed by the tests that need it, never by tools/bootstrap or tools/farm."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import _samba

REPO = Path(__file__).resolve().parents[2]


def fake_apt_get(folder: Path, log: Path) -> Path:
    script = folder / "apt-get"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.skipif(os.geteuid() != 0, reason="install_smbd only installs as root")
def test_missing_smbd_is_installed_once_with_apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "apt-get.log"
    apt_get = fake_apt_get(tmp_path, log)
    installed: list[str] = []
    # smbd appears once apt-get has installed the package.
    monkeypatch.setattr(_samba, "find_smbd", lambda: "/usr/sbin/smbd" if log.exists() and "install" in log.read_text() else None)
    monkeypatch.setattr(_samba, "_INSTALL_LOCK", tmp_path / "install.lock")
    installed.append(str(_samba.install_smbd(str(apt_get))))
    installed.append(str(_samba.install_smbd(str(apt_get))))
    assert installed == ["/usr/sbin/smbd", "/usr/sbin/smbd"]
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq --no-install-recommends samba"]


def test_present_smbd_runs_no_apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "apt-get.log"
    monkeypatch.setattr(_samba, "find_smbd", lambda: "/usr/sbin/smbd")
    assert _samba.install_smbd(str(fake_apt_get(tmp_path, log))) == "/usr/sbin/smbd"
    assert not log.exists()


@pytest.mark.parametrize("script", ["tools/bootstrap", "tools/farm"])
def test_the_farm_build_installs_no_system_package(script: str) -> None:
    # tools/farm runs tools/bootstrap; neither may install Samba (or anything else) with apt-get.
    code = [line for line in (REPO / script).read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    assert [line for line in code if "apt-get" in line or "samba" in line.lower()] == []
