"""The SMB store's compound requests against a real Windows file server (opt-in; tests/smb covers Samba only).

What only a Windows server can answer: a rename through the written handle with ReplaceIfExists over an existing
file, the size and time the close and the read-back open report against what a listing shows on NTFS (records
vouch with them), and the clean-up of a temporary file after a refused write. Needs, besides IIS_CCS_WINDOWS_HOST:
  IIS_CCS_WINDOWS_SHARE            \\\\server\\share\\folder (must exist)
  IIS_CCS_WINDOWS_SHARE_USER       account with change access on it
  IIS_CCS_WINDOWS_SHARE_PASSWORD   its password
It writes a few files named iis-ccs-steps-<random>*.pfx there and removes them afterwards.
"""

from __future__ import annotations

import os
import secrets
import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._store import smb
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import TEMP_PATTERN, StoreError


@pytest.fixture
def share() -> t.Iterator[smb.SmbFileSystem]:
    if not (os.environ.get("IIS_CCS_WINDOWS_HOST") and os.environ.get("IIS_CCS_WINDOWS_SHARE")):
        pytest.skip("real-Windows test: set IIS_CCS_WINDOWS_HOST and IIS_CCS_WINDOWS_SHARE (+ _USER, _PASSWORD) to run it")
    fs = smb.SmbFileSystem(
        os.environ["IIS_CCS_WINDOWS_SHARE"],
        user_name=os.environ.get("IIS_CCS_WINDOWS_SHARE_USER"),
        password=os.environ.get("IIS_CCS_WINDOWS_SHARE_PASSWORD"),
        port=445,
        encrypt=True,
    )
    yield fs
    fs.close()


def test_compound_write_rename_and_read_back_on_windows(share: smb.SmbFileSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"iis-ccs-steps-{secrets.token_hex(4)}"
    name = f"{prefix}.pfx"
    before = set(share.list(TEMP_PATTERN))
    try:
        share.write_atomic(name, b"first version")
        data = os.urandom(4000)
        closed = share.write_atomic(name, data)  # over the existing file
        read = share.read_verified(name, data)
        listed = share.list(name)[name]
        # Times compare within the store's granularity (records.same_mtime); on NTFS all three should agree exactly.
        assert closed.size == read.size == listed.size == len(data)
        assert closed.mtime == read.mtime == listed.mtime
        assert share.read(name) == data

        real = smb._send_related  # noqa: SLF001

        def short_write(raw: t.Any, actions: t.Sequence[t.Any]) -> list[t.Any]:
            outcomes = real(raw, actions)
            if len(actions) == 2 and isinstance(outcomes[1], int):
                outcomes[1] -= 1
            return outcomes

        monkeypatch.setattr(smb, "_send_related", short_write)
        with pytest.raises(StoreError, match="the server took"):
            share.write_atomic(name, b"never renamed")
        monkeypatch.undo()
        assert share.read(name) == data
        assert set(share.list(TEMP_PATTERN)) == before  # the refused temporary file was deleted through its handle
    finally:
        for leftover in share.list(f"{prefix}*"):
            share.remove(leftover)


def test_a_new_record_in_one_compound_on_windows(share: smb.SmbFileSystem) -> None:
    # FILE_CREATE with read/delete sharing, the write and the close's attributes: the size and time a listing shows,
    # and an existing name left alone (STATUS_OBJECT_NAME_COLLISION answers None, so the caller replaces it atomically).
    name = f".iis-ccs-rec-steps-{secrets.token_hex(4)}.json"
    try:
        created = share.create_whole(name, b'{"format": 2}')
        assert created is not None and created == share.list(name)[name]
        assert share.create_whole(name, b'{"format": 2, "other": 1}') is None
        assert share.read(name) == b'{"format": 2}'
    finally:
        share.remove(name)


def test_a_pfx_write_reads_back_through_its_renamed_handle_on_windows(share: smb.SmbFileSystem) -> None:
    # write_verified: rename, read and close in one compound on the handle that wrote the temporary file (opened with
    # READ_DATA as well as WRITE_DATA and DELETE, no sharing). Windows must serve the read on the renamed handle and
    # report in the close the size and time a listing shows; an existing file is replaced.
    name = f"iis-ccs-steps-{secrets.token_hex(4)}.pfx"
    try:
        share.write_atomic(name, b"first version")
        data = os.urandom(4000)
        stat = share.write_verified(name, data)
        assert stat == share.list(name)[name] and stat.size == len(data)
        assert share.read(name) == data
        assert share.write_verified(name, b"") == share.list(name)[name]  # an empty file reads back as empty
    finally:
        share.remove(name)
