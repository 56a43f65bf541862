# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare IIS bindings the way IIS does: by (protocol, ip, port, host), not by spelling.

Shared by ccs_binding (what to change) and ccs_info's ``expect`` (what is missing), so both
agree on when two bindings are the same one.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostNameError, parse_host_name
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import Binding

BindingKey = tuple[str, str, int, str]


def canonical_ip(text: str) -> str:
    """IIS writes '*' or a literal address; compare addresses, not spellings."""
    if text in ("", "*"):
        return "*"
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return text.lower()
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def canonical_host(text: str) -> str:
    """Host names compare case-insensitively, and a Unicode name equals its A-label."""
    if not text:
        return ""
    if text.isascii() and not text.endswith("."):
        # An ASCII name's A-label form is itself in lower case (an xn-- label stays as it is), and a
        # name that does not parse compares as text.lower() below anyway: the same answer without
        # validating every label again. This runs for every binding of a site, and sites have hundreds.
        return text.lower()
    try:
        return parse_host_name(text, allow_wildcard=True, option="host_names").ascii.lower()
    except (HostNameError, ValueError):
        return text.lower()


def binding_key(protocol: str, ip: str, port: int, host: str) -> BindingKey:
    # The key is the full (ip, port, host) triple with IIS's own '*' spelling: a
    # request for ip '*' matches only '*' bindings, never every address.
    return (protocol, canonical_ip(ip), port, canonical_host(host))


def index_bindings(bindings: t.Iterable[Binding]) -> dict[BindingKey, Binding]:
    """One pass over a site's bindings, so 200 host names cost 200 look-ups, not 200 scans."""
    index: dict[BindingKey, Binding] = {}
    for binding in bindings:
        index.setdefault(binding_key(binding.protocol, binding.ip, binding.port, binding.host), binding)
    return index
