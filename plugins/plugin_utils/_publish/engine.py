# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replica engine: publish one certificate to every replica, each on its own.

A replica that cannot be reached or written is reported and the others carry on;
the caller decides with ``min_replicas`` whether the task failed. Per replica there
is one read, one more read only for files the manifest cannot vouch for, and one
write only when something must change (never in check mode).
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
    Publication,
    ReplicaPlan,
    files_to_identify,
    lookup_for,
    plan_replica,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._store.errors import explain_os_error
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import StoreBackend, StoreError, StoreWrite

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


def publish_replica(replica: Replica, publications: Publication | Batch, *, check_mode: bool, identify: Identify, export: Export) -> ReplicaOutcome:
    """One read, one more read for the files the manifest cannot vouch for, one commit: for every certificate at once."""
    if replica.backend is None:
        return ReplicaOutcome(replica, ok=False, error=replica.setup_error or "not reachable")
    batch = (publications,) if isinstance(publications, Publication) else tuple(publications)
    backend = replica.backend
    try:
        # Without prune only these certificates' own files (and their records) matter: look those up instead of listing everything.
        listing = backend.read(lookup_for(batch))
        unknown = files_to_identify(batch, listing)
        facts = {name: identify(data) for name, data in backend.fetch(unknown).items()} if unknown else {}
        plan = plan_replica(batch, listing, facts)
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
    except OSError as exc:  # a controller folder: name it and the likely cause, not the raw errno text
        return ReplicaOutcome(replica, ok=False, error=explain_os_error(exc, replica.path))
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    return ReplicaOutcome(replica, ok=True, plan=plan)


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

    def one(replica: Replica) -> ReplicaOutcome:
        try:
            return publish_replica(replica, publications, check_mode=check_mode, identify=identify, export=export)
        except host_error_types as exc:  # a host operation failed: that replica only
            return ReplicaOutcome(replica, ok=False, error=str(exc))

    parallel = [replica for replica in replicas if concurrent(replica)]
    outcomes: dict[int, ReplicaOutcome] = {}
    if len(parallel) > 1:
        with ThreadPoolExecutor(max_workers=len(parallel)) as pool:
            outcomes.update(zip(map(id, parallel), pool.map(one, parallel)))
    return [outcomes.get(id(replica)) or one(replica) for replica in replicas]


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
