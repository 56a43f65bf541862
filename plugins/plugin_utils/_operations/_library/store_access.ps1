# iis.ccs library: store_access
# Shared by configure_provider (before it changes anything) and probe_store_access (check
# mode): proves from this node that the provider account can log on and read the store,
# so both report exactly the same failure, worded with the option to fix.

function Get-InnermostMessage($ErrorRecord) {
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception.InnerException) { $exception = $exception.InnerException }
    return $exception.Message
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
                Remove-PSDrive -Name $drive -Force -ErrorAction SilentlyContinue
            }
        } elseif (-not (Test-Path -LiteralPath $path -PathType Container)) {
            throw "Could not find a part of the path '$path'."
        }
    } catch {
        throw "store_location: the account '$user' could not read '$path' from this node: $(Get-InnermostMessage $_)"
    }
}
