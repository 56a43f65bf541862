"""The manifest layout (format 2) as pure functions: record names and bytes, the header, the reader, commits, the pack."""

from __future__ import annotations

import json

from ansible_collections.iis.ccs.plugins.plugin_utils._store import records
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import FileStat

ENTRY = {"host_name": "www.example.test", "thumbprint": "AB" * 20, "identity": "0" * 32, "not_after": "2030-01-01T00:00:00Z",
         "encryption": "compatible", "key_password": "pbkdf2:" + "1" * 32, "size": 100, "mtime": 17_000_000_000_000_000}


def test_a_record_is_named_by_its_file_and_certificate_and_keeps_every_field() -> None:
    entry = dict(ENTRY, source_digest="sha256:feed")  # a field a later release adds passes through unchanged
    name, data = records.encode_record("www.example.test.pfx", entry)
    assert name == records.record_name("WWW.Example.test.pfx", "ab" * 20)  # the key ignores case, the thumbprint too
    assert name.startswith(records.RECORD_PREFIX) and name.endswith("-" + "AB" * 20 + ".json")
    assert records.decode_record(name, data) == ("www.example.test.pfx", entry)


def test_a_record_that_does_not_match_its_name_or_cannot_be_read_is_ignored() -> None:
    name, data = records.encode_record("www.example.test.pfx", ENTRY)
    other = records.encode_record("other.test.pfx", ENTRY)[0]
    renamed = records.record_name("www.example.test.pfx", "CD" * 20)
    assert records.decode_record(other, data) is None  # another file's name
    assert records.decode_record(renamed, data) is None  # another certificate's name
    assert records.decode_record(name, data[:-5]) is None  # cut short
    assert records.decode_record("www.example.test.pfx", data) is None  # not a record name


def test_the_header_tells_format_1_format_2_and_nothing_apart() -> None:
    legacy = records.parse_header(json.dumps({"format": 1, "salt": "c2FsdA==", "files": {"a.pfx": ENTRY}}).encode())
    assert (legacy.legacy, legacy.missing, legacy.salt, list(legacy.legacy_files)) == (True, False, "c2FsdA==", ["a.pfx"])
    current = records.parse_header(records.encode_header("c2FsdA=="))
    assert (current.legacy, current.missing, current.salt, current.legacy_files) == (False, False, "c2FsdA==", {})
    for foreign in (None, b"", b"not json", b'{"format": 3, "salt": "x"}', b"[]"):
        assert records.parse_header(foreign).missing


def test_the_reader_prefers_the_record_that_vouches_for_the_file_and_records_over_format_1() -> None:
    stale_entry = dict(ENTRY, thumbprint="CD" * 20, size=90)
    stale_name, stale = records.encode_record("www.example.test.pfx", stale_entry)
    name, data = records.encode_record("www.example.test.pfx", ENTRY)
    header = json.dumps({"format": 1, "salt": "c2FsdA==", "files": {"www.example.test.pfx": stale_entry, "old.test.pfx": ENTRY}}).encode()
    view = records.resolve(header, {stale_name: stale, name: data}, {"WWW.example.test.pfx": FileStat(100, ENTRY["mtime"] + 5)})
    assert view["salt"] == "c2FsdA=="
    assert view["files"]["WWW.example.test.pfx"]["thumbprint"] == "AB" * 20  # the store's spelling; the vouching record
    assert view["files"]["old.test.pfx"] == ENTRY  # not yet migrated: still known from format 1


def test_a_commit_writes_changed_records_deletes_replaced_ones_and_migrates_format_1() -> None:
    old_name, old = records.encode_record("a.test.pfx", dict(ENTRY, thumbprint="CD" * 20))
    kept_name, kept = records.encode_record("b.test.pfx", ENTRY)
    gone_name, gone = records.encode_record("c.test.pfx", ENTRY)
    manifest = {"salt": "c2FsdA==", "files": {"a.test.pfx": ENTRY, "b.test.pfx": ENTRY}}
    header = json.dumps({"format": 1, "salt": "c2FsdA==", "files": {}}).encode()
    changes = records.layout_changes(header, {old_name: old, kept_name: kept, gone_name: gone}, manifest)
    assert list(changes.records) == [records.record_name("a.test.pfx", ENTRY["thumbprint"])]
    assert changes.deletes == sorted([old_name, gone_name])
    assert changes.header is not None and records.parse_header(changes.header).salt == "c2FsdA=="
    assert records.layout_changes(records.encode_header("c2FsdA=="), {kept_name: kept}, {"salt": "c2FsdA==", "files": {"b.test.pfx": ENTRY}}) == \
        records.LayoutChanges({}, [], None)


def test_the_pack_serves_only_copies_whose_record_is_listed_with_the_same_size_and_time() -> None:
    name, data = records.encode_record("a.test.pfx", ENTRY)
    other, other_data = records.encode_record("b.test.pfx", ENTRY)
    pack = records.decode_pack(records.encode_pack({name: records.PackCopy(len(data), 1_000, data), other: records.PackCopy(5, 1_000, other_data)}))
    listed = {name: FileStat(len(data), 1_000), other: FileStat(len(other_data), 1_000)}
    assert records.from_pack(pack, listed) == {name: data}  # b's record changed since the pack was written
    assert not records.pack_matches(pack, listed)
    assert records.pack_matches(pack, {name: FileStat(len(data), 1_000), other: FileStat(5, 1_000)})
    assert records.decode_pack(b"garbage") == {}
