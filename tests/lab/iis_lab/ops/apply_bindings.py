"""Emulation of apply_bindings.ps1, enforcing what IIS and netsh enforce.

Binding steps work on a copy of the site's bindings that becomes the site's
configuration only at 'commit' (like ServerManager.CommitChanges); HTTP.sys steps take
effect at once (like netsh). Every step is logged so tests can check the order.
"""

from __future__ import annotations

import copy
import typing as t

from .. import model, script_facts
from ..errors import WindowsError_
from ..rules import enforced, register
from . import OpContext, operation

SNI = 1
CCS = 2
EXTENDED_FLAGS = 4 | 8 | 16 | 32 | 64
KNOWN_FLAGS = SNI | CCS | EXTENDED_FLAGS
MINIMUM_BUILD_EXTENDED_FLAGS = 17763
# IIS 10 (Windows 10 / Server 2016, build 10240 and later) brought wildcard host headers.
MINIMUM_BUILD_WILDCARD_HOST = 10240

CONFIG_ERROR = "System.Runtime.InteropServices.COMException"
NETSH_ERROR = "System.Management.Automation.RuntimeException"

_BINDING_SCHEMA = "https://learn.microsoft.com/en-us/iis/configuration/system.applicationhost/sites/site/bindings/binding"
register("binding-key-unique", "IIS refuses a second binding with the same protocol and binding information",
         f"{_BINDING_SCHEMA}; docs/ccs-behaviour.md#bindings")
register("ssl-flags-known-to-iis", "sslFlags beyond SNI and CCS need IIS 10 version 1809 (build 17763); unknown bits are refused",
         "https://learn.microsoft.com/en-us/iis/get-started/whats-new-in-iis-10-version-1809/new-features-introduced-in-iis-10-1809; "
         "docs/ccs-behaviour.md#bindings")
register("sni-binding-needs-host", "An SNI binding needs a host name",
         "docs/ccs-behaviour.md#bindings; https://github.com/jhkimnew/iistest (IISAdministration.ps1)")
register("ccs-binding-needs-host", "A central certificate store binding needs a host name (the file is <host>.pfx)",
         "docs/ccs-behaviour.md#bindings")
register("ccs-binding-needs-enabled-provider", "IIS does not create a CCS binding while the provider is disabled or not installed",
         "docs/ccs-behaviour.md#bindings; https://github.com/jhkimnew/iistest (IISAdministration.ps1)")
register("wildcard-host-needs-iis10", "Wildcard host names exist from IIS 10 (build 10240) on",
         "https://learn.microsoft.com/en-us/iis/get-started/whats-new-in-iis-10/wildcard-host-header-support")
register("netsh-add-existing-fails", "netsh http add sslcert fails with error 183 when the entry exists",
         "https://learn.microsoft.com/en-us/windows-server/networking/technologies/netsh/netsh-http; docs/ccs-behaviour.md#httpsys-ccs-entry")


@operation("apply_bindings")
def apply_bindings(ctx: OpContext) -> dict[str, t.Any]:
    state = ctx.state
    site = model.find_site(state, str(ctx.params.get("site") or "")) if model.iis_installed(state) else None
    if site is None:
        raise WindowsError_(f"IIS site '{ctx.params.get('site')}' does not exist.", "System.Management.Automation.RuntimeException")
    pending = copy.deepcopy(site["bindings"])
    report = []
    stale_ip_ports: list[str] = []
    for step in ctx.params.get("steps") or []:
        entry = dict(step)
        entry["outcome"] = _apply_step(ctx, site, pending, step, entry)
        if step.get("action") in ("convert_binding", "set_binding_flags"):
            stale_ip_ports += entry.pop("_stale_ipport", [])
        elif step.get("action") == "commit":
            _remove_stale_ip_ports(ctx, stale_ip_ports, entry)
            stale_ip_ports = []
        report.append(entry)
    return {
        "steps": report,
        "site": {"name": site["name"], "id": site["id"], "bindings": [dict(b) for b in site["bindings"]]},
        "httpsys": {kind: sorted(state["httpsys"][kind]) for kind in ("ip", "sni", "ccs")},
    }


def _apply_step(ctx: OpContext, site: dict[str, t.Any], pending: list[dict[str, t.Any]], step: t.Mapping[str, t.Any], entry: dict[str, t.Any]) -> str:
    action = str(step.get("action"))
    httpsys = ctx.state["httpsys"]
    if action == "ensure_ccs_entry":
        port = int(step["port"])
        if _ccs_entry(httpsys, port) is not None:
            return "present"
        _netsh_add_ccs(ctx, port)
        return "done"
    if action == "add_binding":
        flags = int(step["ssl_flags"])
        info = str(step["binding_information"])
        _check_https_binding(ctx.state, info, flags)
        if _find(pending, "https", info) is not None and enforced("binding-key-unique"):
            raise _duplicate_binding(info)
        pending.append({"protocol": "https", "binding_information": info, "ssl_flags": flags, "certificate_hash": "", "certificate_store": ""})
        ctx.log("add_binding", binding_information=info, ssl_flags=flags)
        return "done"
    if action in ("convert_binding", "set_binding_flags"):
        flags = int(step["ssl_flags"])
        protocol, info = str(step["protocol"]), str(step["binding_information"])
        binding = _find(pending, protocol, info)
        if binding is None:
            raise WindowsError_(f"binding {protocol} {info} no longer exists; run the task again.", NETSH_ERROR)
        _check_https_binding(ctx.state, binding["binding_information"], flags)
        if protocol != "https" and _find(pending, "https", info) is not None and enforced("binding-key-unique"):
            raise _duplicate_binding(info)
        edited_hash = binding["protocol"] == "https" and binding.get("certificate_hash") and not int(binding.get("ssl_flags") or 0) & SNI
        if edited_hash and enforced("binding-hash-edit-leaves-ipport"):
            entry["_stale_ipport"] = [ip_port_of(binding["binding_information"])]
        if script_facts.has("removes_stale_ipport"):
            # Rebuilt: the old element goes and a new one takes its place (AddAt), in one commit.
            index = pending.index(binding)
            binding = dict(binding)
            pending[index] = binding
        binding.update(protocol="https", ssl_flags=flags, certificate_hash="", certificate_store="")
        ctx.log(action, from_protocol=protocol, binding_information=binding["binding_information"], ssl_flags=flags)
        return "done"
    if action == "remove_binding":
        protocol, info = str(step["protocol"]), str(step["binding_information"])
        binding = _find(pending, protocol, info)
        if binding is None:
            return "absent"
        pending.remove(binding)
        ctx.log("remove_binding", protocol=protocol, binding_information=binding["binding_information"])
        return "done"
    if action == "commit":
        site["bindings"] = copy.deepcopy(pending)
        ctx.log("commit", site=site["name"], bindings=len(pending))
        return "done"
    if action == "delete_sni_entry":
        host_port = str(step["host_port"])
        if host_port not in httpsys["sni"]:
            return "absent"
        del httpsys["sni"][host_port]
        ctx.log("netsh_delete_sni", host_port=host_port)
        return "done"
    if action == "remove_ccs_entry_if_unused":
        port = int(step["port"])
        users = _ccs_sites_on_port(ctx.state, port)
        if users:
            entry["used_by"] = users
            ctx.log("keep_ccs_entry", port=port, used_by=users)
            return "kept"
        key = _ccs_entry(httpsys, port)
        if key is None:
            return "absent"
        del httpsys["ccs"][key]
        ctx.log("netsh_delete_ccs", port=port)
        return "done"
    raise WindowsError_(f"unknown apply_bindings step '{action}'", NETSH_ERROR)


def _duplicate_binding(info: str) -> WindowsError_:
    return WindowsError_(
        "Cannot add duplicate collection entry of type 'binding' with combined key attributes "
        f"'protocol, bindingInformation' respectively set to 'https, {info}'",
        CONFIG_ERROR,
        rule="binding-key-unique",
    )


def ip_port_of(info: str) -> str:
    """The HTTP.sys ipport= key of a binding without SNI: "*:443:host" -> "0.0.0.0:443"."""
    address, _sep, rest = info.rpartition(":")[0].rpartition(":")
    return f"{'0.0.0.0' if address in ('*', '') else address}:{rest}"


def _remove_stale_ip_ports(ctx: OpContext, candidates: list[str], entry: dict[str, t.Any]) -> None:
    """rule binding-hash-edit-leaves-ipport: an edited binding leaves its ipport= entry; the rebuilding script removes it."""
    if not script_facts.has("removes_stale_ipport"):
        return
    removed = []
    for ip_port in candidates:
        if ip_port in ctx.state["httpsys"]["ip"] and not _ip_port_in_use(ctx.state, ip_port):
            del ctx.state["httpsys"]["ip"][ip_port]
            removed.append(ip_port)
            ctx.log("netsh_delete_ipport", ip_port=ip_port)
    if removed:
        entry["removed_ipport"] = removed


def _ip_port_in_use(state: t.Mapping[str, t.Any], ip_port: str) -> bool:
    return any(b["protocol"] == "https" and b.get("certificate_hash") and not int(b.get("ssl_flags") or 0) & (SNI | CCS)
               and ip_port_of(b["binding_information"]) == ip_port for site in state["sites"] for b in site["bindings"])


def _check_https_binding(state: t.Mapping[str, t.Any], info: str, flags: int) -> None:
    """What IIS refuses when an https binding is written (IIS team tests, sslFlags schema)."""
    host = info.rpartition(":")[2]
    build = int(state["windows"]["build"])
    unknown_flags = flags & ~KNOWN_FLAGS or (flags & EXTENDED_FLAGS and build < MINIMUM_BUILD_EXTENDED_FLAGS)
    if unknown_flags and enforced("ssl-flags-known-to-iis"):
        raise WindowsError_(f"The value {flags} is not valid for attribute 'sslFlags' on this version of IIS.", CONFIG_ERROR, rule="ssl-flags-known-to-iis")
    if flags & SNI and not host and enforced("sni-binding-needs-host"):
        raise WindowsError_("An SNI binding needs a host name.", CONFIG_ERROR, rule="sni-binding-needs-host")
    if flags & CCS:
        if not host and enforced("ccs-binding-needs-host"):
            raise WindowsError_("A central certificate store binding needs a host name.", CONFIG_ERROR, rule="ccs-binding-needs-host")
        provider = model.registry_key(state, model.PROVIDER_KEY) or {}
        provider_off = not model.ccs_installed(state) or int(provider.get("Enabled") or 0) != 1
        if provider_off and enforced("ccs-binding-needs-enabled-provider"):
            raise WindowsError_("The central certificate provider is not enabled; enable it before adding CCS bindings.", NETSH_ERROR,
                                rule="ccs-binding-needs-enabled-provider")
    if host.startswith("*.") and build < MINIMUM_BUILD_WILDCARD_HOST and enforced("wildcard-host-needs-iis10"):
        raise WindowsError_(f"Wildcard host name '{host}' needs IIS 10.", CONFIG_ERROR, rule="wildcard-host-needs-iis10")


def _netsh_add_ccs(ctx: OpContext, port: int) -> None:
    key = f"0.0.0.0:{port}"
    if key in ctx.state["httpsys"]["ccs"] and enforced("netsh-add-existing-fails"):
        # What netsh answers when the entry is already there.
        raise WindowsError_(
            "netsh http add sslcert failed: SSL Certificate add failed, Error: 183 Cannot create a file when that file already exists.", NETSH_ERROR,
            rule="netsh-add-existing-fails",
        )
    ctx.state["httpsys"]["ccs"][key] = {"appid": "{4dc3e181-e14b-4a21-b022-59fc669b0914}"}
    ctx.log("netsh_add_ccs", port=port)


def _ccs_entry(httpsys: t.Mapping[str, t.Any], port: int) -> str | None:
    for key in httpsys["ccs"]:
        if key.rpartition(":")[2] == str(port):
            return str(key)
    return None


def _ccs_sites_on_port(state: t.Mapping[str, t.Any], port: int) -> list[str]:
    users = []
    for site in state["sites"]:
        for binding in site["bindings"]:
            info = binding["binding_information"]
            binding_port = info.rpartition(":")[0].rpartition(":")[2]
            if binding["protocol"] == "https" and int(binding.get("ssl_flags") or 0) & CCS and binding_port == str(port):
                users.append(site["name"])
                break
    return users


def _find(bindings: list[dict[str, t.Any]], protocol: str, info: str) -> dict[str, t.Any] | None:
    # IIS compares the collection keys case-insensitively.
    for binding in bindings:
        if binding["protocol"].lower() == protocol.lower() and binding["binding_information"].lower() == info.lower():
            return binding
    return None
