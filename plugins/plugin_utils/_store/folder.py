# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate store folders (replicas of the CCS share) and the small manifest kept in each.

A store is read once (a name/size/mtime listing of ``*.pfx`` plus the manifest) and,
only when something must change, written once. Writes are atomic per file: the new
content goes to a unique temporary name in the same folder and is renamed over the
old file, then read back and compared. The manifest remembers what this collection
published (identity, thumbprint, encryption, a salted fingerprint of the key
password, and the size and mtime the file had right after writing) so an unchanged
re-publish moves no PFX bytes at all.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import hashlib
import hmac
import json
import os
import time
import typing as t
import uuid

MANIFEST_NAME = ".iis-ccs-manifest.json"
MANIFEST_FORMAT = 1
# Temporary files are ours only when they carry both marks; nothing else is ever cleaned up.
TEMP_PREFIX = ".iis-ccs-tmp-"
TEMP_SUFFIX = ".tmp"
# A temp file younger than this may belong to a publisher running right now.
STALE_TEMP_AGE_SECONDS = 15 * 60
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
    manifest: bytes | None
    now: int  # the store side's clock, in ticks, to age temp files
    # Lowercase names that were looked up one by one, or None when pfx lists the whole folder.
    examined: frozenset[str] | None = None

    def stale_temps(self) -> list[str]:
        limit = self.now - STALE_TEMP_AGE_SECONDS * TICKS_PER_SECOND
        return sorted(name for name, stat in self.temps.items() if stat.mtime < limit)


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


# Given the manifest's bytes, the only file names a run can act on (see candidate_names),
# or None when the manifest cannot tell them (the whole folder is then listed).
Candidates = t.Callable[[bytes | None], t.Sequence[str] | None]


class StoreBackend(t.Protocol):
    traffic: Traffic

    def read(self, candidates: Candidates | None = None) -> StoreListing: ...

    def fetch(self, names: t.Sequence[str]) -> dict[str, bytes]: ...

    def commit(self, write: StoreWrite) -> dict[str, FileStat]: ...


# -- manifest -----------------------------------------------------------------


def new_manifest() -> dict[str, t.Any]:
    return {"format": MANIFEST_FORMAT, "generator": "iis.ccs.ccs_cert_publish", "salt": base64.b64encode(os.urandom(16)).decode("ascii"), "files": {}}


def parse_manifest(data: bytes | None) -> dict[str, t.Any]:
    """The manifest of a store; a missing, unreadable or foreign one counts as empty (everything is then re-identified)."""
    if not data:
        return new_manifest()
    try:
        manifest = json.loads(data.decode("utf-8-sig"))
    except ValueError:
        return new_manifest()
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(manifest.get("files"), dict)
        or not isinstance(manifest.get("salt"), str)
    ):
        return new_manifest()
    return manifest


def serialize_manifest(manifest: t.Mapping[str, t.Any]) -> bytes:
    # Compact: every run reads the whole record, and it grows with the number of files in the store.
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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


# -- folder stores reached from the controller ------------------------------


class FileSystem(t.Protocol):
    """The few file primitives a folder store needs; wrap one to inject faults in tests."""

    def list(self, pattern: str = "*") -> dict[str, FileStat]: ...  # files matching a DOS wildcard pattern

    def read(self, name: str) -> bytes | None: ...  # None when absent

    def write_new(self, name: str, data: bytes) -> None: ...

    def replace(self, source: str, target: str) -> None: ...

    def remove(self, name: str) -> None: ...

    def stat(self, name: str) -> FileStat: ...  # FileNotFoundError when absent


class FolderStore:
    """A store whose folder the controller reaches itself (local folder or SMB)."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.traffic = Traffic()

    def read(self, candidates: Candidates | None = None) -> StoreListing:
        """The whole folder, or with candidates only the files that matter (a few lookups instead of a big listing)."""
        self.traffic.round_trips += 1
        manifest = self.fs.read(MANIFEST_NAME)
        now = int(time.time() * TICKS_PER_SECOND)
        wanted = None if candidates is None else candidates(manifest)
        if wanted is None:
            entries = self.fs.list()
            self.traffic.other += len(manifest or b"") + 64 * len(entries)
            return StoreListing(
                pfx={n: s for n, s in entries.items() if is_pfx_name(n)},
                temps={n: s for n, s in entries.items() if is_our_temp(n)},
                manifest=manifest,
                now=now,
            )
        names = [n for n in wanted if is_pfx_name(n)]
        found: dict[str, FileStat] = {}
        for name in names:
            try:
                found[name] = self.fs.stat(name)
            except FileNotFoundError:
                continue
        temps = self.fs.list(TEMP_PREFIX + "*" + TEMP_SUFFIX)
        self.traffic.other += len(manifest or b"") + 64 * (len(names) + len(temps))
        return StoreListing(
            pfx=found,
            temps={n: s for n, s in temps.items() if is_our_temp(n)},
            manifest=manifest,
            now=now,
            examined=frozenset(n.lower() for n in names),
        )

    def fetch(self, names: t.Sequence[str]) -> dict[str, bytes]:
        self.traffic.round_trips += 1
        found: dict[str, bytes] = {}
        for name in names:
            data = self.fs.read(name)
            if data is not None:
                found[name] = data
                self.traffic.pfx_read += len(data)
        return found

    def commit(self, write: StoreWrite) -> dict[str, FileStat]:
        self.traffic.round_trips += 1
        for name in write.stale_temps:
            _ignore_errors(self.fs.remove, name)
        written: dict[str, FileStat] = {}
        for name, data in write.files.items():
            self._atomic_write(name, data)
            self.traffic.pfx_written += len(data)
            self._verify(name, data)
            written[name] = self.fs.stat(name)
        for name in write.removes:
            self.fs.remove(name)
        manifest = dict(write.manifest)
        fill_written_stats(manifest, written)
        data = serialize_manifest(manifest)
        self._atomic_write(MANIFEST_NAME, data)
        self.traffic.other += len(data)
        return written

    def close(self) -> None:
        close = getattr(self.fs, "close", None)
        if close is not None:
            close()

    def _atomic_write(self, name: str, data: bytes) -> None:
        temp = new_temp_name()
        try:
            self.fs.write_new(temp, data)
            self.fs.replace(temp, name)
        except BaseException:
            # Whatever failed, the old file is untouched; do not leave our temp file behind.
            _ignore_errors(self.fs.remove, temp)
            raise

    def _verify(self, name: str, data: bytes) -> None:
        back = self.fs.read(name)
        self.traffic.pfx_read += len(back or b"")
        if back is None or sha256_hex(back) != sha256_hex(data):
            # Another publisher may have renamed its own complete file over ours in
            # between; that is still a whole file, but we cannot vouch for it.
            raise StoreError(f"read-back check of {name} failed: the file differs from what was written")


def _ignore_errors(func: t.Callable[[str], None], name: str) -> None:
    try:
        func(name)
    except Exception:  # noqa: BLE001 - cleanup must never hide the original error
        pass


class LocalFileSystem:
    """A folder on the controller."""

    def __init__(self, path: str) -> None:
        self.path = path

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
