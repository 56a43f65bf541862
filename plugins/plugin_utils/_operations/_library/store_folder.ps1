# iis.ccs library: store_folder
# Shared by read_cert_store, write_cert_store and the store access check: the only way a
# file name from the controller becomes a path, and the one probe of the store folder that
# reports the real Windows error instead of "does not exist".

function Get-StorePath([string]$Root, [string]$Name) {
    if ([string]::IsNullOrEmpty($Name) -or $Name.IndexOfAny([char[]]'\/:') -ge 0 -or $Name -eq '.' -or $Name -eq '..') {
        throw "Refusing the file name '$Name': not a plain file name inside the store folder."
    }
    return [System.IO.Path]::Combine($Root, $Name)
}

function Test-StoreFolder([string]$Path, [bool]$Mapped) {
    # [System.IO.Directory]::Exists answers false on any error, "access denied" included
    # (https://learn.microsoft.com/en-us/dotnet/api/system.io.directory.exists#remarks), which
    # turns a double-hop logon into "the folder does not exist". Listing the folder raises the
    # real error; only a missing folder answers $false.
    try {
        $null = [System.IO.Directory]::GetFiles($Path, '*.pfx')
        return $true
    } catch [System.IO.DirectoryNotFoundException] {
        return $false
    } catch [System.UnauthorizedAccessException] {
        $hint = ''
        if ($Path.StartsWith('\\') -and -not $Mapped) {
            $hint = ' Over WinRM this session cannot pass its own credentials on to the file server (the double hop): give share credentials, or use CredSSP or Kerberos delegation.'
        }
        throw "Access to the store folder '$Path' is denied to the account this runs as.$hint"
    }
}
