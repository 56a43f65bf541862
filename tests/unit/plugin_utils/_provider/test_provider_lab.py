"""The lab's configure_provider / probe_store_access emulations enforce the documented CCS rules (docs/ccs-behaviour.md#provider-cmdlets)."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lab"))

from iis_lab import model  # noqa: E402
from iis_lab.errors import WindowsError_  # noqa: E402
from iis_lab.network import Network  # noqa: E402
from iis_lab.ops import OpContext  # noqa: E402
from iis_lab.ops.configure_provider import configure_provider  # noqa: E402
from iis_lab.ops.probe_store_access import probe_store_access  # noqa: E402
from iis_lab.state import initial_state, machine_decrypt  # noqa: E402

PASSWORD, KEY = "Lab-Reader-Pa55!", "pfx-secret-canary"
NETWORK = {
    "accounts": {"LAB\\svc-ccs": PASSWORD, "LAB\\svc-other": "Other-Pa55"},
    "shares": [{"unc": "\\\\fs01\\ccs", "host": "fs01", "path": "D:\\CCS", "read": ["LAB\\svc-ccs"]}],
}
ENABLE = {"action": "enable", "module": "IISAdministration", "store_location": "\\\\fs01\\ccs", "user_name": "LAB\\svc-ccs",
          "password": PASSWORD, "private_key_password": KEY}


@pytest.fixture(autouse=True)
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    initial_state("fs01", {"features": [], "sites": [], "directories": ["D:\\CCS"]})
    initial_state("web01", {"directories": ["C:\\LocalCCS"]})
    return tmp_path


def web(features: t.Sequence[str] = ("Web-Server", "Web-CertProvider"), installation_type: str = "Server") -> dict[str, t.Any]:
    return initial_state("web01", {"features": list(features), "installation_type": installation_type})


def run(state: dict[str, t.Any], *steps: dict[str, t.Any]) -> dict[str, t.Any]:
    return configure_provider(OpContext(host="web01", state=state, network=Network(NETWORK), params={"steps": list(steps)}))


def provider(state: dict[str, t.Any]) -> dict[str, t.Any]:
    return model.registry_key(state, model.PROVIDER_KEY) or {}


def test_enable_stores_secrets_encrypted_with_the_machine_key() -> None:
    state = web()
    answer = run(state, ENABLE)
    values = provider(state)
    assert (values["Enabled"], values["CertStoreLocation"], values["PollingInterval"]) == (1, "\\\\fs01\\ccs", 300)
    assert machine_decrypt(state, values["Password"]) == PASSWORD
    assert machine_decrypt(state, values["PrivateKeyPassword"]) == KEY
    serialised = json.dumps(state)
    assert PASSWORD not in serialised and KEY not in serialised
    assert answer["provider"]["PasswordDigest"] == model.text_digest(values["Password"])
    assert "Password" not in answer["provider"]


def test_cmdlets_are_unavailable_without_the_feature() -> None:
    with pytest.raises(WindowsError_, match="'Enable-WebCentralCertProvider' is not recognized"):
        run(web(["Web-Server"]), ENABLE)


def test_feature_cannot_be_installed_without_iis_unless_iis_comes_too() -> None:
    state = web([])
    with pytest.raises(WindowsError_, match="requires the Web Server"):
        run(state, {"action": "install_features", "names": ["Web-CertProvider"], "method": "server"})
    run(state, {"action": "install_features", "names": ["Web-Server", "Web-CertProvider"], "method": "server"}, ENABLE)
    assert model.ccs_installed(state) and state["pending_reboot"] is False


def test_client_sku_needs_the_optional_feature_path() -> None:
    state = web(["IIS-WebServerRole", "IIS-WebServer"], installation_type="Client")
    with pytest.raises(WindowsError_, match="Install-WindowsFeature' is not recognized"):
        run(state, {"action": "install_features", "names": ["Web-CertProvider"], "method": "server"})
    run(state, {"action": "install_features", "names": ["IIS-CertProvider"], "method": "client"}, ENABLE)
    assert provider(state)["Enabled"] == 1


@pytest.mark.parametrize("module", ["IISAdministration", "WebAdministration"])
@pytest.mark.parametrize("missing", [None, ""])
def test_enable_goes_through_webadministration_where_the_private_key_password_is_optional(module: str, missing: str | None) -> None:
    # The script uses Enable-WebCentralCertProvider on every build (issue 12 point 5); the module step value is ignored.
    state = web()
    run(state, {**ENABLE, "module": module, "private_key_password": missing})
    assert provider(state)["Enabled"] == 1 and "PrivateKeyPassword" not in provider(state)


def test_enable_checks_credential_and_path() -> None:
    with pytest.raises(WindowsError_, match=r"^Credential is invalid\.$"):
        run(web(), {**ENABLE, "password": "wrong"})
    with pytest.raises(WindowsError_, match="does not exist"):
        run(web(), {**ENABLE, "store_location": "\\\\fs01\\ccs\\missing"})
    with pytest.raises(WindowsError_, match="does not exist"):
        run(web(), {**ENABLE, "store_location": "C:\\NoSuchFolder"})
    for name in ("store_location", "user_name", "password"):
        with pytest.raises(WindowsError_, match="null or empty"):
            run(web(), {**ENABLE, name: ""})


def test_set_fails_while_disabled_and_needs_user_and_password_together() -> None:
    state = web()
    run(state, ENABLE, {"action": "disable"})
    with pytest.raises(WindowsError_, match="not enabled"):
        run(state, {"action": "set", "store_location": "C:\\LocalCCS"})
    run(state, ENABLE)
    with pytest.raises(WindowsError_, match="together"):
        run(state, {"action": "set", "user_name": "LAB\\svc-ccs"})
    with pytest.raises(WindowsError_, match="together"):
        run(state, {"action": "set", "password": PASSWORD})
    before = dict(provider(state))
    run(state, {"action": "set", "store_location": "C:\\LocalCCS"})
    after = provider(state)
    assert after["CertStoreLocation"] == "C:\\LocalCCS"
    assert {k: v for k, v in after.items() if k != "CertStoreLocation"} == {k: v for k, v in before.items() if k != "CertStoreLocation"}


def test_disable_keeps_settings_and_clear_removes_them() -> None:
    state = web()
    run(state, ENABLE, {"action": "set_polling_interval", "polling_interval": 60}, {"action": "disable"})
    assert provider(state)["Enabled"] == 0 and provider(state)["CertStoreLocation"] == "\\\\fs01\\ccs" and provider(state)["PollingInterval"] == 60
    run(state, {"action": "clear"})
    assert model.registry_key(state, model.PROVIDER_KEY) is None


def test_record_gets_the_digests_of_what_was_written() -> None:
    state = web()
    run(state, ENABLE, {"action": "write_record", "values": {"Algorithm": "a", "Salt": "00"}})
    record = model.registry_key(state, model.PROVIDER_RECORD_KEY) or {}
    assert record["PasswordCiphertextDigest"] == model.text_digest(provider(state)["Password"])
    assert record["PrivateKeyPasswordCiphertextDigest"] == model.text_digest(provider(state)["PrivateKeyPassword"])
    run(state, {"action": "delete_record"})
    assert model.registry_key(state, model.PROVIDER_RECORD_KEY) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"password": "wrong"}, r"^password: the account 'LAB\\svc-ccs' could not log on at this node to read '\\\\fs01\\ccs': The user name or password"),
        ({"user_name": "LAB\\nobody"}, r"^password: the account 'LAB\\nobody' could not log on"),
        ({"user_name": "LAB\\svc-other", "password": "Other-Pa55"}, r"^store_location: the account 'LAB\\svc-other' could not read .*denied"),
        ({"store_location": "\\\\fs02\\ccs"}, r"^store_location: .*could not read '\\\\fs02\\ccs' from this node: The network name cannot be found"),
        ({"store_location": "\\\\fs01\\ccs\\nope"}, r"^store_location: .*Could not find a part of the path"),
        ({"store_location": "C:\\NoSuchFolder"}, r"^store_location: .*Could not find a part of the path"),
    ],
)
def test_access_check_fails_first_and_changes_nothing(changes: dict[str, t.Any], expected: str) -> None:
    state = web(["Web-Server"])
    snapshot = json.dumps(state, sort_keys=True)
    check = {"action": "check_access", "store_location": "\\\\fs01\\ccs", "user_name": "LAB\\svc-ccs", "password": PASSWORD, **changes}
    with pytest.raises(WindowsError_, match=expected):
        run(state, check, {"action": "install_features", "names": ["Web-CertProvider"], "method": "server"}, ENABLE)
    assert json.dumps(state, sort_keys=True) == snapshot
    with pytest.raises(WindowsError_, match=expected):
        probe_store_access(OpContext(host="web01", state=state, network=Network(NETWORK), params=check))


def test_access_check_on_an_offline_file_server(lab_dir: Path) -> None:
    from iis_lab.network import set_offline_hosts

    set_offline_hosts(["fs01"])
    with pytest.raises(WindowsError_, match="^store_location: .*The network path was not found"):
        run(web(), {"action": "check_access", "store_location": "\\\\fs01\\ccs", "user_name": "LAB\\svc-ccs", "password": PASSWORD})


def test_a_failure_after_earlier_steps_names_the_steps_already_applied() -> None:
    state = web(["Web-Server"])
    with pytest.raises(WindowsError_, match=r"^Credential is invalid\. \(steps already applied: install_features\)$"):
        run(state, {"action": "install_features", "names": ["Web-CertProvider"], "method": "server"}, {**ENABLE, "password": "wrong"})
    assert model.ccs_installed(state) and provider(state) == {}
