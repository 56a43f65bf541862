"""iis.ccs.ccs_verify against the lab's real TLS (tests/lab/iis_lab/tls_lab.py): what each node serves, judged.

The farm (_tls_farm.py) is built straight into the lab state; each test breaks one thing the way CCS
farms break in the field and checks the verdict the module gives, through ansible-playbook.
"""

from __future__ import annotations

import typing as t

import pytest
from _lab import TRANSPORTS, Lab, assert_secrets_absent
from _tls_farm import BASE_FILES, READER, READER_PASSWORD, TlsFarm, build, checks_by_name, dump, https
from iis_lab import tls_lab
from iis_lab.network import set_offline_hosts


@pytest.fixture(scope="session")
def corpus(cert_corpus_module: t.Any, tmp_path_factory: pytest.TempPathFactory) -> t.Any:
    return cert_corpus_module.build_corpus(tmp_path_factory.mktemp("verify-certs"))


@pytest.fixture
def farm(lab: Lab, corpus: t.Any) -> t.Iterator[TlsFarm]:
    built = build(lab, corpus)
    yield built
    built.tls.stop()


def local_store(farm: TlsFarm) -> dict[str, t.Any]:
    return {"store": {"type": "local", "path": str(farm.store)}, "private_key_password": farm.corpus.PFX_PASSWORD}


def test_every_node_serves_the_store_certificate_for_every_name(farm: TlsFarm) -> None:
    run = farm.verify(fail_on="problem", **local_store(farm))
    assert run.rc == 0, dump(run)
    for host in ("web01", "web02"):
        result = run.task("verify", host)
        assert result["summary"] == {"total": 3, "ok": 3, "problems": 0, "warnings": 0}
        checks = checks_by_name(run, host)
        assert checks["www.example.test"]["thumbprint_sha256"] == farm.sha256("leaf-rsa")
        assert checks["www.example.test"]["matches_store"] is True
        assert checks["www.example.test"]["chain_trusted"] is True
        assert checks["www.example.test"]["tls_version"].startswith("TLSv1.")
        assert checks["www.example.test"]["address"] == {"web01": "127.0.10.1", "web02": "127.0.10.2"}[host]
        # A wildcard binding is checked with a name under it, served from _.example.test.pfx.
        assert checks["*.example.test"]["sni"] == "ccs-verify.example.test"
        assert checks["*.example.test"]["thumbprint_sha256"] == farm.sha256("wildcard")
        # An IDN goes out as punycode SNI and is found as the Unicode file name.
        assert checks["bücher.example"]["sni"] == "xn--bcher-kva.example"
        assert checks["bücher.example"]["thumbprint_sha256"] == farm.sha256("idn")
        assert all(c["verdict"] == "ok" for c in checks.values())
        # One read of the node for its bindings; the store is a controller folder.
        assert result["round_trips"] == 1


def test_check_mode_reports_the_same_and_changes_nothing(farm: TlsFarm) -> None:
    before = farm.lab.snapshot()
    run = farm.verify(check=True, fail_on="problem", **local_store(farm))
    assert run.rc == 0, dump(run)
    assert run.task("verify", "web01")["summary"]["ok"] == 3
    assert run.task("verify", "web01")["changed"] is False
    assert farm.lab.snapshot() == before


def test_renewal_is_served_after_the_polling_interval_and_a_stale_node_is_flagged_before(farm: TlsFarm) -> None:
    assert farm.verify(hosts="web01", fail_on="problem", **local_store(farm)).rc == 0  # web01 has loaded and cached it
    farm.put("www.example.test.pfx", "leaf-ec.3des.pfx")  # the renewal lands in the store

    stale = farm.verify(hosts="web01", **local_store(farm))
    check = checks_by_name(stale, "web01")["www.example.test"]
    assert check["verdict"] == "wrong_certificate", check
    assert check["thumbprint_sha256"] == farm.sha256("leaf-rsa")
    assert check["expected_thumbprint"] == farm.sha256("leaf-ec")
    assert "polling interval" in check["hint"]

    tls_lab.advance_clock(301)  # past the provider's PollingInterval (300 s)
    fresh = farm.verify(hosts="web01", fail_on="problem", **local_store(farm))
    assert fresh.rc == 0, dump(fresh)
    assert checks_by_name(fresh, "web01")["www.example.test"]["thumbprint_sha256"] == farm.sha256("leaf-ec")


def test_share_down_with_a_cached_certificate_still_serves_it(farm: TlsFarm) -> None:
    expected = {"www.example.test": farm.sha256("leaf-rsa")}
    assert farm.verify(hosts="web01", host_names=["www.example.test"], expected=expected, fail_on="problem").rc == 0
    set_offline_hosts(["fs01"])
    tls_lab.advance_clock(301)  # even when the cache is due for a re-read, the unreachable share keeps it
    run = farm.verify(hosts="web01", host_names=["www.example.test"], expected=expected, fail_on="problem")
    assert run.rc == 0, dump(run)
    assert checks_by_name(run, "web01")["www.example.test"]["verdict"] == "ok"


def test_share_down_with_nothing_cached_fails_the_handshake(farm: TlsFarm) -> None:
    set_offline_hosts(["fs01"])
    run = farm.verify(hosts="web01", host_names=["www.example.test"], fail_on="problem")
    result = run.task("verify", "web01")
    assert result["failed"] is True
    check = result["checks"][0]
    assert check["verdict"] == "handshake_failure", check
    assert "thumbprint_sha256" not in check
    assert "www.example.test:" in result["msg"] and "handshake_failure" in result["msg"] and "share" in result["msg"]


def test_wrong_private_key_password_on_the_provider_fails_the_handshake(farm: TlsFarm) -> None:
    farm.set_provider("web02", PrivateKeyPassword="not-the-store-password")
    run = farm.verify(hosts="web", host_names=["www.example.test"])
    assert checks_by_name(run, "web01")["www.example.test"]["verdict"] == "ok"
    assert checks_by_name(run, "web02")["www.example.test"]["verdict"] == "handshake_failure"


def test_a_non_sni_fallback_binding_answers_with_the_wrong_certificate_and_is_flagged(farm: TlsFarm) -> None:
    thumbprint = tls_lab.install_machine_certificate("web01", farm.corpus.read("self-signed.3des.pfx"), farm.corpus.PFX_PASSWORD)
    farm.add_binding("web01", https("", flags=0, certificate_hash=thumbprint))
    set_offline_hosts(["fs01"])  # nothing cached: CCS has no certificate, HTTP.sys falls back to *:443
    run = farm.verify(hosts="web01", **local_store(farm))
    checks = checks_by_name(run, "web01")
    assert checks["www.example.test"]["verdict"] == "wrong_certificate", checks["www.example.test"]
    assert checks["www.example.test"]["thumbprint"] == thumbprint
    assert checks["www.example.test"]["covers_name"] is False


def test_an_expired_certificate_in_the_store_is_flagged(farm: TlsFarm) -> None:
    farm.put("old.example.test.pfx", "expired.3des.pfx")
    for host in ("web01", "web02"):
        farm.add_binding(host, https("old.example.test"))
    run = farm.verify(hosts="web01", **local_store(farm))
    check = checks_by_name(run, "web01")["old.example.test"]
    assert check["verdict"] == "expired" and check["days_left"] < 0
    assert check["matches_store"] is True  # the node serves what the store holds; the store is what is wrong


def test_a_missing_intermediate_is_flagged_with_its_name(farm: TlsFarm) -> None:
    farm.put("www.example.test.pfx", "leaf-rsa.nochain.3des.pfx")
    run = farm.verify(hosts="web01", host_names=["www.example.test"])
    check = checks_by_name(run, "web01")["www.example.test"]
    assert check["verdict"] == "incomplete_chain", check
    assert check["chain_complete"] is False
    assert any("Intermediate" in name for name in check["missing_intermediates"]), check["missing_intermediates"]


def test_expiring_within_the_warning_days_is_a_warning_that_fail_on_warning_fails(farm: TlsFarm) -> None:
    farm.put("www.example.test.pfx", "expiring-soon.3des.pfx")
    report = farm.verify(hosts="web01", host_names=["www.example.test"], fail_on="problem")
    assert report.rc == 0 and checks_by_name(report, "web01")["www.example.test"]["verdict"] == "expiring"
    strict = farm.verify(hosts="web01", host_names=["www.example.test"], fail_on="warning")
    assert strict.task("verify", "web01")["failed"] is True


def test_a_name_without_binding_or_file_fails_and_says_what_to_check(farm: TlsFarm) -> None:
    run = farm.verify(hosts="web01", host_names=["nobinding.other.test"], fail_on="problem")
    result = run.task("verify", "web01")
    assert result["failed"] is True
    assert result["checks"][0]["verdict"] == "handshake_failure"
    assert "binding" in result["checks"][0]["hint"]
    assert result["round_trips"] == 0  # host_names from the controller: no round trip to the node


def test_nothing_listening_is_connection_refused(farm: TlsFarm) -> None:
    farm.tls.stop()
    run = farm.verify(hosts="web01", host_names=["www.example.test"])
    assert checks_by_name(run, "web01")["www.example.test"]["verdict"] == "connection_refused"


def test_the_store_read_through_the_node_with_share_credentials_never_leaks_them(farm: TlsFarm) -> None:
    store = {"type": "host_unc", "path": "\\\\fs01\\ccs", "user_name": READER, "password": READER_PASSWORD}
    playbook = f"""
- hosts: web01
  gather_facts: false
  tasks:
    - iis.ccs.ccs_verify:
        store: {{type: host_unc, path: '{store["path"]}', user_name: '{READER}', password: '{READER_PASSWORD}'}}
        private_key_password: '{farm.corpus.PFX_PASSWORD}'
        port_map: {{443: {farm.lab_port}}}
        ca_path: {farm.corpus.path("root.crt")}
"""
    run = farm.verify(hosts="web01", store=store, private_key_password=farm.corpus.PFX_PASSWORD, fail_on="problem")
    assert run.rc == 0, dump(run)
    assert all(c["matches_store"] for c in run.task("verify", "web01")["checks"])
    assert run.task("verify", "web01")["round_trips"] == 2  # the bindings, then the store files through the node
    secrets = [READER_PASSWORD, farm.corpus.PFX_PASSWORD]
    verbose = farm.verify(hosts="web01", store=store, private_key_password=farm.corpus.PFX_PASSWORD)
    assert_secrets_absent(run.stdout + run.stderr + verbose.stdout + verbose.stderr + dump(verbose), secrets)
    farm.put("www.example.test.pfx", "leaf-ec.3des.pfx")
    failing = farm.lab.run(playbook, inventory=farm.inventory_path, verbosity=4)
    assert failing.rc != 0
    assert_secrets_absent(failing.stdout + failing.stderr, secrets)
    job = farm.lab.run_runner(playbook, inventory=farm.inventory_path)
    # The playbook fails on purpose (the wrong certificate is served): the job must still have run the check.
    assert job.status == "failed" and job.count("runner_on_failed", "web01") == 1, job.text[-3000:]
    assert_secrets_absent(job.text, secrets)


BAD_INPUT: list[tuple[dict[str, t.Any], str]] = [
    ({"port": 0}, "port: 0 is not a TCP port"),
    ({"port": 70000}, "port: 70000 is not a TCP port"),
    ({"port_map": {"https": 443}}, "port_map: the key 'https' is not a port"),
    ({"port_map": {443: 0}}, "port_map[443]: 0 is not a TCP port"),
    ({"host_names": ["www example.test"]}, "host_names:"),
    ({"host_names": ["1.2.3.4"]}, "host_names:"),
    ({"host_names": ["../../windows"]}, "host_names:"),
    ({"concurrency": 0}, "concurrency: 0 is out of range"),
    ({"timeout": 0}, "timeout: 0.0 is out of range"),
    ({"expiry_warning_days": -1}, "expiry_warning_days: must be 0 or more"),
    ({"ca_path": "CERT:leaf-rsa.crt"}, "holds no CA certificate"),
    ({"ca_path": "CERT:leaf-rsa.key"}, "holds no PEM certificates"),
    ({"ca_path": "/nonexistent/ca.pem"}, "ca_path: cannot read /nonexistent/ca.pem"),
    ({"expected": {"www.example.test": "abc"}}, "expected[www.example.test]: 'abc' is not a thumbprint"),
    ({"from": "node", "address": "10.0.0.1"}, "address and port_map: only apply to from: controller"),
    ({"store": {"type": "host_unc", "path": "\\\\fs01\\ccs"}}, "store: type host_unc needs user_name and password"),
    ({"wildcard_label": "bad label", "host_names": ["*.example.test"]}, "wildcard_label:"),
    ({"fail_on": "sometimes"}, "fail_on"),
]


# The input checks run on the controller before any connection: one transport is enough.
@pytest.mark.parametrize("lab", [TRANSPORTS[0]], indirect=True)
@pytest.mark.parametrize(("options", "message"), BAD_INPUT, ids=[m[:40] for _o, m in BAD_INPUT])
def test_bad_input_fails_before_any_connection_naming_the_option(farm: TlsFarm, options: dict[str, t.Any], message: str) -> None:
    options = {k: (str(farm.corpus.path(v[5:])) if isinstance(v, str) and v.startswith("CERT:") else v) for k, v in options.items()}
    options.setdefault("host_names", ["www.example.test"])
    run = farm.verify(hosts="web01", **options)
    result = run.task("verify", "web01")
    assert result["failed"] is True
    assert message in result["msg"], result["msg"]
    assert "checks" not in result
    assert "Traceback" not in run.stdout + run.stderr


def test_from_node_checks_through_the_node_itself(farm: TlsFarm) -> None:
    # The node connects to its own port 443; the lab's verify_tls maps it to the lab TLS port itself.
    run = farm.verify(hosts="web", **{"from": "node", "port_map": {}}, **local_store(farm))
    assert run.rc == 0, dump(run)
    for host in ("web01", "web02"):
        checks = checks_by_name(run, host)
        assert {n: c["verdict"] for n, c in checks.items()} == {"www.example.test": "ok", "*.example.test": "ok", "bücher.example": "ok"}
        assert checks["www.example.test"]["thumbprint_sha256"] == farm.sha256("leaf-rsa")
        assert run.task("verify", host)["round_trips"] == 2  # bindings, then one verify_tls operation
        operations = [entry["operation"] for entry in farm.lab.oplog(host)]
        assert operations[-1] == "verify_tls"
    assert set(BASE_FILES) <= {p.name for p in farm.store.iterdir()}
