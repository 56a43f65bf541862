# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccs_store_info from task parameters to result: read every replica (and the ACL), cross-check the farm, list findings.

Read-only in every mode: the same reads run in check mode, and nothing is ever written.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._audit import acl, crosscheck, files
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.certfile import iso
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.findings import Finding, at_or_above, count_by_severity, sort_findings
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.store_read import ReplicaRead, read_replica
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import TaskContext, UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import ReplicaFactory, build_replica, check_destinations, check_key_password


def check_options(params: t.Mapping[str, t.Any]) -> None:
    check_key_password(params)
    check_destinations(params["destinations"])
    warning, error = params["expiry_warning_days"], params["expiry_error_days"]
    if error < 0 or warning < 0:
        raise UserInputError("expiry_warning_days, expiry_error_days: must be 0 or more")
    if error > warning:
        raise UserInputError(f"expiry_error_days ({error}) must not exceed expiry_warning_days ({warning})")
    nodes = params.get("nodes") or {}
    bad = [name for name, info in nodes.items() if not isinstance(info, dict)]
    if bad:
        raise UserInputError(f"nodes: each value must be the ccs_info result of that node (a dictionary); not so for {', '.join(sorted(bad))}")
    audit = params.get("acl_audit")
    if audit is not None and not audit["reader_accounts"]:
        raise UserInputError("acl_audit.reader_accounts: give the CCS account (the provider's user_name)")


def run_store_info(context: TaskContext, runner: HostOperationRunner, *, replica_factory: ReplicaFactory = build_replica) -> dict[str, t.Any]:
    params = context.params
    check_options(params)
    now = datetime.datetime.now(datetime.timezone.utc)
    reads = [read_replica(replica_factory(d, runner)) for d in params["destinations"]]
    nodes = [crosscheck.node_view(name, info) for name, info in sorted((params.get("nodes") or {}).items())]
    policy = files.Policy(params["expiry_warning_days"], params["expiry_error_days"], crosscheck.has_server_2016(nodes))
    records = files.collect(reads, params.get("private_key_password"), now)
    findings = [f for r in reads for f in files.replica_findings(r)] + [f for rec in records for f in files.file_findings(rec, policy)]
    result: dict[str, t.Any] = {"changed": False, "generated_at": iso(now)}
    if params.get("nodes") is not None:
        findings += _farm(result, nodes, records, params.get("store_location"))
    if params.get("acl_audit") is not None:
        findings += _acl(result, runner, acl.AclPolicy.from_params(params["acl_audit"]))
    result.update(
        replicas=[r.public() for r in reads],
        files=[rec.public() for rec in records],
        findings=[f.as_dict() for f in sort_findings(findings)],
        summary={**summary(findings, records, reads, nodes), "expiry_warning_days": policy.expiry_warning_days, "expiry_error_days": policy.expiry_error_days},
        round_trips=runner.round_trips,
    )
    return result


def _farm(result: dict[str, t.Any], nodes: list[crosscheck.NodeView], records: list[files.FileRecord], store_location: str | None) -> list[Finding]:
    store_files = {rec.key for rec in records}
    found = [f for n in nodes for f in crosscheck.node_findings(n, store_location, store_files)]
    found += crosscheck.orphan_findings(nodes, store_files, {rec.key: rec.name for rec in records})
    result["nodes"] = [
        {
            "name": n.name,
            "readable": n.readable,
            "provider_enabled": n.provider_enabled,
            "store_location": n.store_location,
            "build": n.build,
            "bound": list(n.bound),
        }
        for n in nodes
    ]
    result["matrix"] = crosscheck.matrix(nodes, store_files)
    return found


def _acl(result: dict[str, t.Any], runner: HostOperationRunner, policy: acl.AclPolicy) -> list[Finding]:
    answer = acl.read_acl(runner, policy)
    grants = acl.grants(answer)
    found = acl.acl_findings(grants, policy)
    result["acl"] = {"share": answer.get("share") or {"name": policy.share}, "entries": acl.table(grants, found)}
    return found


def summary(findings: t.Sequence[Finding], records: t.Sequence[files.FileRecord], reads: t.Sequence[ReplicaRead], nodes: t.Sequence[t.Any]) -> dict[str, t.Any]:
    counts = count_by_severity(findings)
    dated = [rec for rec in records if rec.facts.not_after]
    soonest = min(dated, key=lambda rec: rec.facts.not_after or "", default=None)
    return {
        "files": len(records),
        "replicas": len(reads),
        "replicas_failed": sum(1 for r in reads if not r.ok),
        "nodes": len(nodes),
        "findings": counts,
        "at_or_above": at_or_above(counts),
        "healthy": at_or_above(counts)["warning"] == 0,
        "next_expiry": {"file": soonest.name, "not_after": soonest.facts.not_after, "days_left": soonest.facts.days_left} if soonest else None,
    }
