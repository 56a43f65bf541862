"""System packages the tests install for themselves: root only, with apt-get, one installation at a time.

Samba (tests/smb), pebble and chromium (tests/playbooks) are installed by the fixtures that need them,
never by tools/bootstrap or tools/farm. Parallel pytest workers used to run apt-get at the same moment;
the loser found dpkg's lock taken, and its fixture skipped its tests (pebble) or failed (chromium). One
file lock shared by every installer keeps our own apt-get runs apart, and DPkg::Lock::Timeout makes
apt-get wait for a dpkg run that is not ours (unattended-upgrades on a fresh machine) instead of failing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import typing as t
from pathlib import Path

# Test work files live in the checkout (tests/output), never in /tmp.
INSTALL_LOCK = Path(__file__).resolve().parents[1] / "tests" / "output" / "apt-install.lock"
_DPKG_LOCK_WAIT = ("-o", "DPkg::Lock::Timeout=600")


class AptInstallFailed(RuntimeError):
    """apt-get update or install failed; the message ends with its own error output."""


def apt_install(
    package: str, find: t.Callable[[], str | None], *, apt_get: str = "apt-get", recommends: bool = False, lock: Path | None = None
) -> str | None:
    """What find() answers, installing ``package`` first when it answers None and we are root with apt-get."""
    found = find()
    if found is not None or os.geteuid() != 0 or shutil.which(apt_get) is None:
        return found
    lock = lock or INSTALL_LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if find() is None:  # another worker may have installed it while we waited
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            install = [apt_get, *_DPKG_LOCK_WAIT, "install", "-y", "-qq", *([] if recommends else ["--no-install-recommends"]), package]
            for command in ([apt_get, *_DPKG_LOCK_WAIT, "update", "-qq"], install):
                done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200, check=False)
                if done.returncode != 0:
                    raise AptInstallFailed(f"{' '.join(command)} failed: {(done.stderr or done.stdout)[-500:]}")
    return find()
