# iis.ccs operation: read_store_acl
# Reads, on the file server, the permissions of one SMB share (Get-SmbShareAccess) and the NTFS
# access rules of the share's folder (Get-Acl), for the least-privilege audit of ccs_store_info.
# Enum values travel as their names (Allow, Full, "Modify, Synchronize"). Nothing is written.
# Params: share (the share name on this host).
param($Params)

$share = Get-SmbShare -Name ([string]$Params.share) -ErrorAction Stop
$shareAccess = [System.Collections.ArrayList]::new()
foreach ($entry in @(Get-SmbShareAccess -Name $share.Name -ErrorAction Stop)) {
    $null = $shareAccess.Add(@{
        account = [string]$entry.AccountName
        right = $entry.AccessRight.ToString()
        type = $entry.AccessControlType.ToString()
    })
}
$ntfs = [System.Collections.ArrayList]::new()
$acl = Get-Acl -LiteralPath $share.Path -ErrorAction Stop
foreach ($rule in $acl.Access) {
    $null = $ntfs.Add(@{
        account = $rule.IdentityReference.Value
        rights = $rule.FileSystemRights.ToString()
        type = $rule.AccessControlType.ToString()
        inherited = [bool]$rule.IsInherited
    })
}
@{
    share = @{ name = [string]$share.Name; path = [string]$share.Path }
    share_access = $shareAccess.ToArray()
    ntfs = $ntfs.ToArray()
}
