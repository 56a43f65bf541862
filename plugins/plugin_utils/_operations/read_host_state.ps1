# iis.ccs operation: read_host_state
# Reads, in one pass, the host state the iis.ccs modules reason about: Windows
# build, IIS and CCS feature presence, the CentralCertProvider registry values,
# IIS site bindings and HTTP.sys SSL entries. Raw values only; the controller
# interprets them. Secrets are never returned: for the two machine-encrypted
# provider secrets only a SHA-256 digest of the stored ciphertext is returned,
# which lets the controller notice that someone re-set them outside Ansible.
# Uses: registry
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
    $provider = Read-RegistryKey 'HKLM:\SOFTWARE\Microsoft\IIS\CentralCertProvider'
    $public = $null
    if ($null -ne $provider) {
        $public = @{}
        foreach ($name in @('Enabled', 'CertStoreLocation', 'UserName', 'PollingInterval')) {
            if ($provider.ContainsKey($name)) { $public[$name] = $provider[$name] }
        }
        $public['PasswordDigest'] = Get-TextDigest $provider['Password']
        $public['PrivateKeyPasswordDigest'] = Get-TextDigest $provider['PrivateKeyPassword']
    }
    $answer.provider = $public
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
            $bindings = @(foreach ($binding in $site.Bindings) {
                $hash = $binding.CertificateHash
                @{
                    protocol = $binding.Protocol
                    binding_information = $binding.BindingInformation
                    ssl_flags = [int]$binding.GetAttributeValue('sslFlags')
                    certificate_hash = if ($hash) { [System.BitConverter]::ToString($hash).Replace('-', '') } else { '' }
                    certificate_store = [string]$binding.CertificateStoreName
                }
            })
            $sites += @{ name = $site.Name; id = [long]$site.Id; bindings = $bindings }
        }
    }
    $answer.sites = $sites
}

if ($wanted -contains 'httpsys') {
    $base = 'HKLM:\SYSTEM\CurrentControlSet\Services\HTTP\Parameters'
    $answer.httpsys = @{
        ip = Get-SubkeyNames "$base\SslBindingInfo"
        sni = Get-SubkeyNames "$base\SslSniBindingInfo"
        ccs = Get-SubkeyNames "$base\SslCcsBindingInfo"
    }
}

return $answer
