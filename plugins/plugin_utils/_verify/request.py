# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccs_verify's options checked before any connection, and the names to check.

Every problem names the option and the fix. A name is checked with the SNI it stands for
(A-label form) and the store files that could hold its certificate, exact first, then the
wildcard file, as the CCS provider looks them up.
"""

from __future__ import annotations

import dataclasses
import re
import ssl
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core import dns_names
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.crypto_import import x509
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import HostState
from ansible_collections.iis.ccs.plugins.plugin_utils._core.ssl_flags import uses_ccs
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import _check_destination

MAX_CONCURRENCY = 512
_THUMBPRINT = re.compile(r"^(?:[0-9A-F]{40}|[0-9A-F]{64})$")


@dataclasses.dataclass(frozen=True)
class NameCheck:
    """One name to check: what the user calls it, the SNI sent, the port, and the store files that may hold it."""

    name: str
    sni: str
    port: int
    ip: str = "*"
    store_files: tuple[str, ...] = ()


def _check_port(option: str, value: t.Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise UserInputError(f"{option}: {value!r} is not a TCP port; give a number from 1 to 65535")
    return value


def port_map(params: t.Mapping[str, t.Any]) -> dict[int, int]:
    mapped: dict[int, int] = {}
    for key, value in (params.get("port_map") or {}).items():
        try:
            source = int(key)
        except (TypeError, ValueError):
            raise UserInputError(f"port_map: the key {key!r} is not a port; map a binding's port to the port to connect to, e.g. {{443: 8443}}") from None
        try:
            target = int(value)
        except (TypeError, ValueError):
            raise UserInputError(f"port_map: the value for {key!r} is not a port; give a number from 1 to 65535") from None
        mapped[_check_port("port_map", source)] = _check_port(f"port_map[{source}]", target)
    return mapped


def check_options(params: t.Mapping[str, t.Any]) -> None:
    """Everything that can be wrong with the options, before anything is read or connected to."""
    concurrency, timeout = params["concurrency"], params["timeout"]
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UserInputError(f"concurrency: {concurrency} is out of range; give 1 to {MAX_CONCURRENCY} handshakes at a time")
    if not 0 < timeout <= 300:
        raise UserInputError(f"timeout: {timeout} is out of range; give the seconds one handshake may take (more than 0, at most 300)")
    if params["expiry_warning_days"] < 0:
        raise UserInputError("expiry_warning_days: must be 0 or more")
    _check_port("port", params["port"])
    port_map(params)
    if params["from"] == "node" and (params.get("address") or params.get("port_map")):
        raise UserInputError("address and port_map: only apply to from: controller; the node connects to its own loopback and binding port")
    for name in params.get("host_names") or []:
        host_name(name, "host_names")
    for name, thumbprint in (params.get("expected") or {}).items():
        host_name(name, "expected")
        if not _THUMBPRINT.match(str(thumbprint).replace(":", "").replace(" ", "").upper()):
            raise UserInputError(
                f"expected[{name}]: {str(thumbprint)[:80]!r} is not a thumbprint; give the SHA-256 (64 hex digits) or SHA-1 (40) of the certificate"
            )
    store = params.get("store")
    if store:
        _check_destination("store", store)
    if store and params.get("expected"):
        raise UserInputError("store and expected: give one source for the certificate each name should serve, not both")


def host_name(text: t.Any, option: str) -> dns_names.HostName:
    try:
        return dns_names.parse_host_name(text, option=option)
    except dns_names.HostNameError as exc:
        raise UserInputError(str(exc)) from None


def load_anchors(ca_path: str | None) -> tuple[x509.Certificate, ...]:
    """The trust anchors: every CA certificate in ca_path (PEM), else the controller's system store."""
    path = ca_path or ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    option = "ca_path" if ca_path else "the controller's system trust store"
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        if not ca_path:
            return ()
        raise UserInputError(f"ca_path: cannot read {path} ({exc.strerror}); give a PEM file of CA certificates") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise UserInputError(f"{option}: {path} holds no PEM certificates; give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)") from None
    anchors = tuple(c for c in certificates if _is_ca(c))
    if not anchors:
        raise UserInputError(f"{option}: {path} holds no CA certificate (basicConstraints CA:TRUE); give the root (or issuing) CA, not a server certificate")
    return anchors


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def name_check(name: dns_names.HostName, port: int, wildcard_label: str, ip: str = "*") -> NameCheck:
    """A wildcard cannot be sent as SNI: a name under it (wildcard_label.parent) is checked instead."""
    if not name.is_wildcard:
        return NameCheck(name.unicode, name.ascii, port, ip, (name.file_name,))
    probe = host_name(f"{wildcard_label}.{name.ascii[2:]}", "wildcard_label")
    return NameCheck(name.unicode, probe.ascii, port, ip, (probe.file_name, name.file_name))


def names_from_options(params: t.Mapping[str, t.Any]) -> list[NameCheck]:
    return [name_check(host_name(text, "host_names"), params["port"], params["wildcard_label"]) for text in params["host_names"]]


def names_from_bindings(state: HostState, params: t.Mapping[str, t.Any]) -> list[NameCheck]:
    """One check per CCS https binding host name (the port its binding has)."""
    checks: dict[tuple[str, int], NameCheck] = {}
    for site in state.sites or ():
        for binding in site.bindings:
            if binding.protocol == "https" and uses_ccs(binding.ssl_flags) and binding.host:
                name = host_name(binding.host, f"the binding {binding.binding_information} of site {site.name}")
                checks.setdefault((name.ascii, binding.port), name_check(name, binding.port, params["wildcard_label"], binding.ip))
    return list(checks.values())
