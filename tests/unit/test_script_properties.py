"""The host scripts keep their safety properties: checked on the syntax tree, and proven to bite.

Each operation declares its properties in OPERATIONS (secrets and injection hold for all). The
mutation cases apply one edit each to a temporary copy of an operation's source and assert the
check reports it: deleting a check here would leave a mutation standing, and the test fails.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from powershell.script_properties import Guard, Properties, check, loader_violations, parse

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

OPERATIONS: dict[str, Properties] = {
    "apply_bindings": Properties(guards=(
        Guard(r"^Assert-CcsAllowed\b", (r"^Add-HttpsBinding\b", r"^Convert-Binding\b"),
              "IIS does not serve a CCS binding while the provider is disabled: docs/ccs-behaviour.md#bindings"),
    )),
    "configure_provider": Properties(guards=(
        Guard(r"^Test-Path -LiteralPath \$recordKey", (r"^Remove-Item -LiteralPath \$recordKey",),
              "Remove-Item fails on a key that is already gone, so a re-run converges only behind the test"),
    )),
    "probe_store_access": Properties(drives=True),
    "read_cert_store": Properties(drives=True),
    "read_host_state": Properties(),
    # Read-only, no drive, no secret: the universal properties (no secret returned, no code from a parameter) hold.
    "read_store_acl": Properties(),
    # Opens a TCP connection and a TLS stream per target: both closed whatever happens (a leak per target otherwise).
    "verify_tls": Properties(connections=("client", "stream")),
    "write_cert_store": Properties(
        guards=(
            Guard(r"^if \(-not \(Test-StoreFolder \$root\b[^\n]*\{\s*throw",
                  (r"^Remove-StaleTemps\b", r"^Write-StoreFile \$root\b", r"^\[System\.IO\.File\]::Delete\(\(Get-StorePath \$root \("),
                  "a missing store folder must fail before any file is written or removed"),
        ),
        temp_files=("temp",),
        drives=True,
    ),
}


def operation_source(operation: str) -> str:
    """What the bootstrap runs: the declared libraries, then the script."""
    return host_ops.load_operation_library(operation) + "\n" + host_ops.load_operation_script(operation)


def test_every_operation_declares_its_properties() -> None:
    assert sorted(OPERATIONS) == host_ops.operation_names()


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_operation_keeps_its_safety_properties(operation: str) -> None:
    violations = check(operation_source(operation), OPERATIONS[operation])
    assert not violations, "\n".join(map(str, violations))


# (operation, file edited (operation or library), old text, new text, property that must catch it)
MUTATIONS = [
    pytest.param("apply_bindings", "apply_bindings", r"\n\s*Assert-CcsAllowed \(\[int\]\$step\.ssl_flags\)", "", "guards",
                 id="delete-both-Assert-CcsAllowed"),
    pytest.param("apply_bindings", "apply_bindings",
                 r"Assert-CcsAllowed \(\[int\]\$step\.ssl_flags\)\n(\s*)(Add-HttpsBinding [^\n]*)",
                 r"\2\n\1Assert-CcsAllowed ([int]$step.ssl_flags)", "guards", id="guard-moved-after-the-add"),
    pytest.param("write_cert_store", "write_cert_store", r"(if \(-not \(Test-StoreFolder [^\n]*\n[^\n]*\n\s*\}\n)(\s*)(Remove-StaleTemps [^\n]*)",
                 r"\2\3\n\1", "guards", id="stale-temps-removed-before-the-folder-check"),
    pytest.param("write_cert_store", "store_write", r"\[System\.IO\.File\]::Delete\(\$temp\)", "$null = $temp", "clean-up",
                 id="delete-temp-file-delete"),
    pytest.param("write_cert_store", "store_write", r"    finally \{\n        if \(-not \$placed",
                 "    catch [System.IO.IOException] {\n        if (-not $placed", "clean-up", id="temp-delete-only-on-one-exception-type"),
    pytest.param("write_cert_store", "write_cert_store", r"\$written = @\{\}",
                 "[System.IO.File]::WriteAllBytes((Get-StorePath $root 'x.pfx'), [byte[]]@())\n    $written = @{}", "clean-up",
                 id="write-in-place"),
    pytest.param("read_host_state", "registry", r"(\$view\['PrivateKeyPasswordDigest'\] = [^\n]*)",
                 r"\1\n    $view['Password'] = $provider['Password']\n    $view['PrivateKeyPassword'] = $provider['PrivateKeyPassword']",
                 "secrets", id="ciphertext-in-Get-ProviderView"),
    pytest.param("read_host_state", "registry", r"@\('Enabled', ", "@('Enabled', 'Password', ", "secrets",
                 id="secret-in-the-copied-names"),
    pytest.param("read_host_state", "registry", r"return \$view", "$view['Raw'] = $provider\n    return $view", "secrets",
                 id="whole-provider-key-returned"),
    pytest.param("configure_provider", "registry", r"if \(\[string\]::IsNullOrEmpty\(\$Text\)\) \{ return \$null \}",
                 "if ([string]::IsNullOrEmpty($Text)) { return $null }\n    return [string]$Text", "secrets",
                 id="digest-function-returns-its-input"),
    pytest.param("configure_provider", "configure_provider", r"PasswordCiphertextDigest = \[string\]\(Get-TextDigest \$provider\['Password'\]\)",
                 "PasswordCiphertextDigest = [string]$provider['Password']", "secrets", id="ciphertext-into-the-record"),
    pytest.param("configure_provider", "provider_cmdlets", r"\$repaired \+= \$name", "$repaired += $before[$name]", "secrets",
                 id="restored-values-reported"),
    pytest.param("read_cert_store", "read_cert_store", r"Dismount-StoreShare \$drive", "$null = $drive", "clean-up",
                 id="drive-never-removed"),
    pytest.param("read_cert_store", "share_drive", r"try \{\n\s*(Remove-PSDrive [^\n]*)\n\s*\} catch \{\n\s*\$null = \$_\n\s*\}", r"\1",
                 "clean-up", id="drive-removal-error-masks-outcome"),
    pytest.param("read_cert_store", "share_drive", r"\} catch \{\n\s*Remove-ShareConnection \$root\n\s*throw [^\n]*\n\s*\}",
                 "} catch {\n        $null = $_\n    }", "clean-up", id="failed-mapping-swallowed"),
    pytest.param("read_cert_store", "read_cert_store", r"\$drive = \$null\ntry \{",
                 "$drive = $null\nif ($Params.user_name) { $drive = Mount-StoreShare $root ([string]$Params.user_name) ([string]$Params.password) }\n"
                 "$null = [System.IO.Directory]::GetFiles($root)\ntry {", "clean-up", id="failing-call-between-mapping-and-try"),
    pytest.param("apply_bindings", "httpsys", r"netsh\.exe @Arguments", "netsh.exe ($Arguments -join ' ')", "injection",
                 id="netsh-command-line-from-a-string"),
    pytest.param("apply_bindings", "httpsys", r"\$output = netsh\.exe @Arguments",
                 "$output = Invoke-Expression ('netsh.exe ' + ($Arguments -join ' '))", "injection", id="invoke-expression"),
    pytest.param("read_host_state", "read_host_state", r"\$wanted = @\(\$Params\.sections\)",
                 "$wanted = @(& ([ScriptBlock]::Create([string]$Params.sections)))", "injection", id="scriptblock-create-from-a-parameter"),
    pytest.param("read_host_state", "read_host_state", r"\$wanted = @\(\$Params\.sections\)",
                 "$wanted = @(& ([string]$Params.sections))", "injection", id="call-operator-on-a-string"),
    pytest.param("apply_bindings", "httpsys", r"\$output = netsh\.exe @Arguments",
                 "$output = cmd.exe /c ('netsh ' + ($Arguments -join ' '))", "injection", id="cmd-command-line"),
    pytest.param("read_store_acl", "read_store_acl", r"Get-SmbShare -Name \(\[string\]\$Params\.share\) -ErrorAction Stop",
                 "Invoke-Expression ('Get-SmbShare -Name ' + [string]$Params.share)", "injection", id="share-name-run-as-code"),
    pytest.param("verify_tls", "verify_tls", r"\$timeout = \[int\]\$Params\.timeout_ms",
                 "$timeout = [int](Invoke-Expression ([string]$Params.timeout_ms))", "injection", id="timeout-evaluated-as-code"),
    pytest.param("verify_tls", "verify_tls", r"\n\s*\$client\.Dispose\(\)", "", "clean-up", id="tcp-connection-never-closed"),
    pytest.param("verify_tls", "verify_tls", r"if \(\$null -ne \$stream\) \{ \$stream\.Dispose\(\) \}", "$null = $stream", "clean-up",
                 id="stream-dispose-deleted"),
    pytest.param("verify_tls", "verify_tls", r"(\$client = \[System\.Net\.Sockets\.TcpClient\]::new\(\))",
                 r"\1\n    $client.ReceiveTimeout = $timeout", "clean-up", id="call-between-opening-and-the-try"),
    pytest.param("configure_provider", "provider_cmdlets", r"& \$Action", "& ([scriptblock]::Create([string]$Step.store_location))", "injection",
                 id="mapped-action-built-from-a-parameter"),
]


@pytest.mark.parametrize(("operation", "edited", "pattern", "replacement", "rule"), MUTATIONS)
def test_mutation_is_caught(tmp_path: Path, operation: str, edited: str, pattern: str, replacement: str, rule: str) -> None:
    library = edited != operation
    original = (Path(host_ops.LIBRARY_DIR if library else host_ops.OPERATIONS_DIR) / f"{edited}.ps1").read_text(encoding="ascii")
    mutated, count = re.subn(pattern, replacement, original)
    assert count >= 1, f"the mutation no longer applies to {edited}.ps1: update its pattern"
    copy = tmp_path / f"{edited}.ps1"
    copy.write_text(mutated, encoding="ascii")
    assert not parse(mutated)[0].has_error, "a mutation must stay valid PowerShell, or it proves nothing"
    source = operation_source(operation)
    assert original in source
    violations = check(source.replace(original, copy.read_text(encoding="ascii")), OPERATIONS[operation])
    assert rule in {v.rule for v in violations}, f"{rule} check missed the mutation; found {[str(v) for v in violations]}"


# The loaders are the one place code is built from text (script_properties.loader_violations says
# what they may do); the kept script around each operation reads the parameters as data only.
def test_the_loaders_run_only_checked_collection_code() -> None:
    assert loader_violations(host_ops.CACHED_LOADER, runs_kept_file=True) == []
    assert loader_violations(host_ops.SENDING_LOADER, runs_kept_file=False) == []


LOADER_MUTATIONS = [
    pytest.param("CACHED_LOADER", r"-and\(\[BitConverter\].*?-eq\$h\)", ")", "SHA-256", id="digest-not-compared"),
    pytest.param("CACHED_LOADER", r"if\(\$h-match'[^']*'\)", "if($true)", "64 hex digits", id="digest-not-checked-before-the-path"),
    pytest.param("CACHED_LOADER", r"^", "iex([Text.Encoding]::ASCII.GetString($b));", "full-language", id="run-before-the-mode-check"),
    pytest.param("SENDING_LOADER", r"\$i\[3\]", "$i[2]", "parameters line", id="parameters-inflated-as-code"),
    pytest.param("SENDING_LOADER", r"iex\(\[Text\.Encoding\]::ASCII\.GetString\(\$b\)\)", "iex $i[1]", "other than the script bytes",
                 id="runs-another-line"),
    pytest.param("SENDING_LOADER", r"if\(\$i\[1\]-match'[^']*'\)", "if($i[1])", "64 hex digits", id="write-path-unchecked"),
]


@pytest.mark.parametrize(("loader", "pattern", "replacement", "message"), LOADER_MUTATIONS)
def test_loader_mutation_is_caught(loader: str, pattern: str, replacement: str, message: str) -> None:
    original = getattr(host_ops, loader)
    mutated, count = re.subn(pattern, replacement, original, count=1)
    assert count == 1, f"the mutation no longer applies to {loader}: update its pattern"
    assert not parse(mutated)[0].has_error, "a mutation must stay valid PowerShell, or it proves nothing"
    violations = loader_violations(mutated, runs_kept_file=loader == "CACHED_LOADER")
    assert any(message in violation for violation in violations), violations


@pytest.mark.parametrize("operation", host_ops.operation_names())
def test_kept_script_is_the_shipped_files_and_parameters_stay_data(operation: str) -> None:
    canary = "'; Remove-Item C:\\ -Recurse; '"
    kept = host_ops.cached_script(operation)
    assert host_ops.compact_script((Path(host_ops.OPERATIONS_DIR) / f"{operation}.ps1").read_text(encoding="ascii")) in kept
    wrapper = kept.replace(host_ops.wire_script(operation), "").replace(host_ops.wire_library(operation), "")
    # The answer logic reads the parameters line once, as JSON, and hands the object to the operation as its argument.
    assert wrapper.count("$i[2]") == 1 and "FromBase64String($i[2])" in wrapper and "|ConvertFrom-Json" in wrapper
    assert re.findall(r"\$p\b", wrapper) == ["$p", "$p"] and "} $p)[-1]" in wrapper
    assert not re.search(r"\biex\b|Invoke-Expression|ScriptBlock\]::Create", wrapper, re.IGNORECASE)
    call = host_ops.decode_call(host_ops.encode_call(operation, {"value": canary}, send_script=True))
    assert json.loads(call.params_json) == {"value": canary}
    assert canary not in call.loader + call.digest and call.script is not None and canary.encode() not in call.script
    assert "Remove-Item C:" not in base64.b64decode(host_ops.bootstrap_command().split()[-1]).decode("utf-16-le")


def test_checker_accepts_the_safe_forms() -> None:
    safe = """
function Get-TextDigest($Text) {
    if ([string]::IsNullOrEmpty($Text)) { return $null }
    $sha = [System.Security.Cryptography.SHA256]::Create()
    return [System.BitConverter]::ToString($sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes([string]$Text)))
}
$key = 'HKLM:\\SOFTWARE\\Microsoft\\IIS\\CentralCertProvider'
$p = Read-RegistryKey $key
if ($null -eq $p) { return $null }
$out = @{ Enabled = $p['Enabled']; Digest = Get-TextDigest $p['Password'] }
& { param($x) $x } 1
netsh.exe @Arguments 2>&1
"""
    assert check(safe, Properties()) == []
