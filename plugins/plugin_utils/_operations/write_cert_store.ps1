# iis.ccs operation: write_cert_store
# Commits one change set to a certificate store folder (a path on this host, or a UNC
# path opened with explicit share credentials): sweeps our stale temporary files, writes
# each file atomically with the last-write time the controller recorded and checks it by
# SHA-256 (PFX files first, then manifest records and the record pack), removes the listed
# files (replaced PFX files and records), and writes the manifest header the same way when
# it is given (only when absent or still the format 1 manifest).
# Uses: share_drive, store_folder, store_write
# Params: path, user_name and password (optional: share credentials for a UNC path),
#         files (array of {name, data (base64), sha256, mtime}), removes (array of
#         names), stale_temps (array of names), manifest_name and manifest_data (base64;
#         optional), temp_prefix, temp_suffix.
param($Params)

$root = [string]$Params.path
$prefix = [string]$Params.temp_prefix
$suffix = [string]$Params.temp_suffix
$drive = $null
try {
    if ($Params.user_name) {
        $drive = Mount-StoreShare $root ([string]$Params.user_name) ([string]$Params.password)
    }
    if (-not (Test-StoreFolder $root ($null -ne $drive))) {
        throw "The store folder '$root' does not exist."
    }
    Remove-StaleTemps $root $Params.stale_temps $prefix $suffix
    $written = @{}
    foreach ($file in @($Params.files)) {
        if ($null -eq $file) { continue }
        $name = [string]$file.name
        $target = Write-StoreFile $root $name ([Convert]::FromBase64String([string]$file.data)) $prefix $suffix
        Set-StoreFileTime $target ([long]$file.mtime)
        $written[$name] = Confirm-StoreFile $target $name ([string]$file.sha256)
    }
    $removed = [System.Collections.ArrayList]::new()
    foreach ($name in @($Params.removes)) {
        if ($null -eq $name) { continue }
        [System.IO.File]::Delete((Get-StorePath $root ([string]$name)))
        $null = $removed.Add([string]$name)
    }
    if ($Params.manifest_data) {
        $null = Write-StoreFile $root ([string]$Params.manifest_name) ([Convert]::FromBase64String([string]$Params.manifest_data)) $prefix $suffix
    }
    @{ written = $written; removed = $removed.ToArray() }
}
finally {
    Dismount-StoreShare $drive
}
