"""Emulation of configure_provider.ps1 (and the access check shared with probe_store_access.ps1).

Enforces what the real cmdlets do (docs/ccs-behaviour.md#feature, #provider-cmdlets, #provider-secrets): the provider
cmdlets exist only with the CCS feature; the CCS feature cannot be installed without IIS;
Enable-IISCentralCertProvider needs all four values while Enable-WebCentralCertProvider
lets the private-key password be omitted; enabling or setting checks that the path
exists and that the credentials log on ("Credential is invalid."); Set fails while the
provider is disabled and takes UserName and Password only together; Disable keeps the
settings; Clear removes them. Secrets are stored encrypted with the host's machine key.
Steps change the state in place, in order, as on Windows: a failing step leaves the
earlier ones done and the later ones not. The rules of issue 12 (iis_lab/rules.py) follow the
script that was sent (iis_lab/script_facts.py): the access check by share mapping or by
ValidateCredentials, Enable/Set with or without the provider account's share mapped, the
-Force probe of Clear-IISCentralCertProvider, and the repair after clearing the private-key password.
"""

from __future__ import annotations

import typing as t

from .. import model, script_facts
from ..errors import WindowsError_
from ..rules import enforced, register
from ..state import machine_encrypt
from . import OpContext, operation, smb_session
from .read_host_state import _provider_view

DEFAULT_POLLING_INTERVAL = 300
_NOT_RECOGNIZED = "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program."
_SERVER_IIS = {"Web-Server"}
_SERVER_CCS = {"Web-CertProvider"}
_CLIENT_IIS = {"IIS-WebServerRole", "IIS-WebServer"}
_CLIENT_CCS = {"IIS-CertProvider"}

_IIS_TESTS = "docs/ccs-behaviour.md#provider-cmdlets; https://github.com/jhkimnew/iistest (IISAdministration.ps1)"
register("provider-cmdlets-need-feature", "The IISAdministration provider cmdlets are unknown until the CCS role service is installed",
         "docs/ccs-behaviour.md#provider-cmdlets")
register("provider-credential-validated", "Enable/Set-IISCentralCertProvider refuse an account that cannot log on: 'Credential is invalid.'",
         _IIS_TESTS)
register("provider-path-must-exist", "Enable/Set-IISCentralCertProvider refuse a store path that does not exist", _IIS_TESTS)
register("enable-needs-all-values", "Enable-*CentralCertProvider: CertStoreLocation, UserName and Password are mandatory",
         "https://learn.microsoft.com/en-us/powershell/module/iisadministration/enable-iiscentralcertprovider")
register("set-needs-enabled-provider", "Set-IISCentralCertProvider fails while the provider is disabled", _IIS_TESTS)
register("set-user-and-password-together", "Set-IISCentralCertProvider takes UserName and Password only together", _IIS_TESTS)
register("optional-feature-client-only", "Enable-WindowsOptionalFeature on a Server edition does not know the client feature names",
         "https://learn.microsoft.com/en-us/powershell/module/dism/enable-windowsoptionalfeature; docs/ccs-behaviour.md#feature")
register("install-windowsfeature-server-only", "Install-WindowsFeature exists only on Server editions",
         "https://learn.microsoft.com/en-us/powershell/module/servermanager/install-windowsfeature; docs/ccs-behaviour.md#feature")
register("feature-name-must-be-known", "Install-WindowsFeature refuses a role or feature name it does not know",
         "https://learn.microsoft.com/en-us/powershell/module/servermanager/install-windowsfeature")
register("ccs-feature-needs-iis", "The CCS role service cannot be installed without the Web Server (IIS) role", "docs/ccs-behaviour.md#feature")
register("dword-range", "A registry DWORD holds 0..4294967295", "https://learn.microsoft.com/en-us/windows/win32/sysinfo/registry-value-types")


def check_store_access(ctx: OpContext, store_location: str, user_name: str, password: str) -> bool:
    """What Test-StoreAccess does; answers whether the credential itself was proven (logon_checked)."""
    if script_facts.has("validates_with_principal_context"):
        _validate_credentials_locally(ctx, user_name)
    elif not store_location.startswith("\\\\"):
        _require_local_folder(ctx, store_location, user_name)
        return False
    try:
        account = smb_session.connect(ctx, store_location, user_name, password) if store_location.startswith("\\\\") else \
            smb_session.logon(ctx, user_name, password, store_location)
    except WindowsError_ as exc:
        if exc.rule == "smb-credential-conflict-1219":
            raise WindowsError_(f"store_location: the account '{user_name}' could not read '{store_location}' from this node: {exc.message}",
                                "System.Management.Automation.RuntimeException", rule=exc.rule) from exc
        raise WindowsError_(
            f"password: the account '{user_name}' could not log on at this node to read '{store_location}': {exc.message}",
            "System.Management.Automation.RuntimeException",
        ) from exc
    try:
        local = ctx.network.resolve(ctx.host, store_location, account, "read")
        if not local.is_dir():
            raise WindowsError_(f"Could not find a part of the path '{store_location}'.", "System.IO.DirectoryNotFoundException")
    except WindowsError_ as exc:
        raise WindowsError_(
            f"store_location: the account '{user_name}' could not read '{store_location}' from this node: {exc.message}",
            "System.Management.Automation.RuntimeException", rule=exc.rule,
        ) from exc
    finally:
        if store_location.startswith("\\\\"):
            smb_session.disconnect(ctx, store_location)
    ctx.log("check_access", store_location=store_location, account=account)
    return True


def _validate_credentials_locally(ctx: OpContext, user_name: str) -> None:
    """The old check, PrincipalContext(Machine).ValidateCredentials: an SMB connection to this node itself,
    and PrincipalContext(Domain, <authority>) for any other SERVER\\user, a workgroup server included."""
    authority = user_name.partition("\\")[0].lower() if "\\" in user_name else ""
    if authority and authority not in (".", ctx.host.lower(), ctx.network.domain.lower(), ctx.network.domain_fqdn) \
            and enforced("validatecredentials-workgroup-as-domain"):
        raise WindowsError_(f"user_name: could not check the account '{user_name}' at this node: The server could not be contacted.",
                            "System.Management.Automation.RuntimeException", rule="validatecredentials-workgroup-as-domain")
    if ctx.state.get("server_service", "running") == "stopped" and enforced("validatecredentials-needs-server-service"):
        raise WindowsError_(f"user_name: could not check the account '{user_name}' at this node: The network path was not found.",
                            "System.Management.Automation.RuntimeException", rule="validatecredentials-needs-server-service")
    held = (ctx.state.get("smb_sessions") or {}).get(ctx.host.lower())
    if held is not None and enforced("smb-credential-conflict-1219"):
        raise WindowsError_(f"user_name: could not check the account '{user_name}' at this node: {smb_session.ERROR_1219}",
                            "System.Management.Automation.RuntimeException", rule="smb-credential-conflict-1219")


def _require_local_folder(ctx: OpContext, store_location: str, user_name: str) -> None:
    if not ctx.network.resolve(ctx.host, store_location).is_dir():
        raise WindowsError_(f"store_location: the account '{user_name}' could not read '{store_location}' from this node: "
                            f"Could not find a part of the path '{store_location}'.", "System.Management.Automation.RuntimeException")
    ctx.log("check_access", store_location=store_location, account=None)


def _require_provider_cmdlets(ctx: OpContext, cmdlet: str) -> None:
    if not model.ccs_installed(ctx.state) and enforced("provider-cmdlets-need-feature"):
        raise WindowsError_(_NOT_RECOGNIZED.format(cmdlet), "System.Management.Automation.CommandNotFoundException", rule="provider-cmdlets-need-feature")


def _validate_location_and_credential(ctx: OpContext, store_location: str | None, user_name: str | None, password: str | None,
                                      map_account: tuple[str, str] | None = None) -> None:
    # The cmdlets validate the credential and that the path exists; their messages (IIS team tests).
    account = None
    if user_name is not None:
        try:
            account = smb_session.logon(ctx, user_name, password or "", store_location or "")
        except WindowsError_ as exc:
            if enforced("provider-credential-validated"):
                raise WindowsError_("Credential is invalid.", "System.ArgumentException", rule="provider-credential-validated") from exc
    if store_location is not None:
        mapping = (user_name, password or "") if user_name is not None else map_account
        mapped = store_location.startswith("\\\\") and mapping is not None and script_facts.has("maps_store_for_provider_cmdlets")
        if mapped and mapping is not None and account is None:
            account = smb_session.logon(ctx, mapping[0], mapping[1], store_location)
        # Unproven, modelled strictly: without the provider account's share mapped, the cmdlet
        # checks the path as the caller (the WinRM account), which may not read the share.
        checked_as = account if mapped else (ctx.network.caller or "anonymous")
        try:
            exists = ctx.network.resolve(ctx.host, store_location, checked_as, "read").is_dir()
        except WindowsError_:
            exists = False
        rule = "provider-cmdlets-check-path-as-caller" if store_location.startswith("\\\\") else "provider-path-must-exist"
        if not exists and enforced(rule):
            raise WindowsError_(f"The path '{store_location}' does not exist.", "System.ArgumentException", rule=rule)


def _enable(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    # Enable-WebCentralCertProvider on every build: the private-key password is optional there.
    private_key_password = step.get("private_key_password")
    cmdlet = "Enable-WebCentralCertProvider"
    _require_provider_cmdlets(ctx, cmdlet)
    for name in ("store_location", "user_name", "password"):
        if not step.get(name) and enforced("enable-needs-all-values"):
            raise WindowsError_(f"Cannot validate argument on parameter '{name}'. The argument is null or empty.",
                                "System.Management.Automation.ParameterBindingValidationException", rule="enable-needs-all-values")
    _validate_location_and_credential(ctx, step["store_location"], step["user_name"], step["password"])
    values = model.ensure_registry_key(ctx.state, model.PROVIDER_KEY)
    values.update(Enabled=1, CertStoreLocation=step["store_location"], UserName=step["user_name"],
                  Password=machine_encrypt(ctx.state, step["password"]))
    if private_key_password:
        values["PrivateKeyPassword"] = machine_encrypt(ctx.state, private_key_password)
    values.setdefault("PollingInterval", DEFAULT_POLLING_INTERVAL)
    ctx.log("enable", cmdlet=cmdlet, store_location=step["store_location"], user_name=step["user_name"])


def _set(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    _require_provider_cmdlets(ctx, "Set-WebCentralCertProvider")
    values = model.registry_key(ctx.state, model.PROVIDER_KEY)
    if (not values or int(values.get("Enabled", 0)) != 1) and enforced("set-needs-enabled-provider"):
        raise WindowsError_("The central certificate provider is not enabled.", "System.InvalidOperationException", rule="set-needs-enabled-provider")
    if (step.get("user_name") is None) != (step.get("password") is None) and enforced("set-user-and-password-together"):
        raise WindowsError_("UserName and Password must be specified together.", "System.ArgumentException", rule="set-user-and-password-together")
    values = values if values is not None else model.ensure_registry_key(ctx.state, model.PROVIDER_KEY)
    map_account = (str(step["map_user_name"]), str(step.get("map_password") or "")) if step.get("map_user_name") else None
    _validate_location_and_credential(ctx, step.get("store_location"), step.get("user_name"), step.get("password"), map_account)
    changed = []
    if step.get("store_location") is not None:
        values["CertStoreLocation"] = step["store_location"]
        changed.append("CertStoreLocation")
    if step.get("user_name") is not None:
        values["UserName"] = step["user_name"]
        values["Password"] = machine_encrypt(ctx.state, step["password"])
        changed += ["UserName", "Password"]
    if step.get("private_key_password"):
        values["PrivateKeyPassword"] = machine_encrypt(ctx.state, step["private_key_password"])
        changed.append("PrivateKeyPassword")
    ctx.log("set", values=changed)


def _install_features(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    names = [str(n) for n in step.get("names") or []]
    client = str(ctx.state["windows"]["installation_type"]).lower() == "client"
    if step.get("method") == "client":
        if not client and enforced("optional-feature-client-only"):
            raise WindowsError_(f"Feature name {names[0]} is unknown.", "System.Runtime.InteropServices.COMException", rule="optional-feature-client-only")
        known_iis, known_ccs = _CLIENT_IIS, _CLIENT_CCS
    else:
        if client and enforced("install-windowsfeature-server-only"):
            raise WindowsError_(_NOT_RECOGNIZED.format("Install-WindowsFeature"), "System.Management.Automation.CommandNotFoundException",
                                rule="install-windowsfeature-server-only")
        known_iis, known_ccs = _SERVER_IIS, _SERVER_CCS
    unknown = [n for n in names if n not in known_iis | known_ccs]
    if unknown and enforced("feature-name-must-be-known"):
        raise WindowsError_(f"ArgumentNotValid: The role, role service, or feature name is not valid: '{unknown[0]}'.",
                            "System.ArgumentException", rule="feature-name-must-be-known")
    # Modelled strictly: the CCS role service needs IIS, which must already be there or come in the same call.
    needs_iis = any(n in known_ccs for n in names) and not model.iis_installed(ctx.state) and not any(n in known_iis for n in names)
    if needs_iis and enforced("ccs-feature-needs-iis"):
        raise WindowsError_(f"Installation of {names[0]} failed: it requires the Web Server (IIS) role, which is not installed.",
                            "System.InvalidOperationException", rule="ccs-feature-needs-iis")
    added = sorted(set(names) - set(ctx.state["features"]))
    ctx.state["features"] = sorted(set(ctx.state["features"]) | set(names))
    # Centralized SSL Certificate Support needs no restart (RestartNeeded: No), so pending_reboot is left as it was.
    ctx.log("install_features", names=added, method=step.get("method"), restart_needed="No")


def _disable(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    _require_provider_cmdlets(ctx, "Disable-WebCentralCertProvider")
    values = model.ensure_registry_key(ctx.state, model.PROVIDER_KEY)
    values["Enabled"] = 0
    ctx.log("disable")


# Server 2016 (build 14393) ships IISAdministration 1.1.0.0, whose Clear-IISCentralCertProvider has no -Force.
CLEAR_FORCE_MINIMUM_BUILD = 17763


def _clear(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    _require_provider_cmdlets(ctx, "Clear-IISCentralCertProvider")
    has_force = int(ctx.state["windows"]["build"]) >= CLEAR_FORCE_MINIMUM_BUILD
    if not has_force and not script_facts.has("probes_clear_force") and enforced("clear-iis-provider-force-by-build"):
        raise WindowsError_("A parameter cannot be found that matches parameter name 'Force'.",
                            "System.Management.Automation.ParameterBindingException", rule="clear-iis-provider-force-by-build")
    if script_facts.has("probes_clear_force"):
        _disable(ctx, step)
    model.delete_registry_key(ctx.state, model.PROVIDER_KEY)
    ctx.log("clear", force=has_force)


def _clear_private_key_password(ctx: OpContext, step: t.Mapping[str, t.Any]) -> list[str]:
    _require_provider_cmdlets(ctx, "Clear-WebCentralCertProvider")
    before = dict(model.registry_key(ctx.state, model.PROVIDER_KEY) or {})
    if ctx.state.get("clear_private_key_password_removes_all") and enforced("clear-web-provider-private-key-scope"):
        # rule clear-web-provider-private-key-scope: the documented reading, every value goes.
        model.delete_registry_key(ctx.state, model.PROVIDER_KEY)
    else:
        (model.registry_key(ctx.state, model.PROVIDER_KEY) or {}).pop("PrivateKeyPassword", None)
    ctx.log("clear_private_key_password")
    if not script_facts.has("repairs_after_private_key_clear"):
        return []
    after = model.ensure_registry_key(ctx.state, model.PROVIDER_KEY) if before else {}
    repaired = [name for name in before if name != "PrivateKeyPassword" and after.get(name) != before[name]]
    for name in repaired:
        after[name] = before[name]
    if repaired:
        ctx.log("repair_provider", values=repaired)
    return repaired


def _set_polling_interval(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    value = int(step["polling_interval"])
    if not 0 <= value <= 0xFFFFFFFF and enforced("dword-range"):
        raise WindowsError_("The value is out of range for a DWORD.", "System.ArgumentOutOfRangeException", rule="dword-range")
    model.ensure_registry_key(ctx.state, model.PROVIDER_KEY)["PollingInterval"] = value
    ctx.log("set_polling_interval", value=value)


def _write_record(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    record = model.ensure_registry_key(ctx.state, model.PROVIDER_RECORD_KEY)
    record.clear()
    record.update({str(k): str(v) for k, v in (step.get("values") or {}).items()})
    provider = model.registry_key(ctx.state, model.PROVIDER_KEY) or {}
    record["PasswordCiphertextDigest"] = model.text_digest(provider.get("Password")) or ""
    record["PrivateKeyPasswordCiphertextDigest"] = model.text_digest(provider.get("PrivateKeyPassword")) or ""
    ctx.log("write_record")


def _delete_record(ctx: OpContext, step: t.Mapping[str, t.Any]) -> None:
    model.delete_registry_key(ctx.state, model.PROVIDER_RECORD_KEY)
    ctx.log("delete_record")


_STEPS: dict[str, t.Callable[[OpContext, t.Mapping[str, t.Any]], t.Any]] = {
    "check_access": lambda ctx, step: check_store_access(ctx, step["store_location"], step["user_name"], step["password"]),
    "install_features": _install_features,
    "enable": _enable,
    "set": _set,
    "clear_private_key_password": _clear_private_key_password,
    "disable": _disable,
    "clear": _clear,
    "set_polling_interval": _set_polling_interval,
    "write_record": _write_record,
    "delete_record": _delete_record,
}


@operation("configure_provider")
def configure_provider(ctx: OpContext) -> dict[str, t.Any]:
    performed: list[str] = []
    repaired: list[str] = []
    for step in ctx.params.get("steps") or []:
        handler = _STEPS.get(str(step.get("action")))
        if handler is None:
            raise WindowsError_(f"configure_provider: unknown step '{step.get('action')}'", "System.Management.Automation.RuntimeException")
        try:
            outcome = handler(ctx, step)
        except WindowsError_ as exc:
            if not performed:
                raise
            raise WindowsError_(f"{exc.message} (steps already applied: {', '.join(performed)})", "System.Management.Automation.RuntimeException",
                                rule=exc.rule) from exc
        if step.get("action") == "clear_private_key_password":
            repaired += list(outcome or [])
        performed.append(step["action"])
    installed = model.iis_installed(ctx.state)
    return {
        "steps": performed,
        "reboot_required": False,
        "repaired": repaired,
        "provider": _provider_view(ctx.state),
        "features": {
            "inetstp": model.inetstp(ctx.state),
            "components": ({"W3SVC": 1, "CertProvider": 1} if model.ccs_installed(ctx.state) else {"W3SVC": 1}) if installed else None,
        },
    }
