# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection plugin that talks to an emulated Windows host of the iis.ccs lab (tests only)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: iis_lab
short_description: Run iis.ccs operations against an emulated Windows host (test lab only)
description:
  - Part of the iis.ccs test lab, never shipped as a plugin. Each host's state lives in a JSON file
    under the folder named by the environment variable C(IIS_LAB_STATE_DIR).
  - Only the iis.ccs host operations are understood; anything else fails loudly.
author: iis.ccs contributors
options:
  lab_host:
    description: Name of the emulated host (its state file name).
    vars:
      - name: inventory_hostname
  lab_profile:
    description: Starting profile of the host (Windows build, features, sites), used when its state file does not exist yet.
    type: dict
    default: {}
    vars:
      - name: iis_lab_profile
  lab_network:
    description: Lab-wide accounts and SMB shares.
    type: dict
    default: {}
    vars:
      - name: iis_lab_network
"""

import os
import sys
import typing as t

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from iis_lab import emulator, faults  # noqa: E402
from iis_lab.errors import LabProtocolError  # noqa: E402
from iis_lab.state import LAB_ACCOUNT  # noqa: E402


class Connection(ConnectionBase):
    transport = "iis_lab"
    has_pipelining = True
    allow_executable = False
    module_implementation_preferences = (".ps1", "")

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._shell_type = "powershell"
        super().__init__(*args, **kwargs)

    def _connect(self) -> "Connection":
        self._connected = True
        return self

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        host = self.get_option("lab_host")
        try:
            answer = emulator.execute(host, self.get_option("lab_profile"), self.get_option("lab_network"), cmd, in_data, account=LAB_ACCOUNT)
        except LabProtocolError as exc:
            raise AnsibleConnectionFailure(f"iis_lab: {exc}") from exc
        if faults.take_connection_drop(host, emulator.operation_of(in_data, answer[1])):
            # What a transport library raises when the peer resets the connection mid-command.
            raise ConnectionResetError(104, "Connection reset by peer (iis_lab fault injection)")
        return answer

    def put_file(self, in_path: str, out_path: str) -> None:
        raise AnsibleConnectionFailure("iis_lab: file transfer is not part of the iis.ccs protocol")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        raise AnsibleConnectionFailure("iis_lab: file transfer is not part of the iis.ccs protocol")

    def close(self) -> None:
        self._connected = False
