# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for one replica: what to create, update, keep and remove, from one listing.

No I/O here. The planner first says which files it cannot trust from the manifest
(size or mtime changed since we wrote them, or no manifest entry), the caller reads
and identifies just those, and the planner then decides.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import (
    Lookup,
    StoreListing,
    fingerprints_equal,
    password_fingerprint,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import vouches

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
REMOVE = "remove"
PRUNE = "prune"


@dataclasses.dataclass(frozen=True)
class DesiredFile:
    file_name: str  # lowercase Unicode form, "_." for wildcards
    host_name: str  # Unicode form
    thumbprint: str
    identity: str
    not_after: str  # ISO 8601 UTC
    encryption: str


@dataclasses.dataclass(frozen=True)
class SourceRecord:
    """What a later run needs to trust identical source bytes without loading them (see proof.py).

    Kept in every file record of the certificate, next to thumbprint, identity and not_after.
    """

    digest: str  # the source bytes and the options that shape the files (proof.source_digest)
    not_before: str  # ISO 8601 UTC: the validity period is re-checked on every run
    names: int  # how many files the certificate has, so a missing record is noticed
    chain_warnings: tuple[str, ...] = ()

    def fields(self, position: int) -> dict[str, t.Any]:
        fields: dict[str, t.Any] = {"source": self.digest, "not_before": self.not_before, "names": self.names, "position": position}
        if self.chain_warnings:
            fields["chain_warnings"] = list(self.chain_warnings)
        return fields


@dataclasses.dataclass(frozen=True)
class Publication:
    """The one certificate this task publishes, as every replica should hold it."""

    files: tuple[DesiredFile, ...]
    thumbprint: str
    identity: str
    not_after: str
    encryption: str
    key_password: str | None
    prune: bool
    source: SourceRecord | None = None


@dataclasses.dataclass(frozen=True)
class FileFacts:
    """What reading a file revealed; None fields when the store password cannot open it."""

    thumbprint: str | None
    identity: str | None
    encryption: str | None
    not_after: str | None


@dataclasses.dataclass
class ReplicaPlan:
    actions: dict[str, str]  # desired file name -> create/update/unchanged
    removals: dict[str, str]  # actual file name on the store -> remove/prune
    write_names: dict[str, str]  # desired file name -> the name to write (keeps the case of an existing file)
    manifest: dict[str, t.Any]
    manifest_changed: bool
    stale_temps: list[str]
    before: dict[str, dict[str, t.Any]]  # file name -> {thumbprint, not_after} as far as known

    @property
    def changes_files(self) -> bool:
        return any(a != UNCHANGED for a in self.actions.values()) or bool(self.removals)

    @property
    def needs_write(self) -> bool:
        return self.changes_files or self.manifest_changed or bool(self.stale_temps)


def _by_lower(listing: StoreListing) -> dict[str, str]:
    return {name.lower(): name for name in listing.pfx}


Batch = t.Sequence[Publication]


def _as_batch(publications: Publication | Batch) -> Batch:
    return (publications,) if isinstance(publications, Publication) else publications


def lineage_thumbprints(publications: Publication | Batch, files: t.Mapping[str, t.Any]) -> set[str]:
    """Thumbprints these publications supersede: those our manifest recorded for the files they (re)write.

    Only files still holding one of them are removed when their host name is no
    longer published. The thumbprints being published are deliberately not included:
    two tasks (or two certificates of one batch) publishing the same certificate for
    different host names must not remove each other's files. Files of other
    certificates never share a superseded thumbprint, so they are never touched.
    """
    batch = _as_batch(publications)
    entries = {name.lower(): entry for name, entry in files.items()}
    found: set[str] = set()
    for publication in batch:
        for wanted in publication.files:
            entry = entries.get(wanted.file_name)
            if entry and entry.get("thumbprint"):
                found.add(str(entry["thumbprint"]).upper())
    return found - {publication.thumbprint.upper() for publication in batch}


def _wanted(batch: Batch) -> dict[str, tuple[Publication, DesiredFile]]:
    return {want.file_name: (publication, want) for publication in batch for want in publication.files}


# Above this many files a run lists the folder (and reads the record pack) instead of looking each file up.
LOOKUP_LIMIT = 64


def lookup_for(publications: Publication | Batch) -> Lookup | None:
    """The only files a run without prune can act on: its own names and the files of its certificate lines.

    Lets a store look up a handful of files and their records instead of listing a folder of
    thousands; a large batch or prune lists the folder once instead (None).
    """
    batch = _as_batch(publications)
    files = tuple(sorted((name, publication.thumbprint) for name, (publication, _want) in _wanted(batch).items()))
    if any(publication.prune for publication in batch) or len(files) > LOOKUP_LIMIT:
        return None
    return Lookup(files, lambda found: lineage_thumbprints(batch, found))


def files_to_identify(publications: Publication | Batch, listing: StoreListing) -> list[str]:
    """Names of files whose content must be read, because the manifest cannot vouch for them."""
    entries = listing.view()["files"]
    actual = _by_lower(listing)
    wanted = _wanted(_as_batch(publications))
    lineage = lineage_thumbprints(publications, entries)
    needed = []
    for lower, name in sorted(actual.items()):
        entry = entries.get(name)
        if vouches(entry, listing.pfx[name]):
            continue
        if lower in wanted:
            needed.append(name)
        elif entry and str(entry.get("thumbprint", "")).upper() in lineage:
            needed.append(name)
    return needed


@dataclasses.dataclass
class _Draft:
    """The plan of one replica while it is being built."""

    files: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    actions: dict[str, str] = dataclasses.field(default_factory=dict)
    write_names: dict[str, str] = dataclasses.field(default_factory=dict)
    removals: dict[str, str] = dataclasses.field(default_factory=dict)
    before: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)


Fingerprint = t.Callable[[str | None, str], str]


def plan_replica(
    publications: Publication | Batch,
    listing: StoreListing,
    facts: t.Mapping[str, FileFacts],
    *,
    fingerprint: Fingerprint = password_fingerprint,
) -> ReplicaPlan:
    """Decide everything for one replica. ``facts`` covers the names files_to_identify returned.

    A batch is planned as one: every certificate's files against the same listing and manifest,
    and the key-password fingerprint (a slow, salted hash) computed once for the replica.
    ``fingerprint`` may be a cache shared by every phase of the task.
    """
    batch = _as_batch(publications)
    old = listing.view()
    manifest: dict[str, t.Any] = {k: v for k, v in old.items() if k != "files"}
    fingerprints: dict[str | None, str] = {}
    actual = _by_lower(listing)
    draft = _Draft()
    for publication in batch:
        if publication.key_password not in fingerprints:
            fingerprints[publication.key_password] = fingerprint(publication.key_password, str(manifest["salt"]))
        for position, want in enumerate(publication.files):
            extra = publication.source.fields(position) if publication.source else {}
            _plan_file(want, fingerprints[publication.key_password], extra, actual.get(want.file_name), old, listing, facts, draft)
    _plan_others(batch, actual, old, listing, facts, draft)

    if listing.examined is not None:
        # Only some files were looked at: every other record stays exactly as it was.
        for name, entry in old["files"].items():
            if name.lower() not in listing.examined and name not in draft.files:
                draft.files[name] = entry
    manifest["files"] = draft.files
    manifest_changed = (
        _comparable(draft.files) != _comparable(old["files"])
        or (listing.manifest is None and bool(draft.files))
        or listing.needs_layout_write()  # a format 1 manifest to migrate, or a stale record pack
    )
    return ReplicaPlan(
        actions=draft.actions,
        removals=draft.removals,
        write_names=draft.write_names,
        manifest=manifest,
        manifest_changed=manifest_changed,
        stale_temps=listing.stale_temps(),
        before=draft.before,
    )


def _plan_file(
    want: DesiredFile,
    fingerprint: str,
    extra: t.Mapping[str, t.Any],
    name: str | None,
    old: t.Mapping[str, t.Any],
    listing: StoreListing,
    facts: t.Mapping[str, FileFacts],
    draft: _Draft,
) -> None:
    desired_entry = {
        "host_name": want.host_name,
        "thumbprint": want.thumbprint,
        "identity": want.identity,
        "not_after": want.not_after,
        "encryption": want.encryption,
        "key_password": fingerprint,
        **extra,
    }
    if name is None:
        draft.actions[want.file_name] = CREATE
        draft.write_names[want.file_name] = want.file_name
        draft.files[want.file_name] = desired_entry
        return
    entry = old["files"].get(name)
    stat = listing.pfx[name]
    if vouches(entry, stat):
        if entry is None:  # vouches() never trusts a file without a manifest entry
            raise AssertionError(f"no manifest entry for trusted file {name!r}")
        known = FileFacts(entry.get("thumbprint"), entry.get("identity"), entry.get("encryption"), entry.get("not_after"))
        password_ok = fingerprints_equal(entry.get("key_password"), fingerprint)
    else:
        known = facts.get(name, FileFacts(None, None, None, None))
        # A file we could open with the store password was encrypted with it.
        password_ok = known.identity is not None
    draft.before[want.file_name] = {"thumbprint": known.thumbprint, "not_after": known.not_after}
    if known.identity == want.identity and known.encryption == want.encryption and password_ok:
        draft.actions[want.file_name] = UNCHANGED
        draft.files[name] = dict(desired_entry, size=stat.size, mtime=stat.mtime)
    else:
        draft.actions[want.file_name] = UPDATE
        draft.write_names[want.file_name] = name
        draft.files[name] = desired_entry


def _plan_others(
    batch: Batch, actual: t.Mapping[str, str], old: t.Mapping[str, t.Any], listing: StoreListing, facts: t.Mapping[str, FileFacts], draft: _Draft
) -> None:
    """Files on the store this batch does not publish: remove superseded ones, prune, or keep their records."""
    wanted = _wanted(batch)
    lineage = lineage_thumbprints(batch, old["files"])
    prune = any(publication.prune for publication in batch)
    for lower, name in sorted(actual.items()):
        if lower in wanted:
            continue
        entry = old["files"].get(name)
        stat = listing.pfx[name]
        thumbprint = None
        if entry and vouches(entry, stat):
            thumbprint = str(entry.get("thumbprint", "")).upper()
        elif name in facts:
            thumbprint = (facts[name].thumbprint or "").upper() or None
        if entry and thumbprint and thumbprint == str(entry.get("thumbprint", "")).upper() and thumbprint in lineage:
            draft.removals[name] = REMOVE
        elif prune:
            draft.removals[name] = PRUNE
        elif entry and thumbprint == str(entry.get("thumbprint", "")).upper() and vouches(entry, stat):
            draft.files[name] = entry  # another certificate's file, still as published: keep its record
        if name in draft.removals:
            draft.before[name] = {"thumbprint": thumbprint, "not_after": entry.get("not_after") if entry else None}


def _comparable(files: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    # Entries about to be written have no size/mtime yet; they differ anyway.
    return {name: dict(entry) for name, entry in files.items()}
