"""The emulated lab answers exactly what the collection ships, and refuses anything else.

Every PowerShell operation script has a Python emulation and vice versa, and the emulator's
entry point (what the lab connection plugin hands a task's exec_command to) refuses what a real
host running the bootstrap would not run: an unknown operation, a script that differs from the
shipped one, another command line, and a payload that is not ASCII.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops
from iis_lab import emulator
from iis_lab.errors import LabProtocolError
from iis_lab.ops import OPERATIONS
from iis_lab.state import read_state

HOST = "web01"
OPERATION = "read_host_state"


@pytest.fixture(autouse=True)
def lab_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    return tmp_path


def payload(operation: str = OPERATION, script: str | None = None, params: dict[str, object] | None = None,
            library: str | None = None) -> bytes:
    document = {
        "operation": operation,
        "library": host_ops.wire_library(OPERATION) if library is None else library,
        "script": host_ops.wire_script(OPERATION) if script is None else script,
        "params": params if params is not None else {"sections": ["windows"]},
    }
    return host_ops.pack_document(document)


def execute(cmd: str | None = None, in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
    return emulator.execute(HOST, {}, {}, host_ops.bootstrap_command() if cmd is None else cmd, payload() if in_data is None else in_data)


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def test_every_script_has_an_emulation_and_every_emulation_a_script() -> None:
    scripts = set(host_ops.operation_names())
    emulations = set(OPERATIONS)
    assert scripts, "no operation scripts found"
    assert scripts - emulations == set(), f"scripts without a lab emulation (add tests/lab/iis_lab/ops/<op>.py): {sorted(scripts - emulations)}"
    assert emulations - scripts == set(), f"lab emulations without a shipped script: {sorted(emulations - scripts)}"


def test_the_shipped_call_is_answered_and_logged(lab_state: Path) -> None:
    rc, stdout, stderr = execute()
    answer = json.loads(stdout)
    assert (rc, stderr) == (0, b"")
    assert answer["ok"] is True
    assert answer["result"]["windows"]["build"] > 0
    assert [entry["operation"] for entry in read_state(HOST, lab_state)["oplog"]] == [OPERATION]


def test_the_answer_is_what_the_runner_decodes() -> None:
    rc, stdout, stderr = execute()
    result = host_ops.decode_answer(OPERATION, HOST, rc, stdout, stderr)
    assert set(result) == {"windows"}


def test_unknown_operation_is_refused(lab_state: Path) -> None:
    with pytest.raises(LabProtocolError, match="unknown operation 'format_disk'"):
        execute(in_data=payload(operation="format_disk"))
    assert not (lab_state / f"{HOST}.json").exists(), "a refused call must not touch the host"


def test_modified_script_is_refused() -> None:
    script = host_ops.wire_script(OPERATION) + "\nRemove-Item -LiteralPath C:\\ -Recurse\n"
    with pytest.raises(LabProtocolError, match="is not the shipped one"):
        execute(in_data=payload(script=script))


def test_script_of_another_operation_is_refused() -> None:
    others = [name for name in host_ops.operation_names() if name != OPERATION]
    if not others:
        pytest.skip("only one operation is shipped")
    with pytest.raises(LabProtocolError, match="is not the shipped one"):
        execute(in_data=payload(script=host_ops.wire_script(others[0])))


@pytest.mark.parametrize(
    "cmd",
    [
        pytest.param("PowerShell -NoProfile -NonInteractive -Command Get-Date", id="plain-command"),
        pytest.param(host_ops.bootstrap_command().replace("-NonInteractive ", ""), id="interactive"),
        pytest.param(host_ops.bootstrap_command() + " -Extra", id="extra-argument"),
        pytest.param(host_ops.bootstrap_command().rsplit(" ", 1)[0] + " " + encoded("Get-Date"), id="other-encoded-script"),
        pytest.param(host_ops.bootstrap_command().rsplit(" ", 1)[0] + " " + encoded(host_ops.LAUNCHER + "\nRemove-Item C:\\"), id="bootstrap-plus-more"),
    ],
)
def test_non_bootstrap_command_line_is_refused(cmd: str) -> None:
    with pytest.raises(LabProtocolError):
        execute(cmd=cmd)


def test_non_ascii_stdin_is_refused() -> None:
    document = json.loads(host_ops.unpack_document(payload(params={"site_names": ["b\u00fccher"]})))
    text = json.dumps(document, ensure_ascii=False).encode("utf-8")
    line = host_ops.BOOTSTRAP.encode("ascii") + b"\n"
    with pytest.raises(LabProtocolError, match="not ASCII"):
        execute(in_data=line + text)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    with pytest.raises(LabProtocolError, match="not ASCII"):
        execute(in_data=line + base64.b64encode(compressor.compress(text) + compressor.flush()))


def test_stdin_is_decoded_as_the_bootstrap_does() -> None:
    # The bootstrap reads base64 and inflates it with DeflateStream (raw DEFLATE): plain JSON, or zlib's
    # header-and-checksum format, would make [Convert]::FromBase64String or DeflateStream throw on the host.
    plain = host_ops.unpack_document(payload())
    line = host_ops.BOOTSTRAP.encode("ascii") + b"\n"
    with pytest.raises(LabProtocolError, match="raw DEFLATE"):
        execute(in_data=line + plain)
    with pytest.raises(LabProtocolError, match="raw DEFLATE"):
        execute(in_data=line + base64.b64encode(zlib.compress(plain)))
    assert "DeflateStream" in host_ops.BOOTSTRAP and "FromBase64String" in host_ops.BOOTSTRAP
    assert len(payload()) - len(line) < len(plain) * 0.6  # the scripts are most of the bytes, and compress well (base64 included)


@pytest.mark.parametrize("first_line", [b"", b"Get-Date", host_ops.BOOTSTRAP.encode("ascii") + b";Remove-Item C:\\"], ids=["none", "other", "more"])
def test_stdin_whose_first_line_is_not_the_bootstrap_is_refused(first_line: bytes) -> None:
    # The launcher runs stdin's first line as it is: anything but the bootstrap is not an iis.ccs call.
    document = payload().split(b"\n", 1)[1]
    with pytest.raises(LabProtocolError, match="bootstrap line"):
        execute(in_data=first_line + b"\n" + document)
    with pytest.raises(LabProtocolError, match="bootstrap line"):
        execute(in_data=document)


def test_escaped_non_ascii_stdin_is_accepted() -> None:
    rc, stdout, stderr = execute(in_data=payload(params={"sections": ["sites"], "site_names": ["b\u00fccher"]}))
    assert (rc, stderr) == (0, b"")
    assert json.loads(stdout)["ok"] is True


def test_empty_stdin_is_refused() -> None:
    with pytest.raises(LabProtocolError, match="no payload"):
        emulator.execute(HOST, {}, {}, host_ops.bootstrap_command(), b"")


def test_script_without_emulation_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(OPERATIONS, OPERATION)
    with pytest.raises(LabProtocolError, match="no emulation"):
        execute()


def test_emulator_rejects_modified_shared_functions() -> None:
    library = host_ops.wire_library(OPERATION) + "\nfunction Get-Date { 'tampered' }\n"
    with pytest.raises(LabProtocolError, match="shared functions"):
        execute(in_data=payload(library=library))
