"""ccs_info's expect: one pure check of a read state, listing every missing or wrong item."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_state import HostState
from ansible_collections.iis.ccs.plugins.plugin_utils._info.expect import check_expectation, parse_expectation

CCS_SNI, CCS_ONLY = 3, 2


def state(bindings: list[tuple[str, int]], *, ccs_ports: t.Sequence[int] = (443,), enabled: bool = True, site: str = "Default Web Site") -> HostState:
    return HostState.from_raw({
        "provider": {"Enabled": 1 if enabled else 0, "CertStoreLocation": "\\\\FS01\\ccs"},
        "sites": [{"name": site, "id": 1, "bindings": [
            {"protocol": "https", "binding_information": info, "ssl_flags": flags} for info, flags in bindings
        ]}],
        "httpsys": {"ccs": [f"0.0.0.0:{port}" for port in ccs_ports]},
    })


def expect(*names: str, **entry: t.Any) -> t.Any:
    return parse_expectation({"store_location": "\\\\fs01\\ccs", "bindings": [{"site": "default web site", "host_names": list(names), **entry}]})


def test_a_node_with_everything_passes() -> None:
    node = state([("*:443:www.contoso.test", CCS_SNI), ("*:443:API.contoso.test", CCS_SNI)])
    result = check_expectation(node, expect("www.contoso.test", "api.contoso.test"))
    assert result == {"passed": True, "problems": [], "checked_bindings": 2}


def test_every_missing_or_wrong_item_is_listed_once() -> None:
    node = state([("*:443:www.contoso.test", CCS_ONLY), ("*:443:old.contoso.test", 1)], ccs_ports=(), enabled=False)
    result = check_expectation(node, expect("www.contoso.test", "old.contoso.test", "shop.contoso.test"))
    assert result["passed"] is False
    problems = result["problems"]
    assert len(problems) == 5, problems
    assert "disabled with store '\\\\FS01\\ccs'" in problems[0]
    assert "*:443:www.contoso.test should be with SNI" in problems[1]
    assert "*:443:old.contoso.test does not take its certificate from the central certificate store" in problems[2]
    assert "site 'default web site': HTTPS binding *:443:shop.contoso.test" in problems[3] and "missing" in problems[3]
    assert "ccs=443" in problems[4]


def test_missing_site_is_named_once_not_per_host_name() -> None:
    result = check_expectation(state([], site="shop"), expect("a.contoso.test", "b.contoso.test"))
    assert result["problems"] == ["there is no IIS site 'default web site'"]


def test_names_compare_by_a_label_and_ips_by_address() -> None:
    node = state([("[::1]:8443:xn--bcher-kva.example", CCS_SNI)], ccs_ports=(8443,))
    result = check_expectation(node, expect("Bücher.example", port=8443, ip="0:0:0:0:0:0:0:1"))
    assert result["passed"], result


def test_sni_false_expects_a_binding_without_sni() -> None:
    node = state([("*:443:www.contoso.test", CCS_SNI)])
    assert not check_expectation(node, expect("www.contoso.test", sni=False))["passed"]


def test_two_hundred_names_are_checked_with_one_index() -> None:
    names = [f"site{n}.contoso.test" for n in range(200)]
    result = check_expectation(state([(f"*:443:{n}", CCS_SNI) for n in names[:150]]), expect(*names))
    assert result["checked_bindings"] == 200
    assert len(result["problems"]) == 50


@pytest.mark.parametrize(("entry", "option"), [
    ({"site": "", "host_names": ["a.test"]}, "expect.bindings[1].site"),
    ({"site": "s", "host_names": []}, "expect.bindings[1].host_names"),
    ({"site": "s", "host_names": ["bad name"]}, "expect.bindings[1].host_names"),
    ({"site": "s", "host_names": ["a.test"], "port": 70000}, "expect.bindings[1].port"),
])
def test_bad_expectations_name_the_option(entry: dict[str, t.Any], option: str) -> None:
    with pytest.raises(UserInputError, match=option.replace("[", r"\[").replace("]", r"\]")):
        parse_expectation({"bindings": [entry]})


def test_no_store_location_skips_the_provider_check() -> None:
    expectation = parse_expectation({"bindings": [{"site": "Default Web Site", "host_names": ["www.contoso.test"]}]})
    assert expectation is not None
    assert check_expectation(state([("*:443:www.contoso.test", CCS_SNI)], enabled=False), expectation)["passed"]
