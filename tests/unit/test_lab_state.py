"""The lab's host state: rewritten only when an operation changed it; every operation logged in its own file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops
from iis_lab import emulator
from iis_lab.state import HostStore, host_file, oplog_file, read_oplog, read_state

HOST = "web01"


@pytest.fixture(autouse=True)
def lab_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    return tmp_path


def read_host() -> None:
    payload = host_ops.encode_payload("read_host_state", {"sections": ["windows", "sites"]})
    rc, stdout, _stderr = emulator.execute(HOST, {}, {}, host_ops.bootstrap_command(), payload)
    assert rc == 0 and json.loads(stdout)["ok"] is True


def file_identity(path: Path) -> tuple[int, int, bytes]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns, path.read_bytes()


def test_a_read_logs_the_operation_but_does_not_rewrite_the_host() -> None:
    read_host()  # the first contact creates the host
    before = file_identity(host_file(HOST))
    read_host()
    assert file_identity(host_file(HOST)) == before
    assert [(entry["seq"], entry["operation"], entry["ok"]) for entry in read_oplog(HOST)] == [
        (1, "read_host_state", True), (2, "read_host_state", True)]
    assert read_state(HOST)["oplog"] == read_oplog(HOST)


def test_a_change_is_written_and_seen_by_the_next_operation() -> None:
    read_host()
    with HostStore(HOST).locked() as state:
        state["sites"][0]["bindings"].append({"protocol": "https", "binding_information": "*:443:www.example.com",
                                              "ssl_flags": 3, "certificate_hash": "", "certificate_store": ""})
    assert [b["binding_information"] for b in read_state(HOST)["sites"][0]["bindings"]] == ["*:80:", "*:443:www.example.com"]
    with HostStore(HOST).locked() as state:
        assert state["sites"][0]["bindings"][-1]["ssl_flags"] == 3


def test_a_change_of_type_alone_is_written() -> None:
    # 1 == True in Python: comparing with == would keep the old value in the file.
    with HostStore(HOST).locked() as state:
        state["registry"]["HKLM:\\x"] = {"Enabled": 1}
    with HostStore(HOST).locked() as state:
        state["registry"]["HKLM:\\x"]["Enabled"] = True
    assert read_state(HOST)["registry"]["HKLM:\\x"]["Enabled"] is True


def test_an_operation_that_raised_changes_nothing() -> None:
    read_host()
    before = file_identity(host_file(HOST))
    with pytest.raises(RuntimeError), HostStore(HOST).locked() as state:
        state["features"].append("Web-CertProvider")
        raise RuntimeError("the emulation failed half way")
    assert file_identity(host_file(HOST)) == before


def test_a_state_folder_with_the_log_inside_the_host_file_moves_it_out() -> None:
    with HostStore(HOST).locked():
        pass
    state = json.loads(host_file(HOST).read_text(encoding="utf-8"))
    state["oplog"] = [{"seq": 1, "operation": "read_host_state", "ok": True, "events": []}]
    host_file(HOST).write_text(json.dumps(state), encoding="utf-8")
    read_host()
    assert "oplog" not in json.loads(host_file(HOST).read_text(encoding="utf-8"))
    assert [entry["seq"] for entry in read_oplog(HOST)] == [1, 2]
    assert oplog_file(HOST).read_text(encoding="ascii").count("\n") == 2
