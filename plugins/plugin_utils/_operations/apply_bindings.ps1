# iis.ccs operation: apply_bindings
# Applies the ordered binding steps planned by iis.ccs.ccs_binding to one IIS site in
# one pass, and answers with the site's bindings and the HTTP.sys SSL entries as they
# are afterwards. Binding changes go through Microsoft.Web.Administration (present on
# Windows Server 2016, unlike New-IISSiteBinding) and are saved by one CommitChanges,
# so IIS sees additions, conversions and removals at once. HTTP.sys entries are
# changed with netsh, each only after checking whether it exists (netsh fails on
# adding an entry twice or deleting a missing one).
# Uses: registry, bindings
# Params: site (string), steps (array, applied in order), each step one of:
#   ensure_ccs_entry {port}; add_binding {binding_information, ssl_flags};
#   convert_binding / set_binding_flags {protocol, binding_information, ssl_flags};
#   remove_binding {protocol, binding_information}; commit;
#   delete_sni_entry {host_port}; remove_ccs_entry_if_unused {port}.
param($Params)

# The application id IIS registers its own HTTP.sys SSL entries with.
$IisAppId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'
$HttpParameters = 'HKLM:\SYSTEM\CurrentControlSet\Services\HTTP\Parameters'
$ProviderKey = 'HKLM:\SOFTWARE\Microsoft\IIS\CentralCertProvider'
$CentralCertStoreFlag = 2

function Get-EndpointPort([string]$Endpoint) {
    return $Endpoint.Substring($Endpoint.LastIndexOf(':') + 1)
}

function Test-CcsEntry([int]$Port) {
    foreach ($name in (Get-SubkeyNames "$HttpParameters\SslCcsBindingInfo")) {
        if ((Get-EndpointPort $name) -eq [string]$Port) { return $true }
    }
    return $false
}

function Invoke-Netsh([string[]]$Arguments) {
    # An argument array, never a command string: nothing from the parameters is parsed as code.
    # Windows PowerShell 5.1 turns a native program's stderr line into a terminating error under
    # ErrorActionPreference Stop; relax it here so the exit code and full text decide instead.
    $ErrorActionPreference = 'Continue'
    $output = netsh.exe @Arguments 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) {
        throw ('netsh ' + ($Arguments -join ' ') + ' failed: ' + $output.Trim())
    }
}

function Test-ProviderEnabled {
    $values = Get-ItemProperty -LiteralPath $ProviderKey -Name 'Enabled' -ErrorAction SilentlyContinue
    return ($null -ne $values -and [int]$values.Enabled -eq 1)
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

function Find-Binding($Site, [string]$Protocol, [string]$Information) {
    $index = Find-BindingIndex $Site $Protocol $Information
    if ($index -lt 0) { return $null }
    return $Site.Bindings[$index]
}

function Assert-CcsAllowed([int]$Flags) {
    # IIS does not serve CCS bindings while the provider is off; refuse instead of
    # committing a binding that cannot work.
    if (($Flags -band $CentralCertStoreFlag) -and -not (Test-ProviderEnabled)) {
        throw 'The central certificate provider is not enabled; enable it before adding CCS bindings.'
    }
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

$assembly = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\Microsoft.Web.Administration.dll'
Add-Type -Path $assembly
$manager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
$site = $null
foreach ($candidate in $manager.Sites) {
    if ($candidate.Name -eq [string]$Params.site) { $site = $candidate }
}
if ($null -eq $site) { throw ('IIS site ''' + [string]$Params.site + ''' does not exist.') }

$report = @()
foreach ($step in @($Params.steps)) {
    $entry = @{}
    foreach ($property in $step.PSObject.Properties) { $entry[$property.Name] = $property.Value }
    $entry.outcome = 'done'
    $action = [string]$step.action
    if ($action -eq 'ensure_ccs_entry') {
        if (Test-CcsEntry ([int]$step.port)) {
            $entry.outcome = 'present'
        } else {
            Invoke-Netsh @('http', 'add', 'sslcert', ('ccs=' + [int]$step.port), ('appid=' + $IisAppId))
        }
    } elseif ($action -eq 'add_binding') {
        Assert-CcsAllowed ([int]$step.ssl_flags)
        $element = $site.Bindings.CreateElement('binding')
        $element.SetAttributeValue('protocol', 'https')
        $element.SetAttributeValue('bindingInformation', [string]$step.binding_information)
        $element.SetAttributeValue('sslFlags', [int]$step.ssl_flags)
        # Add(element) changes configuration only; HTTP.sys entries are managed explicitly above and below.
        [void]$site.Bindings.Add($element)
    } elseif ($action -eq 'convert_binding' -or $action -eq 'set_binding_flags') {
        Assert-CcsAllowed ([int]$step.ssl_flags)
        $binding = Find-Binding $site ([string]$step.protocol) ([string]$step.binding_information)
        if ($null -eq $binding) { throw ('binding ' + [string]$step.protocol + ' ' + [string]$step.binding_information + ' no longer exists; run the task again.') }
        # The same element changes in place: no second binding for the same host and port.
        $binding.Protocol = 'https'
        $binding.SetAttributeValue('sslFlags', [int]$step.ssl_flags)
        foreach ($name in @('certificateHash', 'certificateStoreName')) {
            $attribute = $binding.Attributes[$name]
            if ($null -ne $attribute -and -not $attribute.IsInheritedFromDefaultValue) { $attribute.Delete() }
        }
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
    } elseif ($action -eq 'delete_sni_entry') {
        $hostPort = [string]$step.host_port
        if ((Get-SubkeyNames "$HttpParameters\SslSniBindingInfo") -contains $hostPort) {
            Invoke-Netsh @('http', 'delete', 'sslcert', ('hostnameport=' + $hostPort))
        } else {
            $entry.outcome = 'absent'
        }
    } elseif ($action -eq 'remove_ccs_entry_if_unused') {
        $users = @(Get-CcsSitesOnPort $manager ([int]$step.port))
        if ($users.Count -gt 0) {
            $entry.outcome = 'kept'
            $entry.used_by = $users
        } elseif (Test-CcsEntry ([int]$step.port)) {
            Invoke-Netsh @('http', 'delete', 'sslcert', ('ccs=' + [int]$step.port))
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
    httpsys = @{
        ip = @(Get-SubkeyNames "$HttpParameters\SslBindingInfo")
        sni = @(Get-SubkeyNames "$HttpParameters\SslSniBindingInfo")
        ccs = @(Get-SubkeyNames "$HttpParameters\SslCcsBindingInfo")
    }
}
