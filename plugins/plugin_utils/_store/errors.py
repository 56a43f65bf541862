# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""File-system and SMB errors of a store, told as the destination and the likely cause.

A raw ``[Errno 20] Not a directory: '/srv/ccs/.iis-ccs-manifest.json'`` or ``SMBOSError ...
STATUS_ACCESS_DENIED`` says what the library saw, not what the user should change. These
helpers name the store folder and the probable fix; the NT status stays in brackets for
whoever has to look it up. They never include credentials (exceptions here carry none).
"""

from __future__ import annotations

import errno

try:
    from smbprotocol.exceptions import NtStatus, SMBException
except ImportError:  # pragma: no cover - the smb destination type reports the missing package itself
    NtStatus = None
    SMBException = None

_WRITE_ACCESS = "give the account write access to the folder"

_OS_CAUSES = {
    errno.EACCES: f"permission denied for the account Ansible runs as on the controller; {_WRITE_ACCESS}",
    errno.EPERM: f"operation not permitted for the account Ansible runs as on the controller; {_WRITE_ACCESS}",
    errno.ENOTDIR: "part of the path is a file, not a folder; point the destination at the store folder itself",
    errno.ENOENT: "the folder (or a folder above it) does not exist; create it first",
    errno.EISDIR: "a folder is in the way of a file the store needs (a PFX or the manifest); remove or rename it",
    errno.ENOSPC: "the file system is full",
    errno.EROFS: "the file system is mounted read-only",
}

_SMB_CAUSES = {
    "STATUS_ACCESS_DENIED": "access denied: the share account may not change files there; give it change (modify) rights on the share and the folder",
    "STATUS_LOGON_FAILURE": "the share's user name or password is incorrect",
    "STATUS_ACCOUNT_DISABLED": "the share account is disabled",
    "STATUS_ACCOUNT_LOCKED_OUT": "the share account is locked out",
    "STATUS_PASSWORD_EXPIRED": "the share account's password has expired",
    "STATUS_BAD_NETWORK_NAME": "the share does not exist on that server; check the share name in the path",
    "STATUS_OBJECT_PATH_NOT_FOUND": "the folder does not exist on the share; create it first",
    "STATUS_OBJECT_NAME_NOT_FOUND": "the folder does not exist on the share; create it first",
    "STATUS_NOT_A_DIRECTORY": "part of the path is a file, not a folder; point the destination at the store folder itself",
    "STATUS_FILE_IS_A_DIRECTORY": "a folder is in the way of a file the store needs (a PFX or the manifest); remove or rename it",
    "STATUS_DISK_FULL": "the share's disk is full",
    "STATUS_SHARING_VIOLATION": "another program holds the file open; run the task again",
}


def explain_os_error(exc: OSError, folder: str) -> str:
    """'the store folder /srv/ccs: part of the path is a file, not a folder; ...' for a controller folder."""
    cause = _OS_CAUSES.get(exc.errno or -1) or exc.strerror or str(exc)
    return f"the store folder {folder}: {cause}"


def _status_name(exc: BaseException) -> str | None:
    if NtStatus is None:
        return None
    code = getattr(exc, "ntstatus", None)
    if code is None:
        try:
            code = getattr(exc, "status", None)
        except Exception:  # noqa: BLE001 - the property parses a response header that may be absent
            code = None
    names = {value: name for name, value in vars(NtStatus).items() if name.startswith("STATUS_")}
    return names.get(code) if isinstance(code, int) else None


def explain_smb_error(exc: BaseException, folder: str, what: str) -> str:
    """'writing x.pfx in \\\\fs01\\ccs: access denied: ... (STATUS_ACCESS_DENIED)' for a share reached over SMB."""
    status = _status_name(exc)
    cause = _SMB_CAUSES.get(status or "")
    if cause:
        return f"{what} {folder}: {cause} ({status})"
    if SMBException is not None and isinstance(exc, SMBException):
        detail = str(exc).split("\n", maxsplit=1)[0][:300]
    elif isinstance(exc, OSError):
        # Refused connections, timeouts, name resolution: the server is not reachable as given.
        detail = f"{exc.strerror or exc}; check that the server is up and that its SMB port is reachable from the controller"
    else:
        detail = str(exc)[:300] or type(exc).__name__
    return f"{what} {folder}: {detail}" + (f" ({status})" if status else "")
