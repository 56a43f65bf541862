# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replica engine: publish one certificate to every replica, each on its own.

A replica that cannot be reached or written is reported and the others carry on;
the caller decides with ``min_replicas`` whether the task failed. Per replica there
is one read, one more read only for files the manifest cannot vouch for, and one
write only when something must change (never in check mode).

Two phases: every replica is read first; the caller then decides what to publish
from what the reads found (the short path of proof.py, or a full load that may
still refuse); only then is each replica planned and written.
"""

from __future__ import annotations

import dataclasses
import typing as t
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.iis.ccs.plugins.plugin_utils._publish.plan import (
    CREATE,
    UNCHANGED,
    UPDATE,
    Batch,
    FileFacts,
    Fingerprint,
    Publication,
    ReplicaPlan,
    files_to_identify,
    lookup_for,
    plan_replica,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._store.errors import explain_os_error
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import (
    Lookup,
    StoreBackend,
    StoreError,
    StoreListing,
    StoreWrite,
    password_fingerprint,
)

Identify = t.Callable[[bytes], FileFacts]
# The PFX bytes every file of one certificate holds (exported once per certificate, on first use).
Export = t.Callable[[Publication], bytes]

# What the per-file "action" says, from the replica plans' verbs.
_PAST = {CREATE: "created", UPDATE: "updated", UNCHANGED: "unchanged", "remove": "removed", "prune": "pruned"}
_RANK = {"failed": 4, "created": 3, "updated": 2, "removed": 2, "pruned": 2, "unchanged": 0}


@dataclasses.dataclass
class Replica:
    name: str
    type: str
    path: str
    backend: StoreBackend | None
    setup_error: str | None = None  # e.g. bad credentials caught before any I/O


@dataclasses.dataclass
class ReplicaOutcome:
    replica: Replica
    ok: bool
    plan: ReplicaPlan | None = None
    error: str | None = None

    def as_result(self, check_mode: bool) -> dict[str, t.Any]:
        traffic = self.replica.backend.traffic if self.replica.backend else None
        result: dict[str, t.Any] = {
            "name": self.replica.name,
            "type": self.replica.type,
            "path": self.replica.path,
            "status": "failed" if not self.ok else ("changed" if self.plan and self.plan.changes_files else "unchanged"),
            "created": [],
            "updated": [],
            "removed": [],
            "manifest_updated": bool(self.ok and self.plan and self.plan.needs_write and not check_mode),
            "pfx_bytes_read": traffic.pfx_read if traffic else 0,
            "pfx_bytes_written": traffic.pfx_written if traffic else 0,
            "other_bytes": traffic.other if traffic else 0,
            "round_trips": traffic.round_trips if traffic else 0,
        }
        if self.error:
            result["error"] = self.error
        if self.plan:
            for name, action in sorted(self.plan.actions.items()):
                if action == CREATE:
                    result["created"].append(name)
                elif action == UPDATE:
                    result["updated"].append(name)
            result["removed"] = sorted(self.plan.removals)
        return result


class FingerprintCache:
    """The key-password fingerprint (PBKDF2, 100k rounds) once per password and replica salt, for the whole task."""

    def __init__(self) -> None:
        self._known: dict[tuple[str | None, str], str] = {}

    def __call__(self, password: str | None, salt: str) -> str:
        key = (password, salt)
        if key not in self._known:
            self._known[key] = password_fingerprint(password, salt)
        return self._known[key]


@dataclasses.dataclass
class ReplicaRead:
    """A replica after its one read: the listing and the manifest its header and records make (listing.view()), or why it failed."""

    replica: Replica
    listing: StoreListing | None = None
    manifest: dict[str, t.Any] | None = None
    error: str | None = None


def _close(replica: Replica) -> None:
    close = getattr(replica.backend, "close", None)
    if close is not None:
        close()


def read_replica(replica: Replica, lookup: Lookup | None, key_password: str | None, fingerprint: Fingerprint) -> ReplicaRead:
    """The read phase: listing and manifest, and this replica's key-password fingerprint while on its thread."""
    if replica.backend is None:
        return ReplicaRead(replica, error=replica.setup_error or "not reachable")
    try:
        listing = replica.backend.read(lookup)
        manifest = listing.view()
        # Here, so replicas hash at the same time: hashlib releases the GIL during PBKDF2.
        fingerprint(key_password, str(manifest["salt"]))
    except StoreError as exc:
        _close(replica)
        return ReplicaRead(replica, error=str(exc))
    except OSError as exc:  # a controller folder: name it and the likely cause, not the raw errno text
        _close(replica)
        return ReplicaRead(replica, error=explain_os_error(exc, replica.path))
    return ReplicaRead(replica, listing, manifest)


def _covers(listing: StoreListing, batch: Batch) -> bool:
    return listing.examined is None or all(want.file_name in listing.examined for publication in batch for want in publication.files)


def finish_replica(read: ReplicaRead, batch: Batch, *, check_mode: bool, identify: Identify, export: Export, fingerprint: Fingerprint) -> ReplicaOutcome:
    """The rest for one replica: identify the files the manifest cannot vouch for, plan, and commit once."""
    replica = read.replica
    if read.error is not None or read.listing is None or read.manifest is None or replica.backend is None:
        return ReplicaOutcome(replica, ok=False, error=read.error or "not reachable")
    backend = replica.backend
    try:
        listing = read.listing
        if not _covers(listing, batch):
            # A certificate's names became known only after its full load: look up its files and records too.
            listing = backend.read(lookup_for(batch))
        unknown = files_to_identify(batch, listing)
        facts = {name: identify(data) for name, data in backend.fetch(unknown).items()} if unknown else {}
        plan = plan_replica(batch, listing, facts, fingerprint=fingerprint)
        if plan.needs_write and not check_mode:
            owners = {want.file_name: publication for publication in batch for want in publication.files}
            backend.commit(
                StoreWrite(
                    # All files of one certificate hold the same bytes, exported once.
                    files={name: export(owners[wanted]) for wanted, name in plan.write_names.items()},
                    removes=sorted(plan.removals),
                    stale_temps=plan.stale_temps,
                    manifest=plan.manifest,
                    listing=listing,
                )
            )
    except StoreError as exc:
        return ReplicaOutcome(replica, ok=False, error=str(exc))
    except OSError as exc:
        return ReplicaOutcome(replica, ok=False, error=explain_os_error(exc, replica.path))
    finally:
        _close(replica)
    return ReplicaOutcome(replica, ok=True, plan=plan)


def _as_tuple(publications: Publication | Batch) -> Batch:
    return (publications,) if isinstance(publications, Publication) else tuple(publications)


Item = t.TypeVar("Item")
Outcome = t.TypeVar("Outcome")


def _each(items: t.Sequence[Item], work: t.Callable[[Item], Outcome], concurrent: t.Callable[[Item], bool]) -> list[Outcome]:
    """work(item) for every item, in order; those concurrent() allows run at the same time."""
    parallel = [index for index, item in enumerate(items) if concurrent(item)]
    done: dict[int, Outcome] = {}
    if len(parallel) > 1:
        with ThreadPoolExecutor(max_workers=len(parallel)) as pool:
            done.update(zip(parallel, pool.map(lambda index: work(items[index]), parallel)))
    return [done[index] if index in done else work(item) for index, item in enumerate(items)]


# Given the successful reads (listing, parsed manifest) and the task's fingerprint cache: the batch to publish.
Resolve = t.Callable[[t.Sequence[tuple[StoreListing, t.Mapping[str, t.Any]]], Fingerprint], Batch]


def publish_in_phases(
    replicas: t.Sequence[Replica],
    *,
    lookup: Lookup | None,
    key_password: str | None,
    resolve: Resolve,
    check_mode: bool,
    identify: Identify,
    export: Export,
    host_error_types: tuple[type[Exception], ...] = (),
    concurrent: t.Callable[[Replica], bool] = lambda replica: False,
) -> tuple[Batch, list[ReplicaOutcome]]:
    """Read every replica, let resolve() decide what to publish (it may still refuse), then write each replica.

    Nothing is written before resolve() returns: a source it must load in full, and finds bad,
    fails the task with every replica as it was.
    """
    fingerprint = FingerprintCache()

    def read(replica: Replica) -> ReplicaRead:
        try:
            return read_replica(replica, lookup, key_password, fingerprint)
        except host_error_types as exc:  # a host operation failed: that replica only
            _close(replica)
            return ReplicaRead(replica, error=str(exc))

    reads = _each(replicas, read, concurrent)
    try:
        batch = resolve([(r.listing, r.manifest) for r in reads if r.listing is not None and r.manifest is not None], fingerprint)
    except BaseException:
        for done in reads:
            _close(done.replica)
        raise

    def finish(done: ReplicaRead) -> ReplicaOutcome:
        try:
            return finish_replica(done, batch, check_mode=check_mode, identify=identify, export=export, fingerprint=fingerprint)
        except host_error_types as exc:
            _close(done.replica)
            return ReplicaOutcome(done.replica, ok=False, error=str(exc))

    return batch, _each(reads, finish, lambda done: concurrent(done.replica))


def publish_all(
    replicas: t.Sequence[Replica],
    publications: Publication | Batch,
    *,
    check_mode: bool,
    identify: Identify,
    export: Export,
    host_error_types: tuple[type[Exception], ...] = (),
    concurrent: t.Callable[[Replica], bool] = lambda replica: False,
) -> list[ReplicaOutcome]:
    """Every replica on its own; those ``concurrent`` allows (own sessions, e.g. SMB) are written at the same time."""
    batch = _as_tuple(publications)
    _batch, outcomes = publish_in_phases(
        replicas,
        lookup=lookup_for(batch),
        key_password=batch[0].key_password if batch else None,
        resolve=lambda _reads, _fingerprint: batch,
        check_mode=check_mode,
        identify=identify,
        export=export,
        host_error_types=host_error_types,
        concurrent=concurrent,
    )
    return outcomes


def certificate_result(publication: Publication, outcomes: t.Sequence[ReplicaOutcome]) -> dict[str, t.Any]:
    """One certificate's part of the result: its files, per replica, and whether any of them changed."""
    files = []
    for want in publication.files:
        per_replica: dict[str, str] = {}
        for outcome in outcomes:
            if outcome.ok and outcome.plan:
                per_replica[outcome.replica.name] = _PAST[outcome.plan.actions[want.file_name]]
            else:
                per_replica[outcome.replica.name] = "failed"
        files.append(
            {
                "host_name": want.host_name,
                "file_name": want.file_name,
                "thumbprint": want.thumbprint,
                "not_after": want.not_after,
                "action": _overall(per_replica.values()),
                "replicas": per_replica,
            }
        )
    return {
        "changed": any(entry["action"] not in ("unchanged", "failed") for entry in files),
        "thumbprint": publication.thumbprint,
        "not_after": publication.not_after,
        "encryption": publication.encryption,
        "files": files,
    }


def summarize(publications: Publication | Batch, outcomes: t.Sequence[ReplicaOutcome], *, check_mode: bool, min_replicas: int) -> dict[str, t.Any]:
    """The module result (without warnings): per-file and per-replica status, diff, failure verdict.

    One certificate keeps the single-certificate shape (thumbprint, files, ... at the top); a batch
    lists one such entry per certificate under ``certificates``, in the order given.
    """
    batch = (publications,) if isinstance(publications, Publication) else tuple(publications)
    removed: dict[str, dict[str, str]] = {}
    for outcome in outcomes:
        if outcome.ok and outcome.plan:
            for name, verb in outcome.plan.removals.items():
                removed.setdefault(name, {})[outcome.replica.name] = _PAST[verb]
    succeeded = sum(1 for o in outcomes if o.ok)
    result: dict[str, t.Any] = {"changed": any(o.ok and o.plan and o.plan.changes_files for o in outcomes)}
    certificates = [certificate_result(publication, outcomes) for publication in batch]
    if isinstance(publications, Publication):
        result.update({key: value for key, value in certificates[0].items() if key != "changed"})
    else:
        result["certificates"] = certificates
    result.update(
        {
            "removed": [{"file_name": name, "replicas": reps} for name, reps in sorted(removed.items())],
            "replicas": [o.as_result(check_mode) for o in outcomes],
            "replicas_succeeded": succeeded,
            "min_replicas": min_replicas,
            "diff": build_diff(batch, outcomes),
            "_failed_replicas": succeeded < min_replicas,
        }
    )
    return result


def _overall(actions: t.Iterable[str]) -> str:
    ranked = sorted(actions, key=lambda a: _RANK.get(a, 0), reverse=True)
    best = [a for a in ranked if a != "failed"]
    return best[0] if best else "failed"


def build_diff(batch: Batch, outcomes: t.Sequence[ReplicaOutcome]) -> dict[str, t.Any]:
    """before/after per replica: file names with thumbprint and not-after only, never key material."""
    before: dict[str, t.Any] = {}
    after: dict[str, t.Any] = {}
    for outcome in outcomes:
        if not (outcome.ok and outcome.plan) or not outcome.plan.changes_files:
            continue
        plan = outcome.plan
        old: dict[str, t.Any] = {}
        new: dict[str, t.Any] = {}
        for want in (want for publication in batch for want in publication.files):
            action = plan.actions[want.file_name]
            if action == UNCHANGED:
                continue
            if action == UPDATE:
                old[want.file_name] = plan.before.get(want.file_name, {})
            new[want.file_name] = {"thumbprint": want.thumbprint, "not_after": want.not_after}
        for name in plan.removals:
            old[name] = plan.before.get(name, {})
        before[outcome.replica.name] = old
        after[outcome.replica.name] = new
    return {"before": before, "after": after}
