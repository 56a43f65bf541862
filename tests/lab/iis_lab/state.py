"""Persistent state of emulated hosts: one JSON file per host, one folder per host's drives.

State lives under the folder named by IIS_LAB_STATE_DIR (default tests/output/lab-state),
so a new folder means fresh hosts. Every read-modify-write holds an exclusive lock on the
host's file; operations that touch shares on other hosts lock those too, in name order.
The host's file is rewritten only when an operation changed it; the operation log, which
every operation adds to, is a separate append-only file (<host>.oplog.jsonl), so a read
costs one appended line instead of rewriting the whole host (sites grow with the host names).
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
    # Whether the lab account's temporary folder (temp_folder) already holds this collection's
    # operation scripts (a host iis.ccs has run on before). A new host holds none: each operation's
    # first call is sent its script.
    "kept_scripts": False,
}

PRODUCT_NAMES = {
    14393: "Windows Server 2016 Datacenter",
    17763: "Windows Server 2019 Datacenter",
    20348: "Windows Server 2022 Datacenter",
    26100: "Windows Server 2025 Datacenter",
}


def state_dir() -> Path:
    return Path(os.environ.get("IIS_LAB_STATE_DIR") or DEFAULT_STATE_DIR)


def host_file(name: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / f"{name.lower()}.json"


def oplog_file(name: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / f"{name.lower()}.oplog.jsonl"


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
        "server_service": str(merged["server_service"]).lower(),
        "language_mode": str(merged["language_mode"]),
        "smb_sessions": {str(k).lower(): str(v).lower() for k, v in dict(merged["smb_sessions"]).items()},
        "clear_private_key_password_removes_all": bool(merged["clear_private_key_password_removes_all"]),
    }
    for directory in merged.get("directories", []):
        path = windows_to_local(name, directory)
        path.mkdir(parents=True, exist_ok=True)
    # IIS_LAB_KEPT_SCRIPTS=1 makes it every new host's default (the playbook tests' steady state).
    if merged["kept_scripts"] or ("kept_scripts" not in (profile or {}) and os.environ.get("IIS_LAB_KEPT_SCRIPTS") == "1"):
        keep_shipped_scripts(name)
    return state


# The account the iis_lab connection plugin stands for (it logs on as nobody); the WinRM endpoints
# pass the account that did log on. It is the lab's WinRM account (inventory-winrm.yml).
LAB_ACCOUNT = "LAB\\ansible"


def temp_folder(account: str) -> str:
    """[IO.Path]::GetTempPath() for account: the temporary folder of its own profile.

    Windows gives every account its own (%TEMP% lives in the user profile, readable by that
    account alone), so a script one account's call kept is not there for another account. Names
    compare case-insensitively, as Windows compares them.
    """
    user = account.rpartition("\\")[2].partition("@")[0].lower()
    return f"C:\\Users\\{user}\\AppData\\Local\\Temp"


def kept_script_path(host: str, account: str, digest: str) -> Path:
    """Where the loaders keep a script: <temp>\\iis.ccs\\<digest>.ps1 (host_ops.CACHED_LOADER)."""
    from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops  # here: tools read the state without the collection

    return windows_to_local(host, f"{temp_folder(account)}\\{host_ops.SCRIPT_CACHE_FOLDER}\\{digest}.ps1")


def keep_shipped_scripts(host: str, account: str = LAB_ACCOUNT) -> None:
    """account's temporary folder as an earlier run of this collection leaves it: every operation's script kept."""
    from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

    for operation in host_ops.operation_names():
        path = kept_script_path(host, account, host_ops.script_digest(operation))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(host_ops.cached_script(operation).encode("ascii"))


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
    """Locked access to one emulated host's state file and operation log."""

    def __init__(self, name: str, profile: t.Mapping[str, t.Any] | None = None) -> None:
        self.name = name.lower()
        self.profile = profile

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[dict[str, t.Any]]:
        """The host's state, written back only when the caller changed it (not at all when the caller raised)."""
        path = host_file(self.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(path) + ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state, as_read = self._load(path)
            yield state
            # Compared as JSON text, not with ==, which would take 1 for True or 1.0 and keep the old value.
            if as_read is None or _canonical(state) != as_read:
                self._save(path, state)

    def append_oplog(self, entry: t.Mapping[str, t.Any]) -> None:
        """Add one operation to the host's log, numbered from 1; call it inside locked()."""
        path = oplog_file(self.name)
        # One line per operation (ASCII JSON has no raw line breaks): counting them is cheaper than parsing them.
        seq = (path.read_bytes().count(b"\n") if path.exists() else 0) + 1
        with open(path, "a", encoding="ascii") as log:
            log.write(json.dumps({"seq": seq, **entry}, sort_keys=True) + "\n")

    def _load(self, path: Path) -> tuple[dict[str, t.Any], str | None]:
        """The state and its canonical text as read; None when the file must be written whatever happens."""
        if not path.exists():
            return initial_state(self.name, self.profile), None
        state = t.cast(dict[str, t.Any], json.loads(path.read_text(encoding="utf-8")))
        if "oplog" in state:
            # A state folder from before the log had its own file: move the log out, write the state without it.
            self._move_oplog_out(state.pop("oplog"))
            return state, None
        return state, _canonical(state)

    def _move_oplog_out(self, entries: t.Sequence[t.Mapping[str, t.Any]]) -> None:
        path = oplog_file(self.name)
        if not path.exists():
            path.write_text("".join(json.dumps(dict(entry), sort_keys=True) + "\n" for entry in entries), encoding="ascii")

    @staticmethod
    def _save(path: Path, state: dict[str, t.Any]) -> None:
        temp = path.with_suffix(".json.tmp")
        temp.write_text(json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        os.replace(temp, path)


def _canonical(state: t.Mapping[str, t.Any]) -> str:
    # Compact, so that json uses its C encoder: a tenth of the time of the indented text it saves.
    return json.dumps(state, sort_keys=True, ensure_ascii=False)


def read_oplog(name: str, directory: Path | None = None) -> list[dict[str, t.Any]]:
    """Every operation the host ran, oldest first (empty for a host never contacted)."""
    path = oplog_file(name, directory)
    if not path.exists():
        return []
    return [t.cast(dict[str, t.Any], json.loads(line)) for line in path.read_text(encoding="ascii").split("\n") if line]


def read_state(name: str, directory: Path | None = None) -> dict[str, t.Any]:
    """The state of a host as tests see it, with its operation log under "oplog" (no lock; tests run between tasks)."""
    state = t.cast(dict[str, t.Any], json.loads(host_file(name, directory).read_text(encoding="utf-8")))
    state["oplog"] = read_oplog(name, directory)
    return state


def machine_encrypt(state: t.Mapping[str, t.Any], secret: str) -> str:
    # Randomised like the RSA encryption IIS uses: the same secret never gives the same ciphertext twice.
    return Fernet(state["machine_key"].encode("ascii")).encrypt(secret.encode("utf-8")).decode("ascii")


def machine_decrypt(state: t.Mapping[str, t.Any], ciphertext: str) -> str:
    return Fernet(state["machine_key"].encode("ascii")).decrypt(ciphertext.encode("ascii")).decode("utf-8")
