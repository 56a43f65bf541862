"""Emulation of read_cert_store.ps1 and write_cert_store.ps1 on the lab file system.

Enforces what Windows would: a UNC path needs explicit share credentials (a WinRM
session cannot delegate its own: the double hop), a wrong password is a logon
failure, writing needs change access on the share, and file names must be plain
names inside the folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import typing as t
import uuid
from pathlib import Path

from .. import faults
from ..errors import WindowsError_
from ..rules import enforced, register
from . import OpContext, operation

register("unc-needs-explicit-credentials", "From a WinRM session (NTLM, no delegation) a UNC path is reached anonymously and denied",
         "https://learn.microsoft.com/en-us/powershell/scripting/security/remoting/ps-remoting-second-hop; docs/ccs-behaviour.md#store-access")

_EPOCH_TICKS = 621355968000000000


def _folder(ctx: OpContext, access: str) -> tuple[Path, str | None]:
    path = str(ctx.params["path"])
    account = None
    if path.startswith("\\\\"):
        user = ctx.params.get("user_name")
        if not user and enforced("unc-needs-explicit-credentials"):
            # What a WinRM (NTLM) session sees on a second hop: an anonymous, denied logon.
            raise WindowsError_(f"Access to the path '{path}' is denied.", "System.UnauthorizedAccessException", rule="unc-needs-explicit-credentials")
        if not user:
            return ctx.network.resolve(ctx.host, path, None, access), None
        account = ctx.network.check_logon(ctx.host, ctx.state.get("local_accounts") or {}, str(user), str(ctx.params.get("password") or ""))
        ctx.log("map_share", path=path, account=account)
    return ctx.network.resolve(ctx.host, path, account, access), account


def _child(folder: Path, name: t.Any) -> Path:
    name = str(name or "")
    if not name or any(c in name for c in "\\/:") or name in (".", ".."):
        raise WindowsError_(f"Refusing the file name '{name}': not a plain file name inside the store folder.")
    lowered = name.lower()
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.lower() == lowered:  # NTFS: case-insensitive, case-preserving
                return entry
    return folder / name


def _ticks(path: Path) -> int:
    return path.stat().st_mtime_ns // 100


@operation("read_cert_store")
def read_cert_store(ctx: OpContext) -> dict[str, t.Any]:
    folder = _folder(ctx, "read")[0]
    answer: dict[str, t.Any] = {"exists": folder.is_dir(), "files": [], "manifest": None, "contents": {}, "now": time.time_ns() // 100}
    if not folder.is_dir():
        return answer
    prefix, suffix = str(ctx.params["temp_prefix"]), str(ctx.params["temp_suffix"])
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and (entry.name.lower().endswith(".pfx") or (entry.name.startswith(prefix) and entry.name.endswith(suffix))):
            answer["files"].append({"name": entry.name, "size": entry.stat().st_size, "mtime": _ticks(entry)})
    manifest = _child(folder, ctx.params["manifest_name"])
    if manifest.is_file():
        answer["manifest"] = base64.b64encode(manifest.read_bytes()).decode("ascii")
    for name in ctx.params.get("fetch") or []:
        path = _child(folder, name)
        if path.is_file():
            answer["contents"][str(name)] = base64.b64encode(path.read_bytes()).decode("ascii")
    ctx.log("read_cert_store", files=len(answer["files"]), fetched=sorted(answer["contents"]))
    return answer


def _write_atomically(ctx: OpContext, folder: Path, name: str, data: bytes) -> Path:
    target = _child(folder, name)
    temp = _child(folder, f"{ctx.params['temp_prefix']}{uuid.uuid4().hex}{ctx.params['temp_suffix']}")
    try:
        with open(temp, "xb") as handle:
            handle.write(data)
        if faults.rename_fails(name):
            # Lab fault injection: the host fails between writing the temp file and the rename.
            raise WindowsError_("The process cannot access the file because it is being used by another process.", "System.IO.IOException")
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    ctx.log("replace", file=target.name)
    return target


@operation("write_cert_store")
def write_cert_store(ctx: OpContext) -> dict[str, t.Any]:
    folder = _folder(ctx, "change")[0]
    if not folder.is_dir():
        raise WindowsError_(f"The store folder '{ctx.params['path']}' does not exist.", "System.Management.Automation.RuntimeException")
    prefix, suffix = str(ctx.params["temp_prefix"]), str(ctx.params["temp_suffix"])
    for name in ctx.params.get("stale_temps") or []:
        if str(name).startswith(prefix) and str(name).endswith(suffix):
            _child(folder, name).unlink(missing_ok=True)
            ctx.log("remove_stale_temp", file=str(name))
    written = {}
    for item in ctx.params.get("files") or []:
        data = base64.b64decode(item["data"])
        target = _write_atomically(ctx, folder, str(item["name"]), data)
        os.utime(target, ns=(time.time_ns(), int(item["mtime"]) * 100))
        if hashlib.sha256(target.read_bytes()).hexdigest() != item["sha256"]:
            raise WindowsError_(f"Read-back check of '{item['name']}' failed: the file differs from what was written.")
        written[str(item["name"])] = {"size": target.stat().st_size, "mtime": _ticks(target)}
    removed = []
    for name in ctx.params.get("removes") or []:
        _child(folder, name).unlink(missing_ok=True)
        removed.append(str(name))
        ctx.log("remove", file=str(name))
    _write_atomically(ctx, folder, str(ctx.params["manifest_name"]), base64.b64decode(ctx.params["manifest_data"]))
    return {"written": written, "removed": removed}
