# iis.ccs library: share_drive
# Shared by every operation that reaches a UNC store with explicit credentials: maps the
# share for the length of one operation and always takes the mapping down again, so no
# credentialed connection outlives the operation and clean-up never hides the outcome.
#   New-PSDrive: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/new-psdrive?view=powershell-5.1
#   Remove-PSDrive: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/remove-psdrive?view=powershell-5.1
#   net use: https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-server-2012-r2-and-2012/gg651155(v=ws.11)
#   Error 1219 (ERROR_SESSION_CREDENTIAL_CONFLICT): https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--1000-1299-
#   Error 2250 (NERR_UseNotFound): https://learn.microsoft.com/en-us/windows/win32/netmgmt/network-management-error-codes

function Get-ShareRoot([string]$Path) {
    # \\server\share\folder -> \\server\share: the mapping is made at the share, so a
    # missing folder is reported as a missing folder, not as a failed logon.
    $parts = $Path.Substring(2).Split([char]'\')
    return '\\' + $parts[0] + '\' + $parts[1]
}

function Get-ShareCredential([string]$UserName, [string]$Password) {
    $secure = ConvertTo-SecureString -String $Password -AsPlainText -Force
    return [System.Management.Automation.PSCredential]::new($UserName, $secure)
}

function Remove-ShareConnection([string]$Root) {
    # New-PSDrive opens the SMB connection before it checks the root, so a failed mapping
    # can leave a credentialed connection behind; the next mapping of that server with other
    # credentials would then fail with error 1219. net use /delete drops it; its own failure
    # (no such connection) is expected and ignored.
    $ErrorActionPreference = 'Continue'
    $null = net.exe use $Root /delete /y 2>&1
}

function Get-MappingMessage([string]$Root, [string]$UserName, $ErrorRecord) {
    $message = Get-InnermostMessage $ErrorRecord
    if ($message -match '1219' -or $message -match 'Multiple connections to a server') {
        return "this node's session already holds a connection to the server of '$Root' with other credentials (Windows error 1219), so it cannot also connect as '$UserName'. Use the same account for every store on that server, or close the other connection (net use $Root /delete) and run again. ($message)"
    }
    return $message
}

function Mount-StoreShare([string]$Path, [string]$UserName, [string]$Password) {
    # Returns the drive name, or $null for a local path. The file server checks the password,
    # the share permission and the NTFS permission of the share root here.
    if (-not $Path.StartsWith('\\')) { return $null }
    $root = Get-ShareRoot $Path
    $name = 'iisccs' + [System.Guid]::NewGuid().ToString('N')
    try {
        $null = New-PSDrive -Name $name -PSProvider FileSystem -Root $root -Credential (Get-ShareCredential $UserName $Password) -Scope Global
    } catch {
        Remove-ShareConnection $root
        throw (Get-MappingMessage $root $UserName $_)
    }
    return $name
}

function Dismount-StoreShare([string]$Name) {
    # Called from finally blocks. Windows PowerShell 5.1's Remove-PSDrive throws when the
    # connection is already gone (error 2250); that must never turn a completed operation
    # into a reported failure, nor replace the operation's own error.
    if (-not $Name) { return }
    try {
        Remove-PSDrive -Name $Name -PSProvider FileSystem -Scope Global -Force -ErrorAction Stop
    } catch {
        $null = $_
    }
}

function Get-InnermostMessage($ErrorRecord) {
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception.InnerException) { $exception = $exception.InnerException }
    return $exception.Message
}
