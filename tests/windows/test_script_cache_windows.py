"""The operation scripts a real Windows host keeps (opt-in).

Proves what the lab can only mirror: [IO.Path]::GetTempPath() of the connecting account holds
iis.ccs\\<sha256>.ps1 after the first call; Windows' SHA-256 of the kept bytes is the controller's
digest (the cached loader compares exactly that); a changed file is never run, and the next call
repairs it; and the cached loader runs under Windows PowerShell 5.1 over the configured connection.
"""

from __future__ import annotations

import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

INFO = """
- hosts: win
  gather_facts: false
  tasks:
    - name: info
      iis.ccs.ccs_info:
        gather: [windows]
"""
OPERATION = "read_host_state"


def info_round_trips(windows_host: t.Any) -> int:
    run = windows_host.run(INFO)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.task("info")["windows"]["build"] > 14000
    return int(run.task("info")["round_trips"])


def kept_hash(windows_host: t.Any) -> str:
    path = f"(Join-Path ([IO.Path]::GetTempPath()) '{host_ops.SCRIPT_CACHE_FOLDER}\\{host_ops.script_digest(OPERATION)}.ps1')"
    return windows_host.raw(f"if (Test-Path -LiteralPath {path}) {{ (Get-FileHash -Algorithm SHA256 -LiteralPath {path}).Hash }}").strip()


def test_first_contact_sends_the_script_once_and_windows_hashes_it_as_the_controller_does(windows_host: t.Any) -> None:
    windows_host.forget_scripts()
    assert kept_hash(windows_host) == ""
    assert info_round_trips(windows_host) == 2  # the miss, then the call with the script
    assert kept_hash(windows_host).lower() == host_ops.script_digest(OPERATION)
    assert info_round_trips(windows_host) == 1


def test_a_changed_kept_script_is_not_run_and_the_next_call_repairs_it(windows_host: t.Any) -> None:
    info_round_trips(windows_host)
    path = f"(Join-Path ([IO.Path]::GetTempPath()) '{host_ops.SCRIPT_CACHE_FOLDER}\\{host_ops.script_digest(OPERATION)}.ps1')"
    windows_host.raw(f"Add-Content -LiteralPath {path} -Value 'throw \"a changed kept script ran\"'")
    assert kept_hash(windows_host).lower() != host_ops.script_digest(OPERATION)
    assert info_round_trips(windows_host) == 2  # it was not run: a miss, then the script again (no "ran" error)
    assert kept_hash(windows_host).lower() == host_ops.script_digest(OPERATION)
    assert info_round_trips(windows_host) == 1


def test_warming_writes_exactly_the_bytes_the_loader_would_keep(windows_host: t.Any) -> None:
    windows_host.forget_scripts()
    windows_host.keep_scripts()
    assert kept_hash(windows_host).lower() == host_ops.script_digest(OPERATION)
    assert info_round_trips(windows_host) == 1
