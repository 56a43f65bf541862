# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A store folder reached through the task's Windows host: a local path there, or a UNC path
opened with explicit share credentials (so the WinRM double hop never matters).

Each method is exactly one host operation (one round trip): read_cert_store lists the
folder and returns the manifest (and, when asked, the content of a few files);
write_cert_store does the whole atomic commit on the host.
"""

from __future__ import annotations

import base64
import time
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationError, HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import (
    MANIFEST_NAME,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    TICKS_PER_SECOND,
    Candidates,
    FileStat,
    StoreError,
    StoreListing,
    StoreWrite,
    Traffic,
    fill_written_stats,
    is_our_temp,
    is_pfx_name,
    serialize_manifest,
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
            answer = self.runner.run(operation, {"path": self.path, "manifest_name": MANIFEST_NAME, **self._credential, **params})
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

    def read(self, candidates: Candidates | None = None) -> StoreListing:
        # The host lists the folder natively and cheaply in the same round trip as the
        # manifest, so candidates (which need the manifest first) are not used here.
        del candidates
        answer = self._run(READ_OPERATION, {"fetch": [], "temp_prefix": TEMP_PREFIX, "temp_suffix": TEMP_SUFFIX})
        if not answer.get("exists"):
            raise StoreError(f"the folder {self.path} does not exist")
        entries = {str(f["name"]): FileStat(int(f["size"]), int(f["mtime"])) for f in answer.get("files") or []}
        manifest = answer.get("manifest")
        return StoreListing(
            pfx={n: s for n, s in entries.items() if is_pfx_name(n)},
            temps={n: s for n, s in entries.items() if is_our_temp(n)},
            manifest=base64.b64decode(manifest) if manifest else None,
            now=int(answer["now"]),
        )

    def fetch(self, names: t.Sequence[str]) -> dict[str, bytes]:
        answer = self._run(READ_OPERATION, {"fetch": list(names), "temp_prefix": TEMP_PREFIX, "temp_suffix": TEMP_SUFFIX})
        found = {str(k): base64.b64decode(v) for k, v in (answer.get("contents") or {}).items()}
        moved = sum(len(v) for v in found.values())
        self.traffic.pfx_read += moved
        self.traffic.other -= min(self.traffic.other, moved * 4 // 3)
        return found

    def commit(self, write: StoreWrite) -> dict[str, FileStat]:
        # The host stamps each written file with a last-write time chosen here, so the
        # complete manifest can be built on the controller and travels as opaque bytes.
        stamp = int(time.time() * TICKS_PER_SECOND)
        planned = {name: FileStat(len(data), stamp) for name, data in write.files.items()}
        manifest = dict(write.manifest, files={k: dict(v) for k, v in write.manifest["files"].items()})
        fill_written_stats(manifest, planned)
        files = [
            {"name": name, "data": base64.b64encode(data).decode("ascii"), "sha256": sha256_hex(data), "mtime": stamp} for name, data in write.files.items()
        ]
        answer = self._run(
            WRITE_OPERATION,
            {
                "files": files,
                "removes": list(write.removes),
                "stale_temps": list(write.stale_temps),
                "manifest_data": base64.b64encode(serialize_manifest(manifest)).decode("ascii"),
                "temp_prefix": TEMP_PREFIX,
                "temp_suffix": TEMP_SUFFIX,
            },
        )
        moved = write.payload_bytes
        self.traffic.pfx_written += moved
        self.traffic.other -= min(self.traffic.other, moved * 4 // 3)
        written = {str(k): FileStat(int(v["size"]), int(v["mtime"])) for k, v in (answer.get("written") or {}).items()}
        if written != planned:
            raise StoreError(f"{self.path}: the host reported different sizes or times than were written")
        return written
