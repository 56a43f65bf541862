# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan the binding changes of iis.ccs.ccs_binding from observed state: pure, no I/O.

The plan is an ordered list of steps for the apply_bindings host operation:
HTTP.sys ``ccs=<port>`` entry first (bindings rely on it), then additions and
in-place conversions, then removals, one configuration commit, then clean-up of
HTTP.sys entries that would otherwise shadow the central store. Nothing that should
keep serving is ever left without a binding on the way.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, replace

from ansible_collections.iis.ccs.plugins.plugin_utils._binding.request import BindingRequest
from ansible_collections.iis.ccs.plugins.plugin_utils._core import ssl_flags
from ansible_collections.iis.ccs.plugins.plugin_utils._core.binding_keys import BindingKey, binding_key, canonical_host, canonical_ip, index_bindings
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import Binding, HttpSysState, Site, split_binding_information

ADD = "add_binding"
CONVERT = "convert_binding"
SET_FLAGS = "set_binding_flags"
REMOVE = "remove_binding"
ENSURE_CCS_ENTRY = "ensure_ccs_entry"
COMMIT = "commit"
DELETE_SNI_ENTRY = "delete_sni_entry"
REMOVE_CCS_ENTRY_IF_UNUSED = "remove_ccs_entry_if_unused"


@dataclass(frozen=True)
class BindingChange:
    """One change to one binding of the site."""

    action: str
    protocol: str
    binding_information: str
    ssl_flags: int
    ssl_flags_before: int | None = None
    certificate_hash_before: str = ""

    def step(self) -> dict[str, t.Any]:
        step: dict[str, t.Any] = {"action": self.action, "protocol": self.protocol, "binding_information": self.binding_information}
        if self.action != REMOVE:
            step["ssl_flags"] = self.ssl_flags
        return step


@dataclass(frozen=True)
class BindingPlan:
    port: int
    changes: tuple[BindingChange, ...]
    ensure_ccs_entry: bool
    remove_ccs_entry_if_unused: bool
    delete_sni_entries: tuple[str, ...]
    before: tuple[Binding, ...]
    after: tuple[Binding, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.ensure_ccs_entry or self.remove_ccs_entry_if_unused or self.delete_sni_entries)

    def steps(self) -> list[dict[str, t.Any]]:
        """The ordered steps of the apply_bindings operation (make-before-break)."""
        steps: list[dict[str, t.Any]] = []
        if self.ensure_ccs_entry:
            steps.append({"action": ENSURE_CCS_ENTRY, "port": self.port})
        # Additions and conversions first, removals after: all in one commit, so
        # IIS never sees a configuration where a kept host name lost its binding.
        steps.extend(change.step() for change in self.changes if change.action != REMOVE)
        steps.extend(change.step() for change in self.changes if change.action == REMOVE)
        if self.changes:
            steps.append({"action": COMMIT})
        # Only once the CCS binding is committed may the old per-host certificate
        # entry go; until then it keeps serving that host.
        steps.extend({"action": DELETE_SNI_ENTRY, "host_port": entry} for entry in self.delete_sni_entries)
        if self.remove_ccs_entry_if_unused:
            steps.append({"action": REMOVE_CCS_ENTRY_IF_UNUSED, "port": self.port})
        return steps


def plan_bindings(request: BindingRequest, site: Site, httpsys: HttpSysState) -> BindingPlan:
    wanted = {entry.ascii for entry in request.host_names}
    index = index_bindings(site.bindings)
    changes: list[BindingChange] = []
    if request.state == "present":
        for entry in request.host_names:
            change = _plan_present(request, index, entry.ascii)
            if change is not None:
                changes.append(change)
        if request.exclusive:
            changes.extend(_remove(b) for b in site.bindings if _is_other_https_on_port(b, request, wanted))
    else:
        for entry in request.host_names:
            existing = index.get(binding_key("https", request.ip, request.port, entry.ascii))
            if existing is not None:
                changes.append(_remove(existing))

    after = apply_changes(site.bindings, changes)
    removed = [c for c in changes if c.action == REMOVE]
    ccs_left_in_site = any(_is_ccs_on_port(b, request.port) for b in after)
    return BindingPlan(
        port=request.port,
        changes=tuple(changes),
        ensure_ccs_entry=request.state == "present" and request.port not in httpsys.ccs_ports,
        remove_ccs_entry_if_unused=(
            not ccs_left_in_site and request.port in httpsys.ccs_ports and any(ssl_flags.uses_ccs(c.ssl_flags_before or 0) for c in removed)
        ),
        delete_sni_entries=_stale_sni_entries(changes, httpsys, request.port),
        before=site.bindings,
        after=after,
    )


def desired_flags(request: BindingRequest, current: int) -> int:
    """Keep every bit the task does not manage; set CCS, SNI as asked, and the requested flags."""
    flags = current & ~request.managed_mask
    flags |= ssl_flags.CENTRAL_CERT_STORE | request.flags_on
    if request.sni:
        flags |= ssl_flags.SNI
    return flags


def apply_changes(bindings: t.Sequence[Binding], changes: t.Sequence[BindingChange]) -> tuple[Binding, ...]:
    """The site's bindings once changes are made (used for check mode and --diff)."""
    result = list(bindings)
    for change in changes:
        index = _index_of(result, change.protocol, change.binding_information)
        if change.action == ADD:
            result.append(_new_binding(change))
        elif change.action in (CONVERT, SET_FLAGS) and index is not None:
            result[index] = replace(result[index], protocol="https", ssl_flags=change.ssl_flags, certificate_hash="", certificate_store="")
        elif change.action == REMOVE and index is not None:
            del result[index]
    return tuple(result)


def _plan_present(request: BindingRequest, index: t.Mapping[BindingKey, Binding], host: str) -> BindingChange | None:
    https = index.get(binding_key("https", request.ip, request.port, host))
    if https is not None:
        flags = desired_flags(request, https.ssl_flags)
        if flags == https.ssl_flags and not https.certificate_hash:
            return None
        # A certificate-hash binding becomes a CCS binding in place: same element,
        # new flags, hash dropped. Never a second binding for the same host:port.
        action = CONVERT if https.certificate_hash or not ssl_flags.uses_ccs(https.ssl_flags) else SET_FLAGS
        return BindingChange(action, "https", https.binding_information, flags, https.ssl_flags, https.certificate_hash)
    http = index.get(binding_key("http", request.ip, request.port, host))
    if http is not None:
        # http on the HTTPS port for this host: change its protocol rather than add a
        # duplicate next to it (the http->https duplicate defect).
        return BindingChange(CONVERT, "http", http.binding_information, desired_flags(request, 0), http.ssl_flags)
    binding_information = f"{request.ip}:{request.port}:{host}"
    return BindingChange(ADD, "https", binding_information, desired_flags(request, 0))


def _remove(binding: Binding) -> BindingChange:
    return BindingChange(REMOVE, binding.protocol, binding.binding_information, 0, binding.ssl_flags, binding.certificate_hash)


def _is_other_https_on_port(binding: Binding, request: BindingRequest, wanted: set[str]) -> bool:
    if binding.protocol != "https" or binding.port != request.port:
        return False
    return not (canonical_ip(binding.ip) == canonical_ip(request.ip) and canonical_host(binding.host) in wanted)


def _is_ccs_on_port(binding: Binding, port: int) -> bool:
    return binding.protocol == "https" and binding.port == port and ssl_flags.uses_ccs(binding.ssl_flags)


def _stale_sni_entries(changes: t.Sequence[BindingChange], httpsys: HttpSysState, port: int) -> tuple[str, ...]:
    # A host:port certificate entry left behind by a thumbprint SNI binding wins over
    # the central store for that host, so it goes once the binding no longer uses it.
    present = {entry.lower(): entry for entry in httpsys.sni_bindings}
    stale: list[str] = []
    for change in changes:
        if not change.certificate_hash_before or not ssl_flags.uses_sni(change.ssl_flags_before or 0):
            continue
        host = change.binding_information.rpartition(":")[2]
        entry = present.get(f"{host}:{port}".lower())
        if entry is not None and entry not in stale:
            stale.append(entry)
    return tuple(stale)


def _index_of(bindings: t.Sequence[Binding], protocol: str, binding_information: str) -> int | None:
    for index, binding in enumerate(bindings):
        if binding.protocol == protocol and binding.binding_information.lower() == binding_information.lower():
            return index
    return None


def _new_binding(change: BindingChange) -> Binding:
    ip, port, host = split_binding_information(change.binding_information)
    return Binding(protocol="https", ip=ip, port=port, host=host, ssl_flags=change.ssl_flags)
