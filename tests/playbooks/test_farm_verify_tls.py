"""playbooks/farm.yml with its on-the-wire check: each batch is verified with ccs_verify against the lab's real TLS.

The lab's web nodes serve TLS (tests/lab/iis_lab/tls_lab.py) for the farm the playbook builds; ccs_verify
runs from the nodes themselves (from: node), so both transports reach the same endpoints.
"""

from __future__ import annotations

import typing as t

import pytest
from _lab import LAB, Lab
from iis_lab import tls_lab
from iis_lab.inventory import load, write_lab_hosts
from test_farm import FARM, farm_vars

VERIFY = "iis.ccs.web_node : Check the certificate the node serves for every CCS binding name"
REPORT = "iis.ccs.web_node : Check every name is served with the store's certificate"


@pytest.fixture
def tls(lab: Lab) -> t.Iterator[tls_lab.TlsLab]:
    served = tls_lab.TlsLab(write_lab_hosts(load(LAB / "inventory.yml")), ports=[443], mapped={443: 0}).start()
    yield served
    served.stop()


def verify_vars(lab: Lab, **extra: t.Any) -> dict[str, t.Any]:
    variables = farm_vars(lab, ccs_verify_tls=True, ccs_verify_tls_from="node", **extra)
    variables["ccs_verify_tls_ca_path"] = str(lab.root / "certs" / "chain.crt")
    return variables


def test_each_batch_is_verified_on_the_wire(lab: Lab, tls: tls_lab.TlsLab) -> None:
    run = lab.run(FARM, extra_vars=verify_vars(lab))
    assert run.rc == 0, run.stdout[-6000:]
    # The ccs_verify task itself is no_log (it carries the store password); the next task reports its verdicts.
    assert run.statuses(VERIFY) == {"web01": "ok", "web02": "ok", "web03": "ok"}
    for host in ("web01", "web02", "web03"):
        assert run.task(REPORT, host)["msg"].endswith("3 of 3 names served with the right certificate"), run.task(REPORT, host)
        handshakes = [e for entry in lab.oplog(host) if entry["operation"] == "verify_tls" for e in entry["events"]]
        assert {e["sni"] for e in handshakes} == {"www.contoso.test", "api.contoso.test", "portal.contoso.test"}


def test_a_node_still_serving_the_previous_certificate_stops_the_rollout(lab: Lab, tls: tls_lab.TlsLab) -> None:
    variables = verify_vars(lab, ccs_verify_tls_compare_store=True)
    assert lab.run(FARM, extra_vars=variables).rc == 0  # every node has loaded and cached the certificates
    import lab_farm_certs

    lab_farm_certs.create(lab.root / "certs", force=True)  # a renewal: new certificates for the same names
    run = lab.run(FARM, extra_vars=variables)
    assert run.rc != 0
    # The first batch still serves the cached certificate (polling interval not over): flagged, and the roll-out stops.
    assert run.statuses(REPORT).get("web01") == "failed"
    assert "wrong_certificate" in run.task(REPORT, "web01")["msg"]
    assert "web02" not in run.statuses(REPORT) and "web03" not in run.statuses(REPORT)

    tls_lab.advance_clock(301)  # the provider re-reads the store: every node serves the renewal
    assert lab.run(FARM, extra_vars=variables).rc == 0
