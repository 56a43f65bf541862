"""ccs_cert_publish through real ansible-playbook runs: via-Windows-host destinations in the lab, controller folders,
check mode, diff, idempotency, replica failure and healing, and canary secrets at -vvvv and in ansible-runner artifacts."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from _lab import LAB, Lab, assert_secrets_absent

from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import PACK_NAME, is_record_name

STORE_PASSWORD = "Store-Key-Pw-canary-7f3a"
SHARE = r"\\fs01\ccs"
PUBLISHER = {"user_name": r"LAB\svc-publish", "password": "Lab-Publisher-Pa55!"}


def store_names(folder: Path) -> list[str]:
    """The store's files without the manifest records, once it is clear there is exactly one record per PFX file."""
    names = sorted(p.name for p in folder.iterdir())
    assert len([n for n in names if is_record_name(n)]) == len([n for n in names if n.endswith(".pfx")]), names
    return [n for n in names if not is_record_name(n) and n != PACK_NAME]


@pytest.fixture(scope="module")
def corpus(cert_corpus_module: t.Any, tmp_path_factory: pytest.TempPathFactory) -> t.Any:
    return cert_corpus_module.build_corpus(tmp_path_factory.mktemp("publish-corpus"), openssl=None)


@pytest.fixture(autouse=True)
def file_server_up(lab: Lab) -> None:
    """Boot fs01 (its profile creates D:\\CCS, the folder behind \\\\fs01\\ccs) by reading its state once."""
    run = lab.run("""
- hosts: fs01
  gather_facts: false
  tasks:
    - name: boot
      iis.ccs.ccs_info:
        gather: [windows]
""")
    assert run.rc == 0, run.stdout
    assert fs01_store(lab).is_dir()


def fs01_store(lab: Lab) -> Path:
    return lab.state_dir / "fs01.fs" / "d" / "CCS"


def publish_task(name: str, **args: t.Any) -> str:
    return f"""
- hosts: web02
  gather_facts: false
  tasks:
    - name: {name}
      iis.ccs.ccs_cert_publish: {json.dumps(args)}
"""


def base_args(corpus: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    args = {
        "pfx_path": str(corpus.path("leaf-rsa.3des.pfx")),
        "pfx_password": corpus.PFX_PASSWORD,
        "private_key_password": STORE_PASSWORD,
        "destinations": [{"type": "host_unc", "path": SHARE, "name": "fs01", **PUBLISHER}],
    }
    args.update(extra)
    return args


def load_store_file(path: Path, password: str = STORE_PASSWORD) -> t.Any:
    return pkcs12.load_key_and_certificates(path.read_bytes(), password.encode())


def test_host_unc_publish_then_unchanged_rerun_is_one_cheap_round_trip(lab: Lab, corpus: t.Any) -> None:
    run = lab.run(publish_task("publish", **base_args(corpus)))
    assert run.rc == 0, run.stdout + run.stderr
    result = run.task("publish")
    assert result["changed"] is True
    assert sorted(f["file_name"] for f in result["files"]) == ["example.test.pfx", "www.example.test.pfx"]
    assert all(f["replicas"] == {"fs01": "created"} for f in result["files"])
    assert result["round_trips"] == 2  # one read, one write
    store = fs01_store(lab)
    assert store_names(store) == [".iis-ccs-manifest.json", "example.test.pfx", "www.example.test.pfx"]
    key, cert, chain = load_store_file(store / "www.example.test.pfx")
    assert key is not None and cert is not None and len(chain) >= 1
    assert STORE_PASSWORD not in (store / ".iis-ccs-manifest.json").read_text()
    assert [e["operation"] for e in lab.oplog("web02")] == ["read_cert_store", "write_cert_store"]
    assert any(ev["event"] == "map_share" and ev["account"] == r"lab\svc-publish" for ev in lab.oplog("web02")[0]["events"])

    again = lab.run(publish_task("publish", **base_args(corpus))).task("publish")
    assert again["changed"] is False
    assert again["round_trips"] == 1
    assert again["replicas"][0]["pfx_bytes_read"] == 0 and again["replicas"][0]["pfx_bytes_written"] == 0
    assert [e["operation"] for e in lab.oplog("web02")][2:] == ["read_cert_store"]


def test_check_mode_and_diff_change_nothing_and_list_files(lab: Lab, corpus: t.Any) -> None:
    before = lab.snapshot()
    run = lab.run(publish_task("publish", **base_args(corpus)), check=True, diff=True)
    assert run.rc == 0, run.stdout
    result = run.task("publish")
    assert result["changed"] is True
    assert result["replicas"][0]["created"] == ["example.test.pfx", "www.example.test.pfx"]
    assert set(result["diff"]["after"]["fs01"]) == {"example.test.pfx", "www.example.test.pfx"}
    assert "www.example.test.pfx" in run.stdout  # the diff is shown
    after = lab.snapshot()
    assert {k: v for k, v in after.items() if "CCS" in k} == {k: v for k, v in before.items() if "CCS" in k} == {}
    assert [e["operation"] for e in lab.oplog("web02")] == ["read_cert_store"]


def test_host_path_renewal_replaces_and_removes_dropped_name(lab: Lab, corpus: t.Any) -> None:
    destination = [{"type": "host_path", "path": r"D:\CCS", "name": "local-disk"}]
    first = lab.run(publish_task("publish", **base_args(corpus, destinations=destination)).replace("web02", "fs01"))
    assert first.rc == 0, first.stdout
    renewed_args = base_args(corpus, destinations=destination, pfx_path=str(corpus.path("leaf-ec.3des.pfx")))
    run = lab.run(publish_task("publish", **renewed_args).replace("web02", "fs01"), diff=True)
    assert run.rc == 0, run.stdout
    result = run.task("publish")
    assert [(f["file_name"], f["action"]) for f in result["files"]] == [("www.example.test.pfx", "updated")]
    assert result["removed"] == [{"file_name": "example.test.pfx", "replicas": {"local-disk": "removed"}}]
    assert result["diff"]["before"]["local-disk"]["www.example.test.pfx"]["thumbprint"] == corpus.thumbprint("leaf-rsa")
    assert result["diff"]["after"]["local-disk"]["www.example.test.pfx"]["thumbprint"] == corpus.thumbprint("leaf-ec")
    assert store_names(fs01_store(lab)) == [".iis-ccs-manifest.json", "www.example.test.pfx"]


def test_share_down_fails_that_replica_only_and_rerun_heals(lab: Lab, corpus: t.Any, tmp_path: Path) -> None:
    local = tmp_path / "mirror"
    local.mkdir()
    destinations = [{"type": "host_unc", "path": SHARE, "name": "fs01", **PUBLISHER}, {"type": "local", "path": str(local), "name": "mirror"}]
    lab.set_offline("fs01")
    run = lab.run(publish_task("publish", **base_args(corpus, destinations=destinations, min_replicas=1)))
    assert run.rc == 0, run.stdout
    result = run.task("publish")
    assert [r["status"] for r in result["replicas"]] == ["failed", "changed"]
    assert "network path was not found" in result["replicas"][0]["error"]
    assert result["files"][0]["replicas"] == {"fs01": "failed", "mirror": "created"}

    strict = lab.run(publish_task("publish", **base_args(corpus, destinations=destinations)))
    assert strict.rc != 0
    failed = strict.task("publish")
    assert failed["failed"] is True and "min_replicas" in failed["msg"] and "fs01" in failed["msg"]
    assert failed["replicas"][1]["status"] == "unchanged"

    lab.set_offline()
    healed = lab.run(publish_task("publish", **base_args(corpus, destinations=destinations))).task("publish")
    assert healed["files"][0]["replicas"] == {"fs01": "created", "mirror": "unchanged"}
    assert (fs01_store(lab) / "www.example.test.pfx").exists()


def test_share_permissions_and_logon_are_enforced(lab: Lab, corpus: t.Any) -> None:
    reader = base_args(corpus, destinations=[{"type": "host_unc", "path": SHARE, "name": "fs01", "user_name": r"LAB\svc-ccs", "password": "Lab-Reader-Pa55!"}])
    result = lab.run(publish_task("publish", **reader)).task("publish")
    assert result["failed"] is True and "denied" in result["replicas"][0]["error"]
    wrong = base_args(
        corpus, destinations=[{"type": "host_unc", "path": SHARE, "name": "fs01", "user_name": r"LAB\svc-publish", "password": "wrong-password-x"}]
    )
    result = lab.run(publish_task("publish", **wrong)).task("publish")
    assert "user name or password is incorrect" in result["replicas"][0]["error"]
    assert "wrong-password-x" not in json.dumps(result)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"destinations": [{"type": "host_unc", "path": SHARE}]}, "double hop"),
        ({"private_key_password": None}, "private_key_password"),
        ({"min_replicas": 2}, "min_replicas"),
        ({"host_names": ["shop.other.test"]}, "host_names"),
        ({"pfx_password": "not-the-password"}, "pfx_password"),
        ({"host_names": ["../../windows/system32"]}, "host_names"),
        # Wrong types are refused as wrong types, without ansible-core's internal class names.
        ({"host_names": {"www.example.test": True}}, "host_names: expected a list, got a dictionary"),
        ({"destinations": [{"type": "host_unc", "path": [SHARE], **PUBLISHER}]}, "destinations[0].path: expected a string, got a list"),
        # '..' is refused in every destination type, before anything is read or written.
        ({"destinations": [{"type": "host_path", "path": "D:\\CCS\\..\\CCS-other"}]}, "destinations[0].path: relative segments"),
        ({"destinations": [{"type": "host_unc", "path": SHARE + "\\..\\other", **PUBLISHER}]}, "destinations[0].path: relative segments"),
    ],
)
def test_bad_input_fails_before_any_host_operation(lab: Lab, corpus: t.Any, change: dict[str, t.Any], needle: str) -> None:
    args = {k: v for k, v in {**base_args(corpus), **change}.items() if v is not None}
    run = lab.run(publish_task("publish", **args))
    assert run.rc != 0
    result = run.task("publish")
    assert needle in result["msg"]
    # Only a certificate the full load must judge (its host names are not covered) may wait for the store's read.
    assert_nothing_written(lab, may_read="shop.other.test" in json.dumps(change))


def assert_nothing_written(lab: Lab, *, may_read: bool) -> None:
    """The task failed before any write. A source whose PFX password its MAC proves is checked in full only after
    the store was read (the short path needs the records), so one read may have run then, and nothing else;
    the options, the destinations and a wrong source password are refused before any host operation."""
    operations = [op["operation"] for op in lab.oplog("web02")]
    assert operations in (([], ["read_cert_store"]) if may_read else ([],))
    assert not any(fs01_store(lab).iterdir())


def test_smb_and_local_only_task_runs_on_the_controller(lab: Lab, corpus: t.Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    run = lab.run(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: publish
      iis.ccs.ccs_cert_publish: {
        json.dumps(base_args(corpus, destinations=[{"type": "local", "path": str(store)}], host_names=["www.example.test"], encryption="aes256"))
    }
""")
    assert run.rc == 0, run.stdout + run.stderr
    result = run.task("publish")
    assert result["round_trips"] == 0 and result["encryption"] == "aes256"
    # .iis-ccs-swept: when this folder was last searched for stale temporary files (a controller-side store).
    assert store_names(store) == [".iis-ccs-manifest.json", ".iis-ccs-swept", "www.example.test.pfx"]
    assert (store / "www.example.test.pfx").stat().st_mode & 0o077 == 0


def _canary_material(corpus: t.Any, tmp_path: Path) -> dict[str, t.Any]:
    """A PFX and an encrypted PEM key protected by canary secrets, and a lab inventory whose share password is one."""
    key = serialization.load_pem_private_key(corpus.read("leaf-rsa.key"), None)
    cert = corpus.certificate("leaf-rsa")
    secrets = {"pfx": "Canary-Pfx-9d1c", "passphrase": "Canary-Pass-4b2e", "share": "Canary-Share-6a8f", "store": "Canary-Store-3e7d"}
    pfx = tmp_path / "canary.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"x", key, cert, None, serialization.BestAvailableEncryption(secrets["pfx"].encode())))
    pem_key = tmp_path / "canary.key"
    pem_key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(secrets["passphrase"].encode()))
    )
    inventory = tmp_path / "inventory.yml"
    inventory.write_text((LAB / "inventory.yml").read_text().replace("Lab-Publisher-Pa55!", secrets["share"]))
    return {"secrets": secrets, "pfx": pfx, "key": pem_key, "inventory": inventory}


def _canary_playbook(corpus: t.Any, material: dict[str, t.Any], local: Path) -> str:
    s = material["secrets"]
    destinations = [
        {"type": "host_unc", "path": SHARE, "name": "fs01", "user_name": r"LAB\svc-publish", "password": s["share"]},
        {"type": "host_unc", "path": SHARE, "name": "fs01-bad", "user_name": r"LAB\svc-publish", "password": s["share"] + "x"},
        {"type": "local", "path": str(local), "name": "mirror"},
    ]
    pfx_task = {"pfx_path": str(material["pfx"]), "pfx_password": s["pfx"], "private_key_password": s["store"], "destinations": destinations, "min_replicas": 2}
    pem_task = {
        "certificate_path": str(corpus.path("leaf-rsa.crt")),
        "private_key_path": str(material["key"]),
        "private_key_passphrase": s["passphrase"],
        "chain_path": str(corpus.path("chain.pem")),
        "private_key_password": s["store"],
        "destinations": destinations,
        "min_replicas": 3,
    }
    wrong = dict(pfx_task, pfx_password=s["passphrase"])
    return f"""
- hosts: web02
  gather_facts: false
  tasks:
    - name: pfx
      iis.ccs.ccs_cert_publish: {json.dumps(pfx_task)}
    - name: pem
      iis.ccs.ccs_cert_publish: {json.dumps(pem_task)}
      ignore_errors: true
    - name: wrong password
      iis.ccs.ccs_cert_publish: {json.dumps(wrong)}
      ignore_errors: true
"""


def test_canary_secrets_never_appear_at_vvvv(lab: Lab, corpus: t.Any, tmp_path: Path) -> None:
    material = _canary_material(corpus, tmp_path)
    local = tmp_path / "mirror"
    local.mkdir()
    run = lab.run(_canary_playbook(corpus, material, local), verbosity=4, diff=True, inventory=material["inventory"])
    assert run.task("pfx")["changed"] is True, run.stdout
    assert run.task("pem")["failed"] is True  # fs01-bad fails and min_replicas is 3
    assert "pfx_password" in run.task("wrong password")["msg"]
    text = run.stdout + run.stderr + json.dumps(run.results)
    assert_secrets_absent(text, [s for k, s in material["secrets"].items()])
    store_text = "".join(p.read_bytes().decode("latin-1") for p in (fs01_store(lab)).iterdir())
    assert_secrets_absent(store_text, material["secrets"].values())


def test_canary_secrets_never_appear_in_ansible_runner_artifacts(lab: Lab, corpus: t.Any, tmp_path: Path) -> None:
    material = _canary_material(corpus, tmp_path)
    local = tmp_path / "mirror"
    local.mkdir()
    job = lab.run_runner(_canary_playbook(corpus, material, local), inventory=material["inventory"])
    # pfx succeeds; pem (too few replicas) and the wrong password fail and are ignored.
    job.assert_succeeded(ok={"web02": 1}, ignored={"web02": 2})
    assert "pfx_password" in job.text  # the wrong-password task ran and reported
    assert_secrets_absent(job.text, material["secrets"].values())


def test_host_fault_between_write_and_rename_keeps_old_file_and_no_temp(lab: Lab, corpus: t.Any) -> None:
    assert lab.run(publish_task("publish", **base_args(corpus))).rc == 0
    store = fs01_store(lab)
    old = (store / "www.example.test.pfx").read_bytes()
    renewal = publish_task("publish", **base_args(corpus, pfx_path=str(corpus.path("leaf-ec.3des.pfx"))))
    # The lab's emulation of write_cert_store fails this file's rename after writing its temp file.
    lab.set_faults(rename_fails=["www.example.test.pfx"])
    run = lab.run(renewal)
    lab.set_faults()
    assert run.rc != 0
    result = run.task("publish")
    assert "being used by another process" in result["replicas"][0]["error"]
    assert (store / "www.example.test.pfx").read_bytes() == old
    assert not [p.name for p in store.iterdir() if p.name.startswith(".iis-ccs-tmp-")]
    healed = lab.run(renewal).task("publish")
    assert healed["files"][0]["action"] == "updated"
    assert healed["removed"] == [{"file_name": "example.test.pfx", "replicas": {"fs01": "removed"}}]


def batch_args(corpus: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    args = base_args(corpus, **extra)
    for option in ("pfx_path", "pfx_password"):
        args.pop(option)
    args.setdefault("certificates", [
        {"pfx_path": str(corpus.path("leaf-rsa.3des.pfx")), "pfx_password": corpus.PFX_PASSWORD},
        {"certificate_path": str(corpus.path("multi-san.crt")), "private_key_path": str(corpus.path("multi-san.key")),
         "chain_path": str(corpus.path("intermediate.crt"))},
        {"pfx_path": str(corpus.path("wildcard.aes256.pfx")), "pfx_password": corpus.PFX_PASSWORD, "encryption": "aes256"},
    ])
    return args


def test_batch_publishes_every_certificate_in_one_read_and_one_write(lab: Lab, corpus: t.Any) -> None:
    run = lab.run(publish_task("publish", **batch_args(corpus)))
    assert run.rc == 0, run.stdout + run.stderr
    result = run.task("publish")
    assert result["changed"] is True and result["round_trips"] == 2
    assert [c["thumbprint"] for c in result["certificates"]] == [corpus.thumbprint(n).upper() for n in ("leaf-rsa", "multi-san", "wildcard")]
    assert [c["encryption"] for c in result["certificates"]] == ["compatible", "compatible", "aes256"]
    assert [e["operation"] for e in lab.oplog("web02")] == ["read_cert_store", "write_cert_store"]
    names = store_names(fs01_store(lab))
    assert names == [".iis-ccs-manifest.json", "_.example.test.pfx", "a.example.test.pfx", "b.example.test.pfx", "c.example.test.pfx",
                     "example.test.pfx", "www.example.test.pfx"]
    for name in names[1:]:
        assert load_store_file(fs01_store(lab) / name)[0] is not None

    again = lab.run(publish_task("publish", **batch_args(corpus)), diff=True).task("publish")
    assert again["changed"] is False and again["round_trips"] == 1
    assert not any(c["changed"] for c in again["certificates"])
    assert again["replicas"][0]["pfx_bytes_read"] == again["replicas"][0]["pfx_bytes_written"] == 0


def test_batch_check_mode_diff_and_renewal_of_one_certificate(lab: Lab, corpus: t.Any) -> None:
    preview = lab.run(publish_task("publish", **batch_args(corpus)), check=True, diff=True)
    assert preview.rc == 0 and preview.task("publish")["changed"] is True
    assert not any(fs01_store(lab).iterdir())
    assert "a.example.test.pfx" in preview.stdout  # the diff is shown
    assert lab.run(publish_task("publish", **batch_args(corpus))).rc == 0
    args = batch_args(corpus)
    args["certificates"][0] = {"pfx_path": str(corpus.path("leaf-ec.3des.pfx")), "pfx_password": corpus.PFX_PASSWORD}
    renewed = lab.run(publish_task("publish", **args)).task("publish")
    assert [c["changed"] for c in renewed["certificates"]] == [True, False, False]
    assert renewed["removed"] == [{"file_name": "example.test.pfx", "replicas": {"fs01": "removed"}}]


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"pfx_path": "PFX", "pfx_password": "not-the-password"}, "certificates[1].pfx_password"),
        ({"pfx_path": "PFX", "pfx_password": "PW", "host_names": ["shop.other.test"]}, "certificates[1].host_names"),
        ({"pfx_path": "PFX", "pfx_password": "PW", "host_names": ["www.example.test"]}, "also published by certificates[0]"),
    ],
)
def test_batch_bad_entry_fails_before_any_host_operation(lab: Lab, corpus: t.Any, entry: dict[str, t.Any], needle: str) -> None:
    args = batch_args(corpus)
    values = {"PFX": str(corpus.path("leaf-rsa.aes256.pfx")), "PW": corpus.PFX_PASSWORD}
    args["certificates"] = [args["certificates"][0], {k: values.get(v, v) if isinstance(v, str) else v for k, v in entry.items()}]
    run = lab.run(publish_task("publish", **args))
    assert run.rc != 0
    assert needle in run.task("publish")["msg"]
    assert "not-the-password" not in run.stdout + json.dumps(run.results)
    assert_nothing_written(lab, may_read=needle != "certificates[1].pfx_password")
