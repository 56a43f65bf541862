# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read every replica of the store: one listing, then the content of every PFX file. Nothing is written."""

from __future__ import annotations

import dataclasses
import hashlib
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._publish.engine import Replica
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import StoreError


@dataclasses.dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    mtime: int  # 100 ns ticks since the Unix epoch
    data: bytes = dataclasses.field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclasses.dataclass
class ReplicaRead:
    """One replica as read: its PFX files by lowercase name (IIS matches names case-insensitively)."""

    name: str
    type: str
    path: str
    files: dict[str, StoredFile] = dataclasses.field(default_factory=dict)
    manifest_files: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    stale_temps: list[str] = dataclasses.field(default_factory=list)
    # Records of PFX files that are not there (deleted by hand): they vouch for nothing, and only a
    # publish run that lists the whole folder deletes them, so the audit names them.
    orphan_records: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None
    round_trips: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def public(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "type": self.type,
            "path": self.path,
            "status": "ok" if self.ok else "failed",
            "error": self.error,
            "file_count": len(self.files),
            "stale_temp_files": list(self.stale_temps),
            "orphan_records": list(self.orphan_records),
            "round_trips": self.round_trips,
        }


def read_replica(replica: Replica) -> ReplicaRead:
    """A replica that cannot be read is reported as failed; the others are still read."""
    read = ReplicaRead(replica.name, replica.type, replica.path)
    if replica.backend is None:
        read.error = replica.setup_error or "not reachable"
        return read
    try:
        listing = replica.backend.read()
        contents = replica.backend.fetch(sorted(listing.pfx)) if listing.pfx else {}
    except StoreError as exc:
        read.error = str(exc)
        return read
    finally:
        read.round_trips = replica.backend.traffic.round_trips
        _close(replica)
    read.manifest_files = {str(k).lower(): v for k, v in listing.view()["files"].items()}
    read.stale_temps = listing.stale_temps()
    for name, stat in listing.pfx.items():
        data = contents.get(name)
        if data is not None:  # removed between the listing and the read: gone, as far as IIS is concerned
            read.files[name.lower()] = StoredFile(name, stat.size, stat.mtime, data)
    read.orphan_records = sorted(name for name in read.manifest_files if name not in read.files)
    return read


def _close(replica: Replica) -> None:
    close = getattr(replica.backend, "close", None)
    if close is not None:
        close()
