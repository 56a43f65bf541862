"""The SMB connections of a host's logon session, as Mount-StoreShare / Dismount-StoreShare meet them.

Shared by the store and provider emulations. ``state["smb_sessions"]`` maps a server to the account
its connection was made with (a profile can start with entries: ``iis_lab_profile.smb_sessions``).
Rules: a second credential for the same server is error 1219; a failed mapping of a missing root
leaves its connection unless the script drops it; Remove-PSDrive on a connection that is already
gone fails with 2250 unless the script ignores that.
"""

from __future__ import annotations

import typing as t

from .. import faults, script_facts
from ..errors import WindowsError_
from ..rules import enforced
from . import OpContext

ERROR_1219 = ("Multiple connections to a server or shared resource by the same user, using more than one user name, are not"
              " allowed. Disconnect all previous connections to the server or shared resource and try again.")


def server_of(path: str) -> str:
    return path[2:].split("\\", 1)[0].lower().split(".")[0]


def sessions(ctx: OpContext) -> dict[str, str]:
    return t.cast(dict[str, str], ctx.state.setdefault("smb_sessions", {}))


def connect(ctx: OpContext, path: str, user: str, password: str) -> str:
    """New-PSDrive with a credential: log on at the file server, refuse a conflicting credential (1219)."""
    server = server_of(path)
    account = ctx.network.check_logon(ctx.host, ctx.state.get("local_accounts") or {}, user, password)
    held = sessions(ctx).get(server)
    if held is not None and held.lower() != account.lower() and enforced("smb-credential-conflict-1219"):
        message = ERROR_1219
        if script_facts.has("failed_mapping_cleaned"):
            # The shipped Mount-StoreShare names the cause (Get-MappingMessage).
            message = (f"this node's session already holds a connection to the server of '{path}' with other credentials"
                       f" (Windows error 1219), so it cannot also connect as '{user}'. ({ERROR_1219})")
        raise WindowsError_(message, "System.ComponentModel.Win32Exception", rule="smb-credential-conflict-1219")
    sessions(ctx)[server] = account
    ctx.log("map_share", path=path, account=account)
    return account


def mapping_failed(ctx: OpContext, path: str) -> None:
    """New-PSDrive failed after connecting (its root did not exist): the connection stays unless the script drops it."""
    if script_facts.has("failed_mapping_cleaned"):
        sessions(ctx).pop(server_of(path), None)
        ctx.log("drop_failed_mapping", path=path)


def disconnect(ctx: OpContext, path: str) -> None:
    """Remove-PSDrive in the script's finally block."""
    held = sessions(ctx).pop(server_of(path), None)
    gone = faults.smb_connection_lost(ctx.host)
    ctx.log("unmap_share", path=path)
    if (held is None or gone) and not script_facts.has("drive_removal_guarded") and enforced("remove-psdrive-2250"):
        raise WindowsError_("This network connection does not exist.", "System.ComponentModel.Win32Exception", rule="remove-psdrive-2250")
