"""The two provider scripts share the access check: keep the copies identical, so check mode probes what apply checks."""

from __future__ import annotations

import re
from pathlib import Path

OPERATIONS = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / "_operations"


def function_text(script: str, name: str) -> str:
    source = (OPERATIONS / script).read_text(encoding="ascii")
    match = re.search(rf"^function {name}\b.*?^}}$", source, re.MULTILINE | re.DOTALL)
    assert match, f"{name} not found in {script}"
    return match.group(0)


def test_access_check_is_the_same_in_configure_and_probe() -> None:
    for name in ("Test-StoreAccess", "Get-InnermostMessage"):
        assert function_text("configure_provider.ps1", name) == function_text("probe_store_access.ps1", name)


def test_the_prompting_credential_cmdlets_are_never_used() -> None:
    for script in ("configure_provider.ps1", "probe_store_access.ps1"):
        assert "CentralCertProviderCredential" not in (OPERATIONS / script).read_text(encoding="ascii")
