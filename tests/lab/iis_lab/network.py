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
from .rules import enforced, register
from .state import state_dir, windows_to_local

_ERRORS = "https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--0-499-"
register("logon-needs-valid-credentials", "LogonUser refuses a wrong or empty user name or password (error 1326)",
         "https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-logonusera; docs/ccs-behaviour.md#store-access")
register("unc-server-reachable", "A UNC path names a server and a share, on a server that answers (error 53)", f"{_ERRORS}; docs/ccs-behaviour.md#store-access")
register("unc-share-exists", "A UNC path on a share the server does not have fails (error 67)", f"{_ERRORS}; docs/ccs-behaviour.md#store-access")

ACCESS_RANK = {"read": 1, "change": 2, "full": 3}
# NTFS permission levels of a share entry's optional ``ntfs`` map, ranked like the share levels.
NTFS_RANK = {"read": 1, "modify": 2, "fullcontrol": 3}


class Network:
    def __init__(self, config: t.Mapping[str, t.Any] | None) -> None:
        config = dict(config or {})
        overrides = _read_overrides()
        self.domain = str(config.get("domain", "LAB")).upper()
        self.domain_fqdn = str(config.get("domain_fqdn", "lab.local")).lower()
        self.accounts = {self._canonical_domain_name(k): str(v) for k, v in (config.get("accounts") or {}).items()}
        self.shares = {_share_key(s["unc"]): dict(s) for s in (config.get("shares") or [])}
        # The account Ansible logs on with: what a cmdlet that checks a path "as the caller" runs as.
        self.caller = self._canonical_domain_name(str((config.get("winrm_users") or [""])[0]))
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
        if not user and enforced("logon-needs-valid-credentials"):
            raise WindowsError_("The user name or password is incorrect.", "System.ComponentModel.Win32Exception", rule="logon-needs-valid-credentials")
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
        if enforced("logon-needs-valid-credentials"):
            raise WindowsError_("The user name or password is incorrect.", "System.ComponentModel.Win32Exception", rule="logon-needs-valid-credentials")
        return self._canonical_domain_name(user)

    # -- paths ----------------------------------------------------------------
    def resolve(self, host: str, path: str, account: str | None = None, access: str = "read") -> Path:
        """Map a Windows path seen from host to a lab folder, enforcing share permissions for UNC paths."""
        if path.startswith("\\\\"):
            return self._resolve_unc(path, account, access)
        return windows_to_local(host, path)

    def _resolve_unc(self, path: str, account: str | None, access: str) -> Path:
        parts = [p for p in path[2:].split("\\") if p]
        if len(parts) < 2 and enforced("unc-server-reachable"):
            raise WindowsError_(f"The network path was not found: {path}", "System.IO.IOException", rule="unc-server-reachable")
        server = parts[0].lower().split(".")[0]
        if server in self.offline_hosts and enforced("unc-server-reachable"):
            raise WindowsError_("The network path was not found.", "System.IO.IOException", rule="unc-server-reachable")
        share = self.shares.get(f"{server}\\{parts[1].lower()}")
        if share is None and enforced("unc-share-exists"):
            raise WindowsError_("The network name cannot be found.", "System.IO.IOException", rule="unc-share-exists")
        if share is None:  # only with the rule switched off: the share name reads as a folder on the server
            share = {"host": server, "path": "C:\\" + parts[1]}
        if account is not None and not self._allowed(share, account, access) and enforced("effective-access-is-lesser"):
            raise WindowsError_(f"Access to the path '{path}' is denied.", "System.UnauthorizedAccessException", rule="effective-access-is-lesser")
        return self._share_folder(share, parts[2:])

    @staticmethod
    def _share_folder(share: t.Mapping[str, t.Any], below: t.Sequence[str]) -> Path:
        # Windows shares only folders that exist, so a declared share's folder is there from the
        # start, whether or not its host has been contacted yet; folders below it are not.
        host = str(share["host"])
        windows_to_local(host, str(share["path"])).mkdir(parents=True, exist_ok=True)
        return windows_to_local(host, share["path"].rstrip("\\") + "".join("\\" + p for p in below))

    def share_entry(self, path: str) -> dict[str, t.Any] | None:
        parts = [p for p in path[2:].split("\\") if p] if path.startswith("\\\\") else []
        if len(parts) < 2:
            return None
        return self.shares.get(f"{parts[0].lower().split('.')[0]}\\{parts[1].lower()}")

    def access_rank(self, share: t.Mapping[str, t.Any], account: str) -> int:
        """Effective access: the lesser of the share grant and the NTFS grant (which equals the share grant when absent)."""
        share_rank = max((rank for level, rank in ACCESS_RANK.items()
                          if account.lower() in {self._canonical_domain_name(m) for m in share.get(level) or []}), default=0)
        ntfs = share.get("ntfs")
        if ntfs is None:
            return share_rank
        grants = {self._canonical_domain_name(k): NTFS_RANK[str(v).lower()] for k, v in dict(ntfs).items()}
        return min(share_rank, grants.get(account.lower(), 0))

    def _allowed(self, share: t.Mapping[str, t.Any], account: str, access: str) -> bool:
        return self.access_rank(share, account) >= ACCESS_RANK[access]


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
