"""Emulation of read_cert_store.ps1 and write_cert_store.ps1 on the lab file system.

Enforces what Windows would: a UNC path needs explicit share credentials (a WinRM
session cannot delegate its own: the double hop), a wrong password is a logon
failure, writing needs change access (the lesser of share and NTFS grants), replacing
with ReplaceFile's default flags needs Full, the SMB session rules of ops/smb_session.py,
and file names must be plain names inside the folder. Rules: iis_lab/rules.py.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
import typing as t
import uuid
from pathlib import Path

from .. import faults, script_facts
from ..errors import WindowsError_
from ..rules import enforced
from . import OpContext, operation, smb_session

_EPOCH_TICKS = 621355968000000000


class _Folder(t.NamedTuple):
    local: Path
    account: str | None
    mapped: bool
    share: dict[str, t.Any] | None


def _open_folder(ctx: OpContext, access: str) -> _Folder:
    path = str(ctx.params["path"])
    if not path.startswith("\\\\"):
        return _Folder(ctx.network.resolve(ctx.host, path), None, False, None)
    user = ctx.params.get("user_name")
    if not user:
        return _Folder(_second_hop(ctx, path), None, False, ctx.network.share_entry(path))
    account = smb_session.connect(ctx, path, str(user), str(ctx.params.get("password") or ""))
    ctx.log("map_share", path=path, account=account)
    try:
        local = ctx.network.resolve(ctx.host, path, account, access)
        if not local.is_dir() and not script_facts.has("folder_probe_surfaces_errors") and enforced("new-psdrive-leaks-on-failure"):
            # The old script mapped the folder itself: New-PSDrive fails on a missing root after connecting.
            raise WindowsError_(f"The drive root '{path}' does not exist.", "System.Management.Automation.DriveNotFoundException",
                                rule="new-psdrive-leaks-on-failure")
    except WindowsError_:
        smb_session.mapping_failed(ctx, path)
        raise
    return _Folder(local, account, True, ctx.network.share_entry(path))


def _second_hop(ctx: OpContext, path: str) -> Path:
    """A UNC path without share credentials: a WinRM (NTLM) session is an anonymous, denied logon there."""
    if script_facts.has("folder_probe_surfaces_errors") and enforced("winrm-double-hop"):
        raise WindowsError_(
            f"Access to the store folder '{path}' is denied to the account this runs as. Over WinRM this session cannot pass its own"
            " credentials on to the file server (the double hop): give share credentials, or use CredSSP or Kerberos delegation.",
            "System.Management.Automation.RuntimeException", rule="winrm-double-hop")
    # [IO.Directory]::Exists answers false on access denied: the old script saw "no folder".
    if not enforced("directory-exists-hides-denied"):
        raise WindowsError_(f"Access to the path '{path}' is denied.", "System.UnauthorizedAccessException")
    return ctx.network.resolve(ctx.host, "C:\\iis-ccs-lab\\unreachable-second-hop")


def _close_folder(ctx: OpContext, folder: _Folder) -> None:
    if folder.mapped:
        smb_session.disconnect(ctx, str(ctx.params["path"]))


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
    opened = _open_folder(ctx, "read")
    try:
        answer = _read(ctx, opened.local)
    except BaseException:
        # As in PowerShell, an error raised by the clean-up in finally replaces the operation's own.
        _close_folder(ctx, opened)
        raise
    _close_folder(ctx, opened)
    return answer


def _dos_match(name: str, pattern: str) -> bool:
    """DirectoryInfo.EnumerateFiles(String): '*' and '?' are wildcards, everything else literal, case-insensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL) is not None


def _enumerate(folder: Path, patterns: t.Any) -> list[Path]:
    """Files matching any pattern (null: all), each once, in the order the patterns found them."""
    found: dict[str, Path] = {}
    entries = sorted(entry for entry in folder.iterdir() if entry.is_file())
    for pattern in ["*"] if patterns is None else list(patterns):
        if pattern is None:
            continue
        for entry in entries:
            if entry.name.lower() not in found and _dos_match(entry.name, str(pattern)):
                found[entry.name.lower()] = entry
    return list(found.values())


def _read_named(folder: Path, name: t.Any) -> str | None:
    """The base64 content of a named file (manifest header, pack), when the name is given and the file exists."""
    if not name:
        return None
    path = _child(folder, name)
    return base64.b64encode(path.read_bytes()).decode("ascii") if path.is_file() else None


def _read(ctx: OpContext, folder: Path) -> dict[str, t.Any]:
    answer: dict[str, t.Any] = {
        "exists": folder.is_dir(), "files": [], "manifest": None, "pack": None, "records": {}, "contents": {}, "now": time.time_ns() // 100,
    }
    if not folder.is_dir():
        return answer
    prefix, suffix = str(ctx.params["temp_prefix"]), str(ctx.params["temp_suffix"])
    record_prefix = str(ctx.params.get("record_prefix") or "")
    patterns = ["*"] if ctx.params.get("patterns") is None else list(ctx.params["patterns"])
    for lookup in ctx.params.get("lookups") or []:
        # read_cert_store.ps1: the name when that file exists, else the search pattern.
        patterns.append(str(lookup["name"]) if _child(folder, lookup["name"]).is_file() else str(lookup["pattern"]))
    for entry in _enumerate(folder, patterns):
        is_record = bool(record_prefix) and entry.name.startswith(record_prefix)
        if entry.name.lower().endswith(".pfx") or (entry.name.startswith(prefix) and entry.name.endswith(suffix)) or is_record:
            answer["files"].append({"name": entry.name, "size": entry.stat().st_size, "mtime": _ticks(entry)})
        if is_record and ctx.params.get("read_records"):
            answer["records"][entry.name] = base64.b64encode(entry.read_bytes()).decode("ascii")
    answer["manifest"] = _read_named(folder, ctx.params.get("manifest_name"))
    answer["pack"] = _read_named(folder, ctx.params.get("pack_name"))
    for name in ctx.params.get("fetch") or []:
        path = _child(folder, name)
        if path.is_file():
            answer["contents"][str(name)] = base64.b64encode(path.read_bytes()).decode("ascii")
    ctx.log("read_cert_store", files=len(answer["files"]), fetched=sorted(answer["contents"]))
    return answer


def _check_replace(ctx: OpContext, opened: _Folder, target: Path) -> None:
    """ReplaceFile without REPLACEFILE_IGNORE_MERGE_ERRORS opens the replaced file for WRITE_DAC: Full access."""
    if not target.exists() or opened.account is None or opened.share is None or script_facts.has("replace_ignores_metadata_errors"):
        return
    if ctx.network.access_rank(opened.share, opened.account) < 3 and enforced("replacefile-needs-write-dac"):
        raise WindowsError_(f"Access to the path '{ctx.params['path']}\\{target.name}' is denied.", "System.UnauthorizedAccessException",
                            rule="replacefile-needs-write-dac")


def _write_atomically(ctx: OpContext, opened: _Folder, name: str, data: bytes) -> Path:
    folder = opened.local
    target = _child(folder, name)
    temp = _child(folder, f"{ctx.params['temp_prefix']}{uuid.uuid4().hex}{ctx.params['temp_suffix']}")
    try:
        with open(temp, "xb") as handle:
            handle.write(data)
        if faults.rename_fails(name):
            # Lab fault injection: the host fails between writing the temp file and the rename.
            raise WindowsError_("The process cannot access the file because it is being used by another process.", "System.IO.IOException")
        _check_replace(ctx, opened, target)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    ctx.log("replace", file=target.name)
    return target


@operation("write_cert_store")
def write_cert_store(ctx: OpContext) -> dict[str, t.Any]:
    opened = _open_folder(ctx, "change")
    try:
        answer = _write(ctx, opened)
    except BaseException:
        # As in PowerShell, an error raised by the clean-up in finally replaces the operation's own.
        _close_folder(ctx, opened)
        raise
    _close_folder(ctx, opened)
    return answer


def _stamp(opened: _Folder, target: Path, mtime_ticks: int) -> int:
    """Set the planned last-write time; a coarse file system keeps less, which the client cache hides at first."""
    os.utime(target, ns=(time.time_ns(), mtime_ticks * 100))
    granularity = float((opened.share or {}).get("timestamp_granularity") or 0)
    if not granularity:
        return _ticks(target)
    if not enforced("fs-timestamp-granularity"):
        return _ticks(target)
    step = int(granularity * 1_000_000_000)
    os.utime(target, ns=(time.time_ns(), mtime_ticks * 100 // step * step))
    return mtime_ticks  # rule fs-timestamp-granularity: the value set reads back exact through the SMB client cache


def _write(ctx: OpContext, opened: _Folder) -> dict[str, t.Any]:
    folder = opened.local
    if not folder.is_dir():
        second_hop = opened.share is not None and opened.account is None
        raise WindowsError_(f"The store folder '{ctx.params['path']}' does not exist.", "System.Management.Automation.RuntimeException",
                            rule="directory-exists-hides-denied" if second_hop else None)
    prefix, suffix = str(ctx.params["temp_prefix"]), str(ctx.params["temp_suffix"])
    for name in ctx.params.get("stale_temps") or []:
        if str(name).startswith(prefix) and str(name).endswith(suffix):
            _child(folder, name).unlink(missing_ok=True)
            ctx.log("remove_stale_temp", file=str(name))
    written = {}
    for item in ctx.params.get("files") or []:
        data = base64.b64decode(item["data"])
        target = _write_atomically(ctx, opened, str(item["name"]), data)
        mtime = _stamp(opened, target, int(item["mtime"]))
        if hashlib.sha256(target.read_bytes()).hexdigest() != item["sha256"]:
            raise WindowsError_(f"Read-back check of '{item['name']}' failed: the file differs from what was written.")
        written[str(item["name"])] = {"size": target.stat().st_size, "mtime": mtime}
    removed = []
    for name in ctx.params.get("removes") or []:
        _child(folder, name).unlink(missing_ok=True)
        removed.append(str(name))
        ctx.log("remove", file=str(name))
    if ctx.params.get("manifest_data"):
        _write_atomically(ctx, opened, str(ctx.params["manifest_name"]), base64.b64decode(ctx.params["manifest_data"]))
    return {"written": written, "removed": removed}
