# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logic of iis.ccs.ccs_binding: validate, read once, plan, apply once when needed, report."""

from __future__ import annotations

import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._binding.plan import COMMIT, BindingPlan, plan_bindings
from ansible_collections.iis.ccs.plugins.plugin_utils._binding.request import BindingRequest, flag_option_names, parse_requests
from ansible_collections.iis.ccs.plugins.plugin_utils._core import ssl_flags
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext, UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostConnectionLost, HostOperationError, HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import Binding, HostState, HttpSysState, Site, read_state

APPLY_OPERATION = "apply_bindings"

# Only the named site is read: the HTTP.sys ccs entry of a port is shared by every
# site, but whether another site still needs it is decided on the host by the apply
# operation, right after its commit. That keeps the unchanged run to one small read
# even on hosts with hundreds of sites, and the decision is made on fresh state.
READ_SECTIONS = ("windows", "features", "provider", "sites", "httpsys")

SITE_COLLECTIONS_HINT = "create it first with microsoft.iis.website (or community.windows.win_iis_website)"


def manage_bindings(context: TaskContext, runner: HostOperationRunner) -> dict[str, t.Any]:
    """One read for every site of the task, then one apply per site entry that must change."""
    requests = parse_requests(context.params)
    batch = context.params.get("bindings") is not None
    state = read_state(runner, READ_SECTIONS, list(dict.fromkeys(request.site for request in requests)))
    httpsys = state.httpsys or HttpSysState((), (), ())
    plans = []
    try:
        for index, request in enumerate(requests):
            site = _require_site(state, request.site, entry=index if batch else None)
            _check_entry(request, state, entry=index if batch else None)
            plans.append((request, site, plan_bindings(request, site, httpsys)))
    except ModuleFailure as exc:
        exc.result["round_trips"] = runner.round_trips
        raise
    entries: list[dict[str, t.Any]] = []
    for index, (request, site, plan) in enumerate(plans):
        try:
            entry = _carry_out(request, site, plan, httpsys, context, runner)
        except HostOperationError as exc:
            if not batch or isinstance(exc, HostConnectionLost):
                raise
            # Each entry is applied on its own, so the earlier ones are done; a re-run converges the rest.
            raise ModuleFailure(
                f"{exc} (bindings[{index}], site '{site.name}': the entries before it were applied and the ones after "
                "it were not tried; fix the cause and run the task again to finish.)",
                changed=any(done["changed"] for done in entries),
                entries=entries,
                round_trips=runner.round_trips,
            ) from None
        httpsys = entry.pop("_httpsys")
        entries.append(entry)
    if not batch:
        result = entries[0]
    else:
        result = {
            "changed": any(entry["changed"] for entry in entries),
            "entries": entries,
            "httpsys": entries[-1]["httpsys"],
        }
        if context.diff:
            result["diff"] = _batch_diff(entries)
        warnings = [warning for entry in entries for warning in entry.pop("warnings", [])]
        if warnings:
            result["warnings"] = list(dict.fromkeys(warnings))
    result["round_trips"] = runner.round_trips
    return result


def _carry_out(
    request: BindingRequest, site: Site, plan: BindingPlan, httpsys: HttpSysState, context: TaskContext, runner: HostOperationRunner
) -> dict[str, t.Any]:
    """One site entry's result; applies its plan (one round trip) only when it changes something."""
    result: dict[str, t.Any] = {"changed": plan.changed, "site": site.name, "port": request.port}
    warnings = collect_warnings(request, httpsys)
    actions = plan.steps()
    after_bindings: t.Sequence[Binding] = plan.after
    after_httpsys = predicted_httpsys(plan, httpsys)

    if plan.changed and not context.check_mode:
        answer = runner.run(APPLY_OPERATION, {"site": site.name, "steps": actions}) or {}
        after_bindings = Site.from_raw(answer.get("site") or {}).bindings
        after_httpsys = HttpSysState.from_raw(answer.get("httpsys") or {})
        actions = list(answer.get("steps") or actions)
        # Someone may have made the same change between our read and the apply; then
        # every step finds its work done and the task honestly reports no change.
        result["changed"] = any(step.get("outcome") == "done" and step.get("action") != COMMIT for step in actions)

    if context.params.get("return_bindings", True):
        result["bindings"] = [binding.public() for binding in after_bindings]
    result["httpsys"] = after_httpsys.public()
    result["actions"] = actions
    if context.diff:
        result["diff"] = {
            "before_header": f"site '{site.name}' bindings",
            "after_header": f"site '{site.name}' bindings",
            "before": describe_bindings(plan.before, httpsys),
            "after": describe_bindings(after_bindings, after_httpsys),
        }
    if warnings:
        result["warnings"] = warnings
    result["_httpsys"] = after_httpsys
    return result


def _batch_diff(entries: t.Sequence[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Before/after of every entry that changed, keyed by site and port; empty when nothing did."""
    changed = [entry for entry in entries if entry["changed"] and "diff" in entry]
    return {
        "before": {f"{entry['site']}:{entry['port']}": entry["diff"]["before"] for entry in changed},
        "after": {f"{entry['site']}:{entry['port']}": entry["diff"]["after"] for entry in changed},
    }


def _check_entry(request: BindingRequest, state: HostState, *, entry: int | None) -> None:
    try:
        check_host(request, state)
    except UserInputError as exc:
        raise UserInputError(str(exc) if entry is None else f"bindings[{entry}].{exc}") from None


def check_host(request: BindingRequest, state: HostState) -> None:
    """Refuse, before any change, what IIS on this host would refuse or break on (docs/ccs-behaviour.md#bindings)."""
    build = state.windows.build if state.windows else 0
    if request.flags_on & ssl_flags.EXTENDED_FLAGS_MASK and build < ssl_flags.MINIMUM_BUILD_FOR_EXTENDED_FLAGS:
        names = ", ".join(flag_option_names(request.flags_on & ssl_flags.EXTENDED_FLAGS_MASK))
        raise UserInputError(
            f"{names}: these binding flags need IIS 10 version 1809 (Windows Server 2019, build "
            f"{ssl_flags.MINIMUM_BUILD_FOR_EXTENDED_FLAGS}) or later; this host runs build {build}. "
            "Leave the options unset on this host."
        )
    if request.state != "present":
        return
    if request.wants_wildcard and state.features is not None and _major(state.features.iis_version) < 10:
        wildcards = ", ".join(e.ascii for e in request.host_names if e.is_wildcard)
        raise UserInputError(f"host_names: wildcard host names ({wildcards}) need IIS 10 or later; this host has IIS {state.features.iis_version}.")
    provider = state.provider
    ccs_installed = state.features.ccs_installed if state.features is not None else True
    if not ccs_installed or provider is None or not provider.enabled:
        what = "the Centralized SSL Certificate Support feature is not installed" if not ccs_installed else "the central certificate provider is not enabled"
        raise ModuleFailure(
            f"{what} on this host, and IIS refuses CCS bindings without it. Enable it first with the "
            "iis.ccs.ccs_provider module (state=enabled); nothing was changed.",
            changed=False,
        )


def collect_warnings(request: BindingRequest, httpsys: HttpSysState) -> list[str]:
    warnings: list[str] = []
    if request.state != "present":
        return warnings
    if not request.sni:
        warnings.append(
            "sni=false: these CCS bindings do not require SNI. Clients that send no SNI cannot be matched to a host "
            "name, so they get a fallback certificate or a failed handshake; keep sni=true unless you must serve such clients."
        )
    shadowing = [entry for entry in httpsys.ip_bindings if _port_of(entry) == request.port]
    if shadowing:
        warnings.append(
            f"HTTP.sys has legacy IP:port certificate binding(s) {', '.join(shadowing)} on port {request.port}. HTTP.sys "
            "checks them before the central certificate store, so clients reaching those addresses may get that "
            "certificate instead of the CCS one. Remove the non-SNI https binding that owns it if CCS should serve them."
        )
    return warnings


def predicted_httpsys(plan: BindingPlan, httpsys: HttpSysState) -> HttpSysState:
    """HTTP.sys entries after the plan, as far as the controller can know (check mode)."""
    ccs_ports = set(httpsys.ccs_ports)
    if plan.ensure_ccs_entry:
        ccs_ports.add(plan.port)
    # Whether another site still uses the ccs entry is only known on the host; check
    # mode reports the entry as kept rather than guess that it goes.
    stale = {entry.lower() for entry in plan.delete_sni_entries}
    sni = tuple(entry for entry in httpsys.sni_bindings if entry.lower() not in stale)
    return HttpSysState(ip_bindings=httpsys.ip_bindings, sni_bindings=sni, ccs_ports=tuple(sorted(ccs_ports)))


def describe_bindings(bindings: t.Sequence[Binding], httpsys: HttpSysState) -> dict[str, t.Any]:
    """Diff view: one line per binding, with flags by value and by name; never a secret."""
    lines = []
    for binding in bindings:
        line = f"{binding.protocol} {binding.binding_information}"
        if binding.protocol == "https":
            names = ",".join(ssl_flags.flag_names(binding.ssl_flags)) or "None"
            line += f" sslFlags={binding.ssl_flags} ({names})"
            if binding.certificate_hash:
                line += f" certificate={binding.certificate_hash}"
        lines.append(line)
    return {"bindings": lines, "httpsys_ccs_ports": list(httpsys.ccs_ports), "httpsys_sni_bindings": list(httpsys.sni_bindings)}


def _require_site(state: HostState, name: str, *, entry: int | None = None) -> Site:
    site = state.site(name)
    if site is not None:
        return site
    option = "site" if entry is None else f"bindings[{entry}].site"
    if state.features is not None and not state.features.iis_installed:
        raise UserInputError(f"{option}: IIS is not installed on this host, so there is no site '{name}'; install IIS and {SITE_COLLECTIONS_HINT}.")
    raise UserInputError(f"{option}: there is no IIS site named '{name}' on this host. This module manages bindings only; {SITE_COLLECTIONS_HINT}.")


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


def _port_of(endpoint: str) -> int:
    try:
        return int(endpoint.rpartition(":")[2])
    except ValueError:
        return 0
