"""A throw-away Samba server on 127.0.0.1 for tests and the publish benchmark.

Everything smbd writes (config, tdbsam passdb, locks, logs, the share itself) lives
under one temporary folder. smbd runs in its own session (``setsid``) because it
signals its whole process group when it stops, and is stopped by its own pid only.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

from _apt import INSTALL_LOCK, AptInstallFailed, apt_install  # tests/_apt.py

SHARE_NAME = "ccs"
UNIX_USER = "iisccs-smb"


class SambaUnavailable(RuntimeError):
    """smbd (or a way to give it a Unix account) is not installed here."""


def find_smbd() -> str | None:
    for candidate in (shutil.which("smbd"), "/usr/sbin/smbd", "/usr/local/sbin/smbd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# The lock every test installer shares (tests/_apt.py); a test of the installer points it elsewhere.
_INSTALL_LOCK = INSTALL_LOCK


_RUNTIME_ROOT = Path(__file__).resolve().parents[2] / "tests" / "output" / "smbd"
# Room left below the runtime folder for "/lock/msg.sock/<pid>" and ncalrpc socket names.
_MAX_RUNTIME_PATH = 64
_SOCKET_DIRS = ("lock", "state", "cache", "pid", "ncalrpc", "binddns")


def install_smbd(apt_get: str = "apt-get") -> str | None:
    """Install Samba with apt-get when smbd is missing and we are root; smbd's path, or None.

    Only the SMB tests and the publish benchmark need Samba, so they install it themselves
    (tools/bootstrap and tools/farm do not). A file lock keeps parallel pytest workers from
    running apt-get (and fighting over dpkg's lock) at the same time.
    """
    return _apt_install(apt_get, "samba", find_smbd)


def install_smbclient(apt_get: str = "apt-get") -> str | None:
    """The smbclient command (the floor of tools/benchmark_publish.py), installed like Samba when missing."""
    return _apt_install(apt_get, "smbclient", lambda: shutil.which("smbclient"))


def _apt_install(apt_get: str, package: str, find: t.Callable[[], str | None]) -> str | None:
    try:
        return apt_install(package, find, apt_get=apt_get, lock=_INSTALL_LOCK)
    except AptInstallFailed as exc:
        raise SambaUnavailable(str(exc)) from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find_nss_wrapper() -> str | None:
    for root in ("/usr/lib", "/usr/lib64", "/usr/local/lib"):
        for path in Path(root).rglob("libnss_wrapper.so"):
            return str(path)
    return None


@dataclasses.dataclass
class SambaServer:
    """One running (or stopped) smbd serving a single share."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 0
    share: str = SHARE_NAME
    user: str = UNIX_USER
    password: str = dataclasses.field(default_factory=lambda: "Smb-" + secrets.token_urlsafe(12))
    # More "name = value" lines for the share section (benchmarks compare server settings with them).
    share_options: dict[str, str] = dataclasses.field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    _env: dict[str, str] = dataclasses.field(default_factory=dict)
    _force_user: str = ""

    @functools.cached_property
    def runtime(self) -> Path:
        """smbd's lock, state, pid and socket folders, on a short path.

        smbd keeps Unix sockets there (lock/msg.sock/<pid>, ncalrpc/...), and a socket path may
        not exceed 107 bytes: a test's tmp_path under the checkout can be too long for that.
        """
        short = _RUNTIME_ROOT / secrets.token_hex(4)
        if len(str(short)) > _MAX_RUNTIME_PATH:  # a checkout deep in the file system: the system's temp folder
            return Path(tempfile.mkdtemp(prefix="iisccs-smbd-"))
        return short

    def close(self) -> None:
        """Stop smbd for good and remove its runtime folder."""
        self.stop()
        shutil.rmtree(self.runtime, ignore_errors=True)

    @property
    def local_dir(self) -> Path:
        return self.root / "share"

    @property
    def unc(self) -> str:
        return f"\\\\{self.host}\\{self.share}"

    def setup(self) -> "SambaServer":
        smbd = install_smbd()
        if smbd is None:
            raise SambaUnavailable("smbd is not installed (Debian/Ubuntu: apt-get install samba)")
        if not self.port:
            self.port = _free_port()
        for sub in ("share", "private", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in _SOCKET_DIRS:
            (self.runtime / sub).mkdir(parents=True, exist_ok=True)
        self._env = dict(os.environ)
        self._prepare_account()
        self.config_path.write_text(self._config(), encoding="utf-8")
        self._set_password()
        return self

    @property
    def config_path(self) -> Path:
        return self.root / "smb.conf"

    def _prepare_account(self) -> None:
        if os.geteuid() == 0:
            probe = subprocess.run(["id", "-u", self.user], capture_output=True, check=False)
            if probe.returncode != 0:
                subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", self.user], check=True, capture_output=True)
            # The share folder sits under a private (0700) temp folder, so file access
            # runs as the owner of that folder (force user) rather than the SMB account.
            self._force_user = "root"
            return
        # Not root: give smbd a private passwd/group through nss_wrapper.
        library = _find_nss_wrapper()
        if library is None:
            raise SambaUnavailable("not root and libnss_wrapper is missing (apt-get install libnss-wrapper)")
        self.user = os.environ.get("USER") or "smbtest"
        self._force_user = self.user
        uid, gid = os.getuid(), os.getgid()
        passwd = self.root / "passwd"
        group = self.root / "group"
        passwd.write_text(f"{self.user}:x:{uid}:{gid}::{self.root}:/bin/false\nnobody:x:65534:65534::/:/bin/false\n")
        group.write_text(f"{self.user}:x:{gid}:\nnogroup:x:65534:\n")
        self._env.update(LD_PRELOAD=library, NSS_WRAPPER_PASSWD=str(passwd), NSS_WRAPPER_GROUP=str(group))

    def _config(self) -> str:
        r = self.root
        return f"""[global]
    workgroup = WORKGROUP
    server role = standalone server
    interfaces = 127.0.0.1
    bind interfaces only = yes
    smb ports = {self.port}
    disable netbios = yes
    passdb backend = tdbsam:{r / "private" / "passdb.tdb"}
    private dir = {r / "private"}
    lock directory = {self.runtime / "lock"}
    state directory = {self.runtime / "state"}
    cache directory = {self.runtime / "cache"}
    pid directory = {self.runtime / "pid"}
    ncalrpc dir = {self.runtime / "ncalrpc"}
    binddns dir = {self.runtime / "binddns"}
    log file = {r / "log" / "smbd.log"}
    log level = 1
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    server min protocol = SMB2_10
    map to guest = never
    server signing = mandatory

[{self.share}]
    path = {self.local_dir}
    read only = no
    valid users = {self.user}
    force user = {self._force_user}
    # Without this Samba denies the DELETE access a rename-over (replace) needs.
    acl allow execute always = yes
""" + "".join(f"    {name} = {value}\n" for name, value in self.share_options.items())

    def _set_password(self) -> None:
        smbpasswd = shutil.which("smbpasswd") or "/usr/bin/smbpasswd"
        subprocess.run(
            [smbpasswd, "-c", str(self.config_path), "-a", "-s", self.user],
            input=f"{self.password}\n{self.password}\n".encode(),
            env=self._env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        if self.running:
            return
        smbd = find_smbd()
        assert smbd is not None
        self._process = subprocess.Popen(
            ["setsid", smbd, "--foreground", "--no-process-group", "--debug-stdout", "-s", str(self.config_path)],
            stdout=open(self.root / "log" / "stdout.log", "ab"),
            stderr=subprocess.STDOUT,
            env=self._env,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"smbd exited early: {(self.root / 'log' / 'stdout.log').read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("smbd did not start listening within 15 s")

    def stop(self) -> None:
        """Stop smbd (simulates the replica going down); start() brings it back with the same share."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # Drop pooled client sessions while the server still answers; closing them
        # against a dead server waits for timeouts.
        _reset_smb_client_cache()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def destination(self, **extra: t.Any) -> dict[str, t.Any]:
        """A ccs_cert_publish destination for this share."""
        return {"type": "smb", "path": self.unc, "port": self.port, "user_name": self.user, "password": self.password, **extra}


def _reset_smb_client_cache() -> None:
    try:
        import smbclient

        smbclient.reset_connection_cache()
    except Exception:  # noqa: BLE001 - best effort; the client may hold a dead connection
        pass
