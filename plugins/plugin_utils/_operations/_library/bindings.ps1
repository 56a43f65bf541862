# iis.ccs library: bindings
# Shared by read_host_state and apply_bindings, so the bindings apply_bindings returns
# after its commit have exactly the shape the controller parses from a read.

function Get-RawBindings($Site) {
    return @(foreach ($binding in $Site.Bindings) {
        $hash = $binding.CertificateHash
        @{
            protocol = $binding.Protocol
            binding_information = $binding.BindingInformation
            ssl_flags = [int]$binding.GetAttributeValue('sslFlags')
            certificate_hash = if ($hash) { [System.BitConverter]::ToString($hash).Replace('-', '') } else { '' }
            certificate_store = [string]$binding.CertificateStoreName
        }
    })
}
