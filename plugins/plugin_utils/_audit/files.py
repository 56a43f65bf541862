# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store's files across replicas: one record per file name, its content's facts, drift, and findings."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.certfile import CertFacts, analyse, host_name_of, name_matches
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.findings import Finding
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.store_read import ReplicaRead
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostName


@dataclasses.dataclass(frozen=True)
class Policy:
    """The thresholds and farm facts file findings depend on."""

    expiry_warning_days: int
    expiry_error_days: int
    farm_has_server_2016: bool


@dataclasses.dataclass
class FileRecord:
    name: str
    facts: CertFacts
    # Per readable replica: the identity of its copy, or None when the replica lacks the file.
    copies: dict[str, str | None]
    published: bool

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def drift(self) -> bool:
        return len(set(self.copies.values())) > 1

    # Name checks run IDNA and RFC 6125 matching: once per record, not once per use.
    @functools.cached_property
    def host(self) -> HostName | None:
        return host_name_of(self.name)

    @functools.cached_property
    def name_matches(self) -> bool:
        return name_matches(self.host, self.facts)

    def public(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "host_name": self.host.unicode if self.host else None,
            "name_matches": self.name_matches,
            "published_by_iis_ccs": self.published,
            "drift": self.drift,
            "replicas": {name: {"present": identity is not None, "identity": identity} for name, identity in self.copies.items()},
            **self.facts.public(),
        }


def collect(reads: t.Sequence[ReplicaRead], password: str | None, now: datetime.datetime) -> list[FileRecord]:
    """Each distinct content is opened once, however many replicas hold it."""
    readable = [r for r in reads if r.ok]
    cache: dict[str, CertFacts] = {}
    records: dict[str, FileRecord] = {}
    for replica in readable:
        for key, stored in replica.files.items():
            digest = stored.sha256
            if digest not in cache:
                cache[digest] = analyse(stored.data, password, now)
            record = records.get(key)
            if record is None:
                record = records[key] = FileRecord(stored.name, cache[digest], dict.fromkeys((r.name for r in readable), None), False)
            record.copies[replica.name] = cache[digest].identity
            record.published = record.published or key in replica.manifest_files
    return sorted(records.values(), key=lambda r: r.key)


def file_findings(record: FileRecord, policy: Policy) -> list[Finding]:
    facts = record.facts
    found = _drift_findings(record)
    if not facts.opened:
        return found + [_cannot_open(record)]
    found += _expiry_findings(record, policy)
    found += _name_findings(record)
    if facts.encryption == "aes256" and policy.farm_has_server_2016:
        found.append(
            Finding(
                "encryption_2016",
                "error",
                record.name,
                f"{record.name} is encrypted with AES-256, which the farm's Windows Server 2016 nodes cannot import",
                "re-publish it with encryption=compatible (iis.ccs.ccs_cert_publish), or upgrade those nodes",
            )
        )
    if facts.chain_problem:
        found.append(Finding("chain_incomplete", "warning", record.name, facts.chain_problem, "re-publish the certificate with its intermediate certificates"))
    if not record.published:
        found.append(
            Finding(
                "foreign_file",
                "info",
                record.name,
                f"{record.name} was not published by iis.ccs (it is not in the store's manifest)",
                "publish it with iis.ccs.ccs_cert_publish so later runs keep it up to date",
            )
        )
    return found


def _cannot_open(record: FileRecord) -> Finding:
    return Finding(
        "cannot_open",
        "critical",
        record.name,
        f"{record.name} {record.facts.open_error}: IIS fails every handshake for this name",
        "re-publish it with the store's private key password (the one the CCS provider holds)",
    )


def _expiry_findings(record: FileRecord, policy: Policy) -> list[Finding]:
    days, when = record.facts.days_left, (record.facts.not_after or "")[:10]
    if days is None or days >= policy.expiry_warning_days:
        return []
    if days < 0:
        return [Finding("expired", "critical", record.name, f"{record.name} expired on {when}", "renew the certificate and publish it now")]
    severity = "error" if days < policy.expiry_error_days else "warning"
    return [Finding("expiring", severity, record.name, f"{record.name} expires on {when}, in {days} days", "renew the certificate and publish it")]


def _name_findings(record: FileRecord) -> list[Finding]:
    host = record.host
    if host is None:
        return [
            Finding(
                "foreign_file",
                "warning",
                record.name,
                f"{record.name} is not named <host name>.pfx, so IIS never uses it",
                "remove it from the store, or rename it after the host name it serves",
            )
        ]
    if record.name_matches:
        return []
    issued = ", ".join(record.facts.dns_names) or "no DNS names"
    return [
        Finding(
            "name_mismatch",
            "error",
            record.name,
            f"{record.name} holds a certificate for {issued}, not for {host.unicode}: clients reject it",
            "publish the certificate that covers this host name under this file name",
        )
    ]


def _drift_findings(record: FileRecord) -> list[Finding]:
    if not record.drift:
        return []
    missing = sorted(name for name, identity in record.copies.items() if identity is None)
    holders = [identity for identity in record.copies.values() if identity is not None]
    parts = []
    if missing:
        parts.append("missing on " + ", ".join(missing))
    if len(set(holders)) > 1:
        parts.append("different certificates on different replicas")
    return [
        Finding(
            "replica_drift",
            "error",
            record.name,
            f"{record.name} differs between replicas: " + "; ".join(parts),
            "run iis.ccs.ccs_cert_publish for this certificate with every replica as a destination",
        )
    ]


def replica_findings(read: ReplicaRead) -> list[Finding]:
    if not read.ok:
        return [Finding("replica_unreadable", "error", read.name, f"replica {read.name} could not be read: {read.error}", "check the path and the credentials")]
    found = []
    if read.stale_temps:
        found.append(
            Finding(
                "stale_temp_files",
                "warning",
                read.name,
                f"replica {read.name} holds {len(read.stale_temps)} temporary file(s) of an interrupted publish",
                "run iis.ccs.ccs_cert_publish again: it removes them",
            )
        )
    if read.orphan_records:
        found.append(
            Finding(
                "orphan_record",
                "info",
                read.name,
                f"replica {read.name} holds iis.ccs records of {len(read.orphan_records)} PFX file(s) that are not there"
                f" (deleted by hand?): {', '.join(read.orphan_records)}. A record never vouches for a missing file",
                "publish the certificate again if its names should be served; otherwise nothing to do: a ccs_cert_publish"
                " run that lists the whole store (prune, or a batch of more than 64 files) deletes such records",
            )
        )
    return found
