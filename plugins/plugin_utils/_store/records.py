# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest as one small record file per PFX file (manifest format 2), and the one reader of it.

Why this layout: format 1 kept every record in one ``.iis-ccs-manifest.json`` that each task read
and rewrote whole, so a task's cost grew with the store and two publishers of different
certificates could lose each other's updates. Now:

- ``.iis-ccs-manifest.json`` shrinks to a constant-size header (format 2: the salt of the key
  password fingerprint). A format 1 file is still read; the next write turns its entries into
  records and then replaces it with the header (same salt, so nothing is re-exported).
- Each PFX file ``x.pfx`` has a record ``.iis-ccs-rec-<key>-<thumbprint>-<digest>.json`` holding
  ``{"format": 2, "file": "x.pfx", "entry": {...}}``, where ``entry`` is exactly the per-file dict
  of format 1 (extra fields pass through). ``key`` is a hash of the lowercase file name, so a task
  finds its own records with one server-side wildcard look-up per name (``<key>-*``); the
  thumbprint lets it find the files of a superseded certificate (``*-<thumbprint>-*``) without
  reading any other record; ``digest`` is the SHA-256 of the record's bytes, so a record is never
  changed in place: a change writes a new record (temp + rename) and then deletes the old one.
  A torn or edited record fails its digest and is ignored; two records for one file (a crash
  between the two steps, or two publishers of the same name) are told apart by which one vouches
  for the file's current size and time, and the next write of that file removes the extra.
- ``.iis-ccs-records.json`` (the pack) holds copies of many records for the tasks that need all
  of them (a large batch, ``prune``, ccs_renew_plan, ccs_store_info): one listing and one read
  instead of one read per record. It is only a cache: a copy counts only while a record of that
  exact name is listed (names are content digests), so a stale pack costs reads, never a wrong
  answer. Tasks that list the whole folder rewrite it when it no longer matches the records;
  single-certificate tasks never touch it.

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

_RECORD_NAME = re.compile(r"^\.iis-ccs-rec-([0-9a-f]{16})-([0-9A-F]{1,64}|none)-([0-9a-f]{16})\.json$")

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
    """DOS wildcard for every record of one file (the store side filters, so only those travel)."""
    return f"{RECORD_PREFIX}{name_key(file_name)}-*"


def thumbprint_pattern(thumbprint: str) -> str:
    return f"{RECORD_PREFIX}*-{thumbprint.upper()}-*"


def encode_record(file_name: str, entry: t.Mapping[str, t.Any]) -> tuple[str, bytes]:
    """The record's file name and bytes; identical content always gets the identical name."""
    data = json.dumps({"format": MANIFEST_FORMAT, "file": file_name, "entry": entry}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raw = data.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return f"{RECORD_PREFIX}{name_key(file_name)}-{_thumbprint_part(entry)}-{digest}{RECORD_SUFFIX}", raw


def decode_record(name: str, data: bytes) -> tuple[str, dict[str, t.Any]] | None:
    """(file name, entry), or None for anything torn, edited or foreign."""
    match = _RECORD_NAME.match(name)
    if not match or hashlib.sha256(data).hexdigest()[:16] != match.group(3):
        return None
    try:
        doc = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("file"), str) or not isinstance(doc.get("entry"), dict):
        return None
    if name_key(doc["file"]) != match.group(1):
        return None
    return doc["file"], doc["entry"]


def record_thumbprint(name: str) -> str | None:
    match = _RECORD_NAME.match(name)
    return match.group(2) if match and match.group(2) != "none" else None


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


def encode_pack(records: t.Mapping[str, bytes]) -> bytes:
    doc = {"format": MANIFEST_FORMAT, "records": {name: records[name].decode("utf-8") for name in sorted(records)}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_pack(data: bytes | None) -> dict[str, bytes]:
    """Every copy the pack holds (digests are checked when a copy is used)."""
    try:
        doc = json.loads(data.decode("utf-8")) if data else None
    except ValueError:
        return {}
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("records"), dict):
        return {}
    return {str(name): text.encode("utf-8") for name, text in doc["records"].items() if isinstance(text, str) and is_record_name(str(name))}


def from_pack(pack: t.Mapping[str, bytes], listed: t.Iterable[str]) -> dict[str, bytes]:
    """The pack's copies of records that are listed and intact; the rest must be read one by one."""
    return {name: pack[name] for name in listed if name in pack and decode_record(name, pack[name]) is not None}


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
    records: dict[str, bytes]  # new records, written after the PFX files
    deletes: list[str]  # records no longer true, deleted after the new ones exist
    header: bytes | None  # written last, only when absent or still format 1
    pack: bytes | None  # only by tasks that listed the whole folder, when it no longer matches


def layout_changes(
    header_data: bytes | None, old_records: t.Mapping[str, bytes], packed: frozenset[str] | None, manifest: t.Mapping[str, t.Any]
) -> LayoutChanges:
    """Turn a run's new manifest (its view of the files it examined) into record writes and deletes.

    ``old_records`` are the records the run read: only those can be deleted, so records of files
    another run is publishing at the same time are never touched. ``packed`` is the pack's names
    when the whole folder was listed (None otherwise: the pack is then left alone).
    """
    keep: dict[str, bytes] = {}
    for file_name, entry in manifest["files"].items():
        name, data = encode_record(file_name, entry)
        keep[name] = data
    header = parse_header(header_data)
    changes = LayoutChanges(
        # A record read with other bytes than its name promises (torn, edited) is written again under the same name.
        records={name: data for name, data in keep.items() if old_records.get(name) != data},
        deletes=sorted(name for name in old_records if name not in keep),
        header=encode_header(str(manifest["salt"])) if header.legacy or header.missing else None,
        pack=None,
    )
    if packed is not None:
        after = {name: data for name, data in old_records.items() if name not in changes.deletes}
        after.update(changes.records)
        if frozenset(after) != packed:
            changes.pack = encode_pack(after)
    return changes


def needs_layout_write(header_data: bytes | None, old_records: t.Mapping[str, bytes], packed: frozenset[str] | None) -> bool:
    """Beyond changed records: a format 1 manifest to migrate, or a stale pack a full listing can refresh."""
    header = parse_header(header_data)
    return header.legacy or (packed is not None and bool(old_records) and frozenset(old_records) != packed)
