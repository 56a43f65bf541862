# iis.ccs library: store_access
# Shared by configure_provider (before it changes anything) and probe_store_access (check
# mode): proves from this node that the provider account can log on and read the store,
# so both report exactly the same failure, worded with the option to fix.
#
# The proof for a UNC store is the share mapping itself, made with the account's credential:
# the file server checks the password, the share and the NTFS permissions. There is no
# separate local logon check, because PrincipalContext(Machine).ValidateCredentials
# (https://learn.microsoft.com/en-us/dotnet/api/system.directoryservices.accountmanagement.principalcontext.validatecredentials)
# validates through the Server service (an SMB connection to this node itself), so it fails
# on hardened nodes where that service is stopped, fails with error 1219 when this session
# already holds other credentials for the server, and takes a workgroup FILESERVER\user for
# a domain. For a local store, the provider cmdlets check the credential themselves.
# Uses: share_drive, store_folder

function Get-LogonFailure([string]$Message) {
    # ERROR_LOGON_FAILURE (1326) and ERROR_ACCOUNT_RESTRICTION-style refusals name the password.
    return ($Message -match 'user name or password is incorrect' -or $Message -match '1326' -or $Message -match 'unknown user name')
}

function Test-ShareStoreAccess([string]$Path, [string]$User, [string]$Password) {
    $drive = $null
    try {
        try {
            $drive = Mount-StoreShare $Path $User $Password
        } catch {
            $message = Get-InnermostMessage $_
            if (Get-LogonFailure $message) {
                throw "password: the account '$User' could not log on at this node to read '$Path': $message"
            }
            throw "store_location: the account '$User' could not read '$Path' from this node: $message"
        }
        try {
            $exists = Test-StoreFolder $Path $true
        } catch {
            throw "store_location: the account '$User' could not read '$Path' from this node: $(Get-InnermostMessage $_)"
        }
        if (-not $exists) {
            throw "store_location: the account '$User' could not read '$Path' from this node: Could not find a part of the path '$Path'."
        }
    } finally {
        Dismount-StoreShare $drive
    }
}

function Test-StoreAccess($Step) {
    $path = [string]$Step.store_location
    $user = [string]$Step.user_name
    if ($path.StartsWith('\\')) {
        Test-ShareStoreAccess $path $user ([string]$Step.password)
        return $true
    }
    # A local store: reading it as the account would need impersonation, which is left to
    # IIS; Enable/Set-WebCentralCertProvider validate the credential when they run.
    if (-not (Test-Path -LiteralPath $path -PathType Container)) {
        throw "store_location: the account '$user' could not read '$path' from this node: Could not find a part of the path '$path'."
    }
    return $false
}
