"""Faults tests inject into the lab: kept in <state dir>/faults.json, so every transport sees them.

- ``rename_fails``: file names whose write fails between the temp file and the rename.
- ``powershell_blocked``: hosts whose PowerShell refuses to run the bootstrap, as antimalware
  (AMSI) blocking does: the error arrives as CLIXML on stderr with exit code 1.
- ``drop_connection``: ``{"host", "operation"}`` entries; the connection to the host is lost
  after the operation has run and before its answer arrives. Each entry fires once.
- ``smb_connection_lost``: hosts whose SMB connection to the file server is gone by the time an
  operation's clean-up removes its mapped drive (a file server restart, an idle disconnect).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import typing as t

from .state import state_dir


def _path() -> t.Any:
    return state_dir() / "faults.json"


@contextlib.contextmanager
def _locked() -> t.Iterator[dict[str, t.Any]]:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        faults = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        before = json.dumps(faults, sort_keys=True)
        yield faults
        if json.dumps(faults, sort_keys=True) != before:
            path.write_text(json.dumps(faults, sort_keys=True), encoding="utf-8")


def current() -> dict[str, t.Any]:
    path = _path()
    return t.cast(dict[str, t.Any], json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


def set_faults(**faults: t.Any) -> None:
    """Replace the injected faults (no arguments clears them)."""
    with _locked() as stored:
        stored.clear()
        stored.update(faults)


def rename_fails(name: str) -> bool:
    return name in (current().get("rename_fails") or [])


def powershell_blocked(host: str) -> bool:
    return host.lower() in {str(h).lower() for h in current().get("powershell_blocked") or []}


def script_cache_unwritable(host: str) -> bool:
    """The host's temporary folder refuses the loader's write (full disk, a file held open): nothing is kept."""
    return host.lower() in {str(h).lower() for h in current().get("script_cache_unwritable") or []}


def take_connection_drop(host: str, operation: str) -> bool:
    """True once per matching drop_connection entry (the entry is consumed)."""
    with _locked() as stored:
        entries = list(stored.get("drop_connection") or [])
        for entry in entries:
            if str(entry.get("host", "")).lower() == host.lower() and entry.get("operation") == operation:
                entries.remove(entry)
                stored["drop_connection"] = entries
                return True
    return False


def smb_connection_lost(host: str) -> bool:
    return host.lower() in {str(h).lower() for h in current().get("smb_connection_lost") or []}
