# iis.ccs operation: read_host_state
# Reads, in one pass, the host state the iis.ccs modules reason about: Windows
# build, IIS and CCS feature presence, the CentralCertProvider registry values,
# IIS site bindings and HTTP.sys SSL entries. Raw values only; the controller
# interprets them. Secrets are never returned: for the two machine-encrypted
# provider secrets only a SHA-256 digest of the stored ciphertext is returned,
# which lets the controller notice that someone re-set them outside Ansible.
# Uses: registry, bindings
# Params: sections (array of windows|features|provider|sites|httpsys),
#         site_names (optional array: only these sites).
param($Params)

$wanted = @($Params.sections)
$answer = @{}

if ($wanted -contains 'windows') {
    $version = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $answer.windows = @{
        hostname = [System.Environment]::MachineName
        build = [int]$version['CurrentBuildNumber']
        ubr = $version['UBR']
        product_name = $version['ProductName']
        edition_id = $version['EditionID']
        installation_type = $version['InstallationType']
    }
}

if ($wanted -contains 'features') {
    $inetstp = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp'
    $components = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\InetStp\Components'
    $answer.features = @{ inetstp = $inetstp; components = $components }
}

if ($wanted -contains 'provider') {
    $answer.provider = Get-ProviderView
    $answer.provider_record = Read-RegistryKey 'HKLM:\SOFTWARE\iis.ccs\CentralCertProvider'
}

if ($wanted -contains 'sites') {
    $assembly = Join-Path $env:windir 'System32\inetsrv\Microsoft.Web.Administration.dll'
    $sites = @()
    if (Test-Path -LiteralPath $assembly) {
        Add-Type -Path $assembly
        $manager = New-Object -TypeName Microsoft.Web.Administration.ServerManager
        $only = @($Params.site_names | Where-Object { $_ })
        foreach ($site in $manager.Sites) {
            if ($only.Count -gt 0 -and -not ($only -contains $site.Name)) { continue }
            $sites += @{ name = $site.Name; id = [long]$site.Id; bindings = @(Get-RawBindings $site) }
        }
    }
    $answer.sites = $sites
}

if ($wanted -contains 'httpsys') {
    $base = 'HKLM:\SYSTEM\CurrentControlSet\Services\HTTP\Parameters'
    $answer.httpsys = @{
        ip = @(Get-SubkeyNames "$base\SslBindingInfo")
        sni = @(Get-SubkeyNames "$base\SslSniBindingInfo")
        ccs = @(Get-SubkeyNames "$base\SslCcsBindingInfo")
    }
}

return $answer
