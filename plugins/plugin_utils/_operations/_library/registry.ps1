# iis.ccs library: registry
# Shared functions for operations that read the registry: every value of a key as a
# hashtable, SHA-256 digests of stored ciphertext (never the value itself), and the
# names of a key's subkeys (HTTP.sys keeps one subkey per SSL endpoint).

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
