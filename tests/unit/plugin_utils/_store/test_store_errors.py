"""Store errors name the destination and the likely cause, never a raw errno text or SMB exception."""

from __future__ import annotations

import errno
import json
import sys
import typing as t
from pathlib import Path

import pytest
from smbprotocol.exceptions import NtStatus, SMBOSError

from ansible_collections.iis.ccs.plugins.plugin_utils._store.errors import explain_os_error, explain_smb_error

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "smb"))
from _publisher import publish  # noqa: E402


def local_args(corpus: t.Any, path: Path) -> dict[str, t.Any]:
    return {"pfx_path": str(corpus.path("leaf-rsa.3des.pfx")), "pfx_password": corpus.PFX_PASSWORD, "private_key_password": "Store-Pw-1",
            "destinations": [{"type": "local", "path": str(path), "name": "mirror"}]}


def test_a_file_given_as_the_local_store_folder_is_named_with_the_cause(cert_corpus: t.Any, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "store.pfx"
    not_a_folder.write_bytes(b"a file, not a folder")
    result = publish(local_args(cert_corpus, not_a_folder))
    error = result["replicas"][0]["error"]
    assert result["failed"] is True
    assert str(not_a_folder) in error and "is a file, not a folder" in error, error
    assert "Errno" not in error and "manifest.json" not in error
    assert not_a_folder.read_bytes() == b"a file, not a folder"


@pytest.mark.parametrize(("code", "cause"), [(errno.ENOTDIR, "part of the path is a file, not a folder"),
                                             (errno.EACCES, "give the account write access to the folder"),
                                             (errno.ENOSPC, "the file system is full")])
def test_os_errors_name_the_folder_and_the_cause(code: int, cause: str) -> None:
    message = explain_os_error(OSError(code, "raw text", "/srv/ccs/.iis-ccs-manifest.json"), "/srv/ccs")
    assert message.startswith("the store folder /srv/ccs: ") and cause in message
    assert "Errno" not in message and "raw text" not in message


def test_an_error_without_errno_keeps_its_own_words() -> None:
    assert explain_os_error(OSError("injected fault"), "/srv/ccs") == "the store folder /srv/ccs: injected fault"


@pytest.mark.parametrize(("status", "cause"), [("STATUS_ACCESS_DENIED", "give it change (modify) rights on the share and the folder"),
                                               ("STATUS_BAD_NETWORK_NAME", "the share does not exist"),
                                               ("STATUS_OBJECT_PATH_NOT_FOUND", "the folder does not exist on the share")])
def test_smb_statuses_name_the_share_folder_and_the_cause(status: str, cause: str) -> None:
    raw = SMBOSError(getattr(NtStatus, status), "\\\\fs01\\ccs\\www.example.test.pfx")
    message = explain_smb_error(raw, "\\\\fs01\\ccs", "writing www.example.test.pfx in")
    assert message == f"writing www.example.test.pfx in \\\\fs01\\ccs: {message.split(': ', 1)[1]}"
    assert cause in message and message.endswith(f"({status})")
    assert "SMBOSError" not in message and "NtStatus" not in message and "[Error" not in message


def test_an_unreachable_server_is_told_to_check_the_server_and_port() -> None:
    message = explain_smb_error(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "fs01:445", "cannot connect to")
    assert message.startswith("cannot connect to fs01:445: Connection refused; check that the server is up")


def test_an_unchanged_store_returns_no_diff(cert_corpus: t.Any, tmp_path: Path) -> None:
    args = local_args(cert_corpus, tmp_path)
    first = publish(args, diff=True)
    assert first["changed"] is True and first["diff"]["after"]["mirror"]
    again = publish(args, diff=True)
    assert again["changed"] is False and "diff" not in again, json.dumps(again.get("diff"))
