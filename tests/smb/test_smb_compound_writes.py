"""The SMB store's whole-file steps against real Samba: an atomic write in two round trips, the read-back in one,
and several files at once; a short or failed write never replaces the old file and leaves no temporary file."""

from __future__ import annotations

import os
import typing as t

import pytest
from smbprotocol.connection import Connection

from _publisher import publish
from _samba import SambaServer
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.engine import Replica
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import build_replica
from ansible_collections.iis.ccs.plugins.plugin_utils._store import smb
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import TEMP_PREFIX, FolderStore, StoreError, read_back, write_via_temp
from ansible_collections.iis.ccs.plugins.plugin_utils._store.smb import SmbFileSystem
from test_publish_smb import args


def filesystem(server: SambaServer) -> SmbFileSystem:
    destination = server.destination()
    return SmbFileSystem(destination["path"], user_name=destination["user_name"], password=destination["password"], port=destination["port"], encrypt=True)


def count_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every request or compound smbprotocol puts on the wire counts once."""
    sent = [0]
    original = Connection._send  # noqa: SLF001 - the one place every request and compound passes

    def counting(self: Connection, *a: t.Any, **kw: t.Any) -> t.Any:
        sent[0] += 1
        return original(self, *a, **kw)

    monkeypatch.setattr(Connection, "_send", counting)
    return sent


def temps(server: SambaServer) -> list[str]:
    return [p.name for p in server.local_dir.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_write_is_two_round_trips_and_read_back_one(samba_share: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = filesystem(samba_share)
    fs.write_atomic("warm.pfx", b"logon first")  # the session's logon and tree connect are not the write's cost
    sent = count_round_trips(monkeypatch)
    data = os.urandom(5000)
    closed = fs.write_atomic("a.pfx", data)
    after_write = sent[0]
    stat = fs.read_verified("a.pfx", data)
    assert (after_write, sent[0] - after_write) == (2, 1)
    assert (samba_share.local_dir / "a.pfx").read_bytes() == data
    # The size and time the close and the read-back open reported are those a listing shows (what records vouch with).
    assert fs.list("a.pfx")["a.pfx"] == stat == closed == fs.stat("a.pfx")
    # The same steps one primitive at a time, as before, cost far more round trips.
    sent[0] = 0
    write_via_temp(fs, "b.pfx", data)
    read_back(fs, "b.pfx", data)
    assert sent[0] >= 9
    assert temps(samba_share) == []
    fs.close()


def test_a_pfx_write_with_its_read_back_is_two_round_trips(samba_share: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a publish does per PFX file: the read-back travels with the rename instead of taking a round trip of its own.
    fs = filesystem(samba_share)
    fs.write_atomic("warm.pfx", b"logon first")
    sent = count_round_trips(monkeypatch)
    data = os.urandom(5000)
    stat = fs.write_verified("a.pfx", data)
    assert sent[0] == 2
    assert (samba_share.local_dir / "a.pfx").read_bytes() == data
    assert fs.list("a.pfx")["a.pfx"] == stat == fs.stat("a.pfx")
    assert fs.write_verified("empty.pfx", b"") == fs.stat("empty.pfx")  # an empty file reads back as empty
    assert temps(samba_share) == []
    fs.close()


def altered_step(monkeypatch: pytest.MonkeyPatch, requests: int, kind: type, alter: t.Callable[[t.Any], t.Any]) -> None:
    """Fault injection: the second answer of every compound of that many requests, when of that kind, is altered."""
    real = smb._send_related  # noqa: SLF001

    def altered(raw: t.Any, actions: t.Sequence[t.Any]) -> list[t.Any]:
        outcomes = real(raw, actions)
        if len(actions) == requests and isinstance(outcomes[1], kind):
            outcomes[1] = alter(outcomes[1])
        return outcomes

    monkeypatch.setattr(smb, "_send_related", altered)


def test_other_bytes_read_back_with_the_rename_are_refused(samba_share: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = filesystem(samba_share)
    altered_step(monkeypatch, 3, bytes, lambda back: back[:-1] + bytes([back[-1] ^ 1]))  # rename + read + close
    with pytest.raises(StoreError, match="read-back check of f.pfx failed"):
        fs.write_verified("f.pfx", b"what we wrote")
    assert temps(samba_share) == []
    fs.close()


def test_a_short_write_is_never_renamed_over_the_old_file(samba_share: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = filesystem(samba_share)
    fs.write_atomic("c.pfx", b"old content")
    altered_step(monkeypatch, 2, int, lambda written: written - 1)  # the create + write compound
    with pytest.raises(StoreError, match=r"the server took 10 of 11 bytes"):
        fs.write_atomic("c.pfx", b"new content")
    assert (samba_share.local_dir / "c.pfx").read_bytes() == b"old content"
    assert temps(samba_share) == []
    fs.close()


def test_a_file_changed_behind_the_read_back_is_refused(samba_share: SambaServer) -> None:
    fs = filesystem(samba_share)
    fs.write_atomic("d.pfx", b"what we wrote")
    (samba_share.local_dir / "d.pfx").write_bytes(b"what we wrote, and more")
    with pytest.raises(StoreError, match="read-back check of d.pfx failed"):
        fs.read_verified("d.pfx", b"what we wrote")
    (samba_share.local_dir / "d.pfx").unlink()
    with pytest.raises(StoreError, match="read-back check of d.pfx failed"):
        fs.read_verified("d.pfx", b"what we wrote")
    fs.close()


def test_files_over_the_compound_limit_take_the_step_by_step_path(samba_share: SambaServer) -> None:
    fs = filesystem(samba_share)
    data = os.urandom(smb.COMPOUND_DATA_LIMIT + 1)
    fs.write_atomic("big.pfx", data)
    assert fs.read_verified("big.pfx", data) == fs.stat("big.pfx")
    assert (samba_share.local_dir / "big.pfx").read_bytes() == data
    assert fs.read("big.pfx") == data  # the first 64 KiB in one round trip, then the whole file
    assert fs.read("absent.pfx") is None
    (samba_share.local_dir / "empty.pfx").write_bytes(b"")
    assert fs.read("empty.pfx") == b""
    fs.close()


class FailingOneRename(SmbFileSystem):
    """Fault injection in a batch written several files at once: one PFX file's rename fails."""

    def _rename_over(self, raw: t.Any, name: str, read_back: int = 0) -> t.Any:
        if name == "shop.example.test.pfx":
            raise OSError("injected fault in one of several writes")
        return super()._rename_over(raw, name, read_back)


def test_a_failure_among_parallel_requests_leaves_whole_files_and_a_rerun_converges(samba_share: SambaServer, corpus: t.Any) -> None:
    destination = samba_share.destination(name="fs01")
    certificates = [
        {"pfx_path": str(corpus.path(f"{leaf}.3des.pfx")), "pfx_password": corpus.PFX_PASSWORD, "host_names": [name]}
        for leaf, name in (("leaf-rsa", "www.example.test"), ("wildcard", "shop.example.test"), ("multi-san", "b.example.test"))
    ]
    batch = {k: v for k, v in args(corpus, [destination]).items() if k not in ("pfx_path", "pfx_password")}
    batch["certificates"] = certificates

    def faulty(dest: t.Mapping[str, t.Any], runner: t.Any) -> Replica:
        fs = FailingOneRename(dest["path"], user_name=dest["user_name"], password=dest["password"], port=dest["port"], encrypt=dest["encrypt"])
        return Replica(dest["name"], "smb", dest["path"], FolderStore(fs))

    assert FailingOneRename.parallel_requests > 1
    failed = publish(batch, replica_factory=faulty)
    assert failed.get("failed") and "injected fault" in failed["replicas"][0]["error"]
    assert not (samba_share.local_dir / "shop.example.test.pfx").exists()
    assert temps(samba_share) == []
    healed = publish(batch, replica_factory=build_replica)
    assert not healed.get("failed") and healed["changed"] is True
    assert sorted(p.name for p in samba_share.local_dir.glob("*.pfx")) == ["b.example.test.pfx", "shop.example.test.pfx", "www.example.test.pfx"]
    assert publish(batch)["changed"] is False


def test_without_the_compound_building_block_every_step_still_works(samba_share: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a smbprotocol release move smbclient._io, the documented step-by-step functions do the same work."""
    monkeypatch.setattr(smb, "HAS_COMPOUND", False)
    monkeypatch.setattr(smb, "COMPOUND_DATA_LIMIT", -1)
    fs = filesystem(samba_share)
    sent = count_round_trips(monkeypatch)
    fs.write_atomic("e.pfx", b"step by step")
    assert fs.read_verified("e.pfx", b"step by step") == fs.stat("e.pfx")
    assert fs.write_verified("g.pfx", b"step by step too") == fs.stat("g.pfx")
    assert fs.read("e.pfx") == b"step by step" and fs.read("absent.pfx") is None
    assert sent[0] > 9 and temps(samba_share) == []
    fs.close()


# -- new manifest records: one round trip ---------------------------------------------------------------


def test_a_new_record_is_created_written_and_closed_in_one_round_trip(samba_share: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = filesystem(samba_share)
    fs.write_atomic("warm.json", b"logon first")
    sent = count_round_trips(monkeypatch)
    stat = fs.create_whole(".iis-ccs-rec-new.json", b'{"format": 2}')
    assert sent[0] == 1
    assert (samba_share.local_dir / ".iis-ccs-rec-new.json").read_bytes() == b'{"format": 2}'
    assert stat == fs.stat(".iis-ccs-rec-new.json") == fs.list(".iis-ccs-rec-new.json")[".iis-ccs-rec-new.json"]
    # A name already there is never written over in place: None, and the caller replaces it atomically.
    sent[0] = 0
    assert fs.create_whole(".iis-ccs-rec-new.json", b'{"format": 2, "other": 1}') is None
    assert sent[0] == 1 and (samba_share.local_dir / ".iis-ccs-rec-new.json").read_bytes() == b'{"format": 2}'
    assert fs.create_whole("too-big.json", os.urandom(smb.COMPOUND_DATA_LIMIT + 1)) is None
    assert not (samba_share.local_dir / "too-big.json").exists() and temps(samba_share) == []
    fs.close()


def test_a_short_record_write_is_reported(samba_share: SambaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = filesystem(samba_share)
    altered_step(monkeypatch, 3, int, lambda written: written - 1)  # the create + write + close compound
    with pytest.raises(StoreError, match=r"the server took 12 of 13 bytes"):
        fs.create_whole(".iis-ccs-rec-short.json", b'{"format": 2}')
    fs.close()


def test_a_first_publish_writes_each_new_record_in_one_round_trip(samba_share: SambaServer, corpus: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[str] = []
    real = SmbFileSystem.create_whole

    def recording(self: SmbFileSystem, name: str, data: bytes) -> t.Any:
        stat = real(self, name, data)
        created.append(name if stat is not None else "")
        return stat

    monkeypatch.setattr(SmbFileSystem, "create_whole", recording)
    task = args(corpus, [samba_share.destination(name="fs01")], host_names=["www.example.test", "example.test"])
    first = publish(task)
    assert first["changed"] is True and len(created) == 2 and all(name.startswith(".iis-ccs-rec-") for name in created)
    records = sorted(p.name for p in samba_share.local_dir.iterdir() if p.name.startswith(".iis-ccs-rec-"))
    assert records == sorted(created)
    again = publish(task)
    assert again["changed"] is False and len(created) == 2  # the records vouch: nothing written
    assert again["replicas"][0]["pfx_bytes_read"] == 0
