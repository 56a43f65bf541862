"""Manifest format 2 (one record per PFX file) as the engine uses it: migration from format 1, faults, two
publishers at once, the record pack, and a single-certificate task's cost against the size of the store.

Helpers (publication, run, run_batch, ...) are the engine tests' own: files hold a small JSON "certificate".
"""

from __future__ import annotations

import json
import sys
import threading
import typing as t
from pathlib import Path

import pytest
from test_publish_engine import CountingFs, FaultyFs, content, make_identify, publication, record_files, records, run, run_batch, visible

from ansible_collections.iis.ccs.plugins.plugin_utils._audit.store_read import read_replica
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.engine import Replica, publish_all, summarize
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.plan import LOOKUP_LIMIT, Publication
from ansible_collections.iis.ccs.plugins.plugin_utils._renew.task import identify_files
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import (
    MANIFEST_NAME,
    PACK_NAME,
    RECORD_PREFIX,
    TEMP_PREFIX,
    FolderStore,
    LocalFileSystem,
    password_fingerprint,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._store.host import HostStore
from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import parse_header

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lab"))

from iis_lab import emulator  # noqa: E402
from iis_lab.state import initial_state  # noqa: E402


def write_format1_store(folder: Path, files: t.Mapping[str, str]) -> str:
    """A store as the previous release left it: PFX files and one manifest holding every record. Returns its salt."""
    salt = "c2FsdHNhbHRzYWx0c2FsdA=="
    entries = {}
    for name, thumbprint in files.items():
        pub = publication(thumbprint, [name])
        path = folder / name
        path.write_bytes(content(pub))
        stat = path.stat()
        entries[name] = {
            "host_name": name.removesuffix(".pfx"), "thumbprint": thumbprint, "identity": pub.identity, "not_after": pub.not_after,
            "encryption": pub.encryption, "key_password": password_fingerprint("store-pw", salt), "size": stat.st_size, "mtime": stat.st_mtime_ns // 100,
        }
    manifest = {"format": 1, "generator": "iis.ccs.ccs_cert_publish", "salt": salt, "files": entries}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    return salt


def test_a_format1_store_is_read_and_migrated_on_the_next_write(folders: list[Path]) -> None:
    salt = write_format1_store(folders[0], {"a.test.pfx": "AA" * 20, "b.test.pfx": "BB" * 20, "c.test.pfx": "CC" * 20})
    # Unchanged certificate: the format 1 records still vouch for the files, so no PFX byte is read.
    first = run(publication("AA" * 20, ["a.test.pfx"]), folders[:1])
    assert first["changed"] is False
    replica = first["replicas"][0]
    assert (replica["pfx_bytes_read"], replica["pfx_bytes_written"], replica["manifest_updated"]) == (0, 0, True)
    # The migration wrote a record for every file (not only this task's) and replaced the old manifest with the
    # format 2 header, keeping its salt so the key-password fingerprints stay valid.
    assert len(record_files(folders[0])) == 3
    header = json.loads((folders[0] / MANIFEST_NAME).read_text())
    assert (header["format"], header["salt"], "files" in header) == (2, salt, False)
    assert records(folders[0])["c.test.pfx"]["thumbprint"] == "CC" * 20
    again = run(publication("BB" * 20, ["b.test.pfx"]), folders[:1])
    assert again["changed"] is False and again["replicas"][0]["manifest_updated"] is False
    assert again["replicas"][0]["pfx_bytes_read"] == 0


def test_a_fault_while_migrating_keeps_the_format1_manifest_and_a_rerun_converges(folders: list[Path]) -> None:
    write_format1_store(folders[0], {"a.test.pfx": "AA" * 20, "b.test.pfx": "BB" * 20})
    before = (folders[0] / MANIFEST_NAME).read_bytes()
    failing = [FaultyFs(str(folders[0]), MANIFEST_NAME)]
    result = run(publication("AA" * 20, ["a.test.pfx"]), folders[:1], fs=failing, min_replicas=0)
    assert result["replicas"][0]["status"] == "failed"
    assert (folders[0] / MANIFEST_NAME).read_bytes() == before  # still format 1: still the source of truth
    assert not [p for p in folders[0].iterdir() if p.name.startswith(TEMP_PREFIX)]
    healed = run(publication("AA" * 20, ["a.test.pfx"]), folders[:1])
    assert healed["replicas"][0]["status"] == "unchanged" and healed["replicas"][0]["pfx_bytes_read"] == 0
    assert parse_header((folders[0] / MANIFEST_NAME).read_bytes()).legacy is False
    assert sorted(records(folders[0])) == ["a.test.pfx", "b.test.pfx"] and len(record_files(folders[0])) == 2


class RecordFaultFs(LocalFileSystem):
    """Fails the rename of the first new record: the PFX file is in place, its record is not."""

    def replace(self, source: str, target: str) -> None:
        if target.startswith(RECORD_PREFIX):
            raise OSError("injected failure before the record's rename")
        super().replace(source, target)


def test_a_fault_before_a_record_is_in_place_leaves_no_torn_record_and_a_rerun_converges(folders: list[Path]) -> None:
    run(publication("AA" * 20, ["a.test.pfx"]), folders[:1])
    old_records = record_files(folders[0])
    renewed = publication("BB" * 20, ["a.test.pfx"])
    result = run(renewed, folders[:1], fs=[RecordFaultFs(str(folders[0]))], min_replicas=0)
    assert result["replicas"][0]["status"] == "failed"
    # The new PFX file is in place; the old record stays and no longer vouches for it (its size or time changed).
    assert json.loads((folders[0] / "a.test.pfx").read_bytes())["thumbprint"] == "BB" * 20
    assert record_files(folders[0]) == old_records
    assert not [p for p in folders[0].iterdir() if p.name.startswith(TEMP_PREFIX)]
    healed = run(renewed, folders[:1])
    assert healed["replicas"][0]["status"] != "failed" and healed["replicas"][0]["manifest_updated"] is True
    assert len(record_files(folders[0])) == 1 and records(folders[0])["a.test.pfx"]["thumbprint"] == "BB" * 20
    settled = run(renewed, folders[:1])["replicas"][0]
    assert (settled["status"], settled["pfx_bytes_read"], settled["manifest_updated"]) == ("unchanged", 0, False)


def test_an_unreadable_record_is_ignored_and_written_again(folders: list[Path]) -> None:
    pub = publication("AA" * 20, ["a.test.pfx"])
    run(pub, folders[:1])
    (record,) = record_files(folders[0])
    path = folders[0] / record
    path.write_bytes(path.read_bytes()[:40])  # e.g. cut short by a tool that does not write atomically
    assert records(folders[0]) == {}
    result = run(pub, folders[:1])
    assert result["changed"] is False and result["replicas"][0]["pfx_bytes_read"] > 0  # re-identified, not trusted
    # Same certificate, same name: the record is written again whole over the broken one.
    assert record_files(folders[0]) == [record] and records(folders[0])["a.test.pfx"]["thumbprint"] == "AA" * 20


class ReadThenWaitFs(LocalFileSystem):
    """Holds the first write until the other publisher has read too: both plan from the same old state."""

    def __init__(self, path: str, barrier: threading.Barrier) -> None:
        super().__init__(path)
        self.barrier = barrier
        self.waited = False

    def write_new(self, name: str, data: bytes) -> None:
        if not self.waited:
            self.waited = True
            self.barrier.wait(timeout=30)
        super().write_new(name, data)


def test_two_publishers_of_different_certificates_at_once_keep_both_records(folders: list[Path]) -> None:
    folder = folders[0]
    run(publication("00" * 20, ["base.test.pfx"]), [folder])
    barrier = threading.Barrier(2)
    pubs = [publication("AA" * 20, ["a.test.pfx", "www.a.test.pfx"]), publication("BB" * 20, ["b.test.pfx"])]
    results: list[t.Any] = [None, None]

    def publish(index: int) -> None:
        replica = Replica("r0", "local", str(folder), FolderStore(ReadThenWaitFs(str(folder), barrier)))
        pub = pubs[index]
        results[index] = publish_all([replica], pub, check_mode=False, identify=lambda _data: pytest.fail("nothing to identify"),
                                     export=lambda _p: content(pub))

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(outcomes and outcomes[0].ok for outcomes in results)
    # With one shared manifest the later commit dropped the earlier one's entries; records are separate files.
    assert sorted(records(folder)) == ["a.test.pfx", "b.test.pfx", "base.test.pfx", "www.a.test.pfx"]
    for pub in pubs:
        again = run(pub, [folder])
        assert again["changed"] is False and again["replicas"][0]["pfx_bytes_read"] == 0


class CountingReadsFs(LocalFileSystem):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.reads: list[str] = []

    def read(self, name: str) -> bytes | None:
        self.reads.append(name)
        return super().read(name)


def test_a_full_listing_reads_the_pack_not_every_record_and_refreshes_a_stale_pack(folders: list[Path]) -> None:
    folder = folders[0]
    for index in range(5):  # separate tasks: they write their own records and never the pack
        run(publication(f"{index:02d}" * 20, [f"site{index}.test.pfx"]), [folder])
    assert not (folder / PACK_NAME).exists()
    pubs = [publication(f"{index:02d}" * 20, [f"site{index}.test.pfx"], prune=True) for index in range(5)]
    counting = CountingReadsFs(str(folder))
    stale = run_batch(pubs, [folder], fs=[counting])
    assert stale["changed"] is False and stale["replicas"][0]["manifest_updated"] is True  # the pack was written
    assert sum(name.startswith(RECORD_PREFIX) for name in counting.reads) == 5
    fresh = CountingReadsFs(str(folder))
    again = run_batch(pubs, [folder], fs=[fresh])
    assert again["replicas"][0]["manifest_updated"] is False
    assert fresh.reads == [MANIFEST_NAME, PACK_NAME]  # one listing, the header and the pack


def test_a_large_batch_lists_the_folder_once_instead_of_looking_up_each_file(folders: list[Path]) -> None:
    pubs = [publication(f"{index:040X}", [f"site{index}.test.pfx"]) for index in range(LOOKUP_LIMIT + 1)]
    run_batch(pubs, [folders[0]])
    counting = CountingReadsFs(str(folders[0]))
    again = run_batch(pubs, [folders[0]], fs=[counting])
    assert again["changed"] is False and again["replicas"][0]["round_trips"] == 1
    assert counting.reads == [MANIFEST_NAME, PACK_NAME]
    assert visible(folders[0]) == sorted([MANIFEST_NAME, *(f"site{index}.test.pfx" for index in range(LOOKUP_LIMIT + 1))])


def unchanged_single_task_traffic(folder: Path, size: int) -> dict[str, int]:
    """Fill a store with ``size`` files (one batch), then measure one unchanged single-certificate task."""
    per_certificate = 4
    pubs = [publication(f"{index:040X}", [f"h{n}.site{index:05d}.test.pfx" for n in range(per_certificate)]) for index in range(size // per_certificate)]
    run_batch(pubs, [folder])
    result = run(pubs[0], [folder])
    assert result["changed"] is False
    replica = result["replicas"][0]
    return {key: replica[key] for key in ("pfx_bytes_read", "pfx_bytes_written", "other_bytes", "round_trips")}


def test_an_unchanged_single_certificate_task_reads_the_same_bytes_in_a_small_and_a_large_store(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    in_small = unchanged_single_task_traffic(small, 12)
    in_large = unchanged_single_task_traffic(large, 2000)
    assert len(list(large.glob("*.pfx"))) == 2000
    assert in_small == in_large
    assert in_small["pfx_bytes_read"] == 0 and in_small["other_bytes"] > 0


# -- the same layout through a Windows host (the lab's emulation of read_cert_store/write_cert_store) ---------


class LabConnection:
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        return t.cast(tuple[int, bytes, bytes], emulator.execute("web", {}, {}, cmd, in_data))


@pytest.fixture
def lab_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    (tmp_path / "web.json").write_text(json.dumps(initial_state("web", {"directories": ["D:\\CCS", "D:\\CCS1", "D:\\CCS2"]})), encoding="utf-8")


def host_run(pubs: Publication | t.Sequence[Publication], store_path: str = "D:\\CCS") -> dict[str, t.Any]:
    replica = Replica("h", "host_path", store_path, HostStore(HostOperationRunner(LabConnection(), "web"), store_path))
    single = pubs if isinstance(pubs, Publication) else None
    batch = [single] if single else list(t.cast(t.Sequence[Publication], pubs))
    bytes_of = {p: content(p) for p in batch}
    outcomes = publish_all([replica], pubs, check_mode=False, identify=make_identify("store-pw"), export=lambda p: bytes_of[p])
    return summarize(pubs, outcomes, check_mode=False, min_replicas=1)["replicas"][0]


@pytest.mark.usefixtures("lab_host")
def test_a_host_replica_looks_up_its_files_and_records_in_one_round_trip() -> None:
    old = publication("AA" * 20, ["a.test.pfx", "b.test.pfx"])
    assert host_run(old)["created"] == ["a.test.pfx", "b.test.pfx"]
    host_run(publication("CC" * 20, ["c.test.pfx"]))
    unchanged = host_run(old)
    assert (unchanged["status"], unchanged["round_trips"], unchanged["pfx_bytes_read"], unchanged["manifest_updated"]) == ("unchanged", 1, 0, False)
    # A renewal that drops b: a's record is searched under any thumbprint in the first read (its exact name is
    # absent), b's record found by the old thumbprint, b looked up, then one commit.
    renewed = host_run(publication("BB" * 20, ["a.test.pfx"]))
    assert (renewed["updated"], renewed["removed"], renewed["round_trips"]) == (["a.test.pfx"], ["b.test.pfx"], 4)
    pruned = host_run([publication("BB" * 20, ["a.test.pfx"], prune=True)])
    assert pruned["removed"] == ["c.test.pfx"]
    assert host_run(publication("BB" * 20, ["a.test.pfx"]))["status"] == "unchanged"


@pytest.mark.usefixtures("lab_host")
def test_an_unchanged_task_through_a_host_moves_the_same_bytes_in_a_small_and_a_large_store() -> None:
    def traffic(path: str, size: int) -> tuple[int, int, int]:
        pubs = [publication(f"{index:040X}", [f"h{n}.site{index:05d}.test.pfx" for n in range(4)]) for index in range(size // 4)]
        host_run(pubs, path)
        replica = host_run(pubs[0], path)
        assert replica["status"] == "unchanged"
        return replica["pfx_bytes_read"], replica["other_bytes"], replica["round_trips"]

    assert traffic("D:\\CCS1", 8) == traffic("D:\\CCS2", 400)


def test_renewal_planning_and_store_info_read_format1_and_records_through_the_same_reader(folders: list[Path]) -> None:
    write_format1_store(folders[0], {"a.test.pfx": "AA" * 20})
    run(publication("BB" * 20, ["b.test.pfx"]), folders[1:])
    for folder, (name, thumbprint) in zip(folders, [("a.test.pfx", "AA" * 20), ("b.test.pfx", "BB" * 20)]):
        backend = FolderStore(LocalFileSystem(str(folder)))
        known, unreadable = identify_files(backend, backend.read(), "store-pw")
        # The record vouches for the file: nothing is opened (these test files are not even PFX files).
        assert ([(f.file_name, f.thumbprint) for f in known], unreadable, backend.traffic.pfx_read) == ([(name, thumbprint)], [], 0)
        audited = read_replica(Replica("r", "local", str(folder), FolderStore(LocalFileSystem(str(folder)))))
        assert list(audited.manifest_files) == [name] and list(audited.files) == [name]


class CountingLookUpsFs(CountingReadsFs, CountingFs):
    """Counts reads (CountingReadsFs) and searches (the engine tests' CountingFs: ``patterns``)."""


def test_a_new_file_costs_no_record_look_up_and_an_orphan_record_does_not_stop_convergence(folders: list[Path]) -> None:
    """On Samba every miss or wildcard search reads the whole folder: a file that is not there gets none."""
    folder = folders[0]
    run(publication("11" * 20, ["old.test.pfx"]), [folder])
    counting = CountingLookUpsFs(str(folder))
    first = run(publication("22" * 20, ["new.test.pfx"]), [folder], fs=[counting])
    assert first["changed"] is True
    assert [name for name in counting.reads if name.startswith(RECORD_PREFIX)] == []
    assert [pattern for pattern in counting.patterns if pattern.startswith(RECORD_PREFIX)] == []
    # The PFX deleted by hand leaves its record behind; a new certificate for the name is published over it,
    # its own record vouches for the file, and the next run is unchanged.
    (folder / "new.test.pfx").unlink()
    # The orphan records the old file's size and time, which times compare within 2 s (records.same_mtime): a new
    # file of another size, as any real one written later, is not vouched for by it.
    renewed = publication("33" * 20, ["new.test.pfx"], encryption="aes256")
    assert run(renewed, [folder])["changed"] is True
    again = run(renewed, [folder])
    assert again["changed"] is False and again["replicas"][0]["pfx_bytes_read"] == 0
    assert records(folder)["new.test.pfx"]["thumbprint"] == "33" * 20
