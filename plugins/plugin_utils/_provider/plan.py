# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning of iis.ccs.ccs_provider: from observed host state and a request to the steps that change it.

Pure: no Ansible, no host. The plan is an ordered list of steps that the host operation
``configure_provider`` performs in that order, in one round trip; the first step of every
plan that changes an enabled provider is the access check, so nothing changes when the
account cannot read the store.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import (
    DEFAULT_POLLING_INTERVAL,
    SERVER_RELEASES,
    FeatureInfo,
    HostState,
    ProviderState,
    WindowsInfo,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._provider import secret_record
from ansible_collections.iis.ccs.plugins.plugin_utils._provider.request import ProviderRequest

SERVER_FEATURES = {"iis": "Web-Server", "ccs": "Web-CertProvider"}
# On client SKUs the optional feature is installed with -All, which brings its parents (IIS itself) along.
CLIENT_FEATURES = {"iis": "IIS-WebServerRole", "ccs": "IIS-CertProvider"}


@dataclass(frozen=True)
class Step:
    action: str
    description: str
    params: t.Mapping[str, t.Any] = field(default_factory=dict, repr=False)

    def wire(self) -> dict[str, t.Any]:
        return {"action": self.action, **self.params}


@dataclass(frozen=True)
class ProviderPlan:
    steps: tuple[Step, ...]
    secrets_applied: bool
    secrets_reason: str
    before: dict[str, t.Any]
    after: dict[str, t.Any]
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    @property
    def needs_access_check(self) -> bool:
        return any(step.action == "check_access" for step in self.steps)

    def descriptions(self) -> list[str]:
        return [step.description for step in self.steps]


def supported_platform_warning(state: HostState) -> list[str]:
    windows = state.windows
    if windows is None or windows.supported:
        return []
    releases = ", ".join(SERVER_RELEASES.values())
    return [
        f"{windows.release} (build {windows.build}, {windows.installation_type or 'unknown type'}) is not a supported target of "
        f"iis.ccs.ccs_provider (supported: {releases}); continuing, but the result is not verified on this build."
    ]


def _sections(state: HostState) -> tuple[WindowsInfo, FeatureInfo, ProviderState]:
    if state.windows is None or state.features is None or state.provider is None:
        raise ValueError("the host state must include the windows, features and provider sections")
    return state.windows, state.features, state.provider


def plan(request: ProviderRequest, state: HostState) -> ProviderPlan:
    """The steps that bring the host to the request, or no steps when it is already there."""
    windows, features, provider = _sections(state)
    before = describe(provider, features.ccs_installed)
    warnings = supported_platform_warning(state)
    if request.state == "enabled":
        return _plan_enabled(request, windows, features, provider, before, warnings)
    steps: list[Step] = []
    if request.state == "disabled" and provider.enabled:
        steps.append(Step("disable", "disable the provider, keeping its settings (Disable-IISCentralCertProvider)"))
    if request.state == "absent":
        if provider.configured or provider.enabled or provider.password_set or provider.private_key_password_set:
            steps.append(Step("clear", "clear the provider settings (Clear-IISCentralCertProvider -Force)"))
        if provider.record:
            steps.append(Step("delete_record", "delete the iis.ccs secret record"))
    after = dict(before)
    if request.state == "disabled":
        after["enabled"] = False
    else:
        after.update(enabled=False, store_location="", user_name="", password="<not set>", private_key_password="<not set>",
                     polling_interval=DEFAULT_POLLING_INTERVAL)
    return ProviderPlan(tuple(steps), False, "not_applicable", before, after, tuple(warnings))


def _plan_enabled(request: ProviderRequest, windows: WindowsInfo, features: FeatureInfo, provider: ProviderState,
                  before: dict[str, t.Any], warnings: list[str]) -> ProviderPlan:
    client = windows.installation_type.lower() == "client"
    names = CLIENT_FEATURES if client else SERVER_FEATURES
    steps: list[Step] = []
    feature_steps = _feature_steps(request, features, names, client)

    secrets = _secret_status(request, provider)
    path_changed = _normal_path(provider.store_location) != _normal_path(request.store_location)
    user_changed = provider.user_name.lower() != request.user_name.lower()
    clear_private_key = request.private_key_password is None and provider.private_key_password_set
    polling_changed = request.polling_interval is not None and request.polling_interval != provider.polling_interval

    provider_steps: list[Step] = []
    secrets_applied = False
    if not provider.enabled or feature_steps:
        # Enable takes all values at once; the IISAdministration cmdlet insists on a
        # private-key password, so the explicit opt-out goes through WebAdministration's.
        module = "IISAdministration" if request.private_key_password else "WebAdministration"
        cmdlet = "Enable-IISCentralCertProvider" if request.private_key_password else "Enable-WebCentralCertProvider"
        provider_steps.append(Step("enable", f"enable the provider with store_location, user_name and secrets ({cmdlet})", {
            "module": module,
            "store_location": request.store_location,
            "user_name": request.user_name,
            "password": request.password,
            "private_key_password": request.private_key_password,
        }))
        secrets_applied = True
        if not secrets.apply:
            secrets = secret_record.SecretStatus(True, "enabling")
    else:
        set_params: dict[str, t.Any] = {}
        what = []
        if path_changed:
            set_params["store_location"] = request.store_location
            what.append("store_location")
        if user_changed or secrets.apply:
            # Set-IISCentralCertProvider only takes UserName and Password together.
            set_params.update(user_name=request.user_name, password=request.password)
            what.append("user_name and password")
            if request.private_key_password:
                set_params["private_key_password"] = request.private_key_password
                what.append("private_key_password")
            secrets_applied = True
        if set_params:
            provider_steps.append(Step("set", f"set {', '.join(what)} (Set-IISCentralCertProvider)", set_params))
    if clear_private_key:
        provider_steps.append(Step("clear_private_key_password", "remove the private-key password (Clear-WebCentralCertProvider -PrivateKeyPassword)"))
    if polling_changed:
        provider_steps.append(Step("set_polling_interval", f"set polling_interval to {request.polling_interval} seconds",
                                   {"polling_interval": request.polling_interval}))
    if secrets_applied or clear_private_key:
        # The host adds the ciphertext digests after applying; the fingerprints are computed
        # when the plan is executed (not in check mode: they are slow on purpose).
        provider_steps.append(Step("write_record", "write the iis.ccs secret record (salted one-way fingerprints, ciphertext digests)"))
    if feature_steps or provider_steps:
        access = Step("check_access", f"check that {request.user_name} can read {request.store_location} from this node", {
            "store_location": request.store_location,
            "user_name": request.user_name,
            "password": request.password,
        })
        steps = [access, *feature_steps, *provider_steps]
    after = {
        "ccs_feature_installed": True,
        "enabled": True,
        "store_location": request.store_location if path_changed or not provider.enabled else provider.store_location,
        "user_name": request.user_name if user_changed or not provider.enabled else provider.user_name,
        "polling_interval": request.polling_interval if request.polling_interval is not None else provider.polling_interval,
        "password": _applied_label(before["password"]) if secrets_applied else before["password"],
        "private_key_password": "<not set>" if request.private_key_password is None
        else (_applied_label(before["private_key_password"]) if secrets_applied else before["private_key_password"]),
    }
    return ProviderPlan(tuple(steps), secrets_applied, secrets.reason if secrets_applied else "unchanged", before, after, tuple(warnings))


def _applied_label(before: str) -> str:
    # A secret set for the first time is "<set>"; only one that was already there is "re-applied".
    return "<re-applied>" if before == "<set>" else "<set>"


def _feature_steps(request: ProviderRequest, features: FeatureInfo, names: t.Mapping[str, str], client: bool) -> list[Step]:
    to_install: list[str] = []
    if not features.iis_installed:
        if not request.install_iis:
            raise UserInputError(
                f"install_iis: IIS ({names['iis']}) is not installed on this host, and the Centralized SSL Certificate Support "
                f"feature needs it; install IIS first, or set install_iis: true"
            )
        to_install.append(names["iis"])
    if not features.ccs_installed:
        if not request.install_feature:
            raise UserInputError(
                f"install_feature: Centralized SSL Certificate Support ({names['ccs']}) is not installed on this host; "
                f"set install_feature: true, or install it first"
            )
        to_install.append(names["ccs"])
    if not to_install:
        return []
    method = "client" if client else "server"
    cmdlet = "Enable-WindowsOptionalFeature -All -NoRestart" if client else "Install-WindowsFeature"
    return [Step("install_features", f"install {', '.join(to_install)} ({cmdlet})", {"names": to_install, "method": method})]


def _secret_status(request: ProviderRequest, provider: ProviderState) -> secret_record.SecretStatus:
    if request.update_secrets == "always":
        return secret_record.SecretStatus(True, "always")
    if not provider.password_set:
        return secret_record.SecretStatus(True, "no_record")
    if request.private_key_password and not provider.private_key_password_set:
        return secret_record.SecretStatus(True, "rotated")
    return secret_record.compare(
        provider.record,
        user_name=request.user_name,
        password=request.password,
        private_key_password=request.private_key_password,
        password_ciphertext_digest=provider.password_digest,
        private_key_password_ciphertext_digest=provider.private_key_password_digest,
    )


def _normal_path(path: str) -> str:
    # NTFS and SMB names are case-insensitive; IIS keeps whatever case it was given.
    return path.rstrip("\\").lower()


def describe(provider: ProviderState, feature_installed: bool) -> dict[str, t.Any]:
    """The provider as --diff shows it: whether each secret is set, never the secret."""
    return {
        "ccs_feature_installed": feature_installed,
        "enabled": provider.enabled,
        "store_location": provider.store_location,
        "user_name": provider.user_name,
        "polling_interval": provider.polling_interval,
        "password": "<set>" if provider.password_set else "<not set>",
        "private_key_password": "<set>" if provider.private_key_password_set else "<not set>",
    }


def with_record(steps: t.Sequence[Step], request: ProviderRequest) -> list[dict[str, t.Any]]:
    """The wire form of the steps, with the write_record step carrying freshly salted fingerprints."""
    wire: list[dict[str, t.Any]] = []
    for step in steps:
        item = step.wire()
        if step.action == "write_record":
            record = secret_record.SecretRecord.create(request.user_name, request.password, request.private_key_password)
            item["values"] = record.host_values()
        wire.append(item)
    return wire
