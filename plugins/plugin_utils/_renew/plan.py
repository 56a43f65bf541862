# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a renewal run must order: pure functions from what the store holds to a list of renewals.

The store is a folder of ``<host name>.pfx`` files; files holding the same certificate (same
thumbprint) form one certificate with several host names, and are renewed as one order. A
certificate is due when it expires within ``renew_before_days``; a host name bound on the farm
with no file is due as a new certificate; forced names renew their certificate whatever its date.
"""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import datetime, timedelta, timezone

from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostName, HostNameError, parse_file_name, parse_host_name

EXPIRED = "expired"
EXPIRING = "expiring"
MISSING = "missing"
FORCED = "forced"
SECONDS_PER_DAY = 86400


@dataclasses.dataclass(frozen=True)
class StoreFile:
    """One PFX file of the store as far as it could be identified (thumbprint None: not openable)."""

    file_name: str
    thumbprint: str | None
    not_after: datetime | None


@dataclasses.dataclass(frozen=True)
class StoredCertificate:
    """One certificate of the store and every file (host name) that holds it."""

    thumbprint: str
    not_after: datetime
    file_names: tuple[str, ...]

    @property
    def host_names(self) -> tuple[str, ...]:
        return tuple(parse_file_name(name).unicode for name in self.file_names)

    def days_left(self, now: datetime) -> int:
        return int((self.not_after - now).total_seconds() // SECONDS_PER_DAY)

    def public(self, now: datetime) -> dict[str, t.Any]:
        return {
            "host_names": list(self.host_names),
            "file_names": list(self.file_names),
            "thumbprint": self.thumbprint,
            "not_after": iso(self.not_after),
            "days_left": self.days_left(now),
        }


@dataclasses.dataclass(frozen=True)
class Renewal:
    host_names: tuple[str, ...]
    reason: str
    current: StoredCertificate | None = None

    def public(self, now: datetime) -> dict[str, t.Any]:
        # ACME identifiers are the ASCII (punycode) forms of the names.
        identifiers = [parse_host_name(name, option="host_names").ascii for name in self.host_names]
        result: dict[str, t.Any] = {"host_names": list(self.host_names), "identifiers": identifiers, "reason": self.reason}
        if self.current is not None:
            result.update(thumbprint=self.current.thumbprint, not_after=iso(self.current.not_after), days_left=self.current.days_left(now))
        else:
            result.update(thumbprint=None, not_after=None, days_left=None)
        return result


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_certificates(files: t.Iterable[StoreFile]) -> list[StoredCertificate]:
    """Files holding the same certificate, together; unreadable files are left out (reported apart)."""
    groups: dict[str, list[StoreFile]] = {}
    for entry in files:
        if entry.thumbprint is not None and entry.not_after is not None:
            groups.setdefault(entry.thumbprint.upper(), []).append(entry)
    return [
        StoredCertificate(thumbprint, members[0].not_after or datetime.min, tuple(sorted(m.file_name.lower() for m in members)))
        for thumbprint, members in sorted(groups.items())
    ]


def parse_names(names: t.Iterable[str], option: str) -> list[HostName]:
    """Host names as the user or the farm gave them; a bad one is named with its option."""
    parsed = []
    for name in names:
        try:
            parsed.append(parse_host_name(name, option=option))
        except HostNameError as exc:
            raise ValueError(str(exc)) from None
    return parsed


def plan_renewals(
    certificates: t.Sequence[StoredCertificate],
    *,
    now: datetime,
    renew_before_days: int,
    bound: t.Sequence[HostName],
    forced: t.Sequence[HostName],
) -> list[Renewal]:
    """Every renewal, in a stable order: store certificates first, then new certificates for bound or forced names."""
    by_file = {name: cert for cert in certificates for name in cert.file_names}
    forced_files = {name.file_name.lower() for name in forced}
    renewals = []
    for cert in certificates:
        reason = _store_reason(cert, now, renew_before_days, forced_files)
        if reason:
            renewals.append(Renewal(cert.host_names, reason, cert))
    renewals.extend(_new_certificates(bound, MISSING, by_file))
    already = {name for r in renewals for name in r.host_names}
    renewals.extend(r for r in _new_certificates(forced, FORCED, by_file) if r.host_names[0] not in already)
    return renewals


def _store_reason(cert: StoredCertificate, now: datetime, renew_before_days: int, forced_files: set[str]) -> str | None:
    if cert.not_after <= now:
        return EXPIRED
    if cert.not_after - now < timedelta(days=renew_before_days):
        return EXPIRING
    if forced_files.intersection(cert.file_names):
        return FORCED
    return None


def _new_certificates(names: t.Sequence[HostName], reason: str, by_file: t.Mapping[str, StoredCertificate]) -> list[Renewal]:
    """One new certificate per name that no store file serves (as IIS looks it up: the name's own file)."""
    seen: set[str] = set()
    renewals = []
    for name in names:
        file_name = name.file_name.lower()
        if file_name in by_file or file_name in seen:
            continue
        seen.add(file_name)
        renewals.append(Renewal((name.unicode,), reason))
    return renewals
