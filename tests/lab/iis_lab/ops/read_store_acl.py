"""Emulation of read_store_acl.ps1: a lab share's permissions and its folder's NTFS access rules.

The share model is one entry of ``iis_lab_network.shares``: ``{unc, host, path, read: [...],
change: [...], full: [...], ntfs: {<account>: Read|Modify|FullControl}}``. ``full`` and ``ntfs``
are optional; without ``ntfs`` the folder grants each account what the share grants it.
"""

from __future__ import annotations

import typing as t

from ..errors import WindowsError_
from ..rules import enforced
from . import OpContext, operation

SHARE_LEVELS = ("read", "change", "full")
_SHARE_RIGHT = {"read": "Read", "change": "Change", "full": "Full"}
_NTFS_OF_SHARE = {"read": "Read", "change": "Modify", "full": "FullControl"}
# How Get-Acl prints FileSystemRights for what icacls calls (RX), (M) and (F).
_NTFS_TEXT = {"read": "ReadAndExecute, Synchronize", "modify": "Modify, Synchronize", "fullcontrol": "FullControl"}


def lab_share(ctx: OpContext, name: str) -> t.Mapping[str, t.Any]:
    for share in ctx.network.shares.values():
        unc_name = [p for p in str(share["unc"]).split("\\") if p][1]
        if str(share["host"]).lower() == ctx.host.lower() and unc_name.lower() == name.lower():
            return share
    if enforced("smb-share-not-found"):
        raise WindowsError_(
            f"No MSFT_SMBShare objects found with property 'Name' equal to '{name}'.",
            "Microsoft.Management.Infrastructure.CimException",
            rule="smb-share-not-found",
        )
    # Only with the rule switched off: an unknown name reads as a share of nothing, granted to no one.
    return {"unc": f"\\\\{ctx.host}\\{name}", "host": ctx.host, "path": f"C:\\{name}", "read": []}


def share_grants(share: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    return [(str(account), level) for level in SHARE_LEVELS for account in share.get(level) or []]


def ntfs_grants(share: t.Mapping[str, t.Any]) -> dict[str, str]:
    if share.get("ntfs") is not None:
        return {str(account): str(rights) for account, rights in share["ntfs"].items()}
    return {account: _NTFS_OF_SHARE[level] for account, level in share_grants(share)}


@operation("read_store_acl")
def read_store_acl(ctx: OpContext) -> dict[str, t.Any]:
    share = lab_share(ctx, str(ctx.params.get("share") or ""))
    name = [p for p in str(share["unc"]).split("\\") if p][1]
    return {
        "share": {"name": name, "path": str(share["path"])},
        "share_access": [{"account": account, "right": _SHARE_RIGHT[level], "type": "Allow"} for account, level in share_grants(share)],
        "ntfs": [
            {"account": account, "rights": _NTFS_TEXT.get(rights.lower(), rights), "type": "Allow", "inherited": False}
            for account, rights in ntfs_grants(share).items()
        ],
    }
