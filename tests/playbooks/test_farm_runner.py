"""farm.yml the way AWX runs it (ansible-runner, job events, -vvvv) with canary secrets: zero hits.

The secrets reach the play the way the AWX credential type (docs/awx/credential-type.yml) injects
them: as extra vars. The lab accounts' passwords are swapped for canaries too, so the provider only
works if the canary really travelled to the host.
"""

from __future__ import annotations

import sys
import typing as t

import yaml
from _lab import LAB, REPO, Lab, assert_secrets_absent

sys.path.insert(0, str(REPO / "tools"))
import lab_farm_certs  # noqa: E402

FARM = REPO / "playbooks" / "farm.yml"
STORE_PASSWORD = "Canary-Store-7f3a9c51!"
PUBLISH_PASSWORD = "Canary-Publish-1a2b3c4d!"
PRIVATE_KEY_PASSWORD = "Canary-Key-2b8e1d77!"
PFX_PASSWORD = "Canary-Pfx-9c4d5e13!"
CANARIES = (STORE_PASSWORD, PUBLISH_PASSWORD, PRIVATE_KEY_PASSWORD, PFX_PASSWORD)

# No skip when a module is missing: test_farm.py::test_farm_modules_exist fails instead, and so do these.


def canary_farm(lab: Lab) -> tuple[t.Any, dict[str, t.Any]]:
    """An inventory whose lab accounts use canary passwords, and the AWX-style extra vars carrying them."""
    inventory = yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8"))
    accounts = inventory["all"]["vars"]["iis_lab_network"]["accounts"]
    accounts["LAB\\svc-ccs"], accounts["LAB\\svc-publish"] = STORE_PASSWORD, PUBLISH_PASSWORD
    farm_vars = inventory["all"]["children"]["ccs_farm"]["vars"]
    for secret in ("ccs_store_password", "ccs_private_key_password", "ccs_lab_pfx_password"):
        del farm_vars[secret]  # must come from the "credential" below
    path = lab.root / "canary-inventory.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")

    certs = lab.root / "certs"
    lab_farm_certs.create(certs, pfx_password=PFX_PASSWORD)
    extra_vars = {
        "ccs_lab_certificate_dir": str(certs),
        "ccs_store_password": STORE_PASSWORD,
        "ccs_private_key_password": PRIVATE_KEY_PASSWORD,
        "ccs_lab_pfx_password": PFX_PASSWORD,
        "ccs_farm_serial": 2,
    }
    return path, extra_vars


def test_runner_job_events_and_artifacts_hold_no_canary(lab: Lab) -> None:
    inventory, extra_vars = canary_farm(lab)
    job = lab.run_runner(FARM.read_text(encoding="utf-8"), extra_vars=extra_vars, inventory=inventory, verbosity=4)
    text = job.text
    assert (job.status, job.rc) == ("successful", 0)
    assert all(stats["failures"] == stats["dark"] == 0 for stats in job.stats().values())
    # The run must really have worked, with the canaries, or an absent canary proves nothing.
    assert "Check every node of the batch with ccs_info" in text
    for host in ("web01", "web02", "web03"):
        registry = lab.host_state(host)["registry"]
        assert registry, f"{host} was not configured by the runner job"
    statuses = [p.read_text(encoding="utf-8").strip() for p in lab.root.glob("runner-*/artifacts/*/status")]
    assert statuses == ["successful"]
    assert_secrets_absent(text, CANARIES)


def test_vvvv_diff_and_check_output_hold_no_canary(lab: Lab) -> None:
    inventory, extra_vars = canary_farm(lab)
    check = lab.run(FARM, inventory=inventory, extra_vars=extra_vars, check=True, diff=True, verbosity=4)
    assert check.rc == 0, check.stdout[-4000:] + check.stderr[-4000:]
    build = lab.run(FARM, inventory=inventory, extra_vars=extra_vars, diff=True, verbosity=4)
    assert build.rc == 0, build.stdout[-4000:]
    again = lab.run(FARM, inventory=inventory, extra_vars={**extra_vars, "ccs_update_secrets": "always"}, diff=True, verbosity=4)
    assert again.rc == 0, again.stdout[-4000:]
    for run in (check, build, again):
        assert_secrets_absent(run.stdout + run.stderr, CANARIES)
        assert_secrets_absent(str(run.results), CANARIES)
