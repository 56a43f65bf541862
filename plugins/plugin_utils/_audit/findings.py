# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings of the store audit: what is wrong, how bad it is, and how to fix it."""

from __future__ import annotations

import dataclasses
import typing as t

# Most severe first. "critical": IIS fails handshakes now; "error": it will, or the store is unsafe;
# "warning": worth fixing; "info": for the record.
SEVERITIES = ("critical", "error", "warning", "info")
_RANK = {name: len(SEVERITIES) - index for index, name in enumerate(SEVERITIES)}


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str  # a stable id, e.g. "expiring" or "acl_broad_group"
    severity: str
    subject: str  # the file, replica, node or account the finding is about
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def rank(severity: str) -> int:
    return _RANK[severity]


def sort_findings(findings: t.Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-rank(f.severity), f.check, f.subject.lower()))


def count_by_severity(findings: t.Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def at_or_above(counts: t.Mapping[str, int]) -> dict[str, int]:
    """For each severity, how many findings are that bad or worse: what report_fail_on compares."""
    totals: dict[str, int] = {}
    running = 0
    for severity in SEVERITIES:
        running += counts.get(severity, 0)
        totals[severity] = running
    return totals
