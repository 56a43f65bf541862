# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The short path: trust source bytes identical to ones a full load already validated.

A full load of a PFX (cryptography's RSA key consistency check, most of it) costs tens of
milliseconds per certificate and holds the GIL. When a certificate was published, every
file record of it in the store (records.py: one record per PFX file) keeps a digest of the source bytes and of the
options that shape the files (SourceRecord). A later run hashes the source and, for a PFX,
checks the given password against the file's MAC (RFC 7292, pure hashlib). If every replica
read holds complete, matching records for files whose size and time still match, nothing of
the certificate can change: its publication is rebuilt from the records, and only the
time-dependent checks run again (expired, not yet valid, the expiry warning). Anything else,
or a certificate that must be written, takes the full load and every check before any write.

Nothing is loosened: identical bytes give identical certificate, key and chain, so the
checks that depend only on the bytes (key matches and is consistent, key type and size,
serverAuth, host names covered, chain) would give the same answer as when the records were
written. PROOF_VERSION is part of the digest: change it when such a rule changes, and
every source takes the full path once.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core import dns_names
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import expected_encryption
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.mac import verify_pfx_mac
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.validate import check_validity_period, expiry_warnings
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.plan import (
    LOOKUP_LIMIT,
    DesiredFile,
    Fingerprint,
    Publication,
    SourceRecord,
    lineage_thumbprints,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.source import RawSource
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import Lookup, StoreListing, fingerprints_equal
from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import same_mtime

# Bump when a check that depends only on the source bytes changes (key sizes, curves, EKU, ...).
PROOF_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Proof:
    """What the cheap look at one source established: its digest, and that its password is right."""

    digest: str
    option: str  # the option the certificate comes from, as the full path names it in messages
    host_names: tuple[dns_names.HostName, ...] | None  # None: the certificate's own DNS names
    encryption: str  # what the files' records must say (expected_encryption)
    key_password: str | None
    prune: bool


def source_digest(raw: RawSource, params: t.Mapping[str, t.Any]) -> str:
    """SHA-256 over the source bytes and every option that shapes the published files."""
    shape = {
        "version": PROOF_VERSION,
        "kind": raw.kind,
        "host_names": list(params.get("host_names") or []) or None,
        "encryption": expected_encryption(params.get("private_key_password"), params["encryption"]),
    }
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode("utf-8"))
    for part in raw.parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def cheap_proof(raw: RawSource, params: t.Mapping[str, t.Any]) -> Proof | None:
    """A Proof when the password is shown right without a full load, else None (the full path).

    PFX: the MAC must verify with pfx_password (None: no MAC, PBMAC1 or another algorithm).
    PEM: only an unencrypted key qualifies (an encrypted one has no MAC to check the passphrase).
    """
    if raw.kind == "pfx":
        if verify_pfx_mac(raw.parts[0], params.get("pfx_password")) is not True:
            return None
    elif params.get("private_key_passphrase") or b"ENCRYPTED" in raw.parts[1]:
        return None
    host_names = None
    if params.get("host_names"):
        try:
            parsed = [dns_names.parse_host_name(text, option="host_names") for text in params["host_names"]]
        except dns_names.HostNameError:
            return None  # the full path reports it, in the order it always did
        unique: dict[str, dns_names.HostName] = {}
        for name in parsed:
            unique.setdefault(name.file_name.lower(), name)  # as select_host_names keeps them
        host_names = tuple(unique.values())
    return Proof(
        digest=source_digest(raw, params),
        option=raw.option,
        host_names=host_names,
        encryption=expected_encryption(params.get("private_key_password"), params["encryption"]),
        key_password=params.get("private_key_password"),
        prune=bool(params["prune"]),
    )


class RecordIndex:
    """One replica's records, by lowercase file name and by source digest, built once per task."""

    def __init__(self, manifest: t.Mapping[str, t.Any], listing: StoreListing | None = None) -> None:
        self.manifest = manifest
        self.records = {name.lower(): entry for name, entry in manifest["files"].items() if isinstance(entry, dict)}
        self.stats = {name.lower(): stat for name, stat in listing.pfx.items()} if listing else {}
        self.by_source: dict[str, list[str]] = {}
        for name, entry in self.records.items():
            if isinstance(entry.get("source"), str):
                self.by_source.setdefault(entry["source"], []).append(name)

    def names(self, proof: Proof) -> list[str] | None:
        """File names the certificate has in this store (from its records), None when they are unknown."""
        if proof.host_names is not None:
            return [name.file_name.lower() for name in proof.host_names]
        return self.by_source.get(proof.digest) or None


def batch_lookup(publications: t.Sequence[Publication], proofs: t.Sequence[Proof]) -> Lookup | None:
    """What a store must look up for certificates already loaded and ones still to be decided.

    Loaded certificates: their files, whose records are read by exact name (as plan.lookup_for).
    A certificate still to be decided: the files of its host_names, whose records are searched by
    name (the thumbprint they hold is not known yet), and every other file recorded with a
    thumbprint those records hold (the lineage, a superset of what planning needs). None, so the
    folder is listed and the record pack read, when a certificate's names cannot be told without
    loading it (no host_names: they come from its DNS names), with prune, or past LOOKUP_LIMIT.
    A PFX source is usually not among the proofs: task.Sources.preview_names passes it as a
    publication from a quick load, whose names and thumbprint are then known.
    """
    if any(publication.prune for publication in publications) or any(proof.prune or proof.host_names is None for proof in proofs):
        return None
    loaded = {want.file_name: publication.thumbprint for publication in publications for want in publication.files}
    pending = {name.file_name.lower() for proof in proofs for name in proof.host_names or ()} - set(loaded)
    files = tuple(sorted([*loaded.items(), *((name, "") for name in pending)]))
    if len(files) > LOOKUP_LIMIT:
        return None

    def lineage(found: t.Mapping[str, t.Any]) -> set[str]:
        recorded = {name.lower(): entry for name, entry in found.items() if isinstance(entry, dict)}
        held = {str(recorded[name].get("thumbprint") or "").upper() for name in pending if name in recorded} - {""}
        return held | (lineage_thumbprints(publications, found) if publications else set())

    return Lookup(files, lineage)


class Recorded(t.NamedTuple):
    """A certificate as the records of every replica read describe it."""

    publication: Publication
    not_before: datetime.datetime


def recorded_publication(proof: Proof, replicas: t.Sequence[RecordIndex], fingerprint: Fingerprint) -> Recorded | None:
    """The publication, rebuilt from the records, when every replica read vouches for it; else None."""
    seen: set[tuple[t.Any, ...]] = set()
    for replica in replicas:
        summary = _replica_summary(proof, replica, fingerprint)
        if summary is None:
            return None
        seen.add(summary)
    if len(seen) != 1:
        return None  # no replica read, or replicas that disagree: load the source
    files, thumbprint, identity, not_after, not_before, chain = seen.pop()
    not_before_time = _parse_iso(not_before)
    if not_before_time is None or _parse_iso(not_after) is None:
        return None
    source = SourceRecord(proof.digest, not_before, len(files), chain)
    publication = Publication(
        files=tuple(DesiredFile(name, host, thumbprint, identity, not_after, proof.encryption) for name, host in files),
        thumbprint=thumbprint,
        identity=identity,
        not_after=not_after,
        encryption=proof.encryption,
        key_password=proof.key_password,
        prune=proof.prune,
        source=source,
    )
    return Recorded(publication, not_before_time)


def _replica_summary(proof: Proof, replica: RecordIndex, fingerprint: Fingerprint) -> tuple[t.Any, ...] | None:
    """Everything one replica's records say about the certificate, or None when they cannot vouch for it."""
    names = replica.names(proof)
    if not names:
        return None
    key_fingerprint = fingerprint(proof.key_password, str(replica.manifest["salt"]))
    placed: dict[int, tuple[str, str]] = {}
    facts: set[tuple[t.Any, ...]] = set()
    for name in names:
        entry = replica.records.get(name)
        stat = replica.stats.get(name)
        if entry is None or stat is None or entry.get("source") != proof.digest or entry.get("encryption") != proof.encryption:
            return None
        if entry.get("size") != stat.size or not same_mtime(entry.get("mtime"), stat.mtime):
            return None  # the file changed since it was written: it must be read, and maybe rewritten
        if not fingerprints_equal(entry.get("key_password"), key_fingerprint) or entry.get("names") != len(names):
            return None
        position = entry.get("position")
        if isinstance(position, int):
            placed[position] = (name, str(entry.get("host_name")))
        facts.add((entry.get("thumbprint"), entry.get("identity"), entry.get("not_after"), entry.get("not_before"), tuple(entry.get("chain_warnings") or ())))
    if len(facts) != 1 or sorted(placed) != list(range(len(names))):
        return None
    thumbprint, identity, not_after, not_before, chain = facts.pop()
    if not all(isinstance(value, str) and value for value in (thumbprint, identity, not_after, not_before)):
        return None
    return (tuple(placed[index] for index in range(len(names))), thumbprint, identity, not_after, not_before, chain)


def recheck_dates(proof: Proof, recorded: Recorded, *, now: datetime.datetime, expiry_warning_days: int) -> list[str]:
    """The time-dependent checks of the full path, from the recorded dates: refuse, or return the warnings."""
    publication = recorded.publication
    not_after = _parse_iso(publication.not_after)
    if not_after is None:  # recorded_publication checked it already
        raise AssertionError("unreadable not_after in a recorded publication")
    check_validity_period(proof.option, publication.thumbprint, recorded.not_before, not_after, now)
    source = publication.source
    return expiry_warnings(publication.thumbprint, not_after, now, expiry_warning_days) + list(source.chain_warnings if source else ())


def _parse_iso(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None  # a damaged record: the full path decides
