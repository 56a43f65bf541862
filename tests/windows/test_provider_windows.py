"""ccs_provider on a real Windows host (opt-in).

Proves what the lab cannot: that Install-WindowsFeature/Enable-WindowsOptionalFeature install
Centralized SSL Certificate Support as configure_provider.ps1 calls them; that the access check
(PrincipalContext.ValidateCredentials, then New-PSDrive -Credential and a listing of the share)
accepts a good account and refuses a wrong password with the documented messages; that
Enable-/Set-/Disable-/Clear-IISCentralCertProvider and the WebAdministration opt-out behave as
the lab models them; that the ciphertext digests of the secret record match what IIS wrote, so
a second run is unchanged; and that nothing prompts. Needs, besides IIS_CCS_WINDOWS_HOST (see
conftest.py):
  IIS_CCS_WINDOWS_STORE            the CCS store path to use (local folder or UNC share)
  IIS_CCS_WINDOWS_STORE_USER       an account that can read it (DOMAIN\\user or .\\user)
  IIS_CCS_WINDOWS_STORE_PASSWORD   its password
The test reconfigures the host's central certificate provider and clears it at the end:
point it at a disposable host.
"""

from __future__ import annotations

import json
import os
import typing as t

import pytest

KEY_PASSWORD = "iis-ccs-windows-test-Key-1!"

TASKS = """
- hosts: win
  gather_facts: false
  vars:
    store_password: "{{{{ lookup('env', 'IIS_CCS_WINDOWS_STORE_PASSWORD') }}}}"
  tasks:
{tasks}
"""


@pytest.fixture
def store() -> dict[str, str]:
    names = ("IIS_CCS_WINDOWS_STORE", "IIS_CCS_WINDOWS_STORE_USER", "IIS_CCS_WINDOWS_STORE_PASSWORD")
    values = {name: os.environ.get(name, "") for name in names}
    if not all(values.values()):
        pytest.skip("real-Windows provider test: set " + ", ".join(names))
    return {"store_location": values[names[0]], "user_name": values[names[1]]}


def provider_task(name: str, args: dict[str, t.Any], ignore_errors: bool = False) -> str:
    text = f"    - name: {name}\n      iis.ccs.ccs_provider: {json.dumps(args)}\n"
    return text + ("      ignore_errors: true\n" if ignore_errors else "")


def run(windows_host: t.Any, *tasks: str, check: bool = False) -> t.Any:
    return windows_host.run(TASKS.format(tasks="".join(tasks)), check=check, diff=True)


def test_enable_rerun_wrong_password_disable_and_clear_on_real_windows(windows_host, store):
    enabled = {**store, "password": "{{ store_password }}", "private_key_password": KEY_PASSWORD, "polling_interval": 120}
    try:
        first = run(windows_host, provider_task("enable", enabled), provider_task("again", enabled))
        assert first.rc == 0, first.stdout[-4000:]
        assert first.task("enable")["provider"]["enabled"] is True
        # The record's ciphertext digests match what IIS wrote: the second run is unchanged, in one round trip.
        again = first.task("again")
        assert (again["changed"], again["round_trips"]) == (False, 1), again

        wrong = run(windows_host, provider_task("wrong", {**enabled, "password": "definitely-not-the-password"}, ignore_errors=True))
        result = wrong.task("wrong")
        assert result["failed"] is True and "password: the account" in result["msg"]
        unchanged = run(windows_host, provider_task("still", enabled)).task("still")
        assert unchanged["changed"] is False, "a refused change must leave the configuration (and its ciphertext) as it was"

        missing = run(windows_host, provider_task("missing", {**enabled, "store_location": store["store_location"] + "\\iis-ccs-missing"},
                                                  ignore_errors=True))
        assert missing.task("missing")["msg"].find("store_location: the account") != -1

        rotated = run(windows_host, provider_task("rotate", {**enabled, "private_key_password": KEY_PASSWORD + "2"}))
        assert rotated.task("rotate")["secrets"]["reason"] == "rotated"

        disabled = run(windows_host, provider_task("disable", {"state": "disabled"}), provider_task("disable again", {"state": "disabled"}))
        assert disabled.task("disable")["changed"] is True and disabled.task("disable again")["changed"] is False
    finally:
        cleared = run(windows_host, provider_task("clear", {"state": "absent"}), provider_task("clear again", {"state": "absent"}))
    assert cleared.rc == 0, cleared.stdout[-4000:]
    assert cleared.task("clear again")["changed"] is False
