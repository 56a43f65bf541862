# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccs_cert_publish from task parameters to result: read the sources, read each replica, prove or load and validate every source, then write."""

from __future__ import annotations

import hashlib
import ntpath
import os
import re
import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CERTIFICATE_SOURCE_SPEC
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext, UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateBundle, CertificateError, export_pfx, load_pfx, quick_load_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import PfxEncryption, expected_encryption, pfx_encryption
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.engine import Replica, publish_in_phases, summarize
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.plan import LOOKUP_LIMIT, DesiredFile, FileFacts, Fingerprint, Publication, SourceRecord
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.proof import (
    RecordIndex,
    batch_lookup,
    cheap_proof,
    recheck_dates,
    recorded_publication,
    source_digest,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.source import RawSource, Source, prepare, read_source, select_host_names
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import FolderStore, LocalFileSystem, Lookup, StoreError, StoreListing
from ansible_collections.iis.ccs.plugins.plugin_utils._store.host import HostStore
from ansible_collections.iis.ccs.plugins.plugin_utils._store.smb import SmbFileSystem, split_unc

HOST_TYPES = ("host_path", "host_unc")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_options(params: t.Mapping[str, t.Any]) -> None:
    """Everything about the options that can be wrong, before any certificate or replica is touched."""
    check_key_password(params)
    if params["expiry_warning_days"] < 0:
        raise UserInputError("expiry_warning_days: must be 0 or more")
    destinations = params["destinations"]
    check_destinations(destinations)
    minimum = params.get("min_replicas")
    if minimum is not None and not 1 <= minimum <= len(destinations):
        raise UserInputError(f"min_replicas: must be between 1 and the number of destinations ({len(destinations)}); it is {minimum}")


def check_key_password(params: t.Mapping[str, t.Any]) -> None:
    """private_key_password and allow_no_private_key_password, as ccs_cert_publish and ccs_store_info take them."""
    if params.get("private_key_password") is None and not params["allow_no_private_key_password"]:
        raise UserInputError(
            "private_key_password: required (the password the CCS provider uses to open every PFX in the store); "
            "set it, or set allow_no_private_key_password=true for a store whose files have no password"
        )
    if params.get("private_key_password") is not None and params["allow_no_private_key_password"]:
        raise UserInputError("allow_no_private_key_password: true contradicts the private_key_password given; remove one of them")


def check_destinations(destinations: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    """The destinations option of ccs_cert_publish and ccs_store_info: every replica of the store."""
    if not destinations:
        raise UserInputError("destinations: give at least one destination (a replica of the certificate store)")
    seen: set[str] = set()
    for index, destination in enumerate(destinations):
        label = destination_name(destination)
        where = f"destinations[{index}]"
        if label.lower() in seen:
            raise UserInputError(f"{where}.name: {label!r} is used twice; give each destination a unique name")
        seen.add(label.lower())
        _check_destination(where, destination)


def destination_name(destination: t.Mapping[str, t.Any]) -> str:
    return str(destination.get("name") or f"{destination['type']}:{destination['path']}")


def has_relative_segment(kind: str, path: str) -> bool:
    """'.' or '..' anywhere in the path: it would name a folder other than the one it seems to."""
    separators = "/" if kind == "local" else "\\/"  # Windows accepts both separators
    return any(part in (".", "..") for part in re.split(f"[{re.escape(separators)}]", path))


def _check_destination(where: str, destination: t.Mapping[str, t.Any]) -> None:
    kind, path = destination["type"], str(destination["path"])
    if has_relative_segment(kind, path):
        # The same rule as ccs_provider's store_location.
        raise UserInputError(f"{where}.path: relative segments ('.' or '..') are not allowed in {path!r}; give the store folder itself")
    if kind in ("host_unc", "smb"):
        try:
            split_unc(path)
        except ValueError as exc:
            raise UserInputError(f"{where}.path: {exc} for type {kind}") from None
    if kind == "host_unc" and not (destination.get("user_name") and destination.get("password") is not None):
        raise UserInputError(
            f"{where}: type host_unc needs user_name and password for the share "
            "(the Windows host cannot pass its WinRM logon on to a file server: the double hop)"
        )
    if kind == "host_path" and not (ntpath.isabs(path) and ntpath.splitdrive(path)[0]):
        raise UserInputError(f"{where}.path: {path!r} is not an absolute Windows path such as D:\\CCS; use host_unc for a share")
    if kind == "local" and not os.path.isabs(path):
        raise UserInputError(f"{where}.path: {path!r} must be an absolute folder path on the controller")
    if kind != "smb" and (destination.get("port") not in (None, 445) or destination.get("encrypt") is False):
        raise UserInputError(f"{where}: port and encrypt only apply to type smb; remove them")
    if kind in ("host_path", "local") and (destination.get("user_name") or destination.get("password")):
        raise UserInputError(f"{where}: user_name and password only apply to types host_unc and smb; remove them")


def build_replica(destination: t.Mapping[str, t.Any], runner: HostOperationRunner) -> Replica:
    kind, path, name = destination["type"], str(destination["path"]), destination_name(destination)
    if kind == "host_path":
        return Replica(name, kind, path, HostStore(runner, path))
    if kind == "host_unc":
        return Replica(name, kind, path, HostStore(runner, path, user_name=destination["user_name"], password=destination["password"]))
    if kind == "smb":
        try:
            fs = SmbFileSystem(
                path,
                user_name=destination.get("user_name"),
                password=destination.get("password"),
                port=int(destination["port"]),
                encrypt=bool(destination["encrypt"]),
            )
        except StoreError as exc:
            return Replica(name, kind, path, None, setup_error=str(exc))
        return Replica(name, kind, path, FolderStore(fs))
    return Replica(name, kind, path, FolderStore(LocalFileSystem(path)))


def identity_digest(bundle: CertificateBundle) -> str:
    """A short stand-in for the bundle identity (certificate, key, chain): the manifest holds one per file."""
    return hashlib.sha256(bundle.identity.encode("ascii")).hexdigest()[:32]


def make_identify(key_password: str | None) -> t.Callable[[bytes], FileFacts]:
    def identify(data: bytes) -> FileFacts:
        try:
            bundle = load_pfx(data, key_password, option="store file", password_option="private_key_password")
        except CertificateError:
            # Not openable with the store password (or not a PFX): never ours as it stands.
            return FileFacts(None, None, None, None)
        return FileFacts(bundle.thumbprint.upper(), identity_digest(bundle), pfx_encryption(data), _iso(bundle.not_after))

    return identify


def build_publication(
    bundle: CertificateBundle, host_names: t.Sequence[t.Any], params: t.Mapping[str, t.Any], source: SourceRecord | None = None
) -> Publication:
    """The publication of a fully loaded certificate; ``source`` is what its records keep for the short path."""
    not_after = _iso(bundle.not_after)
    thumbprint = bundle.thumbprint.upper()
    identity = identity_digest(bundle)
    key_password = params.get("private_key_password")
    # What pfx_encryption() will find in the written files ("none" without a password), so comparisons hold.
    encryption = expected_encryption(key_password, params["encryption"])
    return Publication(
        files=tuple(DesiredFile(h.file_name.lower(), h.unicode, thumbprint, identity, not_after, encryption) for h in host_names),
        thumbprint=thumbprint,
        identity=identity,
        not_after=not_after,
        encryption=encryption,
        key_password=key_password,
        prune=bool(params["prune"]),
        source=source,
    )


def source_record(raw: RawSource, source: Source, params: t.Mapping[str, t.Any]) -> SourceRecord:
    return SourceRecord(source_digest(raw, params), _iso(source.bundle.not_before), len(source.host_names), source.chain_warnings)


class PfxExports:
    """Each certificate exported once, on first use, however many files and replicas hold it.

    Replicas may be written at the same time: a lock per certificate makes the second
    caller wait for the first export instead of doing it again.
    """

    def __init__(self, bundles: t.Mapping[Publication, tuple[CertificateBundle, PfxEncryption]], key_password: str | None) -> None:
        self._bundles = bundles
        self._key_password = key_password
        # Created on first use: certificates that take the full path after the store was read join later.
        self._locks: dict[Publication, threading.Lock] = {}
        self._guard = threading.Lock()
        self._done: dict[Publication, bytes] = {}

    def __call__(self, publication: Publication) -> bytes:
        if publication not in self._bundles:
            # Taken on the short path (never loaded), so its files were all unchanged when the store was
            # read: the store changed since (another publisher). Nothing is written; the next run loads it.
            raise StoreError("the store changed while this task ran (a file of an unchanged certificate was modified); run the task again")
        with self._guard:
            lock = self._locks.setdefault(publication, threading.Lock())
        with lock:
            if publication not in self._done:
                bundle, encryption = self._bundles[publication]
                self._done[publication] = export_pfx(bundle, self._key_password, encryption)
            return self._done[publication]


def pfx_exporter(bundle: CertificateBundle, params: t.Mapping[str, t.Any]) -> t.Callable[[], bytes]:
    """Exports once, on first use: every file of every replica holds the same bytes."""
    publication = build_publication(bundle, (), params)
    exports = PfxExports({publication: (bundle, params["encryption"])}, params.get("private_key_password"))
    return lambda: exports(publication)


ReplicaFactory = t.Callable[[t.Mapping[str, t.Any], HostOperationRunner], Replica]

# Threads for loading the sources: they overlap reading the files, but cryptography's full load holds the
# GIL through the RSA key check (measured: no speed-up on 2 cores), and the quick PFX load is mostly Python.
_WORKERS = max(1, min(8, os.cpu_count() or 1))


def certificate_entries(params: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The options of each certificate of the task: the task's own, or one per entry of 'certificates'."""
    if params.get("certificates") is None:
        return [dict(params)]
    shared = {key: value for key, value in params.items() if key not in CERTIFICATE_SOURCE_SPEC and key != "certificates"}
    return [{**shared, **entry, "encryption": entry.get("encryption") or params["encryption"]} for entry in params["certificates"]]


def _named(index: int, batch: bool) -> t.Callable[[UserInputError], UserInputError]:
    """Prefixes a certificate's error with its place in 'certificates' (a single certificate keeps the plain message)."""
    return lambda exc: UserInputError(f"certificates[{index}].{exc}" if batch else str(exc))


def read_all(entries: t.Sequence[t.Mapping[str, t.Any]], *, batch: bool) -> list[RawSource]:
    """Every source's bytes (cheap: no parsing); an unreadable file fails the task here."""
    if batch and not entries:
        raise UserInputError("certificates: list at least one certificate to publish")
    raws = []
    for index, entry in enumerate(entries):
        try:
            raws.append(read_source(entry))
        except UserInputError as exc:
            raise _named(index, batch)(exc) from None
    return raws


def prepare_all(
    entries: t.Sequence[t.Mapping[str, t.Any]], raws: t.Sequence[RawSource], indexes: t.Sequence[int], *, batch: bool, now: datetime
) -> dict[int, Source]:
    """The full path for the given certificates (on a thread pool); the first bad one, in the order given, fails the task."""

    def one(index: int) -> Source:
        try:
            return prepare(entries[index], now=now, raw=raws[index])
        except UserInputError as exc:
            raise _named(index, batch)(exc) from None

    if not indexes:
        return {}
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(indexes))) as pool:
        return dict(zip(indexes, pool.map(one, indexes)))


class Sources:
    """Every certificate of the task on its way to a publication: fully loaded, or proven from the records."""

    def __init__(self, entries: t.Sequence[t.Mapping[str, t.Any]], *, batch: bool, now: datetime) -> None:
        self.entries, self.batch, self.now = entries, batch, now
        self.raws = read_all(entries, batch=batch)
        self.proofs = [cheap_proof(raw, entry) for raw, entry in zip(self.raws, entries)]
        self.publications: dict[int, Publication] = {}
        self.warnings: dict[int, list[str]] = {}
        self.bundles: dict[Publication, tuple[CertificateBundle, PfxEncryption]] = {}
        # Without a cheap proof there is no shortcut: load those now, before any replica is contacted.
        self.load([index for index, proof in enumerate(self.proofs) if proof is None])
        # PFX sources still to be decided, quick-loaded for their thumbprint and file names (see preview_names).
        self.previews: dict[int, Publication] = {}
        if not any(entry["prune"] for entry in entries):
            self.preview_names()

    def load(self, indexes: t.Sequence[int]) -> None:
        for index, source in prepare_all(self.entries, self.raws, indexes, batch=self.batch, now=self.now).items():
            entry = self.entries[index]
            publication = build_publication(source.bundle, source.host_names, entry, source_record(self.raws[index], source, entry))
            self.publications[index] = publication
            self.warnings[index] = source.warnings
            self.bundles[publication] = (source.bundle, entry["encryption"])

    def preview_names(self) -> None:
        """File names and thumbprint, from a quick load, of the PFX sources that may take the short path.

        Before the read a certificate's thumbprint is not known, so its records cannot be named
        exactly: with host_names they would be searched by the hash of each file name (a wildcard
        search, which makes an SMB server scan the folder), and without host_names, whose files are
        named after the certificate's DNS names, the read would list the folder and read the record
        pack. Both grow with the store. quick_load_pfx costs a few milliseconds (no RSA primality
        tests), after which the certificate's records are read by exact name like those of a loaded
        certificate. It proves nothing: the short path still needs records that vouch for the source
        digest, and anything else takes the full load and every check. A source the quick load
        declines, or whose names the full path would refuse, is looked up as before. Nothing is
        previewed once the look-up would be too large to be used anyway (LOOKUP_LIMIT).
        """
        pending = {index: proof for index, proof in enumerate(self.proofs) if proof is not None and index not in self.publications}
        # At least this many files to look up: a certificate without host_names has one file or more.
        files = sum(len(publication.files) for publication in self.publications.values())
        files += sum(len(proof.host_names) if proof.host_names is not None else 1 for proof in pending.values())
        for index, proof in pending.items():
            raw, entry = self.raws[index], self.entries[index]
            if files > LOOKUP_LIMIT:
                return  # the read lists the folder anyway (batch_lookup): a large batch pays no quick loads
            if raw.kind != "pfx":
                continue
            try:
                bundle = quick_load_pfx(raw.parts[0], entry.get("pfx_password"), option=raw.option)
                if bundle is None:
                    continue
                publication = build_publication(bundle, select_host_names(bundle, entry.get("host_names")), entry)
            except (UserInputError, ValueError):
                continue  # the full path reports it, in the order it always did
            self.previews[index] = publication
            if proof.host_names is None:
                files += len(publication.files) - 1

    def lookup(self) -> Lookup | None:
        """The files and records a replica must look up (None: list it all); see proof.batch_lookup.

        A previewed certificate is looked up like a loaded one: its files by exact name, with the thumbprint.
        """
        known = list(self.publications.values()) + [self.previews[index] for index in sorted(self.previews) if index not in self.publications]
        pending = [proof for index, proof in enumerate(self.proofs) if proof is not None and index not in self.publications and index not in self.previews]
        return batch_lookup(known, pending)

    def resolve(self, reads: t.Sequence[tuple[StoreListing, t.Mapping[str, t.Any]]], fingerprint: Fingerprint) -> list[Publication]:
        """Short path where every replica read vouches for a certificate, the full load for the rest."""
        to_load = []
        replicas = [RecordIndex(manifest, listing) for listing, manifest in reads]
        for index, proof in enumerate(self.proofs):
            if proof is None or index in self.publications:
                continue
            recorded = recorded_publication(proof, replicas, fingerprint)
            if recorded is None:
                to_load.append(index)
                continue
            try:
                self.warnings[index] = recheck_dates(proof, recorded, now=self.now, expiry_warning_days=int(self.entries[index]["expiry_warning_days"]))
            except CertificateError as exc:
                raise _named(index, self.batch)(UserInputError(str(exc))) from None
            self.publications[index] = recorded.publication
        self.load(to_load)
        publications = [self.publications[index] for index in range(len(self.entries))]
        check_unique_files(publications)
        return publications

    @property
    def loaded(self) -> int:
        """How many certificates took the full path (the rest were proven from the records)."""
        return len(self.bundles)


def check_unique_files(publications: t.Sequence[Publication]) -> None:
    """Two certificates of one batch cannot both own a host name's file."""
    owners: dict[str, int] = {}
    for index, publication in enumerate(publications):
        for want in publication.files:
            if want.file_name in owners and owners[want.file_name] != index:
                raise UserInputError(
                    f"certificates[{index}].host_names: {want.host_name!r} is also published by certificates[{owners[want.file_name]}]; "
                    "each host name's file can hold only one certificate, so list it under one of them"
                )
            owners[want.file_name] = index


def is_concurrent(replica: Replica) -> bool:
    # Replicas on the task's Windows host share its one connection; SMB and local ones have their own.
    return replica.type not in HOST_TYPES


def run_publish(context: TaskContext, runner: HostOperationRunner, *, replica_factory: ReplicaFactory = build_replica) -> dict[str, t.Any]:
    """The whole task. replica_factory is the seam tests use to wrap a replica's file primitives with faults."""
    params = context.params
    check_options(params)
    batch = params.get("certificates") is not None
    entries = certificate_entries(params)
    sources = Sources(entries, batch=batch, now=datetime.now(timezone.utc))
    key_password = params.get("private_key_password")
    exports = PfxExports(sources.bundles, key_password)
    replicas = [replica_factory(d, runner) for d in params["destinations"]]
    publications, outcomes = publish_in_phases(
        replicas,
        lookup=None if params["prune"] else sources.lookup(),
        key_password=key_password,
        resolve=sources.resolve,
        check_mode=context.check_mode,
        identify=make_identify(key_password),
        export=exports,
        concurrent=is_concurrent,
    )
    minimum = params.get("min_replicas") or len(replicas)
    result = summarize(publications if batch else publications[0], outcomes, check_mode=context.check_mode, min_replicas=minimum)
    result["sources_loaded"] = sources.loaded
    failed = result.pop("_failed_replicas")
    diff = result.pop("diff")
    if context.diff and (diff["before"] or diff["after"]):
        # No diff at all when nothing would change: an empty before/after is only noise.
        result["diff"] = diff
    result["round_trips"] = runner.round_trips
    warnings = [f"certificates[{i}]: {w}" if batch else w for i in range(len(entries)) for w in sources.warnings[i]]
    if warnings:
        result["warnings"] = warnings
    if failed:
        broken = [f"{r['name']}: {r.get('error', 'failed')}" for r in result["replicas"] if r["status"] == "failed"]
        raise ModuleFailure(
            f"published to {result['replicas_succeeded']} of {len(replicas)} replicas, {minimum} required (min_replicas); failed: " + "; ".join(broken),
            **result,
        )
    return result
