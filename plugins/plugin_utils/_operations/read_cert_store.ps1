# iis.ccs operation: read_cert_store
# Lists one certificate store folder (a path on this host, or a UNC path opened with
# explicit share credentials so no credential delegation is needed) and returns the
# name, size and last-write time of every *.pfx file and of our own temporary files,
# the publish manifest (base64), and the content (base64) of the files named in fetch.
# Nothing is written. Times are 100 ns ticks since 1970-01-01 UTC.
# Uses: share_drive, store_folder
# Params: path, user_name and password (optional: share credentials for a UNC path),
#         manifest_name, fetch (array of plain file names), temp_prefix, temp_suffix.
param($Params)

$root = [string]$Params.path
$epochTicks = 621355968000000000
$drive = $null
try {
    if ($Params.user_name) {
        $drive = Mount-StoreShare $root ([string]$Params.user_name) ([string]$Params.password)
    }
    $answer = @{
        exists = Test-StoreFolder $root ($null -ne $drive)
        files = @()
        manifest = $null
        contents = @{}
        now = [DateTime]::UtcNow.Ticks - $epochTicks
    }
    if ($answer.exists) {
        $folder = [System.IO.DirectoryInfo]::new($root)
        $listed = [System.Collections.ArrayList]::new()
        foreach ($file in $folder.EnumerateFiles()) {
            $name = $file.Name
            $isPfx = $name.EndsWith('.pfx', [StringComparison]::OrdinalIgnoreCase)
            $isOurTemp = $name.StartsWith([string]$Params.temp_prefix) -and $name.EndsWith([string]$Params.temp_suffix)
            if ($isPfx -or $isOurTemp) {
                $null = $listed.Add(@{ name = $name; size = $file.Length; mtime = $file.LastWriteTimeUtc.Ticks - $epochTicks })
            }
        }
        $answer.files = $listed.ToArray()
        $manifestPath = Get-StorePath $root ([string]$Params.manifest_name)
        if ([System.IO.File]::Exists($manifestPath)) {
            $answer.manifest = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($manifestPath))
        }
        foreach ($name in @($Params.fetch)) {
            if ($null -eq $name) { continue }
            $full = Get-StorePath $root ([string]$name)
            if ([System.IO.File]::Exists($full)) {
                $answer.contents[[string]$name] = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($full))
            }
        }
    }
    $answer
}
finally {
    Dismount-StoreShare $drive
}
