# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest as one small record file per PFX file (manifest format 2), and the one reader of it.

Why this layout: format 1 kept every record in one ``.iis-ccs-manifest.json`` that each task read
and rewrote whole, so a task's cost grew with the store and two publishers of different
certificates could lose each other's updates. Now:

- ``.iis-ccs-manifest.json`` shrinks to a constant-size header (format 2: the salt of the key
  password fingerprint). A format 1 file is still read; the next write turns its entries into
  records and then replaces it with the header (same salt, so nothing is re-exported).
- Each PFX file ``x.pfx`` has a record ``.iis-ccs-rec-<key>-<thumbprint>.json`` holding
  ``{"format": 2, "file": "x.pfx", "entry": {...}}``, where ``entry`` is exactly the per-file dict
  of format 1 (extra fields pass through). ``key`` is a hash of the lowercase file name. A task
  knows both parts for the certificate it publishes, so on an unchanged run it reads its records
  by exact name: the store seeks one name and never scans the folder (a wildcard search makes an
  SMB server read the whole directory, which grew an unchanged task's time 2.8x at 10,000 files in
  the first version of this layout). Only when a file's certificate changes (a renewal, a first
  publish) does it search ``<key>-*``, and ``*-<thumbprint>`` finds the other files of the
  certificate it supersedes without reading any other record. A new record may be created in one
  step (a torn one never counts: decode_record wants it whole and naming itself); one already there
  is replaced atomically (temp + rename); a new certificate means a new name, written before the
  old one is deleted.
  Two records for one file (a fault between the two steps, or two publishers of the same name)
  are told apart by which one vouches for the file's current size and time, and the next write
  that sees both removes the extra.
- ``.iis-ccs-records.json`` (the pack) holds copies of the records, with the size and time each
  record file had, for the tasks that need all of them (a large batch, ``prune``,
  ccs_renew_plan, ccs_store_info): one listing and one read instead of one read per record. It
  is only a cache: a copy counts only while the listing shows its record with that size and
  time; other records are read one by one. Tasks that list the whole folder rewrite it when it
  no longer matches; single-certificate tasks never touch it.

Nothing here does I/O: the back ends (folder.py, host.py) read and write these bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import typing as t

MANIFEST_NAME = ".iis-ccs-manifest.json"
LEGACY_FORMAT = 1
MANIFEST_FORMAT = 2
RECORD_PREFIX = ".iis-ccs-rec-"
RECORD_SUFFIX = ".json"
PACK_NAME = ".iis-ccs-records.json"
GENERATOR = "iis.ccs.ccs_cert_publish"

_RECORD_NAME = re.compile(r"^\.iis-ccs-rec-([0-9a-f]{16})-([0-9A-F]{1,64}|none)\.json$")

# The coarsest last-write time a store's file system may keep, in 100 ns ticks: FAT keeps 2 s, some NAS
# and Samba set-ups 1 s (https://learn.microsoft.com/en-us/windows/win32/sysinfo/file-times). The time the
# host reported right after writing can be the exact value set (the SMB client caches it) while a later
# listing shows what the file system kept, so times compare within this granularity, not to the tick.
MTIME_GRANULARITY_TICKS = 2 * 10_000_000


class Stat(t.Protocol):
    @property
    def size(self) -> int: ...

    @property
    def mtime(self) -> int: ...


def same_mtime(recorded: t.Any, observed: int) -> bool:
    """A recorded last-write time still matches one the file system may have kept more coarsely."""
    if not isinstance(recorded, int):
        return False
    return abs(recorded - observed) < MTIME_GRANULARITY_TICKS


def vouches(entry: t.Mapping[str, t.Any] | None, stat: Stat | None) -> bool:
    """A record speaks for a file only while the file keeps the size and time it had right after we wrote it."""
    if not entry or stat is None:
        return False
    return bool(entry.get("size") == stat.size and same_mtime(entry.get("mtime"), stat.mtime))


# -- names -------------------------------------------------------------------


def name_key(file_name: str) -> str:
    return hashlib.sha256(file_name.lower().encode("utf-8")).hexdigest()[:16]


def _thumbprint_part(entry: t.Mapping[str, t.Any]) -> str:
    thumbprint = str(entry.get("thumbprint") or "").upper()
    return thumbprint if re.fullmatch(r"[0-9A-F]{1,64}", thumbprint) else "none"


def is_record_name(name: str) -> bool:
    return name.startswith(RECORD_PREFIX) and name.endswith(RECORD_SUFFIX)


def key_pattern(file_name: str) -> str:
    """DOS wildcard for every record of one file, whatever its certificate (the store side filters, so only those travel)."""
    return f"{RECORD_PREFIX}{name_key(file_name)}-*"


def thumbprint_pattern(thumbprint: str) -> str:
    return f"{RECORD_PREFIX}*-{thumbprint.upper()}{RECORD_SUFFIX}"


def record_name(file_name: str, thumbprint: str | None) -> str:
    """The exact name of a file's record while it holds the certificate with this thumbprint."""
    return f"{RECORD_PREFIX}{name_key(file_name)}-{_thumbprint_part({'thumbprint': thumbprint})}{RECORD_SUFFIX}"


def encode_record(file_name: str, entry: t.Mapping[str, t.Any]) -> tuple[str, bytes]:
    """The record's file name and bytes."""
    data = json.dumps({"format": MANIFEST_FORMAT, "file": file_name, "entry": entry}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return record_name(file_name, entry.get("thumbprint")), data.encode("utf-8")


def decode_record(name: str, data: bytes) -> tuple[str, dict[str, t.Any]] | None:
    """(file name, entry), or None for anything unreadable, foreign, or not matching its own name."""
    match = _RECORD_NAME.match(name)
    if not match:
        return None
    try:
        doc = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("file"), str) or not isinstance(doc.get("entry"), dict):
        return None
    if record_name(doc["file"], doc["entry"].get("thumbprint")) != name:
        return None
    return doc["file"], doc["entry"]


# -- the header (.iis-ccs-manifest.json) --------------------------------------


@dataclasses.dataclass(frozen=True)
class Header:
    salt: str
    legacy_files: dict[str, t.Any]  # entries of a format 1 manifest, still to be migrated
    legacy: bool  # a format 1 manifest was found
    missing: bool  # no usable header: the next write creates one


def new_salt() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")


def parse_header(data: bytes | None) -> Header:
    """A missing, unreadable or foreign file counts as no header (everything is then re-identified)."""
    try:
        doc = json.loads(data.decode("utf-8-sig")) if data else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("salt"), str):
        return Header(new_salt(), {}, legacy=False, missing=True)
    if doc.get("format") == LEGACY_FORMAT and isinstance(doc.get("files"), dict):
        return Header(doc["salt"], dict(doc["files"]), legacy=True, missing=False)
    if doc.get("format") == MANIFEST_FORMAT:
        return Header(doc["salt"], {}, legacy=False, missing=False)
    return Header(new_salt(), {}, legacy=False, missing=True)


def encode_header(salt: str) -> bytes:
    doc = {"format": MANIFEST_FORMAT, "generator": GENERATOR, "salt": salt, "records": "one file per PFX file, see " + RECORD_PREFIX + "*"}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


# -- the pack ----------------------------------------------------------------


class PackCopy(t.NamedTuple):
    size: int
    mtime: int
    data: bytes


def encode_pack(copies: t.Mapping[str, PackCopy]) -> bytes:
    records = {name: {"size": c.size, "mtime": c.mtime, "data": c.data.decode("utf-8")} for name, c in sorted(copies.items())}
    return json.dumps({"format": MANIFEST_FORMAT, "records": records}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_pack(data: bytes | None) -> dict[str, PackCopy]:
    try:
        doc = json.loads(data.decode("utf-8")) if data else None
    except ValueError:
        return {}
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("records"), dict):
        return {}
    copies = {}
    for name, item in doc["records"].items():
        if isinstance(item, dict) and isinstance(item.get("data"), str) and isinstance(item.get("size"), int) and isinstance(item.get("mtime"), int):
            copies[str(name)] = PackCopy(item["size"], item["mtime"], item["data"].encode("utf-8"))
    return copies


def _current(copy: PackCopy | None, stat: Stat) -> bool:
    return copy is not None and copy.size == stat.size and same_mtime(copy.mtime, stat.mtime)


def from_pack(pack: t.Mapping[str, PackCopy], listed: t.Mapping[str, Stat]) -> dict[str, bytes]:
    """The pack's copies of listed records that still have the size and time the pack saw; the rest must be read."""
    return {name: pack[name].data for name, stat in listed.items() if _current(pack.get(name), stat)}


def pack_matches(pack: t.Mapping[str, PackCopy], listed: t.Mapping[str, Stat]) -> bool:
    return set(pack) == set(listed) and all(_current(pack[name], stat) for name, stat in listed.items())


class PackStat(t.NamedTuple):
    size: int
    mtime: int


def refreshed_pack(listed: t.Mapping[str, Stat], records: t.Mapping[str, bytes], pack: t.Mapping[str, PackCopy],
                   changes: "LayoutChanges", written: t.Mapping[str, Stat]) -> bytes | None:
    """After a commit by a task that listed the whole folder: the new pack, or None when the old one still matches."""
    copies = {name: PackCopy(stat.size, stat.mtime, records[name]) for name, stat in listed.items() if name in records and name not in changes.deletes}
    copies.update({name: PackCopy(written[name].size, written[name].mtime, data) for name, data in changes.records.items() if name in written})
    if set(copies) == set(pack) and all(_current(pack[name], PackStat(c.size, c.mtime)) and pack[name].data == c.data for name, c in copies.items()):
        return None
    return encode_pack(copies)


# -- the one reader ------------------------------------------------------------


def resolve(header_data: bytes | None, records: t.Mapping[str, bytes], pfx: t.Mapping[str, Stat]) -> dict[str, t.Any]:
    """The manifest as format 1 shaped it ({"format", "salt", "files": {file name: entry}}) from header and records.

    Records override migrated format 1 entries. Of several records for one file, the one that
    vouches for the file's current size and time wins; file names take the case the store has.
    """
    header = parse_header(header_data)
    actual = {name.lower(): name for name in pfx}
    files: dict[str, t.Any] = {actual.get(name.lower(), name): entry for name, entry in header.legacy_files.items()}
    chosen: dict[str, bool] = {}
    for record_name in sorted(records):
        decoded = decode_record(record_name, records[record_name])
        if decoded is None:
            continue
        file_name, entry = decoded
        name = actual.get(file_name.lower(), file_name)
        trusted = vouches(entry, pfx.get(name))
        if name not in chosen or (trusted and not chosen[name]):
            files[name] = entry
            chosen[name] = trusted
    return {"format": MANIFEST_FORMAT, "salt": header.salt, "files": files}


# -- what a commit writes ------------------------------------------------------


@dataclasses.dataclass
class LayoutChanges:
    records: dict[str, bytes]  # new or changed records, written after the PFX files
    deletes: list[str]  # records no longer true, deleted after the new ones exist
    header: bytes | None  # written last, only when absent or still format 1


def layout_changes(header_data: bytes | None, old_records: t.Mapping[str, bytes], manifest: t.Mapping[str, t.Any]) -> LayoutChanges:
    """Turn a run's new manifest (its view of the files it examined) into record writes and deletes.

    ``old_records`` are the records the run read: only those can be deleted, so records of files
    another run is publishing at the same time are never touched.
    """
    keep: dict[str, bytes] = {}
    for file_name, entry in manifest["files"].items():
        name, data = encode_record(file_name, entry)
        keep[name] = data
    header = parse_header(header_data)
    return LayoutChanges(
        # A record read with other bytes (changed, or unreadable) is written again whole under its name.
        records={name: data for name, data in keep.items() if old_records.get(name) != data},
        deletes=sorted(name for name in old_records if name not in keep),
        header=encode_header(str(manifest["salt"])) if header.legacy or header.missing else None,
    )


def needs_layout_write(header_data: bytes | None, listed: t.Mapping[str, Stat] | None, pack: t.Mapping[str, PackCopy] | None) -> bool:
    """Beyond changed records: a format 1 manifest to migrate, or a stale pack a full listing can refresh."""
    if parse_header(header_data).legacy:
        return True
    return listed is not None and pack is not None and bool(listed or pack) and not pack_matches(pack, listed)
