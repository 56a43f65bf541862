# iis.ccs library: store_folder
# Shared by read_cert_store and write_cert_store: the only way either script turns a file
# name from the controller into a path, refusing anything but a plain name in the folder.

function Get-StorePath([string]$Root, [string]$Name) {
    if ([string]::IsNullOrEmpty($Name) -or $Name.IndexOfAny([char[]]'\/:') -ge 0 -or $Name -eq '.' -or $Name -eq '..') {
        throw "Refusing the file name '$Name': not a plain file name inside the store folder."
    }
    return [System.IO.Path]::Combine($Root, $Name)
}
