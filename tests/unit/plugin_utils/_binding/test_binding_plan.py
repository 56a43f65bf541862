"""Unit tests of the ccs_binding request parsing and plan: pure Python, no Ansible run, no host."""

from __future__ import annotations

import typing as t

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_BINDING
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._binding.plan import (
    ADD,
    CONVERT,
    REMOVE,
    SET_FLAGS,
    desired_flags,
    plan_bindings,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._binding.request import BindingRequest, parse_request
from ansible_collections.iis.ccs.plugins.plugin_utils._core.binding_keys import canonical_ip
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import Binding, HttpSysState, Site

NO_HTTPSYS = HttpSysState((), (), ())
CCS_443 = HttpSysState((), (), (443,))


def request(**params: t.Any) -> BindingRequest:
    """Parse params the way the action plugin does: argument spec defaults first."""
    params.setdefault("site", "web")
    params.setdefault("host_names", ["www.example.com"])
    validated = ArgumentSpecValidator(**CCS_BINDING).validate(params)
    assert not validated.error_messages, validated.error_messages
    return parse_request(validated.validated_parameters)


def site(*bindings: Binding) -> Site:
    return Site("web", 1, tuple(bindings))


def https(info: str, flags: int = 3, certificate_hash: str = "") -> Binding:
    ip, port, host = info.rsplit(":", 2)
    return Binding("https", ip, int(port), host, flags, certificate_hash, "My" if certificate_hash else "")


def test_new_name_is_added_after_the_ccs_entry_and_committed_once():
    plan = plan_bindings(request(host_names=["a.example.com", "b.example.com"]), site(), NO_HTTPSYS)
    assert [s["action"] for s in plan.steps()] == ["ensure_ccs_entry", ADD, ADD, "commit"]
    assert plan.steps()[1] == {"action": ADD, "protocol": "https", "binding_information": "*:443:a.example.com", "ssl_flags": 3}


def test_unchanged_binding_plans_nothing():
    plan = plan_bindings(request(), site(https("*:443:www.example.com")), CCS_443)
    assert plan.changed is False and plan.steps() == []


@pytest.mark.parametrize("existing", [3 | 4, 3 | 64, 3 | 4 | 8 | 16 | 32 | 64, 3 | 128])
def test_bits_not_managed_are_preserved(existing):
    plan = plan_bindings(request(), site(https("*:443:www.example.com", existing)), CCS_443)
    assert plan.changed is False
    assert plan.after[0].ssl_flags == existing


def test_setting_one_flag_keeps_the_others_and_unknown_high_bits():
    existing = 3 | 4 | 64 | 256
    plan = plan_bindings(request(disable_quic=True), site(https("*:443:www.example.com", existing)), CCS_443)
    (change,) = plan.changes
    assert (change.action, change.ssl_flags_before, change.ssl_flags) == (SET_FLAGS, existing, existing | 16)


def test_clearing_a_flag_clears_only_that_bit():
    existing = 3 | 4 | 32
    assert desired_flags(request(disable_http2=False), existing) == 3 | 32


def test_sni_false_clears_only_the_sni_bit():
    assert desired_flags(request(sni=False), 3 | 8) == 2 | 8


def test_thumbprint_binding_is_converted_in_place():
    old = https("*:443:www.example.com", 1, certificate_hash="AB" * 20)
    plan = plan_bindings(request(), site(https("*:443:first.example.com"), old), HttpSysState((), ("www.example.com:443",), (443,)))
    (change,) = plan.changes
    assert change.action == CONVERT and change.binding_information == "*:443:www.example.com"
    # Same position, same key, one binding: no duplicate.
    assert [b.binding_information for b in plan.after] == ["*:443:first.example.com", "*:443:www.example.com"]
    assert plan.after[1].certificate_hash == "" and plan.after[1].ssl_flags == 3
    assert plan.delete_sni_entries == ("www.example.com:443",)
    assert [s["action"] for s in plan.steps()] == [CONVERT, "commit", "delete_sni_entry"]


def test_http_binding_on_the_port_becomes_https_instead_of_a_duplicate():
    http = Binding("http", "*", 443, "www.example.com")
    plan = plan_bindings(request(), site(http), CCS_443)
    (change,) = plan.changes
    assert (change.action, change.protocol) == (CONVERT, "http")
    assert [(b.protocol, b.binding_information) for b in plan.after] == [("https", "*:443:www.example.com")]


def test_http_binding_on_another_port_is_not_touched():
    http = Binding("http", "*", 80, "www.example.com")
    plan = plan_bindings(request(), site(http), CCS_443)
    assert [c.action for c in plan.changes] == [ADD]
    assert plan.after[0] == http


def test_ip_star_matches_only_star_bindings():
    specific = https("10.0.0.5:443:www.example.com")
    plan = plan_bindings(request(state="absent"), site(specific), CCS_443)
    assert plan.changed is False
    plan = plan_bindings(request(state="present"), site(specific), CCS_443)
    assert [(c.action, c.binding_information) for c in plan.changes] == [(ADD, "*:443:www.example.com")]


def test_ip_spelling_does_not_matter():
    assert canonical_ip("[0:0:0:0:0:0:0:1]") == canonical_ip("::1") == "[::1]"
    plan = plan_bindings(request(ip="::1"), site(https("[0::1]:443:www.example.com")), CCS_443)
    assert plan.changed is False


def test_host_matching_is_case_insensitive_and_idn_aware():
    plan = plan_bindings(
        request(host_names=["WWW.Example.COM", "bücher.example.com"]), site(https("*:443:www.example.com"), https("*:443:xn--bcher-kva.example.com")), CCS_443
    )
    assert plan.changed is False


def test_exclusive_removes_other_https_on_the_port_after_additions():
    keep_http = Binding("http", "*", 80, "")
    other_port = https("*:8443:x.example.com")
    plan = plan_bindings(
        request(exclusive=True, host_names=["new.example.com"]),
        site(keep_http, https("*:443:old.example.com"), https("10.0.0.5:443:new.example.com"), other_port),
        CCS_443,
    )
    assert [(s["action"], s["binding_information"]) for s in plan.steps() if "binding_information" in s] == [
        (ADD, "*:443:new.example.com"),
        (REMOVE, "*:443:old.example.com"),
        (REMOVE, "10.0.0.5:443:new.example.com"),
    ]
    assert plan.after == (keep_http, other_port, https("*:443:new.example.com"))
    assert plan.remove_ccs_entry_if_unused is False


def test_removing_the_last_ccs_binding_asks_the_host_about_the_ccs_entry():
    plan = plan_bindings(request(state="absent"), site(https("*:443:www.example.com")), CCS_443)
    assert [s["action"] for s in plan.steps()] == [REMOVE, "commit", "remove_ccs_entry_if_unused"]


def test_removing_a_thumbprint_binding_does_not_touch_the_ccs_entry():
    plan = plan_bindings(request(state="absent"), site(https("*:443:www.example.com", 1, "AB" * 20)), HttpSysState((), ("www.example.com:443",), (443,)))
    assert plan.remove_ccs_entry_if_unused is False
    assert plan.delete_sni_entries == ("www.example.com:443",)


def test_missing_ccs_entry_alone_is_a_change():
    plan = plan_bindings(request(), site(https("*:443:www.example.com")), NO_HTTPSYS)
    assert plan.changed is True
    assert plan.steps() == [{"action": "ensure_ccs_entry", "port": 443}]


def test_two_hundred_names_plan_in_order():
    names = [f"h{index}.example.com" for index in range(200)]
    plan = plan_bindings(request(host_names=names), site(), CCS_443)
    assert [s["binding_information"] for s in plan.steps()[:-1]] == [f"*:443:{n}" for n in names]


def test_duplicate_names_collapse():
    parsed = request(host_names=["www.example.com", "WWW.EXAMPLE.COM"])
    assert [e.ascii for e in parsed.host_names] == ["www.example.com"]


@pytest.mark.parametrize(
    ("params", "option"),
    [
        ({"host_names": [""]}, "host_names"),
        ({"host_names": []}, "host_names"),
        ({"host_names": ["a b.example.com"]}, "host_names"),
        ({"host_names": ["a'b.example.com"]}, "host_names"),
        ({"host_names": ["$(x).example.com"]}, "host_names"),
        ({"host_names": ["a`b.example.com"]}, "host_names"),
        ({"host_names": ["a.example.com\n"]}, "host_names"),
        ({"host_names": ["a.*.example.com"]}, "host_names"),
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"ip": "1.2.3"}, "ip"),
        ({"ip": "*.*"}, "ip"),
        ({"site": ""}, "site"),
        ({"site": " web"}, "site"),
        ({"site": 'web"; rm'}, "site"),
        ({"site": "web$(x)"}, "site"),
        ({"site": "web\x00"}, "site"),
        ({"site": "web\n"}, "site"),
        ({"state": "absent", "disable_http2": False}, "disable_http2"),
    ],
)
def test_bad_input_names_the_option(params, option):
    with pytest.raises(UserInputError, match=option):
        request(**params)


@pytest.mark.parametrize(("site", "rule", "not_said"), [("web\n", "cannot contain '\\n'", "spaces"), (" web", "leading or trailing spaces", "contain")])
def test_a_bad_site_name_is_told_the_rule_it_broke(site: str, rule: str, not_said: str) -> None:
    with pytest.raises(UserInputError) as raised:
        request(site=site)
    assert rule in str(raised.value) and not_said not in str(raised.value)


def test_ip_forms_are_normalised():
    assert request(ip="").ip == "*"
    assert request(ip="[2001:db8::0001]").ip == "[2001:db8::1]"
    assert request(ip="10.0.0.5").ip == "10.0.0.5"
