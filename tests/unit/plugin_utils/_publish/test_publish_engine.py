"""The replica engine and planner over real controller folders.

PFX parsing belongs to _pfx and is tested there; here files hold a small JSON
"certificate" so the tests can see exactly what the engine decided and moved.
"""

from __future__ import annotations

import json
import os
import time
import typing as t
from pathlib import Path


from ansible_collections.iis.ccs.plugins.plugin_utils._publish.engine import Replica, publish_all, summarize
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.plan import DesiredFile, FileFacts, Publication
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import (
    MANIFEST_NAME,
    STALE_TEMP_AGE_SECONDS,
    SWEEP_MARK_NAME,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    PACK_NAME,
    FolderStore,
    LocalFileSystem,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import is_record_name, key_pattern, thumbprint_pattern


def publication(
    thumbprint: str, names: t.Sequence[str], *, password: str | None = "store-pw", encryption: str = "compatible", prune: bool = False
) -> Publication:
    files = tuple(DesiredFile(n, n.removesuffix(".pfx"), thumbprint, "id-" + thumbprint, "2030-01-01T00:00:00Z", encryption) for n in names)
    return Publication(files, thumbprint, "id-" + thumbprint, "2030-01-01T00:00:00Z", encryption, password, prune)


def content(pub: Publication) -> bytes:
    return json.dumps({"thumbprint": pub.thumbprint, "identity": pub.identity, "encryption": pub.encryption, "password": pub.key_password}).encode()


def make_identify(password: str | None) -> t.Callable[[bytes], FileFacts]:
    def identify(data: bytes) -> FileFacts:
        doc = json.loads(data)
        if doc.get("password") != password:
            return FileFacts(doc.get("thumbprint"), None, None, None)  # cannot open it with the store password
        return FileFacts(doc["thumbprint"], doc["identity"], doc["encryption"], "2030-01-01T00:00:00Z")

    return identify


def visible(folder: Path) -> list[str]:
    """The folder's files other than the manifest records, their pack and the mark of the last stale-temp search."""
    return sorted(p.name for p in folder.iterdir() if not is_record_name(p.name) and p.name not in (PACK_NAME, SWEEP_MARK_NAME))


def records(folder: Path) -> dict[str, t.Any]:
    """The manifest as every module reads it: header plus one record per file."""
    return FolderStore(LocalFileSystem(str(folder))).read().view()["files"]


def record_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if is_record_name(p.name))


class FaultyFs(LocalFileSystem):
    """Fault-injection seam: fail the rename of one file name, after its temp file was written."""

    def __init__(self, path: str, fail_rename_to: str) -> None:
        super().__init__(path)
        self.fail_rename_to = fail_rename_to

    def replace(self, source: str, target: str) -> None:
        if target == self.fail_rename_to:
            raise OSError("injected failure between write and rename")
        super().replace(source, target)


def run(
    pub: Publication, folders: t.Sequence[Path], *, check_mode: bool = False, fs: t.Sequence[LocalFileSystem] | None = None, min_replicas: int | None = None
) -> dict[str, t.Any]:
    systems = fs or [LocalFileSystem(str(f)) for f in folders]
    replicas = [Replica(f"r{i}", "local", str(folder), FolderStore(system)) for i, (folder, system) in enumerate(zip(folders, systems))]
    outcomes = publish_all(replicas, pub, check_mode=check_mode, identify=make_identify(pub.key_password), export=lambda _publication: content(pub))
    return summarize(pub, outcomes, check_mode=check_mode, min_replicas=len(replicas) if min_replicas is None else min_replicas)


def test_publish_then_unchanged_rerun_moves_no_pfx_bytes(folders: list[Path]) -> None:
    pub = publication("AA" * 20, ["www.contoso.test.pfx", "_.contoso.test.pfx"])
    first = run(pub, folders)
    assert first["changed"] is True
    assert [f["action"] for f in first["files"]] == ["created", "created"]
    for folder in folders:
        assert visible(folder) == [MANIFEST_NAME, "_.contoso.test.pfx", "www.contoso.test.pfx"]
        assert len(record_files(folder)) == 2  # one record per PFX file
        assert not any("store-pw" in p.read_text() for p in folder.iterdir() if p.suffix == ".json")
        assert records(folder)["www.contoso.test.pfx"]["thumbprint"] == "AA" * 20
    second = run(pub, folders)
    assert second["changed"] is False
    assert all(f["action"] == "unchanged" for f in second["files"])
    for replica in second["replicas"]:
        assert (replica["pfx_bytes_read"], replica["pfx_bytes_written"], replica["round_trips"]) == (0, 0, 1)
        assert replica["manifest_updated"] is False


def test_check_mode_writes_nothing_and_reports_per_replica(folders: list[Path]) -> None:
    pub = publication("AA" * 20, ["www.contoso.test.pfx"])
    result = run(pub, folders, check_mode=True)
    assert result["changed"] is True
    assert all(not list(f.iterdir()) for f in folders)
    assert [r["created"] for r in result["replicas"]] == [["www.contoso.test.pfx"]] * 2
    assert result["diff"]["after"]["r0"] == {"www.contoso.test.pfx": {"thumbprint": "AA" * 20, "not_after": "2030-01-01T00:00:00Z"}}


def test_renewal_replaces_and_drops_only_our_superseded_files(folders: list[Path]) -> None:
    old = publication("AA" * 20, ["a.test.pfx", "b.test.pfx"])
    other = publication("CC" * 20, ["c.test.pfx"])
    run(old, folders)
    run(other, folders)
    (folders[0] / "foreign.test.pfx").write_bytes(b"not ours")
    new = publication("BB" * 20, ["a.test.pfx"])
    result = run(new, folders)
    assert result["files"][0]["action"] == "updated"
    assert result["removed"] == [{"file_name": "b.test.pfx", "replicas": {"r0": "removed", "r1": "removed"}}]
    assert visible(folders[0]) == [MANIFEST_NAME, "a.test.pfx", "c.test.pfx", "foreign.test.pfx"]
    assert json.loads((folders[0] / "a.test.pfx").read_bytes())["thumbprint"] == "BB" * 20
    # The other certificate's record survives; the dropped file's record went with it, a's was replaced.
    assert sorted(records(folders[0])) == ["a.test.pfx", "c.test.pfx"] and len(record_files(folders[0])) == 2
    assert result["diff"]["before"]["r0"]["b.test.pfx"]["thumbprint"] == "AA" * 20


def test_dropped_name_is_kept_when_someone_replaced_the_file(folders: list[Path]) -> None:
    run(publication("AA" * 20, ["a.test.pfx", "b.test.pfx"]), folders)
    intruder = publication("DD" * 20, ["b.test.pfx"])
    (folders[0] / "b.test.pfx").write_bytes(content(intruder) + b" ")
    result = run(publication("BB" * 20, ["a.test.pfx"]), folders)
    assert (folders[0] / "b.test.pfx").exists()
    assert not (folders[1] / "b.test.pfx").exists()
    assert result["removed"] == [{"file_name": "b.test.pfx", "replicas": {"r1": "removed"}}]


def test_prune_removes_every_other_pfx_but_nothing_else(folders: list[Path]) -> None:
    run(publication("AA" * 20, ["a.test.pfx"]), folders)
    (folders[0] / "foreign.test.pfx").write_bytes(b"not ours")
    (folders[0] / "readme.txt").write_text("keep")
    run(publication("AA" * 20, ["a.test.pfx"], prune=True), folders)
    assert visible(folders[0]) == [MANIFEST_NAME, "a.test.pfx", "readme.txt"]


def test_touched_file_is_identified_and_kept_when_identical(folders: list[Path]) -> None:
    pub = publication("AA" * 20, ["a.test.pfx"])
    run(pub, folders)
    path = folders[0] / "a.test.pfx"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # e.g. a copy tool reset the mtime
    result = run(pub, folders)
    assert result["changed"] is False
    r0 = result["replicas"][0]
    assert r0["pfx_bytes_read"] == path.stat().st_size and r0["pfx_bytes_written"] == 0
    assert r0["manifest_updated"] is True
    assert run(pub, folders)["replicas"][0]["pfx_bytes_read"] == 0  # record refreshed: cheap again


def test_key_password_rotation_and_encryption_change_rewrite(folders: list[Path]) -> None:
    run(publication("AA" * 20, ["a.test.pfx"], password="old"), folders)
    rotated = run(publication("AA" * 20, ["a.test.pfx"], password="new"), folders)
    assert rotated["files"][0]["action"] == "updated"
    assert json.loads((folders[0] / "a.test.pfx").read_bytes())["password"] == "new"
    aes = run(publication("AA" * 20, ["a.test.pfx"], password="new", encryption="aes256"), folders)
    assert aes["files"][0]["action"] == "updated"


def test_fault_between_write_and_rename_keeps_old_file_and_no_temp(folders: list[Path]) -> None:
    old = publication("AA" * 20, ["a.test.pfx"])
    run(old, folders)
    before = (folders[0] / "a.test.pfx").read_bytes()
    new = publication("BB" * 20, ["a.test.pfx"])
    systems = [FaultyFs(str(folders[0]), "a.test.pfx"), LocalFileSystem(str(folders[1]))]
    result = run(new, folders, fs=systems, min_replicas=1)
    assert [r["status"] for r in result["replicas"]] == ["failed", "changed"]
    assert "injected failure" in result["replicas"][0]["error"]
    assert result["_failed_replicas"] is False
    assert (folders[0] / "a.test.pfx").read_bytes() == before
    assert not [p for p in folders[0].iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert result["files"][0]["replicas"] == {"r0": "failed", "r1": "updated"}
    healed = run(new, folders)
    assert healed["files"][0]["replicas"] == {"r0": "updated", "r1": "unchanged"}


def test_min_replicas_decides_failure(folders: list[Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    pub = publication("AA" * 20, ["a.test.pfx"])
    result = run(pub, [folders[0], missing])
    assert result["_failed_replicas"] is True
    assert "does not exist" in result["replicas"][1]["error"]
    assert run(pub, [folders[0], missing], min_replicas=1)["_failed_replicas"] is False


def test_stale_temp_files_of_ours_are_cleaned_fresh_ones_kept(folders: list[Path]) -> None:
    stale = folders[0] / f"{TEMP_PREFIX}old{TEMP_SUFFIX}"
    fresh = folders[0] / f"{TEMP_PREFIX}new{TEMP_SUFFIX}"
    lookalike = folders[0] / "someone-elses.tmp"
    for path in (stale, fresh, lookalike):
        path.write_bytes(b"x")
    past = os.path.getmtime(stale) - STALE_TEMP_AGE_SECONDS - 60
    os.utime(stale, (past, past))
    os.utime(lookalike, (past, past))
    run(publication("AA" * 20, ["a.test.pfx"]), folders)
    assert not stale.exists() and fresh.exists() and lookalike.exists()
    assert (folders[0] / SWEEP_MARK_NAME).exists()  # when this folder was last searched


class CountingFs(LocalFileSystem):
    """Counts full listings, to prove a run without prune looks up its own files only."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.patterns: list[str] = []

    def list(self, pattern: str = "*") -> dict[str, t.Any]:
        self.patterns.append(pattern)
        return super().list(pattern)


def age(path: Path, seconds: float) -> None:
    past = path.stat().st_mtime - seconds
    os.utime(path, (past, past))


def test_a_run_that_looks_its_files_up_searches_for_stale_temps_only_when_the_last_search_is_old(folders: list[Path]) -> None:
    # The search is a wildcard, which a server answers by going through the whole folder: done on every
    # write, it made each new certificate's task slower as the store grew.
    run(publication("AA" * 20, ["a.test.pfx"]), folders)
    stale = folders[0] / f"{TEMP_PREFIX}interrupted{TEMP_SUFFIX}"
    stale.write_bytes(b"x")
    age(stale, STALE_TEMP_AGE_SECONDS + 60)
    counting = [CountingFs(str(f)) for f in folders]
    assert run(publication("BB" * 20, ["b.test.pfx"]), folders, fs=counting)["changed"] is True
    assert all(fs.patterns == [] for fs in counting) and stale.exists()  # searched a moment ago: not again
    age(folders[0] / SWEEP_MARK_NAME, STALE_TEMP_AGE_SECONDS + 1)
    counting = [CountingFs(str(f)) for f in folders]
    run(publication("CC" * 20, ["c.test.pfx"]), folders, fs=counting)
    assert counting[0].patterns == [f"{TEMP_PREFIX}*{TEMP_SUFFIX}"] and counting[1].patterns == []
    assert not stale.exists()
    assert (folders[0] / SWEEP_MARK_NAME).stat().st_mtime > stale_limit()  # marked again


def stale_limit() -> float:
    return time.time() - STALE_TEMP_AGE_SECONDS


class MarkRefusingFs(CountingFs):
    """A folder where the mark of the last search cannot be written (a share that refuses that one name)."""

    def write_atomic(self, name: str, data: bytes) -> t.Any:
        if name == SWEEP_MARK_NAME:
            raise PermissionError("injected: the mark cannot be written")
        return super().write_atomic(name, data)


def test_a_mark_that_cannot_be_written_fails_nothing_and_the_next_writing_run_searches_again(folders: list[Path]) -> None:
    refusing = [MarkRefusingFs(str(f)) for f in folders]
    result = run(publication("AA" * 20, ["a.test.pfx"]), folders, fs=refusing)
    assert result["changed"] is True and result["_failed_replicas"] is False
    assert not (folders[0] / SWEEP_MARK_NAME).exists()
    counting = [CountingFs(str(f)) for f in folders]
    run(publication("BB" * 20, ["b.test.pfx"]), folders, fs=counting)
    assert all(fs.patterns == [f"{TEMP_PREFIX}*{TEMP_SUFFIX}"] for fs in counting)


def test_without_prune_only_own_files_are_looked_up_and_other_records_survive(folders: list[Path]) -> None:
    for index in range(5):
        run(publication(f"{index:02d}" * 20, [f"site{index}.test.pfx"]), folders)
    counting = [CountingFs(str(f)) for f in folders]
    renewed = run(publication("EE" * 20, ["site0.test.pfx"]), folders, fs=counting)
    assert renewed["files"][0]["action"] == "updated"
    # Never a full listing: the renewed file's records under any thumbprint and the superseded certificate's records
    # (the stale temporary files were searched for by the first run, a moment ago).
    expected = [key_pattern("site0.test.pfx"), thumbprint_pattern("00" * 20)]
    assert all(fs.patterns == expected for fs in counting)
    unchanged = [CountingFs(str(f)) for f in folders]
    run(publication("EE" * 20, ["site0.test.pfx"]), folders, fs=unchanged)
    assert all(fs.patterns == [] for fs in unchanged)  # records read by exact name: no folder search at all
    stored = records(folders[0])
    assert sorted(stored) == [f"site{i}.test.pfx" for i in range(5)]
    assert stored["site3.test.pfx"]["thumbprint"] == "03" * 20
    pruning = [CountingFs(str(f)) for f in folders]
    run(publication("EE" * 20, ["site0.test.pfx"], prune=True), folders, fs=pruning)
    assert pruning[0].patterns == ["*"]
    assert visible(folders[0]) == [MANIFEST_NAME, "site0.test.pfx"] and len(record_files(folders[0])) == 1


def test_same_certificate_split_over_two_tasks_never_flip_flops(folders: list[Path]) -> None:
    first, second = publication("AA" * 20, ["a.test.pfx"]), publication("AA" * 20, ["b.test.pfx"])
    run(first, folders)
    run(second, folders)
    assert run(first, folders)["removed"] == [] and run(second, folders)["changed"] is False
    assert visible(folders[0]) == [MANIFEST_NAME, "a.test.pfx", "b.test.pfx"]


class ReplicaReturningOtherBytes(LocalFileSystem):
    """A replica whose storage hands back other bytes than were written (a corrupting filter, a faulty share)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.renamed: set[str] = set()

    def replace(self, source: str, target: str) -> None:
        super().replace(source, target)
        self.renamed.add(target)

    def read(self, name: str) -> bytes | None:
        data = super().read(name)
        return data[:-1] + bytes([data[-1] ^ 1]) if data and name in self.renamed else data


def test_a_replica_returning_other_bytes_fails_its_read_back_check(folders: list[Path]) -> None:
    pub = publication("AA" * 20, ["a.test.pfx"])
    systems = [ReplicaReturningOtherBytes(str(folders[0])), LocalFileSystem(str(folders[1]))]
    result = run(pub, folders, fs=systems, min_replicas=1)
    assert [r["status"] for r in result["replicas"]] == ["failed", "changed"]
    assert result["replicas"][0]["error"].endswith("read-back check of a.test.pfx failed: the file differs from what was written")
    assert result["files"][0]["replicas"] == {"r0": "failed", "r1": "created"}
    # The manifest was not written for the replica that could not vouch for its file.
    assert not (folders[0] / MANIFEST_NAME).exists() and (folders[1] / MANIFEST_NAME).exists()


class SessionFs(LocalFileSystem):
    """Counts reads of the manifest and closes, to prove a batch is one session and one manifest read per replica."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.manifest_reads = 0
        self.closes = 0

    def read(self, name: str) -> bytes | None:
        self.manifest_reads += name == MANIFEST_NAME
        return super().read(name)

    def close(self) -> None:
        self.closes += 1


def run_batch(pubs: t.Sequence[Publication], folders: t.Sequence[Path], *, check_mode: bool = False,
              fs: t.Sequence[LocalFileSystem] | None = None) -> dict[str, t.Any]:
    systems = fs or [LocalFileSystem(str(f)) for f in folders]
    replicas = [Replica(f"r{i}", "local", str(folder), FolderStore(system)) for i, (folder, system) in enumerate(zip(folders, systems))]
    exported: list[str] = []

    def export(pub: Publication) -> bytes:
        exported.append(pub.thumbprint)
        return content(pub)

    outcomes = publish_all(replicas, pubs, check_mode=check_mode, identify=make_identify("store-pw"), export=export, concurrent=lambda _r: True)
    result = summarize(pubs, outcomes, check_mode=check_mode, min_replicas=len(replicas))
    result["_exported"] = exported
    return result


def test_batch_is_one_session_one_manifest_read_one_commit_per_replica(folders: list[Path]) -> None:
    pubs = [publication(f"{i:02d}" * 20, [f"site{i}.test.pfx", f"www.site{i}.test.pfx"]) for i in range(10)]
    sessions = [SessionFs(str(f)) for f in folders]
    first = run_batch(pubs, folders, fs=sessions)
    assert first["changed"] is True and "thumbprint" not in first
    assert [c["thumbprint"] for c in first["certificates"]] == [p.thumbprint for p in pubs]
    assert all(c["changed"] and [f["action"] for f in c["files"]] == ["created", "created"] for c in first["certificates"])
    for fs, replica in zip(sessions, first["replicas"]):
        # One read of the manifest to plan (the commit writes it, never reads it again), one close, two round trips.
        assert (fs.manifest_reads, fs.closes, replica["round_trips"]) == (1, 1, 2)
    assert set(first["_exported"]) == {p.thumbprint for p in pubs}
    assert len(records(folders[1])) == 20

    again = run_batch(pubs, folders)
    assert again["changed"] is False and again["_exported"] == []
    assert all(r["pfx_bytes_read"] == r["pfx_bytes_written"] == 0 and r["round_trips"] == 1 for r in again["replicas"])

    renewed = [publication("EE" * 20, ["site0.test.pfx", "www.site0.test.pfx"]), *pubs[1:]]
    third = run_batch(renewed, folders)
    assert [c["changed"] for c in third["certificates"]] == [True] + [False] * 9
    assert third["replicas"][0]["updated"] == ["site0.test.pfx", "www.site0.test.pfx"]


def test_batch_check_mode_and_prune_keep_exactly_the_listed_certificates(folders: list[Path]) -> None:
    run(publication("99" * 20, ["old.test.pfx"]), folders)
    pubs = [publication("AA" * 20, ["a.test.pfx"], prune=True), publication("BB" * 20, ["b.test.pfx"], prune=True)]
    preview = run_batch(pubs, folders, check_mode=True)
    assert preview["changed"] is True and preview["_exported"] == []
    assert visible(folders[0]) == [MANIFEST_NAME, "old.test.pfx"]
    assert preview["removed"] == [{"file_name": "old.test.pfx", "replicas": {"r0": "pruned", "r1": "pruned"}}]
    run_batch(pubs, folders)
    assert visible(folders[0]) == [MANIFEST_NAME, "a.test.pfx", "b.test.pfx"]


def test_moving_a_name_between_certificates_of_a_batch_keeps_both_certificates_files(folders: list[Path]) -> None:
    # b.test moves from certificate AA to BB; AA's other file must not be taken for a superseded one.
    run_batch([publication("AA" * 20, ["a.test.pfx", "b.test.pfx"])], folders)
    moved = run_batch([publication("AA" * 20, ["a.test.pfx"]), publication("BB" * 20, ["b.test.pfx"])], folders)
    assert moved["removed"] == []
    assert [f["action"] for c in moved["certificates"] for f in c["files"]] == ["unchanged", "updated"]
    assert visible(folders[0]) == [MANIFEST_NAME, "a.test.pfx", "b.test.pfx"]
