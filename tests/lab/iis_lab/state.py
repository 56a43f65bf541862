"""Persistent state of emulated hosts: one JSON file per host, one folder per host's drives.

State lives under the folder named by IIS_LAB_STATE_DIR (default tests/output/lab-state),
so a new folder means fresh hosts. Every read-modify-write holds an exclusive lock on the
host's file; operations that touch shares on other hosts lock those too, in name order.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import fcntl
import json
import os
import typing as t
from pathlib import Path

from cryptography.fernet import Fernet

DEFAULT_STATE_DIR = Path(__file__).resolve().parents[2] / "output" / "lab-state"

DEFAULT_PROFILE: dict[str, t.Any] = {
    "windows_build": 20348,
    "installation_type": "Server",
    "edition_id": "ServerDatacenter",
    "product_name": None,
    "features": ["Web-Server"],
    "sites": [{"name": "Default Web Site", "bindings": [{"protocol": "http", "binding_information": "*:80:"}]}],
    "directories": [],
    "local_accounts": {},
    "httpsys": {"ip": [], "sni": [], "ccs": []},
    # Hardened-node and build options (issue 12): the Server service (LanmanServer) running or
    # stopped, the PowerShell language mode, SMB connections the logon session already holds
    # ({server: account}), and whether Clear-WebCentralCertProvider -PrivateKeyPassword removes
    # every provider value (as its page says) or only the private-key password (as IIS tests do).
    "server_service": "running",
    "language_mode": "FullLanguage",
    "smb_sessions": {},
    "clear_private_key_password_removes_all": False,
}

PRODUCT_NAMES = {
    14393: "Windows Server 2016 Datacenter",
    17763: "Windows Server 2019 Datacenter",
    20348: "Windows Server 2022 Datacenter",
    26100: "Windows Server 2025 Datacenter",
}


def state_dir() -> Path:
    return Path(os.environ.get("IIS_LAB_STATE_DIR") or DEFAULT_STATE_DIR)


def host_file(name: str) -> Path:
    return state_dir() / f"{name.lower()}.json"


def drive_root(host: str, drive: str) -> Path:
    return state_dir() / f"{host.lower()}.fs" / drive.lower()


def initial_state(name: str, profile: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    merged = copy.deepcopy(DEFAULT_PROFILE)
    merged.update(copy.deepcopy(dict(profile or {})))
    build = int(merged["windows_build"])
    sites = []
    for index, site in enumerate(merged["sites"], start=1):
        bindings = [
            {
                "protocol": str(b.get("protocol", "http")),
                "binding_information": str(b["binding_information"]),
                "ssl_flags": int(b.get("ssl_flags", 0)),
                "certificate_hash": str(b.get("certificate_hash", "")),
                "certificate_store": str(b.get("certificate_store", "")),
            }
            for b in site.get("bindings", [])
        ]
        sites.append({"name": site["name"], "id": int(site.get("id", index)), "bindings": bindings})
    httpsys = merged.get("httpsys") or {}
    state = {
        "schema": 1,
        "hostname": name.upper(),
        "windows": {
            "build": build,
            "ubr": 1,
            "installation_type": merged["installation_type"],
            "edition_id": merged["edition_id"],
            "product_name": merged.get("product_name") or PRODUCT_NAMES.get(build, f"Windows build {build}"),
        },
        "features": sorted(set(merged["features"])),
        "pending_reboot": False,
        # Stands in for the iisWasKey machine key container: provider secrets are
        # stored encrypted with it, so the state file holds no plain secret.
        "machine_key": base64.urlsafe_b64encode(os.urandom(32)).decode("ascii"),
        "local_accounts": dict(merged.get("local_accounts") or {}),
        "registry": {},
        "sites": sites,
        "httpsys": {
            "ip": {k: {} for k in httpsys.get("ip", [])},
            "sni": {k: {} for k in httpsys.get("sni", [])},
            "ccs": {k: {} for k in httpsys.get("ccs", [])},
        },
        "oplog": [],
        "server_service": str(merged["server_service"]).lower(),
        "language_mode": str(merged["language_mode"]),
        "smb_sessions": {str(k).lower(): str(v).lower() for k, v in dict(merged["smb_sessions"]).items()},
        "clear_private_key_password_removes_all": bool(merged["clear_private_key_password_removes_all"]),
    }
    for directory in merged.get("directories", []):
        path = windows_to_local(name, directory)
        path.mkdir(parents=True, exist_ok=True)
    return state


def windows_to_local(host: str, path: str) -> Path:
    """Map a local Windows path (C:\\x\\y) on host to its folder in the lab."""
    drive, rest = path[0], path[2:]
    local = drive_root(host, drive)
    for part in [p for p in rest.replace("/", "\\").split("\\") if p]:
        local = _child_case_insensitive(local, part)
    return local


def _child_case_insensitive(parent: Path, name: str) -> Path:
    # NTFS is case-insensitive but case-preserving; mirror that on a Linux folder.
    candidate = parent / name
    if candidate.exists() or not parent.is_dir():
        return candidate
    lowered = name.lower()
    for entry in parent.iterdir():
        if entry.name.lower() == lowered:
            return entry
    return candidate


class HostStore:
    """Locked access to one emulated host's state file."""

    def __init__(self, name: str, profile: t.Mapping[str, t.Any] | None = None) -> None:
        self.name = name.lower()
        self.profile = profile

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[dict[str, t.Any]]:
        path = host_file(self.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(path) + ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._load(path)
            yield state
            self._save(path, state)

    def _load(self, path: Path) -> dict[str, t.Any]:
        if path.exists():
            return t.cast(dict[str, t.Any], json.loads(path.read_text(encoding="utf-8")))
        return initial_state(self.name, self.profile)

    @staticmethod
    def _save(path: Path, state: dict[str, t.Any]) -> None:
        temp = path.with_suffix(".json.tmp")
        temp.write_text(json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        os.replace(temp, path)


def read_state(name: str) -> dict[str, t.Any]:
    """The state of a host as tests see it (no lock; tests run between tasks)."""
    return t.cast(dict[str, t.Any], json.loads(host_file(name).read_text(encoding="utf-8")))


def machine_encrypt(state: t.Mapping[str, t.Any], secret: str) -> str:
    # Randomised like the RSA encryption IIS uses: the same secret never gives the same ciphertext twice.
    return Fernet(state["machine_key"].encode("ascii")).encrypt(secret.encode("utf-8")).decode("ascii")


def machine_decrypt(state: t.Mapping[str, t.Any], ciphertext: str) -> str:
    return Fernet(state["machine_key"].encode("ascii")).decrypt(ciphertext.encode("ascii")).decode("utf-8")
