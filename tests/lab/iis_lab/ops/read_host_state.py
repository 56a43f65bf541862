"""Emulation of read_host_state.ps1."""

from __future__ import annotations

import typing as t

from .. import model
from . import OpContext, operation


@operation("read_host_state")
def read_host_state(ctx: OpContext) -> dict[str, t.Any]:
    state = ctx.state
    wanted = set(ctx.params.get("sections") or [])
    answer: dict[str, t.Any] = {}
    if "windows" in wanted:
        windows = state["windows"]
        answer["windows"] = {
            "hostname": state["hostname"],
            "build": windows["build"],
            "ubr": windows["ubr"],
            "product_name": windows["product_name"],
            "edition_id": windows["edition_id"],
            "installation_type": windows["installation_type"],
        }
    if "features" in wanted:
        installed = model.iis_installed(state)
        answer["features"] = {
            "inetstp": model.inetstp(state),
            "components": ({"W3SVC": 1, "CertProvider": 1} if model.ccs_installed(state) else {"W3SVC": 1}) if installed else None,
        }
    if "provider" in wanted:
        answer["provider"] = _provider_view(state)
        answer["provider_record"] = model.registry_key(state, model.PROVIDER_RECORD_KEY)
    if "sites" in wanted:
        only = {name.lower() for name in ctx.params.get("site_names") or [] if name}
        answer["sites"] = [
            {"name": site["name"], "id": site["id"], "bindings": [dict(b) for b in site["bindings"]]}
            for site in state["sites"]
            if model.iis_installed(state) and (not only or site["name"].lower() in only)
        ]
    if "httpsys" in wanted:
        answer["httpsys"] = {kind: sorted(state["httpsys"][kind]) for kind in ("ip", "sni", "ccs")}
    return answer


def _provider_view(state: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    values = model.registry_key(state, model.PROVIDER_KEY)
    if values is None:
        return None
    public: dict[str, t.Any] = {name: values[name] for name in ("Enabled", "CertStoreLocation", "UserName", "PollingInterval") if name in values}
    public["PasswordDigest"] = model.text_digest(values.get("Password"))
    public["PrivateKeyPasswordDigest"] = model.text_digest(values.get("PrivateKeyPassword"))
    return public
