# iis.ccs library: registry
# Shared functions for operations that read the registry: every value of a key as a
# hashtable, SHA-256 digests of stored ciphertext (never the value itself), and the
# names of a key's subkeys (HTTP.sys keeps one subkey per SSL endpoint), and the
# provider configuration as the controller reads it, secrets reduced to digests.

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

function Get-SubkeyNames([string]$Path) {
    return @(Get-ChildItem -LiteralPath $Path -ErrorAction SilentlyContinue | ForEach-Object { $_.PSChildName })
}

function Get-ProviderView {
    # The machine-encrypted secrets never leave the host: only digests of their ciphertext,
    # which change whenever anyone re-sets them.
    $provider = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\IIS\CentralCertProvider'
    if ($null -eq $provider) { return $null }
    $view = @{}
    foreach ($name in @('Enabled', 'CertStoreLocation', 'UserName', 'PollingInterval')) {
        if ($provider.ContainsKey($name)) { $view[$name] = $provider[$name] }
    }
    $view['PasswordDigest'] = Get-TextDigest $provider['Password']
    $view['PrivateKeyPasswordDigest'] = Get-TextDigest $provider['PrivateKeyPassword']
    return $view
}
