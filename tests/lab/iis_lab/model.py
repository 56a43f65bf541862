"""Small accessors over an emulated host's state, shared by the operation emulations."""

from __future__ import annotations

import hashlib
import typing as t

PROVIDER_KEY = "HKLM\\SOFTWARE\\Microsoft\\IIS\\CentralCertProvider"
PROVIDER_RECORD_KEY = "HKLM\\SOFTWARE\\iis.ccs\\CentralCertProvider"

IIS_FEATURES = {"Web-Server", "IIS-WebServerRole", "IIS-WebServer"}
CCS_FEATURES = {"Web-CertProvider", "IIS-CertProvider"}


def registry_key(state: t.Mapping[str, t.Any], path: str) -> dict[str, t.Any] | None:
    for key, values in state["registry"].items():
        if key.lower() == path.lower():
            return t.cast(dict[str, t.Any], values)
    return None


def ensure_registry_key(state: dict[str, t.Any], path: str) -> dict[str, t.Any]:
    existing = registry_key(state, path)
    if existing is not None:
        return existing
    created: dict[str, t.Any] = {}
    state["registry"][path] = created
    return created


def delete_registry_key(state: dict[str, t.Any], path: str) -> None:
    for key in list(state["registry"]):
        if key.lower() == path.lower():
            del state["registry"][key]


def iis_installed(state: t.Mapping[str, t.Any]) -> bool:
    return bool(IIS_FEATURES & set(state["features"]))


def inetstp(state: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    """HKLM\\SOFTWARE\\Microsoft\\InetStp as the Windows build has it: IIS 8.0 on Server 2012 (9200), 8.5 on
    2012 R2 (9600), 10.0 from Windows 10 / Server 2016 (10240) on (docs/ccs-behaviour.md#bindings)."""
    if not iis_installed(state):
        return None
    build = int(state["windows"]["build"])
    major, minor = (10, 0) if build >= 10240 else (8, 5) if build >= 9600 else (8, 0)
    return {"MajorVersion": major, "MinorVersion": minor, "SetupString": f"IIS {major}.{minor}"}


def ccs_installed(state: t.Mapping[str, t.Any]) -> bool:
    return iis_installed(state) and bool(CCS_FEATURES & set(state["features"]))


def text_digest(text: str | None) -> str | None:
    if not text:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_site(state: t.Mapping[str, t.Any], name: str) -> dict[str, t.Any] | None:
    for site in state["sites"]:
        if site["name"].lower() == name.lower():
            return t.cast(dict[str, t.Any], site)
    return None
