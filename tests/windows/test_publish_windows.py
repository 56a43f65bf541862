"""iis.ccs.ccs_cert_publish against a real Windows host (opt-in; see tests/windows/conftest.py).

Proves what the lab can only emulate: read_cert_store/write_cert_store run on Windows PowerShell 5.1,
the atomic File.Replace/Move dance works on NTFS, the last-write time stamped by the host matches what
the manifest recorded (so the re-run is one round trip moving no PFX bytes), and Windows itself opens the
written files with the store password (X509Certificate2 with the private key).

Optional, for the host_unc destination (a share the Windows host reaches with explicit credentials):
  IIS_CCS_WINDOWS_SHARE            \\\\server\\share\\folder (must exist)
  IIS_CCS_WINDOWS_SHARE_USER       account with change access on it
  IIS_CCS_WINDOWS_SHARE_PASSWORD   its password
It creates C:\\iis-ccs-publish-<random> and removes it afterwards.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

STORE_PASSWORD = "Win-Store-" + secrets.token_hex(6)


def _certificate(tmp_path: Path, names: list[str]) -> dict[str, str]:
    now = datetime.datetime.now(datetime.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return {
        "certificate_path": str(tmp_path / "cert.pem"),
        "private_key_path": str(tmp_path / "key.pem"),
        "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
    }


def _play(tasks: str) -> str:
    return f"""
- hosts: win
  gather_facts: false
  tasks:
{tasks}
"""


def _raw(name: str, command: str) -> str:
    return _play(f"    - name: {name}\n      ansible.builtin.raw: {json.dumps(command)}")


def test_publish_to_a_folder_on_the_windows_host(windows_host, tmp_path: Path) -> None:
    folder = f"C:\\iis-ccs-publish-{secrets.token_hex(3)}"
    cert = _certificate(tmp_path, ["www.publish.test", "*.publish.test"])
    args = {
        "certificate_path": cert["certificate_path"],
        "private_key_path": cert["private_key_path"],
        "private_key_password": STORE_PASSWORD,
        "destinations": [{"type": "host_path", "path": folder, "name": "disk"}],
    }
    if os.environ.get("IIS_CCS_WINDOWS_SHARE"):
        args["destinations"].append(
            {
                "type": "host_unc",
                "path": os.environ["IIS_CCS_WINDOWS_SHARE"],
                "name": "share",
                "user_name": os.environ["IIS_CCS_WINDOWS_SHARE_USER"],
                "password": os.environ["IIS_CCS_WINDOWS_SHARE_PASSWORD"],
            }
        )
    setup = windows_host.run(_raw("folder", f"New-Item -ItemType Directory -Path '{folder}' -Force | Out-Null"))
    assert setup.rc == 0, setup.stdout
    try:
        first = windows_host.run(_play(f"    - name: publish\n      iis.ccs.ccs_cert_publish: {json.dumps(args)}"), extra_vars={})
        assert first.rc == 0, first.stdout
        result = first.task("publish")
        assert sorted(f["file_name"] for f in result["files"]) == ["_.publish.test.pfx", "www.publish.test.pfx"]
        assert all(set(f["replicas"].values()) == {"created"} for f in result["files"])

        second = windows_host.run(_play(f"    - name: publish\n      iis.ccs.ccs_cert_publish: {json.dumps(args)}")).task("publish")
        assert second["changed"] is False
        assert second["round_trips"] == len(args["destinations"])  # one read per host destination, no write
        assert all(r["pfx_bytes_read"] == 0 and r["pfx_bytes_written"] == 0 for r in second["replicas"])

        check = (
            f"$c = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new('{folder}\\_.publish.test.pfx', "
            f"'{STORE_PASSWORD}'); Write-Output ($c.Thumbprint + ':' + $c.HasPrivateKey); "
            f"Get-ChildItem -LiteralPath '{folder}' -Force | ForEach-Object {{ Write-Output ('file:' + $_.Name) }}"
        )
        opened = windows_host.run(_raw("open", check), verbosity=1)
        assert f"{cert['thumbprint']}:True" in opened.stdout, opened.stdout
        assert "file:.iis-ccs-tmp-" not in opened.stdout
    finally:
        windows_host.run(_raw("cleanup", f"Remove-Item -LiteralPath '{folder}' -Recurse -Force"))
