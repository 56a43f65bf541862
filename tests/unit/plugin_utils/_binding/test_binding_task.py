"""manage_bindings end to end without Ansible: the real runner over a connection into the lab emulator."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_BINDING
from ansible_collections.iis.ccs.plugins.plugin_utils._binding.request import parse_port
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext, UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._binding.task import manage_bindings
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationError, HostOperationRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lab"))

from iis_lab import emulator, model  # noqa: E402
from iis_lab.state import initial_state, read_state  # noqa: E402


class LabConnection:
    def __init__(self, host: str) -> None:
        self.host = host
        self.before_each: t.Callable[[], None] | None = None

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        if self.before_each is not None:
            self.before_each()
        return emulator.execute(self.host, {}, {}, cmd, in_data)


@pytest.fixture
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    return tmp_path


def seed(lab_dir: Path, *, provider_enabled: bool = True, bindings: list[dict[str, t.Any]] | None = None, build: int = 20348,
         features: t.Sequence[str] = ("Web-Server", "Web-CertProvider")) -> None:
    # A node iis.ccs has run on before (kept_scripts): the round trips counted here are the steady state's.
    state = initial_state("web", {"windows_build": build, "features": list(features), "sites": [{"name": "site", "bindings": bindings or []}],
                                  "kept_scripts": True})
    state["registry"][model.PROVIDER_KEY] = {"Enabled": 1 if provider_enabled else 0}
    (lab_dir / "web.json").write_text(json.dumps(state), encoding="utf-8")


def context(check_mode: bool = False, **params: t.Any) -> TaskContext:
    params.setdefault("site", "site")
    validated = ArgumentSpecValidator(**CCS_BINDING).validate(params)
    assert not validated.error_messages
    return TaskContext(params=validated.validated_parameters, check_mode=check_mode, diff=True, host="web", task_vars={})


def racing_runner(host_names: list[str]) -> HostOperationRunner:
    """A runner whose apply round trip is preceded by another, identical run that completes first."""
    connection = LabConnection("web")
    runner = HostOperationRunner(connection, "web")

    def race() -> None:
        if runner.round_trips == 1:
            connection.before_each = None
            manage_bindings(context(host_names=host_names), HostOperationRunner(LabConnection("web"), "web"))

    connection.before_each = race
    return runner


def test_a_change_made_by_someone_else_between_read_and_apply_is_not_reported_as_ours(lab_dir):
    seed(lab_dir)
    # Just before the apply round trip, another run adds the same binding and ccs entry.
    runner = racing_runner(["www.example.com"])
    with pytest.raises(HostOperationError, match="duplicate collection entry"):
        manage_bindings(context(host_names=["www.example.com"]), runner)
    # IIS refused the duplicate and nothing was committed twice.
    bindings = read_state("web")["sites"][0]["bindings"]
    assert [b["binding_information"] for b in bindings] == ["*:443:www.example.com"]


def test_outcomes_drive_changed_when_only_the_ccs_entry_was_already_there(lab_dir):
    seed(lab_dir, bindings=[{"protocol": "https", "binding_information": "*:443:www.example.com", "ssl_flags": 3}])
    runner = racing_runner(["www.example.com"])
    result = manage_bindings(context(host_names=["www.example.com"]), runner)
    assert result["actions"] == [{"action": "ensure_ccs_entry", "port": 443, "outcome": "present"}]
    assert result["changed"] is False and result["round_trips"] == 2


def test_check_mode_predicts_without_a_second_round_trip(lab_dir):
    seed(lab_dir)
    result = manage_bindings(context(check_mode=True, host_names=["a.example.com"]), HostOperationRunner(LabConnection("web"), "web"))
    assert result["changed"] is True and result["round_trips"] == 1
    assert result["diff"]["after"]["bindings"] == ["https *:443:a.example.com sslFlags=3 (Sni,CentralCertStore)"]
    assert read_state("web")["sites"][0]["bindings"] == []


def test_provider_failure_carries_round_trips(lab_dir):
    seed(lab_dir, provider_enabled=False)
    with pytest.raises(ModuleFailure) as failure:
        manage_bindings(context(host_names=["a.example.com"]), HostOperationRunner(LabConnection("web"), "web"))
    assert failure.value.result == {"changed": False, "round_trips": 1}
    assert "iis.ccs.ccs_provider" in str(failure.value)


def test_absent_does_not_need_the_provider(lab_dir):
    seed(lab_dir, provider_enabled=False, bindings=[{"protocol": "https", "binding_information": "*:443:a.example.com", "ssl_flags": 3}])
    result = manage_bindings(context(host_names=["a.example.com"], state="absent"), HostOperationRunner(LabConnection("web"), "web"))
    assert result["changed"] is True
    assert read_state("web")["sites"][0]["bindings"] == []


def test_wildcard_names_on_iis_8_5_are_refused_before_any_change(lab_dir):
    seed(lab_dir, build=9600)
    runner = HostOperationRunner(LabConnection("web"), "web")
    with pytest.raises(UserInputError, match=r"^host_names: wildcard host names \(\*\.example\.com\) need IIS 10 or later; this host has IIS 8\.5\.$"):
        manage_bindings(context(host_names=["*.example.com", "www.example.com"]), runner)
    assert runner.round_trips == 1
    assert read_state("web")["sites"][0]["bindings"] == []


def test_a_site_on_a_host_without_iis_names_the_missing_role(lab_dir):
    seed(lab_dir, features=())
    with pytest.raises(UserInputError, match="^site: IIS is not installed on this host, so there is no site 'site'; install IIS and "):
        manage_bindings(context(host_names=["www.example.com"], state="absent"), HostOperationRunner(LabConnection("web"), "web"))


@pytest.mark.parametrize("port", ["https", "44x3"])
def test_a_port_that_is_not_a_number_is_refused_by_the_argument_spec(port):
    # So parse_port only ever sees an int (its old "not a number" branch could not happen and is gone).
    validated = ArgumentSpecValidator(**CCS_BINDING).validate({"site": "site", "host_names": ["a.example.com"], "port": port})
    assert any("port" in message for message in validated.error_messages)
    assert parse_port("8443") == 8443
    with pytest.raises(UserInputError, match="^port: 0 is out of range"):
        parse_port(0)


# -- many sites in one task (bindings) -------------------------------------------------------------


def seed_sites(lab_dir: Path, sites: dict[str, list[dict[str, t.Any]]], ccs_ports: t.Sequence[str] = ()) -> None:
    profile = {
        "windows_build": 20348,
        "features": ["Web-Server", "Web-CertProvider"],
        "sites": [{"name": name, "bindings": b} for name, b in sites.items()],
        "httpsys": {"ccs": list(ccs_ports)},
        "kept_scripts": True,  # as in seed(): the steady state's round trips
    }
    state = initial_state("web", profile)
    state["registry"][model.PROVIDER_KEY] = {"Enabled": 1}
    (lab_dir / "web.json").write_text(json.dumps(state), encoding="utf-8")


def batch_context(entries: list[dict[str, t.Any]], check_mode: bool = False, **params: t.Any) -> TaskContext:
    validated = ArgumentSpecValidator(**CCS_BINDING).validate({"bindings": entries, **params})
    assert not validated.error_messages
    return TaskContext(params=validated.validated_parameters, check_mode=check_mode, diff=True, host="web", task_vars={})


def lab_bindings() -> dict[str, list[str]]:
    return {site["name"]: [b["binding_information"] for b in site["bindings"] if b["protocol"] == "https"] for site in read_state("web")["sites"]}


def runner() -> HostOperationRunner:
    return HostOperationRunner(LabConnection("web"), "web")


THREE_SITES = [
    {"site": "shop", "host_names": ["shop.example.com"]},
    {"site": "blog", "host_names": ["blog.example.com", "www.blog.example.com"]},
    {"site": "api", "host_names": ["api.example.com"], "port": 8443},
]


def test_many_sites_are_read_once_applied_per_changed_entry_and_unchanged_in_one_round_trip(lab_dir):
    seed_sites(lab_dir, {"shop": [], "blog": [], "api": []})
    first = manage_bindings(batch_context(THREE_SITES), runner())
    assert first["changed"] is True and first["round_trips"] == 4
    assert [(entry["site"], entry["port"], entry["changed"]) for entry in first["entries"]] == [("shop", 443, True), ("blog", 443, True), ("api", 8443, True)]
    assert first["httpsys"]["ccs_ports"] == [443, 8443]
    assert lab_bindings() == {
        "shop": ["*:443:shop.example.com"],
        "blog": ["*:443:blog.example.com", "*:443:www.blog.example.com"],
        "api": ["*:8443:api.example.com"],
    }

    second = manage_bindings(batch_context(THREE_SITES), runner())
    assert second["changed"] is False and second["round_trips"] == 1
    assert second["diff"] == {"before": {}, "after": {}}
    assert [entry["actions"] for entry in second["entries"]] == [[], [], []]


def test_only_the_entries_that_change_are_applied(lab_dir):
    shop = [{"protocol": "https", "binding_information": "*:443:shop.example.com", "ssl_flags": 3}]
    seed_sites(lab_dir, {"shop": shop, "blog": [], "api": []}, ccs_ports=["0.0.0.0:443"])
    result = manage_bindings(batch_context(THREE_SITES), runner())
    assert result["round_trips"] == 3
    assert [entry["changed"] for entry in result["entries"]] == [False, True, True]
    assert sorted(result["diff"]["after"]) == ["api:8443", "blog:443"]


def test_check_mode_plans_every_entry_in_one_round_trip_and_changes_nothing(lab_dir):
    seed_sites(lab_dir, {"shop": [], "blog": [], "api": []})
    result = manage_bindings(batch_context(THREE_SITES, check_mode=True), runner())
    assert result["changed"] is True and result["round_trips"] == 1
    assert result["diff"]["after"]["api:8443"]["bindings"] == ["https *:8443:api.example.com sslFlags=3 (Sni,CentralCertStore)"]
    assert result["httpsys"]["ccs_ports"] == [443, 8443]
    assert lab_bindings() == {"shop": [], "blog": [], "api": []}


def test_an_option_an_entry_leaves_unset_takes_the_task_level_value(lab_dir):
    seed_sites(lab_dir, {"shop": [], "blog": []})
    entries = [{"site": "shop", "host_names": ["shop.example.com"]}, {"site": "blog", "host_names": ["blog.example.com"], "port": 443, "sni": True}]
    result = manage_bindings(batch_context(entries, port=8443, sni=False), runner())
    assert lab_bindings() == {"shop": ["*:8443:shop.example.com"], "blog": ["*:443:blog.example.com"]}
    shop, blog = (entry["bindings"][0] for entry in result["entries"])
    assert (shop["ssl_flags"], blog["ssl_flags"]) == (2, 3)
    assert any("sni=false" in warning for warning in result["warnings"])


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], r"^bindings: list at least one site entry"),
        (
            [{"site": "shop", "host_names": ["a.example.com"]}, {"site": "SHOP", "host_names": ["b.example.com"]}],
            r"^bindings\[1\]\.site: 'SHOP' on \*:443 is also managed by bindings\[0\]; merge the two entries' host_names into one entry\.$",
        ),
        (
            [{"site": "shop", "host_names": ["a.example.com"]}, {"site": "blog", "host_names": ["A.example.com"]}],
            r"^bindings\[1\]\.host_names: 'a\.example\.com' on \*:443 is also bound to site 'shop' by bindings\[0\]",
        ),
        ([{"site": "shop", "host_names": ["a.example.com"]}, {"site": "blog", "host_names": ["bad name"]}], r"^bindings\[1\]\.host_names: "),
        ([{"site": "shop", "host_names": ["a.example.com"], "port": 0}], r"^bindings\[0\]\.port: 0 is out of range"),
    ],
)
def test_bad_entries_are_refused_before_the_host_is_contacted(lab_dir, entries, message):
    seed_sites(lab_dir, {"shop": [], "blog": []})
    contacted = runner()
    with pytest.raises(UserInputError, match=message):
        manage_bindings(batch_context(entries), contacted)
    assert contacted.round_trips == 0


def test_a_missing_site_in_any_entry_fails_after_one_read_and_changes_nothing(lab_dir):
    seed_sites(lab_dir, {"shop": []})
    contacted = runner()
    entries = [{"site": "shop", "host_names": ["a.example.com"]}, {"site": "nosuch", "host_names": ["b.example.com"]}]
    with pytest.raises(UserInputError, match=r"^bindings\[1\]\.site: there is no IIS site named 'nosuch'"):
        manage_bindings(batch_context(entries), contacted)
    assert contacted.round_trips == 1 and lab_bindings() == {"shop": []}


def test_a_host_name_moves_between_sites_when_the_removal_comes_first(lab_dir):
    seed_sites(lab_dir, {"old": [{"protocol": "https", "binding_information": "*:443:a.example.com", "ssl_flags": 3}], "new": []})
    entries = [{"site": "old", "host_names": ["a.example.com"], "state": "absent"}, {"site": "new", "host_names": ["a.example.com"]}]
    result = manage_bindings(batch_context(entries), runner())
    assert result["changed"] is True
    assert lab_bindings() == {"old": [], "new": ["*:443:a.example.com"]}


def test_an_apply_that_fails_mid_batch_reports_the_entries_already_applied(lab_dir):
    seed_sites(lab_dir, {"shop": [], "blog": []})
    connection = LabConnection("web")
    racing = HostOperationRunner(connection, "web")

    def race() -> None:
        # Just before the second apply, someone else binds the same name on blog: IIS refuses the duplicate.
        if racing.round_trips == 2:
            connection.before_each = None
            manage_bindings(context(site="blog", host_names=["blog.example.com"]), runner())

    connection.before_each = race
    entries = [{"site": "shop", "host_names": ["shop.example.com"]}, {"site": "blog", "host_names": ["blog.example.com"]}]
    with pytest.raises(ModuleFailure, match=r"duplicate collection entry.*\(bindings\[1\], site 'blog': the entries before it were applied") as failure:
        manage_bindings(batch_context(entries), racing)
    assert failure.value.result["changed"] is True and failure.value.result["round_trips"] == 3
    assert [entry["site"] for entry in failure.value.result["entries"]] == ["shop"]
    assert lab_bindings() == {"shop": ["*:443:shop.example.com"], "blog": ["*:443:blog.example.com"]}
    # A re-run converges: both sites already hold what the task wants.
    assert manage_bindings(batch_context(entries), runner())["changed"] is False


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"site": "shop", "host_names": ["a.example.com"], "bindings": [{"site": "blog", "host_names": ["b.example.com"]}]}, "mutually exclusive"),
        ({"site": "shop"}, "required together"),
        ({"port": 443}, "one of the following is required: site, bindings"),
        ({"bindings": [{"site": "shop"}]}, "host_names"),
    ],
)
def test_the_argument_spec_takes_one_site_or_a_list_of_them(params, message):
    validated = ArgumentSpecValidator(**CCS_BINDING).validate(params)
    assert any(message in error for error in validated.error_messages), validated.error_messages
