"""The SMB connections of a host's logon session, as Mount-StoreShare / Dismount-StoreShare meet them.

Shared by the store and provider emulations. ``state["smb_sessions"]`` maps a server to the account
its connection was made with (a profile can start with entries: ``iis_lab_profile.smb_sessions``).
Rules: a second credential for the same server is error 1219; a failed mapping of a missing root
leaves its connection unless the script drops it; Remove-PSDrive on a connection that is already
gone fails with 2250 unless the script ignores that.
"""

from __future__ import annotations

import json
import typing as t

from .. import faults, script_facts
from ..errors import WindowsError_
from ..rules import enforced
from ..state import host_file
from . import OpContext

ERROR_1219 = ("Multiple connections to a server or shared resource by the same user, using more than one user name, are not"
              " allowed. Disconnect all previous connections to the server or shared resource and try again.")


def server_of(path: str) -> str:
    return path[2:].split("\\", 1)[0].lower().split(".")[0]


def sessions(ctx: OpContext) -> dict[str, str]:
    return t.cast(dict[str, str], ctx.state.setdefault("smb_sessions", {}))


def logon(ctx: OpContext, user: str, password: str, path: str) -> str:
    """The account a file server accepts: a domain account, this node's own, or (workgroup) one of the file server's."""
    authority, _sep, name = user.strip().partition("\\")
    server = server_of(path) if path.startswith("\\\\") else ""
    if name and server and authority.lower().split(".")[0] == server and server != ctx.host.lower():
        accounts = {k.lower(): str(v) for k, v in file_server_accounts(server).items()}
        if accounts.get(name.lower()) != password and enforced("logon-needs-valid-credentials"):
            raise WindowsError_("The user name or password is incorrect.", "System.ComponentModel.Win32Exception", rule="logon-needs-valid-credentials")
        return f"{server}\\{name.lower()}"
    return ctx.network.check_logon(ctx.host, ctx.state.get("local_accounts") or {}, user, password)


def file_server_accounts(server: str) -> dict[str, t.Any]:
    """The local accounts of another lab host (its state file), for a workgroup SERVER\\user logon."""
    path = host_file(server)
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("local_accounts") or {})


def connect(ctx: OpContext, path: str, user: str, password: str) -> str:
    """New-PSDrive with a credential: log on at the file server, refuse a conflicting credential (1219)."""
    server = server_of(path)
    account = logon(ctx, user, password, path)
    held = sessions(ctx).get(server)
    if held is not None and held.lower() != account.lower() and enforced("smb-credential-conflict-1219"):
        message = ERROR_1219
        if script_facts.has("failed_mapping_cleaned"):
            # The shipped Mount-StoreShare names the cause (Get-MappingMessage).
            message = (f"this node's session already holds a connection to the server of '{path}' with other credentials"
                       f" (Windows error 1219), so it cannot also connect as '{user}'. ({ERROR_1219})")
        raise WindowsError_(message, "System.ComponentModel.Win32Exception", rule="smb-credential-conflict-1219")
    sessions(ctx)[server] = account
    return account


def mapping_failed(ctx: OpContext, path: str) -> None:
    """New-PSDrive failed after connecting (its root did not exist): the connection stays unless the script drops it."""
    if script_facts.has("failed_mapping_cleaned"):
        sessions(ctx).pop(server_of(path), None)


def disconnect(ctx: OpContext, path: str) -> None:
    """Remove-PSDrive in the script's finally block."""
    held = sessions(ctx).pop(server_of(path), None)
    gone = faults.smb_connection_lost(ctx.host)
    if (held is None or gone) and not script_facts.has("drive_removal_guarded") and enforced("remove-psdrive-2250"):
        raise WindowsError_("This network connection does not exist.", "System.ComponentModel.Win32Exception", rule="remove-psdrive-2250")
