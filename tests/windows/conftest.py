"""Opt-in tests against a real Windows host. Skipped unless IIS_CCS_WINDOWS_HOST is set.

Environment:
  IIS_CCS_WINDOWS_HOST        host name or address (required to run)
  IIS_CCS_WINDOWS_USER        account with local admin rights
  IIS_CCS_WINDOWS_PASSWORD    its password
  IIS_CCS_WINDOWS_CONNECTION  psrp (default), winrm or ssh
  IIS_CCS_WINDOWS_PORT        default 5986 (psrp/winrm over HTTPS) or 22 (ssh)
  IIS_CCS_WINDOWS_CERT_VALIDATION  ignore to skip TLS validation (lab hosts only)
  IIS_CCS_WINDOWS_SCHEME      https (default) or http, for winrm and psrp
  IIS_CCS_WINDOWS_TARGET      "lab" when the target is the emulated lab (tools/windows-check's dry run)
  IIS_CCS_WINDOWS_OBSERVATIONS  file the open-question tests append their observations to
These tests change IIS and CCS configuration: point them at a disposable host.
"""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "playbooks"))

from _lab import Lab  # noqa: E402

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops  # noqa: E402
from _observe import Observer  # noqa: E402


def _inventory(tmp_path: Path) -> Path:
    connection = os.environ.get("IIS_CCS_WINDOWS_CONNECTION", "psrp")
    host_vars: dict[str, t.Any] = {
        "ansible_connection": connection,
        "ansible_user": os.environ.get("IIS_CCS_WINDOWS_USER", ""),
        "ansible_password": os.environ.get("IIS_CCS_WINDOWS_PASSWORD", ""),
        "ansible_port": int(os.environ.get("IIS_CCS_WINDOWS_PORT", "22" if connection == "ssh" else "5986")),
    }
    validation = os.environ.get("IIS_CCS_WINDOWS_CERT_VALIDATION", "validate")
    scheme = os.environ.get("IIS_CCS_WINDOWS_SCHEME", "https")
    if connection == "psrp":
        host_vars.update(ansible_psrp_protocol=scheme, ansible_psrp_cert_validation=validation)
    elif connection == "winrm":
        host_vars.update(ansible_winrm_transport="ntlm", ansible_winrm_server_cert_validation=validation, ansible_winrm_scheme=scheme)
    else:
        host_vars.update(ansible_shell_type="powershell")
    inventory = {"all": {"hosts": {"win": {"ansible_host": os.environ["IIS_CCS_WINDOWS_HOST"], **host_vars}}}}
    path = tmp_path / "windows-inventory.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return path


class WindowsHost(Lab):
    """Same helpers as the lab fixture, aimed at the real host given by the environment."""

    inventory: Path

    def run(self, playbook: t.Any, **kwargs: t.Any) -> t.Any:  # type: ignore[override]
        kwargs.setdefault("inventory", self.inventory)
        return super().run(playbook, **kwargs)

    def raw(self, command: str) -> str:
        """stdout of one ansible.builtin.raw PowerShell command on the host."""
        play = [{"hosts": "win", "gather_facts": False, "tasks": [{"name": "raw", "ansible.builtin.raw": command}]}]
        result = self.run(yaml.safe_dump(play))
        assert result.rc == 0, result.stdout[-3000:]
        return str(result.task("raw")["stdout"])

    def keep_scripts(self) -> None:
        """The host as an earlier run of this collection leaves it: every operation's script kept, so a test
        counts a module's own round trips (tests/windows/test_script_cache_windows.py covers the first contact)."""
        for operation in host_ops.operation_names():
            self.raw(write_kept_script_command(operation))

    def forget_scripts(self) -> None:
        self.raw(f"Remove-Item -LiteralPath (Join-Path ([IO.Path]::GetTempPath()) '{host_ops.SCRIPT_CACHE_FOLDER}') -Recurse -Force "
                 "-ErrorAction SilentlyContinue")


def write_kept_script_command(operation: str) -> str:
    """A raw command writing the operation's script where the loaders keep it (the script is public; no parameter)."""
    compressed = host_ops.encode_call(operation, {}, send_script=True).split(b"\n")[3].decode("ascii")
    return (f"$d=Join-Path ([IO.Path]::GetTempPath()) '{host_ops.SCRIPT_CACHE_FOLDER}';$null=New-Item -ItemType Directory -Force $d;"
            "$m=New-Object IO.MemoryStream;(New-Object IO.Compression.DeflateStream((New-Object IO.MemoryStream(,"
            f"[Convert]::FromBase64String('{compressed}'))),'Decompress')).CopyTo($m);"
            f"[IO.File]::WriteAllBytes((Join-Path $d '{host_ops.script_digest(operation)}.ps1'),$m.ToArray())")


@pytest.fixture
def windows_host(tmp_path: Path) -> WindowsHost:
    if not os.environ.get("IIS_CCS_WINDOWS_HOST"):
        pytest.skip("real-Windows test: set IIS_CCS_WINDOWS_HOST (see tests/windows/conftest.py)")
    (tmp_path / "state").mkdir()
    host = WindowsHost(tmp_path)
    host.inventory = _inventory(tmp_path)
    return host


@pytest.fixture
def observe() -> t.Callable[[str], Observer]:
    """observe(<question id>) records the answer to an open question (tests/windows/questions.py)."""
    return Observer
