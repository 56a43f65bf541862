# iis.ccs operation: verify_tls
# From this node, opens a TLS connection to each target (its own binding address, the
# loopback for a *: binding) with the host name as SNI, and returns what the server sent:
# the certificates of the chain (base64 DER, leaf first, as this node's chain engine builds
# it), the TLS version, or the error. Read-only; the certificate is never trusted or used.
# SNI: SslStream.AuthenticateAsClient hands targetHost to SChannel, which sends it as the
# server_name extension and sends none when targetHost is an IP address
# (https://github.com/dotnet/runtime/issues/81590; SNI from SslStream on Windows:
# https://github.com/dotnet/corefx/issues/17427). So the socket connects to the address and
# targetHost is the DNS name, in A-label (punycode) form as the controller sends it.
# Params: targets (array of @{ sni; address; port }), timeout_ms.
param($Params)

$timeout = [int]$Params.timeout_ms
$results = [System.Collections.ArrayList]::new()
# Accept whatever is served, and keep it: judging it is the controller's job.
$script:served = $null
$accept = [System.Net.Security.RemoteCertificateValidationCallback] {
    param($sender, $certificate, $chain, $errors)
    $script:served = @($chain.ChainElements | ForEach-Object { [Convert]::ToBase64String($_.Certificate.RawData) })
    if ($script:served.Count -eq 0) {
        $script:served = @([Convert]::ToBase64String($certificate.GetRawCertData()))
    }
    return $true
}

foreach ($target in @($Params.targets)) {
    $entry = @{ sni = [string]$target.sni; address = [string]$target.address; port = [int]$target.port; chain = @(); tls_version = ''; error = ''; detail = '' }
    $client = [System.Net.Sockets.TcpClient]::new()
    $stream = $null
    $phase = 'connect'
    try {
        if (-not $client.ConnectAsync($entry.address, $entry.port).Wait($timeout)) {
            $entry.error = 'timeout'
            $entry.detail = 'no answer within the timeout'
        } else {
            $phase = 'handshake'
            $script:served = $null
            $stream = [System.Net.Security.SslStream]::new($client.GetStream(), $false, $accept)
            $stream.ReadTimeout = $timeout
            $stream.WriteTimeout = $timeout
            $stream.AuthenticateAsClient($entry.sni)
            $entry.chain = @($script:served)
            $entry.tls_version = $stream.SslProtocol.ToString()
        }
    } catch {
        $problem = $_.Exception
        $socketError = $null
        while ($null -ne $problem) {
            if ($problem -is [System.Net.Sockets.SocketException]) { $socketError = $problem.SocketErrorCode.ToString() }
            $problem = $problem.InnerException
        }
        $entry.detail = $_.Exception.GetBaseException().Message
        if ($socketError -eq 'ConnectionRefused') { $entry.error = 'connection_refused' }
        elseif ($socketError -eq 'TimedOut') { $entry.error = 'timeout' }
        elseif ($phase -eq 'handshake') { $entry.error = 'handshake_failure' }
        elseif ($socketError -eq 'ConnectionReset') { $entry.error = 'reset' }
        else { $entry.error = 'unreachable' }
    } finally {
        if ($null -ne $stream) { $stream.Dispose() }
        $client.Dispose()
    }
    $null = $results.Add($entry)
}
return @{ results = @($results) }
