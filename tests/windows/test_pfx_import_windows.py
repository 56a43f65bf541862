"""Do PFX files written by _pfx.export_pfx import on a real Windows host? (opt-in)

What the emulated lab cannot prove: that Windows' PFX import (PFXImportCertStore, which CCS uses)
reads our "compatible" files on every supported build, our "aes256" files from build 17763
(Server 2019) on, and a PFX written without a password. The PFX is imported into an in-memory
collection only (no certificate store changes, temporary keys released at once).

Needs IIS_CCS_WINDOWS_HOST & co (tests/windows/conftest.py) with the psrp connection.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateBundle, export_pfx, load_pem

REPO = Path(__file__).resolve().parents[2]
AES_MINIMUM_BUILD = 17763

# Parameters arrive as PowerShell parameters, never as script text.
IMPORT_SCRIPT = r"""
param([string]$PfxBase64, [string]$Password)
$bytes = [Convert]::FromBase64String($PfxBase64)
$collection = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
$outcome = @{ build = [Environment]::OSVersion.Version.Build; certificates = @(); error = $null }
try {
    $collection.Import($bytes, $Password, [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::DefaultKeySet)
    $outcome.certificates = @($collection | ForEach-Object { @{ thumbprint = $_.Thumbprint; has_key = $_.HasPrivateKey } })
} catch {
    $outcome.error = $_.Exception.Message
} finally {
    foreach ($certificate in $collection) { $certificate.Reset() }
}
ConvertTo-Json -InputObject $outcome -Depth 3 -Compress
"""


def _corpus(tmp_path: Path) -> t.Any:
    spec = importlib.util.spec_from_file_location("iis_ccs_cert_corpus", REPO / "tests" / "unit" / "certs" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.build_corpus(tmp_path / "certs", openssl=None)


def _import_on_windows(data: bytes, password: str | None) -> dict[str, t.Any]:
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    wsman = WSMan(
        os.environ["IIS_CCS_WINDOWS_HOST"],
        port=int(os.environ.get("IIS_CCS_WINDOWS_PORT", "5986")),
        username=os.environ.get("IIS_CCS_WINDOWS_USER"),
        password=os.environ.get("IIS_CCS_WINDOWS_PASSWORD"),
        ssl=True,
        cert_validation=os.environ.get("IIS_CCS_WINDOWS_CERT_VALIDATION", "validate") != "ignore",
    )
    with wsman, RunspacePool(wsman) as pool:
        shell = PowerShell(pool)
        shell.add_script(IMPORT_SCRIPT).add_parameters({"PfxBase64": base64.b64encode(data).decode("ascii"), "Password": password or ""})
        output = shell.invoke()
        assert not shell.had_errors, [str(error) for error in shell.streams.error]
    return t.cast(dict[str, t.Any], json.loads(str(output[-1])))


@pytest.fixture
def bundle(windows_host: t.Any, tmp_path: Path) -> CertificateBundle:
    if os.environ.get("IIS_CCS_WINDOWS_CONNECTION", "psrp") != "psrp":
        pytest.skip("this test talks PSRP directly: set IIS_CCS_WINDOWS_CONNECTION=psrp")
    corpus = _corpus(tmp_path)
    return load_pem(corpus.read("leaf-rsa.crt"), corpus.read("leaf-rsa.key"), corpus.read("chain.pem"))


def _assert_imported(outcome: dict[str, t.Any], bundle: CertificateBundle) -> None:
    assert outcome["error"] is None, outcome
    by_thumbprint = {c["thumbprint"]: c["has_key"] for c in outcome["certificates"]}
    assert by_thumbprint.get(bundle.thumbprint) is True
    assert len(by_thumbprint) == 1 + len(bundle.chain)


def test_compatible_pfx_imports_on_every_build(bundle: CertificateBundle) -> None:
    _assert_imported(_import_on_windows(export_pfx(bundle, "Windows-Import-1", "compatible"), "Windows-Import-1"), bundle)


def test_aes256_pfx_imports_from_server_2019(bundle: CertificateBundle) -> None:
    outcome = _import_on_windows(export_pfx(bundle, "Windows-Import-2", "aes256"), "Windows-Import-2")
    if outcome["build"] >= AES_MINIMUM_BUILD:
        _assert_imported(outcome, bundle)
    else:
        # Server 2016 reports a wrong password for PBES2 files: why "compatible" is the default.
        assert outcome["error"], outcome


def test_pfx_without_password_imports(bundle: CertificateBundle) -> None:
    # Whether CCS itself serves such a file with no private key password set is a separate, IIS-level question.
    _assert_imported(_import_on_windows(export_pfx(bundle, None, "compatible"), None), bundle)
