# iis.ccs library: httpsys
# Shared by apply_bindings: reads and changes HTTP.sys SSL entries. Reads go to the registry
# keys HTTP.sys keeps one subkey per entry in; changes go through netsh, each only after
# checking whether the entry exists (netsh fails on adding an entry twice or deleting a
# missing one).
#   netsh http (add/delete sslcert, ccs=, ipport=, hostnameport=):
#   https://learn.microsoft.com/en-us/windows-server/networking/technologies/netsh/netsh-http
# Uses: registry

# The application id IIS registers its own HTTP.sys SSL entries with.
$IisAppId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'
$HttpParameters = 'HKLM:\SYSTEM\CurrentControlSet\Services\HTTP\Parameters'

function Get-EndpointPort([string]$Endpoint) {
    return $Endpoint.Substring($Endpoint.LastIndexOf(':') + 1)
}

function Get-HttpSysEntries {
    return @{
        ip = @(Get-SubkeyNames "$HttpParameters\SslBindingInfo")
        sni = @(Get-SubkeyNames "$HttpParameters\SslSniBindingInfo")
        ccs = @(Get-SubkeyNames "$HttpParameters\SslCcsBindingInfo")
    }
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

function Add-CcsEntry([int]$Port) {
    Invoke-Netsh @('http', 'add', 'sslcert', ('ccs=' + $Port), ('appid=' + $IisAppId))
}

function Remove-CcsEntry([int]$Port) {
    Invoke-Netsh @('http', 'delete', 'sslcert', ('ccs=' + $Port))
}

function Remove-SniEntry([string]$HostPort) {
    if ((Get-SubkeyNames "$HttpParameters\SslSniBindingInfo") -notcontains $HostPort) { return $false }
    Invoke-Netsh @('http', 'delete', 'sslcert', ('hostnameport=' + $HostPort))
    return $true
}

function Remove-IpPortEntry([string]$IpPort) {
    if ((Get-SubkeyNames "$HttpParameters\SslBindingInfo") -notcontains $IpPort) { return $false }
    Invoke-Netsh @('http', 'delete', 'sslcert', ('ipport=' + $IpPort))
    return $true
}
