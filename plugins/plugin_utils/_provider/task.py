# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logic of iis.ccs.ccs_provider: read once, plan, and apply everything in one more round trip.

Round trips: an unchanged run reads the host state (1). A changing run adds one
``configure_provider`` operation that checks access, installs features, applies the
settings and writes the secret record (2). Check mode of a changing enabled run adds one
read-only ``probe_store_access`` probe instead (2), so that an account that cannot read
the store is reported in check mode too.
"""

from __future__ import annotations

import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import TaskContext
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import HostState, read_state
from ansible_collections.iis.ccs.plugins.plugin_utils._provider.plan import ProviderPlan, describe, plan, with_record
from ansible_collections.iis.ccs.plugins.plugin_utils._provider.request import ProviderRequest, parse_request

SECTIONS = ("windows", "features", "provider")


def run_provider(context: TaskContext, runner: HostOperationRunner) -> dict[str, t.Any]:
    request, warnings = parse_request(context.params)
    state = read_state(runner, SECTIONS)
    provider_plan = plan(request, state)
    warnings.extend(provider_plan.warnings)

    reboot_required = False
    after = provider_plan.after
    if provider_plan.changed and context.check_mode:
        if provider_plan.needs_access_check:
            runner.run("probe_store_access", _access_params(request))
    elif provider_plan.changed:
        answer = runner.run("configure_provider", {"steps": with_record(provider_plan.steps, request)}) or {}
        reboot_required = bool(answer.get("reboot_required"))
        after = _observed_after(answer, provider_plan)
        warnings.extend(_repair_warnings(answer))

    result: dict[str, t.Any] = {
        "changed": provider_plan.changed,
        "provider": after if provider_plan.changed else provider_plan.before,
        "steps": provider_plan.descriptions(),
        "secrets": {"applied": provider_plan.secrets_applied, "reason": provider_plan.secrets_reason},
        "reboot_required": reboot_required,
        "round_trips": runner.round_trips,
    }
    if context.diff:
        result["diff"] = {"before": provider_plan.before, "after": after}
    if warnings:
        result["warnings"] = warnings
    return result


def _repair_warnings(answer: t.Mapping[str, t.Any]) -> list[str]:
    """The host put back provider settings that removing the private-key password took with it."""
    repaired = [str(name) for name in answer.get("repaired") or []]
    if not repaired:
        return []
    return [f"Clear-WebCentralCertProvider -PrivateKeyPassword also removed {', '.join(repaired)} on this host; they were put back as they were."]


def _access_params(request: ProviderRequest) -> dict[str, t.Any]:
    return {"store_location": request.store_location, "user_name": request.user_name, "password": request.password}


def _observed_after(answer: t.Mapping[str, t.Any], provider_plan: ProviderPlan) -> dict[str, t.Any]:
    # The operation answers with the provider registry values it left behind (digests, not
    # secrets), so the result reports what the host holds rather than what was intended.
    observed = answer.get("provider")
    if not isinstance(observed, dict) and observed is not None:
        return provider_plan.after
    raw = {"provider": observed, "provider_record": None, "features": answer.get("features") or {}}
    state = HostState.from_raw(raw)
    if state.provider is None or state.features is None:
        return provider_plan.after
    after = describe(state.provider, state.features.ccs_installed)
    # Which secrets were re-applied cannot be read back, only that they are set.
    for name in ("password", "private_key_password"):
        if provider_plan.after.get(name) == "<re-applied>" and after[name] == "<set>":
            after[name] = "<re-applied>"
    return after
