"""The emulated network: domain accounts, SMB shares on lab hosts, hosts that are down.

Configured by the inventory variable iis_lab_network (the same for every host), plus
an optional overrides file (<state dir>/network-overrides.json) that tests use to take
a file server down and bring it back without touching the inventory.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from .errors import WindowsError_
from .state import state_dir, windows_to_local

ACCESS_RANK = {"read": 1, "change": 2, "full": 3}


class Network:
    def __init__(self, config: t.Mapping[str, t.Any] | None) -> None:
        config = dict(config or {})
        overrides = _read_overrides()
        self.domain = str(config.get("domain", "LAB")).upper()
        self.domain_fqdn = str(config.get("domain_fqdn", "lab.local")).lower()
        self.accounts = {self._canonical_domain_name(k): str(v) for k, v in (config.get("accounts") or {}).items()}
        self.shares = {_share_key(s["unc"]): dict(s) for s in (config.get("shares") or [])}
        offline = list(config.get("offline_hosts") or []) + list(overrides.get("offline_hosts") or [])
        self.offline_hosts = {str(h).lower() for h in offline}

    # -- accounts -----------------------------------------------------------
    def canonical_account(self, name: str) -> str:
        """LAB\\user, user@lab.local and user@LAB all name the same domain account."""
        return self._canonical_domain_name(name)

    def _canonical_domain_name(self, name: str) -> str:
        name = name.strip()
        if "@" in name:
            user, _sep, suffix = name.partition("@")
            if suffix.lower() in (self.domain_fqdn, self.domain.lower()):
                return f"{self.domain}\\{user}".lower()
            return name.lower()
        return name.lower()

    def check_logon(self, host: str, local_accounts: t.Mapping[str, str], user: str, password: str) -> str:
        """Validate credentials like LogonUser would; returns the canonical account name."""
        if not user:
            raise WindowsError_("The user name or password is incorrect.", "System.ComponentModel.Win32Exception")
        lowered = user.strip().lower()
        if lowered.startswith((".\\", host.lower() + "\\")):
            local = lowered.split("\\", 1)[1]
            known = {k.lower(): v for k, v in local_accounts.items()}
            if known.get(local) == password:
                return f"{host.lower()}\\{local}"
        else:
            canonical = self._canonical_domain_name(user)
            if self.accounts.get(canonical) == password:
                return canonical
        raise WindowsError_("The user name or password is incorrect.", "System.ComponentModel.Win32Exception")

    # -- paths ----------------------------------------------------------------
    def resolve(self, host: str, path: str, account: str | None = None, access: str = "read") -> Path:
        """Map a Windows path seen from host to a lab folder, enforcing share permissions for UNC paths."""
        if path.startswith("\\\\"):
            return self._resolve_unc(path, account, access)
        return windows_to_local(host, path)

    def _resolve_unc(self, path: str, account: str | None, access: str) -> Path:
        parts = [p for p in path[2:].split("\\") if p]
        if len(parts) < 2:
            raise WindowsError_(f"The network path was not found: {path}", "System.IO.IOException")
        server = parts[0].lower().split(".")[0]
        if server in self.offline_hosts:
            raise WindowsError_("The network path was not found.", "System.IO.IOException")
        share = self.shares.get(f"{server}\\{parts[1].lower()}")
        if share is None:
            raise WindowsError_("The network name cannot be found.", "System.IO.IOException")
        if account is not None and not self._allowed(share, account, access):
            raise WindowsError_(f"Access to the path '{path}' is denied.", "System.UnauthorizedAccessException")
        return self._share_folder(share, parts[2:])

    @staticmethod
    def _share_folder(share: t.Mapping[str, t.Any], below: t.Sequence[str]) -> Path:
        # Windows shares only folders that exist, so a declared share's folder is there from the
        # start, whether or not its host has been contacted yet; folders below it are not.
        host = str(share["host"])
        windows_to_local(host, str(share["path"])).mkdir(parents=True, exist_ok=True)
        return windows_to_local(host, share["path"].rstrip("\\") + "".join("\\" + p for p in below))

    def _allowed(self, share: t.Mapping[str, t.Any], account: str, access: str) -> bool:
        needed = ACCESS_RANK[access]
        for level, rank in ACCESS_RANK.items():
            members = {self._canonical_domain_name(m) for m in share.get(level, [])}
            if rank >= needed and account.lower() in members:
                return True
        return False


def _share_key(unc: str) -> str:
    parts = [p for p in unc[2:].split("\\") if p]
    return f"{parts[0].lower().split('.')[0]}\\{parts[1].lower()}"


def _read_overrides() -> dict[str, t.Any]:
    path = state_dir() / "network-overrides.json"
    if not path.exists():
        return {}
    return t.cast(dict[str, t.Any], json.loads(path.read_text(encoding="utf-8")))


def set_offline_hosts(hosts: t.Iterable[str]) -> None:
    """Used by tests: take lab hosts (file servers) down, or bring them back with an empty list."""
    path = state_dir() / "network-overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"offline_hosts": sorted(hosts)}), encoding="utf-8")
