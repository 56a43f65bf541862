# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The share and folder ACL audit: read_store_acl's answer against the least-privilege rules.

Rules (docs/ccs-behaviour.md, section 9): the CCS account reads and never writes; the publisher
changes and never has Full Control; no Everyone, Users, Authenticated Users or Domain Users;
administrators as the organisation allows (administrator_accounts, administrator_access).
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.findings import Finding
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner

OPERATION = "read_store_acl"
LEVELS = ("none", "read", "change", "full")
BROAD_GROUPS = frozenset({"everyone", "users", "authenticated users", "domain users"})
# FileSystemRights that let an account change files, or change who may (names as .NET prints the enum).
_WRITE_RIGHTS = ("Modify", "Write", "WriteData", "AppendData", "CreateFiles", "CreateDirectories", "Delete", "DeleteSubdirectoriesAndFiles")
_FULL_RIGHTS = ("FullControl", "ChangePermissions", "TakeOwnership")
# Generic rights, which inherit-only entries hold and Get-Acl prints as a number (GENERIC_ALL, GENERIC_WRITE).
_GENERIC_ALL, _GENERIC_WRITE = 0x10000000, 0x40000000
_DELETE, _WRITE_DAC_OR_OWNER = 0x10000, 0xC0000


@dataclasses.dataclass(frozen=True)
class AclPolicy:
    share: str
    reader_accounts: tuple[str, ...]
    publisher_accounts: tuple[str, ...]
    administrator_accounts: tuple[str, ...]
    administrator_access: str

    @classmethod
    def from_params(cls, params: t.Mapping[str, t.Any]) -> AclPolicy:
        return cls(
            share=share_name(str(params["share"])),
            reader_accounts=tuple(params["reader_accounts"]),
            publisher_accounts=tuple(params.get("publisher_accounts") or ()),
            administrator_accounts=tuple(params.get("administrator_accounts") or ()),
            administrator_access=str(params.get("administrator_access") or "full"),
        )


@dataclasses.dataclass(frozen=True)
class Grant:
    scope: str  # "share" or "ntfs"
    account: str
    level: str  # one of LEVELS
    raw: str  # what Windows said: the share right or the FileSystemRights text
    allow: bool


def share_name(value: str) -> str:
    """'ccs' or '\\\\server\\ccs\\folder' -> 'ccs'."""
    parts = [p for p in value.replace("/", "\\").split("\\") if p]
    return parts[1] if value.startswith(("\\\\", "//")) and len(parts) >= 2 else value.strip("\\")


def read_acl(runner: HostOperationRunner, policy: AclPolicy) -> dict[str, t.Any]:
    answer = runner.run(OPERATION, {"share": policy.share})
    return dict(answer) if isinstance(answer, dict) else {}


def grants(answer: t.Mapping[str, t.Any]) -> list[Grant]:
    found = [
        Grant(
            "share", str(e.get("account") or ""), _share_level(str(e.get("right") or "")), str(e.get("right") or ""), str(e.get("type") or "Allow") == "Allow"
        )
        for e in answer.get("share_access") or []
    ]
    found += [
        Grant("ntfs", str(e.get("account") or ""), ntfs_level(str(e.get("rights") or "")), str(e.get("rights") or ""), str(e.get("type") or "Allow") == "Allow")
        for e in answer.get("ntfs") or []
    ]
    return found


def _share_level(right: str) -> str:
    return {"full": "full", "change": "change", "read": "read"}.get(right.lower(), "full")  # Custom: assume the worst


def ntfs_level(rights: str) -> str:
    text = rights.strip()
    if text.lstrip("-").isdigit():
        return _generic_level(int(text) & 0xFFFFFFFF)
    names = {part.strip() for part in text.split(",") if part.strip()}
    if names & set(_FULL_RIGHTS):
        return "full"
    if names & set(_WRITE_RIGHTS):
        return "change"
    return "read" if names else "none"


def _generic_level(mask: int) -> str:
    if mask & (_GENERIC_ALL | _WRITE_DAC_OR_OWNER):
        return "full"
    if mask & (_GENERIC_WRITE | _DELETE) or mask & 0xFFFF & ~0x00A9:  # any specific right beyond read, execute and list
        return "change"
    return "read" if mask else "none"


def _short(account: str) -> str:
    return account.lower().rsplit("\\", 1)[-1].split("@", 1)[0]


def _same(account: str, names: t.Iterable[str]) -> bool:
    lowered = account.lower()
    return any(lowered == n.lower() or (("\\" not in n and "@" not in n) and _short(account) == n.lower()) for n in names)


def acl_findings(found: t.Sequence[Grant], policy: AclPolicy) -> list[Finding]:
    allowed = [g for g in found if g.allow]
    result = [finding for grant in allowed for finding in _grant_findings(grant, policy)]
    result += _reader_can_read(allowed, policy)
    return result


def _grant_findings(grant: Grant, policy: AclPolicy) -> list[Finding]:
    where = "share permission" if grant.scope == "share" else "NTFS permission"
    subject = f"{grant.account} ({grant.scope})"
    if _short(grant.account) in BROAD_GROUPS:
        return [
            _finding("acl_broad_group", "error", subject, f"{grant.account} has {grant.raw} ({where}): everyone in it can read every private key", "remove it")
        ]
    if _same(grant.account, policy.reader_accounts):
        if LEVELS.index(grant.level) > LEVELS.index("read"):
            return [
                _finding(
                    "acl_reader_writes", "error", subject, f"the CCS account {grant.account} has {grant.raw} ({where}); it must only read", "grant it Read only"
                )
            ]
        return []
    if _same(grant.account, policy.publisher_accounts):
        if grant.level == "full":
            return [
                _finding(
                    "acl_publisher_full",
                    "error",
                    subject,
                    f"the publisher {grant.account} has {grant.raw} ({where}): it can change permissions",
                    "grant it Change (share) and Modify (NTFS), not Full Control",
                )
            ]
        return []
    if _same(grant.account, policy.administrator_accounts):
        if LEVELS.index(grant.level) > LEVELS.index(policy.administrator_access):
            return [
                _finding(
                    "acl_admin_access",
                    "warning",
                    subject,
                    f"{grant.account} has {grant.raw} ({where}), more than the allowed {policy.administrator_access}",
                    f"reduce it to {policy.administrator_access}",
                )
            ]
        return []
    return [
        _finding(
            "acl_unexpected_account",
            "warning",
            subject,
            f"{grant.account} has {grant.raw} ({where}) but is neither the CCS account, a publisher nor an administrator",
            "remove it, or list it in acl_audit",
        )
    ]


def _reader_can_read(allowed: t.Sequence[Grant], policy: AclPolicy) -> list[Finding]:
    result = []
    for account in policy.reader_accounts:
        for scope in ("share", "ntfs"):
            if not any(g.scope == scope and g.level != "none" and (_same(g.account, [account]) or _short(g.account) in BROAD_GROUPS) for g in allowed):
                result.append(
                    _finding(
                        "acl_reader_cannot_read",
                        "critical",
                        f"{account} ({scope})",
                        f"the CCS account {account} has no read access ({scope}): IIS cannot load any certificate",
                        "grant it Read",
                    )
                )
    return result


def _finding(check: str, severity: str, subject: str, message: str, fix: str) -> Finding:
    return Finding(check, severity, subject, message, fix)


def table(found: t.Sequence[Grant], findings: t.Sequence[Finding]) -> list[dict[str, t.Any]]:
    """Every entry with the worst verdict on it, for the report."""
    verdicts = {f.subject.lower(): f.severity for f in findings}
    return [
        {
            "scope": g.scope,
            "account": g.account,
            "access": g.raw,
            "level": g.level,
            "type": "Allow" if g.allow else "Deny",
            "verdict": verdicts.get(f"{g.account} ({g.scope})".lower(), "ok") if g.allow else "ok",
        }
        for g in found
    ]
