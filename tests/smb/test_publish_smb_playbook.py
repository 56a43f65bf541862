"""ccs_cert_publish to a Samba share through real ansible-playbook and ansible-runner runs on the controller
(connection: local): idempotency, check mode, and no canary secret at -vvvv or in runner artifacts."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "playbooks"))

from _lab import Lab, assert_secrets_absent  # noqa: E402
from _samba import SambaServer  # noqa: E402


@pytest.fixture
def controller(tmp_path: Path) -> Lab:
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "state").mkdir()
    return Lab(tmp_path / "lab")


def _play(args: dict[str, t.Any]) -> str:
    return f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: publish
      iis.ccs.ccs_cert_publish: {json.dumps(args)}
"""


def test_playbook_smb_secrets_never_leak(controller: Lab, samba_share: SambaServer, corpus: t.Any, tmp_path: Path) -> None:
    secrets = {"pfx": "Canary-Smb-Pfx-11a", "store": "Canary-Smb-Store-22b"}
    key = serialization.load_pem_private_key(corpus.read("leaf-rsa.key"), None)
    pfx = tmp_path / "canary.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(b"x", key, corpus.certificate("leaf-rsa"), None, serialization.BestAvailableEncryption(secrets["pfx"].encode()))
    )
    args = {
        "pfx_path": str(pfx),
        "pfx_password": secrets["pfx"],
        "private_key_password": secrets["store"],
        "destinations": [samba_share.destination(name="fs01"), dict(samba_share.destination(name="bad"), password="Canary-Smb-Wrong-33c")],
        "min_replicas": 1,
    }
    leaked = [*secrets.values(), samba_share.password, "Canary-Smb-Wrong-33c"]
    check = controller.run(_play(args), check=True, diff=True, verbosity=4)
    assert check.task("publish")["changed"] is True, check.stdout
    assert list(samba_share.local_dir.iterdir()) == []
    first = controller.run(_play(args), diff=True, verbosity=4)
    result = first.task("publish")
    assert first.rc == 0, first.stdout
    assert [r["status"] for r in result["replicas"]] == ["changed", "failed"]
    second = controller.run(_play(args), verbosity=4).task("publish")
    assert second["changed"] is False and second["round_trips"] == 0
    text = "".join(run.stdout + run.stderr + json.dumps(run.results) for run in (check, first))
    assert_secrets_absent(text, leaked)
    job = controller.run_runner(_play(args))
    job.assert_succeeded(ok={"localhost": 1})
    assert_secrets_absent(job.text, leaked)
