"""The bootstrap command line must be one that ansible-core's winrm and psrp plugins run as-is.

ansible-core 2.19 recognises an already-encoded PowerShell command only by the literal
prefix its shell plugin builds; anything else is wrapped in a second PowerShell (winrm)
or run as script text (psrp), which would lose stdin. These tests pin that contract.
"""

from __future__ import annotations

import base64

from ansible.plugins.shell import powershell

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops


def test_command_starts_with_ansible_core_encoded_prefix():
    prefix = " ".join(powershell._common_args) + " -EncodedCommand "
    assert host_ops.bootstrap_command().startswith(prefix)


def test_command_is_the_bootstrap_and_nothing_else():
    parts = host_ops.bootstrap_command().split(" ")
    assert parts[-2] == "-EncodedCommand"
    assert base64.b64decode(parts[-1]).decode("utf-16-le") == host_ops.LAUNCHER


def test_psrp_recognises_the_command_as_encoded():
    # Newer ansible-core parses any -EncodedCommand command line; older ones match the prefix.
    try:
        from ansible._internal._powershell import _script
    except ImportError:
        return_value = host_ops.bootstrap_command().startswith(" ".join(powershell._common_args))
        assert return_value
    else:
        parsed = _script.parse_encoded_cmdline(host_ops.bootstrap_command())
        assert parsed is not None and parsed[0] == host_ops.LAUNCHER
