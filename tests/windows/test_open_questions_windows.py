"""One opt-in test per open question of tests/windows/questions.py; tools/windows-check turns them into a report.

Each test records what the host showed (``observe(<id>).answered(value)``) rather than asserting what
we hope Windows does: the point is to learn it. Probes that need PowerShell run through
ansible.builtin.raw, print one ``IISCCS-JSON:`` line, and remove what they created in ``finally``
(every name carries ``iisccscheck`` and a random suffix; tools/windows-check sweeps leftovers).
Against the emulated lab (IIS_CCS_WINDOWS_TARGET=lab) only the module questions run.

Optional configuration (a question that needs it and lacks it reports "needs configuration"):
  IIS_CCS_WINDOWS_SHARE, IIS_CCS_WINDOWS_SHARE_USER, IIS_CCS_WINDOWS_SHARE_PASSWORD
      a UNC folder and an account with Change (not Full) on share and Modify on NTFS
  IIS_CCS_WINDOWS_SHARE_USER2, IIS_CCS_WINDOWS_SHARE_PASSWORD2   a second account on the same server (1219)
  IIS_CCS_WINDOWS_COARSE_SHARE   a UNC folder on FAT or a NAS, writable with the share account (granularity)
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import os
import random
import secrets
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from _observe import on_lab
from questions import QUESTIONS

MARK = "IISCCS-JSON:"


def _play(tasks: str) -> str:
    return f"- hosts: win\n  gather_facts: false\n  tasks:\n{tasks}\n"


def _probe(windows_host: t.Any, body: str) -> dict[str, t.Any]:
    """Run PowerShell through raw; body sets $r (a hashtable) and cleans up in its own finally."""
    script = ("$ErrorActionPreference = 'Stop'; $r = @{}; $hp = 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters'; "
              "try { " + body + " } catch { $r.error = $_.Exception.Message }; "
              f"'{MARK}' + (ConvertTo-Json -InputObject $r -Compress -Depth 6)")
    run = windows_host.run(_play(f"    - name: probe\n      ansible.builtin.raw: {json.dumps(script)}"))
    output = str(run.task("probe").get("stdout", ""))
    for line in output.splitlines():
        if line.startswith(MARK):
            return t.cast(dict[str, t.Any], json.loads(line[len(MARK):]))
    raise AssertionError(f"the probe printed no {MARK} line:\n{run.stdout[-3000:]}")


def _share() -> tuple[str, str, str] | None:
    names = ("IIS_CCS_WINDOWS_SHARE", "IIS_CCS_WINDOWS_SHARE_USER", "IIS_CCS_WINDOWS_SHARE_PASSWORD")
    values = [os.environ.get(n, "") for n in names]
    return (values[0], values[1], values[2]) if all(values) else None


def _require_share(observer: t.Any, what: str = "IIS_CCS_WINDOWS_SHARE, _USER, _PASSWORD") -> tuple[str, str, str]:
    share = _share()
    if share is None:
        observer.needs_configuration(what)
    return t.cast(tuple[str, str, str], share)


def _root(path: str) -> str:
    """\\\\server\\share of a UNC folder."""
    return "\\\\" + "\\".join(path.lstrip("\\").split("\\")[:2])


def _ps(text: str) -> str:
    """A PowerShell single-quoted literal."""
    return "'" + text.replace("'", "''") + "'"


def _map(share: tuple[str, str, str], name: str) -> str:
    path, user, password = share
    root = _root(path)
    return (f"$cred = [pscredential]::new({_ps(user)}, (ConvertTo-SecureString -String {_ps(password)} -AsPlainText -Force)); "
            f"$null = New-PSDrive -Name {name} -PSProvider FileSystem -Root {_ps(root)} -Credential $cred -Scope Global; ")


SUFFIX = secrets.token_hex(3)
IIS_APPID = "{4dc3e181-e14b-4a21-b022-59fc669b0914}"


def _pfx(key: t.Any, encryption: serialization.KeySerializationEncryption, host_name: str = "check.iis-ccs.test") -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False).sign(key, hashes.SHA256()))
    return base64.b64encode(pkcs12.serialize_key_and_certificates(b"check", key, cert, None, encryption)).decode("ascii")


def _load_pfx(b64: str) -> str:
    return (f"$bytes = [Convert]::FromBase64String('{b64}'); "
            "$c = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($bytes, 'pfx-check', "
            "[System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::EphemeralKeySet); "
            "$r.loaded = $true; $r.has_private_key = $c.HasPrivateKey; $r.build = [Environment]::OSVersion.Version.Build")


_PROVIDER_KEY = "HKLM:\\SOFTWARE\\Microsoft\\IIS\\CentralCertProvider"
_SNAPSHOT = (f"$before = Get-ItemProperty -LiteralPath '{_PROVIDER_KEY}' -ErrorAction SilentlyContinue; "
             f"$export = \"$env:TEMP\\iisccscheck{SUFFIX}.reg\"; "
             "$null = reg.exe export 'HKLM\\SOFTWARE\\Microsoft\\IIS\\CentralCertProvider' $export /y 2>&1; ")
_RESTORE = (" finally { if ($before) { $null = reg.exe import $export 2>&1 } else { Clear-IISCentralCertProvider -Force -ErrorAction SilentlyContinue }; "
            "Remove-Item -LiteralPath $export -Force -ErrorAction SilentlyContinue }")


def _values() -> str:
    return (f"(Get-ItemProperty -LiteralPath '{_PROVIDER_KEY}' -ErrorAction SilentlyContinue | "
            "ForEach-Object { @{ Enabled = $_.Enabled; CertStoreLocation = $_.CertStoreLocation; UserName = $_.UserName } })")


# --- questions only PowerShell on a real host answers: one probe each --------------------------------------------
Share = tuple[str, str, str]  # UNC folder, account, password


def _sslccs_subkey_names(_nothing_needed: None) -> str:
    port = random.randint(40000, 49999)
    return (f"try {{ $null = netsh.exe http add sslcert ccs={port} appid='{IIS_APPID}'; "
            "$r.names = @(Get-ChildItem (Join-Path $hp 'SslCcsBindingInfo') | ForEach-Object { $_.PSChildName }); "
            f"$r.port = {port} }} finally {{ $null = netsh.exe http delete sslcert ccs={port} }}")


def _iis_creates_ccs_entry(_nothing_needed: None) -> str:
    port, site = random.randint(40000, 49999), f"iisccscheck{SUFFIX}"
    return ("Add-Type -Path \"$env:windir\\System32\\inetsrv\\Microsoft.Web.Administration.dll\"; "
            "$m = New-Object Microsoft.Web.Administration.ServerManager; "
            f"$s = $m.Sites.Add('{site}', 'https', '*:{port}:check.iis-ccs.test', \"$env:TEMP\"); "
            "$s.Bindings[0].SetAttributeValue('sslFlags', 3); "
            "try { $m.CommitChanges(); Start-Sleep -Seconds 2; "
            "$r.ccs_entries = @(Get-ChildItem (Join-Path $hp 'SslCcsBindingInfo') -ErrorAction SilentlyContinue | ForEach-Object { $_.PSChildName }); "
            f"$r.created = @($r.ccs_entries | Where-Object {{ $_ -like '*:{port}' }}).Count -gt 0 }} finally {{ "
            f"$m2 = New-Object Microsoft.Web.Administration.ServerManager; $x = $m2.Sites['{site}']; if ($x) {{ $m2.Sites.Remove($x); $m2.CommitChanges() }}; "
            f"$null = netsh.exe http delete sslcert ccs={port} 2>&1 }}")


def _ecdsa_pfx(_nothing_needed: None) -> str:
    return _load_pfx(_pfx(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS12.encryption_builder()
                          .kdf_rounds(2048).key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
                          .build(b"pfx-check")))


def _aes256_pfx(_nothing_needed: None) -> str:
    return _load_pfx(_pfx(rsa.generate_private_key(public_exponent=65537, key_size=2048), serialization.PrivateFormat.PKCS12.encryption_builder()
                          .kdf_rounds(2048).key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256()).build(b"pfx-check")))


def _file_replace_change_only(share: Share) -> str:
    folder = share[0]
    target, temp = f"{folder}\\iisccscheck{SUFFIX}.pfx", f"{folder}\\iisccscheck{SUFFIX}.tmp"
    return _map(share, f"iisccscheck{SUFFIX}") + (
        f"try {{ [IO.File]::WriteAllText({_ps(target)}, 'one'); [IO.File]::WriteAllText({_ps(temp)}, 'two'); "
        f"try {{ [IO.File]::Replace({_ps(temp)}, {_ps(target)}, [NullString]::Value); $r.three_arguments = 'ok' }} "
        "catch { $r.three_arguments = $_.Exception.InnerException.Message + ' ' + $_.Exception.Message } "
        f"if (-not [IO.File]::Exists({_ps(temp)})) {{ [IO.File]::WriteAllText({_ps(temp)}, 'three') }}; "
        f"try {{ [IO.File]::Replace({_ps(temp)}, {_ps(target)}, [NullString]::Value, $true); $r.four_arguments = 'ok' }} "
        "catch { $r.four_arguments = $_.Exception.Message } "
        f"}} finally {{ Remove-Item -LiteralPath {_ps(target)}, {_ps(temp)} -Force -ErrorAction SilentlyContinue; "
        f"Remove-PSDrive -Name iisccscheck{SUFFIX} -Force -ErrorAction SilentlyContinue }}")


def _two_accounts(observer: t.Any) -> tuple[Share, Share]:
    share, user2, password2 = _share(), os.environ.get("IIS_CCS_WINDOWS_SHARE_USER2", ""), os.environ.get("IIS_CCS_WINDOWS_SHARE_PASSWORD2", "")
    if share is None or not (user2 and password2):
        observer.needs_configuration("IIS_CCS_WINDOWS_SHARE*, plus IIS_CCS_WINDOWS_SHARE_USER2 / _PASSWORD2 on the same server")
    share = t.cast(Share, share)
    return share, (share[0], user2, password2)


def _error_1219(shares: tuple[Share, Share]) -> str:
    share, second = shares
    return _map(share, f"iisccscheck{SUFFIX}a") + (
        f"try {{ try {{ {_map(second, f'iisccscheck{SUFFIX}b')} $r.second = 'ok' }} catch {{ $r.second = $_.Exception.Message; "
        "$r.hresult = $_.Exception.HResult } } finally { "
        f"Remove-PSDrive -Name iisccscheck{SUFFIX}a, iisccscheck{SUFFIX}b -Force -ErrorAction SilentlyContinue }}")


def _remove_psdrive_2250(share: Share) -> str:
    return _map(share, f"iisccscheck{SUFFIX}") + (
        f"$null = net.exe use {_ps(_root(share[0]))} /delete /y 2>&1; "
        f"try {{ Remove-PSDrive -Name iisccscheck{SUFFIX} -Force; $r.remove = 'ok' }} catch {{ $r.remove = $_.Exception.Message; "
        "$r.type = $_.Exception.GetType().FullName }")


def _new_psdrive_leak(share: Share) -> str:
    path, user, password = share
    root = _root(path)
    missing = path + "\\iisccscheck-missing"
    return (f"$cred = [pscredential]::new({_ps(user)}, (ConvertTo-SecureString -String {_ps(password)} -AsPlainText -Force)); "
            f"try {{ $null = New-PSDrive -Name iisccscheck{SUFFIX} -PSProvider FileSystem -Root {_ps(missing)} -Credential $cred; "
            "$r.mapping = 'ok' } catch { $r.mapping = $_.Exception.Message }; "
            f"$r.connections_after = @(net.exe use | Select-String -SimpleMatch {_ps(root)} | ForEach-Object {{ $_.Line.Trim() }}); "
            f"$null = net.exe use {_ps(root)} /delete /y 2>&1")


def _server_service(_nothing_needed: None) -> str:
    return "$r.lanmanserver = [string](Get-Service -Name LanmanServer).Status"


def _language_mode(_nothing_needed: None) -> str:
    # __PSLockdownPolicy=4 forces ConstrainedLanguage in a new powershell.exe: Microsoft's test hook.
    return ("$env:__PSLockdownPolicy = '4'; "
            "try { $r.child_mode = (powershell.exe -NoProfile -Command '$ExecutionContext.SessionState.LanguageMode' | Out-String).Trim() } "
            "finally { Remove-Item Env:__PSLockdownPolicy }; $r.session_mode = [string]$ExecutionContext.SessionState.LanguageMode")


def _provider_cmdlets(_nothing_needed: None) -> str:
    names = ["Enable-WebCentralCertProvider", "Set-WebCentralCertProvider", "Disable-WebCentralCertProvider", "Clear-WebCentralCertProvider",
             "Get-WebCentralCertProvider", "Clear-IISCentralCertProvider"]
    return (f"foreach ($n in @({', '.join(_ps(n) for n in names)})) {{ $c = Get-Command -Name $n -ErrorAction SilentlyContinue; "
            "$r[$n] = if ($c) { @{ module = [string]$c.ModuleName; version = [string]$c.Version; parameters = @($c.Parameters.Keys) } } else { $null } }")


def _directory_exists_double_hop(share: Share) -> str:
    return (f"$r.exists = [IO.Directory]::Exists({_ps(share[0])}); "
            f"try {{ $null = [IO.Directory]::GetFiles({_ps(share[0])}, '*.pfx'); $r.listing = 'ok' }} "
            "catch { $r.listing = $_.Exception.InnerException.GetType().FullName + ': ' + $_.Exception.Message }")


def _provider_path_as_caller(share: Share) -> str:
    path, user, password = share
    return _SNAPSHOT + (
        f"try {{ try {{ Enable-WebCentralCertProvider -CertStoreLocation {_ps(path)} -UserName {_ps(user)} -Password {_ps(password)}; "
        "$r.without_mapping = 'ok' } catch { $r.without_mapping = $_.Exception.Message } }" + _RESTORE)


def _clear_private_key_password_scope(share: Share) -> str:
    _path, user, password = share
    folder = f"C:\\iisccscheck{SUFFIX}"
    return _SNAPSHOT + (
        f"$null = New-Item -ItemType Directory -Path '{folder}' -Force; try {{ "
        f"Enable-WebCentralCertProvider -CertStoreLocation '{folder}' -UserName {_ps(user)} -Password {_ps(password)} -PrivateKeyPassword 'pk-check'; "
        f"$r.before = {_values()}; Clear-WebCentralCertProvider -PrivateKeyPassword; $r.after = {_values()}; "
        f"$r.private_key_password_left = $null -ne (Get-ItemProperty -LiteralPath '{_PROVIDER_KEY}' -Name PrivateKeyPassword -ErrorAction SilentlyContinue) }}"
        + _RESTORE.replace(" finally { ", f" finally {{ Remove-Item -LiteralPath '{folder}' -Recurse -Force -ErrorAction SilentlyContinue; "))


def _hash_binding_edit_ipport(_nothing_needed: None) -> str:
    port, site = random.randint(40000, 49999), f"iisccscheck{SUFFIX}"
    return ("$cert = New-SelfSignedCertificate -DnsName 'check.iis-ccs.test' -CertStoreLocation Cert:\\LocalMachine\\My; "
            "Add-Type -Path \"$env:windir\\System32\\inetsrv\\Microsoft.Web.Administration.dll\"; try { "
            "$m = New-Object Microsoft.Web.Administration.ServerManager; "
            f"$s = $m.Sites.Add('{site}', '*:{port}:', \"$env:TEMP\", $cert.GetCertHash(), 'My'); $m.CommitChanges(); Start-Sleep -Seconds 1; "
            f"$r.before = @(Get-ChildItem (Join-Path $hp 'SslBindingInfo') | Where-Object {{ $_.PSChildName -like '*:{port}' }}).PSChildName; "
            f"$m = New-Object Microsoft.Web.Administration.ServerManager; $b = $m.Sites['{site}'].Bindings[0]; "
            "foreach ($n in @('certificateHash', 'certificateStoreName')) { $a = $b.Attributes[$n]; if ($a) { $a.Delete() } }; "
            "$m.CommitChanges(); Start-Sleep -Seconds 1; "
            f"$r.after = @(Get-ChildItem (Join-Path $hp 'SslBindingInfo') | Where-Object {{ $_.PSChildName -like '*:{port}' }}).PSChildName "
            f"}} finally {{ $m = New-Object Microsoft.Web.Administration.ServerManager; $x = $m.Sites['{site}']; "
            "if ($x) { $m.Sites.Remove($x); $m.CommitChanges() }; "
            f"$null = netsh.exe http delete sslcert ipport=0.0.0.0:{port} 2>&1; "
            "Remove-Item -LiteralPath ('Cert:\\LocalMachine\\My\\' + $cert.Thumbprint) -Force }")


def _coarse_share(observer: t.Any) -> Share:
    share, coarse = _share(), os.environ.get("IIS_CCS_WINDOWS_COARSE_SHARE", "")
    if share is None or not coarse:
        observer.needs_configuration("IIS_CCS_WINDOWS_COARSE_SHARE (FAT or NAS folder) and the share account")
    share = t.cast(Share, share)
    return coarse, share[1], share[2]


def _timestamp_granularity(coarse: Share) -> str:
    target = f"{coarse[0]}\\iisccscheck{SUFFIX}.txt"
    return _map(coarse, f"iisccscheck{SUFFIX}") + (
        f"try {{ [IO.File]::WriteAllText({_ps(target)}, 'x'); $set = [DateTime]::new(638000000001234567, 'Utc'); "
        f"[IO.File]::SetLastWriteTimeUtc({_ps(target)}, $set); $r.set = $set.Ticks; "
        f"$r.read_at_once = [IO.FileInfo]::new({_ps(target)}).LastWriteTimeUtc.Ticks; "
        f"Start-Sleep -Seconds 12; $r.read_later = [IO.FileInfo]::new({_ps(target)}).LastWriteTimeUtc.Ticks }} finally {{ "
        f"Remove-Item -LiteralPath {_ps(target)} -Force -ErrorAction SilentlyContinue; "
        f"Remove-PSDrive -Name iisccscheck{SUFFIX} -Force -ErrorAction SilentlyContinue }}")


def _nothing(_observer: t.Any) -> None:
    return None


def _share_for(what: str) -> t.Callable[[t.Any], Share]:
    """The share configuration, or "needs configuration: <what>" (what the probe needs of the share)."""
    return lambda observer: _require_share(observer, what)


_SHARE = "IIS_CCS_WINDOWS_SHARE, _USER, _PASSWORD"
_CHANGE_ONLY = "IIS_CCS_WINDOWS_SHARE, _USER, _PASSWORD: a folder where the account has Change, not Full"


@dataclasses.dataclass(frozen=True)
class Probe:
    """One host question: what configuration it needs, the PowerShell that answers it, and what the answer leaves open."""

    question: str  # its id in tests/windows/questions.py
    script: t.Callable[[t.Any], str]  # given what `needs` returned: sets $r, cleans up in its own finally
    needs: t.Callable[[t.Any], t.Any] = _nothing  # given the observer: the configuration, or it reports what is missing
    detail: str = ""


PROBES: tuple[Probe, ...] = (
    Probe("sslccs-subkey-names", _sslccs_subkey_names),
    Probe("iis-creates-ccs-entry", _iis_creates_ccs_entry),
    Probe("ecdsa-pfx-2016", _ecdsa_pfx, detail="load only; serving an ECDSA certificate through CCS stays open"),
    Probe("aes256-pfx", _aes256_pfx),
    Probe("file-replace-change-only", _file_replace_change_only, _share_for(_CHANGE_ONLY)),
    Probe("error-1219", _error_1219, _two_accounts),
    Probe("remove-psdrive-2250", _remove_psdrive_2250, _share_for(_SHARE)),
    Probe("new-psdrive-leak", _new_psdrive_leak, _share_for(_SHARE)),
    Probe("server-service-validatecredentials", _server_service,
          detail="whether ValidateCredentials fails without it needs the service stopped on a disposable node"),
    Probe("language-mode", _language_mode),
    Probe("provider-cmdlets", _provider_cmdlets),
    Probe("directory-exists-double-hop", _directory_exists_double_hop,
          _share_for("IIS_CCS_WINDOWS_SHARE (any UNC folder the WinRM session cannot reach by itself)")),
    Probe("provider-path-as-caller", _provider_path_as_caller,
          _share_for(_SHARE + " (the WinRM account must not reach the share itself)")),
    Probe("clear-private-key-password-scope", _clear_private_key_password_scope,
          _share_for("IIS_CCS_WINDOWS_SHARE_USER / _PASSWORD: an account Enable-WebCentralCertProvider accepts")),
    Probe("hash-binding-edit-ipport", _hash_binding_edit_ipport),
    Probe("timestamp-granularity", _timestamp_granularity, _coarse_share),
)


@pytest.mark.parametrize("probe", PROBES, ids=[probe.question for probe in PROBES])
def test_host_question(probe: Probe, windows_host: t.Any, observe: t.Any) -> None:
    observer = observe(probe.question)
    if on_lab():
        observer.needs_real_host()  # before the configuration: the lab cannot answer whatever is configured
    observer.answered(_probe(windows_host, probe.script(probe.needs(observer))), probe.detail)


def test_every_host_question_has_one_probe() -> None:
    """Runs without a host: the table and tests/windows/questions.py agree."""
    host_questions = [q.id for q in QUESTIONS if q.kind == "host"]
    assert sorted(probe.question for probe in PROBES) == sorted(host_questions)


# --- questions the collection's own modules answer (the lab can too) -------------------------------------------
def test_ciphertext_digests_stay_stable(windows_host: t.Any, observe: t.Any) -> None:
    # The provider's secret record compares digests of the stored ciphertext: if they changed between
    # reads, an unchanged second ccs_provider run would see drift and re-apply the secrets.
    observer = observe("ciphertext-digest-stable")
    share = _require_share(observer, "IIS_CCS_WINDOWS_SHARE, _USER, _PASSWORD: a store the provider can be enabled with")
    folder, user, password = share
    task = {"state": "enabled", "store_location": folder, "user_name": user, "password": password,
            "private_key_password": "store-" + SUFFIX, "install_feature": True}
    play = _play(f"    - name: provider\n      iis.ccs.ccs_provider: {json.dumps(task)}")
    try:
        first = windows_host.run(play)
        assert first.rc == 0, first.stdout[-3000:]
        second = windows_host.run(play).task("provider")
        observer.answered({"second_run_changed": second.get("changed"), "secrets": second.get("secrets")},
                          "stable digests mean an unchanged second run (changed false)")
    finally:
        windows_host.run(_play("    - name: provider\n      iis.ccs.ccs_provider: {state: absent}"))


def test_error_shape_over_this_connection(windows_host: t.Any, observe: t.Any) -> None:
    connection = os.environ.get("IIS_CCS_WINDOWS_CONNECTION", "psrp")
    for other in {"winrm", "psrp", "ssh"} - {connection}:
        observe(f"clixml-error-{other}").record("needs a real host", None, f"run tools/windows-check again with IIS_CCS_WINDOWS_CONNECTION={other}")
    observer = observe(f"clixml-error-{connection}")
    missing = f"C:\\iisccscheck{SUFFIX}\\missing"
    task = {"store_location": missing, "user_name": ".\\iisccscheck", "password": "x-" + SUFFIX, "private_key_password": "y-" + SUFFIX}
    run = windows_host.run(_play(f"    - name: provider\n      iis.ccs.ccs_provider: {json.dumps(task)}"), check=True)
    message = str(run.task("provider").get("msg", ""))
    observer.answered({"message": message[:300], "clixml_residue": any(m in message for m in ("#< CLIXML", "_x000D_", "<Objs"))})


def test_renewal_by_a_change_only_publisher(windows_host: t.Any, observe: t.Any, tmp_path: Path) -> None:
    observer = observe("publish-renewal-change-only")
    share = _require_share(observer, "IIS_CCS_WINDOWS_SHARE, _USER, _PASSWORD: a folder where the account has Change, not Full")
    folder, user, password = share
    outcomes = []
    for round_ in range(2):  # the first publish creates (a move); the renewal replaces
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        host_name = f"iisccscheck{SUFFIX}.iis-ccs.test"
        (tmp_path / f"pfx{round_}").write_bytes(base64.b64decode(_pfx(key, serialization.BestAvailableEncryption(b"pfx-check"), host_name)))
        args = {"pfx_path": str(tmp_path / f"pfx{round_}"), "pfx_password": "pfx-check", "host_names": [host_name],
                "private_key_password": "store-" + SUFFIX, "allow_no_private_key_password": False,
                "destinations": [{"type": "host_unc", "name": "share", "path": folder, "user_name": user, "password": password}]}
        run = windows_host.run(_play(f"    - name: publish\n      iis.ccs.ccs_cert_publish: {json.dumps(args)}"))
        result = run.task("publish")
        outcomes.append("ok" if run.rc == 0 else str(result.get("msg", ""))[:300])
    observer.answered({"first_publish": outcomes[0], "renewal": outcomes[1]},
                      f"leaves iisccscheck{SUFFIX}.iis-ccs.test.pfx in the share; tools/windows-check sweeps iisccscheck* names")
