# iis.ccs library: store_folder
# Shared by read_cert_store and write_cert_store: the share credential (a UNC store reached
# through this host with explicit credentials, so no delegation is needed) and the only way
# either script turns a file name from the controller into a path.

function Get-StorePath([string]$Root, [string]$Name) {
    if ([string]::IsNullOrEmpty($Name) -or $Name.IndexOfAny([char[]]'\/:') -ge 0 -or $Name -eq '.' -or $Name -eq '..') {
        throw "Refusing the file name '$Name': not a plain file name inside the store folder."
    }
    return [System.IO.Path]::Combine($Root, $Name)
}

function Get-StoreCredential($Params) {
    if (-not $Params.user_name) { return $null }
    $secure = ConvertTo-SecureString -String ([string]$Params.password) -AsPlainText -Force
    return [System.Management.Automation.PSCredential]::new([string]$Params.user_name, $secure)
}
