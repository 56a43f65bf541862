# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccs_info's ``expect``: check one read of a node against what the farm depends on.

One pure function of the read state, linear in the number of expected host names: each site's
bindings are indexed once, then every expected name is one dictionary look-up. The answer lists
every missing or wrong item, so one failed check tells the whole story of a node.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible_collections.iis.ccs.plugins.plugin_utils._core import ssl_flags
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.binding_keys import binding_key, canonical_ip, index_bindings
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostNameError, parse_host_name
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import Binding, HostState

# What a check needs from the host, whatever the task's own 'gather' says.
EXPECT_SECTIONS = ("provider", "sites", "httpsys")


@dataclass(frozen=True)
class ExpectedBinding:
    site: str
    ip: str
    port: int
    host: str
    sni: bool

    @property
    def binding_information(self) -> str:
        return f"{self.ip}:{self.port}:{self.host}"


@dataclass(frozen=True)
class Expectation:
    store_location: str | None
    bindings: tuple[ExpectedBinding, ...]

    @property
    def site_names(self) -> list[str]:
        return list(dict.fromkeys(binding.site for binding in self.bindings))

    @property
    def ports(self) -> list[int]:
        return sorted({binding.port for binding in self.bindings})


def parse_expectation(value: t.Mapping[str, t.Any] | None) -> Expectation | None:
    if not value:
        return None
    bindings: list[ExpectedBinding] = []
    for number, entry in enumerate(value.get("bindings") or [], start=1):
        bindings.extend(_parse_site_entry(entry, number))
    store_location = value.get("store_location")
    return Expectation(store_location=str(store_location) if store_location else None, bindings=tuple(bindings))


def _parse_site_entry(entry: t.Mapping[str, t.Any], number: int) -> list[ExpectedBinding]:
    option = f"expect.bindings[{number}]"
    site = str(entry.get("site") or "").strip()
    if not site:
        raise UserInputError(f"{option}.site: name the IIS site whose bindings to check, for example 'Default Web Site'.")
    names = list(entry.get("host_names") or [])
    if not names:
        raise UserInputError(f"{option}.host_names: list at least one host name to check on site '{site}'.")
    port = int(entry.get("port") or 443)
    if not 1 <= port <= 65535:
        raise UserInputError(f"{option}.port: {port} is out of range; use a TCP port from 1 to 65535.")
    ip = canonical_ip(str(entry.get("ip") or "*").strip())
    sni = bool(entry.get("sni", True))
    return [ExpectedBinding(site, ip, port, _ascii_name(name, f"{option}.host_names"), sni) for name in names]


def _ascii_name(name: t.Any, option: str) -> str:
    try:
        return parse_host_name(str(name), allow_wildcard=True, option=option).ascii
    except HostNameError as exc:
        raise UserInputError(str(exc)) from exc


def check_expectation(state: HostState, expectation: Expectation) -> dict[str, t.Any]:
    """Every missing or wrong item of the node, in the order provider, bindings, HTTP.sys."""
    problems = _provider_problems(state, expectation.store_location)
    problems.extend(_binding_problems(state, expectation.bindings))
    problems.extend(_httpsys_problems(state, expectation.ports))
    return {"passed": not problems, "problems": problems, "checked_bindings": len(expectation.bindings)}


def _provider_problems(state: HostState, store_location: str | None) -> list[str]:
    if store_location is None:
        return []
    provider = state.provider
    enabled = provider is not None and provider.enabled
    found = provider.store_location if provider is not None else ""
    if enabled and found.lower() == store_location.lower():
        return []
    status = "enabled" if enabled else "disabled"
    return [f"the central certificate provider should be enabled with store {store_location}, but it is {status} with store '{found}'"]


def _binding_problems(state: HostState, expected: t.Sequence[ExpectedBinding]) -> list[str]:
    problems: list[str] = []
    indexes: dict[str, dict[t.Any, Binding] | None] = {}
    for item in expected:
        key = item.site.lower()
        if key not in indexes:
            site = state.site(item.site)
            indexes[key] = index_bindings(site.bindings) if site is not None else None
            if site is None:
                problems.append(f"there is no IIS site '{item.site}'")
        index = indexes[key]
        if index is not None:
            problem = _binding_problem(item, index.get(binding_key("https", item.ip, item.port, item.host)))
            if problem:
                problems.append(problem)
    return problems


def _binding_problem(item: ExpectedBinding, found: Binding | None) -> str:
    wanted = f"site '{item.site}': HTTPS binding {item.binding_information}"
    sni = " with SNI" if item.sni else " without SNI"
    if found is None:
        return f"{wanted} taking its certificate from the central certificate store{sni} is missing"
    if not ssl_flags.uses_ccs(found.ssl_flags):
        return f"{wanted} does not take its certificate from the central certificate store (sslFlags={found.ssl_flags})"
    if ssl_flags.uses_sni(found.ssl_flags) != item.sni:
        return f"{wanted} should be{sni} (sslFlags={found.ssl_flags})"
    return ""


def _httpsys_problems(state: HostState, ports: t.Sequence[int]) -> list[str]:
    present = set(state.httpsys.ccs_ports) if state.httpsys is not None else set()
    return [
        f"HTTP.sys has no central certificate store entry for port {port} (netsh http show sslcert ccs={port}); TLS handshakes on that port will be reset"
        for port in ports
        if port not in present
    ]
