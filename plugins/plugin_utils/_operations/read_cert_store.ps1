# iis.ccs operation: read_cert_store
# Lists one certificate store folder (a path on this host, or a UNC path opened with
# explicit share credentials so no credential delegation is needed) and returns the
# name, size and last-write time of every *.pfx file, of our own temporary files and of
# the manifest records; the manifest header and the record pack (base64) when named; the
# content (base64) of the records found when read_records is set, and of the files named
# in fetch. With patterns, only files matching one of those names or DOS wildcard patterns
# are listed (DirectoryInfo.EnumerateFiles(String):
# https://learn.microsoft.com/en-us/dotnet/api/system.io.directoryinfo.enumeratefiles?view=netframework-4.8),
# so a run that publishes a few names never moves a listing of the whole store.
# Nothing is written. Times are 100 ns ticks since 1970-01-01 UTC.
# Uses: share_drive, store_folder
# Params: path, user_name and password (optional: share credentials for a UNC path),
#         patterns (array of names or wildcard patterns; null lists everything),
#         lookups (array of {name, pattern}: the name when that file exists, else the pattern),
#         manifest_name and pack_name (empty: not read), record_prefix, read_records,
#         fetch (array of plain file names), temp_prefix, temp_suffix.
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
        pack = $null
        records = @{}
        contents = @{}
        now = [DateTime]::UtcNow.Ticks - $epochTicks
    }
    if ($answer.exists) {
        $folder = [System.IO.DirectoryInfo]::new($root)
        $recordPrefix = [string]$Params.record_prefix
        $patterns = @('*')
        if ($null -ne $Params.patterns) {
            $patterns = @($Params.patterns)
        }
        foreach ($lookup in @($Params.lookups)) {
            # A name if that file exists, else a search: the store is only searched when the name is absent.
            if ($null -eq $lookup) { continue }
            $search = [string]$lookup.pattern
            if ([System.IO.File]::Exists((Get-StorePath $root ([string]$lookup.name)))) {
                $search = [string]$lookup.name
            }
            $patterns += $search
        }
        $listed = [System.Collections.ArrayList]::new()
        $seen = @{}
        foreach ($pattern in $patterns) {
            if ($null -eq $pattern) { continue }
            foreach ($file in $folder.EnumerateFiles([string]$pattern)) {
                $name = $file.Name
                if ($seen.ContainsKey($name)) { continue }
                $seen[$name] = $true
                $isPfx = $name.EndsWith('.pfx', [StringComparison]::OrdinalIgnoreCase)
                $isOurTemp = $name.StartsWith([string]$Params.temp_prefix) -and $name.EndsWith([string]$Params.temp_suffix)
                $isRecord = ($recordPrefix.Length -gt 0) -and $name.StartsWith($recordPrefix, [StringComparison]::Ordinal)
                if ($isPfx -or $isOurTemp -or $isRecord) {
                    $null = $listed.Add(@{ name = $name; size = $file.Length; mtime = $file.LastWriteTimeUtc.Ticks - $epochTicks })
                }
                if ($isRecord -and $Params.read_records) {
                    $answer.records[$name] = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($file.FullName))
                }
            }
        }
        $answer.files = $listed.ToArray()
        if ($Params.manifest_name) {
            $manifestPath = Get-StorePath $root ([string]$Params.manifest_name)
            if ([System.IO.File]::Exists($manifestPath)) {
                $answer.manifest = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($manifestPath))
            }
        }
        if ($Params.pack_name) {
            $packPath = Get-StorePath $root ([string]$Params.pack_name)
            if ([System.IO.File]::Exists($packPath)) {
                $answer.pack = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($packPath))
            }
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
