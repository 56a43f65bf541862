"""playbooks/renew.yml against pebble (a real ACME CA on loopback) and the emulated farm.

The farm is built first with playbooks/farm.yml (two certificates in \\\\fs01\\ccs, three web nodes
binding www, api and portal). Pebble validates HTTP-01 for real: the renewal's built-in helper writes
the tokens into the folder a loopback web server serves at /.well-known/acme-challenge/, the way the
farm's nodes would serve a shared folder; pebble's DNS (challtestsrv) points every name at 127.0.0.1.

Each run is a real ACME order, so each scenario runs on one transport (the first of IIS_LAB_TRANSPORTS:
the lab plugin on the newest ansible-core, WinRM on the oldest); the DNS-01 scenario runs over WinRM.
"""

from __future__ import annotations

import base64
import json
import sys
import typing as t
from pathlib import Path

import pytest
from _community_crypto import ensure_community_crypto
from _lab import LAB, REPO, TRANSPORTS, Lab, PlaybookRun, assert_secrets_absent
from _pebble import Pebble, PebbleUnavailable
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

sys.path.insert(0, str(REPO / "tools"))
import lab_farm_certs  # noqa: E402

FARM = REPO / "playbooks" / "farm.yml"
RENEW = REPO / "playbooks" / "renew.yml"
STORE_PASSWORD = "Lab-Store-Key-Pa55!"  # tests/lab/inventory.yml ccs_private_key_password
WEB_NODES = ("web01", "web02", "web03")
WWW_CERT = ("api.contoso.test", "www.contoso.test")


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Pebble]:
    ensure_community_crypto(REPO)
    try:
        server = Pebble(tmp_path_factory.mktemp("pebble")).start()
    except PebbleUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


def account_key_pem() -> str:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def build_farm(lab: Lab, **extra: t.Any) -> None:
    certs = lab.root / "certs"
    lab_farm_certs.create(certs)
    run = lab.run(FARM, extra_vars={"ccs_lab_certificate_dir": str(certs), "ccs_polling_interval": 1, **extra})
    assert run.rc == 0, run.stdout[-4000:]


def renew_vars(pebble: Pebble, account_key: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "renew_acme_directory": pebble.directory,
        "renew_acme_account_key_content": account_key,
        "renew_acme_terms_agreed": True,
        "renew_http01_folder": str(pebble.webroot / ".well-known" / "acme-challenge"),
        "renew_verify_delay": 1,
        "renew_verify_timeout": 4,
        **extra,
    }


def renew(lab: Lab, pebble: Pebble, extra_vars: t.Mapping[str, t.Any], **kwargs: t.Any) -> PlaybookRun:
    # Pebble's TLS listener is trusted by this run only.
    return lab.run(RENEW, extra_vars=extra_vars, env={"SSL_CERT_FILE": str(pebble.tls_ca_file)}, **kwargs)


def store_files(lab: Lab) -> dict[str, x509.Certificate]:
    """The certificate in each PFX of \\\\fs01\\ccs, opened with the store password."""
    store = lab.state_dir / "fs01.fs" / "d" / "CCS"
    found = {}
    for path in sorted(store.glob("*.pfx")):
        loaded = pkcs12.load_key_and_certificates(path.read_bytes(), STORE_PASSWORD.encode())
        assert loaded[1] is not None
        found[path.name.lower()[: -len(".pfx")]] = loaded[1]
    return found


def key_files(root: Path, exclude: set[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path.name not in exclude and b"PRIVATE KEY-----" in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def issuer_cn(cert: x509.Certificate) -> str:
    return str(cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def changed_tasks(run: PlaybookRun) -> list[str]:
    return [f"{r['host']}: {r['task']}" for r in run.results if r["status"] == "changed" or r["result"].get("changed")]


@pytest.mark.parametrize("lab", [TRANSPORTS[0]], indirect=True)
def test_due_certificates_are_ordered_published_and_verified_then_nothing_is_due(lab: Lab, pebble: Pebble) -> None:
    build_farm(lab)
    before = store_files(lab)
    keys_before = key_files(lab.root, exclude={"extra-vars.json"})
    key = account_key_pem()
    run = renew(lab, pebble, renew_vars(pebble, key, renew_before_days=400))
    assert run.rc == 0, run.stdout[-6000:] + run.stderr[-2000:]
    after = store_files(lab)
    assert set(after) == set(before) == {"www.contoso.test", "api.contoso.test", "portal.contoso.test"}
    for name, cert in after.items():
        assert "Pebble" in issuer_cn(cert), (name, issuer_cn(cert))
        assert cert.fingerprint(cert.signature_hash_algorithm) != before[name].fingerprint(before[name].signature_hash_algorithm)  # type: ignore[arg-type]
    # One order per certificate: www and api share the new certificate, portal has its own.
    assert after["www.contoso.test"] == after["api.contoso.test"] != after["portal.contoso.test"]
    for node in WEB_NODES:
        report = run.task("iis.ccs.renew : Record this node's verdict", node)
        assert report["ansible_facts"]["renew_verify_report"]["problems"] == [], report
    # The challenge files were cleaned up, and no private key was left in a file on the controller
    # (the run's working folder; the account key arrives in the test's own extra-vars file, the farm's
    # source keys are the lab's).
    assert list((pebble.webroot / ".well-known" / "acme-challenge").iterdir()) == []
    assert key_files(lab.root, exclude={"extra-vars.json"}) == keys_before

    # Renewed certificates are fresh: a second run with the usual threshold orders and changes nothing.
    snapshot = lab.snapshot()
    again = renew(lab, pebble, renew_vars(pebble, key))
    assert again.rc == 0, again.stdout[-4000:]
    assert changed_tasks(again) == []
    assert lab.snapshot() == snapshot
    assert "Nothing to renew" in json.dumps(again.task("iis.ccs.renew : Show what is due (check mode lists what would be ordered)"))


def portal_vars(pebble: Pebble, key: str, **extra: t.Any) -> dict[str, t.Any]:
    """Renew one certificate (portal) whatever its expiry: the shortest real order."""
    return renew_vars(pebble, key, renew_force_host_names=["portal.contoso.test"], **extra)


@pytest.mark.parametrize("lab", [TRANSPORTS[0]], indirect=True)
def test_check_mode_a_failing_challenge_hook_and_a_down_ca_change_nothing(lab: Lab, pebble: Pebble) -> None:
    build_farm(lab)
    key = account_key_pem()
    snapshot = lab.snapshot()

    check = renew(lab, pebble, renew_vars(pebble, key, renew_before_days=400), check=True)
    assert check.rc == 0, check.stdout[-4000:]
    shown = check.task("iis.ccs.renew : Show what is due (check mode lists what would be ordered)")["msg"]
    assert shown.startswith("Would order 2 certificate(s)") and "www.contoso.test" in shown and "portal.contoso.test" in shown
    assert not [r for r in check.results if "acme" in r["action"] and r["status"] != "skipped"]

    hook = lab.root / "failing-hook.yml"
    hook.write_text("- name: Publish the DNS record\n  ansible.builtin.fail:\n    msg: the DNS provider refused the TXT record\n"
                    "  when: renew_challenge_action == 'deploy'\n", encoding="utf-8")
    failed_hook = renew(lab, pebble, portal_vars(pebble, key, renew_challenge_tasks=str(hook)))
    assert failed_hook.rc != 0
    message = failed_hook.task("iis.ccs.renew : Stop before anything is published")["msg"]
    assert "portal.contoso.test" in message and "the DNS provider refused the TXT record" in message and "Nothing was published" in message
    assert not any("cert_publish" in r["task"] for r in failed_hook.results)

    pebble.stop_pebble()
    try:
        down = renew(lab, pebble, portal_vars(pebble, key))
    finally:
        pebble.start_again()
    assert down.rc != 0
    message = down.task("iis.ccs.renew : Stop when the ACME server cannot be used")["msg"]
    assert pebble.directory in message and "Nothing was ordered and nothing was published" in message
    assert lab.snapshot() == snapshot


@pytest.mark.parametrize("lab", [TRANSPORTS[0]], indirect=True)
def test_a_node_failing_verification_rolls_back_and_the_account_is_reused(lab: Lab, pebble: Pebble) -> None:
    build_farm(lab)
    key = account_key_pem()
    first = renew(lab, pebble, portal_vars(pebble, key))
    assert first.rc == 0, first.stdout[-4000:]
    account = first.task("iis.ccs.renew : Register or reuse the ACME account")
    renewed = store_files(lab)
    assert "Pebble" in issuer_cn(renewed["portal.contoso.test"])

    # web03's provider is switched off: it can no longer take the certificate from the store.
    disable = lab.run("- hosts: web03\n  gather_facts: false\n  tasks:\n    - iis.ccs.ccs_provider: {state: disabled}\n")
    assert disable.rc == 0, disable.stdout[-3000:]
    previous_pfx = (lab.state_dir / "fs01.fs" / "d" / "CCS" / "portal.contoso.test.pfx").read_bytes()
    second = renew(lab, pebble, portal_vars(pebble, key), verbosity=4)
    assert second.rc != 0
    # The rollback path carries the store password and the previous PFX: neither shows at -vvvv.
    key_lines = [line for line in key.splitlines() if line and not line.startswith("-----")]
    previous_b64 = base64.b64encode(previous_pfx).decode()
    assert_secrets_absent(second.stdout + second.stderr + json.dumps(second.results), [STORE_PASSWORD, previous_b64[100:160], *key_lines])
    # The same account key is the same ACME account: found, not created again.
    again = second.task("iis.ccs.renew : Register or reuse the ACME account")
    assert account["changed"] is True and again["changed"] is False
    assert again["account_uri"] == account["account_uri"]
    # A new certificate was published, then the previous one was put back.
    published = second.task("iis.ccs.cert_publish : Check every certificate was published")
    assert "portal.contoso.test.pfx updated" in published["msg"]
    report = second.task("iis.ccs.renew : Report the renewal", "fs01")["msg"]
    assert "web03: the central certificate provider is not enabled" in report
    assert "web01" not in report and "web02" not in report
    assert "Rolled back: the previous certificate of portal.contoso.test is back in the store" in report
    assert store_files(lab) == renewed


CANARY_STORE_PASSWORD = "Canary-Renew-Store-5e2f!"


@pytest.mark.parametrize("lab", [TRANSPORTS[0]], indirect=True)
def test_canary_secrets_never_reach_vvvv_output_or_runner_artifacts(lab: Lab, pebble: Pebble) -> None:
    build_farm(lab, ccs_private_key_password=CANARY_STORE_PASSWORD)
    key = account_key_pem()
    # Every line of the PEM body is a canary: no fragment of the account key may show.
    key_lines = [line for line in key.splitlines() if line and not line.startswith("-----")]
    extra = portal_vars(pebble, key, ccs_private_key_password=CANARY_STORE_PASSWORD)
    run = renew(lab, pebble, extra, verbosity=4)
    assert run.rc == 0, run.stdout[-4000:]
    assert_secrets_absent(run.stdout + run.stderr + json.dumps(run.results), [CANARY_STORE_PASSWORD, *key_lines])
    job = lab.run_runner(RENEW.read_text(encoding="utf-8"), extra_vars=extra, verbosity=4,
                         env={"SSL_CERT_FILE": str(pebble.tls_ca_file)})
    assert (job.status, job.rc) == ("successful", 0), job.text[-3000:]
    assert job.count("playbook_on_stats") == 1 and job.count("runner_on_ok") > 0
    assert "Renewed and verified on every node: portal.contoso.test" in job.text
    assert_secrets_absent(job.text, [CANARY_STORE_PASSWORD, *key_lines])


DNS_HOOK = """\
# A DNS provider's API, played by pebble-challtestsrv: the documented hook variables only.
- name: Publish or remove the ACME TXT records
  ansible.builtin.uri:
    url: "http://127.0.0.1:{port}/{{{{ 'set-txt' if renew_challenge_action == 'deploy' else 'clear-txt' }}}}"
    method: POST
    body_format: json
    body: "{{{{ {{'host': item.0.key ~ '.', 'value': item.1}} if renew_challenge_action == 'deploy' else {{'host': item.0.key ~ '.'}} }}}}"
    use_proxy: false
  loop: "{{{{ renew_challenge_data_dns | dict2items | subelements('value') }}}}"
  delegate_to: localhost
"""


@pytest.mark.parametrize("lab", ["winrm"], indirect=True)
def test_dns01_through_a_provider_hook_over_winrm(lab: Lab, pebble: Pebble) -> None:
    build_farm(lab)
    hook = lab.root / "dns-hook.yml"
    hook.write_text(DNS_HOOK.format(port=pebble.challtestsrv_port), encoding="utf-8")
    run = renew(lab, pebble, portal_vars(pebble, account_key_pem(), renew_challenge_type="dns-01", renew_challenge_tasks=str(hook),
                                         renew_http01_folder=""))
    assert run.rc == 0, run.stdout[-4000:]
    validated = run.task("iis.ccs.renew : Ask the CA to validate")
    assert [c["challenge_type"] for c in validated["validating_challenges"]] == ["dns-01"]
    assert "Pebble" in issuer_cn(store_files(lab)["portal.contoso.test"])
    assert "Renewed and verified on every node: portal.contoso.test" in run.task("iis.ccs.renew : Report the renewal", "fs01")["msg"]


# -- on the wire: the lab's web nodes serve real TLS (iis_lab.tls_lab), checked with ccs_verify -------------

TLS_VERIFY = "iis.ccs.renew : Check on the wire that the node serves the new certificate of every renewed name it binds"


@pytest.fixture
def tls(lab: Lab) -> t.Iterator[t.Any]:
    from iis_lab import tls_lab
    from iis_lab.inventory import load, write_lab_hosts

    served = tls_lab.TlsLab(write_lab_hosts(load(LAB / "inventory.yml")), ports=[443], mapped={443: 0}).start()
    yield served
    served.stop()


def tls_vars(lab: Lab, pebble: Pebble, key: str) -> dict[str, t.Any]:
    """Handshakes from the nodes themselves, trusting the lab CA (old certificates) and this pebble's root (new ones)."""
    bundle = lab.root / "trust.pem"
    bundle.write_bytes((lab.root / "certs" / "chain.crt").read_bytes() + b"\n" + pebble.issuing_root_pem())
    return portal_vars(pebble, key, renew_verify_tls=True, renew_verify_tls_from="node", renew_verify_ca_path=str(bundle))


@pytest.mark.parametrize("lab", [TRANSPORTS[0]], indirect=True)
def test_the_renewed_certificate_is_served_by_every_node_and_a_wrong_key_password_rolls_back(lab: Lab, pebble: Pebble, tls: t.Any) -> None:
    from iis_lab import tls_lab

    build_farm(lab)
    key = account_key_pem()
    variables = tls_vars(lab, pebble, key)
    first = renew(lab, pebble, variables)
    assert first.rc == 0, first.stdout[-6000:]
    renewed = store_files(lab)["portal.contoso.test"]
    for host in WEB_NODES:
        assert first.statuses(TLS_VERIFY)[host] == "ok", first.task(TLS_VERIFY, host)
        handshakes = [e for entry in lab.oplog(host) if entry["operation"] == "verify_tls" for e in entry["events"]]
        assert "portal.contoso.test" in {e["sni"] for e in handshakes}

    # web02's provider gets a wrong private-key password: it cannot open the next certificate.
    wrong = lab.run("""
- hosts: web02
  gather_facts: false
  tasks:
    - iis.ccs.ccs_provider:
        store_location: \\\\fs01\\ccs
        user_name: LAB\\svc-ccs
        password: Lab-Reader-Pa55!
        private_key_password: Wrong-Key-Pa55!
""")
    assert wrong.rc == 0, wrong.stdout[-3000:]
    second = renew(lab, pebble, tls_vars(lab, pebble, key))
    assert second.rc != 0
    report = second.task("iis.ccs.renew : Report the renewal", "fs01")["msg"]
    assert "web02: " in report and "web01:" not in report and "web03:" not in report, report
    assert "Rolled back: the previous certificate of portal.contoso.test is back in the store" in report
    assert store_files(lab)["portal.contoso.test"] == renewed

    # Once the polling interval has passed, web01 and web03 serve the previous certificate again.
    tls_lab.advance_clock(5)
    expected = renewed.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - an identifier, as Windows shows it
    check = lab.run(f"""
- hosts: web01,web03
  gather_facts: false
  tasks:
    - name: served
      iis.ccs.ccs_verify:
        from: node
        host_names: [portal.contoso.test]
        expected: {{portal.contoso.test: {expected}}}
        ca_path: {lab.root / "trust.pem"}
        expiry_warning_days: 0
""")
    assert check.rc == 0, check.stdout[-4000:]
    assert check.statuses("served") == {"web01": "ok", "web03": "ok"}
