"""iis.ccs.file_share on a real Windows file server (opt-in; the emulated lab does not cover this role).

Needs the ansible.windows collection on the controller and, besides IIS_CCS_WINDOWS_HOST & co
(tests/windows/conftest.py), optionally:
  IIS_CCS_WINDOWS_READ_ACCOUNT    account given read access   (default BUILTIN\\Backup Operators)
  IIS_CCS_WINDOWS_MODIFY_ACCOUNT  account given modify access (default BUILTIN\\Network Configuration Operators)
The defaults are built-in groups every Windows Server has, so the test needs no domain. It creates
C:\\iis-ccs-test-<random> shared as iisccstest<random> and removes both afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
READ = os.environ.get("IIS_CCS_WINDOWS_READ_ACCOUNT", "BUILTIN\\Backup Operators")
MODIFY = os.environ.get("IIS_CCS_WINDOWS_MODIFY_ACCOUNT", "BUILTIN\\Network Configuration Operators")
BROAD = ("everyone", "builtin\\users", "nt authority\\authenticated users")


def _ansible_windows_installed() -> bool:
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "ansible.windows.win_share", "--json"],
                          capture_output=True, text=True, check=False, timeout=120)
    return proc.returncode == 0


READ_BACK = r"""
$acl = Get-Acl -LiteralPath $path
$ntfs = @($acl.Access | ForEach-Object { @{ who = [string]$_.IdentityReference; rights = [string]$_.FileSystemRights; inherited = $_.IsInherited } })
$share = Get-SmbShare -Name $name
$access = @(Get-SmbShareAccess -Name $name | ForEach-Object {
    @{ who = [string]$_.AccountName; right = [string]$_.AccessRight; type = [string]$_.AccessControlType }
})
$Ansible.Result = @{ ntfs = $ntfs; protected = $acl.AreAccessRulesProtected; share = $access; encrypt = $share.EncryptData; path = $share.Path }
"""


def test_file_share_role_least_privilege_and_idempotent(windows_host, tmp_path: Path) -> None:
    if not _ansible_windows_installed():
        pytest.skip("needs the ansible.windows collection (ansible-galaxy collection install ansible.windows)")
    suffix = secrets.token_hex(3)
    path, name = f"C:\\iis-ccs-test-{suffix}", f"iisccstest{suffix}"
    role_vars = {"file_share_path": path, "file_share_name": name, "file_share_read_accounts": [READ],
                 "file_share_modify_accounts": [MODIFY]}
    apply = """
- hosts: win
  gather_facts: false
  roles:
    - iis.ccs.file_share
"""
    try:
        first = windows_host.run(apply, extra_vars=role_vars)
        assert first.rc == 0, first.stdout[-4000:]
        second = windows_host.run(apply, extra_vars=role_vars)
        assert second.rc == 0, second.stdout[-4000:]
        changed = [r["task"] for r in second.results if r["result"].get("changed")]
        assert changed == [], f"second run changed: {changed}"

        read = windows_host.run(f"""
- hosts: win
  gather_facts: false
  tasks:
    - name: read back
      ansible.windows.win_powershell:
        parameters: {{path: '{path}', name: '{name}'}}
        script: |
          param($path, $name)
{''.join('          ' + line + chr(10) for line in READ_BACK.strip().splitlines())}
""")
        assert read.rc == 0, read.stdout[-4000:]
        result = read.task("read back")["result"]
        ntfs = {entry["who"].lower(): entry for entry in result["ntfs"]}
        assert result["protected"] is True, "inheritance from the drive must be cut off"
        assert not [who for who in ntfs if who in BROAD], json.dumps(result["ntfs"])
        assert "ReadAndExecute" in ntfs[READ.lower()]["rights"] and "Modify" not in ntfs[READ.lower()]["rights"]
        assert "Modify" in ntfs[MODIFY.lower()]["rights"]
        share = {(entry["who"].lower(), entry["type"]): entry["right"] for entry in result["share"]}
        assert not [who for who, _type in share if who in BROAD], json.dumps(result["share"])
        assert share[(READ.lower(), "Allow")] == "Read"
        assert share[(MODIFY.lower(), "Allow")] == "Change"
        assert result["encrypt"] is True

        # iis.ccs.ccs_store_info reads the same share through read_store_acl and finds it least-privilege.
        audit = windows_host.run(f"""
- hosts: win
  gather_facts: false
  tasks:
    - name: audit
      iis.ccs.ccs_store_info:
        destinations: [{{type: host_path, path: '{path}'}}]
        allow_no_private_key_password: true
        acl_audit: {{share: '{name}', reader_accounts: ['{READ}'], publisher_accounts: ['{MODIFY}']}}
""")
        assert audit.rc == 0, audit.stdout[-4000:]
        store = audit.task("audit")
        entries = {(e["scope"], e["account"].lower()): e["level"] for e in store["acl"]["entries"] if e["type"] == "Allow"}
        assert entries[("share", READ.lower())] == "read" and entries[("ntfs", READ.lower())] == "read", entries
        assert entries[("share", MODIFY.lower())] == "change" and entries[("ntfs", MODIFY.lower())] == "change", entries
        serious = [f for f in store["findings"] if f["check"] in ("acl_broad_group", "acl_reader_writes", "acl_publisher_full", "acl_reader_cannot_read")]
        assert serious == [], serious
    finally:
        windows_host.run(f"""
- hosts: win
  gather_facts: false
  tasks:
    - ansible.windows.win_share: {{name: '{name}', state: absent}}
    - ansible.windows.win_file: {{path: '{path}', state: absent}}
""")
