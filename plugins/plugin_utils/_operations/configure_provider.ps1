# iis.ccs operation: configure_provider
# Applies a change to the IIS central certificate provider planned by the controller, in
# the planned order: check that the account can read the store from this node, install
# features, enable / set / disable / clear the provider, set the polling interval, and
# write or delete the iis.ccs secret record. The record holds salted one-way fingerprints
# computed on the controller plus, computed here after applying, the SHA-256 digests of
# the machine-encrypted values IIS wrote (the same digests read_host_state returns).
# The *Credential cmdlets prompt and are never used. Secrets arrive as JSON data and are
# only ever passed as parameter values. The provider changes themselves are the functions of
# _library/provider_cmdlets.ps1, one per change.
# Uses: registry, share_drive, store_folder, store_access, provider_cmdlets
# Params: steps (array; each has 'action' plus its values):
#   check_access {store_location, user_name, password}
#   install_features {names, method: server|client}
#   enable {store_location, user_name, password, private_key_password (null: none);
#           module is accepted and ignored: WebAdministration is used on every build}
#   set {store_location?, user_name?, password?, private_key_password?, map_user_name?,
#        map_password? (the provider account, for mapping the new store only)}
#   clear_private_key_password | disable | clear | delete_record
#   set_polling_interval {polling_interval}
#   write_record {values}
param($Params)

$recordKey = 'HKLM:\SOFTWARE\iis.ccs\CentralCertProvider'

function Install-Feature($Step) {
    $names = @($Step.names)
    if ($Step.method -eq 'client') {
        $restart = $false
        foreach ($name in $names) {
            $outcome = Enable-WindowsOptionalFeature -Online -FeatureName $name -All -NoRestart
            if ($outcome.RestartNeeded) { $restart = $true }
        }
        return $restart
    }
    $outcome = Install-WindowsFeature -Name $names
    if (-not $outcome.Success) {
        throw "install_feature: Install-WindowsFeature could not install $($names -join ', ') (exit code $($outcome.ExitCode))"
    }
    # RestartNeeded is Yes, No or Maybe; only No means no restart.
    return ([string]$outcome.RestartNeeded -ne 'No')
}

function Write-SecretRecord($Step) {
    $null = New-Item -Path $recordKey -Force
    foreach ($property in $Step.values.PSObject.Properties) {
        $null = New-ItemProperty -LiteralPath $recordKey -Name $property.Name -PropertyType String -Value ([string]$property.Value) -Force
    }
    $provider = Read-RegistryKey $ProviderKey
    $digests = @{
        PasswordCiphertextDigest = [string](Get-TextDigest $provider['Password'])
        PrivateKeyPasswordCiphertextDigest = [string](Get-TextDigest $provider['PrivateKeyPassword'])
    }
    foreach ($name in $digests.Keys) {
        $null = New-ItemProperty -LiteralPath $recordKey -Name $name -PropertyType String -Value $digests[$name] -Force
    }
}

$performed = @()
$restartNeeded = $false
$repaired = @()
foreach ($step in @($Params.steps)) {
    try {
        switch ([string]$step.action) {
            'check_access' {
                $null = Test-StoreAccess $step
            }
            'install_features' {
                if (Install-Feature $step) { $restartNeeded = $true }
            }
            'enable' {
                Enable-Provider $step
            }
            'set' {
                Set-Provider $step
            }
            'clear_private_key_password' {
                $repaired += @(Clear-ProviderPrivateKeyPassword)
            }
            'disable' {
                Disable-Provider
            }
            'clear' {
                Clear-Provider
            }
            'set_polling_interval' {
                $null = New-ItemProperty -LiteralPath $ProviderKey -Name PollingInterval -PropertyType DWord -Value ([int]$step.polling_interval) -Force
            }
            'write_record' {
                Write-SecretRecord $step
            }
            'delete_record' {
                if (Test-Path -LiteralPath $recordKey) { Remove-Item -LiteralPath $recordKey -Recurse -Force }
            }
            default {
                throw "configure_provider: unknown step '$($step.action)'"
            }
        }
    } catch {
        # Windows has no transaction here: say which steps had already been applied.
        if ($performed.Count -eq 0) { throw }
        throw "$(Get-InnermostMessage $_) (steps already applied: $($performed -join ', '))"
    }
    $performed += [string]$step.action
}

return @{
    steps = $performed
    reboot_required = $restartNeeded
    repaired = $repaired
    provider = Get-ProviderView
    features = @{
        inetstp = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp'
        components = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp\Components'
    }
}
