"""Emulation of probe_store_access.ps1: the read-only access probe used in check mode."""

from __future__ import annotations

import typing as t

from . import OpContext, operation
from .configure_provider import check_store_access


@operation("probe_store_access")
def probe_store_access(ctx: OpContext) -> dict[str, t.Any]:
    params = ctx.params
    checked = check_store_access(ctx, str(params.get("store_location") or ""), str(params.get("user_name") or ""), str(params.get("password") or ""))
    return {"readable": True, "logon_checked": checked}
