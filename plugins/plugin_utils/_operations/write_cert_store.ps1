# iis.ccs operation: write_cert_store
# Commits one change set to a certificate store folder (a path on this host, or a UNC
# path opened with explicit share credentials). Each file is written to a unique
# temporary name in the same folder and renamed over the old file, so readers only
# ever see a whole file; on any failure the temporary file is deleted and the old
# file stays. Each written file gets the last-write time the controller recorded in
# the manifest and is read back and compared by SHA-256. Then listed files are
# removed, our stale temporary files deleted, and the manifest replaced the same way.
# Uses: store_folder
# Params: path, user_name and password (optional: share credentials for a UNC path),
#         files (array of {name, data (base64), sha256, mtime}), removes (array of
#         names), stale_temps (array of names), manifest_name, manifest_data (base64),
#         temp_prefix, temp_suffix.
param($Params)

$root = [string]$Params.path
$epochTicks = 621355968000000000
$drive = $null
$credential = Get-StoreCredential $Params
if ($null -ne $credential) {
    # A non-persistent drive with explicit credentials opens an SMB session for this
    # logon session; later .NET calls on the UNC path reuse it.
    $drive = New-PSDrive -Name ('iisccs' + [Guid]::NewGuid().ToString('N')) -PSProvider FileSystem -Root $root -Credential $credential
}

function Get-Sha256Hex([byte[]]$Bytes) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        return [System.BitConverter]::ToString($sha.ComputeHash($Bytes)).Replace('-', '').ToLowerInvariant()
    }
    finally {
        $sha.Dispose()
    }
}

function Write-StoreFile([string]$Name, [byte[]]$Bytes) {
    $target = Get-StorePath $root $Name
    $temp = Get-StorePath $root ([string]$Params.temp_prefix + [Guid]::NewGuid().ToString('N') + [string]$Params.temp_suffix)
    try {
        $stream = [System.IO.FileStream]::new($temp, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write)
        try {
            $stream.Write($Bytes, 0, $Bytes.Length)
            $stream.Flush($true)
        }
        finally {
            $stream.Dispose()
        }
        if ([System.IO.File]::Exists($target)) {
            [System.IO.File]::Replace($temp, $target, [NullString]::Value)
        }
        else {
            try {
                [System.IO.File]::Move($temp, $target)
            }
            catch [System.IO.IOException] {
                # Another publisher created the file in between: replace it instead.
                [System.IO.File]::Replace($temp, $target, [NullString]::Value)
            }
        }
    }
    catch {
        if ([System.IO.File]::Exists($temp)) {
            [System.IO.File]::Delete($temp)
        }
        throw
    }
    return $target
}

try {
    if (-not [System.IO.Directory]::Exists($root)) {
        throw "The store folder '$root' does not exist."
    }
    foreach ($name in @($Params.stale_temps)) {
        if ($null -eq $name) { continue }
        $stale = [string]$name
        if ($stale.StartsWith([string]$Params.temp_prefix) -and $stale.EndsWith([string]$Params.temp_suffix)) {
            try {
                [System.IO.File]::Delete((Get-StorePath $root $stale))
            }
            catch {
                $null = $_  # another publisher may be cleaning up too
            }
        }
    }
    $written = @{}
    foreach ($file in @($Params.files)) {
        if ($null -eq $file) { continue }
        $bytes = [Convert]::FromBase64String([string]$file.data)
        $target = Write-StoreFile ([string]$file.name) $bytes
        $mtime = [System.DateTime]::new([long]$file.mtime + $epochTicks, [System.DateTimeKind]::Utc)
        [System.IO.File]::SetLastWriteTimeUtc($target, $mtime)
        $back = Get-Sha256Hex ([System.IO.File]::ReadAllBytes($target))
        if ($back -ne [string]$file.sha256) {
            throw "Read-back check of '$($file.name)' failed: the file differs from what was written."
        }
        $info = [System.IO.FileInfo]::new($target)
        $written[[string]$file.name] = @{ size = $info.Length; mtime = $info.LastWriteTimeUtc.Ticks - $epochTicks }
    }
    $removed = [System.Collections.ArrayList]::new()
    foreach ($name in @($Params.removes)) {
        if ($null -eq $name) { continue }
        [System.IO.File]::Delete((Get-StorePath $root ([string]$name)))
        $null = $removed.Add([string]$name)
    }
    $null = Write-StoreFile ([string]$Params.manifest_name) ([Convert]::FromBase64String([string]$Params.manifest_data))
    @{ written = $written; removed = $removed.ToArray() }
}
finally {
    if ($null -ne $drive) {
        Remove-PSDrive -Name $drive.Name -Force -ErrorAction SilentlyContinue
    }
}
