"""ccs_provider against the emulated lab: real ansible-playbook runs, state files and operation logs checked."""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import yaml
from _lab import LAB, Lab, PlaybookRun

SHARE = "\\\\fs01\\ccs"
USER = "LAB\\svc-ccs"
PASSWORD = "Lab-Reader-Pa55!"
KEY = "Pfx-Key-Canary-5b1e9c"
PROVIDER_KEY = "HKLM\\SOFTWARE\\Microsoft\\IIS\\CentralCertProvider"
RECORD_KEY = "HKLM\\SOFTWARE\\iis.ccs\\CentralCertProvider"


def provider_args(**changes: t.Any) -> dict[str, t.Any]:
    args = {"store_location": SHARE, "user_name": USER, "password": PASSWORD, "private_key_password": KEY}
    args.update(changes)
    return {k: v for k, v in args.items() if v is not None}


def playbook(*tasks: dict[str, t.Any], host: str = "web01") -> str:
    """A playbook of ccs_provider tasks; each task is {name: args} (args may set ignore_errors)."""
    play_tasks = []
    for task in tasks:
        for name, args in task.items():
            args = dict(args)
            entry: dict[str, t.Any] = {"name": name}
            if args.pop("ignore_errors", False):
                entry["ignore_errors"] = True
            entry["iis.ccs.ccs_provider"] = args
            play_tasks.append(entry)
    plays = [{"hosts": host, "gather_facts": False, "tasks": play_tasks}]
    return yaml.safe_dump(plays, sort_keys=False) + "\n"


def registry(lab: Lab, host: str = "web01", key: str = PROVIDER_KEY) -> dict[str, t.Any]:
    return dict(lab.host_state(host)["registry"].get(key) or {})


def operations(lab: Lab, host: str = "web01", since: int = 0) -> list[str]:
    return [entry["operation"] for entry in lab.oplog(host)[since:]]


def ok(run: PlaybookRun) -> PlaybookRun:
    assert run.rc == 0, run.stdout[-6000:] + run.stderr[-3000:]
    return run


def test_enabling_before_the_file_server_was_ever_contacted_works(lab: Lab) -> None:
    # The lab hosts its declared shares from the start, like a file server that is simply running:
    # \\fs01\ccs exists although no task has run on fs01 yet.
    run = ok(lab.run(playbook({"enable": provider_args()})))
    assert run.task("enable", "web01")["changed"] is True
    assert not (lab.state_dir / "fs01.json").exists(), "fs01 was contacted; the test no longer proves anything"
    assert registry(lab)["CertStoreLocation"] == SHARE


def test_fresh_enable_installs_the_feature_in_two_round_trips_and_a_rerun_costs_one(lab: Lab) -> None:
    assert "Web-CertProvider" not in yaml.safe_load((LAB / "inventory.yml").read_text())["all"]["children"]["web"]["hosts"]["web01"][
        "iis_lab_profile"]["features"]
    first = ok(lab.run(playbook({"enable": provider_args(polling_interval=120)})))
    result = first.task("enable", "web01")
    assert result["changed"] is True and result["round_trips"] == 2
    assert operations(lab) == ["read_host_state", "configure_provider"]
    assert result["steps"][0].startswith("check that LAB\\svc-ccs can read \\\\fs01\\ccs")
    assert any("install Web-CertProvider" in step for step in result["steps"])
    assert result["secrets"] == {"applied": True, "reason": "no_record"}
    assert result["reboot_required"] is False
    assert result["provider"] == {"ccs_feature_installed": True, "enabled": True, "store_location": SHARE, "user_name": USER,
                                  "polling_interval": 120, "password": "<set>", "private_key_password": "<set>"}
    state = lab.host_state("web01")
    assert "Web-CertProvider" in state["features"]
    values = registry(lab)
    assert (values["Enabled"], values["CertStoreLocation"], values["UserName"], values["PollingInterval"]) == (1, SHARE, USER, 120)
    record = registry(lab, key=RECORD_KEY)
    assert set(record) == {"Algorithm", "Salt", "SecretsFingerprint", "PasswordCiphertextDigest", "PrivateKeyPasswordCiphertextDigest"}
    raw_state = json.dumps(state)
    assert PASSWORD not in raw_state and KEY not in raw_state

    before = lab.snapshot()
    second = ok(lab.run(playbook({"enable": provider_args(polling_interval=120)})))
    result = second.task("enable", "web01")
    assert (result["changed"], result["round_trips"], result["steps"]) == (False, 1, [])
    assert result["secrets"] == {"applied": False, "reason": "unchanged"}
    assert operations(lab)[2:] == ["read_host_state"]
    assert lab.snapshot() == before


def test_changing_the_path_touches_only_the_path(lab: Lab) -> None:
    ok(lab.run(playbook({"enable": provider_args()})))
    (lab.state_dir / "fs01.fs" / "d" / "CCS" / "web").mkdir()
    before_values, before_record = registry(lab), registry(lab, key=RECORD_KEY)
    since = len(lab.oplog("web01"))
    run = ok(lab.run(playbook({"move": provider_args(store_location=SHARE + "\\web")}), diff=True))
    result = run.task("move", "web01")
    assert result["changed"] is True and result["round_trips"] == 2
    assert result["steps"][1] == "set store_location (Set-WebCentralCertProvider)"
    assert result["secrets"]["applied"] is False
    assert result["diff"]["before"]["store_location"] == SHARE and result["diff"]["after"]["store_location"] == SHARE + "\\web"
    after_values = registry(lab)
    assert after_values.pop("CertStoreLocation") == SHARE + "\\web"
    before_values.pop("CertStoreLocation")
    assert after_values == before_values  # same ciphertext: the secrets were not touched
    assert registry(lab, key=RECORD_KEY) == before_record
    log = lab.oplog("web01")[since:]
    assert [entry["operation"] for entry in log] == ["read_host_state", "configure_provider"]
    assert [event["event"] for event in log[1]["events"]] == ["check_access", "set"]
    assert log[1]["events"][1]["values"] == ["CertStoreLocation"]


def test_private_key_password_rotation_is_changed_and_the_same_one_is_not(lab: Lab) -> None:
    ok(lab.run(playbook({"enable": provider_args()})))
    old = registry(lab)
    run = ok(lab.run(playbook({"rotate": provider_args(private_key_password=KEY + "-2")}, {"again": provider_args(private_key_password=KEY + "-2")})))
    rotate, again = run.task("rotate", "web01"), run.task("again", "web01")
    assert rotate["changed"] is True and rotate["secrets"] == {"applied": True, "reason": "rotated"}
    assert again["changed"] is False and again["round_trips"] == 1
    new = registry(lab)
    assert new["PrivateKeyPassword"] != old["PrivateKeyPassword"]
    from iis_lab.state import machine_decrypt

    assert machine_decrypt(lab.host_state("web01"), new["PrivateKeyPassword"]) == KEY + "-2"


def test_account_password_rotation_is_changed_and_the_same_one_is_not(lab: Lab) -> None:
    ok(lab.run(playbook({"enable": provider_args()})))
    # The directory changes the account's password; the playbook then rotates it in IIS.
    inventory = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    inventory["all"]["vars"]["iis_lab_network"]["accounts"][USER] = "Rotated-Reader-Pa55!"
    rotated = lab.root / "rotated-inventory.yml"
    rotated.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    rotated_args = provider_args(password="Rotated-Reader-Pa55!")
    run = ok(lab.run(playbook({"rotate": rotated_args}, {"again": rotated_args}), inventory=rotated))
    assert run.task("rotate", "web01")["changed"] is True
    assert run.task("rotate", "web01")["secrets"]["reason"] == "rotated"
    assert run.task("again", "web01")["changed"] is False
    from iis_lab.state import machine_decrypt

    assert machine_decrypt(lab.host_state("web01"), registry(lab)["Password"]) == "Rotated-Reader-Pa55!"


def test_secrets_reset_outside_ansible_are_noticed_and_reapplied(lab: Lab) -> None:
    ok(lab.run(playbook({"enable": provider_args()})))
    # Someone re-types the same password in IIS Manager: IIS writes new ciphertext.
    os.environ["IIS_LAB_STATE_DIR"] = str(lab.state_dir)
    from iis_lab.state import HostStore, machine_encrypt

    with HostStore("web01").locked() as state:
        values = state["registry"][PROVIDER_KEY]
        values["Password"] = machine_encrypt(state, PASSWORD)
    run = ok(lab.run(playbook({"enforce": provider_args()}, {"again": provider_args()})))
    assert run.task("enforce", "web01")["secrets"] == {"applied": True, "reason": "changed_outside_ansible"}
    assert run.task("enforce", "web01")["changed"] is True
    assert run.task("again", "web01")["changed"] is False


def test_hand_configured_provider_without_record_is_applied_once(lab: Lab) -> None:
    ok(lab.run(playbook({"enable": provider_args()})))
    os.environ["IIS_LAB_STATE_DIR"] = str(lab.state_dir)
    from iis_lab.state import HostStore

    with HostStore("web01").locked() as state:
        del state["registry"][RECORD_KEY]
    run = ok(lab.run(playbook({"adopt": provider_args()}, {"again": provider_args()})))
    assert run.task("adopt", "web01")["secrets"] == {"applied": True, "reason": "no_record"}
    assert run.task("again", "web01")["changed"] is False


def test_update_secrets_always_reapplies_every_run(lab: Lab) -> None:
    run = ok(lab.run(playbook({"one": provider_args(update_secrets="always")}, {"two": provider_args(update_secrets="always")})))
    for name in ("one", "two"):
        assert run.task(name, "web01")["changed"] is True
    assert run.task("two", "web01")["secrets"] == {"applied": True, "reason": "always"}


def test_check_mode_leaves_the_lab_byte_identical_and_reports_the_steps(lab: Lab) -> None:
    ok(lab.run("- hosts: fs01,web01\n  gather_facts: false\n  tasks:\n    - iis.ccs.ccs_info:\n"))  # create both state files
    before = lab.snapshot()
    since = len(lab.oplog("web01"))
    run = ok(lab.run(playbook({"enable": provider_args()}), check=True, diff=True))
    result = run.task("enable", "web01")
    assert lab.snapshot() == before
    assert result["changed"] is True
    assert [s.split(" (")[0] for s in result["steps"]] == [
        "check that LAB\\svc-ccs can read \\\\fs01\\ccs from this node", "install Web-CertProvider",
        "enable the provider with store_location, user_name and secrets", "write the iis.ccs secret record"]
    assert result["diff"]["before"]["enabled"] is False and result["diff"]["after"]["enabled"] is True
    # A first set-up sets the secrets; "<re-applied>" is only for secrets that were already there.
    assert (result["diff"]["before"]["password"], result["diff"]["after"]["password"]) == ("<not set>", "<set>")
    # One read plus the read-only access probe.
    assert operations(lab, since=since) == ["read_host_state", "probe_store_access"]
    assert result["round_trips"] == 2

    ok(lab.run(playbook({"enable": provider_args()})))
    since = len(lab.oplog("web01"))
    unchanged = ok(lab.run(playbook({"enable": provider_args()}), check=True)).task("enable", "web01")
    assert (unchanged["changed"], unchanged["round_trips"]) == (False, 1)
    assert operations(lab, since=since) == ["read_host_state"]


def test_check_mode_reports_an_account_that_cannot_read_the_store(lab: Lab) -> None:
    ok(lab.run("- hosts: fs01,web01\n  gather_facts: false\n  tasks:\n    - iis.ccs.ccs_info:\n"))  # create both state files
    before = lab.snapshot()
    run = lab.run(playbook({"enable": provider_args(password="Wrong-Pa55")}), check=True)
    result = run.task("enable", "web01")
    assert result["failed"] is True and "password: the account 'LAB\\svc-ccs' could not log on" in result["msg"]
    assert lab.snapshot() == before


def test_disable_keeps_settings_then_absent_clears_them(lab: Lab) -> None:
    ok(lab.run(playbook({"enable": provider_args()})))
    run = ok(lab.run(playbook({"disable": {"state": "disabled"}}, {"disable again": {"state": "disabled"}}), diff=True))
    disable = run.task("disable", "web01")
    assert disable["changed"] is True and disable["steps"] == ["disable the provider, keeping its settings (Disable-WebCentralCertProvider)"]
    assert disable["diff"]["after"]["enabled"] is False and disable["diff"]["after"]["store_location"] == SHARE
    assert run.task("disable again", "web01")["changed"] is False
    values = registry(lab)
    assert values["Enabled"] == 0 and values["CertStoreLocation"] == SHARE and "Password" in values

    run = ok(lab.run(playbook({"clear": {"state": "absent"}}, {"clear again": {"state": "absent"}})))
    assert run.task("clear", "web01")["changed"] is True
    assert run.task("clear again", "web01")["changed"] is False
    assert run.task("clear again", "web01")["round_trips"] == 1
    assert registry(lab) == {} and registry(lab, key=RECORD_KEY) == {}


def test_enabling_without_private_key_password_needs_the_opt_out_and_warns(lab: Lab) -> None:
    ok(lab.run(playbook()))
    refused = lab.run(playbook({"enable": provider_args(private_key_password=None)}))
    result = refused.task("enable", "web01")
    assert result["failed"] is True and result["msg"].startswith("private_key_password: required")
    assert operations(lab) == []  # refused before the host was even read

    run = ok(lab.run(playbook({"enable": provider_args(private_key_password=None, allow_no_private_key_password=True)})))
    result = run.task("enable", "web01")
    assert result["changed"] is True and any("private_key_password is not set" in w for w in result["warnings"])
    assert "Enable-WebCentralCertProvider" in " ".join(result["steps"])
    assert "PrivateKeyPassword" not in registry(lab)
    again = ok(lab.run(playbook({"enable": provider_args(private_key_password=None, allow_no_private_key_password=True)})))
    assert again.task("enable", "web01")["changed"] is False


def test_missing_iis_fails_clearly_or_is_installed_when_asked(lab: Lab) -> None:
    inventory = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    inventory["all"]["children"]["web"]["hosts"]["web01"]["iis_lab_profile"]["features"] = []
    bare = lab.root / "no-iis-inventory.yml"
    bare.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    refused = lab.run(playbook({"enable": provider_args()}), inventory=bare)
    result = refused.task("enable", "web01")
    assert result["failed"] is True and result["msg"].startswith("install_iis: IIS (Web-Server) is not installed")
    assert operations(lab) == ["read_host_state"]
    run = ok(lab.run(playbook({"enable": provider_args(install_iis=True)}), inventory=bare))
    assert any("install Web-Server, Web-CertProvider" in step for step in run.task("enable", "web01")["steps"])
    assert {"Web-Server", "Web-CertProvider"} <= set(lab.host_state("web01")["features"])


# --- bad input that only the host can detect: the previous configuration stays untouched ---------------------

HOST_BAD_INPUT = [
    ("wrong password", {"password": "Wrong-Pa55!"},
     "password: the account 'LAB\\svc-ccs' could not log on at this node to read '\\\\fs01\\ccs': The user name or password is incorrect."),
    ("unknown account", {"user_name": "LAB\\nobody"}, "password: the account 'LAB\\nobody' could not log on"),
    ("account without read access", {"user_name": "LAB\\svc-web", "password": "Web-Pa55!"},
     "store_location: the account 'LAB\\svc-web' could not read '\\\\fs01\\ccs' from this node: Access to the path '\\\\fs01\\ccs' is denied."),
    ("unreachable share", {"store_location": "\\\\fs02\\ccs"},
     "store_location: the account 'LAB\\svc-ccs' could not read '\\\\fs02\\ccs' from this node: The network name cannot be found."),
    ("missing folder", {"store_location": SHARE + "\\missing"},
     "store_location: the account 'LAB\\svc-ccs' could not read '\\\\fs01\\ccs\\missing' from this node: Could not find a part of the path"),
    ("missing local folder", {"store_location": "C:\\NoSuchStore"}, "store_location: the account 'LAB\\svc-ccs' could not read 'C:\\NoSuchStore'"),
]


def test_host_detected_bad_input_fails_before_anything_changes(lab: Lab) -> None:
    # One more domain account, with no rights on the share.
    inventory = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    inventory["all"]["vars"]["iis_lab_network"]["accounts"]["LAB\\svc-web"] = "Web-Pa55!"
    path = lab.root / "bad-input-inventory.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    ok(lab.run(playbook({"enable": provider_args()}), inventory=path))
    before = lab.snapshot()
    since = len(lab.oplog("web01"))
    tasks = [{name: {**provider_args(**changes), "ignore_errors": True}} for name, changes, _message in HOST_BAD_INPUT]
    run = lab.run(playbook(*tasks), inventory=path)
    for name, _changes, message in HOST_BAD_INPUT:
        result = run.task(name, "web01")
        assert result["failed"] is True, name
        assert message in result["msg"], (name, result["msg"])
        # What failed for the user first; the internal operation name is a separate result key.
        assert result["msg"].startswith("Configuring the CCS provider failed on host 'web01': "), result["msg"]
        assert result["operation"] == "configure_provider" and "configure_provider" not in result["msg"]
        assert "Wrong-Pa55!" not in result["msg"] and "Web-Pa55!" not in result["msg"]
    assert lab.snapshot() == before
    log = lab.oplog("web01")[since:]
    assert [entry["operation"] for entry in log] == ["read_host_state", "configure_provider"] * len(HOST_BAD_INPUT)
    assert all(entry["events"] == [] for entry in log if entry["operation"] == "configure_provider")


def test_unreachable_file_server_fails_and_keeps_the_configuration(lab: Lab) -> None:
    ok(lab.run(playbook({"enable": provider_args()})))
    before = lab.snapshot()
    lab.set_offline("fs01")
    try:
        run = lab.run(playbook({"rotate": provider_args(private_key_password=KEY + "-new")}))
    finally:
        lab.set_offline()
    result = run.task("rotate", "web01")
    assert result["failed"] is True
    assert result["msg"].endswith("store_location: the account 'LAB\\svc-ccs' could not read '\\\\fs01\\ccs' from this node: The network path was not found.")
    after = lab.snapshot()
    after.pop("network-overrides.json", None)
    before.pop("network-overrides.json", None)
    assert after == before
    assert lab.oplog("web01")[-1]["operation"] == "configure_provider" and lab.oplog("web01")[-1]["ok"] is False


def test_pure_validation_fails_before_contacting_the_host(lab: Lab) -> None:
    run = lab.run(playbook({"relative": {**provider_args(store_location="ccs\\store"), "ignore_errors": True}},
                           {"hostile user": {**provider_args(user_name="LAB\\svc$(Remove-Item C:\\)"), "ignore_errors": True}},
                           {"empty user": {**provider_args(user_name=""), "ignore_errors": True}}))
    assert run.task("relative", "web01")["msg"].startswith("store_location:")
    assert run.task("hostile user", "web01")["msg"].startswith("user_name:")
    assert run.task("empty user", "web01")["msg"].startswith("user_name: must not be empty")
    assert operations(lab) == []


# --- canary secrets ----------------------------------------------------------------------------------------

CANARY_ACCOUNT_PASSWORD = "Canary-Acct-Pw-3c8d1f"
CANARY_KEY = "Canary-Pfx-Pw-a41e77"
CANARY_ROTATED_KEY = "Canary-Pfx-Pw-rotated-90bd"
CANARY_WRONG = "Canary-Wrong-Pw-77e0aa"


def canary_inventory(lab: Lab) -> Path:
    inventory = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    inventory["all"]["vars"]["iis_lab_network"]["accounts"][USER] = CANARY_ACCOUNT_PASSWORD
    path = lab.root / "canary-inventory.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return path


def canary_playbook(lab: Lab) -> str:
    """Every kind of ccs_provider run: fresh, unchanged, rotate, always, opt-out, failures, check/diff, disable, absent.

    The secrets come from a vars file, as they would from a vault: ansible-core's own error report
    quotes the failing task's source lines, so a secret written literally into a task would show there
    whatever the module does.
    """
    vars_file = lab.root / "canary-secrets.yml"
    vars_file.write_text(yaml.safe_dump({"account_password": CANARY_ACCOUNT_PASSWORD, "key_password": CANARY_KEY,
                                         "rotated_key_password": CANARY_ROTATED_KEY, "wrong_password": CANARY_WRONG}), encoding="utf-8")
    secret = {"password": "{{ account_password }}", "private_key_password": "{{ key_password }}"}
    rotated = {"password": "{{ account_password }}", "private_key_password": "{{ rotated_key_password }}"}
    tasks = [
        {"enable": provider_args(**secret)},
        {"unchanged": provider_args(**secret)},
        {"rotate": provider_args(**rotated)},
        {"always": provider_args(**rotated, update_secrets="always")},
        {"wrong password": {**provider_args(password="{{ wrong_password }}", private_key_password="{{ key_password }}"), "ignore_errors": True}},
        {"unreachable": {**provider_args(store_location="\\\\fs02\\ccs", **secret), "ignore_errors": True}},
        {"bad path": {**provider_args(store_location="relative", **secret), "ignore_errors": True}},
        {"newline in key": {**provider_args(password="{{ account_password }}", private_key_password="{{ key_password }}\nx"), "ignore_errors": True}},
        {"opt out": provider_args(password="{{ account_password }}", private_key_password=None, allow_no_private_key_password=True)},
        {"disable": {"state": "disabled"}},
        {"absent": {"state": "absent"}},
    ]
    plays = yaml.safe_load(playbook(*tasks))
    plays[-1]["vars_files"] = [str(vars_file)]
    return yaml.safe_dump(plays, sort_keys=False) + "\n"


def test_canary_secrets_never_appear_at_vvvv_in_check_diff_or_runner_artifacts(lab: Lab) -> None:
    from _lab import assert_secrets_absent

    secrets = [CANARY_ACCOUNT_PASSWORD, CANARY_KEY, CANARY_ROTATED_KEY, CANARY_WRONG]
    inventory = canary_inventory(lab)
    text = canary_playbook(lab)
    check = lab.run(text, inventory=inventory, check=True, diff=True, verbosity=4)
    assert check.rc == 0, check.stdout[-4000:]
    vvvv = lab.run(text, inventory=inventory, diff=True, verbosity=4)
    assert vvvv.rc == 0, vvvv.stdout[-4000:]
    assert vvvv.task("enable", "web01")["changed"] is True
    assert vvvv.task("unchanged", "web01")["changed"] is False
    assert vvvv.task("wrong password", "web01")["failed"] is True
    assert vvvv.task("unreachable", "web01")["failed"] is True
    assert vvvv.task("absent", "web01")["changed"] is True
    assert vvvv.task("newline in key", "web01")["msg"].startswith("private_key_password: contains a control character")
    results = json.dumps([r["result"] for r in check.results + vvvv.results])
    for run in (check, vvvv):
        assert_secrets_absent(run.stdout + run.stderr, secrets)
    assert_secrets_absent(results, secrets)
    job = lab.run_runner(text, inventory=inventory)
    # 11 tasks on web01: the 4 meant to fail are ignored, the 7 others succeed.
    job.assert_succeeded(ok={"web01": 7}, ignored={"web01": 4})
    assert_secrets_absent(job.text, secrets)
    # The emulated host keeps secrets only machine-encrypted, and its operation log none.
    for path in lab.host_state_files():
        if path.suffix in (".json", ".jsonl"):
            assert_secrets_absent(path.read_text(encoding="utf-8"), secrets)
