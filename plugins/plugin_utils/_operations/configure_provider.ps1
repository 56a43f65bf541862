# iis.ccs operation: configure_provider
# Applies a change to the IIS central certificate provider planned by the controller, in
# the planned order: check that the account can read the store from this node, install
# features, enable / set / disable / clear the provider, set the polling interval, and
# write or delete the iis.ccs secret record. The record holds salted one-way fingerprints
# computed on the controller plus, computed here after applying, the SHA-256 digests of
# the machine-encrypted values IIS wrote (the same digests read_host_state returns).
# The *Credential cmdlets prompt and are never used. Secrets arrive as JSON data and are
# only ever passed as parameter values.
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

function Read-RegistryKey([string]$Path) {
    $key = Get-Item -LiteralPath $Path -ErrorAction SilentlyContinue
    if ($null -eq $key) { return $null }
    $values = @{}
    foreach ($name in $key.GetValueNames()) { $values[$name] = $key.GetValue($name) }
    return $values
}

function Get-TextDigest($Text) {
    if ([string]::IsNullOrEmpty($Text)) { return $null }
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $bytes = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes([string]$Text))
    return [System.BitConverter]::ToString($bytes).Replace('-', '').ToLowerInvariant()
}

function Get-InnermostMessage($ErrorRecord) {
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception.InnerException) { $exception = $exception.InnerException }
    return $exception.Message
}

function ConvertTo-Secure([string]$Text) {
    return ConvertTo-SecureString -String $Text -AsPlainText -Force
}

function Test-StoreAccess($Step) {
    $path = [string]$Step.store_location
    $user = [string]$Step.user_name
    $password = [string]$Step.password
    # 1. The credential, validated against the account's own authority (the domain, or
    #    this machine for .\name), so a wrong password is reported as such.
    Add-Type -AssemblyName System.DirectoryServices.AccountManagement
    $contextType = [System.DirectoryServices.AccountManagement.ContextType]::Domain
    $authority = $null
    $account = $user
    if ($user.Contains('\')) {
        $authority, $account = $user.Split([char[]]@('\'), 2)
        if ($authority -eq '.' -or $authority -eq [System.Environment]::MachineName) {
            $contextType = [System.DirectoryServices.AccountManagement.ContextType]::Machine
            $authority = [System.Environment]::MachineName
        }
    } else {
        $authority = $user.Split([char]'@')[-1]
    }
    try {
        $context = [System.DirectoryServices.AccountManagement.PrincipalContext]::new($contextType, $authority)
        $valid = $context.ValidateCredentials($account, $password)
    } catch {
        throw "user_name: could not check the account '$user' at this node (to read '$path'): $(Get-InnermostMessage $_)"
    }
    if (-not $valid) {
        throw "password: the account '$user' could not log on at this node to read '$path': The user name or password is incorrect."
    }
    # 2. The store, read as that account. For a share, a drive mapped with the account's
    #    credential makes the file server check password, share and NTFS permissions; the
    #    listing that follows uses that connection. A local path is checked for existence
    #    (reading it as the account would need impersonation, which is left to IIS).
    try {
        if ($path.StartsWith('\\')) {
            $parts = $path.Substring(2).Split([char]'\')
            $root = '\\' + $parts[0] + '\' + $parts[1]
            $credential = [System.Management.Automation.PSCredential]::new($user, (ConvertTo-SecureString -String $password -AsPlainText -Force))
            $drive = 'IisCcsProbe' + [System.Guid]::NewGuid().ToString('N')
            $null = New-PSDrive -Name $drive -PSProvider FileSystem -Root $root -Credential $credential -Scope Local
            try {
                $null = [System.IO.Directory]::GetFiles($path, '*.pfx')
            } finally {
                Remove-PSDrive -Name $drive -Force
            }
        } elseif (-not (Test-Path -LiteralPath $path -PathType Container)) {
            throw "Could not find a part of the path '$path'."
        }
    } catch {
        throw "store_location: the account '$user' could not read '$path' from this node: $(Get-InnermostMessage $_)"
    }
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

$provider = Read-RegistryKey $providerKey
$public = $null
if ($null -ne $provider) {
    $public = @{}
    foreach ($name in @('Enabled', 'CertStoreLocation', 'UserName', 'PollingInterval')) {
        if ($provider.ContainsKey($name)) { $public[$name] = $provider[$name] }
    }
    $public['PasswordDigest'] = Get-TextDigest $provider['Password']
    $public['PrivateKeyPasswordDigest'] = Get-TextDigest $provider['PrivateKeyPassword']
}

return @{
    steps = $performed
    reboot_required = $restartNeeded
    provider = $public
    features = @{
        inetstp = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp'
        components = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp\Components'
    }
}
