# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interpret the raw answer of the read_host_state operation into typed host state."""

from __future__ import annotations

import typing as t
from dataclasses import asdict, dataclass, field

from ansible_collections.iis.ccs.plugins.plugin_utils._core import ssl_flags
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner

ALL_SECTIONS = ("windows", "features", "provider", "sites", "httpsys")

# Build numbers of the Windows Server releases this collection supports.
SERVER_RELEASES: dict[int, str] = {
    14393: "Windows Server 2016",
    17763: "Windows Server 2019",
    20348: "Windows Server 2022",
    26100: "Windows Server 2025",
}

DEFAULT_POLLING_INTERVAL = 300


@dataclass(frozen=True)
class WindowsInfo:
    hostname: str
    build: int
    product_name: str
    edition_id: str
    installation_type: str
    release: str
    supported: bool

    @classmethod
    def from_raw(cls, raw: t.Mapping[str, t.Any]) -> WindowsInfo:
        build = int(raw.get("build") or 0)
        installation_type = str(raw.get("installation_type") or "")
        is_server = installation_type.lower().startswith("server")
        release = SERVER_RELEASES.get(build, "") if is_server else ""
        return cls(
            hostname=str(raw.get("hostname") or ""),
            build=build,
            product_name=str(raw.get("product_name") or ""),
            edition_id=str(raw.get("edition_id") or ""),
            installation_type=installation_type,
            release=release or str(raw.get("product_name") or "unknown"),
            supported=bool(release),
        )


@dataclass(frozen=True)
class FeatureInfo:
    iis_installed: bool
    iis_version: str
    ccs_installed: bool

    @classmethod
    def from_raw(cls, raw: t.Mapping[str, t.Any]) -> FeatureInfo:
        inetstp = raw.get("inetstp") or {}
        components = raw.get("components") or {}
        installed = bool(inetstp)
        version = f"{inetstp.get('MajorVersion', 0)}.{inetstp.get('MinorVersion', 0)}" if installed else ""
        return cls(iis_installed=installed, iis_version=version, ccs_installed=_as_int(components.get("CertProvider")) == 1)


@dataclass(frozen=True)
class ProviderState:
    configured: bool
    enabled: bool
    store_location: str
    user_name: str
    polling_interval: int
    password_set: bool
    private_key_password_set: bool
    password_digest: str = field(default="", repr=False)
    private_key_password_digest: str = field(default="", repr=False)
    record: t.Mapping[str, t.Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_raw(cls, raw: t.Mapping[str, t.Any] | None, record: t.Mapping[str, t.Any] | None) -> ProviderState:
        raw = raw or {}
        return cls(
            configured=bool(raw.get("CertStoreLocation")),
            enabled=_as_int(raw.get("Enabled")) == 1,
            store_location=str(raw.get("CertStoreLocation") or ""),
            user_name=str(raw.get("UserName") or ""),
            polling_interval=_as_int(raw.get("PollingInterval"), DEFAULT_POLLING_INTERVAL),
            password_set=bool(raw.get("PasswordDigest")),
            private_key_password_set=bool(raw.get("PrivateKeyPasswordDigest")),
            password_digest=str(raw.get("PasswordDigest") or ""),
            private_key_password_digest=str(raw.get("PrivateKeyPasswordDigest") or ""),
            record=dict(record or {}),
        )

    def public(self) -> dict[str, t.Any]:
        return {
            "configured": self.configured,
            "enabled": self.enabled,
            "store_location": self.store_location,
            "user_name": self.user_name,
            "polling_interval": self.polling_interval,
            "password_set": self.password_set,
            "private_key_password_set": self.private_key_password_set,
        }


@dataclass(frozen=True)
class Binding:
    protocol: str
    ip: str
    port: int
    host: str
    ssl_flags: int = 0
    certificate_hash: str = ""
    certificate_store: str = ""

    @property
    def binding_information(self) -> str:
        return f"{self.ip}:{self.port}:{self.host}"

    @classmethod
    def from_raw(cls, raw: t.Mapping[str, t.Any]) -> Binding:
        ip, port, host = split_binding_information(str(raw.get("binding_information") or ""))
        return cls(
            protocol=str(raw.get("protocol") or "").lower(),
            ip=ip,
            port=port,
            host=host,
            ssl_flags=_as_int(raw.get("ssl_flags")),
            certificate_hash=str(raw.get("certificate_hash") or "").upper(),
            certificate_store=str(raw.get("certificate_store") or ""),
        )

    def public(self) -> dict[str, t.Any]:
        data = asdict(self)
        data["binding_information"] = self.binding_information
        data.update(ssl_flags.describe(self.ssl_flags))
        data["uses_ccs"] = self.protocol == "https" and ssl_flags.uses_ccs(self.ssl_flags)
        data["uses_sni"] = self.protocol == "https" and ssl_flags.uses_sni(self.ssl_flags)
        return data


@dataclass(frozen=True)
class Site:
    name: str
    id: int
    bindings: tuple[Binding, ...]

    @classmethod
    def from_raw(cls, raw: t.Mapping[str, t.Any]) -> Site:
        return cls(
            name=str(raw.get("name") or ""),
            id=_as_int(raw.get("id")),
            bindings=tuple(Binding.from_raw(item) for item in _as_list(raw.get("bindings"))),
        )

    def public(self) -> dict[str, t.Any]:
        return {"name": self.name, "id": self.id, "bindings": [binding.public() for binding in self.bindings]}


@dataclass(frozen=True)
class HttpSysState:
    ip_bindings: tuple[str, ...]
    sni_bindings: tuple[str, ...]
    ccs_ports: tuple[int, ...]

    @classmethod
    def from_raw(cls, raw: t.Mapping[str, t.Any]) -> HttpSysState:
        return cls(
            ip_bindings=tuple(sorted(str(item) for item in _as_list(raw.get("ip")))),
            sni_bindings=tuple(sorted(str(item) for item in _as_list(raw.get("sni")))),
            ccs_ports=tuple(sorted({_port_of_endpoint(str(item)) for item in _as_list(raw.get("ccs"))})),
        )

    def public(self) -> dict[str, t.Any]:
        return {"ip_bindings": list(self.ip_bindings), "sni_bindings": list(self.sni_bindings), "ccs_ports": list(self.ccs_ports)}


@dataclass(frozen=True)
class HostState:
    windows: WindowsInfo | None = None
    features: FeatureInfo | None = None
    provider: ProviderState | None = None
    sites: tuple[Site, ...] | None = None
    httpsys: HttpSysState | None = None

    @classmethod
    def from_raw(cls, raw: t.Mapping[str, t.Any]) -> HostState:
        return cls(
            windows=WindowsInfo.from_raw(raw["windows"]) if raw.get("windows") else None,
            features=FeatureInfo.from_raw(raw["features"]) if "features" in raw else None,
            provider=ProviderState.from_raw(raw.get("provider"), raw.get("provider_record")) if "provider" in raw else None,
            sites=tuple(Site.from_raw(item) for item in _as_list(raw.get("sites"))) if "sites" in raw else None,
            httpsys=HttpSysState.from_raw(raw["httpsys"]) if raw.get("httpsys") is not None else None,
        )

    def site(self, name: str) -> Site | None:
        for site in self.sites or ():
            if site.name.lower() == name.lower():
                return site
        return None


def split_binding_information(text: str) -> tuple[str, int, str]:
    """Split IIS bindingInformation 'ip:port:host'; the ip may be a bracketed IPv6 address."""
    ip_and_port, _sep, host = text.rpartition(":")
    ip, _sep, port = ip_and_port.rpartition(":")
    return ip or "*", _as_int(port), host


def _port_of_endpoint(endpoint: str) -> int:
    return _as_int(endpoint.rpartition(":")[2])


def _as_int(value: t.Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _as_list(value: t.Any) -> list[t.Any]:
    # ConvertTo-Json in Windows PowerShell 5.1 collapses a one-element array
    # returned from a pipeline into the element itself; accept both shapes.
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def read_state(runner: HostOperationRunner, sections: t.Sequence[str], site_names: t.Sequence[str] = ()) -> HostState:
    raw = runner.run("read_host_state", {"sections": list(sections), "site_names": list(site_names)})
    return HostState.from_raw(raw or {})
