"""The lab's two readings of an inventory.

- What each emulated host is: its starting profile (``iis_lab_profile``) and the lab network
  (``iis_lab_network``), resolved with group inheritance. The WinRM endpoints read these from
  <state dir>/lab-hosts.json, since over WinRM no inventory variable reaches the host.
- How Ansible reaches it: ``to_winrm`` turns an inventory of the iis_lab connection plugin into
  the same inventory over ansible-core's winrm connection (NTLM over HTTP with message
  encryption, the Windows default), one loopback address per host.
"""

from __future__ import annotations

import copy
import json
import typing as t
from pathlib import Path

import yaml

from .state import state_dir

FIRST_ADDRESS = "127.0.10.1"
WINRM_HTTP_PORT = 5985
WINRM_HTTPS_PORT = 5986
_LOOPBACK = "127.0.0.0/8,localhost"


def bypass_proxy(env: t.Mapping[str, str]) -> dict[str, str]:
    """env's NO_PROXY and no_proxy, extended so requests (under pywinrm) never sends the lab's loopback endpoints to a proxy."""
    return {name: ",".join(p for p in (env.get(name), _LOOPBACK) if p) for name in ("NO_PROXY", "no_proxy")}


def load(path: Path) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], yaml.safe_load(path.read_text(encoding="utf-8")))


def _walk(group: t.Mapping[str, t.Any], inherited: t.Mapping[str, t.Any],
          visit: t.Callable[[str, dict[str, t.Any] | None, dict[str, t.Any]], None]) -> None:
    merged = {**inherited, **(group.get("vars") or {})}
    for name, host_vars in (group.get("hosts") or {}).items():
        visit(name, host_vars, merged)
    for child in (group.get("children") or {}).values():
        _walk(child or {}, merged, visit)


def host_definitions(inventory: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """Per host, in order of first appearance: profile, network and ansible_host (if any)."""
    resolved: dict[str, dict[str, t.Any]] = {}

    def visit(name: str, host_vars: dict[str, t.Any] | None, group_vars: dict[str, t.Any]) -> None:
        entry = resolved.setdefault(name, {})
        entry.update(group_vars)
        entry.update(host_vars or {})

    _walk(inventory.get("all") or {}, {}, visit)
    return {
        name: {"profile": v.get("iis_lab_profile") or {}, "network": v.get("iis_lab_network") or {}, "address": v.get("ansible_host")}
        for name, v in resolved.items()
    }


def assign_addresses(definitions: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, str]:
    """One loopback address per host: its own ansible_host when it is a loopback one, else the next free."""
    taken = {str(d["address"]) for d in definitions.values() if str(d.get("address") or "").startswith("127.")}
    prefix, last = FIRST_ADDRESS.rsplit(".", 1)
    free = (f"{prefix}.{n}" for n in range(int(last), 255) if f"{prefix}.{n}" not in taken)
    addresses = {}
    for name, definition in definitions.items():
        address = str(definition.get("address") or "")
        addresses[name] = address if address.startswith("127.") else next(free)
    return addresses


def winrm_account(network: t.Mapping[str, t.Any]) -> tuple[str, str]:
    """The account Ansible logs on with: the lab network's first WinRM user."""
    users = list(network.get("winrm_users") or [])
    if not users:
        raise ValueError("iis_lab_network has no winrm_users: name the account Ansible logs on to the lab hosts with")
    accounts = {k.lower(): str(v) for k, v in (network.get("accounts") or {}).items()}
    return str(users[0]), accounts[str(users[0]).lower()]


def to_winrm(inventory: t.Mapping[str, t.Any], addresses: t.Mapping[str, str], port: int = WINRM_HTTP_PORT) -> dict[str, t.Any]:
    converted = copy.deepcopy(dict(inventory))
    top = converted.setdefault("all", {})
    old_vars = dict(top.get("vars") or {})
    old_vars.pop("ansible_connection", None)
    user, password = winrm_account(old_vars.get("iis_lab_network") or {})
    top["vars"] = {
        "ansible_connection": "winrm",
        "ansible_port": port,
        "ansible_winrm_scheme": "http",
        "ansible_winrm_transport": "ntlm",
        "ansible_user": user,
        "ansible_password": password,
        **old_vars,
    }
    placed: set[str] = set()

    def place(group: dict[str, t.Any]) -> None:
        hosts = group.get("hosts") or {}
        for name in list(hosts):
            if name not in placed and name in addresses:
                hosts[name] = {"ansible_host": addresses[name], **(hosts[name] or {})}
                placed.add(name)
        for child in (group.get("children") or {}).values():
            place(child or {})

    place(top)
    return converted


def write_lab_hosts(inventory: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """Record what the hosts of this inventory are, for endpoints that serve them over WinRM."""
    definitions = host_definitions(inventory)
    path = state_dir() / "lab-hosts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps({"hosts": definitions}, indent=1, sort_keys=True, default=str), encoding="utf-8")
    temp.replace(path)
    return definitions


def read_lab_hosts() -> dict[str, dict[str, t.Any]]:
    path = state_dir() / "lab-hosts.json"
    if not path.exists():
        return {}
    return t.cast(dict[str, dict[str, t.Any]], json.loads(path.read_text(encoding="utf-8"))["hosts"])
