"""The Windows rules the lab enforces, each with the public source that says Windows behaves so.

A lab that is kinder than Windows proves nothing, and a rule without a source cannot be checked
against Windows. Every place where the lab refuses something the way Windows would raises
``WindowsError_(..., rule="<id>")`` with an id registered here; tests check that every id has a
source and that deleting a rule makes a test fail.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Rule:
    """One documented Windows behaviour the lab enforces."""

    id: str
    summary: str
    # A learn.microsoft.com page, an IIS team test, a known issue, or a section of docs/ccs-behaviour.md.
    source: str


RULES: dict[str, Rule] = {}

# Rules switched off, as if deleted from the lab: only tests set this, to prove that each rule's test
# fails without it (tests/unit/test_lab_rules.py). Every raise site asks enforced() first.
# IIS_LAB_DISABLED_RULES (comma-separated) does the same for a whole pytest run in another process.
DISABLED: set[str] = {rule for rule in os.environ.get("IIS_LAB_DISABLED_RULES", "").split(",") if rule}


def register(rule_id: str, summary: str, source: str) -> Rule:
    """Add a rule; an id is registered once."""
    if rule_id in RULES:
        raise ValueError(f"lab rule {rule_id!r} is registered twice")
    RULES[rule_id] = Rule(rule_id, summary, source)
    return RULES[rule_id]


def known(rule_id: str) -> str:
    """The id, after checking it is registered (so a typo in a raise site fails loudly)."""
    if rule_id not in RULES:
        raise KeyError(f"lab rule {rule_id!r} is not registered in iis_lab/rules.py")
    return rule_id


def enforced(rule_id: str) -> bool:
    """Whether the lab applies the rule now (always, unless a test switched it off); the id must be registered."""
    return known(rule_id) not in DISABLED


# --- the rules (issue 12: what Microsoft's documentation says real Windows does) --------------------------------
register(
    "replacefile-needs-write-dac",
    "ReplaceFile without REPLACEFILE_IGNORE_MERGE_ERRORS (3-argument File.Replace) needs WRITE_DAC on the replaced"
    " file, which only Full (not Change) share or NTFS permission gives",
    "https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-replacefilew ; Microsoft KB 274487",
)
register(
    "effective-access-is-lesser",
    "Access over SMB is the lesser of the share permission and the NTFS permission; writing needs Change",
    "https://learn.microsoft.com/en-us/windows-server/storage/file-server/ntfs-overview",
)
register(
    "validatecredentials-needs-server-service",
    "PrincipalContext(Machine).ValidateCredentials connects to this machine over SMB (the Server service), so it"
    " fails where that service is stopped",
    "https://learn.microsoft.com/en-us/dotnet/api/system.directoryservices.accountmanagement.principalcontext.validatecredentials",
)
register(
    "smb-credential-conflict-1219",
    "A logon session cannot connect to one server with two different credentials (error 1219)",
    "https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--1000-1299-",
)
register(
    "constrained-language-blocks-dotnet",
    "Constrained Language Mode blocks Add-Type, New-Object of most types and .NET method calls",
    "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_language_modes",
)
register(
    "remove-psdrive-2250",
    "Windows PowerShell 5.1's Remove-PSDrive fails when the connection is already gone (NERR_UseNotFound, 2250)",
    "https://learn.microsoft.com/en-us/windows/win32/netmgmt/network-management-error-codes",
)
register(
    "new-psdrive-leaks-on-failure",
    "New-PSDrive opens the SMB connection before it checks the root; a failed mapping leaves the connection",
    "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/new-psdrive?view=powershell-5.1",
)
register(
    "directory-exists-hides-denied",
    "[IO.Directory]::Exists returns false when access is denied, not only when the folder is missing",
    "https://learn.microsoft.com/en-us/dotnet/api/system.io.directory.exists#remarks",
)
register(
    "winrm-double-hop",
    "A WinRM (NTLM) session cannot pass its credentials to a second server without CredSSP or Kerberos delegation",
    "https://learn.microsoft.com/en-us/powershell/scripting/security/remoting/ps-remoting-second-hop",
)
register(
    "provider-cmdlets-check-path-as-caller",
    "Enable/Set-WebCentralCertProvider check that the store path exists as the calling (WinRM) user unless a"
    " connection with the provider account is open (unproven: modelled strictly until a real host answers)",
    "https://learn.microsoft.com/en-us/powershell/module/webadministration/enable-webcentralcertprovider",
)
register(
    "clear-iis-provider-force-by-build",
    "Server 2016's inbox IISAdministration 1.1.0.0 Clear-IISCentralCertProvider has no -Force (unproven: modelled"
    " strictly until a real host answers)",
    "https://learn.microsoft.com/en-us/powershell/module/iisadministration/clear-iiscentralcertprovider",
)
register(
    "clear-web-provider-private-key-scope",
    "Clear-WebCentralCertProvider -PrivateKeyPassword: the page says it removes all settings, the IIS team tests"
    " clear only the private-key password; the lab profile chooses (clear_private_key_password_removes_all)",
    "https://learn.microsoft.com/en-us/powershell/module/webadministration/clear-webcentralcertprovider",
)
register(
    "binding-hash-edit-leaves-ipport",
    "Deleting certificateHash from a binding in place is undocumented; the lab assumes the worst (the HTTP.sys"
    " ipport= entry stays), as win-acme rebuilds such bindings instead",
    "https://learn.microsoft.com/en-us/windows-server/networking/technologies/netsh/netsh-http",
)
register(
    "fs-timestamp-granularity",
    "A file system keeps last-write times at its own granularity (FAT: 2 s; some NAS and Samba set-ups: 1 s); a"
    " value set through an SMB client cache reads back exact until the cache expires",
    "https://learn.microsoft.com/en-us/windows/win32/sysinfo/file-times",
)
register(
    "validatecredentials-workgroup-as-domain",
    "PrincipalContext(ContextType.Domain, name) needs a domain controller for name; a workgroup FILESERVER\\user is"
    " not a domain, so the old check could not validate it",
    "https://learn.microsoft.com/en-us/dotnet/api/system.directoryservices.accountmanagement.principalcontext.-ctor",
)
register(
    "smb-share-not-found",
    "Get-SmbShare -Name fails when the host has no share of that name",
    "https://learn.microsoft.com/en-us/powershell/module/smbshare/get-smbshare?view=windowsserver2022-ps",
)
