# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A store folder reached through the task's Windows host: a local path there, or a UNC path
opened with explicit share credentials (so the WinRM double hop never matters).

read_cert_store lists the folder (or only the names and DOS wildcard patterns it is given)
with the header, the record pack and, when asked, the content of records and other files;
write_cert_store does the whole atomic commit on the host in one round trip. A run that
looks its files up needs one read, a second and third only to find the files of a
superseded certificate; a full listing needs a second only for records the pack lacks.
"""

from __future__ import annotations

import base64
import time
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationError, HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._store import records as layout
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import (
    MANIFEST_NAME,
    PACK_NAME,
    RECORD_PREFIX,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    TICKS_PER_SECOND,
    FileStat,
    Found,
    Lookup,
    StoreError,
    StoreListing,
    StoreWrite,
    Traffic,
    is_our_temp,
    is_pfx_name,
    look_up,
    sha256_hex,
)

READ_OPERATION = "read_cert_store"
WRITE_OPERATION = "write_cert_store"


class HostStore:
    def __init__(self, runner: HostOperationRunner, path: str, *, user_name: str | None = None, password: str | None = None) -> None:
        self.runner = runner
        self.path = path
        self._credential = {"user_name": user_name, "password": password} if user_name else {}
        self.traffic = Traffic()

    def _run(self, operation: str, params: dict[str, t.Any]) -> dict[str, t.Any]:
        sent, received = self.runner.bytes_sent, self.runner.bytes_received
        try:
            answer = self.runner.run(operation, {"path": self.path, **self._credential, **params})
        except HostOperationError as exc:
            raise StoreError(f"{self.path}: {exc.windows_message}") from None
        except Exception as exc:  # noqa: BLE001 - the host itself unreachable: this replica fails, others go on
            raise StoreError(f"{self.path}: cannot reach the host ({type(exc).__name__}: {str(exc)[:300]})") from None
        finally:
            self.traffic.round_trips += 1
            self.traffic.other += (self.runner.bytes_sent - sent) + (self.runner.bytes_received - received)
        if not isinstance(answer, dict):
            raise StoreError(f"{self.path}: unexpected answer from {operation}")
        return answer

    def _list(
        self, patterns: t.Sequence[str] | None, fallbacks: t.Mapping[str, str] | None = None, *, manifest: bool = False, pack: bool = False
    ) -> dict[str, t.Any]:
        answer = self._run(
            READ_OPERATION,
            {
                "patterns": None if patterns is None else list(patterns),
                "lookups": [{"name": name, "pattern": pattern} for name, pattern in (fallbacks or {}).items()],
                "manifest_name": MANIFEST_NAME if manifest else "",
                "pack_name": PACK_NAME if pack else "",
                "record_prefix": RECORD_PREFIX,
                "read_records": patterns is not None,
                "fetch": [],
                "temp_prefix": TEMP_PREFIX,
                "temp_suffix": TEMP_SUFFIX,
            },
        )
        if not answer.get("exists"):
            raise StoreError(f"the folder {self.path} does not exist")
        return answer

    def read(self, lookup: Lookup | None = None) -> StoreListing:
        if lookup is not None:
            asked: list[bool] = []

            def find(patterns: t.Sequence[str], fallbacks: t.Mapping[str, str]) -> Found:
                # The first look-up also brings the header, so an unchanged run needs one round trip.
                answer = self._list(patterns, fallbacks, manifest=not asked)
                asked.append(True)
                records = {str(k): base64.b64decode(v) for k, v in (answer.get("records") or {}).items()}
                return Found(_entries(answer), records, _manifest(answer), int(answer["now"]))

            return look_up(find, lookup)
        answer = self._list(None, manifest=True, pack=True)
        entries = _entries(answer)
        listed = {name: stat for name, stat in entries.items() if layout.is_record_name(name)}
        pack = layout.decode_pack(base64.b64decode(answer["pack"])) if answer.get("pack") else {}
        records = layout.from_pack(pack, listed)
        missing = [name for name in listed if name not in records]
        if missing:
            # Records written since the pack was last refreshed: one more round trip brings them all.
            records.update(self._fetch_other(missing))
        return StoreListing(
            pfx={n: s for n, s in entries.items() if is_pfx_name(n)},
            temps={n: s for n, s in entries.items() if is_our_temp(n)},
            manifest=_manifest(answer),
            now=int(answer["now"]),
            records=records,
            record_stats=listed,
            pack=pack,
        )

    def _fetch_other(self, names: t.Sequence[str]) -> dict[str, bytes]:
        answer = self._run(READ_OPERATION, {"fetch": list(names), "temp_prefix": TEMP_PREFIX, "temp_suffix": TEMP_SUFFIX, "patterns": []})
        return {str(k): base64.b64decode(v) for k, v in (answer.get("contents") or {}).items()}

    def fetch(self, names: t.Sequence[str]) -> dict[str, bytes]:
        found = self._fetch_other(names)
        moved = sum(len(v) for v in found.values())
        self.traffic.pfx_read += moved
        self.traffic.other -= min(self.traffic.other, moved * 4 // 3)
        return found

    def commit(self, write: StoreWrite) -> dict[str, FileStat]:
        """One round trip: PFX files, their new records and the pack (written in that order, each atomically
        and checked by SHA-256), then removals (PFX files and replaced records), then the header."""
        # The host stamps each written file with a last-write time chosen here, so the
        # records can be built on the controller and travel as opaque bytes.
        stamp = int(time.time() * TICKS_PER_SECOND)
        planned = {name: FileStat(len(data), stamp) for name, data in write.files.items()}
        changes = write.record_changes(planned)
        others = dict(changes.records)
        pack = write.refreshed_pack(changes, {name: FileStat(len(data), stamp) for name, data in changes.records.items()})
        if pack is not None:
            others[PACK_NAME] = pack
        files = [
            {"name": name, "data": base64.b64encode(data).decode("ascii"), "sha256": sha256_hex(data), "mtime": stamp}
            for name, data in [*write.files.items(), *others.items()]
        ]
        params: dict[str, t.Any] = {
            "files": files,
            "removes": [*write.removes, *changes.deletes],
            "stale_temps": list(write.stale_temps),
            "temp_prefix": TEMP_PREFIX,
            "temp_suffix": TEMP_SUFFIX,
        }
        if changes.header is not None:
            params.update(manifest_name=MANIFEST_NAME, manifest_data=base64.b64encode(changes.header).decode("ascii"))
        answer = self._run(WRITE_OPERATION, params)
        moved = write.payload_bytes
        self.traffic.pfx_written += moved
        self.traffic.other -= min(self.traffic.other, moved * 4 // 3)
        reported = answer.get("written") or {}
        written = {name: FileStat(int(reported[name]["size"]), int(reported[name]["mtime"])) for name in planned if name in reported}
        if written != planned:
            raise StoreError(f"{self.path}: the host reported different sizes or times than were written")
        return written


def _entries(answer: t.Mapping[str, t.Any]) -> dict[str, FileStat]:
    return {str(f["name"]): FileStat(int(f["size"]), int(f["mtime"])) for f in answer.get("files") or []}


def _manifest(answer: t.Mapping[str, t.Any]) -> bytes | None:
    return base64.b64decode(answer["manifest"]) if answer.get("manifest") else None
