"""ccs_cert_publish against real Samba servers on loopback (smb destinations, reached from the controller)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from _publisher import publish
from _samba import SambaServer
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.engine import Replica
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import build_replica
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import MANIFEST_NAME, PACK_NAME, SWEEP_MARK_NAME, TEMP_PREFIX, FolderStore, StoreError
from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import is_record_name
from ansible_collections.iis.ccs.plugins.plugin_utils._store.smb import SmbFileSystem

STORE_PASSWORD = "Smb-Store-Key-Pw-1"


def args(corpus: t.Any, destinations: list[dict[str, t.Any]], leaf: str = "leaf-rsa", **extra: t.Any) -> dict[str, t.Any]:
    return {
        "pfx_path": str(corpus.path(f"{leaf}.3des.pfx")),
        "pfx_password": corpus.PFX_PASSWORD,
        "private_key_password": STORE_PASSWORD,
        "destinations": destinations,
        **extra,
    }


def thumbprint_of(path: Path) -> str:
    from cryptography.hazmat.primitives import hashes

    cert = pkcs12.load_key_and_certificates(path.read_bytes(), STORE_PASSWORD.encode())[1]
    assert cert is not None
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def pfx_names(folder: Path) -> list[str]:
    """The share's files other than the manifest records (one per PFX file, checked by record_count)."""
    return sorted(p.name for p in folder.iterdir() if not is_record_name(p.name) and p.name != PACK_NAME)


def record_count(folder: Path) -> int:
    return sum(is_record_name(p.name) for p in folder.iterdir())


def test_publish_unchanged_rerun_and_renewal(samba_share: SambaServer, corpus: t.Any) -> None:
    destination = [samba_share.destination(name="fs01")]
    first = publish(args(corpus, destination))
    assert first["changed"] is True and not first.get("failed")
    # The mark: the first write searched the share for stale temporary files (the next 15 minutes' writes do not).
    assert pfx_names(samba_share.local_dir) == [MANIFEST_NAME, SWEEP_MARK_NAME, "example.test.pfx", "www.example.test.pfx"]
    assert record_count(samba_share.local_dir) == 2
    assert thumbprint_of(samba_share.local_dir / "www.example.test.pfx") == corpus.thumbprint("leaf-rsa")

    again = publish(args(corpus, destination))
    replica = again["replicas"][0]
    assert again["changed"] is False
    assert (replica["pfx_bytes_read"], replica["pfx_bytes_written"], replica["manifest_updated"]) == (0, 0, False)

    renewed = publish(args(corpus, destination, leaf="leaf-ec"), diff=True)
    assert [(f["file_name"], f["action"]) for f in renewed["files"]] == [("www.example.test.pfx", "updated")]
    assert renewed["removed"] == [{"file_name": "example.test.pfx", "replicas": {"fs01": "removed"}}]
    assert pfx_names(samba_share.local_dir) == [MANIFEST_NAME, SWEEP_MARK_NAME, "www.example.test.pfx"]
    assert record_count(samba_share.local_dir) == 1
    assert thumbprint_of(samba_share.local_dir / "www.example.test.pfx") == corpus.thumbprint("leaf-ec")


def test_one_session_per_replica_per_task_and_no_load_when_unchanged(
    samba_factory: t.Callable[[str], SambaServer], corpus: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch to two servers: each is logged on to once per task (read and commit share it), and an unchanged re-run loads no source."""
    from ansible_collections.iis.ccs.plugins.plugin_utils._store import smb

    servers = [samba_factory("fs01"), samba_factory("fs02")]
    logons: list[str] = []
    original = smb.smbclient.register_session

    def counting(server: str, **kwargs: t.Any) -> t.Any:
        logons.append(f"{server}:{kwargs['port']}")
        return original(server, **kwargs)

    monkeypatch.setattr(smb.smbclient, "register_session", counting)
    certificates = [{"pfx_path": str(corpus.path(f"{leaf}.3des.pfx")), "pfx_password": corpus.PFX_PASSWORD} for leaf in ("leaf-rsa", "wildcard")]
    destinations = [server.destination(name=f"fs{index}") for index, server in enumerate(servers)]
    batch = {"certificates": certificates, "private_key_password": STORE_PASSWORD, "destinations": destinations}
    first = publish(batch)
    assert not first.get("failed") and first["sources_loaded"] == 2
    assert sorted(logons) == sorted(f"{s.host}:{s.port}" for s in servers)
    logons.clear()
    again = publish(batch)
    assert again["changed"] is False and again["sources_loaded"] == 0
    assert all(r["pfx_bytes_read"] == r["pfx_bytes_written"] == 0 for r in again["replicas"])
    assert sorted(logons) == sorted(f"{s.host}:{s.port}" for s in servers)


def test_check_mode_writes_nothing_on_the_share(samba_share: SambaServer, corpus: t.Any) -> None:
    result = publish(args(corpus, [samba_share.destination(name="fs01")]), check_mode=True)
    assert result["changed"] is True
    assert result["replicas"][0]["created"] == ["example.test.pfx", "www.example.test.pfx"]
    assert list(samba_share.local_dir.iterdir()) == []


def test_one_replica_down_then_healed(samba_factory: t.Callable[[str], SambaServer], corpus: t.Any) -> None:
    one, two = samba_factory("one"), samba_factory("two")
    destinations = [one.destination(name="one"), two.destination(name="two")]
    two.stop()
    down = publish(args(corpus, destinations, min_replicas=1))
    assert not down.get("failed")
    assert [r["status"] for r in down["replicas"]] == ["changed", "failed"]
    assert "cannot connect" in down["replicas"][1]["error"] and two.password not in json.dumps(down)
    strict = publish(args(corpus, destinations))
    assert strict["failed"] is True and "min_replicas" in strict["msg"]
    two.start()
    healed = publish(args(corpus, destinations))
    assert not healed.get("failed")
    assert [f["replicas"] for f in healed["files"]] == [{"one": "unchanged", "two": "created"}] * 2
    assert pfx_names(two.local_dir) == pfx_names(one.local_dir)


def test_wrong_share_password_fails_that_replica_without_leaking(samba_share: SambaServer, corpus: t.Any) -> None:
    result = publish(args(corpus, [samba_share.destination(name="fs01", password="Wrong-Share-Pw-5")]))
    assert result["failed"] is True
    error = result["replicas"][0]["error"]
    assert "the share's user name or password is incorrect (STATUS_LOGON_FAILURE)" in error and "LogonFailure" not in error, error
    assert "Wrong-Share-Pw-5" not in json.dumps(result)


class FailingRename(SmbFileSystem):
    """Fault injection: the temp file is written, then the rename over the real file fails."""

    def _rename_over(self, raw: t.Any, name: str, read_back: int = 0) -> t.Any:
        if name.endswith(".pfx"):
            raise OSError("injected fault between write and rename")
        return super()._rename_over(raw, name, read_back)


def faulty_factory(faulty_name: str) -> t.Callable[..., Replica]:
    def build(destination: t.Mapping[str, t.Any], runner: t.Any) -> Replica:
        if destination.get("name") != faulty_name:
            return build_replica(destination, runner)
        fs = FailingRename(
            destination["path"], user_name=destination["user_name"], password=destination["password"], port=destination["port"], encrypt=destination["encrypt"]
        )
        return Replica(destination["name"], "smb", destination["path"], FolderStore(fs))

    return build


def test_fault_between_write_and_rename_keeps_old_file_and_leaves_no_temp(samba_factory: t.Callable[[str], SambaServer], corpus: t.Any) -> None:
    one, two = samba_factory("one"), samba_factory("two")
    destinations = [one.destination(name="one"), two.destination(name="two")]
    assert not publish(args(corpus, destinations)).get("failed")
    old = (one.local_dir / "www.example.test.pfx").read_bytes()
    result = publish(args(corpus, destinations, leaf="leaf-ec", min_replicas=1), replica_factory=faulty_factory("one"))
    assert [r["status"] for r in result["replicas"]] == ["failed", "changed"]
    assert "injected fault" in result["replicas"][0]["error"]
    assert (one.local_dir / "www.example.test.pfx").read_bytes() == old
    assert not [p for p in one.local_dir.iterdir() if p.name.startswith(TEMP_PREFIX)]
    healed = publish(args(corpus, destinations, leaf="leaf-ec"))
    assert healed["files"][0]["replicas"] == {"one": "updated", "two": "unchanged"}
    assert thumbprint_of(one.local_dir / "www.example.test.pfx") == corpus.thumbprint("leaf-ec")


def test_two_concurrent_publishers_never_leave_a_torn_file(samba_share: SambaServer, corpus: t.Any, tmp_path: Path) -> None:
    destination = [samba_share.destination(name="fs01")]
    expected = {corpus.thumbprint("leaf-rsa"), corpus.thumbprint("leaf-ec")}
    jobs = []
    for leaf in ("leaf-rsa", "leaf-ec"):
        params = tmp_path / f"{leaf}.json"
        params.write_text(json.dumps(args(corpus, destination, leaf=leaf, host_names=["www.example.test"])))
        jobs.append(params)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    processes = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "_publisher.py"), str(p), "6"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
        )
        for p in jobs
    ]
    seen: set[str] = set()
    problems: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        target = samba_share.local_dir / "www.example.test.pfx"
        while not stop.is_set():
            if target.exists():
                try:
                    seen.add(thumbprint_of(target))
                except FileNotFoundError:
                    continue
                except Exception as exc:  # noqa: BLE001 - any unreadable state is the failure we look for
                    problems.append(repr(exc))

    watcher = threading.Thread(target=watch)
    watcher.start()
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    stop.set()
    watcher.join()
    assert all(p.returncode == 0 for p in processes), outputs
    assert problems == []
    assert seen <= expected and seen
    assert thumbprint_of(samba_share.local_dir / "www.example.test.pfx") in expected
    assert not [p for p in samba_share.local_dir.iterdir() if p.name.startswith(TEMP_PREFIX)]
    json.loads((samba_share.local_dir / MANIFEST_NAME).read_text())
    # Whatever the interleaving, one more run converges and then stays unchanged.
    publish(args(corpus, destination, host_names=["www.example.test"]))
    assert publish(args(corpus, destination, host_names=["www.example.test"]))["changed"] is False


def test_a_missing_folder_on_the_share_is_named(samba_share: SambaServer) -> None:
    folder = samba_share.unc + "\\no-such-folder"
    fs = SmbFileSystem(folder, user_name=samba_share.user, password=samba_share.password, port=samba_share.port, encrypt=True)
    try:
        with pytest.raises(StoreError, match=r"^the folder .*\\no-such-folder does not exist$"):
            fs.list("*.pfx")
    finally:
        fs.close()


def test_without_smbprotocol_the_smb_type_says_what_to_install() -> None:
    # A controller Python without the package: the import fails, and the first smb destination reports it.
    script = (
        "import sys; sys.modules['smbclient'] = None; sys.modules['smbprotocol'] = None\n"
        "from ansible_collections.iis.ccs.plugins.plugin_utils._store.smb import SmbFileSystem\n"
        "from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import StoreError\n"
        "try:\n    SmbFileSystem('\\\\\\\\fs01\\\\ccs', user_name='u', password='p', port=445, encrypt=True)\n"
        "except StoreError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == "the smb destination type needs the Python package smbprotocol on the controller"
