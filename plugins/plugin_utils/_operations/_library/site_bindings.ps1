# iis.ccs library: site_bindings
# Shared by apply_bindings: finds, adds, rebuilds and removes one IIS site binding through
# Microsoft.Web.Administration (present on Windows Server 2016, unlike New-IISSiteBinding).
# Each function changes configuration only; the caller's one CommitChanges makes IIS see all
# of a run's changes at once, and HTTP.sys entries are handled explicitly (httpsys.ps1).
#   BindingCollection: https://learn.microsoft.com/en-us/dotnet/api/microsoft.web.administration.bindingcollection
#   ServerManager.CommitChanges: https://learn.microsoft.com/en-us/dotnet/api/microsoft.web.administration.servermanager.commitchanges
#   ConfigurationElementCollectionBase.AddAt: https://learn.microsoft.com/en-us/dotnet/api/microsoft.web.administration.configurationelementcollectionbase-1.addat
# Uses: httpsys

$CentralCertStoreFlag = 2
$SniFlag = 1

function Test-ProviderEnabled {
    $values = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\IIS\CentralCertProvider' -Name 'Enabled' -ErrorAction SilentlyContinue
    return ($null -ne $values -and [int]$values.Enabled -eq 1)
}

function Assert-CcsAllowed([int]$Flags) {
    # IIS does not serve CCS bindings while the provider is off; refuse instead of
    # committing a binding that cannot work.
    if (($Flags -band $CentralCertStoreFlag) -and -not (Test-ProviderEnabled)) {
        throw 'The central certificate provider is not enabled; enable it before adding CCS bindings.'
    }
}

function Find-BindingIndex($Site, [string]$Protocol, [string]$Information) {
    # -eq compares case-insensitively, as IIS does for the collection's keys.
    $index = 0
    foreach ($binding in $Site.Bindings) {
        if ($binding.Protocol -eq $Protocol -and $binding.BindingInformation -eq $Information) { return $index }
        $index++
    }
    return -1
}

function New-HttpsBinding($Site, [string]$Information, [int]$Flags) {
    $element = $Site.Bindings.CreateElement('binding')
    $element.SetAttributeValue('protocol', 'https')
    $element.SetAttributeValue('bindingInformation', $Information)
    $element.SetAttributeValue('sslFlags', $Flags)
    return $element
}

function Add-HttpsBinding($Site, [string]$Information, [int]$Flags) {
    # Add(element) changes configuration only; HTTP.sys entries are managed explicitly.
    [void]$Site.Bindings.Add((New-HttpsBinding $Site $Information $Flags))
}

function Get-IpPortOf([string]$Information) {
    # "*:443:host" -> "0.0.0.0:443", "10.0.0.5:443:" -> "10.0.0.5:443": the ipport= entry of
    # a binding without SNI.
    $withoutHost = $Information.Substring(0, $Information.LastIndexOf(':'))
    $address = $withoutHost.Substring(0, $withoutHost.LastIndexOf(':'))
    if ($address -eq '*' -or $address -eq '') { $address = '0.0.0.0' }
    return $address + ':' + (Get-EndpointPort $withoutHost)
}

function Convert-Binding($Site, [string]$Protocol, [string]$Information, [int]$Flags) {
    # Rebuilt, not edited: certificateHash and certificateStoreName are backed by HTTP.sys and
    # deleting them in place is undocumented (win-acme rebuilds such bindings too). The old
    # element goes and a new one with the planned flags comes in the same commit, so IIS never
    # sees the host and port without a binding (make-before-break at the commit).
    # Answers the ipport= entry the old binding may have left in HTTP.sys, or ''.
    $index = Find-BindingIndex $Site $Protocol $Information
    if ($index -lt 0) { throw ('binding ' + $Protocol + ' ' + $Information + ' no longer exists; run the task again.') }
    $old = $Site.Bindings[$index]
    $stale = ''
    $oldFlags = [int]$old.GetAttributeValue('sslFlags')
    if ($old.Protocol -eq 'https' -and $old.CertificateHash -and -not ($oldFlags -band $SniFlag)) {
        $stale = Get-IpPortOf $Information
    }
    $element = New-HttpsBinding $Site $Information $Flags
    $Site.Bindings.RemoveAt($index)
    # AddAt keeps the binding where it was in the collection (ConfigurationElementCollectionBase.AddAt).
    [void]$Site.Bindings.AddAt($index, $element)
    return $stale
}

function Test-IpPortInUse($Manager, [string]$IpPort) {
    # A binding with a certificate hash and no SNI on the same address and port still needs the entry.
    foreach ($candidate in $Manager.Sites) {
        foreach ($binding in $candidate.Bindings) {
            if ($binding.Protocol -ne 'https' -or -not $binding.CertificateHash) { continue }
            $flags = [int]$binding.GetAttributeValue('sslFlags')
            if (-not ($flags -band ($SniFlag -bor $CentralCertStoreFlag)) -and (Get-IpPortOf $binding.BindingInformation) -eq $IpPort) { return $true }
        }
    }
    return $false
}

function Get-BindingPort([string]$Information) {
    $withoutHost = $Information.Substring(0, $Information.LastIndexOf(':'))
    return Get-EndpointPort $withoutHost
}

function Get-CcsSitesOnPort($Manager, [int]$Port) {
    $users = @()
    foreach ($candidate in $Manager.Sites) {
        foreach ($binding in $candidate.Bindings) {
            $flags = [int]$binding.GetAttributeValue('sslFlags')
            if ($binding.Protocol -eq 'https' -and ($flags -band $CentralCertStoreFlag) -and (Get-BindingPort $binding.BindingInformation) -eq [string]$Port) {
                $users += $candidate.Name
                break
            }
        }
    }
    return $users
}
