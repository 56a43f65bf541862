# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate store folders (replicas of the CCS share) and the manifest records kept in each.

A store is read once (a name/size/mtime listing of ``*.pfx`` plus the manifest records, or
only the files and records of the names a run publishes) and, only when something must
change, written once. Writes are atomic per file: the new content goes to a unique
temporary name in the same folder and is renamed over the old file, then read back and
compared. The records (records.py) remember what this collection published (identity,
thumbprint, encryption, a salted fingerprint of the key password, and the size and mtime
the file had right after writing) so an unchanged re-publish moves no PFX bytes at all.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import fnmatch
import hashlib
import hmac
import os
import time
import typing as t
import uuid

from ansible_collections.iis.ccs.plugins.plugin_utils._store import records as layout
from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import MANIFEST_NAME, PACK_NAME, RECORD_PREFIX, RECORD_SUFFIX

__all__ = ["MANIFEST_NAME", "PACK_NAME", "RECORD_PREFIX", "RECORD_SUFFIX"]  # re-exported: callers name the store's files from here

# Temporary files are ours only when they carry both marks; nothing else is ever cleaned up.
TEMP_PREFIX = ".iis-ccs-tmp-"
TEMP_SUFFIX = ".tmp"
# A temp file younger than this may belong to a publisher running right now.
STALE_TEMP_AGE_SECONDS = 15 * 60
# Its modification time is when a run that looked its files up last searched for stale temporary files. Such
# a run searches again only when that is STALE_TEMP_AGE_SECONDS ago: the search is a wildcard, which every
# server answers by going through the whole folder, so searching on every write made a task's cost grow with
# the store. A stat of one exact name does not. Not a PFX file, a record or a temp file: nothing reads it.
SWEEP_MARK_NAME = ".iis-ccs-swept"
_SWEEP_MARK_TEXT = b"iis.ccs: the modification time of this file is when stale temporary files were last searched for\n"
# mtime unit everywhere: 100 ns ticks since the Unix epoch (Windows FILETIME resolution).
TICKS_PER_SECOND = 10_000_000
_FINGERPRINT_ITERATIONS = 100_000


class StoreError(Exception):
    """A replica could not be read or written; the message never holds a secret."""


@dataclasses.dataclass(frozen=True)
class FileStat:
    size: int
    mtime: int  # 100 ns ticks since the Unix epoch


@dataclasses.dataclass
class StoreListing:
    """What one read of a store returns."""

    pfx: dict[str, FileStat]
    temps: dict[str, FileStat]
    manifest: bytes | None  # .iis-ccs-manifest.json: the format 2 header, or a format 1 manifest not yet migrated
    now: int  # the store side's clock, in ticks, to age temp files
    # Lowercase names that were looked up one by one, or None when pfx lists the whole folder.
    examined: frozenset[str] | None = None
    records: dict[str, bytes] = dataclasses.field(default_factory=dict)  # record file name -> bytes, as read
    # When the whole folder was listed: every record file as listed, and the pack's copies.
    record_stats: dict[str, FileStat] | None = None
    pack: dict[str, layout.PackCopy] | None = None
    _view: dict[str, t.Any] | None = dataclasses.field(default=None, repr=False, compare=False)

    def stale_temps(self) -> list[str]:
        limit = self.now - STALE_TEMP_AGE_SECONDS * TICKS_PER_SECOND
        return sorted(name for name, stat in self.temps.items() if stat.mtime < limit)

    def view(self) -> dict[str, t.Any]:
        """The manifest ({"salt", "files": {name: entry}}) from header and records; the one reader every module uses."""
        if self._view is None:
            self._view = layout.resolve(self.manifest, self.records, self.pfx)
        return self._view

    def vouched(self) -> dict[str, dict[str, t.Any]]:
        """PFX files (as listed) whose record still vouches for them: their content need not be read."""
        files = self.view()["files"]
        return {name: files[name] for name, stat in self.pfx.items() if layout.vouches(files.get(name), stat)}

    def needs_layout_write(self) -> bool:
        return layout.needs_layout_write(self.manifest, self.record_stats, self.pack)


@dataclasses.dataclass(frozen=True)
class Lookup:
    """Instead of listing the folder: the files a run publishes, and how to find the files it supersedes.

    Each file's record is read by its exact name (known from the thumbprint published): no folder search.

    ``lineage`` gets the records found for ``names`` ({file name: entry}) and answers the
    thumbprints whose other files also matter (plan.lineage_thumbprints).
    """

    files: tuple[tuple[str, str], ...]  # (file name, thumbprint it is published with)
    lineage: t.Callable[[t.Mapping[str, t.Any]], set[str]]

    @property
    def names(self) -> list[str]:
        return [name for name, _thumbprint in self.files]


@dataclasses.dataclass
class StoreWrite:
    """Everything one commit does, in this order: clean stale temps, write files, remove files, write the manifest.

    ``manifest`` is the complete new manifest; the backend fills in ``size`` and
    ``mtime`` of every written file after its rename, then writes the manifest.
    """

    files: dict[str, bytes]
    removes: list[str]
    stale_temps: list[str]
    manifest: dict[str, t.Any]
    listing: StoreListing  # what the plan was made from: the records it may replace, the header, the pack

    def record_changes(self, written: t.Mapping[str, FileStat]) -> layout.LayoutChanges:
        """Record writes and deletes (plus header and pack) once the written files' size and time are known."""
        manifest = dict(self.manifest, files={name: dict(entry) for name, entry in self.manifest["files"].items()})
        fill_written_stats(manifest, written)
        return layout.layout_changes(self.listing.manifest, self.listing.records, manifest)

    def refreshed_pack(self, changes: layout.LayoutChanges, written_records: t.Mapping[str, FileStat]) -> bytes | None:
        """The new record pack, only for a task that listed the whole folder and only when the old one no longer matches."""
        if self.listing.pack is None:
            return None
        return layout.refreshed_pack(self.listing.record_stats or {}, self.listing.records, self.listing.pack, changes, written_records)

    @property
    def payload_bytes(self) -> int:
        return sum(len(data) for data in self.files.values())


@dataclasses.dataclass
class Traffic:
    """Bytes a replica moved: PFX content and everything else (listing, manifest, protocol)."""

    pfx_read: int = 0
    pfx_written: int = 0
    other: int = 0
    round_trips: int = 0


class StoreBackend(t.Protocol):
    traffic: Traffic

    def read(self, lookup: Lookup | None = None) -> StoreListing: ...

    def fetch(self, names: t.Sequence[str]) -> dict[str, bytes]: ...

    def commit(self, write: StoreWrite) -> dict[str, FileStat]: ...


# -- records ------------------------------------------------------------------


def password_fingerprint(password: str | None, salt: str) -> str:
    """A salted, slow one-way fingerprint: tells a rotated key password apart without storing it."""
    material = b"\x00none" if password is None else b"\x01" + password.encode("utf-8")
    digest = hashlib.pbkdf2_hmac("sha256", material, base64.b64decode(salt), _FINGERPRINT_ITERATIONS)
    return "pbkdf2:" + digest.hex()[:32]


def fingerprints_equal(left: str | None, right: str | None) -> bool:
    return left is not None and right is not None and hmac.compare_digest(left, right)


def fill_written_stats(manifest: dict[str, t.Any], written: t.Mapping[str, FileStat]) -> None:
    for name, stat in written.items():
        entry = manifest["files"].setdefault(name, {})
        entry["size"] = stat.size
        entry["mtime"] = stat.mtime


def is_pfx_name(name: str) -> bool:
    return name.lower().endswith(".pfx") and not name.startswith(TEMP_PREFIX)


def is_our_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def new_temp_name() -> str:
    # Unique per write, so two publishers never share a temporary file.
    return f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TEMP_PATTERN = TEMP_PREFIX + "*" + TEMP_SUFFIX
_Input = t.TypeVar("_Input")
_Result = t.TypeVar("_Result")


@dataclasses.dataclass
class Found:
    """What a back end found for a few names and DOS wildcard patterns: entries, and the bytes of the records among them."""

    entries: dict[str, FileStat]
    records: dict[str, bytes]
    manifest: bytes | None = None  # the header, when the back end brings it along with the first look-up
    now: int | None = None


# Names and DOS wildcard patterns to list; and names to take if present, else the pattern to search instead.
Find = t.Callable[[t.Sequence[str], t.Mapping[str, str]], Found]


def look_up(find: Find, lookup: Lookup, manifest: bytes | None = None, now: int | None = None, *, temps: bool = True) -> StoreListing:
    """Files and records of the names a run publishes, then those of the certificates it supersedes.

    An unchanged run reads its records by exact name: no folder search, except the one for stale
    temporary files when ``temps`` (a host, which lists in the same round trip anyway). Searches by
    wildcard only happen for files whose certificate changes (their records under any thumbprint)
    and for the files of a superseded certificate.
    """
    fallbacks = {layout.record_name(name, thumbprint): layout.key_pattern(name) for name, thumbprint in lookup.files}
    found = find([*lookup.names, *([TEMP_PATTERN] if temps else [])], fallbacks)
    manifest = found.manifest if manifest is None else manifest
    records = dict(found.records)
    entries = dict(found.entries)
    examined = {name.lower() for name in lookup.names}
    files = layout.resolve(manifest, records, {n: s for n, s in entries.items() if is_pfx_name(n)})["files"]
    thumbprints = {thumbprint.upper() for thumbprint in lookup.lineage(files)}
    if thumbprints:
        records.update(find([layout.thumbprint_pattern(thumbprint) for thumbprint in sorted(thumbprints)], {}).records)
        files = layout.resolve(manifest, records, {})["files"]
        extra = sorted(
            name for name, entry in files.items() if str(entry.get("thumbprint", "")).upper() in thumbprints and name.lower() not in examined
        )
        if extra:
            entries.update(find(extra, {}).entries)
            examined.update(name.lower() for name in extra)
    return StoreListing(
        pfx={n: s for n, s in entries.items() if is_pfx_name(n)},
        temps={n: s for n, s in entries.items() if is_our_temp(n)},
        manifest=manifest,
        now=now if now is not None else int(found.now or 0),
        examined=frozenset(examined),
        records=records,
    )


# -- folder stores reached from the controller ------------------------------


class FileSystem(t.Protocol):
    """The few file primitives a folder store needs; wrap one to inject faults in tests."""

    def list(self, pattern: str = "*") -> dict[str, FileStat]: ...  # files matching a DOS wildcard pattern

    def read(self, name: str) -> bytes | None: ...  # None when absent

    def write_new(self, name: str, data: bytes) -> None: ...

    def replace(self, source: str, target: str) -> None: ...

    def remove(self, name: str) -> None: ...

    def stat(self, name: str) -> FileStat: ...  # FileNotFoundError when absent

    # Whole-file steps, which a back end may do in fewer round trips than the primitives above:
    def write_atomic(self, name: str, data: bytes) -> FileStat: ...  # a temporary file renamed over name; its size and time

    def read_verified(self, name: str, data: bytes) -> FileStat: ...  # read back, compare, and its size and time

    def write_verified(self, name: str, data: bytes) -> FileStat: ...  # write_atomic, then read_verified (PFX files)

    # A new file in one step where the back end can (None: it exists, or the back end cannot): manifest records only.
    def create_whole(self, name: str, data: bytes) -> FileStat | None: ...

    parallel_requests: int  # how many files commit() may write at once


class FolderStore:
    """A store whose folder the controller reaches itself (local folder or SMB)."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.traffic = Traffic()

    def read(self, lookup: Lookup | None = None) -> StoreListing:
        """The whole folder, or with a lookup only the files and records that matter (a few look-ups instead of a big listing)."""
        self.traffic.round_trips += 1
        manifest = self.fs.read(MANIFEST_NAME)
        self.traffic.other += len(manifest or b"")
        now = int(time.time() * TICKS_PER_SECOND)
        if lookup is not None:
            # Stale temporary files are swept by the commit (below), not searched for here: on an SMB
            # share a wildcard search reads the whole directory, and an unchanged run writes nothing.
            return look_up(self._find, lookup, manifest, now, temps=False)
        entries = self.fs.list()
        self.traffic.other += 64 * len(entries)
        listed = {name: stat for name, stat in entries.items() if layout.is_record_name(name)}
        pack = layout.decode_pack(self._read_other(PACK_NAME)) if PACK_NAME in entries else {}
        records = layout.from_pack(pack, listed)
        missing = [name for name in listed if name not in records]
        if missing:
            # Records written since the pack was last refreshed (e.g. by single-certificate tasks): read one by one.
            self.traffic.round_trips += 1
            records.update(self._read_records(missing))
        return StoreListing(
            pfx={n: s for n, s in entries.items() if is_pfx_name(n)},
            temps={n: s for n, s in entries.items() if is_our_temp(n)},
            manifest=manifest,
            now=now,
            records=records,
            record_stats=listed,
            pack=pack,
        )

    def _find(self, patterns: t.Sequence[str], fallbacks: t.Mapping[str, str]) -> Found:
        entries = self._look_up(patterns)
        # A PFX file that is not there has no record that could vouch for it, and it is written whatever its
        # records say: its record look-ups are skipped. Each would miss, and on Samba (case-insensitive) a miss
        # or a wildcard search reads the whole folder, so a new file's task got slower as the store grew. A record
        # of a file deleted by hand stays until a run that lists the folder; it never vouches for the new file
        # (records.resolve prefers the one that matches the file's size and time).
        absent = {layout.key_pattern(name) for name in patterns if "*" not in name and name not in entries}
        wanted = {name: pattern for name, pattern in fallbacks.items() if pattern not in absent}
        records = self._read_records(wanted)  # read, not looked up first: absent is simply no record
        searches = [pattern for name, pattern in wanted.items() if name not in records]
        entries.update(self._look_up(searches))
        self.traffic.other += 64 * (len(patterns) + len(searches) + len(entries))
        records.update(self._read_records(name for name in entries if layout.is_record_name(name) and name not in records))
        return Found(entries, records)

    def _look_up(self, patterns: t.Sequence[str]) -> dict[str, FileStat]:
        entries: dict[str, FileStat] = {}
        for pattern in patterns:
            if "*" in pattern:
                entries.update(self.fs.list(pattern))
                continue
            try:
                entries[pattern] = self.fs.stat(pattern)
            except FileNotFoundError:
                continue
        return entries

    def _read_other(self, name: str) -> bytes | None:
        data = self.fs.read(name)
        self.traffic.other += len(data or b"")
        return data

    def _read_records(self, names: t.Iterable[str]) -> dict[str, bytes]:
        found = self._read_many(names)
        self.traffic.other += sum(len(data) for data in found.values())
        return found

    def fetch(self, names: t.Sequence[str]) -> dict[str, bytes]:
        self.traffic.round_trips += 1
        found = self._read_many(names)
        self.traffic.pfx_read += sum(len(data) for data in found.values())
        return found

    def _read_many(self, names: t.Iterable[str]) -> dict[str, bytes]:
        """The files that exist (one deleted in between, by a publisher that replaced it, is simply absent)."""
        read = self._in_parallel(lambda name, _unused: self.fs.read(name), dict.fromkeys(names, None))
        return {name: data for name, data in read.items() if data is not None}

    def commit(self, write: StoreWrite) -> dict[str, FileStat]:
        """PFX files, then their new records, then removals (PFX and replaced records), then header and pack."""
        self.traffic.round_trips += 1
        self._remove_stale_temps(write)
        written = self._write_files(write.files)
        changes = write.record_changes(written)
        keep_stats = write.listing.pack is not None  # the pack keeps each record's size and time
        written_records = {
            name: stat for name, stat in self._in_parallel(lambda name, data: self._write_record(name, data, keep_stats), changes.records).items() if stat
        }
        self.traffic.other += sum(len(data) for data in changes.records.values())
        for name in [*write.removes, *changes.deletes]:
            self.fs.remove(name)
            self.traffic.other += 64
        if changes.header is not None:
            self._write_other(MANIFEST_NAME, changes.header)
        pack = write.refreshed_pack(changes, written_records)
        if pack is not None:
            self._write_other(PACK_NAME, pack)
        return written

    def _remove_stale_temps(self, write: StoreWrite) -> None:
        """Our temporary files of interrupted runs: those the listing showed, or for a run that looked its files
        up, those a search finds now that it writes anyway, when the folder was not searched for them lately."""
        searched = write.listing.examined is not None and self._sweep_due()
        names = self._stale_temps(write.listing) if searched else write.stale_temps
        for name in names:
            _ignore_errors(self.fs.remove, name)
        if searched:
            # Best effort: without the mark the next writing run just searches again.
            _ignore_errors(lambda name: self.fs.write_atomic(name, _SWEEP_MARK_TEXT), SWEEP_MARK_NAME)
            self.traffic.other += len(_SWEEP_MARK_TEXT)

    def _sweep_due(self) -> bool:
        self.traffic.other += 64
        try:
            marked = self.fs.stat(SWEEP_MARK_NAME).mtime
        except FileNotFoundError:
            return True
        # A mark in the future (a store clock ahead of ours) counts as fresh until this clock passes it.
        return marked < int(time.time() * TICKS_PER_SECOND) - STALE_TEMP_AGE_SECONDS * TICKS_PER_SECOND

    def _stale_temps(self, listing: StoreListing) -> list[str]:
        temps = {n: s for n, s in self.fs.list(TEMP_PATTERN).items() if is_our_temp(n)}
        self.traffic.other += 64 * (1 + len(temps))
        return dataclasses.replace(listing, temps=temps, now=int(time.time() * TICKS_PER_SECOND)).stale_temps()

    def _write_files(self, files: t.Mapping[str, bytes]) -> dict[str, FileStat]:
        stats = self._in_parallel(self._write_file, files)
        moved = sum(len(data) for data in files.values())
        self.traffic.pfx_written += moved
        self.traffic.pfx_read += moved  # the read-back
        return stats

    def _in_parallel(self, step: t.Callable[[str, _Input], _Result], files: t.Mapping[str, _Input]) -> dict[str, _Result]:
        """step for each file, several at once where the back end allows it (SMB). On a failure the files not yet
        started are not done, those under way finish, and the first error is raised: as with one file after
        another, the records of a failed write are not written, and the next run converges."""
        workers = min(self.fs.parallel_requests, len(files))
        if workers <= 1:
            return {name: step(name, data) for name, data in files.items()}
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iis-ccs-store") as pool:
            futures = {name: pool.submit(step, name, data) for name, data in files.items()}
            try:
                return {name: future.result() for name, future in futures.items()}
            except BaseException:
                for future in futures.values():
                    future.cancel()
                raise

    def _write_file(self, name: str, data: bytes) -> FileStat:
        return self.fs.write_verified(name, data)

    def _write_record(self, name: str, data: bytes, keep_stat: bool) -> FileStat | None:
        # A new record (every record of a first publish or a renewal: its name holds the thumbprint) is created
        # in one step: a torn one is ignored, since a record counts only when it parses and names itself (records.
        # decode_record), and it vouches only for the size and time it gives. A record already there is replaced
        # atomically, so its readers always see a whole one.
        stat = self.fs.create_whole(name, data) or self.fs.write_atomic(name, data)
        return stat if keep_stat else None

    def _write_other(self, name: str, data: bytes) -> None:
        self.fs.write_atomic(name, data)
        self.traffic.other += len(data)

    def close(self) -> None:
        close = getattr(self.fs, "close", None)
        if close is not None:
            close()


def write_via_temp(fs: FileSystem, name: str, data: bytes) -> None:
    """The step-by-step atomic write: a unique temporary file in the same folder, renamed over name."""
    temp = new_temp_name()
    try:
        fs.write_new(temp, data)
        fs.replace(temp, name)
    except BaseException:
        # Whatever failed, the old file is untouched; do not leave our temp file behind.
        _ignore_errors(fs.remove, temp)
        raise


def read_back(fs: FileSystem, name: str, data: bytes) -> FileStat:
    """The step-by-step read-back check: the whole file compared with data, then its size and time."""
    require_written(name, fs.read(name), data)
    return fs.stat(name)


def require_written(name: str, back: bytes | None, data: bytes) -> None:
    """The read-back check itself: what was read (None: nothing) must be what was written."""
    if back is None or sha256_hex(back) != sha256_hex(data):
        # Another publisher may have renamed its own complete file over ours in
        # between; that is still a whole file, but we cannot vouch for it.
        raise StoreError(f"read-back check of {name} failed: the file differs from what was written")


def _ignore_errors(func: t.Callable[[str], object], name: str) -> None:
    try:
        func(name)
    except Exception:  # noqa: BLE001 - cleanup must never hide the original error
        pass


class LocalFileSystem:
    """A folder on the controller."""

    parallel_requests = 1  # a local disk gains nothing, and fault-injection tests rely on the order

    def __init__(self, path: str) -> None:
        self.path = path

    def write_atomic(self, name: str, data: bytes) -> FileStat:
        write_via_temp(self, name, data)
        return self.stat(name)

    def read_verified(self, name: str, data: bytes) -> FileStat:
        return read_back(self, name, data)

    def write_verified(self, name: str, data: bytes) -> FileStat:
        self.write_atomic(name, data)
        return self.read_verified(name, data)

    def create_whole(self, name: str, data: bytes) -> FileStat | None:
        return None  # a local disk gains nothing: records are written like every other file

    def _full(self, name: str) -> str:
        return os.path.join(self.path, name)

    def list(self, pattern: str = "*") -> dict[str, FileStat]:
        if not os.path.isdir(self.path):
            raise StoreError(f"the folder {self.path} does not exist")
        found = {}
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.is_file() and fnmatch.fnmatch(entry.name.lower(), pattern.lower()):
                    stat = entry.stat()
                    found[entry.name] = FileStat(stat.st_size, stat.st_mtime_ns // 100)
        return found

    def read(self, name: str) -> bytes | None:
        try:
            with open(self._full(name), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write_new(self, name: str, data: bytes) -> None:
        # Owner-only: the files hold (encrypted) private keys.
        descriptor = os.open(self._full(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def replace(self, source: str, target: str) -> None:
        os.replace(self._full(source), self._full(target))

    def remove(self, name: str) -> None:
        try:
            os.remove(self._full(name))
        except FileNotFoundError:
            pass

    def stat(self, name: str) -> FileStat:
        if not os.path.isdir(self.path):
            raise StoreError(f"the folder {self.path} does not exist")
        stat = os.stat(self._full(name))
        return FileStat(stat.st_size, stat.st_mtime_ns // 100)
