# iis.ccs operation: apply_bindings
# Applies the ordered binding steps planned by iis.ccs.ccs_binding to one IIS site in
# one pass, and answers with the site's bindings and the HTTP.sys SSL entries as they
# are afterwards. Binding changes (site_bindings.ps1) are saved by one CommitChanges, so
# IIS sees additions, conversions and removals at once; HTTP.sys entries (httpsys.ps1)
# are changed with netsh. A converted certificate-hash binding without SNI leaves an
# ipport= entry, which the commit step removes once no binding uses it.
# Uses: registry, bindings, httpsys, site_bindings
# Params: site (string), steps (array, applied in order), each step one of:
#   ensure_ccs_entry {port}; add_binding {binding_information, ssl_flags};
#   convert_binding / set_binding_flags {protocol, binding_information, ssl_flags};
#   remove_binding {protocol, binding_information}; commit;
#   delete_sni_entry {host_port}; remove_ccs_entry_if_unused {port}.
param($Params)

$assembly = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\Microsoft.Web.Administration.dll'
Add-Type -Path $assembly
$manager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
$site = $null
foreach ($candidate in $manager.Sites) {
    if ($candidate.Name -eq [string]$Params.site) { $site = $candidate }
}
if ($null -eq $site) { throw ('IIS site ''' + [string]$Params.site + ''' does not exist.') }

$report = @()
$staleIpPorts = @()
foreach ($step in @($Params.steps)) {
    $entry = @{}
    foreach ($property in $step.PSObject.Properties) { $entry[$property.Name] = $property.Value }
    $entry.outcome = 'done'
    $action = [string]$step.action
    if ($action -eq 'ensure_ccs_entry') {
        if (Test-CcsEntry ([int]$step.port)) { $entry.outcome = 'present' } else { Add-CcsEntry ([int]$step.port) }
    } elseif ($action -eq 'add_binding') {
        Assert-CcsAllowed ([int]$step.ssl_flags)
        Add-HttpsBinding $site ([string]$step.binding_information) ([int]$step.ssl_flags)
    } elseif ($action -eq 'convert_binding' -or $action -eq 'set_binding_flags') {
        Assert-CcsAllowed ([int]$step.ssl_flags)
        $stale = Convert-Binding $site ([string]$step.protocol) ([string]$step.binding_information) ([int]$step.ssl_flags)
        if ($stale) { $staleIpPorts += $stale }
    } elseif ($action -eq 'remove_binding') {
        $index = Find-BindingIndex $site ([string]$step.protocol) ([string]$step.binding_information)
        if ($index -lt 0) {
            $entry.outcome = 'absent'
        } else {
            # RemoveAt changes configuration only. BindingCollection.Remove(binding) may also
            # delete the HTTP.sys SSL entry of the endpoint, which for a CCS binding is the
            # ccs entry every other site on the port shares; that one is handled below.
            $site.Bindings.RemoveAt($index)
        }
    } elseif ($action -eq 'commit') {
        $manager.CommitChanges()
        $removedIpPorts = @()
        foreach ($ipPort in $staleIpPorts) {
            if (-not (Test-IpPortInUse $manager $ipPort) -and (Remove-IpPortEntry $ipPort)) { $removedIpPorts += $ipPort }
        }
        $staleIpPorts = @()
        if ($removedIpPorts.Count -gt 0) { $entry.removed_ipport = $removedIpPorts }
    } elseif ($action -eq 'delete_sni_entry') {
        if (-not (Remove-SniEntry ([string]$step.host_port))) { $entry.outcome = 'absent' }
    } elseif ($action -eq 'remove_ccs_entry_if_unused') {
        $users = @(Get-CcsSitesOnPort $manager ([int]$step.port))
        if ($users.Count -gt 0) {
            $entry.outcome = 'kept'
            $entry.used_by = $users
        } elseif (Test-CcsEntry ([int]$step.port)) {
            Remove-CcsEntry ([int]$step.port)
        } else {
            $entry.outcome = 'absent'
        }
    } else {
        throw ('unknown apply_bindings step ''' + $action + '''')
    }
    $report += $entry
}

return @{
    steps = $report
    site = @{ name = $site.Name; id = [long]$site.Id; bindings = @(Get-RawBindings $site) }
    httpsys = Get-HttpSysEntries
}
