# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm against the store: what the web nodes bind (ccs_info results) and what the store holds."""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.findings import Finding
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import WILDCARD_FILE_PREFIX, HostName, HostNameError, parse_host_name

SERVER_2016_BUILD = 14393


@dataclasses.dataclass(frozen=True)
class NodeView:
    name: str
    readable: bool
    provider_enabled: bool
    store_location: str
    build: int
    bound: tuple[str, ...]  # host names of the node's SNI+CCS bindings, A-label form


def node_view(name: str, info: t.Mapping[str, t.Any]) -> NodeView:
    provider = info.get("provider") or {}
    bound = sorted({str(b.get("host") or "").lower() for s in info.get("sites") or [] for b in s.get("bindings") or [] if b.get("uses_ccs") and b.get("host")})
    return NodeView(
        name=name,
        readable=not info.get("failed") and not info.get("unreachable"),
        provider_enabled=bool(provider.get("enabled")),
        store_location=str(provider.get("store_location") or ""),
        build=int((info.get("windows") or {}).get("build") or 0),
        bound=tuple(bound),
    )


def normalise_location(location: str) -> str:
    return location.replace("/", "\\").rstrip("\\").lower()


def lookup_order(host: str) -> list[str]:
    """The files IIS tries for an SNI name, in order: the exact name, then the wildcard (lowercase)."""
    try:
        parsed = parse_host_name(host)
    except HostNameError:
        return []
    names = [parsed.file_name.lower()]
    if not parsed.is_wildcard and parsed.unicode.count(".") >= 2:
        names.append((WILDCARD_FILE_PREFIX + parsed.unicode.split(".", 1)[1] + ".pfx").lower())
    return names


def serving_file(host: str, store_files: t.Collection[str]) -> str | None:
    return next((name for name in lookup_order(host) if name in store_files), None)


def display(host: str) -> str:
    try:
        parsed: HostName = parse_host_name(host)
    except HostNameError:
        return host
    return parsed.unicode


def matrix(nodes: t.Sequence[NodeView], store_files: t.Collection[str]) -> list[dict[str, t.Any]]:
    """One row per bound host name: per node whether it is bound, and which store file serves it."""
    hosts = sorted({h for n in nodes for h in n.bound})
    return [{"host_name": display(h), "file": serving_file(h, store_files), "nodes": {n.name: {"bound": h in n.bound} for n in nodes}} for h in hosts]


def node_findings(node: NodeView, store_location: str | None, store_files: t.Collection[str]) -> list[Finding]:
    if not node.readable:
        return [Finding("node_unreadable", "error", node.name, f"{node.name}: ccs_info could not read the node", "check the node is reachable and re-run")]
    found = _provider_findings(node, store_location)
    for host in node.bound:
        if serving_file(host, store_files) is None:
            found.append(
                Finding(
                    "missing_file",
                    "critical",
                    display(host),
                    f"{display(host)} is bound on {node.name} but the store has no {(lookup_order(host) or [host])[0]} file: "
                    "IIS fails the handshake",
                    "publish a certificate for this host name with iis.ccs.ccs_cert_publish, or remove the binding",
                )
            )
    return found


def _provider_findings(node: NodeView, store_location: str | None) -> list[Finding]:
    if not node.provider_enabled:
        return [
            Finding(
                "provider_disabled",
                "critical",
                node.name,
                f"{node.name}: the Centralized Certificate Store provider is not enabled",
                "enable it with iis.ccs.ccs_provider (or the iis.ccs.web_node role)",
            )
        ]
    if store_location and normalise_location(node.store_location) != normalise_location(store_location):
        return [
            Finding(
                "provider_elsewhere",
                "error",
                node.name,
                f"{node.name}: the provider reads {node.store_location}, not {store_location}",
                "point it at the farm's store with iis.ccs.ccs_provider store_location",
            )
        ]
    return []


def orphan_findings(nodes: t.Sequence[NodeView], store_files: t.Iterable[str], names: t.Mapping[str, str]) -> list[Finding]:
    """Store files that no node's binding would ever load."""
    used = {serving_file(h, set(store_files)) for n in nodes for h in n.bound}
    return [
        Finding(
            "orphan_file",
            "warning",
            names[key],
            f"{names[key]} is in the store but no web node binds a host name it serves",
            "remove it (ccs_cert_publish with prune, or by hand), or add the binding with iis.ccs.ccs_binding",
        )
        for key in sorted(store_files)
        if key not in used
    ]


def has_server_2016(nodes: t.Iterable[NodeView]) -> bool:
    return any(n.build == SERVER_2016_BUILD for n in nodes)
