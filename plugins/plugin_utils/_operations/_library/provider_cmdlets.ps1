# iis.ccs library: provider_cmdlets
# Shared by configure_provider: one function per change to the central certificate provider,
# each through the WebAdministration *-WebCentralCertProvider cmdlets, which are inbox from
# Windows Server 2016 to 2025 and take plain string values (the IISAdministration cmdlets
# differ between builds: Server 2016's inbox module 1.1.0.0 has known gaps, and some builds of
# Clear-IISCentralCertProvider lack -Force).
#   Enable-WebCentralCertProvider: https://learn.microsoft.com/en-us/powershell/module/webadministration/enable-webcentralcertprovider
#   Set-WebCentralCertProvider: https://learn.microsoft.com/en-us/powershell/module/webadministration/set-webcentralcertprovider
#   Disable-WebCentralCertProvider: https://learn.microsoft.com/en-us/powershell/module/webadministration/disable-webcentralcertprovider
#   Clear-WebCentralCertProvider: https://learn.microsoft.com/en-us/powershell/module/webadministration/clear-webcentralcertprovider
#   Clear-IISCentralCertProvider: https://learn.microsoft.com/en-us/powershell/module/iisadministration/clear-iiscentralcertprovider
#   Get-Command: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/get-command?view=powershell-5.1
# Uses: registry, share_drive

$ProviderKey = 'HKLM:\SOFTWARE\Microsoft\IIS\CentralCertProvider'

function Assert-ProviderCmdlet([string]$Name) {
    # Probe before calling, so a missing cmdlet is one clear sentence, not a parser error.
    $command = Get-Command -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $command) {
        throw "The cmdlet $Name is not available on this host: install the Centralized SSL Certificate Support role service (Web-CertProvider), which brings it with the WebAdministration module."
    }
    return $command
}

function Invoke-WithStoreMapped($Step, [scriptblock]$Action) {
    # Enable and Set may check the store path as the WinRM user rather than the provider
    # account; with the provider account's drive mapped around the call, that check reaches a
    # UNC store either way (harmless where it is not needed).
    # A Set that changes only the path carries the account as map_user_name / map_password.
    $user = [string]$Step.user_name
    $password = [string]$Step.password
    if (-not $user) {
        $user = [string]$Step.map_user_name
        $password = [string]$Step.map_password
    }
    $drive = $null
    try {
        if ($Step.store_location -and $user) {
            $drive = Mount-StoreShare ([string]$Step.store_location) $user $password
        }
        & $Action
    } finally {
        Dismount-StoreShare $drive
    }
}

function Enable-Provider($Step) {
    $null = Assert-ProviderCmdlet 'Enable-WebCentralCertProvider'
    $arguments = @{
        CertStoreLocation = [string]$Step.store_location
        UserName = [string]$Step.user_name
        Password = [string]$Step.password
    }
    # Optional here (unlike Enable-IISCentralCertProvider): PFX files without a password.
    if ($Step.private_key_password) { $arguments['PrivateKeyPassword'] = [string]$Step.private_key_password }
    Invoke-WithStoreMapped $Step { Enable-WebCentralCertProvider @arguments }
}

function Set-Provider($Step) {
    $null = Assert-ProviderCmdlet 'Set-WebCentralCertProvider'
    $arguments = @{}
    if ($null -ne $Step.store_location) { $arguments['CertStoreLocation'] = [string]$Step.store_location }
    if ($null -ne $Step.user_name) {
        $arguments['UserName'] = [string]$Step.user_name
        $arguments['Password'] = [string]$Step.password
    }
    if ($Step.private_key_password) { $arguments['PrivateKeyPassword'] = [string]$Step.private_key_password }
    Invoke-WithStoreMapped $Step { Set-WebCentralCertProvider @arguments }
}

function Disable-Provider {
    $null = Assert-ProviderCmdlet 'Disable-WebCentralCertProvider'
    Disable-WebCentralCertProvider
}

function Clear-Provider {
    # Clear-IISCentralCertProvider asks for confirmation while the provider is enabled unless
    # given -Force, which some builds lack; disabled first, no build needs -Force.
    $command = Assert-ProviderCmdlet 'Clear-IISCentralCertProvider'
    Disable-Provider
    if ($command.Parameters.ContainsKey('Force')) {
        Clear-IISCentralCertProvider -Force
    } else {
        Clear-IISCentralCertProvider -Confirm:$false
    }
}

function Restore-ProviderValue([string]$Name, $Value) {
    $kind = 'String'
    if ($Name -eq 'Enabled' -or $Name -eq 'PollingInterval') { $kind = 'DWord' }
    $null = New-ItemProperty -LiteralPath $ProviderKey -Name $Name -PropertyType $kind -Value $Value -Force
}

function Clear-ProviderPrivateKeyPassword {
    # The cmdlet's page says it "removes all settings", while the IIS team's own tests treat
    # -PrivateKeyPassword as clearing only that value. Whichever a build does, every other value
    # is put back as it was (the stored ciphertext is machine-encrypted and stays valid), and the
    # names put back are reported.
    $null = Assert-ProviderCmdlet 'Clear-WebCentralCertProvider'
    $before = Read-RegistryKey $ProviderKey
    Clear-WebCentralCertProvider -PrivateKeyPassword
    $after = Read-RegistryKey $ProviderKey
    if ($null -eq $after) { $after = @{} }
    $repaired = @()
    if ($null -eq $before) { return $repaired }
    foreach ($name in @($before.Keys)) {
        if ($name -eq 'PrivateKeyPassword') { continue }
        if (-not $after.ContainsKey($name) -or [string]$after[$name] -ne [string]$before[$name]) {
            if ($null -eq (Get-Item -LiteralPath $ProviderKey -ErrorAction SilentlyContinue)) {
                $null = New-Item -Path $ProviderKey -Force
            }
            Restore-ProviderValue $name $before[$name]
            $repaired += $name
        }
    }
    return $repaired
}
