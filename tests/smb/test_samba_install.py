"""Samba is installed by the tests that need it, never by tools/bootstrap or tools/farm."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from pathlib import Path

import pytest

import _apt
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
    # Waiting for dpkg's lock when another dpkg run holds it, instead of failing at once.
    assert log.read_text().splitlines() == [
        "-o DPkg::Lock::Timeout=600 update -qq", "-o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends samba"]


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


@pytest.mark.skipif(os.geteuid() != 0, reason="apt_install only installs as root")
def test_every_test_installer_takes_the_same_lock_so_parallel_workers_never_race_for_dpkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two pytest workers once ran apt-get at the same moment (pebble while Samba installed): the loser found
    # dpkg's lock taken and its fixture skipped the renewal tests. Samba, pebble and chromium share one lock.
    log = tmp_path / "apt-get.log"
    apt_get = fake_apt_get(tmp_path, log)
    lock = tmp_path / "shared.lock"
    monkeypatch.setattr(_apt, "INSTALL_LOCK", lock)
    monkeypatch.setattr(_samba, "_INSTALL_LOCK", lock)
    lock.touch()
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker is installing something
        waiting = threading.Thread(target=_apt.apt_install, args=("pebble", lambda: None), kwargs={"apt_get": str(apt_get)})
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and not log.exists()  # it waits for the lock instead of calling apt-get
    waiting.join(timeout=30)
    assert not waiting.is_alive() and "install -y -qq --no-install-recommends pebble" in log.read_text()
