# iis.ccs library: store_write
# Shared by write_cert_store: each step of committing one file to a store folder as its own
# function (write a temporary file, put it in place, stamp and verify it, sweep stale
# temporary files), so each can be read against the documentation of the call it makes.
#   File.Replace: https://learn.microsoft.com/en-us/dotnet/api/system.io.file.replace
#   ReplaceFile: https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-replacefilew
#   File.Move: https://learn.microsoft.com/en-us/dotnet/api/system.io.file.move
# Uses: store_folder

$EpochTicks = 621355968000000000

function Get-Sha256Hex([byte[]]$Bytes) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        return [System.BitConverter]::ToString($sha.ComputeHash($Bytes)).Replace('-', '').ToLowerInvariant()
    }
    finally {
        $sha.Dispose()
    }
}

function Write-TempFile([string]$Path, [byte[]]$Bytes) {
    # CreateNew: a unique name that must not exist yet; flushed to disk before it is renamed.
    $stream = [System.IO.FileStream]::new($Path, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write)
    try {
        $stream.Write($Bytes, 0, $Bytes.Length)
        $stream.Flush($true)
    }
    finally {
        $stream.Dispose()
    }
}

function Update-StoreFile([string]$Temp, [string]$Target) {
    # The four-argument overload with ignoreMetadataErrors = $true calls ReplaceFile with
    # REPLACEFILE_IGNORE_MERGE_ERRORS. Without it, ReplaceFile needs WRITE_DAC on the replaced
    # file to carry its ACL over, which a publisher with Change permission on the share does not
    # have, so every renewal after the first publish would fail with "Access denied"
    # (ReplaceFile documentation above; Microsoft KB 274487). The new file keeps the ACL it
    # inherited from the folder, which is what a store folder wants anyway.
    [System.IO.File]::Replace($Temp, $Target, [NullString]::Value, $true)
}

function Move-StoreFile([string]$Temp, [string]$Target) {
    if ([System.IO.File]::Exists($Target)) {
        Update-StoreFile $Temp $Target
        return
    }
    try {
        [System.IO.File]::Move($Temp, $Target)
    }
    catch [System.IO.IOException] {
        # Another publisher created the file in between: replace it instead.
        Update-StoreFile $Temp $Target
    }
}

function Write-StoreFile([string]$Root, [string]$Name, [byte[]]$Bytes, [string]$TempPrefix, [string]$TempSuffix) {
    # Readers only ever see a whole file: written under a unique temporary name in the same
    # folder, then renamed over the old one. On any failure the temporary file is deleted and
    # the old file stays.
    $target = Get-StorePath $Root $Name
    $temp = Get-StorePath $Root ($TempPrefix + [System.Guid]::NewGuid().ToString('N') + $TempSuffix)
    $placed = $false
    try {
        Write-TempFile $temp $Bytes
        Move-StoreFile $temp $target
        $placed = $true
    }
    finally {
        if (-not $placed -and [System.IO.File]::Exists($temp)) {
            [System.IO.File]::Delete($temp)
        }
    }
    return $target
}

function Set-StoreFileTime([string]$Target, [long]$Mtime) {
    # The last-write time the controller recorded in the manifest (100 ns ticks since 1970).
    # A file system may keep it more coarsely (FAT: 2 s); the controller compares within that.
    $stamp = [System.DateTime]::new($Mtime + $EpochTicks, [System.DateTimeKind]::Utc)
    [System.IO.File]::SetLastWriteTimeUtc($Target, $stamp)
}

function Confirm-StoreFile([string]$Target, [string]$Name, [string]$Sha256) {
    # Read back and compare by SHA-256; answer size and last-write time as stored.
    $back = Get-Sha256Hex ([System.IO.File]::ReadAllBytes($Target))
    if ($back -ne $Sha256) {
        throw "Read-back check of '$Name' failed: the file differs from what was written."
    }
    $info = [System.IO.FileInfo]::new($Target)
    return @{ size = $info.Length; mtime = $info.LastWriteTimeUtc.Ticks - $EpochTicks }
}

function Remove-StaleTemps([string]$Root, $Names, [string]$TempPrefix, [string]$TempSuffix) {
    # Only names with our own temporary prefix and suffix; another publisher may be
    # deleting the same ones, so a failure here is not an error.
    foreach ($name in @($Names)) {
        if ($null -eq $name) { continue }
        $stale = [string]$name
        if (-not ($stale.StartsWith($TempPrefix) -and $stale.EndsWith($TempSuffix))) { continue }
        try {
            [System.IO.File]::Delete((Get-StorePath $Root $stale))
        }
        catch {
            $null = $_
        }
    }
}
