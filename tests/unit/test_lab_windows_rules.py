"""The lab enforces what Microsoft's documentation says real Windows does (issue 12), for the script it is sent.

Each test runs the lab twice: with the shipped scripts, and with the one call the issue is about
reverted to what the scripts did before (``reverted``). The shipped scripts pass; the reverted
call fails with the registered rule (iis_lab/rules.py) or gives the wrong answer the issue names.
The lab reads what a script does from its text (iis_lab/script_facts.py), so reverting a script in
the repository makes the same tests fail.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._store import records as store_records  # noqa: E402
from iis_lab import emulator, faults, model, rules, script_facts  # noqa: E402
from iis_lab.errors import WindowsError_  # noqa: E402
from iis_lab.network import Network  # noqa: E402
from iis_lab.ops import OpContext  # noqa: E402
from iis_lab.ops.apply_bindings import apply_bindings  # noqa: E402
from iis_lab.ops.cert_store import read_cert_store, write_cert_store  # noqa: E402
from iis_lab.ops.configure_provider import configure_provider  # noqa: E402
from iis_lab.ops.probe_store_access import probe_store_access  # noqa: E402
from iis_lab.state import HostStore, initial_state  # noqa: E402

READER, PUBLISHER, OTHER = "Lab-Reader-Pa55!", "Lab-Publisher-Pa55!", "Other-Pa55"
SHARE = "\\\\fs01\\ccs"


def network(**share: t.Any) -> dict[str, t.Any]:
    entry = {"unc": SHARE, "host": "fs01", "path": "D:\\CCS", "read": ["LAB\\svc-ccs"], "change": ["LAB\\svc-publish"], **share}
    return {"accounts": {"LAB\\svc-ccs": READER, "LAB\\svc-publish": PUBLISHER, "LAB\\svc-other": OTHER, "LAB\\ansible": "A"},
            "winrm_users": ["LAB\\ansible"], "shares": [entry]}


# The pre-issue-12 form of each call: (pattern in the shipped text, what the old script had there).
REVERSIONS: dict[str, tuple[str, str]] = {
    "replace_ignores_metadata_errors": (r"\[NullString\]::Value, \$true\)", "[NullString]::Value)"),
    "validates_with_principal_context": (r"\Z", "\n$valid = $context.ValidateCredentials($account, $password)\n"),
    "checks_language_mode": (r"(.*LanguageMode.*\n)+", ""),  # both loaders
    "drive_removal_guarded": (r"try \{\s*(Remove-PSDrive[^\n]*)\n\s*\} catch \{\s*\$null = \$_\s*\}", r"\1"),
    "failed_mapping_cleaned": (r"net\.exe use \$Root /delete /y", "$null"),
    "folder_probe_surfaces_errors": (r"exists = Test-StoreFolder \$root \(\$null -ne \$drive\)", "exists = [System.IO.Directory]::Exists($root)"),
    "maps_store_for_provider_cmdlets": (r"Invoke-WithStoreMapped \$Step \{ (Enable-WebCentralCertProvider @arguments) \}", r"\1"),
    "repairs_after_private_key_clear": (r"Restore-ProviderValue \$name", "$null"),
    "probes_clear_force": (r"\.Parameters\.ContainsKey\('Force'\)", ".Force"),
    "removes_stale_ipport": (r"Remove-IpPortEntry \$ipPort", "$false"),
}


ABSENT_WHEN_SHIPPED = {"validates_with_principal_context"}


@pytest.fixture(autouse=True)
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    initial_state("fs01", {"features": [], "sites": [], "directories": ["D:\\CCS"]})
    return tmp_path


@pytest.fixture(params=["shipped", "reverted"])
def script(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> t.Callable[[str], bool]:
    """use(fact) -> True when the shipped script runs, False when that fact's call is reverted."""
    shipped = request.param == "shipped"

    def use(fact: str) -> bool:
        if not shipped:
            revert(monkeypatch, fact)
        return shipped

    return use


def revert(monkeypatch: pytest.MonkeyPatch, fact: str) -> None:
    operation, _pattern = script_facts.FACTS[fact]
    find, old = REVERSIONS[fact]
    original = script_facts.source

    def source(name: str) -> str:
        text = original(name)
        return re.sub(find, old, text, count=1) if name == operation else text

    # ValidateCredentials is the one fact the shipped scripts must not show.
    shipped_shows = fact not in ABSENT_WHEN_SHIPPED
    assert script_facts.has(fact) is shipped_shows, f"the shipped scripts no longer match {fact}"
    monkeypatch.setattr(script_facts, "source", source)
    assert script_facts.has(fact) is not shipped_shows, f"the reversion of {fact} does not revert it"


def context(host: str, state: dict[str, t.Any], params: dict[str, t.Any], **share: t.Any) -> OpContext:
    return OpContext(host=host, state=state, network=Network(network(**share)), params=params)


def store_params(user: str | None, password: str, *names: str, path: str = SHARE) -> dict[str, t.Any]:
    files = [{"name": n, "data": base64.b64encode(n.encode()).decode(), "sha256": hashlib.sha256(n.encode()).hexdigest(), "mtime": 17_000_000_000_123_456}
             for n in names]
    return {"path": path, "user_name": user, "password": password, "files": files, "removes": [], "stale_temps": [],
            "manifest_name": ".iis-ccs-manifest.json", "manifest_data": base64.b64encode(b"{}").decode(), "temp_prefix": ".iis-ccs-", "temp_suffix": ".tmp",
            "fetch": []}


def web(**profile: t.Any) -> dict[str, t.Any]:
    return initial_state("web01", {"features": ["Web-Server", "Web-CertProvider"], "directories": ["C:\\LocalCCS"], **profile})


def rule_of(excinfo: pytest.ExceptionInfo[WindowsError_]) -> str | None:
    return excinfo.value.rule


# 1. ReplaceFile and Change permission ------------------------------------------------------------------------
def test_renewal_by_a_change_only_publisher(script: t.Callable[[str], bool]) -> None:
    shipped = script("replace_ignores_metadata_errors")
    state = web()
    write_cert_store(context("web01", state, store_params("LAB\\svc-publish", PUBLISHER, "www.pfx")))  # first publish: a move
    renewal = context("web01", state, store_params("LAB\\svc-publish", PUBLISHER, "www.pfx"))
    if shipped:
        assert "www.pfx" in write_cert_store(renewal)["written"]
    else:
        with pytest.raises(WindowsError_, match="is denied") as excinfo:
            write_cert_store(renewal)
        assert rule_of(excinfo) == "replacefile-needs-write-dac"


def test_replace_without_ignore_flag_works_with_full_but_ntfs_modify_caps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    revert(monkeypatch, "replace_ignores_metadata_errors")
    state = web()
    full = {"full": ["LAB\\svc-publish"], "change": []}
    for _write in range(2):
        write_cert_store(context("web01", state, store_params("LAB\\svc-publish", PUBLISHER, "a.pfx"), **full))
    with pytest.raises(WindowsError_, match="is denied") as excinfo:
        write_cert_store(context("web01", state, store_params("LAB\\svc-publish", PUBLISHER, "a.pfx"), **full, ntfs={"LAB\\svc-publish": "Modify"}))
    assert rule_of(excinfo) == "replacefile-needs-write-dac"


def test_writing_needs_change_on_both_share_and_ntfs() -> None:
    with pytest.raises(WindowsError_, match="is denied") as excinfo:
        write_cert_store(context("web01", web(), store_params("LAB\\svc-publish", PUBLISHER, "a.pfx"), ntfs={"LAB\\svc-publish": "Read"}))
    assert rule_of(excinfo) == "effective-access-is-lesser"


# 2. The access check on hardened nodes ---------------------------------------------------------------------------
def test_access_check_does_not_need_the_server_service(script: t.Callable[[str], bool]) -> None:
    shipped = script("validates_with_principal_context")
    ctx = context("web01", web(server_service="stopped"), {"store_location": SHARE, "user_name": "LAB\\svc-ccs", "password": READER})
    if shipped:
        assert probe_store_access(ctx) == {"readable": True, "logon_checked": True}
    else:
        with pytest.raises(WindowsError_, match="network path was not found") as excinfo:
            probe_store_access(ctx)
        assert rule_of(excinfo) == "validatecredentials-needs-server-service"


def test_a_session_connection_to_this_node_breaks_only_the_old_check(script: t.Callable[[str], bool]) -> None:
    shipped = script("validates_with_principal_context")
    ctx = context("web01", web(smb_sessions={"web01": "LAB\\admin"}), {"store_location": SHARE, "user_name": "LAB\\svc-ccs", "password": READER})
    if shipped:
        assert probe_store_access(ctx)["readable"] is True
    else:
        with pytest.raises(WindowsError_, match="Multiple connections") as excinfo:
            probe_store_access(ctx)
        assert rule_of(excinfo) == "smb-credential-conflict-1219"


def test_credential_conflict_1219_is_named(script: t.Callable[[str], bool]) -> None:
    shipped = script("failed_mapping_cleaned")
    state = web(smb_sessions={"fs01": "LAB\\svc-other"})
    with pytest.raises(WindowsError_) as excinfo:
        probe_store_access(context("web01", state, {"store_location": SHARE, "user_name": "LAB\\svc-ccs", "password": READER}))
    assert rule_of(excinfo) == "smb-credential-conflict-1219"
    assert excinfo.value.message.startswith("store_location: the account 'LAB\\svc-ccs' could not read")
    assert ("other credentials (Windows error 1219)" in excinfo.value.message) is shipped


def test_wrong_password_still_names_the_password() -> None:
    with pytest.raises(WindowsError_, match=r"^password: the account 'LAB\\svc-ccs' could not log on at this node to read"):
        probe_store_access(context("web01", web(), {"store_location": SHARE, "user_name": "LAB\\svc-ccs", "password": "wrong"}))


# 3. Constrained Language Mode --------------------------------------------------------------------------------------
def test_constrained_language_mode_is_one_clear_sentence(script: t.Callable[[str], bool]) -> None:
    shipped = script("checks_language_mode")
    payload = host_ops.encode_payload("read_host_state", {"sections": ["windows"]})
    rc, stdout, stderr = emulator.execute("web01", {"language_mode": "ConstrainedLanguage"}, {}, host_ops.bootstrap_command(), payload)
    assert rc == 0
    with pytest.raises(host_ops.HostOperationError) as failed:
        host_ops.decode_answer("read_host_state", "web01", rc, stdout, stderr)
    error = failed.value.windows_message
    assert (error == host_ops.LANGUAGE_MODE_MESSAGE.format("ConstrainedLanguage")) is shipped
    assert ("Method invocation is supported only on core types" in error) is not shipped


# 4. Remove-PSDrive and New-PSDrive ------------------------------------------------------------------------------
def test_a_lost_connection_at_clean_up_does_not_fail_a_completed_write(script: t.Callable[[str], bool]) -> None:
    shipped = script("drive_removal_guarded")
    faults.set_faults(smb_connection_lost=["web01"])
    state = web()
    if shipped:
        assert "a.pfx" in write_cert_store(context("web01", state, store_params("LAB\\svc-publish", PUBLISHER, "a.pfx")))["written"]
    else:
        with pytest.raises(WindowsError_, match="network connection does not exist") as excinfo:
            write_cert_store(context("web01", state, store_params("LAB\\svc-publish", PUBLISHER, "a.pfx")))
        assert rule_of(excinfo) == "remove-psdrive-2250"


def test_a_failed_mapping_leaves_no_connection_behind(script: t.Callable[[str], bool], monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = script("failed_mapping_cleaned")
    if not shipped:
        # The old script mapped the folder itself, so a missing folder failed the mapping after it had connected.
        revert(monkeypatch, "folder_probe_surfaces_errors")
    state = web()
    missing = store_params("LAB\\svc-ccs", READER, path=SHARE + "\\missing")
    try:
        first = read_cert_store(context("web01", state, missing))
        assert first["exists"] is False
    except WindowsError_ as exc:
        assert not shipped and exc.rule == "new-psdrive-leaks-on-failure"
    assert state["smb_sessions"] == ({} if shipped else {"fs01": "lab\\svc-ccs"})
    second = context("web01", state, store_params("LAB\\svc-publish", PUBLISHER))
    if shipped:
        assert read_cert_store(second)["exists"] is True
    else:
        with pytest.raises(WindowsError_) as excinfo:
            read_cert_store(second)
        assert rule_of(excinfo) == "smb-credential-conflict-1219"


# 5. IISAdministration differences between builds ----------------------------------------------------------------
def test_clear_on_server_2016_without_force(script: t.Callable[[str], bool]) -> None:
    shipped = script("probes_clear_force")
    state = web(windows_build=14393)
    state["registry"][model.PROVIDER_KEY] = {"Enabled": 1, "CertStoreLocation": "C:\\LocalCCS"}
    ctx = context("web01", state, {"steps": [{"action": "clear"}]})
    if shipped:
        assert configure_provider(ctx)["steps"] == ["clear"]
        assert model.registry_key(state, model.PROVIDER_KEY) is None
    else:
        with pytest.raises(WindowsError_, match="'Force'") as excinfo:
            configure_provider(ctx)
        assert rule_of(excinfo) == "clear-iis-provider-force-by-build"


# 6. Directory.Exists and the double hop -------------------------------------------------------------------------
def test_a_second_hop_is_reported_as_such_not_as_a_missing_folder(script: t.Callable[[str], bool]) -> None:
    shipped = script("folder_probe_surfaces_errors")
    ctx = context("web01", web(), store_params(None, ""))
    if shipped:
        with pytest.raises(WindowsError_, match="double hop.*give share credentials, or use CredSSP or Kerberos delegation") as excinfo:
            read_cert_store(ctx)
        assert rule_of(excinfo) == "winrm-double-hop"
    else:
        assert read_cert_store(ctx)["exists"] is False  # what the issue calls the misleading answer


# 7. Enable and Set check the path as the caller -----------------------------------------------------------------
def test_enable_with_a_unc_store_the_winrm_user_cannot_read(script: t.Callable[[str], bool]) -> None:
    shipped = script("maps_store_for_provider_cmdlets")
    state = web()
    step = {"action": "enable", "store_location": SHARE, "user_name": "LAB\\svc-ccs", "password": READER, "private_key_password": "k"}
    ctx = context("web01", state, {"steps": [step]})
    if shipped:
        assert configure_provider(ctx)["provider"]["Enabled"] == 1
        assert state["smb_sessions"] == {}
    else:
        with pytest.raises(WindowsError_, match="does not exist") as excinfo:
            configure_provider(ctx)
        assert rule_of(excinfo) == "provider-cmdlets-check-path-as-caller"


# 8. Converting a certificate-hash binding ------------------------------------------------------------------------
def test_converting_a_hash_binding_removes_its_ipport_entry(script: t.Callable[[str], bool]) -> None:
    shipped = script("removes_stale_ipport")
    binding = {"protocol": "https", "binding_information": "*:443:www.contoso.test", "ssl_flags": 0, "certificate_hash": "AB" * 20, "certificate_store": "My"}
    state = initial_state("web", {"features": ["Web-Server", "Web-CertProvider"], "sites": [{"name": "site", "bindings": [binding]}],
                                  "httpsys": {"ip": ["0.0.0.0:443"]}})
    state["registry"][model.PROVIDER_KEY] = {"Enabled": 1}
    steps = [{"action": "ensure_ccs_entry", "port": 443},
             {"action": "convert_binding", "protocol": "https", "binding_information": "*:443:www.contoso.test", "ssl_flags": 3},
             {"action": "commit"}]
    answer = apply_bindings(OpContext(host="web", state=state, network=Network({}), params={"site": "site", "steps": steps}))
    assert answer["site"]["bindings"] == [{**binding, "ssl_flags": 3, "certificate_hash": "", "certificate_store": ""}]
    assert (answer["httpsys"]["ip"] == []) is shipped
    assert (answer["steps"][-1].get("removed_ipport") == ["0.0.0.0:443"]) is shipped


def test_an_ipport_entry_still_used_by_another_binding_stays() -> None:
    bindings = [{"protocol": "https", "binding_information": f"*:443:{h}", "ssl_flags": 0, "certificate_hash": "AB" * 20, "certificate_store": "My"}
                for h in ("a.test", "b.test")]
    state = initial_state("web", {"features": ["Web-Server", "Web-CertProvider"], "sites": [{"name": "site", "bindings": bindings}],
                                  "httpsys": {"ip": ["0.0.0.0:443"]}})
    state["registry"][model.PROVIDER_KEY] = {"Enabled": 1}
    steps = [{"action": "convert_binding", "protocol": "https", "binding_information": "*:443:a.test", "ssl_flags": 3}, {"action": "commit"}]
    answer = apply_bindings(OpContext(host="web", state=state, network=Network({}), params={"site": "site", "steps": steps}))
    assert answer["httpsys"]["ip"] == ["0.0.0.0:443"]


# 9. Timestamp granularity ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("granularity_ticks", [store_records.MTIME_GRANULARITY_TICKS, 1], ids=["shipped", "reverted"])
def test_a_coarse_file_system_keeps_a_published_file_trusted(granularity_ticks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_records, "MTIME_GRANULARITY_TICKS", granularity_ticks)
    state = web()
    written = write_cert_store(context("web01", state, store_params("LAB\\svc-publish", PUBLISHER, "a.pfx"), timestamp_granularity=2))["written"]["a.pfx"]
    listed = {f["name"]: f for f in read_cert_store(context("web01", state, store_params("LAB\\svc-ccs", READER), timestamp_granularity=2))["files"]}
    assert listed["a.pfx"]["mtime"] != written["mtime"]  # rule fs-timestamp-granularity: the file system kept less
    assert store_records.same_mtime(written["mtime"], listed["a.pfx"]["mtime"]) is (granularity_ticks > 1)


# 10. Clear-WebCentralCertProvider -PrivateKeyPassword ------------------------------------------------------------
@pytest.mark.parametrize("removes_all", [False, True], ids=["clears-only-the-password", "removes-all-settings"])
def test_clearing_the_private_key_password_keeps_the_provider(removes_all: bool, script: t.Callable[[str], bool]) -> None:
    shipped = script("repairs_after_private_key_clear")
    state = web(clear_private_key_password_removes_all=removes_all)
    state["registry"][model.PROVIDER_KEY] = {"Enabled": 1, "CertStoreLocation": "C:\\LocalCCS", "UserName": "LAB\\svc-ccs", "Password": "x",
                                             "PrivateKeyPassword": "y", "PollingInterval": 300}
    answer = configure_provider(context("web01", state, {"steps": [{"action": "clear_private_key_password"}]}))
    values = model.registry_key(state, model.PROVIDER_KEY) or {}
    assert "PrivateKeyPassword" not in values
    survived = values.get("Enabled") == 1 and values.get("CertStoreLocation") == "C:\\LocalCCS"
    assert survived is (shipped or not removes_all)
    assert answer["repaired"] == (["Enabled", "CertStoreLocation", "UserName", "Password", "PollingInterval"] if shipped and removes_all else [])


# The registry ------------------------------------------------------------------------------------------------------
def test_every_raised_rule_is_registered_with_a_source() -> None:
    raised = set()
    for path in (Path(rules.__file__).parent).rglob("*.py"):
        raised |= set(re.findall(r'rule="([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
        raised |= set(re.findall(r'\brule=\S*"([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert raised, "no rule is raised anywhere"
    assert raised <= set(rules.RULES), f"raised but not registered: {sorted(raised - set(rules.RULES))}"
    for rule in rules.RULES.values():
        assert rule.summary and (rule.source.startswith("https://learn.microsoft.com/") or rule.source.startswith("docs/")), rule.id


def test_every_fact_has_a_reversion_that_reverts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(REVERSIONS) == set(script_facts.FACTS)
    for fact in script_facts.FACTS:
        with monkeypatch.context() as patch:
            revert(patch, fact)


def test_a_workgroup_file_server_account_is_not_taken_for_a_domain(script: t.Callable[[str], bool]) -> None:
    shipped = script("validates_with_principal_context")
    with HostStore("fs01", {"features": [], "sites": [], "directories": ["D:\\CCS"], "local_accounts": {"ccsreader": "Fs-Pa55"}}).locked():
        pass
    ctx = context("web01", web(), {"store_location": SHARE, "user_name": "FS01\\ccsreader", "password": "Fs-Pa55"}, read=["FS01\\ccsreader"])
    if shipped:
        assert probe_store_access(ctx)["readable"] is True
    else:
        with pytest.raises(WindowsError_, match="could not be contacted") as excinfo:
            probe_store_access(ctx)
        assert rule_of(excinfo) == "validatecredentials-workgroup-as-domain"
