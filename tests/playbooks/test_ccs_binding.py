"""ccs_binding against emulated hosts: real ansible-playbook runs, lab state and operation log checked."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from iis_lab import model  # noqa: E402
from iis_lab.state import initial_state, machine_encrypt  # noqa: E402

PROVIDER_PASSWORD = "Canary-Binding-Reader-Pa55!"
DEFAULT_SITES = [{"name": "Default Web Site", "bindings": [{"protocol": "http", "binding_information": "*:80:"}]}]


def seed(
    lab: t.Any,
    host: str = "web01",
    *,
    build: int = 20348,
    sites: list[dict[str, t.Any]] | None = None,
    httpsys: dict[str, list[str]] | None = None,
    provider_enabled: bool = True,
    ccs_feature: bool = True,
) -> None:
    """Write the host's starting state, with the central certificate provider configured as asked."""
    features = ["Web-Server", "Web-CertProvider"] if ccs_feature else ["Web-Server"]
    state = initial_state(host, {"windows_build": build, "features": features, "sites": sites or DEFAULT_SITES, "httpsys": httpsys or {}})
    state["registry"][model.PROVIDER_KEY] = {
        "Enabled": 1 if provider_enabled else 0,
        "CertStoreLocation": "\\\\fs01\\ccs",
        "UserName": "LAB\\svc-ccs",
        "Password": machine_encrypt(state, PROVIDER_PASSWORD),
        "PrivateKeyPassword": machine_encrypt(state, "Canary-Pk-Pa55!"),
        "PollingInterval": 300,
    }
    (lab.state_dir / f"{host}.json").write_text(json.dumps(state), encoding="utf-8")


def playbook(host: str = "web01", **args: t.Any) -> str:
    return f"""
- hosts: {host}
  gather_facts: false
  tasks:
    - name: binding
      iis.ccs.ccs_binding: {json.dumps(args, ensure_ascii=False)}
"""


def run_binding(lab: t.Any, host: str = "web01", *, check: bool = False, diff: bool = False, **args: t.Any) -> tuple[t.Any, dict[str, t.Any]]:
    args.setdefault("site", "Default Web Site")
    run = lab.run(playbook(host, **args), check=check, diff=diff)
    return run, run.task("binding", host)


def site_bindings(lab: t.Any, host: str = "web01", site: str = "Default Web Site") -> list[dict[str, t.Any]]:
    return list(model.find_site(lab.host_state(host), site)["bindings"])  # type: ignore[index]


def events(lab: t.Any, host: str = "web01") -> list[dict[str, t.Any]]:
    """Events of the last apply_bindings operation."""
    applies = [entry for entry in lab.oplog(host) if entry["operation"] == "apply_bindings"]
    return list(applies[-1]["events"]) if applies else []


def operations(lab: t.Any, host: str = "web01") -> list[str]:
    return [entry["operation"] for entry in lab.oplog(host)]


def test_add_then_rerun_is_unchanged_in_one_round_trip(lab):
    seed(lab)
    run, result = run_binding(lab, host_names=["www.example.com", "api.example.com"])
    assert run.rc == 0, run.stdout
    assert result["changed"] is True and result["round_trips"] == 2
    https = [b for b in site_bindings(lab) if b["protocol"] == "https"]
    assert [(b["binding_information"], b["ssl_flags"]) for b in https] == [("*:443:www.example.com", 3), ("*:443:api.example.com", 3)]
    assert list(lab.host_state("web01")["httpsys"]["ccs"]) == ["0.0.0.0:443"]
    # The HTTP.sys entry comes before the bindings that rely on it, and one commit saves both bindings.
    assert [e["event"] for e in events(lab)] == ["netsh_add_ccs", "add_binding", "add_binding", "commit"]
    returned = {b["binding_information"]: b for b in result["bindings"]}
    assert returned["*:443:www.example.com"]["ssl_flag_names"] == ["Sni", "CentralCertStore"]
    assert returned["*:443:www.example.com"]["uses_ccs"] is True
    assert result["httpsys"]["ccs_ports"] == [443]

    run, again = run_binding(lab, host_names=["WWW.Example.com", "api.example.com"])
    assert run.rc == 0
    assert again["changed"] is False and again["round_trips"] == 1
    assert again["actions"] == []
    assert operations(lab)[-1] == "read_host_state"


def test_return_bindings_false_leaves_the_list_out_and_changes_nothing_else(lab):
    seed(lab)
    run, result = run_binding(lab, host_names=["www.example.com"], return_bindings=False)
    assert run.rc == 0, run.stdout
    assert "bindings" not in result
    assert result["changed"] is True and result["round_trips"] == 2 and result["httpsys"]["ccs_ports"] == [443]
    assert [b["binding_information"] for b in site_bindings(lab)] == ["*:80:", "*:443:www.example.com"]
    run, again = run_binding(lab, host_names=["www.example.com"], return_bindings=False)
    assert run.rc == 0 and again["changed"] is False and again["round_trips"] == 1 and "bindings" not in again


def test_adding_more_names_keeps_the_existing_ones(lab):
    seed(lab)
    run_binding(lab, host_names=["a.example.com"])
    run, result = run_binding(lab, host_names=["a.example.com", "b.example.com"])
    assert run.rc == 0 and result["changed"] is True
    assert [e["event"] for e in events(lab)] == ["add_binding", "commit"]
    assert [b["binding_information"] for b in site_bindings(lab)] == ["*:80:", "*:443:a.example.com", "*:443:b.example.com"]
    assert [a["action"] for a in result["actions"]] == ["add_binding", "commit"]


def test_exclusive_removes_other_https_bindings_on_the_port_after_adding(lab):
    seed(
        lab,
        sites=[
            {
                "name": "Default Web Site",
                "bindings": [
                    {"protocol": "http", "binding_information": "*:80:old.example.com"},
                    {"protocol": "https", "binding_information": "*:443:old.example.com", "ssl_flags": 3},
                    {"protocol": "https", "binding_information": "10.0.0.5:443:legacy.example.com", "ssl_flags": 3},
                    {"protocol": "https", "binding_information": "*:8443:other-port.example.com", "ssl_flags": 3},
                ],
            }
        ],
        httpsys={"ccs": ["0.0.0.0:443", "0.0.0.0:8443"]},
    )
    run, _result = run_binding(lab, host_names=["new.example.com"], exclusive=True)
    assert run.rc == 0, run.stdout
    assert [b["binding_information"] for b in site_bindings(lab)] == ["*:80:old.example.com", "*:8443:other-port.example.com", "*:443:new.example.com"]
    kinds = [e["event"] for e in events(lab)]
    assert kinds == ["add_binding", "remove_binding", "remove_binding", "commit"]
    # The ccs entry stays: the new binding still uses it.
    assert sorted(lab.host_state("web01")["httpsys"]["ccs"]) == ["0.0.0.0:443", "0.0.0.0:8443"]
    run, again = run_binding(lab, host_names=["new.example.com"], exclusive=True)
    assert again["changed"] is False and again["round_trips"] == 1


def test_absent_removes_bindings_and_the_ccs_entry_once_unused(lab):
    seed(
        lab,
        sites=[
            {"name": "Default Web Site", "bindings": [{"protocol": "http", "binding_information": "*:80:"}]},
            {"name": "shop", "bindings": [{"protocol": "https", "binding_information": "*:443:shop.example.com", "ssl_flags": 3}]},
        ],
        httpsys={"ccs": ["0.0.0.0:443"]},
    )
    run_binding(lab, host_names=["a.example.com", "b.example.com"])
    run, result = run_binding(lab, host_names=["a.example.com"], state="absent")
    assert run.rc == 0 and result["changed"] is True
    assert [b["binding_information"] for b in site_bindings(lab)] == ["*:80:", "*:443:b.example.com"]
    assert "remove_ccs_entry_if_unused" not in [a["action"] for a in result["actions"]]

    # Last CCS binding of this site goes, but site 'shop' still uses ccs=443: the entry stays.
    run, result = run_binding(lab, host_names=["b.example.com"], state="absent")
    last = result["actions"][-1]
    assert (last["action"], last["outcome"], last["used_by"]) == ("remove_ccs_entry_if_unused", "kept", ["shop"])
    assert list(lab.host_state("web01")["httpsys"]["ccs"]) == ["0.0.0.0:443"]

    # Once no site has a CCS binding on 443 the entry is removed, after the commit.
    run, result = run_binding(lab, site="shop", host_names=["shop.example.com"], state="absent")
    assert run.rc == 0
    assert [e["event"] for e in events(lab)] == ["remove_binding", "commit", "netsh_delete_ccs"]
    assert lab.host_state("web01")["httpsys"]["ccs"] == {}
    assert result["httpsys"]["ccs_ports"] == []

    run, again = run_binding(lab, site="shop", host_names=["shop.example.com"], state="absent")
    assert again["changed"] is False and again["round_trips"] == 1


def test_check_mode_changes_nothing_and_diff_shows_before_and_after(lab):
    seed(
        lab,
        sites=[
            {
                "name": "Default Web Site",
                "bindings": [
                    {
                        "protocol": "https",
                        "binding_information": "*:443:www.example.com",
                        "ssl_flags": 1,
                        "certificate_hash": "AB" * 20,
                        "certificate_store": "My",
                    },
                ],
            }
        ],
        httpsys={"sni": ["www.example.com:443"]},
    )
    before = lab.snapshot()
    run, result = run_binding(lab, check=True, diff=True, host_names=["www.example.com", "new.example.com"])
    assert run.rc == 0, run.stdout
    assert lab.snapshot() == before
    assert operations(lab) == ["read_host_state"]
    assert result["changed"] is True and result["round_trips"] == 1
    assert [a["action"] for a in result["actions"]] == ["ensure_ccs_entry", "convert_binding", "add_binding", "commit", "delete_sni_entry"]
    diff = result["diff"]
    assert diff["before"]["bindings"] == [f"https *:443:www.example.com sslFlags=1 (Sni) certificate={'AB' * 20}"]
    assert diff["after"]["bindings"] == [
        "https *:443:www.example.com sslFlags=3 (Sni,CentralCertStore)",
        "https *:443:new.example.com sslFlags=3 (Sni,CentralCertStore)",
    ]
    assert (diff["before"]["httpsys_ccs_ports"], diff["after"]["httpsys_ccs_ports"]) == ([], [443])
    assert "--- before" in run.stdout and "+++ after" in run.stdout

    # The real run does what check mode announced.
    run, applied = run_binding(lab, diff=True, host_names=["www.example.com", "new.example.com"])
    assert applied["diff"]["after"] == diff["after"] | {"httpsys_sni_bindings": []}
    assert [a["action"] for a in applied["actions"]] == [a["action"] for a in result["actions"]]


def test_provider_disabled_fails_pointing_to_ccs_provider_and_changes_nothing(lab):
    seed(lab, provider_enabled=False)
    before = lab.snapshot()
    run, result = run_binding(lab, host_names=["www.example.com"])
    assert run.rc != 0
    assert result["failed"] is True and result["changed"] is False
    assert "iis.ccs.ccs_provider" in result["msg"] and "not enabled" in result["msg"]
    assert result["round_trips"] == 1
    assert lab.snapshot() == before
    assert operations(lab) == ["read_host_state"]


def test_missing_ccs_feature_fails_pointing_to_ccs_provider(lab):
    seed(lab, ccs_feature=False)
    _run, result = run_binding(lab, host_names=["www.example.com"])
    assert result["failed"] is True
    assert "Centralized SSL Certificate Support" in result["msg"] and "iis.ccs.ccs_provider" in result["msg"]


def test_missing_site_fails_and_names_the_collections_that_manage_sites(lab):
    seed(lab)
    _run, result = run_binding(lab, site="nosuchsite", host_names=["www.example.com"])
    assert result["failed"] is True
    assert "nosuchsite" in result["msg"] and "microsoft.iis.website" in result["msg"]
    assert operations(lab) == ["read_host_state"]


def test_extended_flags_on_server_2016_fail_before_any_change(lab):
    seed(lab, build=14393)
    before = lab.snapshot()
    run, result = run_binding(lab, host_names=["www.example.com"], disable_http2=True)
    assert result["failed"] is True
    assert "disable_http2" in result["msg"] and "17763" in result["msg"]
    assert lab.snapshot() == before
    # Without the flag the same host takes the binding (and the wildcard: IIS 10 on 2016).
    run, result = run_binding(lab, host_names=["www.example.com", "*.example.com"])
    assert run.rc == 0, run.stdout
    assert [b["binding_information"] for b in site_bindings(lab)][1:] == ["*:443:www.example.com", "*:443:*.example.com"]


def test_lab_refuses_extended_flags_on_old_builds_even_if_the_controller_did_not(lab, monkeypatch):
    # The emulator enforces the rule itself, so the controller-side check is not the only guard.
    from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops
    from iis_lab import emulator

    seed(lab, build=14393)
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(lab.state_dir))
    steps = [{"action": "add_binding", "protocol": "https", "binding_information": "*:443:x.example.com", "ssl_flags": 7}]
    _rc, out, _err = emulator.execute(
        "web01", {}, {}, host_ops.bootstrap_command(), host_ops.encode_payload("apply_bindings", {"site": "Default Web Site", "steps": steps})
    )
    answer = json.loads(out)
    assert answer["ok"] is False and "sslFlags" in answer["error"]["message"]


def test_sni_false_warns_and_writes_ccs_only(lab):
    seed(lab)
    run, result = run_binding(lab, host_names=["www.example.com"], sni=False)
    assert run.rc == 0
    assert site_bindings(lab)[1]["ssl_flags"] == 2
    assert any("sni=false" in w for w in result["warnings"])


def test_idn_names_are_written_as_a_labels_and_match_either_form(lab):
    seed(lab)
    run, _result = run_binding(lab, host_names=["bücher.example.com"])
    assert run.rc == 0, run.stdout
    assert site_bindings(lab)[1]["binding_information"] == "*:443:xn--bcher-kva.example.com"
    run, again = run_binding(lab, host_names=["XN--BCHER-KVA.example.com", "Bücher.Example.com"])
    assert again["changed"] is False and again["round_trips"] == 1


def test_two_hundred_host_names_one_round_trip_unchanged_two_when_changing(lab):
    seed(lab)
    names = [f"site{index:03d}.example.com" for index in range(200)]
    run, result = run_binding(lab, host_names=names)
    assert run.rc == 0, run.stdout
    assert result["round_trips"] == 2
    assert operations(lab) == ["read_host_state", "apply_bindings"]
    assert len([b for b in site_bindings(lab) if b["protocol"] == "https"]) == 200
    run, again = run_binding(lab, host_names=names)
    assert again["changed"] is False and again["round_trips"] == 1
    assert operations(lab) == ["read_host_state", "apply_bindings", "read_host_state"]
    run, more = run_binding(lab, host_names=names[:199] + ["extra.example.com"], exclusive=True)
    assert more["round_trips"] == 2
    assert operations(lab)[-2:] == ["read_host_state", "apply_bindings"]
    assert [e["event"] for e in events(lab)] == ["add_binding", "remove_binding", "commit"]


# --- Prior-art defects: each must be absent -------------------------------------------------


def test_prior_art_ten_high_bits_are_preserved(lab):
    # microsoft.iis rebuilt sslFlags from use_sni/use_ccs and lost IIS 10 bits.
    seed(
        lab,
        sites=[
            {
                "name": "Default Web Site",
                "bindings": [
                    {"protocol": "https", "binding_information": "*:443:www.example.com", "ssl_flags": 3 | 4 | 64},
                ],
            }
        ],
        httpsys={"ccs": ["0.0.0.0:443"]},
    )
    _run, result = run_binding(lab, host_names=["www.example.com"])
    assert result["changed"] is False and result["round_trips"] == 1
    _run, result = run_binding(lab, host_names=["www.example.com"], disable_quic=True)
    assert site_bindings(lab)[0]["ssl_flags"] == 3 | 4 | 16 | 64
    assert result["bindings"][0]["ssl_flag_names"] == ["Sni", "CentralCertStore", "DisableHTTP2", "DisableQUIC", "DisableLegacyTLS"]
    _run, result = run_binding(lab, host_names=["www.example.com"], disable_http2=False)
    assert site_bindings(lab)[0]["ssl_flags"] == 3 | 16 | 64


def test_prior_art_omitted_ip_key_is_not_an_idempotency_trap(lab):
    # microsoft.iis built ':443:host' from an omitted ip, never equal to IIS's '*:443:host'.
    seed(
        lab,
        sites=[
            {
                "name": "Default Web Site",
                "bindings": [
                    {"protocol": "https", "binding_information": "*:443:www.example.com", "ssl_flags": 3},
                ],
            }
        ],
        httpsys={"ccs": ["0.0.0.0:443"]},
    )
    for ip in ("*", ""):
        _run, result = run_binding(lab, host_names=["www.example.com"], ip=ip)
        assert result["changed"] is False, ip
    assert len(site_bindings(lab)) == 1


def test_prior_art_flags_above_three_are_accepted_where_supported(lab):
    # community.windows #584 refused flags above 3 outright.
    seed(lab, build=17763)
    run, _result = run_binding(lab, host_names=["www.example.com"], disable_http2=True, disable_tls13=True)
    assert run.rc == 0, run.stdout
    assert site_bindings(lab)[1]["ssl_flags"] == 3 | 4 | 32


def test_prior_art_shared_non_sni_binding_of_other_sites_is_untouched(lab):
    # ansible #60133: a certificate applied to one *:443 binding landed on every site.
    other = {"protocol": "https", "binding_information": "*:443:", "ssl_flags": 0, "certificate_hash": "CD" * 20, "certificate_store": "My"}
    seed(lab, sites=[DEFAULT_SITES[0], {"name": "legacy", "bindings": [other]}], httpsys={"ip": ["0.0.0.0:443"]})
    run, result = run_binding(lab, host_names=["www.example.com"])
    assert run.rc == 0
    assert site_bindings(lab, site="legacy") == [other]
    assert list(lab.host_state("web01")["httpsys"]["ip"]) == ["0.0.0.0:443"]
    assert any("0.0.0.0:443" in w and "central certificate store" in w for w in result["warnings"])


def test_prior_art_http_binding_becomes_https_in_place(lab):
    # ansible #36508: http -> https added a duplicate instead of changing the binding.
    seed(
        lab,
        sites=[
            {
                "name": "Default Web Site",
                "bindings": [
                    {"protocol": "http", "binding_information": "*:443:www.example.com"},
                    {"protocol": "http", "binding_information": "*:80:www.example.com"},
                ],
            }
        ],
    )
    run, _result = run_binding(lab, host_names=["www.example.com"])
    assert run.rc == 0, run.stdout
    assert [(b["protocol"], b["binding_information"], b["ssl_flags"]) for b in site_bindings(lab)] == [
        ("https", "*:443:www.example.com", 3),
        ("http", "*:80:www.example.com", 0),
    ]
    assert [e["event"] for e in events(lab)] == ["netsh_add_ccs", "convert_binding", "commit"]


def test_prior_art_ip_star_does_not_match_every_binding(lab):
    # ansible PR #34721: ip '*' matched, and removed, all bindings.
    bound = {"protocol": "https", "binding_information": "10.0.0.5:443:www.example.com", "ssl_flags": 3}
    seed(
        lab,
        sites=[{"name": "Default Web Site", "bindings": [bound, {"protocol": "https", "binding_information": "*:443:other.example.com", "ssl_flags": 3}]}],
        httpsys={"ccs": ["0.0.0.0:443"]},
    )
    _run, result = run_binding(lab, host_names=["www.example.com"], state="absent")
    assert result["changed"] is False
    assert len(site_bindings(lab)) == 2
    _run, result = run_binding(lab, host_names=["www.example.com"], state="absent", ip="10.0.0.5")
    assert result["changed"] is True
    assert [b["binding_information"] for b in site_bindings(lab)] == ["*:443:other.example.com"]


def test_thumbprint_sni_binding_is_converted_in_place_and_its_http_sys_entry_removed_after(lab):
    seed(
        lab,
        sites=[
            {
                "name": "Default Web Site",
                "bindings": [
                    {"protocol": "http", "binding_information": "*:80:"},
                    {
                        "protocol": "https",
                        "binding_information": "*:443:www.example.com",
                        "ssl_flags": 1 | 8,
                        "certificate_hash": "AB" * 20,
                        "certificate_store": "My",
                    },
                ],
            }
        ],
        httpsys={"sni": ["www.example.com:443"], "ccs": ["0.0.0.0:443"]},
    )
    run, _result = run_binding(lab, host_names=["www.example.com"])
    assert run.rc == 0, run.stdout
    assert site_bindings(lab)[1] == {
        "protocol": "https",
        "binding_information": "*:443:www.example.com",
        "ssl_flags": 1 | 2 | 8,
        "certificate_hash": "",
        "certificate_store": "",
    }
    assert len(site_bindings(lab)) == 2
    # Make-before-break: the per-host certificate entry goes only after the CCS binding is committed.
    assert [e["event"] for e in events(lab)] == ["convert_binding", "commit", "netsh_delete_sni"]
    assert lab.host_state("web01")["httpsys"]["sni"] == {}


def test_lab_refuses_to_add_the_ccs_entry_twice(lab, monkeypatch):
    from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops
    from iis_lab import emulator

    seed(lab, httpsys={"ccs": ["0.0.0.0:443"]})
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(lab.state_dir))
    ops = host_ops.encode_payload("apply_bindings", {"site": "Default Web Site", "steps": [{"action": "ensure_ccs_entry", "port": 443}]})
    _rc, out, _err = emulator.execute("web01", {}, {}, host_ops.bootstrap_command(), ops)
    assert json.loads(out)["result"]["steps"][0]["outcome"] == "present"
    from iis_lab.errors import WindowsError_
    from iis_lab.network import Network
    from iis_lab.ops import OpContext
    from iis_lab.ops.apply_bindings import _netsh_add_ccs

    context = OpContext(host="web01", state=lab.host_state("web01"), network=Network({}), params={})
    with pytest.raises(WindowsError_, match="183"):
        _netsh_add_ccs(context, 443)


# --- Bad input: fails before anything changes ---------------------------------------------

BAD_INPUT = [
    ({"host_names": [""]}, "host_names"),
    ({"host_names": []}, "host_names"),
    ({"host_names": ["www example.com"]}, "host_names"),
    ({"host_names": ['www".example.com']}, "host_names"),
    ({"host_names": ["$(calc).example.com"]}, "host_names"),
    ({"host_names": ["`whoami`.example.com"]}, "host_names"),
    ({"host_names": ["www.example.com\nevil.example.com"]}, "host_names"),
    ({"host_names": ["www.*.example.com"]}, "host_names"),
    ({"host_names": ["www.example.*"]}, "host_names"),
    ({"host_names": ["www.example.com"], "port": 0}, "port"),
    ({"host_names": ["www.example.com"], "port": 65536}, "port"),
    ({"host_names": ["www.example.com"], "ip": "10.0.0.300"}, "ip"),
    ({"host_names": ["www.example.com"], "ip": "not-an-ip"}, "ip"),
    ({"host_names": ["www.example.com"], "disable_everything": True}, "disable_everything"),
    ({"host_names": ["www.example.com"], "site": "evil'; Remove-Item C:\\ -Recurse; '"}, "site"),
    ({"host_names": ["www.example.com"], "site": "a$(calc)"}, "site"),
    ({"host_names": ["www.example.com"], "site": "a\nb"}, "site"),
    ({"host_names": ["www.example.com"], "state": "absent", "disable_quic": True}, "disable_quic"),
    # Wrong types are refused as wrong types (not as their text), without ansible-core's class names.
    ({"host_names": {"www.example.com": True}}, "host_names: expected a list, got a dictionary"),
    ({"host_names": ["www.example.com"], "site": ["Default Web Site"]}, "site: expected a string, got a list"),
    ({"host_names": ["www.example.com"], "site": "Default Web Site\n"}, "site: IIS site names cannot contain '\\n'"),
]


@pytest.mark.parametrize(("args", "option"), BAD_INPUT, ids=[f"{case[1]}-{i}" for i, case in enumerate(BAD_INPUT)])
def test_bad_input_fails_before_contacting_the_host(lab, args, option):
    seed(lab)
    before = lab.snapshot()
    run, result = run_binding(lab, **args)
    assert run.rc != 0
    assert result["failed"] is True and result["changed"] is False
    assert option in result["msg"]
    assert "class" not in result["msg"] and "_Ansible" not in result["msg"] and "spaces" not in result["msg"]
    assert operations(lab) == []
    assert lab.snapshot() == before


def test_provider_secrets_never_surface_in_vvvv_diff_or_runner_artifacts(lab):
    # The task reads the provider section; neither the secrets nor their stored ciphertext may come back.
    from _lab import assert_secrets_absent

    seed(lab)
    stored = model.registry_key(lab.host_state("web01"), model.PROVIDER_KEY) or {}
    canaries = [PROVIDER_PASSWORD, "Canary-Pk-Pa55!", stored["Password"], stored["PrivateKeyPassword"]]
    text = playbook(site="Default Web Site", host_names=["www.example.com"])
    run = lab.run(text, diff=True, verbosity=4)
    assert run.rc == 0, run.stdout[-3000:]
    assert_secrets_absent(run.stdout + run.stderr, canaries)
    job = lab.run_runner(text.replace("www.example.com", "api.example.com"))
    job.assert_succeeded(ok={"web01": 1})
    assert job.stats()["web01"]["changed"] == 1  # the job really added the binding
    assert_secrets_absent(job.text, canaries)
