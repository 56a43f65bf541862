"""What the shipped operation scripts do, read from their text, so the lab emulates the script it is sent.

A lab rule about a Windows call is only honest if reverting the script to the old call makes the
lab refuse again. Each fact names an operation and a pattern of its script (with the shared
functions it declares); the emulations ask ``has(fact)`` and follow the branch the real host would
take. Tests swap ``source`` for an older script's text to show the old behaviour failing.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

# fact -> (operation whose script and library are read, or "bootstrap"; pattern that proves it)
FACTS: dict[str, tuple[str, str]] = {
    # write_cert_store replaces files with ReplaceFile's REPLACEFILE_IGNORE_MERGE_ERRORS (4-argument File.Replace).
    "replace_ignores_metadata_errors": ("write_cert_store", r"\[System\.IO\.File\]::Replace\([^)]*,\s*\$true\s*\)"),
    # The access check validates credentials with PrincipalContext.ValidateCredentials.
    "validates_with_principal_context": ("probe_store_access", r"\.ValidateCredentials\("),
    # The loaders refuse a restricted language mode before running anything.
    "checks_language_mode": ("bootstrap", r"\$ExecutionContext\.SessionState\.LanguageMode"),
    # Remove-PSDrive runs inside a try/catch that swallows its failure (error 2250).
    "drive_removal_guarded": ("write_cert_store", r"try \{\s*Remove-PSDrive[^\n]*\n\s*\} catch \{"),
    # A failed New-PSDrive is followed by dropping the connection it may have opened.
    "failed_mapping_cleaned": ("write_cert_store", r"net\.exe use \$Root /delete"),
    # The store folder is probed by listing it, not with [IO.Directory]::Exists.
    "folder_probe_surfaces_errors": ("read_cert_store", r"exists = Test-StoreFolder \$root"),
    # Enable/Set run with the provider account's share mapped.
    "maps_store_for_provider_cmdlets": ("configure_provider", r"Invoke-WithStoreMapped \$Step \{ Enable-WebCentralCertProvider"),
    # After Clear-WebCentralCertProvider -PrivateKeyPassword, lost values are put back.
    "repairs_after_private_key_clear": ("configure_provider", r"Restore-ProviderValue \$name"),
    # Clear-IISCentralCertProvider's -Force is probed with Get-Command before it is used.
    "probes_clear_force": ("configure_provider", r"\.Parameters\.ContainsKey\('Force'\)"),
    # Converted bindings are rebuilt and a stale ipport= entry is removed at the commit.
    "removes_stale_ipport": ("apply_bindings", r"Remove-IpPortEntry \$ipPort"),
}


def source(operation: str) -> str:
    """The text a host runs for an operation: its shared functions and its script (or, for "bootstrap", the launcher and the loaders)."""
    if operation == "bootstrap":
        return "\n".join([host_ops.LAUNCHER, host_ops.CACHED_LOADER, host_ops.SENDING_LOADER]) + "\n"
    return host_ops.load_operation_library(operation) + "\n" + host_ops.load_operation_script(operation)


def has(fact: str) -> bool:
    operation, pattern = FACTS[fact]
    return re.search(pattern, source(operation)) is not None


def all_facts() -> dict[str, bool]:
    return {name: has(name) for name in FACTS}


def describe() -> t.Iterator[str]:
    for name, (operation, pattern) in FACTS.items():
        yield f"{name}: {operation} /{pattern}/"
