# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate and normalise the options of iis.ccs.ccs_binding into a typed request.

Everything here runs before the host is contacted, so bad input fails without
changing anything and the message names the option and how to fix it.
"""

from __future__ import annotations

import ipaddress
import typing as t
from dataclasses import dataclass

from ansible_collections.iis.ccs.plugins.plugin_utils._core import ssl_flags
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostName, HostNameError, parse_host_name

# Option name -> sslFlags bit it manages (applicationHost.config values).
FLAG_OPTIONS: dict[str, int] = {
    "disable_http2": ssl_flags.FLAG_BITS["DisableHTTP2"],
    "disable_ocsp_stapling": ssl_flags.FLAG_BITS["DisableOCSPStp"],
    "disable_quic": ssl_flags.FLAG_BITS["DisableQUIC"],
    "disable_tls13": ssl_flags.FLAG_BITS["DisableTLS13"],
    "disable_legacy_tls": ssl_flags.FLAG_BITS["DisableLegacyTLS"],
}

# IIS refuses these in a site name (IIS Manager and appcmd reject them); control
# characters and backticks are refused too because they only ever come from mistakes
# or injection attempts, never from a real site name.
_SITE_NAME_FORBIDDEN = set("\\/?;:@&=+$,|\"<>*`'")


@dataclass(frozen=True)
class BindingRequest:
    site: str
    host_names: tuple[HostName, ...]
    state: str
    port: int
    ip: str
    sni: bool
    exclusive: bool
    # Bits the user asked to set, and bits the user asked to clear. Bits in
    # neither are preserved exactly as found on the host.
    flags_on: int
    flags_off: int

    @property
    def managed_mask(self) -> int:
        """Bits this task decides; every other bit of an existing binding is kept."""
        return ssl_flags.SNI | ssl_flags.CENTRAL_CERT_STORE | self.flags_on | self.flags_off

    @property
    def wants_wildcard(self) -> bool:
        return any(entry.is_wildcard for entry in self.host_names)


def parse_requests(params: t.Mapping[str, t.Any]) -> tuple[BindingRequest, ...]:
    """One request per site entry: the task's own options, or one per entry of 'bindings'.

    Entries are checked against each other before the host is contacted: two entries
    cannot manage the same site, IP and port, and two present entries cannot bind one
    IP, port and host name (two sites with the same binding cannot both start).
    """
    entries = params.get("bindings")
    if entries is None:
        return (parse_request(params),)
    if not entries:
        raise UserInputError("bindings: list at least one site entry (site and host_names), or leave the option out and use site and host_names.")
    requests = []
    for index, entry in enumerate(entries):
        try:
            requests.append(parse_request(entry_options(params, entry)))
        except UserInputError as exc:
            raise UserInputError(f"bindings[{index}].{exc}") from None
    check_entries_disjoint(requests)
    return tuple(requests)


def entry_options(params: t.Mapping[str, t.Any], entry: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """An entry's options, where every option it leaves unset takes the task-level value."""
    shared = {key: value for key, value in params.items() if key not in ("bindings", "site", "host_names")}
    return {**shared, **{key: value for key, value in entry.items() if value is not None}}


def check_entries_disjoint(requests: t.Sequence[BindingRequest]) -> None:
    endpoints: dict[tuple[str, str, int], int] = {}
    owners: dict[tuple[str, int, str], int] = {}
    for index, request in enumerate(requests):
        endpoint = (request.site.lower(), request.ip, request.port)
        if endpoint in endpoints:
            raise UserInputError(
                f"bindings[{index}].site: '{request.site}' on {request.ip}:{request.port} is also managed by bindings[{endpoints[endpoint]}]; "
                "merge the two entries' host_names into one entry."
            )
        endpoints[endpoint] = index
        if request.state != "present":
            continue  # moving a name between sites: one entry removes it, another adds it
        for name in request.host_names:
            key = (request.ip, request.port, name.ascii)
            first = owners.setdefault(key, index)
            if first != index:
                raise UserInputError(
                    f"bindings[{index}].host_names: {name.ascii!r} on {request.ip}:{request.port} is also bound to site "
                    f"'{requests[first].site}' by bindings[{first}]; IIS allows one site per IP, port and host name, so list it once."
                )


def parse_request(params: t.Mapping[str, t.Any]) -> BindingRequest:
    state = str(params.get("state") or "present")
    flags_on, flags_off = _parse_flags(params)
    if state == "absent" and (flags_on or flags_off):
        names = ", ".join(name for name, bit in FLAG_OPTIONS.items() if (flags_on | flags_off) & bit)
        raise UserInputError(f"{names}: flag options only apply with state=present; remove them from a state=absent task.")
    return BindingRequest(
        site=parse_site_name(params.get("site")),
        host_names=parse_host_names(params.get("host_names")),
        state=state,
        port=parse_port(params.get("port")),
        ip=parse_ip(params.get("ip")),
        sni=bool(params.get("sni", True)),
        exclusive=bool(params.get("exclusive", False)),
        flags_on=flags_on,
        flags_off=flags_off,
    )


def parse_site_name(value: t.Any) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        raise UserInputError("site: must name an existing IIS site, for example 'Default Web Site'.")
    # Forbidden and control characters first: a name ending in a newline has a control character, not a space.
    bad = sorted({ch for ch in text if ch in _SITE_NAME_FORBIDDEN or ord(ch) < 32 or ord(ch) == 127})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise UserInputError(f"site: IIS site names cannot contain {shown}; use the site's name exactly as IIS Manager shows it.")
    if text != text.strip():
        raise UserInputError("site: remove the leading or trailing spaces from the site name.")
    return text


def parse_host_names(value: t.Any) -> tuple[HostName, ...]:
    items = list(value or [])
    if not items:
        raise UserInputError("host_names: list at least one host name; CCS bindings need a host name to pick the certificate file.")
    seen: dict[str, HostName] = {}
    for item in items:
        text = "" if item is None else str(item)
        if not text.strip():
            raise UserInputError("host_names: an entry is empty; CCS bindings need a host name such as www.example.com.")
        try:
            parsed = parse_host_name(text, allow_wildcard=True, option="host_names")
        except HostNameError as exc:
            raise UserInputError(str(exc)) from exc
        # The A-label (already lowercase) is what clients send in SNI and Host, so bindings carry that form.
        seen.setdefault(parsed.ascii, parsed)
    return tuple(seen.values())


def parse_port(value: t.Any) -> int:
    # The argument spec (type int) has already refused anything that is not a number.
    port = int(value)
    if not 1 <= port <= 65535:
        raise UserInputError(f"port: {port} is out of range; use a TCP port from 1 to 65535 (HTTPS is usually 443).")
    return port


def parse_ip(value: t.Any) -> str:
    """'*' or an IP address in the form IIS writes in bindingInformation (IPv6 in brackets)."""
    text = "*" if value is None else str(value).strip()
    if text in ("*", ""):
        return "*"
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        raise UserInputError(f"ip: {value!r} is not an IP address; use '*' for all addresses, or one IPv4/IPv6 address of the host.") from None
    if address.version == 6:
        return f"[{address.compressed}]"
    return address.compressed


def _parse_flags(params: t.Mapping[str, t.Any]) -> tuple[int, int]:
    on = off = 0
    for name, bit in FLAG_OPTIONS.items():
        value = params.get(name)
        if value is None:
            continue
        if value:
            on |= bit
        else:
            off |= bit
    return on, off


def flag_option_names(bits: int) -> list[str]:
    return [name for name, bit in FLAG_OPTIONS.items() if bits & bit]
