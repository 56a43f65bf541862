"""Planning of ccs_provider: which steps, in which order, for which observed state."""

from __future__ import annotations

import functools
import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._provider import secret_record as sr
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import HostState
from ansible_collections.iis.ccs.plugins.plugin_utils._provider.request import ProviderRequest
from ansible_collections.iis.ccs.plugins.plugin_utils._provider.plan import plan, with_record

USER, PASSWORD, KEY, STORE = "LAB\\svc-ccs", "Lab-Reader-Pa55!", "pfx-secret", "\\\\fs01\\ccs"
PW_DIGEST, KEY_DIGEST = "aa" * 32, "bb" * 32


def request(**changes: t.Any) -> ProviderRequest:
    values: dict[str, t.Any] = {"state": "enabled", "store_location": STORE, "user_name": USER, "password": PASSWORD, "private_key_password": KEY}
    values.update(changes)
    return ProviderRequest(**values)


@functools.cache  # scrypt is slow on purpose; one record per distinct argument set is enough
def record(user: str = USER, password: str = PASSWORD, key: str | None = KEY) -> dict[str, str]:
    values = sr.SecretRecord.create(user, password, key).host_values()
    values.update(PasswordCiphertextDigest=PW_DIGEST, PrivateKeyPasswordCiphertextDigest=KEY_DIGEST if key else "")
    return values


def host(provider: dict[str, t.Any] | None = None, provider_record: dict[str, str] | None = None, iis: bool = True, ccs: bool = True,
         build: int = 20348, installation_type: str = "Server") -> HostState:
    components = ({"W3SVC": 1, "CertProvider": 1} if ccs else {"W3SVC": 1}) if iis else None
    return HostState.from_raw({
        "windows": {"hostname": "WEB01", "build": build, "installation_type": installation_type, "product_name": "Windows"},
        "features": {"inetstp": {"MajorVersion": 10} if iis else None, "components": components},
        "provider": provider,
        "provider_record": provider_record,
    })


def enabled_provider(**changes: t.Any) -> dict[str, t.Any]:
    values = {"Enabled": 1, "CertStoreLocation": STORE, "UserName": USER, "PollingInterval": 300,
              "PasswordDigest": PW_DIGEST, "PrivateKeyPasswordDigest": KEY_DIGEST}
    values.update(changes)
    return values


def actions(result: t.Any) -> list[str]:
    return [step.action for step in result.steps]


def test_configured_as_recorded_is_unchanged() -> None:
    result = plan(request(), host(enabled_provider(), record()))
    assert (result.changed, result.steps, result.secrets_reason) == (False, (), "unchanged")
    assert result.before == result.after


def test_fresh_host_installs_the_feature_then_enables_and_records_after_checking_access() -> None:
    result = plan(request(), host(None, None, ccs=False))
    assert actions(result) == ["check_access", "install_features", "enable", "write_record"]
    assert result.steps[1].params == {"names": ["Web-CertProvider"], "method": "server"}
    assert result.secrets_applied and result.secrets_reason == "no_record"
    # Set for the first time: "<set>", not "<re-applied>".
    assert result.after["enabled"] is True and (result.after["password"], result.after["private_key_password"]) == ("<set>", "<set>")


def test_path_change_touches_only_the_path() -> None:
    result = plan(request(store_location="D:\\CCS"), host(enabled_provider(), record()))
    assert actions(result) == ["check_access", "set"]
    assert dict(result.steps[1].params) == {"store_location": "D:\\CCS"}
    assert not result.secrets_applied


def test_a_new_unc_path_carries_the_account_for_mapping_only() -> None:
    # Issue 12 point 7: the host maps the new store with the provider account around Set-WebCentralCertProvider.
    result = plan(request(store_location="\\\\fs02\\ccs"), host(enabled_provider(), record()))
    params = dict(result.steps[1].params)
    assert params["store_location"] == "\\\\fs02\\ccs"
    assert {"map_user_name", "map_password"} <= set(params) and "user_name" not in params
    assert not result.secrets_applied


def test_path_compare_ignores_case_and_trailing_backslash() -> None:
    assert not plan(request(store_location="\\\\FS01\\CCS\\"), host(enabled_provider(), record())).changed


@pytest.mark.parametrize(("changes", "expected_reason"), [({"password": "rotated"}, "rotated"), ({"private_key_password": "new-key"}, "rotated"),
                                                          ({"update_secrets": "always"}, "always")])
def test_secret_changes_set_user_password_and_key_together(changes: dict[str, t.Any], expected_reason: str) -> None:
    result = plan(request(**changes), host(enabled_provider(), record()))
    assert actions(result) == ["check_access", "set", "write_record"]
    assert set(result.steps[1].params) == {"user_name", "password", "private_key_password"}
    assert result.secrets_reason == expected_reason
    # Both secrets were set before, so this run re-applies them.
    assert (result.after["password"], result.after["private_key_password"]) == ("<re-applied>", "<re-applied>")


def test_first_private_key_password_is_set_while_the_account_password_is_re_applied() -> None:
    result = plan(request(), host(enabled_provider(PrivateKeyPasswordDigest=""), record(key=None)))
    assert result.secrets_applied
    assert (result.before["private_key_password"], result.after["private_key_password"]) == ("<not set>", "<set>")
    assert result.after["password"] == "<re-applied>"


def test_ciphertext_changed_outside_ansible_reapplies() -> None:
    result = plan(request(), host(enabled_provider(PasswordDigest="cc" * 32), record()))
    assert result.secrets_reason == "changed_outside_ansible"
    assert actions(result) == ["check_access", "set", "write_record"]


def test_hand_configured_provider_without_record_applies_once() -> None:
    result = plan(request(), host(enabled_provider(), None))
    assert result.secrets_reason == "no_record" and result.changed


def test_disabled_provider_is_enabled_with_all_four_values() -> None:
    result = plan(request(), host(enabled_provider(Enabled=0), record()))
    assert actions(result) == ["check_access", "enable", "write_record"]
    assert set(result.steps[1].params) == {"module", "store_location", "user_name", "password", "private_key_password"}
    assert result.steps[1].params["module"] == "IISAdministration"
    assert result.secrets_reason == "enabling"


def test_opt_out_enables_without_key_password_and_clears_an_old_one() -> None:
    result = plan(request(private_key_password=None), host(enabled_provider(Enabled=0), record()))
    assert actions(result) == ["check_access", "enable", "clear_private_key_password", "write_record"]
    assert "Enable-WebCentralCertProvider" in result.steps[1].description
    assert result.steps[1].params["module"] == "WebAdministration" and result.steps[1].params["private_key_password"] is None
    assert result.after["private_key_password"] == "<not set>"


def test_polling_interval_only() -> None:
    result = plan(request(polling_interval=60), host(enabled_provider(), record()))
    assert actions(result) == ["check_access", "set_polling_interval"]
    assert not plan(request(polling_interval=300), host(enabled_provider(), record())).changed


def test_missing_iis_fails_unless_asked_to_install_it() -> None:
    with pytest.raises(UserInputError, match=r"^install_iis: IIS \(Web-Server\) is not installed"):
        plan(request(), host(None, None, iis=False, ccs=False))
    result = plan(request(install_iis=True), host(None, None, iis=False, ccs=False))
    assert result.steps[1].params == {"names": ["Web-Server", "Web-CertProvider"], "method": "server"}


def test_missing_feature_fails_when_install_feature_is_off() -> None:
    with pytest.raises(UserInputError, match="^install_feature:"):
        plan(request(install_feature=False), host(None, None, ccs=False))


def test_client_sku_uses_optional_features_and_warns_unsupported() -> None:
    result = plan(request(), host(None, None, ccs=False, build=19045, installation_type="Client"))
    assert result.steps[1].params == {"names": ["IIS-CertProvider"], "method": "client"}
    assert len(result.warnings) == 1
    assert "not a supported target" in result.warnings[0] and "Windows Server 2016" in result.warnings[0]


def test_supported_server_has_no_warning() -> None:
    assert plan(request(), host(enabled_provider(), record(), build=14393)).warnings == ()


def test_disable_then_absent() -> None:
    disabled = ProviderRequest(state="disabled", store_location="", user_name="")
    absent = ProviderRequest(state="absent", store_location="", user_name="")
    assert actions(plan(disabled, host(enabled_provider(), record()))) == ["disable"]
    assert not plan(disabled, host(enabled_provider(Enabled=0), record())).changed
    assert not plan(disabled, host(None, None)).changed
    assert actions(plan(absent, host(enabled_provider(Enabled=0), record()))) == ["clear", "delete_record"]
    assert not plan(absent, host(None, None)).changed


def test_diff_views_never_hold_secrets() -> None:
    result = plan(request(password="rotated-secret"), host(enabled_provider(), record()))
    text = repr((result.before, result.after, result.descriptions()))
    assert "rotated-secret" not in text and KEY not in text and PASSWORD not in text


def test_wire_steps_carry_a_fresh_record() -> None:
    result = plan(request(), host(None, None))
    wire = with_record(result.steps, request())
    values = wire[-1]["values"]
    assert wire[-1]["action"] == "write_record"
    assert set(values) == {"Algorithm", "Salt", "SecretsFingerprint"}
    assert values["SecretsFingerprint"] == sr.secrets_fingerprint(values["Salt"], USER, PASSWORD, KEY)
