"""HostStore (a store folder reached through a Windows host) when the host, the connection or the answer fails.

The host is the lab's emulation of the real scripts; each fault is injected where the data travels:
the connection plugin, or the JSON answer on its way back to the controller.
"""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import StoreError, StoreListing, StoreWrite
from ansible_collections.iis.ccs.plugins.plugin_utils._store.host import HostStore

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lab"))

from iis_lab import emulator  # noqa: E402
from iis_lab.state import initial_state  # noqa: E402

Tamper = t.Callable[[dict[str, t.Any]], None]


class Connection:
    """The lab host behind a connection plugin; tamper edits the answer on its way back."""

    def __init__(self, tamper: Tamper | None = None, fail: Exception | None = None) -> None:
        self.tamper, self.fail = tamper, fail

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        if self.fail is not None:
            raise self.fail
        rc, stdout, stderr = emulator.execute("web", {}, {}, cmd, in_data)
        if self.tamper is not None:
            answer = json.loads(stdout)
            self.tamper(answer)
            stdout = (json.dumps(answer) + "\r\n").encode("ascii")
        return rc, stdout, stderr


@pytest.fixture(autouse=True)
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    state = initial_state("web", {"directories": ["D:\\CCS"]})
    (tmp_path / "web.json").write_text(json.dumps(state), encoding="utf-8")
    return tmp_path


def store(connection: Connection, path: str = "D:\\CCS") -> HostStore:
    return HostStore(HostOperationRunner(connection, "web"), path)


def one_file() -> StoreWrite:
    empty = StoreListing(pfx={}, temps={}, manifest=None, now=0)
    return StoreWrite(files={"www.example.test.pfx": b"pfx bytes"}, removes=[], stale_temps=[], manifest={"salt": "c2FsdA==", "files": {}}, listing=empty)


def test_a_reachable_folder_reads_and_commits() -> None:
    backend = store(Connection())
    assert backend.read().pfx == {}
    assert list(backend.commit(one_file())) == ["www.example.test.pfx"]
    assert list(backend.read().pfx) == ["www.example.test.pfx"]


def test_a_connection_plugin_failure_fails_this_replica_with_the_reason() -> None:
    # Not an OSError (which the runner reports as a lost connection): the plugin's own error type.
    refused = AnsibleConnectionFailure("ssh: connect to host web port 22: Connection refused")
    expected = r"^D:\\CCS: cannot reach the host \(AnsibleConnectionFailure: ssh: connect to host web port 22: Connection refused\)$"
    with pytest.raises(StoreError, match=expected):
        store(Connection(fail=refused)).read()


def test_an_answer_that_is_not_an_object_is_refused() -> None:
    # Something on the host wrote a string after the operation's answer, and it became the result.
    def stray_output(answer: dict[str, t.Any]) -> None:
        answer["result"] = "WARNING: something else"

    with pytest.raises(StoreError, match=r"^D:\\CCS: unexpected answer from read_cert_store$"):
        store(Connection(stray_output)).read()


def test_a_missing_folder_on_the_host_is_named() -> None:
    with pytest.raises(StoreError, match=r"^the folder D:\\Missing does not exist$"):
        store(Connection(), "D:\\Missing").read()


def test_a_host_reporting_other_sizes_or_times_than_were_written_fails_the_commit() -> None:
    def other_size(answer: dict[str, t.Any]) -> None:
        for stats in (answer.get("result") or {}).get("written", {}).values():
            stats["size"] += 1

    with pytest.raises(StoreError, match=r"^D:\\CCS: the host reported different sizes or times than were written$"):
        store(Connection(other_size)).commit(one_file())
