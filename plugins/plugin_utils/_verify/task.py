# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccs_verify from task parameters to result: names, expectations, handshakes, verdicts.

Read-only everywhere: at most one read of the node (its bindings, when no host_names are
given), one read of the store (when ``store`` is given) and, with ``from: node``, one
verify_tls operation; from the controller the handshakes need no round trip to the node.
"""

from __future__ import annotations

import base64
import datetime
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext
from ansible_collections.iis.ccs.plugins.plugin_utils._core.crypto_import import hashes
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import read_state
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateError, load_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import build_replica
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import StoreError
from ansible_collections.iis.ccs.plugins.plugin_utils._verify import request
from ansible_collections.iis.ccs.plugins.plugin_utils._verify.handshake import Served, Target, handshake_all
from ansible_collections.iis.ccs.plugins.plugin_utils._verify.judge import WARNINGS, Expectation, Policy, judge

NODE_OPERATION = "verify_tls"


def collect_names(params: t.Mapping[str, t.Any], runner: HostOperationRunner) -> list[request.NameCheck]:
    if params.get("host_names"):
        return request.names_from_options(params)
    return request.names_from_bindings(read_state(runner, ["sites"], params["sites"]), params)


def store_expectations(params: t.Mapping[str, t.Any], runner: HostOperationRunner, names: t.Sequence[request.NameCheck]) -> dict[str, Expectation]:
    """Per store file name (lowercase): the SHA-256 of the certificate the store holds, read with the store's credentials."""
    replica = build_replica(params["store"], runner)
    if replica.backend is None:
        return {f.lower(): Expectation(problem=replica.setup_error or "cannot reach the store") for n in names for f in n.store_files}
    wanted = sorted({f for n in names for f in n.store_files})
    try:
        found = {name.lower(): data for name, data in replica.backend.fetch(wanted).items()}
    except StoreError as exc:
        return {f.lower(): Expectation(problem=str(exc)) for f in wanted}
    finally:
        close = getattr(replica.backend, "close", None)
        if close is not None:
            close()
    return {name: _expectation_of(data, params.get("private_key_password")) for name, data in found.items()}


def _expectation_of(data: bytes, key_password: str | None) -> Expectation:
    try:
        bundle = load_pfx(data, key_password, option="store file", password_option="private_key_password")
    except CertificateError as exc:
        return Expectation(problem=str(exc))
    return Expectation(bundle.certificate.fingerprint(hashes.SHA256()).hex().upper(), "store")


def expected_thumbprints(params: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The expected option keyed by A-label name, so Unicode and punycode spellings both match."""
    return {request.host_name(k, "expected").ascii: str(v) for k, v in (params.get("expected") or {}).items()}


def expectation_for(check: request.NameCheck, expected: t.Mapping[str, str], from_store: t.Mapping[str, Expectation] | None) -> Expectation:
    for key in (check.sni, request.host_name(check.name, "name").ascii):
        if key in expected:
            return Expectation(expected[key], "expected")
    if from_store is None:
        return Expectation()
    for file_name in check.store_files:
        if file_name.lower() in from_store:
            return from_store[file_name.lower()]
    return Expectation(problem=f"the store holds none of {', '.join(check.store_files)}")


def controller_targets(checks: t.Sequence[request.NameCheck], params: t.Mapping[str, t.Any], task_vars: t.Mapping[str, t.Any], host: str) -> list[Target]:
    address = str(params.get("address") or task_vars.get("ansible_host") or host)
    mapped = request.port_map(params)
    return [Target(c.name, c.sni, address, mapped.get(c.port, c.port)) for c in checks]


def handshakes_from_node(checks: t.Sequence[request.NameCheck], params: t.Mapping[str, t.Any], runner: HostOperationRunner) -> list[Served]:
    """One verify_tls operation: the node connects to its own binding address and port, with the name as SNI."""
    targets = [Target(c.name, c.sni, c.ip if c.ip not in ("*", "") else "127.0.0.1", c.port) for c in checks]
    answer = runner.run(NODE_OPERATION, {
        "targets": [{"sni": tg.sni, "address": tg.address, "port": tg.port} for tg in targets],
        "timeout_ms": int(params["timeout"] * 1000),
        "concurrency": params["concurrency"],
    }) or {}
    results = list(answer.get("results") or [])
    return [_served_from_node(target, results[i] if i < len(results) else {}) for i, target in enumerate(targets)]


# SslStream.SslProtocol names, as Python's ssl writes the versions.
_PROTOCOL_NAMES = {"tls": "TLSv1", "tls11": "TLSv1.1", "tls12": "TLSv1.2", "tls13": "TLSv1.3"}


def _served_from_node(target: Target, raw: t.Mapping[str, t.Any]) -> Served:
    chain = tuple(base64.b64decode(item) for item in raw.get("chain") or [])
    version = str(raw.get("tls_version") or "")
    return Served(target, chain, _PROTOCOL_NAMES.get(version.lower(), version), str(raw.get("error") or ""), str(raw.get("detail") or ""))


def summarize(checks: t.Sequence[dict[str, t.Any]], fail_on: str) -> tuple[dict[str, t.Any], list[dict[str, t.Any]]]:
    problems = [c for c in checks if not c["ok"] and c["verdict"] not in WARNINGS]
    warnings = [c for c in checks if c["verdict"] in WARNINGS]
    failing = [] if fail_on == "never" else problems + (warnings if fail_on == "warning" else [])
    summary = {"total": len(checks), "ok": sum(1 for c in checks if c["ok"]), "problems": len(problems), "warnings": len(warnings)}
    return summary, failing


def run_verify(context: TaskContext, runner: HostOperationRunner) -> dict[str, t.Any]:
    params = context.params
    request.check_options(params)
    anchors = request.load_anchors(params.get("ca_path"))
    checks = collect_names(params, runner)
    from_store = store_expectations(params, runner, checks) if params.get("store") else None
    if params["from"] == "node":
        served = handshakes_from_node(checks, params, runner) if checks else []
    else:
        served = handshake_all(controller_targets(checks, params, context.task_vars, context.host),
                               concurrency=params["concurrency"], timeout=params["timeout"])
    policy = Policy(anchors, datetime.datetime.now(datetime.timezone.utc), params["expiry_warning_days"])
    expected = expected_thumbprints(params)
    results = [judge(s, expectation_for(c, expected, from_store), policy) for s, c in zip(served, checks)]
    summary, failing = summarize(results, params["fail_on"])
    result: dict[str, t.Any] = {"changed": False, "checks": results, "summary": summary, "round_trips": runner.round_trips}
    if not checks:
        result["warnings"] = ["no names to check: the node has no CCS https binding (in the sites given); set host_names to check names anyway"]
    if failing:
        listed = "; ".join(f"{c['name']}:{c['port']} {c['verdict']} ({c['hint']})" for c in failing[:5])
        more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
        raise ModuleFailure(f"{len(failing)} of {len(results)} names are not served right: {listed}{more}", **result)
    return result
