# iis.ccs operation: configure_provider
# Applies a change to the IIS central certificate provider planned by the controller, in
# the planned order: check that the account can read the store from this node, install
# features, enable / set / disable / clear the provider, set the polling interval, and
# write or delete the iis.ccs secret record. The record holds salted one-way fingerprints
# computed on the controller plus, computed here after applying, the SHA-256 digests of
# the machine-encrypted values IIS wrote (the same digests read_host_state returns).
# The *Credential cmdlets prompt and are never used. Secrets arrive as JSON data and are
# only ever passed as parameter values.
# Uses: registry, store_access
# Params: steps (array; each has 'action' plus its values):
#   check_access {store_location, user_name, password}
#   install_features {names, method: server|client}
#   enable {module: IISAdministration|WebAdministration, store_location, user_name,
#           password, private_key_password (null with WebAdministration: none)}
#   set {store_location?, user_name?, password?, private_key_password?}
#   clear_private_key_password | disable | clear | delete_record
#   set_polling_interval {polling_interval}
#   write_record {values}
param($Params)

$providerKey = 'HKLM:\SOFTWARE\Microsoft\IIS\CentralCertProvider'
$recordKey = 'HKLM:\SOFTWARE\iis.ccs\CentralCertProvider'

function ConvertTo-Secure([string]$Text) {
    return ConvertTo-SecureString -String $Text -AsPlainText -Force
}

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

function Enable-Provider($Step) {
    if ($Step.module -ne 'WebAdministration') {
        Enable-IISCentralCertProvider -CertStoreLocation $Step.store_location -UserName $Step.user_name -Password (ConvertTo-Secure $Step.password) -PrivateKeyPassword (ConvertTo-Secure $Step.private_key_password)
    } else {
        # The IISAdministration cmdlet insists on a private-key password; the explicit
        # opt-out goes through WebAdministration's cmdlet, where it is optional.
        Enable-WebCentralCertProvider -CertStoreLocation $Step.store_location -UserName $Step.user_name -Password $Step.password
    }
}

function Set-Provider($Step) {
    $arguments = @{}
    if ($null -ne $Step.store_location) { $arguments['CertStoreLocation'] = [string]$Step.store_location }
    if ($null -ne $Step.user_name) {
        $arguments['UserName'] = [string]$Step.user_name
        $arguments['Password'] = ConvertTo-Secure $Step.password
    }
    if ($Step.private_key_password) { $arguments['PrivateKeyPassword'] = ConvertTo-Secure $Step.private_key_password }
    Set-IISCentralCertProvider @arguments
}

function Write-SecretRecord($Step) {
    $null = New-Item -Path $recordKey -Force
    foreach ($property in $Step.values.PSObject.Properties) {
        $null = New-ItemProperty -LiteralPath $recordKey -Name $property.Name -PropertyType String -Value ([string]$property.Value) -Force
    }
    $provider = Read-RegistryKey $providerKey
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
foreach ($step in @($Params.steps)) {
    try {
        switch ([string]$step.action) {
            'check_access' {
                Test-StoreAccess $step
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
                Clear-WebCentralCertProvider -PrivateKeyPassword
            }
            'disable' {
                Disable-IISCentralCertProvider
            }
            'clear' {
                Clear-IISCentralCertProvider -Force
            }
            'set_polling_interval' {
                $null = New-ItemProperty -LiteralPath $providerKey -Name PollingInterval -PropertyType DWord -Value ([int]$step.polling_interval) -Force
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
    provider = Get-ProviderView
    features = @{
        inetstp = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp'
        components = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp\Components'
    }
}
