"""The two provider scripts share the access check: keep the copies identical, so check mode probes what apply checks."""

from __future__ import annotations

import re
from pathlib import Path

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops

OPERATIONS = Path(__file__).resolve().parents[4] / "plugins" / "plugin_utils" / "_operations"


def test_configure_and_probe_share_one_access_check() -> None:
    # Check mode must probe exactly what apply checks: both take Test-StoreAccess from the
    # same shared file, and neither keeps a copy of its own.
    for operation in ("configure_provider", "probe_store_access"):
        assert "store_access" in host_ops.operation_libraries(operation)
        assert not re.search(r"^function Test-StoreAccess", host_ops.load_operation_script(operation), re.MULTILINE)
    assert "function Test-StoreAccess" in (OPERATIONS / "_library" / "store_access.ps1").read_text(encoding="ascii")


def test_the_prompting_credential_cmdlets_are_never_used() -> None:
    for script in ("configure_provider.ps1", "probe_store_access.ps1", "_library/store_access.ps1"):
        assert "CentralCertProviderCredential" not in (OPERATIONS / script).read_text(encoding="ascii")
